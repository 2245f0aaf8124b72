/**
 * One step of a build: a command run with an argv array (never a shell string built from input) in its own
 * process group, every line of its stdout and stderr passed to the build log as it comes.
 *
 * The whole group is killed when the step's main process exits, and on abort: a build script that leaves
 * something running in the background (`server &`) would otherwise hold the output pipes open and the
 * step would never end, or outlive the build on the host.
 */
import { spawn } from 'node:child_process';

export class BuildStepError extends Error {
  constructor(
    readonly step: string,
    readonly exitCode: number | null,
    readonly signal: NodeJS.Signals | null,
  ) {
    super(`${step} failed with ${signal ? `signal ${signal}` : `exit code ${exitCode}`}`);
  }
}

export interface BuildStep {
  /** shown in the header line and in the error, e.g. `Installing dependencies (npm ci)` */
  title: string;
  argv: string[];
  cwd: string;
  env: Record<string, string>;
  log: (line: string) => void;
  signal?: AbortSignal;
}

/** Resolves when the command exits 0; rejects with BuildStepError otherwise, or with the abort reason. */
export function runBuildStep(step: BuildStep): Promise<void> {
  step.signal?.throwIfAborted();
  step.log(`-----> ${step.title}`);
  return new Promise((resolve, reject) => {
    const child = spawn(step.argv[0], step.argv.slice(1), { cwd: step.cwd, env: step.env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    const killGroup = () => {
      try {
        if (child.pid) process.kill(-child.pid, 'SIGKILL');
      } catch {
        // the group is already gone
      }
    };
    step.signal?.addEventListener('abort', killGroup, { once: true });
    for (const stream of [child.stdout, child.stderr]) {
      let rest = '';
      stream.setEncoding('utf8');
      stream.on('data', (chunk: string) => {
        rest += chunk;
        const lines = rest.split('\n');
        rest = lines.pop() ?? '';
        for (const line of lines) step.log(line.replace(/\r$/, ''));
      });
      stream.on('end', () => {
        if (rest) step.log(rest);
      });
    }
    let spawnError: Error | undefined;
    child.on('error', (err) => {
      spawnError = err;
      if (!child.pid) {
        step.signal?.removeEventListener('abort', killGroup);
        reject(new Error(`${step.title} could not start: ${err.message}`, { cause: err }));
      }
    });
    // The group id is the main process's pid, and stays reserved while any member lives, so this cannot hit a stranger.
    child.on('exit', killGroup);
    child.on('close', (code, signal) => {
      step.signal?.removeEventListener('abort', killGroup);
      if (step.signal?.aborted) return reject(step.signal.reason);
      if (spawnError) return reject(new Error(`${step.title} could not start: ${spawnError.message}`, { cause: spawnError }));
      if (code === 0) resolve();
      else reject(new BuildStepError(step.title, code, signal));
    });
  });
}
