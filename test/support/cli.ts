/** The `slipway` CLI binary, run as a user runs it, for tests. */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { ROOT } from './platform.ts';

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
  /** stdout and stderr in the order they arrived */
  output: string;
}

/**
 * Runs the CLI binary to its end in `home`; never through a shell, never with the caller's SLIPWAY_* settings.
 * Its contexts live in `<home>/slipway.json` unless `env` names another SLIPWAY_CONFIG.
 */
export function runCli(args: string[], opts: { home: string; env?: Record<string, string> }): Promise<CliRun> {
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('SLIPWAY_') && k !== 'NO_COLOR'));
  const child = spawn(process.execPath, [path.join(ROOT, 'bin/slipway.mjs'), ...args], {
    cwd: opts.home,
    env: { ...base, SLIPWAY_CONFIG: path.join(opts.home, 'slipway.json'), ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const run: CliRun = { code: null, stdout: '', stderr: '', output: '' };
  child.stdout.on('data', (d) => ((run.stdout += d), (run.output += d)));
  child.stderr.on('data', (d) => ((run.stderr += d), (run.output += d)));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve({ ...run, code }));
  });
}

/** Fails with everything the command printed unless it exited 0. */
export function assertCliOk(r: CliRun, what: string): void {
  assert.equal(r.code, 0, `${what} exited ${r.code}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`);
}
