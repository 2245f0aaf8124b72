/**
 * The built-in data plane as the control plane drives it: the Node proxy runs in a small process of its own
 * (router-host.ts) that outlives the control plane, exactly as HAProxy does. The control plane starts it,
 * feeds it every table over its unix socket, and adopts it after a restart (the pid file names a live
 * process of ours, its socket answers, and it runs the options asked for now); one running other options is
 * stopped and replaced. `detach()` lets go of it and leaves it serving; `stop()` drains and ends it.
 *
 * `inFlight` reads counts the process pushes (every 50 ms while they change, and with each applied table);
 * an endpoint dropped by a table the process has not confirmed yet counts as busy, so a caller waiting for 0
 * never stops an instance the proxy may still send a request to.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AccessLogEntry, Router, RoutingTable } from '../table.ts';
import { messageReader, processFiles, sameOptions, type Address, type FromRouter, type RouterProcessOptions, type ToRouter } from './protocol.ts';
import { alive } from '../process-alive.ts';

const HOST_SCRIPT = path.join(path.dirname(fileURLToPath(import.meta.url)), 'router-host.ts');

export interface ProcessRouterOptions extends RouterProcessOptions {
  accessLogSink?: (entry: AccessLogEntry) => void;
  logger?: { debug(o: object, m: string): void; info?(o: object, m: string): void; warn(o: object, m: string): void };
}

export class ProcessRouter implements Router {
  readonly name = 'builtin';
  private readonly files: ReturnType<typeof processFiles>;
  private sock?: net.Socket;
  private pid = 0;
  private addr: Address = { httpPort: 0 };
  private adoptedFlag = false;
  private desired?: RoutingTable;
  private desiredIds = new Set<string>();
  private sentSeq = 0;
  private ackedSeq = 0;
  private counts = new Map<string, number>();
  private tcpPorts = new Map<string, number>();
  private letGo = false;
  private reconnecting = false;

  constructor(private readonly opts: ProcessRouterOptions) {
    this.files = processFiles(opts.dataDir);
  }

  /** The router process's pid; 0 before start. */
  get processPid(): number {
    return this.pid;
  }

  get adopted(): boolean {
    return this.adoptedFlag;
  }

  private get options(): RouterProcessOptions {
    const { accessLogSink: _a, logger: _l, ...o } = this.opts;
    return o;
  }

  async start(): Promise<void> {
    fs.mkdirSync(this.files.dir, { recursive: true });
    await this.connectOrSpawn();
  }

  private async connectOrSpawn(): Promise<void> {
    const left = this.leftRunning();
    if (left) {
      const hello = await this.connect(3000).catch(() => undefined);
      if (hello && hello.pid === left && sameOptions(hello.options, this.options)) {
        this.adoptedFlag = true;
        this.opts.logger?.info?.({ pid: left, routes: hello.table.routes.length }, 'adopted the built-in router left running');
        return;
      }
      this.opts.logger?.warn({ pid: left }, 'stopping the built-in router left by a previous run (it runs other options)');
      this.sock?.destroy();
      await stopPid(left, 10_000);
    }
    await this.spawnProcess();
  }

  /** The pid of a router process of ours (its command line names our options file) that runs; else 0. */
  private leftRunning(): number {
    try {
      const pid = Number(fs.readFileSync(this.files.pidFile, 'utf8').trim());
      if (!Number.isInteger(pid) || pid <= 1 || !alive(pid)) return 0;
      return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').includes(this.files.optionsFile) ? pid : 0;
    } catch {
      return 0;
    }
  }

  private async spawnProcess(): Promise<void> {
    fs.writeFileSync(this.files.optionsFile, JSON.stringify(this.options), { mode: 0o600 });
    fs.rmSync(this.files.pidFile, { force: true });
    const log = fs.openSync(this.files.logFile, 'a', 0o600);
    const child = spawn(process.execPath, ['--import', import.meta.resolve('tsx'), HOST_SCRIPT, this.files.optionsFile], { stdio: ['ignore', log, log], detached: true });
    fs.closeSync(log);
    child.unref();
    let exited = false;
    child.once('exit', () => (exited = true));
    this.adoptedFlag = false;
    const deadline = Date.now() + 30_000;
    for (;;) {
      if (exited) throw new Error(`the built-in router process exited while starting: ${tail(this.files.logFile)}`);
      if (this.leftRunning() === child.pid) {
        await this.connect(5000);
        return;
      }
      if (Date.now() > deadline) {
        child.kill('SIGKILL');
        throw new Error(`the built-in router process did not start within 30 s: ${tail(this.files.logFile)}`);
      }
      await sleep(25);
    }
  }

  /** Connects to the router process and resolves with its hello. */
  private connect(timeoutMs: number): Promise<Extract<FromRouter, { type: 'hello' }>> {
    return new Promise((resolve, reject) => {
      const sock = net.createConnection(this.files.socket);
      let greeted = false;
      const timer = setTimeout(() => sock.destroy(new Error('the built-in router process did not answer')), timeoutMs);
      sock.on(
        'data',
        messageReader<FromRouter>((m) => {
          if (m.type === 'hello' && !greeted) {
            greeted = true;
            clearTimeout(timer);
            this.sock = sock;
            this.pid = m.pid;
            this.addr = m.address;
            // A table handed over before (a reconnect) is sent again.
            if (this.desired) this.send({ type: 'table', seq: ++this.sentSeq, table: this.desired });
            resolve(m);
          } else this.onMessage(m);
        }),
      );
      sock.on('error', (err) => {
        clearTimeout(timer);
        if (!greeted) reject(err);
      });
      sock.on('close', () => {
        clearTimeout(timer);
        if (!greeted) return reject(new Error('the built-in router process closed the connection'));
        if (this.sock === sock) this.onLost();
      });
    });
  }

  private onMessage(m: FromRouter): void {
    if (m.type === 'applied') {
      this.ackedSeq = Math.max(this.ackedSeq, m.seq);
      this.counts = new Map(m.inFlight);
      this.tcpPorts = new Map(m.tcpPorts);
    } else if (m.type === 'load') this.counts = new Map(m.inFlight);
    else if (m.type === 'access') this.opts.accessLogSink?.(m.entry);
  }

  /** The connection ended while we still drive the router: find it again, or start a new one. */
  private onLost(): void {
    this.sock = undefined;
    if (this.letGo || this.reconnecting) return;
    this.reconnecting = true;
    this.opts.logger?.warn({ pid: this.pid }, 'lost the built-in router process; reconnecting');
    const retry = async () => {
      while (!this.letGo) {
        try {
          await this.connectOrSpawn();
          break;
        } catch (err) {
          this.opts.logger?.warn({ err: (err as Error).message }, 'built-in router not reachable; retrying');
          await sleep(500);
        }
      }
      this.reconnecting = false;
    };
    void retry();
  }

  private send(m: ToRouter): void {
    if (this.sock && !this.sock.destroyed) this.sock.write(`${JSON.stringify(m)}\n`);
  }

  setTable(table: RoutingTable): void {
    if (this.letGo) return;
    this.desired = table;
    this.desiredIds = new Set(table.routes.flatMap((r) => r.endpoints.map((e) => e.id)));
    this.send({ type: 'table', seq: ++this.sentSeq, table });
  }

  /** Resolves once the process confirmed the latest table (bounded: a lost process cannot stall a caller). */
  async settled(): Promise<void> {
    const deadline = Date.now() + 10_000;
    while (this.ackedSeq < this.sentSeq && this.sock && Date.now() < deadline) await sleep(5);
  }

  inFlight(endpointId: string): number {
    const n = this.counts.get(endpointId) ?? 0;
    return this.ackedSeq < this.sentSeq && !this.desiredIds.has(endpointId) ? Math.max(1, n) : n;
  }

  address(): Address {
    return this.addr;
  }

  tcpPortOf(routeKey: string): number | undefined {
    return this.tcpPorts.get(routeKey);
  }

  async stop(): Promise<void> {
    this.letGo = true;
    const connected = !!this.sock && !this.sock.destroyed;
    this.send({ type: 'stop' });
    if (this.pid) await stopPid(this.pid, 15_000, connected ? 'none' : 'SIGTERM');
    this.sock?.destroy();
  }

  async detach(): Promise<void> {
    this.letGo = true;
    this.sock?.destroy();
    this.opts.logger?.info?.({ pid: this.pid }, 'built-in router left running for the next start to adopt');
  }
}

/** Waits for a process to end after asking it (`first`: the signal to send at once), SIGKILL past the deadline. */
async function stopPid(pid: number, timeoutMs: number, first: NodeJS.Signals | 'none' = 'SIGTERM'): Promise<void> {
  try {
    if (first !== 'none') process.kill(pid, first);
  } catch {
    return;
  }
  const deadline = Date.now() + timeoutMs;
  while (alive(pid) && Date.now() < deadline) await sleep(20);
  if (alive(pid)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {}
  }
}


function tail(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8').trim().slice(-1500);
  } catch {
    return '';
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
