/**
 * A client for HAProxy's two command sockets, spoken over node:net:
 * - the worker's admin stats socket (Runtime API: `set server`, `show stat`, `show servers state`);
 * - the master CLI (`show proc`, `reload`, and `@!<pid> <command>` to reach one worker, old ones included).
 * Both answer one command line per connection in non-interactive mode and then close, so every call opens
 * its own connection: calls never interleave and a reload that drops the master's socket breaks one call only.
 */
import net from 'node:net';

/** Sends one command line (several commands may be joined with `;`) and resolves with the whole answer. */
export function cliCommand(socketPath: string, command: string, timeoutMs = 5000): Promise<string> {
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
  const out: ProcList = { masterReloads: 0, failedReloads: 0, workers: [] };
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
  for (const line of lines) {
    if (!line || line.startsWith('#')) continue;
    const f = line.split(',');
    if (f[sv] === 'FRONTEND' || f[sv] === 'BACKEND') continue;
    load.set(`${f[px]}/${f[sv]}`, (Number(f[scur]) || 0) + (Number(f[qcur]) || 0));
  }
  return load;
}
