/**
 * Runs a database client binary (pg_dump, mariadb, redis-cli…) with a bounded time and output. Passwords go
 * through the environment (PGPASSWORD, MYSQL_PWD, REDISCLI_AUTH), never the argument list, which any user
 * can read in /proc; errors carry the tail of stderr, never the environment.
 */
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';

export interface RunOptions {
  env?: Record<string, string>;
  timeoutMs?: number;
  /** a file to feed on stdin */
  stdinFile?: string;
  /** text to feed on stdin (statements that carry a password) */
  stdin?: string;
  /** a file to write stdout to */
  stdoutFile?: string;
}

export function run(bin: string, args: string[], opts: RunOptions = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, {
      env: { PATH: '/usr/local/bin:/usr/bin:/bin', LANG: 'C.UTF-8', ...opts.env },
      stdio: [opts.stdinFile || opts.stdin !== undefined ? 'pipe' : 'ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    const sink = opts.stdoutFile ? fs.createWriteStream(opts.stdoutFile, { mode: 0o600 }) : undefined;
    if (sink) child.stdout!.pipe(sink);
    else child.stdout!.on('data', (c: Buffer) => (out.length < 1 << 20 ? (out += c.toString('utf8')) : undefined));
    child.stderr!.on('data', (c: Buffer) => (err = (err + c.toString('utf8')).slice(-4000)));
    if (opts.stdinFile) {
      const src = fs.createReadStream(opts.stdinFile);
      src.on('error', (e) => child.stdin!.destroy(e));
      child.stdin!.on('error', () => {});
      src.pipe(child.stdin!);
    } else if (opts.stdin !== undefined) {
      child.stdin!.on('error', () => {});
      child.stdin!.end(opts.stdin);
    }
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 60_000);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(new Error(`${bin} could not run: ${e.message}`));
    });
    child.on('close', async (code, signal) => {
      clearTimeout(timer);
      if (sink) await new Promise<void>((r) => (sink.writableFinished ? r() : sink.once('finish', () => r())));
      if (code === 0) resolve(out);
      else reject(new Error(`${bin.split('/').pop()} ${signal ? `was killed (${signal})` : `exited ${code}`}: ${err.trim().split('\n').slice(-5).join(' | ')}`));
    });
  });
}

/** The first line of `bin --version`, or undefined when the binary is missing. */
export function versionLine(bin: string): string | undefined {
  if (!fs.existsSync(bin)) return undefined;
  try {
    // Synchronous: read once, when the types list is first built.
    return String(execFileSync(bin, ['--version'], { timeout: 10_000, stdio: ['ignore', 'pipe', 'ignore'] })).split('\n')[0];
  } catch {
    return undefined;
  }
}

/** Write a file the server's user owns and only it can read. */
export function writeOwned(file: string, content: string, user: { uid: number; gid: number }): void {
  fs.writeFileSync(file, content, { mode: 0o600 });
  chown(file, user);
}

export function chown(file: string, user: { uid: number; gid: number }): void {
  if (process.getuid?.() === 0) fs.chownSync(file, user.uid, user.gid);
}

/** A shell word: single-quoted. */
export function sh(word: string): string {
  return `'${word.replace(/'/g, `'\\''`)}'`;
}
