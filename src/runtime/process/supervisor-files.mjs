// Where the process runtime's supervisor and the driver meet, shared by both (plain JavaScript: the supervisor
// starts with bare `node`): the request socket, the lock that makes the supervisor one per state directory,
// the liveness test of a process that survives pid reuse, and the turning of an instance's raw output files
// into the timestamped lines of its log. Linux only, as the process runtime is.
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/**
 * The socket the supervisor takes start requests on: `<stateDir>/supervisor.sock`, owner only (created under
 * umask 077). A socket path holds at most 107 bytes: a longer one lives in the temporary directory
 * under a name derived from the state directory.
 */
export function socketPath(stateDir) {
  const p = path.join(stateDir, 'supervisor.sock');
  return Buffer.byteLength(p) <= 100 ? p : path.join(os.tmpdir(), `slipway-supervisor-${digest(stateDir)}.sock`);
}

/**
 * The lock: an abstract Unix socket (no file; the kernel frees it when its holder dies, so it is never stale)
 * named from the state directory's real path. Binding it is the one atomic step that makes a supervisor THE
 * supervisor of that directory. It accepts no requests: abstract sockets have no file permissions.
 */
export function lockName(stateDir) {
  return `\0slipway-supervisor-${digest(fs.realpathSync(stateDir))}`;
}

function digest(s) {
  return crypto.createHash('sha256').update(s).digest('hex').slice(0, 24);
}

/** A process's state and start time (clock ticks since boot), or undefined if there is no such process. */
export function procStat(pid) {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { state: f[0], pgrp: Number(f[2]), startTicks: Number(f[19]) };
  } catch {
    return undefined;
  }
}

/**
 * Whether an instance's first process (its process group's leader) still runs: present, not a zombie, and the
 * very process that was started (same start time), not a later one that got its pid.
 */
export function leaderAlive(pid, startTicks) {
  if (!pid) return false;
  const s = procStat(pid);
  return !!s && s.state !== 'Z' && (startTicks === undefined || s.startTicks === startTicks);
}

/** How bwrap says its sandbox ended (`--json-status-fd`): the exit code, or undefined if it did not say. */
export function sandboxExitCode(dir) {
  try {
    const lines = fs.readFileSync(path.join(dir, 'sandbox-status.json'), 'utf8').split('\n');
    for (const l of lines.reverse()) {
      if (!l.trim()) continue;
      const o = JSON.parse(l);
      if (typeof o['exit-code'] === 'number') return o['exit-code'];
    }
  } catch {}
  return undefined;
}

const STREAMS = ['stdout', 'stderr'];
const CHUNK = 1024 * 1024;
const MAX_PARTIAL = 64 * 1024;

/** How far each raw output file has been turned into log lines (`collected.json`). */
export function loadOffsets(dir) {
  try {
    const o = JSON.parse(fs.readFileSync(path.join(dir, 'collected.json'), 'utf8'));
    return { stdout: Number(o.stdout) || 0, stderr: Number(o.stderr) || 0 };
  } catch {
    return { stdout: 0, stderr: 0 };
  }
}

/**
 * Appends what the app wrote to `stdout.raw` / `stderr.raw` since `offsets` to `output.log` as JSON lines
 * `{ ts, stream, line }`, stamped with the time they are read, and records the new offsets. A line without its
 * newline yet waits for the next call, unless it grew past 64 KiB or `final` (the app ended) is set. The app
 * holds the raw files itself, so its output never waits on, nor is lost with, the process reading it.
 * Offsets are saved after the lines: a reader killed between the two repeats those lines, never drops them.
 */
export function collectOutput(dir, offsets, final = false) {
  let out = '';
  const ts = new Date().toISOString();
  for (const stream of STREAMS) {
    const file = path.join(dir, `${stream}.raw`);
    let size;
    try {
      size = fs.statSync(file).size;
    } catch {
      continue;
    }
    let off = offsets[stream] ?? 0;
    if (size <= off) continue;
    const fd = fs.openSync(file, 'r');
    try {
      while (off < size) {
        const want = Math.min(CHUNK, size - off);
        const buf = Buffer.allocUnsafe(want);
        const n = fs.readSync(fd, buf, 0, want, off);
        if (n <= 0) break;
        let end = final ? n : buf.subarray(0, n).lastIndexOf(10) + 1;
        if (end === 0 && n >= MAX_PARTIAL) end = n;
        if (end === 0) break;
        let text = buf.subarray(0, end).toString('utf8');
        if (text.endsWith('\n')) text = text.slice(0, -1);
        for (const line of text.split('\n')) out += JSON.stringify({ ts, stream, line }) + '\n';
        off += end;
        if (end < n) break;
      }
    } finally {
      fs.closeSync(fd);
    }
    offsets[stream] = off;
  }
  if (!out) return false;
  fs.appendFileSync(path.join(dir, 'output.log'), out);
  fs.writeFileSync(path.join(dir, 'collected.json.tmp'), JSON.stringify(offsets));
  fs.renameSync(path.join(dir, 'collected.json.tmp'), path.join(dir, 'collected.json'));
  return true;
}
