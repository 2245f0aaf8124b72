/**
 * What every command needs, from the global flags: where the API is (flags, env, context), how to print
 * (`--json`, colour), and the client. Built lazily, so `login`, `context` and `completion` work with no
 * context at all.
 */
import type { Command } from 'commander';
import { ApiClient } from './api-client.ts';
import { resolveTarget, type Target } from './contexts.ts';
import { Out, colorEnabled } from './output.ts';

export interface GlobalFlags {
  host?: string;
  token?: string;
  context?: string;
  json?: boolean;
  color?: boolean;
}

export class Session {
  readonly out: Out;
  private clientInstance?: ApiClient;

  constructor(readonly flags: GlobalFlags) {
    this.out = new Out({ json: Boolean(flags.json), color: colorEnabled(flags.color) });
  }

  get json(): boolean {
    return this.out.opts.json;
  }

  target(): Target {
    return resolveTarget(this.flags);
  }

  get client(): ApiClient {
    return (this.clientInstance ??= new ApiClient(this.target()));
  }

  /** Where live progress goes: stdout, unless stdout carries the --json result. */
  get progressStream(): NodeJS.WriteStream {
    return this.json ? process.stderr : process.stdout;
  }

  get progressColor(): boolean {
    return colorEnabled(this.flags.color, this.progressStream);
  }
}

/** The session of the command being run: its own options merged with the program's global ones. */
export function sessionOf(cmd: Command): Session {
  return new Session(cmd.optsWithGlobals<GlobalFlags>());
}
