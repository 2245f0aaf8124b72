/**
 * A client for HAProxy's two command sockets, spoken over node:net:
 * - the worker's admin stats socket (Runtime API: `set server`, `show stat`, `show info`, and
 *   `show events` to follow a ring: see followRing);
 * - the master CLI (`show proc`, `reload`, and `@!<pid> <command>` to reach one worker, old ones included).
 * Both answer one command line per connection in non-interactive mode and then close, so every call opens
 * its own connection: calls never interleave and a reload that drops the master's socket breaks one call only.
 */
import net from 'node:net';

/** Sends one command line (several commands may be joined with `;`) and resolves with the whole answer. */
export async function cliCommand(socketPath: string, command: string, timeoutMs = 5000): Promise<string> {
  // A busy master (re-executing for a reload) lets its socket's backlog fill: connecting then fails with
  // EAGAIN at once; that is worth a few more tries within the time given.
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await cliExchange(socketPath, command, Math.max(1, deadline - Date.now()));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EAGAIN' || Date.now() + 20 >= deadline) throw err;
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}

function cliExchange(socketPath: string, command: string, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const sock = net.createConnection(socketPath);
    const timer = setTimeout(() => sock.destroy(new Error(`haproxy CLI ${socketPath}: no answer to "${command.slice(0, 60)}" within ${timeoutMs} ms`)), timeoutMs);
    sock.on('connect', () => sock.end(`${command}\n`));
    sock.on('data', (d: Buffer) => chunks.push(d));
    sock.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    sock.on('close', (hadError) => {
      clearTimeout(timer);
      if (!hadError) resolve(Buffer.concat(chunks).toString('utf8'));
    });
  });
}

/** Lines of a Runtime API answer that report a refused command (the API answers errors as text). */
export function cliErrors(answer: string): string[] {
  return answer
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => /^(No such|Unknown|Require|Invalid|Can't|Cannot|Permission denied)|error|unknown command/i.test(l) && !/^no need to change/i.test(l));
}

export interface WorkerProcess {
  pid: number;
  /** false for an old worker that is finishing its connections after a reload */
  current: boolean;
}

export interface ProcList {
  masterPid: number;
  masterReloads: number;
  failedReloads: number;
  workers: WorkerProcess[];
}

/**
 * Parses the master CLI's `show proc`:
 * ```
 * #<PID>   <type>   <reloads>       <uptime>     <version>
 * 1162     master   5 [failed: 0]   0d00h02m07s  2.6.12
 * # workers
 * 1271     worker   0               0d00h00m00s  2.6.12
 * # old workers
 * 1233     worker   3               0d00h00m43s  2.6.12
 * # programs
 * ```
 */
export function parseShowProc(text: string): ProcList {
  const out: ProcList = { masterPid: 0, masterReloads: 0, failedReloads: 0, workers: [] };
  let section: 'master' | 'workers' | 'old' | 'other' = 'master';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line) continue;
    if (line.startsWith('#')) {
      if (/^# workers/.test(line)) section = 'workers';
      else if (/^# old workers/.test(line)) section = 'old';
      else if (/^# /.test(line)) section = 'other';
      continue;
    }
    const cols = line.split(/\s+/);
    const pid = Number(cols[0]);
    if (!Number.isInteger(pid)) continue;
    if (cols[1] === 'master') {
      out.masterPid = pid;
      out.masterReloads = Number(cols[2]) || 0;
      const failed = /failed:\s*(\d+)/.exec(line);
      out.failedReloads = failed ? Number(failed[1]) : 0;
    } else if (cols[1] === 'worker' && (section === 'workers' || section === 'old')) {
      out.workers.push({ pid, current: section === 'workers' });
    }
  }
  return out;
}

/** Requests in flight per `backend/server` from `show stat` CSV: current sessions plus queued ones. */
export function parseServerLoad(csv: string): Map<string, number> {
  const load = new Map<string, number>();
  const lines = csv.split('\n');
  const header = lines.find((l) => l.startsWith('# '));
  if (!header) return load;
  const cols = header.slice(2).split(',');
  const [px, sv, qcur, scur] = ['pxname', 'svname', 'qcur', 'scur'].map((c) => cols.indexOf(c));
  // The four come first of a hundred columns: a row is split no further than the last of them.
  const need = Math.max(px, sv, qcur, scur) + 1;
  for (const line of lines) {
    if (!line || line.startsWith('#')) continue;
    const f = line.split(',', need);
    // Not a CSV row (a backend an old worker does not have answers "No such proxy.").
    if (f.length < need) continue;
    if (f[sv] === 'FRONTEND' || f[sv] === 'BACKEND') continue;
    load.set(`${f[px]}/${f[sv]}`, (Number(f[scur]) || 0) + (Number(f[qcur]) || 0));
  }
  return load;
}

export interface RingFollower {
  /** Stop following now (the session is closed; no further lines). */
  close(): void;
}

/** What one read of the ring's socket returns at most. */
const READ_SIZE = 65_536;

/**
 * Follows one worker's ring (`show events <ring> -w`) on the admin socket, passing whole lines to `onLines`
 * in the chunks they arrive in (many lines per call under load): the lines of the ring are not split here.
 * `mark` is how every line of the ring starts; what comes before the first one is the session's preamble.
 * Each session starts with `show info`, and one answered by another worker than `pid` (a newer one took
 * the socket over after a reload) is closed at once, so a ring is never read twice. The worker closes a
 * session left idle for its `stats timeout`: the follower then attaches again, skipping what the ring
 * already holds (`-n`), which loses no line since nothing was logged while idle. It ends, calling
 * `onEnd`, when the worker is gone (the session cannot be opened or is answered by another worker) or
 * `keep()` says so. Every read is handed on at once: pausing between reads, for HAProxy to batch, let the
 * stream fall seconds behind a burst (HAProxy hands over one buffer at a time).
 */
export function followRing(socketPath: string, ring: string, pid: number, opts: { mark: string; onLines(lines: Buffer): void; keep(): boolean; onEnd(): void }): RingFollower {
  // Every read of the ring goes into this one buffer (net's `onread`: no buffer allocated and no stream event per
  // read, ~10 µs less per read, and under load the follower reads ~1,000 times a second); what `onLines` is given
  // is only valid during the call.
  const readBuffer = Buffer.allocUnsafe(READ_SIZE);
  let sock: net.Socket | undefined;
  let closed = false;
  const end = () => {
    if (closed) return;
    closed = true;
    sock?.destroy();
    opts.onEnd();
  };
  const attach = (skipExisting: boolean) => {
    let verified = false;
    let preamble = true;
    const lines = chunkLines((chunk) => {
      if (!preamble) return opts.onLines(chunk);
      // The preamble (`show info`, whose Pid line names the worker) ends where the first ring line starts.
      let at = 0;
      while (at < chunk.length && preamble) {
        const eol = chunk.indexOf(10, at);
        const line = chunk.toString('latin1', at, eol);
        if (!verified) {
          const m = /^Pid: (\d+)$/.exec(line);
          if (m && Number(m[1]) !== pid) return end();
          if (m) verified = true;
        } else if (line.startsWith(opts.mark)) {
          preamble = false;
          break;
        }
        at = eol + 1;
      }
      if (!preamble && at < chunk.length) opts.onLines(chunk.subarray(at));
    });
    const s = net.createConnection({ path: socketPath, onread: { buffer: readBuffer, callback: (n) => (lines(readBuffer.subarray(0, n)), true) } });
    sock = s;
    s.on('connect', () => s.write(`show info;show events ${ring} -w${skipExisting ? ' -n' : ''}\n`));
    s.on('error', () => undefined); // followed by 'close'
    s.on('close', () => {
      if (closed) return;
      // Unverified: the socket is gone or answered by no worker we follow. Verified: an idle timeout, or the
      // worker's exit, which the next session finds out (it cannot connect, or another worker answers).
      if (!verified || !opts.keep()) return end();
      attach(true);
    });
  };
  attach(false);
  return { close: end };
}

/**
 * Cuts a byte stream at its last newline: `onLines` gets whole lines only (a read can end inside a line;
 * under load, log lines often do), the rest waits for the next chunk. A partial line longer than
 * `maxPartial` is dropped rather than kept growing. What is kept is a copy: the chunk may be a read buffer
 * used again for the next read.
 */
export function chunkLines(onLines: (lines: Buffer) => void, maxPartial = 65_536): (chunk: Buffer) => void {
  let partial: Buffer | undefined;
  return (chunk) => {
    const data = partial ? Buffer.concat([partial, chunk]) : chunk;
    const last = data.lastIndexOf(10);
    if (last < 0) {
      partial = data.length > maxPartial ? undefined : data === chunk ? Buffer.from(data) : data;
      return;
    }
    partial = last + 1 < data.length && data.length - last - 1 <= maxPartial ? Buffer.from(data.subarray(last + 1)) : undefined;
    onLines(data.subarray(0, last + 1));
  };
}

/** An argument of a Runtime API command: spaces, `;` and backslashes escaped as HAProxy's CLI reads them. */
export function cliArg(s: string): string {
  return s.replace(/[\\ ;]/g, (c) => `\\${c}`);
}
