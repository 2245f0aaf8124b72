// The process runtime's supervisor: ONE per state directory (per machine, for a platform), running every
// instance of it. Started detached by the first driver that needs it, so it outlives every control plane;
// any control plane on the machine (HA replicas included) reaches it on `<stateDir>/supervisor.sock`.
//
// It launches an instance when asked (the driver has written its launch.json), in its own process group,
// with stdout and stderr going straight to files the app holds (stdout.raw, stderr.raw: the app never writes
// into a pipe this process owns), and, sandboxed, with bwrap reporting the exit code into sandbox-status.json.
// It records the app's pid in state.json and, when the app ends, its exit in exit.json; it turns the raw
// output into timestamped log lines; and it kills an instance whose processes' resident memory goes over its
// limit (reason OOMKilled). It never restarts an app: restarts with back-off are the controller's decision.
//
// If it dies, the instances run on (nothing of theirs depends on it), and the next supervisor, started by the
// next driver that finds none, adopts every instance that has state.json and no exit.json: it goes on
// collecting their output from the offsets in collected.json and enforcing their memory, and records their
// exits (exit code from bwrap's status file; unknown without a sandbox, as only a parent can learn it).
//
// Protocol: one JSON object per line, `{"op":"start","id":"<instance id>"}` → `{"ok":true,"pid":N}` or
// `{"ok":false,"error":"…"}`; `{"op":"wait","id":"…","timeoutMs":N}` → `{"ok":true,"exited":true}` once the
// instance's end is recorded (exit.json written, its sandbox gone), or `"exited":false` after timeoutMs: a
// stopping driver is told, rather than looking at /proc until the process group is gone. A request may carry
// `"seq":N`, echoed in its reply, so that one connection can carry many (the driver keeps one open for
// starts: a request then leaves at once, without waiting a turn of its event loop to connect). Plain JavaScript
// on purpose: it starts with bare `node`, fast, with no loader.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { collectOutput, leaderAlive, loadOffsets, lockName, procStat, sandboxExitCode, socketPath } from './supervisor-files.mjs';
import { groupMembers, procTable } from './process-group.mjs';

const stateDir = path.resolve(process.argv[2]);
const instancesDir = path.join(stateDir, 'instances');
const ID_PATTERN = /^[a-z0-9][a-z0-9-]{0,200}$/;
const TICK_MS = 200;
/** memory and adopted instances are checked every this many ticks (1 s) */
const SLOW_EVERY = 5;
/** with nothing to supervise for this long, the supervisor exits (the next start starts another) */
const IDLE_EXIT_MS = 30_000;
const PAGE = 4096;
/** how long after its launch an instance's memory is checked every tick, not every second */
const YOUNG_MS = 10_000;

/** id → { dir, pid, startTicks, own (our child: its exit comes from waitpid), sandboxed, memoryMb, offsets, reason } */
const tracked = new Map();
/** id → callbacks of `wait` requests, called once the instance's end is recorded */
const waiters = new Map();
/** how often an adopted instance (no child of ours: no exit event) is looked at while someone waits for it */
const ADOPTED_WAIT_POLL_MS = 20;
let exiting = false;
let idleSince = Date.now();

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const log = (msg) => process.stderr.write(`${new Date().toISOString()} supervisor ${process.pid}: ${msg}\n`);

function writeJson(file, value) {
  fs.writeFileSync(`${file}.tmp`, JSON.stringify(value));
  fs.renameSync(`${file}.tmp`, file);
}

function readJson(file) {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch {
    return undefined;
  }
}

/** Holds the lock; if another supervisor holds it, waits a moment (it may be exiting) and then leaves. */
async function acquireLock() {
  const deadline = Date.now() + 3000;
  for (;;) {
    const srv = net.createServer((c) => c.destroy());
    try {
      await new Promise((resolve, reject) => {
        srv.once('error', reject);
        srv.listen(lockName(stateDir), resolve);
      });
      return srv;
    } catch (err) {
      if (err.code !== 'EADDRINUSE' || Date.now() > deadline) process.exit(0);
      await sleep(50);
    }
  }
}

function collect(t, final = false) {
  try {
    collectOutput(t.dir, t.offsets, final);
  } catch (err) {
    if (err.code !== 'ENOENT') log(`collecting ${t.dir}: ${err.message}`);
  }
}

/** Records how an instance ended, after its last output, and stops tracking it. */
function finish(id, code, signal, error) {
  const t = tracked.get(id);
  if (!t) return;
  tracked.delete(id);
  if (tracked.size === 0) idleSince = Date.now();
  // bwrap's end is the instance's end: if it died alone (a signal to the group reaches it first), its sandbox
  // would live on orphaned, so whatever is left of the group goes too (killing the PID namespace's init ends
  // every process inside). A sandbox that ended by itself has nothing left to kill.
  if (t.sandboxed) {
    try {
      process.kill(-t.pid, 'SIGKILL');
    } catch {}
  }
  collect(t, true);
  try {
    if (!fs.existsSync(path.join(t.dir, 'exit.json'))) writeJson(path.join(t.dir, 'exit.json'), { code, signal, at: new Date().toISOString(), ...(t.reason ? { reason: t.reason } : {}), ...(error ? { error } : {}) });
  } catch (err) {
    if (err.code !== 'ENOENT') log(`recording the exit of ${id}: ${err.message}`);
  }
  for (const done of waiters.get(id) ?? []) done(true);
  waiters.delete(id);
}

/**
 * Resolves true once the instance's end is recorded (at once if it is already, or if its directory is gone),
 * false after timeoutMs. An instance this supervisor does not track, still running (an earlier version's
 * per-instance supervisor runs it), is not ours to report: undefined.
 */
function waitExit(id, timeoutMs) {
  if (!ID_PATTERN.test(id)) throw new Error(`invalid instance id '${id}'`);
  const dir = path.join(instancesDir, id);
  const t = tracked.get(id);
  if (!t) return Promise.resolve(fs.existsSync(path.join(dir, 'exit.json')) || !fs.existsSync(dir) ? true : undefined);
  return new Promise((resolve) => {
    let poll;
    const done = (exited) => {
      clearTimeout(timer);
      clearInterval(poll);
      const left = (waiters.get(id) ?? []).filter((d) => d !== done);
      if (left.length) waiters.set(id, left);
      else waiters.delete(id);
      resolve(exited);
    };
    const timer = setTimeout(() => done(false), Math.max(0, Math.min(Number(timeoutMs) || 0, 3_600_000)));
    waiters.set(id, [...(waiters.get(id) ?? []), done]);
    // An adopted instance's end comes from no waitpid: look at its leader while someone waits.
    if (!t.own) poll = setInterval(() => !leaderAlive(t.pid, t.startTicks) && finish(id, (t.sandboxed ? sandboxExitCode(t.dir) : undefined) ?? null, null), ADOPTED_WAIT_POLL_MS);
  });
}

/** Takes over an instance some earlier supervisor started: it is no child of ours, so it is watched by pid. */
function adopt(id, dir, state, launch) {
  tracked.set(id, { dir, pid: state.appPid, startTicks: state.appStart, own: false, sandboxed: !!launch?.sandbox?.length, memoryMb: launch?.memoryMb, offsets: loadOffsets(dir) });
  if (!leaderAlive(state.appPid, state.appStart)) {
    const code = launch?.sandbox?.length ? sandboxExitCode(dir) : undefined;
    finish(id, code ?? null, null);
  }
}

function adoptAll() {
  let ids = [];
  try {
    ids = fs.readdirSync(instancesDir);
  } catch {}
  for (const id of ids) {
    const dir = path.join(instancesDir, id);
    const state = readJson(path.join(dir, 'state.json'));
    if (!state?.appPid || state.supervisorPid || fs.existsSync(path.join(dir, 'exit.json'))) continue;
    adopt(id, dir, state, readJson(path.join(dir, 'launch.json')));
  }
  if (tracked.size) log(`adopted ${tracked.size} running instance(s)`);
}

/** Launches an instance from its launch.json; resolves with its pid (undefined if it could not start). */
async function start(id) {
  if (!ID_PATTERN.test(id)) throw new Error(`invalid instance id '${id}'`);
  const known = tracked.get(id);
  if (known) return known.pid;
  const dir = path.join(instancesDir, id);
  const state = readJson(path.join(dir, 'state.json'));
  if (state?.appPid && leaderAlive(state.appPid, state.appStart)) {
    // Started before (by an earlier supervisor): the same instance, never a second process.
    adopt(id, dir, state, readJson(path.join(dir, 'launch.json')));
    return state.appPid;
  }
  if (fs.existsSync(path.join(dir, 'exit.json'))) throw new Error(`instance ${id} has exited: remove it first`);
  const spec = readJson(path.join(dir, 'launch.json'));
  if (!spec) throw new Error(`instance ${id} has no launch.json`);

  const fds = [fs.openSync(path.join(dir, 'stdout.raw'), 'a'), fs.openSync(path.join(dir, 'stderr.raw'), 'a')];
  // Sandboxed, bwrap writes `{ "exit-code": N }` here when the app ends (its argv has `--json-status-fd 3`):
  // the exit code survives this process.
  if (spec.sandbox?.length) fds.push(fs.openSync(path.join(dir, 'sandbox-status.json'), 'w'));
  let child;
  try {
    child = spawn(spec.argv[0], spec.argv.slice(1), { cwd: spec.cwd, env: spec.env, detached: true, stdio: ['ignore', ...fds] });
  } finally {
    for (const fd of fds) fs.closeSync(fd);
  }
  const t = { dir, pid: child.pid, startTicks: undefined, own: true, sandboxed: !!spec.sandbox?.length, memoryMb: spec.memoryMb, offsets: loadOffsets(dir), launchedAt: Date.now() };
  tracked.set(id, t);
  child.on('exit', (code, signal) => finish(id, code, signal));
  if (!child.pid) {
    const err = await new Promise((resolve) => child.once('error', resolve));
    fs.appendFileSync(path.join(dir, 'stderr.raw'), `slipway: could not start: ${err.message}\n`);
    finish(id, 127, null, err.message);
    return undefined;
  }
  child.on('error', () => {});
  t.startTicks = procStat(child.pid)?.startTicks;
  writeJson(path.join(dir, 'state.json'), { appPid: child.pid, appStart: t.startTicks, startedAt: new Date().toISOString() });
  return child.pid;
}

function serve(conn) {
  let buf = '';
  conn.setEncoding('utf8');
  conn.on('error', () => {});
  conn.on('data', (chunk) => {
    buf += chunk;
    if (buf.length > 64 * 1024) return conn.destroy();
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      void answer(line).then(({ reply, seq }) => conn.write(JSON.stringify(seq === undefined ? reply : { ...reply, seq }) + '\n'));
    }
  });
}

/** The reply to one request line, and the request's `seq` (echoed back: one connection may carry many requests). */
async function answer(line) {
  let req;
  try {
    req = JSON.parse(line);
  } catch {
    return { reply: { ok: false, error: 'not JSON' } };
  }
  const seq = Number.isInteger(req?.seq) ? req.seq : undefined;
  return { reply: await reply(req), seq };
}

async function reply(req) {
  if (exiting) return { ok: false, error: 'exiting' };
  if (req.op === 'ping') return { ok: true, pid: process.pid };
  if (req.op === 'wait') {
    try {
      const exited = await waitExit(String(req.id), req.timeoutMs);
      return exited === undefined ? { ok: false, error: 'not supervised here' } : { ok: true, exited };
    } catch (err) {
      return { ok: false, error: err.message };
    }
  }
  if (req.op !== 'start') return { ok: false, error: `unknown op '${req.op}'` };
  try {
    return { ok: true, pid: await start(String(req.id)) };
  } catch (err) {
    return { ok: false, error: err.message };
  }
}

/** Resident memory per process group, from one pass over /proc. */
function rssByGroup() {
  const out = new Map();
  for (const p of procTable(true).procs.values()) out.set(p.pgrp, (out.get(p.pgrp) ?? 0) + p.rssPages * PAGE);
  return out;
}

/**
 * Memory limit: the resident memory of every process in the instance's group, checked each second; over the
 * limit the group is killed and the exit recorded as OOMKilled (the controller restarts it with back-off).
 * An instance launched in the last YOUNG_MS is also checked every tick, from its own group's processes (a few
 * reads): an app that takes its memory as it boots is killed before it can pass readiness and replace a
 * healthy instance.
 */
function enforceMemory(youngOnly = false) {
  const now = Date.now();
  const limited = [...tracked.values()].filter((t) => t.memoryMb && t.pid && !t.reason && (!youngOnly || now - (t.launchedAt ?? 0) < YOUNG_MS));
  if (!limited.length) return;
  const rss = youngOnly ? undefined : rssByGroup();
  for (const t of limited) {
    const used = rss ? (rss.get(t.pid) ?? 0) : groupRss(t.pid);
    if (used <= t.memoryMb * 1024 * 1024) continue;
    t.reason = 'OOMKilled';
    try {
      fs.appendFileSync(path.join(t.dir, 'stderr.raw'), `slipway: instance over its memory limit (${Math.round(used / 1048576)} MB > ${t.memoryMb} MB): killed\n`);
    } catch {}
    try {
      process.kill(-t.pid, 'SIGKILL');
    } catch {}
  }
}

/** Resident memory of one process group, from its members' statm. */
function groupRss(pgid) {
  let pages = 0;
  for (const m of groupMembers(pgid)) {
    try {
      pages += Number(fs.readFileSync(`/proc/${m.pid}/statm`, 'utf8').split(' ')[1]);
    } catch {}
  }
  return pages * PAGE;
}

async function main() {
  fs.mkdirSync(instancesDir, { recursive: true });
  const lock = await acquireLock();
  const sock = socketPath(stateDir);
  fs.rmSync(sock, { force: true });
  const server = net.createServer(serve);
  // The socket is created under umask 077 (only its owner may ask for a launch). The umask is put back
  // at once: apps inherit it, and must see the one the platform was started with.
  const umask = process.umask(0o077);
  try {
    await new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(sock, resolve);
    });
  } finally {
    process.umask(umask);
  }
  const me = { pid: process.pid, startedAt: new Date().toISOString() };
  writeJson(path.join(stateDir, 'supervisor.json'), me);
  adoptAll();

  const shutdown = (why) => {
    exiting = true;
    log(`exiting: ${why}`);
    server.close();
    lock.close();
    try {
      if (readJson(path.join(stateDir, 'supervisor.json'))?.pid === process.pid) fs.rmSync(path.join(stateDir, 'supervisor.json'));
      fs.rmSync(sock, { force: true });
    } catch {}
    // Answer what is in flight ('exiting': the driver starts the next supervisor), then go.
    setTimeout(() => process.exit(0), 100);
  };

  let tick = 0;
  const timer = setInterval(() => {
    if (exiting) return;
    if (!fs.existsSync(instancesDir)) return shutdown('the state directory is gone');
    for (const t of tracked.values()) collect(t);
    if (++tick % SLOW_EVERY) return enforceMemory(true);
    for (const [id, t] of tracked) {
      // An adopted instance ended: no waitpid for it, so bwrap's status file tells (or nothing does).
      if (!t.own && !leaderAlive(t.pid, t.startTicks)) finish(id, (readJson(path.join(t.dir, 'launch.json'))?.sandbox?.length ? sandboxExitCode(t.dir) : undefined) ?? null, null);
    }
    enforceMemory();
    if (tracked.size === 0 && Date.now() - idleSince > IDLE_EXIT_MS) shutdown('nothing to supervise');
  }, TICK_MS);
  timer.unref();
  // Keep running while the socket is open; SIGTERM / SIGINT end only this process, never an instance.
  for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP']) process.on(sig, () => shutdown(sig));
}

main().catch((err) => {
  log(`failed: ${err.stack ?? err}`);
  process.exit(1);
});
