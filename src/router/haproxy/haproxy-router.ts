/**
 * The HAProxy data plane. slipway is the control plane: it writes HAProxy's configuration, runs HAProxy
 * as a child process in master-worker mode, and keeps it in step with the routing table.
 *
 * Two kinds of change, two paths:
 * - Endpoint changes (an instance added, removed, re-weighted, drained) go through the Runtime API on the
 *   admin socket, with no reload: each backend pre-allocates server slots (`s1`…`sN`), and a slot
 *   takes an endpoint with `set server addr/weight/state`. A removed endpoint's slot is set to `drain` (no
 *   new requests, in-flight ones finish) and is freed (`maint`) once `show stat` counts nothing on it.
 * - A new route that a plain backend can carry takes an idle spare backend, and host changes are map
 *   entries: also through the Runtime API, with no reload (see spares.ts).
 * - Other structural changes (a route gone, load-balancing mode, access rules, maintenance, more slots, the
 *   spares used up) rewrite the configuration and reload through the master socket. The master starts a new worker that takes the
 *   listening sockets over (`expose-fd listeners`) and starts with the slots written into the
 *   configuration as they are; the old worker finishes its requests, answering the next request on each
 *   idle keep-alive connection before closing it. No connection is refused and no request is lost.
 *
 * All changes to HAProxy go through one serial loop that always converges on the latest table, so the
 * model of what HAProxy holds (`applied`) is only ever changed by one pass at a time. A request on a
 * connection opened before a reload goes from the old worker to the current one (the handoff backends in
 * config.ts), so it meets today's endpoints: an old worker's servers cannot be changed any more.
 *
 * HAProxy outlives the control plane: `detach()` leaves it serving, and the next start adopts it (see
 * master.ts) with the model saved after passes (`router-state.json`), reloading once so that what
 * HAProxy holds is exactly that model. See docs/restarts.md.
 */
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import type { Router, RoutingTable } from '../table.ts';
import { haproxyAvailable, poolOptions } from './detect.ts';
import { HaproxyMaster } from './master.ts';
import { HaproxyAccessLog } from './access-log.ts';
import { readState, StateSaver } from './state-file.ts';
import { sameMap, type Backend } from './slots.ts';
import { planSlots, renamedSlots, type SlotPlan } from './plan.ts';
import { hostMapCommands, routeMapCommand, servedWithoutReload, SparePool } from './spares.ts';
import { internalSourceCommands, structureOf, type Structure } from './structure.ts';
import { endpointOnlyBackends, uniqueKeys, type Reconciled } from './endpoint-pass.ts';
import { TcpPortAllocator, tcpPortsFile } from '../tcp-ports.ts';
import { portFree } from '../../net/port-free.ts';
import { renderPages, routerFiles, SERVER_PREFIX, type RouterFiles } from './config.ts';
import { CrtList } from './crt-list.ts';
import { Drains } from './drains.ts';
import { Reloader } from './reload.ts';
import { SerialLoop } from './serial-loop.ts';
import type { HaproxyPorts, HaproxyRouterOptions } from './router-options.ts';

export type { HaproxyRouterOptions } from './router-options.ts';

const CERT_CHECK_MS = 5000;
const ALIVE_CHECK_MS = 2000;

export class HaproxyRouter implements Router {
  readonly name = 'haproxy';
  private readonly files: RouterFiles;
  private readonly bin: string | undefined;
  private readonly slotsPerBackend: number;
  private readonly ports: HaproxyPorts = { port: 0 };
  private readonly tcpAllocator?: TcpPortAllocator;
  /** Ports of the TCP routes in the latest table, as assigned before the structure is computed. */
  private tcpPorts = new Map<string, number>();
  private readonly crtList: CrtList;
  private certTimer?: NodeJS.Timeout;
  private aliveTimer?: NodeJS.Timeout;
  private readonly master: HaproxyMaster;
  private readonly accessLog?: HaproxyAccessLog;
  private readonly reloader: Reloader;
  /** The first pass after an adoption reloads, so that HAProxy holds exactly the model read back. */
  private forceReload = false;
  /** setTable was called (an adoption then keeps the table handed over rather than the saved one) */
  private handed = false;
  private started = false;
  private stopping = false;

  /** Latest table handed to setTable. */
  private desired: RoutingTable = { routes: [] };
  /** The table the last pass brought HAProxy to (a pass that moves endpoints only starts from it). */
  private reconciled?: Reconciled;
  /** What HAProxy holds now, by route key, and the host map it loaded. */
  private applied = new Map<string, Backend>();
  private appliedHosts = new Map<string, string>();
  /** SNI name → passthrough backend, as HAProxy loaded it (sni.map). */
  private appliedSni = new Map<string, string>();

  /** Draining slots and the in-flight counts (drains.ts). */
  private readonly drains: Drains;
  private readonly serial: SerialLoop;
  private readonly saved: StateSaver;
  /** Idle spare backends the running worker declares (see spares.ts). */
  private readonly pool: SparePool;

  constructor(private readonly opts: HaproxyRouterOptions) {
    const dir = path.resolve(opts.dataDir, 'router');
    // The map path sits unquoted inside a sample expression, and socket paths are bounded by sun_path.
    if (/[\s,()"'\\$#]/.test(dir)) throw new Error(`HaproxyRouter: dataDir ${JSON.stringify(opts.dataDir)} must not contain spaces, quotes, commas or parentheses`);
    if (dir.length > 90) throw new Error(`HaproxyRouter: dataDir path is too long for HAProxy's sockets (${dir.length} > 90 characters)`);
    this.files = routerFiles(dir);
    this.saved = new StateSaver(this.files.stateFile, (err) => this.opts.logger?.warn({ err: err.message }, 'router state not saved: a restarted control plane will restart haproxy'));
    this.bin = opts.haproxyBin ?? haproxyAvailable();
    if (opts.tlsPort !== undefined && !opts.domain) throw new Error('HaproxyRouter: tlsPort needs domain (for the self-signed certificate)');
    this.slotsPerBackend = opts.slotsPerBackend ?? 16;
    if (opts.tcpPorts) this.tcpAllocator = new TcpPortAllocator(tcpPortsFile(opts.dataDir), opts.tcpPorts, opts.host, opts.logger);
    if (opts.accessLog) this.accessLog = new HaproxyAccessLog(this.files.adminSocket, opts.accessLog);
    this.master = new HaproxyMaster({
      bin: this.bin ?? 'haproxy',
      files: this.files,
      extraArgs: this.bin ? poolOptions(this.bin) : [],
      logger: opts.logger,
      onCurrentWorker: (pid) => this.accessLog?.follow(pid),
    });
    this.crtList = new CrtList({ dataDir: opts.dataDir, domain: opts.domain, file: this.files.crtList, logger: opts.logger });
    this.reloader = new Reloader({
      files: this.files,
      bin: this.bin,
      host: opts.host,
      accessLog: !!opts.accessLog,
      slotsPerBackend: this.slotsPerBackend,
      ports: this.ports,
      crtList: this.crtList,
      master: this.master,
      logger: opts.logger,
    });
    this.serial = new SerialLoop({ pass: () => this.pass(), stopping: () => this.stopping, logger: opts.logger });
    this.drains = new Drains({ master: this.master, started: () => this.started, kick: () => this.serial.kick(), logger: opts.logger });
    this.pool = new SparePool({ slotsPerBackend: this.slotsPerBackend, ports: this.ports, routeInfoServed: () => this.reloader.routeInfoServed, kick: () => this.serial.kick() });
  }

  /** The pid of the HAProxy master (for tests and logs); 0 before start. */
  get masterPid(): number {
    return this.master.pid;
  }

  /** Whether start() adopted a master left running rather than starting one. */
  get adopted(): boolean {
    return this.master.adopted;
  }

  async start(): Promise<void> {
    if (!this.bin) throw new Error('HaproxyRouter: haproxy is not installed: install the Debian package haproxy (apt-get install -y haproxy)');
    fs.mkdirSync(this.files.pagesDir, { recursive: true });
    fs.mkdirSync(this.files.internalDir, { recursive: true });
    for (const [name, body] of Object.entries(renderPages())) fs.writeFileSync(path.join(this.files.pagesDir, name), body);
    if (!(await this.adoptLeftRunning())) await this.startFresh();
    this.started = true;
    // HAProxy is no child of ours to report its exit (it outlives the control plane): it is watched instead.
    this.aliveTimer = setInterval(() => {
      if (this.stopping || this.master.alive()) return;
      clearInterval(this.aliveTimer);
      this.opts.logger?.warn({ pid: this.master.pid, log: this.files.logFile, output: this.master.output().slice(-500) }, 'haproxy exited unexpectedly');
    }, ALIVE_CHECK_MS);
    this.aliveTimer.unref();
    if (this.ports.tlsPort !== undefined) {
      // A certificate added to (or changed in) <dataDir>/tls/certs is served after the next check and reload.
      this.certTimer = setInterval(() => {
        try {
          if (this.crtList.moved()) this.serial.kick();
        } catch (err) {
          // A certificate file that cannot be read now (removed under us): HAProxy keeps the ones it loaded.
          this.opts.logger?.warn({ err: (err as Error).message }, 'TLS certificates not re-read; the loaded ones stay in use');
        }
      }, CERT_CHECK_MS);
      this.certTimer.unref();
    }
    this.serial.kick();
    await this.serial.settled();
  }

  /**
   * Adopts the HAProxy an earlier run left serving, when it runs our configuration on the ports asked for now
   * and its model was saved: it keeps serving what it held (the adopted table) until a table is handed over.
   * One that cannot be adopted is stopped. Resolves whether one was adopted.
   */
  private async adoptLeftRunning(): Promise<boolean> {
    const pid = this.master.leftRunning();
    if (!pid) return false;
    const saved = readState(this.files.stateFile);
    const samePorts =
      saved &&
      saved.host === this.opts.host &&
      (this.opts.port === 0 || saved.port === this.opts.port) &&
      (this.opts.tlsPort === undefined ? saved.tlsPort === undefined : saved.tlsPort !== undefined && (this.opts.tlsPort === 0 || saved.tlsPort === this.opts.tlsPort)) &&
      (this.opts.metricsPort === undefined ? saved.metricsPort === undefined : this.opts.metricsPort === 0 || saved.metricsPort === this.opts.metricsPort || saved.metricsPort === undefined);
    if (saved && samePorts && (await this.master.adopt(pid))) {
      this.ports.port = saved.port;
      this.ports.tlsPort = saved.tlsPort;
      this.ports.metricsPort = saved.metricsPort;
      if (this.ports.tlsPort !== undefined) await this.crtList.ensureSelfSigned();
      this.applied = new Map(saved.backends.map((b) => [b.key, b]));
      this.reconciled = undefined;
      this.appliedHosts = new Map(saved.hosts);
      this.appliedSni = new Map(saved.sni);
      // The reload that follows declares spares numbered after any the adopted HAProxy may still hold.
      this.pool.spareSeq = saved.spareSeq ?? 0;
      // Drains cut short by the restart go on: freed once a count taken from now on shows nothing in flight.
      for (const b of saved.backends) b.slots.forEach((sl, i) => sl.removed && sl.endpoint && this.drains.begin(`${b.name}/${SERVER_PREFIX}${i + 1}`, sl.endpoint.id));
      if (!this.handed) this.desired = saved.table;
      this.drains.reindex();
      this.forceReload = true;
      this.opts.logger?.info?.({ pid, routes: saved.table.routes.length }, 'adopted the haproxy left running');
      return true;
    }
    this.opts.logger?.warn({ pid }, 'stopping the haproxy left by a previous run (it cannot be adopted: other ports, or no saved model)');
    this.master.pid = pid;
    await this.master.stop(5000);
    return false;
  }

  private async startFresh(): Promise<void> {
    this.ports.port = this.opts.port || (await freePort(this.opts.host));
    if (this.opts.tlsPort !== undefined) {
      this.ports.tlsPort = this.opts.tlsPort || (await freePort(this.opts.host));
      await this.crtList.ensureSelfSigned();
      this.crtList.write();
    }
    if (this.opts.metricsPort !== undefined) {
      // Metrics are for watching traffic; a busy port must not stop the router from carrying it (HAProxy
      // would refuse the whole configuration), so it is checked first.
      if (this.opts.metricsPort === 0) this.ports.metricsPort = await freePort('127.0.0.1');
      else if (await portFree('127.0.0.1', this.opts.metricsPort)) this.ports.metricsPort = this.opts.metricsPort;
      else this.opts.logger?.warn({ port: this.opts.metricsPort }, 'router metrics port is in use: metrics are off (set SLIPWAY_ROUTER_METRICS_PORT)');
    }
    await this.assignTcpPorts(this.desired);
    // Start with the table's structure; endpoints follow through the Runtime API before start resolves.
    const { backends, hosts, sni } = this.structureOf(this.desired, 'own');
    this.pool.spares = this.pool.newSpares(backends.length);
    this.reloader.writeStructure(backends, hosts, sni, this.pool.spares);
    await this.reloader.validate();
    await this.master.start();
    // HAProxy now holds this structure with every slot free; the first pass fills the slots (a copy of the
    // route, so structureOf does not take the backend for one already made from it).
    this.applied = new Map(backends.map((b) => [b.key, { ...b, route: { ...b.route }, slots: [] }]));
    this.reconciled = undefined;
    this.appliedHosts = hosts;
    this.appliedSni = sni;
  }

  address(): { httpPort: number; httpsPort?: number; metricsPort?: number } {
    return {
      httpPort: this.ports.port,
      ...(this.ports.tlsPort !== undefined ? { httpsPort: this.ports.tlsPort } : {}),
      ...(this.ports.metricsPort !== undefined ? { metricsPort: this.ports.metricsPort } : {}),
    };
  }

  setTable(table: RoutingTable): void {
    if (this.stopping) return;
    this.handed = true;
    this.serial.tableHanded();
    this.desired = table;
    if (this.started) this.serial.kick();
  }

  /**
   * Requests in flight to an endpoint, from HAProxy's `show stat`; an endpoint that left the table counts at
   * least 1 until a count taken after its slot entered drain says otherwise (see Drains.inFlight).
   */
  inFlight(endpointId: string): number {
    return this.drains.inFlight(endpointId, this.applied, this.desired);
  }

  /** Stops HAProxy: in-flight requests finish (bounded by `stopTimeoutMs`), then it exits. */
  async stop(): Promise<void> {
    await this.quiesce();
    try {
      await this.master.stop(this.opts.stopTimeoutMs ?? 5000);
      fs.rmSync(this.files.stateFile, { force: true });
    } finally {
      this.accessLog?.close();
    }
  }

  /**
   * Lets go of HAProxy and leaves it serving the table it holds: the next start on this data directory
   * adopts it. Nothing is stopped or reloaded.
   */
  async detach(): Promise<void> {
    await this.quiesce();
    this.accessLog?.close();
    this.opts.logger?.info?.({ pid: this.master.pid }, 'haproxy left running for the next start to adopt');
  }

  private async quiesce(): Promise<void> {
    this.stopping = true;
    this.drains.stopTimer();
    clearInterval(this.certTimer);
    clearInterval(this.aliveTimer);
    this.serial.cancelRetry();
    this.pool.stopTimer();
    await this.serial.idle();
    await this.saved.flush();
  }

  /**
   * Resolves when the table handed over before the call is served (see SerialLoop.settled): tests and start
   * use it. A pass that failed is retried first, so a change is never reported applied while it is not.
   */
  settled(): Promise<void> {
    return this.serial.settled();
  }

  // ── a pass of the serial loop ──────────────────────────────────────────────────────────────────────

  private async pass(): Promise<void> {
    const changed = await this.reconcile(this.desired);
    const freed = await this.drains.releaseDrained(this.applied, this.saved.stateJson);
    // The saved model is rewritten only when it moved (a pass woken to count a drain often changes nothing).
    if (changed || freed || this.saved.savedTable !== this.desired) this.saveState();
  }

  private structureOf(table: RoutingTable, names: 'keep' | 'own'): Structure {
    return structureOf(table, { names, applied: this.applied, tcpPorts: this.tcpPorts, slotsPerBackend: this.slotsPerBackend, tls: this.ports.tlsPort !== undefined, pagesDir: this.files.pagesDir, internalDir: this.files.internalDir });
  }

  /** Ports for the table's TCP routes, before its structure is computed (structureOf reads them). */
  private async assignTcpPorts(table: RoutingTable): Promise<void> {
    const keys = new Set(table.routes.filter((r) => r.protocol === 'TCP').map((r) => r.key));
    if (keys.size && !this.tcpAllocator) this.opts.logger?.warn({ routes: keys.size }, 'TCP routes need tcpPorts; not served');
    this.tcpPorts = this.tcpAllocator ? await this.tcpAllocator.assign(keys) : new Map();
  }

  tcpPortOf(routeKey: string): number | undefined {
    return this.applied.get(routeKey)?.tcpPort;
  }

  /** Brings HAProxy to the table; resolves whether anything in the model changed. */
  private async reconcile(table: RoutingTable): Promise<boolean> {
    const last = this.reconciled;
    // Set again once this pass is through: after a pass that failed, the next one takes the whole table.
    this.reconciled = undefined;
    const certificatesMoved = this.ports.tlsPort !== undefined && this.crtList.moved();
    const endpointsOnly = last && !this.forceReload && !this.pool.tidyDue && !certificatesMoved ? endpointOnlyBackends(last, table, this.applied, (t) => this.structureOf(t, 'keep').backends) : undefined;
    const changed = (endpointsOnly && (await this.reconcileEndpoints(endpointsOnly))) ?? (await this.reconcileWhole(table, certificatesMoved));
    // The routes as they were (a caller may change its table's array after handing it over); an endpoints-only
    // pass keeps the keys, so they are as unique as they were.
    this.reconciled = { table: { routes: table.routes.slice() }, uniqueKeys: endpointsOnly ? true : uniqueKeys(table) };
    return changed;
  }

  /**
   * A pass that moves the endpoints of `backends` only (endpoint-pass.ts): their slots change through the
   * Runtime API, as in the whole pass; every other backend, the host map and the configuration stay. Resolves
   * whether anything changed, or undefined (before any command) when the plan needs a reload after all.
   */
  private async reconcileEndpoints(backends: Backend[]): Promise<boolean | undefined> {
    const had = new Map(backends.map((b) => [b.key, this.applied.get(b.key)!]));
    const plan = this.planSlots(backends, new Map(backends.map((b) => [b.key, b])), had);
    if (plan.afterReload.length) return undefined;
    for (const loc of plan.serving) this.drains.draining.delete(loc);
    const now = [...plan.now, ...internalSourceCommands(backends, had, this.files.internalDir)];
    await this.master.runtime(now);
    for (const [loc, id] of plan.newlyDraining) this.drains.begin(loc, id);
    for (const b of backends) this.applied.set(b.key, b);
    // The index counts backends by object: it learns of every one replaced, even one whose slots did not move.
    if (backends.length) this.drains.reindex(backends);
    return plan.moved || now.length > 0;
  }

  /** A pass over the whole table: structure, spares, reload when needed, host map. */
  private async reconcileWhole(table: RoutingTable, certificatesMoved: boolean): Promise<boolean> {
    await this.assignTcpPorts(table);
    // First as a pass without a reload: routes keep their backends, new ones take spares (see spares.ts).
    let { backends, hosts, sni } = this.structureOf(table, 'keep');
    // A route outgrew its slots while some of them still drain instances that left it (a rollout whose steps
    // come faster than the drains are counted): a count of those backends frees them, which costs one
    // `show stat` where the reload that more slots need costs about a second at 10,000 servers.
    if (outgrewDrainingSlots(backends, this.applied) && (await this.drains.releaseDrainedNow(this.applied, this.saved.stateJson))) ({ backends, hosts, sni } = this.structureOf(table, 'keep'));
    const taken = this.pool.takeSpares(backends, hosts, this.applied);
    let next = new Map(backends.map((b) => [b.key, b]));
    const structural = this.forceReload || this.pool.tidyDue || certificatesMoved || !servedWithoutReload(this.applied, next, taken) || !sameMap(this.appliedSni, sni);
    if (structural) {
      // A reload writes every backend under its route's own name, and a fresh block of spares.
      ({ backends, hosts, sni } = this.structureOf(table, 'own'));
      next = new Map(backends.map((b) => [b.key, b]));
      taken.clear();
    }
    const plan = this.planSlots(backends, next, this.applied);
    for (const loc of plan.serving) this.drains.draining.delete(loc);
    const now = [...plan.now, ...internalSourceCommands(backends, this.applied, this.files.internalDir)];
    await this.master.runtime(now);
    const renamed = structural ? renamedSlots(backends, this.applied) : [];
    if (structural) {
      const spares = this.pool.newSpares(backends.length);
      await this.reloader.reload(backends, hosts, sni, spares);
      this.pool.reloaded(spares);
    }
    await this.master.runtime(plan.afterReload);
    // Hosts last: a new route's servers are up before its first request.
    const mapCmds: string[] = [];
    if (!structural) {
      // The access log names the route of a request by its backend (routes.map, only loaded with the access log).
      if (this.opts.accessLog) for (const b of backends) if (taken.has(b.name)) mapCmds.push(routeMapCommand(this.files.routesMap, b.name, b.key));
      mapCmds.push(...hostMapCommands(this.files.hostsMap, this.appliedHosts, hosts));
    }
    await this.master.runtime(mapCmds);
    if (taken.size) this.pool.taken(taken);
    this.forceReload = false;

    for (const [loc, id] of [...plan.newlyDraining, ...renamed]) this.drains.begin(loc, id);
    this.applied = next;
    this.appliedHosts = hosts;
    this.appliedSni = sni;
    // The whole pass may replace any backend object, its slots moved or not: the index looks at all of them
    // when next asked (an endpoints-only pass after it recounts only what it replaced).
    this.drains.reindex();
    return plan.moved || structural || now.length > 0 || plan.afterReload.length > 0 || mapCmds.length > 0;
  }

  /** The slot commands from `had` to `backends` (plan.ts), with the drains under way and the access log's map. */
  private planSlots(backends: Backend[], next: Map<string, Backend>, had: Map<string, Backend>): SlotPlan {
    return planSlots(backends, next, had, { draining: this.drains.draining, ...(this.opts.accessLog ? { endpointsMap: this.files.endpointsMap } : {}) });
  }

  /** The model of what HAProxy holds, for the next start to adopt it with. */
  private saveState(): void {
    const { port, tlsPort, metricsPort } = this.ports;
    this.saved.save({ host: this.opts.host, port, tlsPort, metricsPort, table: this.desired, backends: [...this.applied.values()], hosts: [...this.appliedHosts], sni: [...this.appliedSni], spareSeq: this.pool.spareSeq });
  }
}

/** Whether a backend needs more slots than HAProxy declares for it while some of those it has are draining. */
function outgrewDrainingSlots(backends: Backend[], applied: Map<string, Backend>): boolean {
  return backends.some((b) => {
    const prev = applied.get(b.key);
    return prev !== undefined && b.slotCount > prev.slotCount && prev.slots.some((s) => s.removed);
  });
}

function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, host, () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}
