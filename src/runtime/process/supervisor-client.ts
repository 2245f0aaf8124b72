/**
 * The driver's side of the process runtime's supervisor (supervisor.mjs): finds the one supervisor of a state
 * directory, starts it when there is none (detached, so it outlives this control plane), and asks it to
 * launch instances over its socket.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { socketPath } from './supervisor-files.mjs';

const SUPERVISOR = path.join(path.dirname(fileURLToPath(import.meta.url)), 'supervisor.mjs');
const REQUEST_TIMEOUT_MS = 10_000;
/** how often a missing supervisor may be started (one that cannot start must not be retried in a tight loop) */
const RESPAWN_EVERY_MS = 500;
const ALIVE_CACHE_MS = 100;
/** how long a supervisor this client started may take to boot before another is started beside it */
const BOOTING_MS = 5000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

type Reply = { ok: boolean; pid?: number; exited?: boolean; error?: string };
interface PendingReply {
  resolve(reply: Reply): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout;
}

export class SupervisorClient {
  private readonly socket: string;
  private lastSpawn = 0;
  /** the supervisor this client started, while it runs: it may still be booting (no second one meanwhile) */
  private spawned: { pid: number; at: number } | undefined;
  private aliveCache: { at: number; pid: number | undefined } = { at: 0, pid: undefined };
  /** the connection starts are asked over, kept open: a request is written at once (no connect to wait for) */
  private startConn: { sock: net.Socket; pending: Map<number, PendingReply> } | undefined;
  private seq = 0;

  constructor(private readonly stateDir: string) {
    this.socket = socketPath(stateDir);
  }

  /**
   * The pid of the supervisor running for this state directory, if one runs: the pid it recorded, alive and
   * still running supervisor.mjs over this directory (a reused pid is someone else's). Cached for 100 ms, as
   * a listing asks once per instance.
   */
  runningPid(): number | undefined {
    const now = Date.now();
    if (now - this.aliveCache.at < ALIVE_CACHE_MS) return this.aliveCache.pid;
    let pid: number | undefined;
    try {
      const rec = JSON.parse(fs.readFileSync(path.join(this.stateDir, 'supervisor.json'), 'utf8')) as { pid: number };
      const cmd = fs.readFileSync(`/proc/${rec.pid}/cmdline`, 'utf8');
      const state = fs.readFileSync(`/proc/${rec.pid}/stat`, 'utf8');
      if (cmd.includes('supervisor.mjs') && cmd.includes(this.stateDir) && state.slice(state.lastIndexOf(')') + 2)[0] !== 'Z') pid = rec.pid;
    } catch {}
    this.aliveCache = { at: now, pid };
    return pid;
  }

  /** Starts a supervisor unless one runs (or one was started a moment ago). The lock settles any race. */
  ensureRunning(): void {
    if (this.runningPid()) return;
    this.maybeSpawn();
  }

  /**
   * Starts a supervisor, unless the one this client started last still runs and is young: a Node process on a
   * loaded machine may take a while to boot, and every extra one would only find the lock taken and leave.
   */
  private maybeSpawn(): void {
    const now = Date.now();
    if (now - this.lastSpawn < RESPAWN_EVERY_MS) return;
    if (this.spawned && now - this.spawned.at < BOOTING_MS) return;
    this.spawnSupervisor();
  }

  private spawnSupervisor(): void {
    this.lastSpawn = Date.now();
    this.aliveCache.at = 0;
    const out = fs.openSync(path.join(this.stateDir, 'supervisor.log'), 'a');
    try {
      // Its own session and a bare environment: nothing of the control plane's (tokens, database URL) leaks
      // into it; each instance's environment comes whole from its launch.json.
      const child = spawn(process.execPath, [SUPERVISOR, this.stateDir], { detached: true, stdio: ['ignore', out, out], cwd: this.stateDir, env: { PATH: process.env.PATH ?? '/usr/bin:/bin' } });
      child.on('error', () => {});
      if (child.pid) {
        const mine = { pid: child.pid, at: this.lastSpawn };
        this.spawned = mine;
        child.once('exit', () => {
          if (this.spawned === mine) this.spawned = undefined;
        });
      }
      child.unref();
    } finally {
      fs.closeSync(out);
    }
  }

  /**
   * Asks the supervisor to launch the instance whose launch.json is written; resolves once it runs (with its
   * pid) or has already ended (pid undefined: it could not start). Starts a supervisor when none answers.
   */
  async start(id: string): Promise<number | undefined> {
    const deadline = Date.now() + REQUEST_TIMEOUT_MS;
    let lastErr: Error | undefined;
    while (Date.now() < deadline) {
      let reply: { ok: boolean; pid?: number; error?: string };
      try {
        reply = await this.startRequest(id);
      } catch (err) {
        // No supervisor listening (none yet, or it just died): start one and ask again.
        lastErr = err as Error;
        this.maybeSpawn();
        await sleep(10);
        continue;
      }
      if (reply.ok) return reply.pid;
      if (reply.error !== 'exiting') throw new Error(`the supervisor could not start instance ${id}: ${reply.error}`);
      lastErr = new Error('the supervisor was exiting');
      await sleep(50);
    }
    throw new Error(`no supervisor answered within ${REQUEST_TIMEOUT_MS / 1000} s to start instance ${id}${lastErr ? `: ${lastErr.message}` : ''}`);
  }

  /**
   * Resolves once the supervisor has recorded the instance's end (true), or after timeoutMs (false); undefined
   * when no supervisor can tell (none runs, it exits meanwhile, or it does not run this instance): the caller
   * then looks for itself. Never starts a supervisor.
   */
  async waitExit(id: string, timeoutMs: number): Promise<boolean | undefined> {
    if (!this.runningPid()) return undefined;
    try {
      const reply = await this.request({ op: 'wait', id, timeoutMs: Math.max(0, Math.round(timeoutMs)) }, timeoutMs + REQUEST_TIMEOUT_MS);
      return reply.ok ? reply.exited === true : undefined;
    } catch {
      return undefined;
    }
  }

  /** Closes the kept connection (the supervisor goes on). */
  close(): void {
    this.startConn?.sock.destroy();
    this.startConn = undefined;
  }

  /**
   * A start over the kept connection (opened on first use, again after it closes). Replies carry the request's
   * `seq`; one without (a supervisor from before `seq`) answers the oldest request waiting.
   */
  private startRequest(id: string): Promise<Reply> {
    const conn = (this.startConn ??= this.openStartConn());
    const seq = ++this.seq;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        conn.pending.delete(seq);
        reject(new Error('no answer'));
      }, REQUEST_TIMEOUT_MS);
      conn.pending.set(seq, { resolve, reject, timer });
      conn.sock.write(`${JSON.stringify({ op: 'start', id, seq })}\n`);
    });
  }

  private openStartConn(): { sock: net.Socket; pending: Map<number, PendingReply> } {
    const sock = net.connect(this.socket);
    const conn = { sock, pending: new Map<number, PendingReply>() };
    sock.unref();
    sock.setEncoding('utf8');
    let buf = '';
    sock.on('data', (chunk: string) => {
      buf += chunk;
      for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        let reply: Reply & { seq?: number };
        try {
          reply = JSON.parse(line);
        } catch {
          continue;
        }
        const seq = reply.seq ?? conn.pending.keys().next().value;
        const waiting = seq === undefined ? undefined : conn.pending.get(seq);
        if (!waiting) continue;
        conn.pending.delete(seq!);
        clearTimeout(waiting.timer);
        waiting.resolve(reply);
      }
    });
    const fail = (err: Error) => {
      if (this.startConn === conn) this.startConn = undefined;
      sock.destroy();
      for (const w of conn.pending.values()) {
        clearTimeout(w.timer);
        w.reject(err);
      }
      conn.pending.clear();
    };
    sock.on('error', fail);
    sock.on('close', () => fail(new Error('the supervisor closed the connection')));
    return conn;
  }

  private request(msg: object, timeoutMs = REQUEST_TIMEOUT_MS): Promise<Reply> {
    return new Promise((resolve, reject) => {
      const conn = net.connect(this.socket);
      let buf = '';
      const timer = setTimeout(() => conn.destroy(new Error('no answer')), timeoutMs);
      conn.setEncoding('utf8');
      conn.once('connect', () => conn.write(JSON.stringify(msg) + '\n'));
      conn.on('data', (chunk) => {
        buf += chunk;
        const i = buf.indexOf('\n');
        if (i < 0) return;
        clearTimeout(timer);
        conn.end();
        try {
          resolve(JSON.parse(buf.slice(0, i)));
        } catch (err) {
          reject(err as Error);
        }
      });
      conn.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
      conn.once('close', () => {
        clearTimeout(timer);
        reject(new Error('the supervisor closed the connection'));
      });
    });
  }
}
