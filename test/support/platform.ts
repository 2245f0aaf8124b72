/**
 * Starts the real platform as a user would (`node --import tsx src/main.ts`, what `npm start` runs) on
 * free ports with a temporary data directory, and stops it after. Also: a git repository of a fixture app,
 * the official Northflank client pointed at the platform, and polling helpers.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ApiClient, ApiClientInMemoryContextProvider } from '@northflank/js-client';
import { portFree } from '../../src/net/port-free.ts';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const ADMIN_TOKEN = 'test-admin-token-0123456789abcdef';

/**
 * A port nothing listens on now, for a server the test starts next. Taken from 10000-19999, below the kernel's
 * ephemeral range (32768-60999 here): a port from there (listen on 0) can be handed, between this check and the
 * server's bind, to an instance another test's platform starts or to an outgoing connection, which under load
 * made HAProxy fail to bind its router port. Checked on every address, as the router may bind 0.0.0.0.
 */
export async function freePort(): Promise<number> {
  const start = 10_000 + Math.floor(Math.random() * 10_000);
  for (let i = 0; i < 10_000; i++) {
    const port = 10_000 + ((start - 10_000 + i) % 10_000);
    // Nothing is held between the check and the caller's bind: never hand one port out twice, in this process or
    // in another test file's (they run in parallel, each with its own platforms).
    if (!reserve(port) || !(await portFree('0.0.0.0', port))) continue;
    return port;
  }
  throw new Error('no free port in 10000-19999');
}
/** Claims a port for this test run across processes: a file created exclusively, older claims (a finished run's) expire. */
const RESERVATIONS = path.join(os.tmpdir(), 'slipway-test-ports');
const RESERVATION_TTL_MS = 2 * 60 * 60 * 1000;
function reserve(port: number): boolean {
  fs.mkdirSync(RESERVATIONS, { recursive: true });
  const file = path.join(RESERVATIONS, String(port));
  try {
    fs.writeFileSync(file, String(process.pid), { flag: 'wx' });
    return true;
  } catch {
    try {
      if (Date.now() - fs.statSync(file).mtimeMs < RESERVATION_TTL_MS) return false;
      fs.writeFileSync(file, String(process.pid));
      return true;
    } catch {
      return false;
    }
  }
}

/** A block of router ports for the public TCP ports of one test platform's services, apart from other platforms'. */
function tcpPortBlock(): string {
  const from = 21_000 + Math.floor(Math.random() * 200) * 50;
  return `${from}-${from + 49}`;
}

export interface RunningPlatform {
  apiUrl: string;
  routerPort: number;
  /** the router's HTTPS port */
  tlsPort: number;
  dataDir: string;
  token: string;
  proc: ChildProcess;
  logs: string[];
  /** SIGKILL the control plane (instances and the router survive) */
  kill9(): Promise<void>;
  /** SIGTERM the control plane and wait for it to exit (instances and the router keep running by default) */
  sigterm(): Promise<void>;
  /** start again on the same data directory and ports */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

export async function startTestPlatform(env: Record<string, string> = {}): Promise<RunningPlatform> {
  // A port can still be taken by a program outside the tests between the check and the bind: start again on others.
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(env);
    } catch (err) {
      if (attempt >= 3 || !/Address already in use|EADDRINUSE/.test(String((err as Error)?.message))) throw err;
    }
  }
}

async function startOnce(env: Record<string, string>): Promise<RunningPlatform> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'slipway-test-'));
  const apiPort = await freePort();
  const routerPort = await freePort();
  const tlsPort = await freePort();
  const metricsPort = await freePort();
  const logs: string[] = [];
  const fullEnv = {
    ...process.env,
    SLIPWAY_DATA_DIR: dataDir,
    SLIPWAY_API_PORT: String(apiPort),
    SLIPWAY_ROUTER_PORT: String(routerPort),
    SLIPWAY_ROUTER_TLS_PORT: String(tlsPort),
    SLIPWAY_ROUTER_METRICS_PORT: String(metricsPort),
    SLIPWAY_ROUTER_TCP_PORTS: tcpPortBlock(),
    // Load tests send tens of thousands of requests; the access log is checked where it is the subject.
    SLIPWAY_ROUTER_ACCESS_LOG: 'off',
    SLIPWAY_ROUTER_HOST: '127.0.0.1',
    SLIPWAY_ADMIN_TOKEN: ADMIN_TOKEN,
    SLIPWAY_PROBE_TIME_SCALE: '0.05',
    SLIPWAY_GRACE_PERIOD_CAP_SECONDS: '2',
    SLIPWAY_RESYNC_MS: '1000',
    SLIPWAY_LOG_LEVEL: 'info',
    ...env,
  };
  const p: RunningPlatform = {
    apiUrl: `http://127.0.0.1:${apiPort}`,
    routerPort,
    tlsPort,
    dataDir,
    token: ADMIN_TOKEN,
    proc: undefined as unknown as ChildProcess,
    logs,
    async kill9() {
      p.proc.kill('SIGKILL');
      await new Promise((r) => (p.proc.exitCode !== null || p.proc.signalCode !== null ? r(null) : p.proc.once('exit', r)));
    },
    async sigterm() {
      if (p.proc.exitCode !== null || p.proc.signalCode !== null) return;
      const exited = new Promise((r) => p.proc.once('exit', r));
      p.proc.kill('SIGTERM');
      await exited;
    },
    async restart() {
      await launch();
    },
    async stop() {
      await p.sigterm();
      await stopRouter(dataDir);
      killInstances(dataDir);
      // The runtime's supervisor outlives the control plane a moment and records the exits of the instances
      // just killed (files in their directories): a removal racing it finds a directory not empty, and tries again.
      fs.rmSync(dataDir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
    },
  };
  const launch = async () => {
    // SLIPWAY_TEST_CPU_PROF=<dir>: a V8 CPU profile of each platform, written there when it stops (benchmarks).
    const prof = process.env.SLIPWAY_TEST_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.SLIPWAY_TEST_CPU_PROF}`] : [];
    p.proc = spawn(process.execPath, [...prof, '--import', 'tsx', 'src/main.ts'], { cwd: ROOT, env: fullEnv, stdio: ['ignore', 'pipe', 'pipe'] });
    p.proc.stdout!.on('data', (d) => logs.push(String(d)));
    p.proc.stderr!.on('data', (d) => logs.push(String(d)));
    try {
      await waitFor(async () => {
        if (p.proc.exitCode !== null) throw new Error(`platform exited with ${p.proc.exitCode}:\n${logs.join('').slice(-4000)}`);
        const res = await fetch(`${p.apiUrl}/healthz`, { signal: AbortSignal.timeout(5000) }).catch(() => undefined);
        return res?.status === 200;
      }, 180_000, 'platform /healthz');
    } catch (err) {
      // A platform that never became healthy is still ours: stop it and what it started, so the file ends.
      if (p.proc.exitCode === null) p.proc.kill('SIGKILL');
      await stopRouter(dataDir).catch(() => {});
      killInstances(dataDir);
      throw err;
    }
  };
  try {
    await launch();
  } catch (err) {
    fs.rmSync(dataDir, { recursive: true, force: true });
    throw err;
  }
  return p;
}

/** The pids of the router processes a platform on this data directory left running (HAProxy's master, the built-in router). */
export function routerPids(dataDir: string): number[] {
  return ['haproxy.pid', 'builtin-router.pid'].flatMap((f) => {
    try {
      const pid = Number(fs.readFileSync(path.join(dataDir, 'router', f), 'utf8').trim().split('\n')[0]);
      // only a process that names this data directory's router files (a reused pid is someone else's)
      return pid > 1 && fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(path.join(dataDir, 'router')) ? [pid] : [];
    } catch {
      return [];
    }
  });
}

/** Stops the router the platform leaves running after its control plane exits (SIGTERM, then SIGKILL). */
export async function stopRouter(dataDir: string): Promise<void> {
  for (const pid of routerPids(dataDir)) {
    try {
      process.kill(pid, 'SIGTERM');
    } catch {
      continue;
    }
    const deadline = Date.now() + 10_000;
    while (pidAlive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    try {
      process.kill(pid, 'SIGKILL');
    } catch {}
  }
}

/** Last resort cleanup: SIGKILL every instance process the platform's runtime directory names. */
export function killInstances(dataDir: string): void {
  const dir = path.join(dataDir, 'runtime', 'instances');
  if (!fs.existsSync(dir)) return;
  for (const id of fs.readdirSync(dir)) {
    for (const pid of instancePids(dataDir, id)) {
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {}
      try {
        process.kill(pid, 'SIGKILL');
      } catch {}
    }
  }
}

/** The pid of an instance's process (its process group's leader: bwrap when sandboxed), as its state file names it. */
export function instancePids(dataDir: string, id: string): number[] {
  const file = path.join(dataDir, 'runtime', 'instances', id, 'state.json');
  try {
    const st = JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>;
    return ['appPid'].map((k) => st[k]).filter((v): v is number => typeof v === 'number');
  } catch {
    return [];
  }
}

export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Stops a process a test started: SIGTERM, then SIGKILL if it has not exited within `graceMs`. */
export async function stopChild(proc: ChildProcess, graceMs = 5000): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  const gone = new Promise((r) => proc.once('exit', r));
  proc.kill('SIGTERM');
  await Promise.race([gone, new Promise((r) => setTimeout(r, graceMs))]);
  if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
}

/** Thrown by a waitFor condition to stop waiting at once (what it waits for can no longer happen). */
export class StopWaiting extends Error {}

export async function waitFor<T>(cond: () => Promise<T | false | undefined | null> | T | false | undefined | null, timeoutMs = 60_000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastErr: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await cond();
      if (v) return v as T;
    } catch (err) {
      lastErr = err;
      if (err instanceof StopWaiting || String((err as Error)?.message).startsWith('platform exited')) throw err;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}${lastErr ? `: ${(lastErr as Error).message}` : ''}`);
}

/** A git repository holding a copy of a fixture app, one commit on `main`. */
export function fixtureRepo(app: string): { dir: string; commit: (msg: string, edit: (dir: string) => void) => string; head: () => string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `slipway-repo-${app}-`));
  fs.cpSync(path.join(ROOT, 'test/fixtures/apps', app), dir, { recursive: true });
  const git = (...args: string[]) => execFileSync('git', args, { cwd: dir, env: { ...process.env, GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@t', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@t' } }).toString().trim();
  git('init', '-q', '-b', 'main');
  git('add', '-A');
  git('commit', '-q', '-m', 'initial');
  return {
    dir,
    head: () => git('rev-parse', 'HEAD'),
    commit(msg, edit) {
      edit(dir);
      git('add', '-A');
      git('commit', '-q', '-m', msg);
      return git('rev-parse', 'HEAD');
    },
  };
}

export async function northflankClient(p: RunningPlatform, token = p.token): Promise<ApiClient> {
  const ctx = new ApiClientInMemoryContextProvider();
  await ctx.addContext({ name: 'slipway', token, host: p.apiUrl });
  return new ApiClient(ctx, { throwErrorOnHttpErrorCode: true });
}

/** A request through the router with the given Host header. */
export async function viaRouter(p: RunningPlatform, host: string, pathname = '/', init: RequestInit = {}): Promise<Response> {
  const http = await import('node:http');
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: p.routerPort, path: pathname, method: init.method ?? 'GET', headers: { host, ...(init.headers as Record<string, string>) }, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve(new Response(Buffer.concat(chunks), { status: res.statusCode, headers: res.headers as Record<string, string> })));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(init.body as string | undefined);
  });
}

export async function api(p: RunningPlatform, method: string, pathname: string, body?: unknown, opts: { token?: string | null; contentType?: string; raw?: string | Buffer } = {}): Promise<{ status: number; body: any; headers: Headers }> {
  const headers: Record<string, string> = {};
  const token = opts.token === undefined ? p.token : opts.token;
  if (token) headers.authorization = `Bearer ${token}`;
  let payload: string | Buffer | undefined;
  if (opts.raw !== undefined) {
    payload = opts.raw;
    headers['content-type'] = opts.contentType ?? 'application/json';
  } else if (body !== undefined) {
    payload = JSON.stringify(body);
    headers['content-type'] = opts.contentType ?? 'application/json';
  }
  const res = await fetch(`${p.apiUrl}${pathname}`, { method, headers, body: payload as BodyInit | undefined });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {}
  return { status: res.status, body: parsed, headers: res.headers };
}

/**
 * Requests through the router to `host` for as long as it runs, over a kept-alive connection and over fresh
 * ones side by side; counts answers by the app's `message` and every failure with its reason.
 */
export function routerLoad(p: RunningPlatform, host: string) {
  return requestLoad(p.routerPort, host, { label: (body) => JSON.parse(body).message as string });
}

/**
 * Requests to 127.0.0.1:`port` for `host` until stopped: `keptAlive` loops each on a connection of its own kept
 * alive, and `fresh` loops each opening a connection per request. A 200 is counted under `label(body)` (the
 * body itself by default), anything else as a failure with its reason.
 */
export function requestLoad(port: number, host: string, opts: { keptAlive?: number; fresh?: number; label?: (body: string) => string } = {}) {
  const agents = Array.from({ length: opts.keptAlive ?? 1 }, () => new http.Agent({ keepAlive: true, maxSockets: 1 }));
  const label = opts.label ?? ((body: string) => body);
  const stats = { ok: 0, failed: 0, seen: new Map<string, number>(), stop: false, errors: [] as string[], startedAt: Date.now(), failedAt: [] as number[] };
  // A failure is named with when it came (ms after the load began): a burst tells a window from a stray one.
  const fail = (reason: string) => {
    stats.failed++;
    stats.failedAt.push(Date.now());
    stats.errors.push(`+${Date.now() - stats.startedAt}ms ${reason}`);
  };
  const one = (agent: http.Agent | false) =>
    new Promise<void>((resolve) => {
      const req = http.get({ host: '127.0.0.1', port, path: '/', headers: { host }, agent }, (res) => {
        let body = '';
        res.on('data', (c) => (body += c));
        res.on('end', () => {
          if (res.statusCode === 200) {
            stats.ok++;
            const m = label(body);
            stats.seen.set(m, (stats.seen.get(m) ?? 0) + 1);
          } else fail(`${res.statusCode} ${body.slice(0, 100)}`);
          resolve();
        });
      });
      req.on('error', (e) => {
        fail(e.message);
        resolve();
      });
    });
  const loop = async (agent: http.Agent | false) => {
    while (!stats.stop) await one(agent);
  };
  const done = Promise.all([...agents.map(loop), ...Array.from({ length: opts.fresh ?? 1 }, () => loop(false))]);
  return {
    stats,
    async stop() {
      stats.stop = true;
      await done;
      for (const a of agents) a.destroy();
    },
  };
}
