/**
 * Contexts: named (host, token) pairs kept in the user's config file, one of them current, like kubectl's
 * contexts. The file holds tokens, so it is written with mode 0600 (and re-chmodded when it already existed
 * with looser bits). `SLIPWAY_CONFIG` names another file (tests).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface Context {
  name: string;
  host: string;
  token: string;
  /** the router's HTTP port, for `open` (the API does not tell it) */
  routerPort?: number;
}

export interface ContextFile {
  current?: string;
  contexts: Context[];
}

export function configPath(env: NodeJS.ProcessEnv = process.env): string {
  if (env.SLIPWAY_CONFIG) return path.resolve(env.SLIPWAY_CONFIG);
  const base = env.XDG_CONFIG_HOME || path.join(os.homedir(), '.config');
  return path.join(base, 'slipway', 'config.json');
}

export function readContexts(file = configPath()): ContextFile {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { contexts: [] };
    throw new Error(`cannot read ${file}: ${(err as Error).message}`, { cause: err });
  }
  try {
    const parsed = JSON.parse(text) as Partial<ContextFile>;
    return { current: parsed.current, contexts: Array.isArray(parsed.contexts) ? parsed.contexts : [] };
  } catch (err) {
    throw new Error(`${file} is not valid JSON: ${(err as Error).message}`, { cause: err });
  }
}

/** Writes atomically (temp file + rename) so a crash never leaves a half-written file with tokens in it. */
export function writeContexts(data: ContextFile, file = configPath()): void {
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(data, null, 2) + '\n', { mode: 0o600 });
  fs.chmodSync(tmp, 0o600);
  fs.renameSync(tmp, file);
}

/** Adds or replaces the context of that name and makes it current. */
export function saveContext(ctx: Context, file = configPath()): void {
  const data = readContexts(file);
  data.contexts = [...data.contexts.filter((c) => c.name !== ctx.name), ctx];
  data.current = ctx.name;
  writeContexts(data, file);
}

export function useContext(name: string, file = configPath()): Context {
  const data = readContexts(file);
  const ctx = data.contexts.find((c) => c.name === name);
  if (!ctx) throw new Error(`no context named '${name}' (known: ${data.contexts.map((c) => c.name).join(', ') || 'none'})`);
  data.current = name;
  writeContexts(data, file);
  return ctx;
}

export interface Target {
  host: string;
  token: string;
  routerPort: number;
  contextName?: string;
}

export interface TargetFlags {
  host?: string;
  token?: string;
  context?: string;
}

/**
 * Where a command talks to: flags over environment over the chosen (or current) context. A host without
 * a token, or the reverse, is allowed; the API then answers 401 with its own message.
 */
export function resolveTarget(flags: TargetFlags, env: NodeJS.ProcessEnv = process.env): Target {
  const data = readContexts();
  const name = flags.context ?? env.SLIPWAY_CONTEXT ?? data.current;
  const ctx = name ? data.contexts.find((c) => c.name === name) : undefined;
  if (flags.context && !ctx) throw new Error(`no context named '${flags.context}'`);
  const host = flags.host ?? env.SLIPWAY_HOST ?? ctx?.host;
  const token = flags.token ?? env.SLIPWAY_TOKEN ?? ctx?.token;
  if (!host) throw new Error('no API host: run `slipway login --host <url> --token <token>`, or pass --host / set SLIPWAY_HOST');
  if (!token) throw new Error('no API token: run `slipway login`, or pass --token / set SLIPWAY_TOKEN');
  const routerPort = Number(env.SLIPWAY_ROUTER_PORT ?? ctx?.routerPort ?? 8080);
  return { host: host.replace(/\/+$/, ''), token, routerPort, contextName: ctx?.name };
}
