/**
 * The HAProxy master process (master-worker mode, `-W`) as the router drives it: started once, or adopted
 * from an earlier run of the control plane, and from then on only reloaded, never restarted because the
 * control plane was.
 *
 * - **Started** detached, in a process group of its own (a Ctrl-C on the terminal that runs the control
 *   plane does not reach it), writing its messages to `haproxy.log`, so it outlives the control plane.
 * - **Adopted** on the next start when the pid file names a live master whose command line loads our
 *   configuration and that answers on our master socket with a worker on our admin socket.
 * - **Runtime API commands** go to the current worker (admin socket); the master CLI (`@!<pid>`) reaches
 *   every worker for counts (`show stat`), old ones included.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { cliCommand, cliErrors, parseServerLoad, parseShowProc, type ProcList } from './runtime-api.ts';
import type { RouterFiles } from './config.ts';
import { alive } from '../process-alive.ts';

export interface HaproxyMasterOptions {
  bin: string;
  files: RouterFiles;
  /** extra command-line options (pool tuning, see detect.ts) */
  extraArgs?: string[];
  /** A worker became the current one (after start, adoption or a reload). */
  onCurrentWorker?(pid: number): void;
  logger?: { debug(o: object, m: string): void; warn(o: object, m: string): void };
}

export class HaproxyMaster {
  pid = 0;
  /** true when this master was left by an earlier run and adopted */
  adopted = false;

  constructor(private readonly opts: HaproxyMasterOptions) {}

  private get files(): RouterFiles {
    return this.opts.files;
  }

  /** The pid of a master an earlier run left on this data directory, running our configuration; else undefined. */
  leftRunning(): number | undefined {
    let pid: number;
    try {
      pid = Number(fs.readFileSync(this.files.pidFile, 'utf8').trim().split('\n')[0]);
      if (!Number.isInteger(pid) || pid <= 1 || !alive(pid)) return undefined;
      const cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      if (!cmdline.includes(this.files.config) || !cmdline.includes('-W')) return undefined;
    } catch {
      return undefined;
    }
    return pid;
  }

  /**
   * Takes over a master left running: it must answer `show proc` on the master socket as the master of that
   * pid, with a current worker that answers on the admin socket. Resolves false (nothing taken) otherwise.
   */
  async adopt(pid: number): Promise<boolean> {
    try {
      const procs = await this.procs();
      if (procs.masterPid !== pid) return false;
      const current = procs.workers.find((w) => w.current);
      if (!current) return false;
      const info = await cliCommand(this.files.adminSocket, 'show info', 2000);
      if (!new RegExp(`^Pid: ${current.pid}$`, 'm').test(info)) return false;
      this.pid = pid;
      this.adopted = true;
      this.opts.onCurrentWorker?.(current.pid);
      return true;
    } catch (err) {
      this.opts.logger?.debug({ pid, err: (err as Error).message }, 'haproxy left running does not answer; not adopted');
      return false;
    }
  }

  /** Starts a new master on the configuration written; resolves once its first worker answers. */
  async start(): Promise<void> {
    const log = fs.openSync(this.files.logFile, 'w', 0o600);
    const args = ['-W', '-S', `${this.files.masterSocket},mode,600`, ...(this.opts.extraArgs ?? []), '-f', this.files.config, '-p', this.files.pidFile];
    const child = spawn(this.opts.bin, args, { stdio: ['ignore', log, log], detached: true });
    fs.closeSync(log);
    child.once('error', (err) => this.opts.logger?.warn({ err: err.message }, 'haproxy could not be started'));
    child.unref();
    this.pid = child.pid ?? 0;
    this.adopted = false;
    const deadline = Date.now() + 10_000;
    for (;;) {
      if (!this.pid || !alive(this.pid)) throw new Error(`HaproxyRouter: haproxy exited while starting: ${this.output()}`);
      try {
        const pid = /^Pid: (\d+)$/m.exec(await cliCommand(this.files.adminSocket, 'show info', 1000))?.[1];
        if (pid) {
          this.opts.onCurrentWorker?.(Number(pid));
          return;
        }
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) {
        await this.stop(2000);
        throw new Error(`HaproxyRouter: haproxy did not open its admin socket within 10 s: ${this.output()}`);
      }
      await sleep(20);
    }
  }

  /** The end of haproxy.log, for error messages. */
  output(): string {
    try {
      return fs.readFileSync(this.files.logFile, 'utf8').trim().slice(-1500);
    } catch {
      return '';
    }
  }

  async procs(): Promise<ProcList> {
    return parseShowProc(await cliCommand(this.files.masterSocket, 'show proc', 2000));
  }

  /**
   * Asks the master to reload the configuration on disk (already checked) and resolves once a new worker
   * answers on the admin socket and every previous one has begun its soft stop.
   */
  async reload(): Promise<void> {
    const before = await this.procs();
    const previous = new Set(before.workers.filter((w) => w.current).map((w) => w.pid));
    const askReload = () => cliCommand(this.files.masterSocket, 'reload', 5000).catch(() => ''); // the master re-executes and drops the socket
    await askReload();
    let askedAt = Date.now();
    const deadline = Date.now() + 15_000;
    for (;;) {
      await sleep(20);
      const now = await this.procs().catch(() => undefined);
      if (now && now.failedReloads > before.failedReloads) throw new Error('haproxy reload failed; the previous configuration keeps serving');
      // The master counts the reloads it began: a request it never got (its socket was busy) is sent again.
      if (now && now.masterReloads === before.masterReloads && Date.now() - askedAt > 2000) {
        await askReload();
        askedAt = Date.now();
      }
      const fresh = now?.workers.find((w) => w.current && !previous.has(w.pid));
      if (fresh) {
        const info = await cliCommand(this.files.adminSocket, 'show info', 1000).catch(() => '');
        if (new RegExp(`^Pid: ${fresh.pid}$`, 'm').test(info)) {
          this.opts.onCurrentWorker?.(fresh.pid);
          break;
        }
      }
      if (Date.now() > deadline) throw new Error('haproxy reload did not complete within 15 s');
    }
    // Until an old worker has begun its soft stop it still accepts connections on the shared listeners,
    // with the old configuration: the reload is done only when none does.
    for (const pid of previous) {
      for (;;) {
        const info = await cliCommand(this.files.masterSocket, `@!${pid} show info`, 1000).catch(() => '');
        if (!/^Pid: /m.test(info) || /^Stopping: 1$/m.test(info)) break;
        if (Date.now() > deadline) throw new Error(`haproxy worker ${pid} did not begin its soft stop within 15 s of a reload`);
        await sleep(10);
      }
    }
  }

  /**
   * Runtime API commands for the current worker (a refusal throws). Old workers are not sent them: a
   * soft-stopping worker's proxies are disabled and answer `set server` with "Proxy is disabled."; instead,
   * every request an old worker reads (plain, or TLS it decrypted) goes on to the current worker through
   * the handoff backends (see config.ts), so it meets today's endpoints, not the ones held at the reload.
   */
  async runtime(cmds: string[]): Promise<void> {
    // The Runtime API takes `;`-separated commands on one line; batches keep each line short.
    for (let i = 0; i < cmds.length; i += 64) {
      const batch = cmds.slice(i, i + 64);
      const answer = await cliCommand(this.files.adminSocket, batch.join('; '));
      const errors = cliErrors(answer);
      if (errors.length) throw new Error(`haproxy Runtime API refused: ${errors.join(' | ')} (commands: ${batch.join('; ').slice(0, 300)})`);
    }
  }

  /**
   * Requests in flight per `backend/server` of the named backends, summed over every worker (old ones still
   * finish after a reload). Only those backends are read: every server of a large table is megabytes of text.
   */
  async serverLoad(backends: string[]): Promise<Map<string, number>> {
    const procs = await this.procs();
    if (procs.workers.length === 0) throw new Error('no haproxy worker is running');
    const lines: string[] = [];
    for (let i = 0; i < backends.length; i += 64) lines.push(backends.slice(i, i + 64).map((b) => `@@PID show stat ${b} 4 -1`).join('; '));
    const ask = (pid: number) => Promise.all(lines.map((l) => cliCommand(this.files.masterSocket, l.replaceAll('@@PID', `@!${pid}`), 2000).catch(() => ''))).then((a) => a.join('\n'));
    const answers = await Promise.all(procs.workers.map((w) => ask(w.pid)));
    const total = new Map<string, number>();
    for (const a of answers) for (const [loc, n] of parseServerLoad(a)) total.set(loc, (total.get(loc) ?? 0) + n);
    return total;
  }

  alive(): boolean {
    return this.pid > 0 && alive(this.pid);
  }

  /**
   * Stops the master: SIGUSR1 (soft stop: the workers stop listening, finish their requests and exit, then the
   * master), SIGTERM when that takes longer than `timeoutMs`, SIGKILL last.
   */
  async stop(timeoutMs: number): Promise<void> {
    const pid = this.pid;
    if (!pid || !alive(pid)) return;
    for (const [signal, ms] of [['SIGUSR1', timeoutMs], ['SIGTERM', 2000], ['SIGKILL', 5000]] as const) {
      try {
        process.kill(pid, signal);
      } catch {
        return;
      }
      const deadline = Date.now() + ms;
      while (alive(pid) && Date.now() < deadline) await sleep(20);
      if (!alive(pid)) return;
    }
  }
}


function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
