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
 * master.ts) with the model saved after every pass (`router-state.json`), reloading once so that what
 * HAProxy holds is exactly that model. See docs/restarts.md.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import type { Router, RoutingTable } from '../table.ts';
import { haproxyAvailable, poolOptions } from './detect.ts';
import { HaproxyMaster } from './master.ts';
import { HaproxyAccessLog, type AccessLogOutputs } from './access-log.ts';
import { renderEndpointsMap, renderRoutesMap } from './access-log-format.ts';
import { readState, renderState } from './state-file.ts';
import { EndpointIndex, TableEndpoints } from './endpoint-index.ts';
import { NewestFileWriter } from '../../files/newest-file-writer.ts';
import { FREE_SLOT, sameMap, type Backend } from './slots.ts';
import { planSlots, renamedSlots } from './plan.ts';
import { fitsSpare, hostMapCommands, routeMapCommand, servedWithoutReload, spareCount, spareSpec, SPARE_PREFIX } from './spares.ts';
import { internalSourceCommands, structureOf, writeAtomic, type Structure } from './structure.ts';
import { certificateSignature, ensureSelfSigned, loadCertificates, unclaimedSelfSignedNames } from '../tls/certificates.ts';
import { renderRouteInfo } from '../metrics.ts';
import { TcpPortAllocator, tcpPortsFile, type TcpPortRange } from '../tcp-ports.ts';
import { portFree } from '../../net/port-free.ts';
import { renderCrtList, backendName, renderConfig, renderHostsMap, renderPages, routerFiles, ROUTE_INFO_MAX_BYTES, SERVER_PREFIX, type RouterFiles } from './config.ts';

export interface HaproxyRouterOptions {
  host: string;
  /** 0 picks a free port before starting (HAProxy cannot report an ephemeral port back). */
  port: number;
  /** The router keeps its configuration, maps, sockets and pid file in `<dataDir>/router`. */
  dataDir: string;
  /** HTTPS port (0 picks a free one); TLS is off when unset. Needs `domain`; certificates live in `<dataDir>/tls/`. */
  tlsPort?: number;
  /** Base domain: the self-signed certificate is for `*.<domain>` and `<domain>`. */
  domain?: string;
  /** Prometheus exporter on 127.0.0.1 (0 picks a free port); off when unset. See ../metrics.ts. */
  metricsPort?: number;
  /** Ports for `TCP` routes (see ../tcp-ports.ts); without it TCP routes are not served. */
  tcpPorts?: TcpPortRange;
  /**
   * The access log, when set: HAProxy writes one JSON line per HTTP request (access-log-format.ts), handed on
   * as whole lines (`lines`) and, for per-release metrics, as the fields canary analysis reads (`requests`).
   */
  accessLog?: AccessLogOutputs;
  /** Defaults to the `haproxy` found on the PATH or in /usr/sbin. */
  haproxyBin?: string;
  /** Server slots a backend starts with; it grows (with a reload) when more endpoints arrive. */
  slotsPerBackend?: number;
  /** How long `stop()` lets in-flight requests finish before stopping HAProxy hard. */
  stopTimeoutMs?: number;
  logger?: { debug(o: object, m: string): void; info?(o: object, m: string): void; warn(o: object, m: string): void };
}

interface Draining {
  endpointId: string;
  /** Stats fetched after this epoch see the slot in drain; earlier ones may not. */
  sinceEpoch: number;
}

const STATS_INTERVAL_MS = 100;
const WATCH_MS = 5000;
const CERT_CHECK_MS = 5000;
const ALIVE_CHECK_MS = 2000;
/** A reload names routes on spares this long after the last one was taken (see scheduleTidy), */
const TIDY_AFTER_MS = 2000;
/** or this long after the first, when routes keep coming. */
const TIDY_AT_MOST_MS = 15_000;

export class HaproxyRouter implements Router {
  readonly name = 'haproxy';
  private readonly files: RouterFiles;
  private readonly bin: string | undefined;
  private readonly slotsPerBackend: number;
  private port = 0;
  private tlsPort?: number;
  private metricsPort?: number;
  private readonly tcpAllocator?: TcpPortAllocator;
  /** Ports of the TCP routes in the latest table, as assigned before the structure is computed. */
  private tcpPorts = new Map<string, number>();
  private selfSignedFile = '';
  /** The crt-list HAProxy loaded and the certificate files' signature it came from. */
  private appliedCrtList = '';
  private certSignature = '';
  private certTimer?: NodeJS.Timeout;
  private aliveTimer?: NodeJS.Timeout;
  private readonly master: HaproxyMaster;
  private readonly accessLog?: HaproxyAccessLog;
  /** The first pass after an adoption reloads, so that HAProxy holds exactly the model read back. */
  private forceReload = false;
  /** setTable was called (an adoption then keeps the table handed over rather than the saved one) */
  private handed = false;
  private started = false;
  private stopping = false;

  /** Latest table handed to setTable. */
  private desired: RoutingTable = { routes: [] };
  /** The endpoints of `desired`, brought to it when asked (inFlight) */
  private readonly desiredEndpoints = new TableEndpoints();
  /** What HAProxy holds now, by route key, and the host map it loaded. */
  private applied = new Map<string, Backend>();
  private appliedHosts = new Map<string, string>();
  /** SNI name → passthrough backend, as HAProxy loaded it (sni.map). */
  private appliedSni = new Map<string, string>();

  /** Slots (`backend/server`) draining an endpoint that left the table, including backends already removed. */
  private readonly draining = new Map<string, Draining>();
  /** where each endpoint is (see reindex) */
  private readonly index = new EndpointIndex();
  /** the index is behind the slots (see reindex) */
  private indexStale = false;
  private load = new Map<string, number>();
  private fetchEpoch = 0;
  private loadEpoch = 0;
  private loadAt = 0;
  private statsFetch?: Promise<void>;
  /** backends whose counts were asked for (inFlight), by when: read with the draining ones for a while */
  private readonly watched = new Map<string, number>();
  private statsTimer?: NodeJS.Timeout;

  private dirty = false;
  private loop?: Promise<void>;
  /** tables handed to setTable so far, and how many of them HAProxy serves (a pass serves all handed before it began) */
  private handedGen = 0;
  /** JSON of the routes and backends in the saved model, by object (see renderState) */
  private readonly stateJson = new WeakMap<object, string>();
  private readonly stateWriter: NewestFileWriter;
  /** the table the saved model was written with */
  private savedTable?: RoutingTable;
  private servedGen = 0;
  /** settled() callers waiting for the next pass to end */
  private passWaiters: (() => void)[] = [];
  /** Set while a failed pass waits to be tried again: the table handed over is not served yet. */
  private retryTimer?: NodeJS.Timeout;
  /** Idle spare backends the running worker declares (see spares.ts), and the last spare number used. */
  private spares: string[] = [];
  private spareSeq = 0;
  /** A reload to write routes on spares under their own names is due (see scheduleTidy). */
  private tidyDue = false;
  private tidyTimer?: NodeJS.Timeout;
  private tidySince = 0;
  /** the loaded configuration serves `/routes` (router metrics on and routes.prom small enough) */
  private routeInfoServed = false;

  constructor(private readonly opts: HaproxyRouterOptions) {
    const dir = path.resolve(opts.dataDir, 'router');
    // The map path sits unquoted inside a sample expression, and socket paths are bounded by sun_path.
    if (/[\s,()"'\\$#]/.test(dir)) throw new Error(`HaproxyRouter: dataDir ${JSON.stringify(opts.dataDir)} must not contain spaces, quotes, commas or parentheses`);
    if (dir.length > 90) throw new Error(`HaproxyRouter: dataDir path is too long for HAProxy's sockets (${dir.length} > 90 characters)`);
    this.files = routerFiles(dir);
    this.stateWriter = new NewestFileWriter(this.files.stateFile, { mode: 0o600, onError: (err) => this.opts.logger?.warn({ err: err.message }, 'router state not saved: a restarted control plane will restart haproxy') });
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
  }

  /** The pid of the HAProxy master (for tests and logs); 0 before start. */
  get masterPid(): number {
    return this.master.pid;
  }

  /** Whether start() adopted a master left running rather than starting one. */
  get adopted(): boolean {
    return this.master.adopted;
  }

  private get dir(): string {
    return path.dirname(this.files.config);
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
    if (this.tlsPort !== undefined) {
      // A certificate added to (or changed in) <dataDir>/tls/certs is served after the next check and reload.
      this.certTimer = setInterval(() => {
        try {
          if (this.certificatesMoved()) this.kick();
        } catch (err) {
          // A certificate file that cannot be read now (removed under us): HAProxy keeps the ones it loaded.
          this.opts.logger?.warn({ err: (err as Error).message }, 'TLS certificates not re-read; the loaded ones stay in use');
        }
      }, CERT_CHECK_MS);
      this.certTimer.unref();
    }
    this.kick();
    await this.settled();
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
      this.port = saved.port;
      this.tlsPort = saved.tlsPort;
      this.metricsPort = saved.metricsPort;
      if (this.tlsPort !== undefined) this.selfSignedFile = await ensureSelfSigned(this.opts.dataDir, this.opts.domain!);
      this.applied = new Map(saved.backends.map((b) => [b.key, b]));
      this.appliedHosts = new Map(saved.hosts);
      this.appliedSni = new Map(saved.sni);
      // The reload that follows declares spares numbered after any the adopted HAProxy may still hold.
      this.spareSeq = saved.spareSeq ?? 0;
      // Drains cut short by the restart go on: freed once a count taken from now on shows nothing in flight.
      for (const b of saved.backends) b.slots.forEach((sl, i) => sl.removed && sl.endpoint && this.draining.set(`${b.name}/${SERVER_PREFIX}${i + 1}`, { endpointId: sl.endpoint.id, sinceEpoch: this.fetchEpoch }));
      if (!this.handed) this.desired = saved.table;
      this.reindex();
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
    this.port = this.opts.port || (await freePort(this.opts.host));
    if (this.opts.tlsPort !== undefined) {
      this.tlsPort = this.opts.tlsPort || (await freePort(this.opts.host));
      this.selfSignedFile = await ensureSelfSigned(this.opts.dataDir, this.opts.domain!);
      this.writeCrtList();
    }
    if (this.opts.metricsPort !== undefined) {
      // Metrics are for watching traffic; a busy port must not stop the router from carrying it (HAProxy
      // would refuse the whole configuration), so it is checked first.
      if (this.opts.metricsPort === 0) this.metricsPort = await freePort('127.0.0.1');
      else if (await portFree('127.0.0.1', this.opts.metricsPort)) this.metricsPort = this.opts.metricsPort;
      else this.opts.logger?.warn({ port: this.opts.metricsPort }, 'router metrics port is in use: metrics are off (set SLIPWAY_ROUTER_METRICS_PORT)');
    }
    await this.assignTcpPorts(this.desired);
    // Start with the table's structure; endpoints follow through the Runtime API before start resolves.
    const { backends, hosts, sni } = this.structureOf(this.desired, 'own');
    this.spares = this.newSpares(backends.length);
    this.writeStructure(backends, hosts, sni, this.spares);
    await this.validate();
    await this.master.start();
    // HAProxy now holds this structure with every slot free; the first pass fills the slots (a copy of the
    // route, so structureOf does not take the backend for one already made from it).
    this.applied = new Map(backends.map((b) => [b.key, { ...b, route: { ...b.route }, slots: [] }]));
    this.appliedHosts = hosts;
    this.appliedSni = sni;
  }

  address(): { httpPort: number; httpsPort?: number; metricsPort?: number } {
    return {
      httpPort: this.port,
      ...(this.tlsPort !== undefined ? { httpsPort: this.tlsPort } : {}),
      ...(this.metricsPort !== undefined ? { metricsPort: this.metricsPort } : {}),
    };
  }

  private certificateSet() {
    return loadCertificates(this.opts.dataDir, this.selfSignedFile, (file, err) => this.opts.logger?.warn({ file, err: err.message }, 'TLS certificate ignored'));
  }

  /** Whether the certificate files changed since the crt-list was written (their names, sizes and times). */
  private certificatesMoved(): boolean {
    return certificateSignature(this.opts.dataDir, this.selfSignedFile) !== this.certSignature;
  }

  /** Writes the crt-list for the certificates on disk now; returns whether it changed. */
  private writeCrtList(): boolean {
    const set = this.certificateSet();
    this.certSignature = set.signature;
    const list = renderCrtList({ file: set.selfSigned.file, unclaimed: unclaimedSelfSignedNames(set) }, set.user);
    // Reloaded certificate files count as a change even with the same names: HAProxy reads them at reload.
    const content = `# ${set.signature}\n${list}`;
    if (content === this.appliedCrtList) return false;
    writeAtomic(this.files.crtList, content);
    this.appliedCrtList = content;
    return true;
  }

  setTable(table: RoutingTable): void {
    if (this.stopping) return;
    this.handed = true;
    this.handedGen++;
    this.desired = table;
    if (this.started) this.kick();
  }

  /**
   * Requests in flight to an endpoint, from HAProxy's `show stat` (current plus queued sessions on its
   * slots, summed over the current worker and old ones still finishing after a reload). The count is a
   * cache refreshed every 100 ms while anything drains, and on demand; it reads only the backends of
   * draining slots and of endpoints asked about in the last few seconds (the first answer for another
   * endpoint may be 0). An endpoint that left the table
   * counts at least 1 until a count taken after its slot entered drain says otherwise, so a caller waiting
   * for 0 never stops an instance that HAProxy may still send a request to.
   */
  inFlight(endpointId: string): number {
    if (Date.now() - this.loadAt > STATS_INTERVAL_MS) void this.refreshLoad();
    if (this.indexStale) {
      this.index.sync(this.applied.values());
      this.indexStale = false;
    }
    // Its slots, and those draining it in backends already gone.
    const locs = new Set(this.index.locationsOf(endpointId));
    let drainUnconfirmed = false;
    for (const [loc, d] of this.draining) {
      if (d.endpointId !== endpointId) continue;
      locs.add(loc);
      if (this.loadEpoch <= d.sinceEpoch) drainUnconfirmed = true;
    }
    let n = 0;
    for (const loc of locs) {
      n += this.load.get(loc) ?? 0;
      this.watched.set(loc.slice(0, loc.indexOf('/')), Date.now());
    }
    this.desiredEndpoints.update(this.desired);
    const removalPending = this.index.isActive(endpointId) && !this.desiredEndpoints.has(endpointId);
    return removalPending || drainUnconfirmed ? Math.max(n, 1) : n;
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
    clearInterval(this.statsTimer);
    clearInterval(this.certTimer);
    clearInterval(this.aliveTimer);
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    clearTimeout(this.tidyTimer);
    await this.loop?.catch(() => undefined);
    await this.stateWriter.flush();
  }

  /**
   * Resolves when the table handed over before the call is served: at once when a pass that began after it
   * has ended, else when the serial loop has nothing left to do (tests and start use it). A caller does not
   * wait for tables other controllers hand over after it, so one busy service cannot hold every other
   * service's pass. A pass that failed is retried first, so a change is never reported applied while it is not.
   */
  async settled(): Promise<void> {
    const want = this.handedGen;
    for (;;) {
      if (want > 0 && this.servedGen >= want) return;
      if (this.loop) {
        const loop = this.loop;
        await new Promise<void>((resolve) => {
          this.passWaiters.push(resolve);
          void loop.then(resolve, resolve);
        });
      } else if (this.retryTimer && !this.stopping) await sleep(20);
      else return;
    }
  }

  // ── the serial loop ────────────────────────────────────────────────────────────────────────────────

  private kick(): void {
    this.dirty = true;
    if (!this.loop) this.loop = this.run().finally(() => (this.loop = undefined));
  }

  private async run(): Promise<void> {
    while (this.dirty && !this.stopping) {
      this.dirty = false;
      const gen = this.handedGen;
      try {
        const changed = await this.reconcile(this.desired);
        const freed = await this.releaseDrained();
        // The saved model is rewritten only when it moved (a pass woken to count a drain often changes nothing).
        if (changed || freed || this.savedTable !== this.desired) this.saveState();
        this.servedGen = gen;
        for (const w of this.passWaiters.splice(0)) w();
      } catch (err) {
        this.opts.logger?.warn({ err: (err as Error).message }, 'haproxy router: change not applied; retrying');
        clearTimeout(this.retryTimer);
        this.retryTimer = setTimeout(() => {
          this.retryTimer = undefined;
          this.kick();
        }, 500);
        this.retryTimer.unref();
        return;
      }
    }
  }

  private structureOf(table: RoutingTable, names: 'keep' | 'own'): Structure {
    return structureOf(table, { names, applied: this.applied, tcpPorts: this.tcpPorts, slotsPerBackend: this.slotsPerBackend, tls: this.tlsPort !== undefined, pagesDir: this.files.pagesDir, internalDir: this.files.internalDir });
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
    await this.assignTcpPorts(table);
    // First as a pass without a reload: routes keep their backends, new ones take spares (see spares.ts).
    let { backends, hosts, sni } = this.structureOf(table, 'keep');
    const taken = this.takeSpares(backends, hosts);
    let next = new Map(backends.map((b) => [b.key, b]));
    const certificatesChanged = this.tlsPort !== undefined && this.certificatesMoved();
    const structural = this.forceReload || this.tidyDue || certificatesChanged || !servedWithoutReload(this.applied, next, taken) || !sameMap(this.appliedSni, sni);
    if (structural) {
      // A reload writes every backend under its route's own name, and a fresh block of spares.
      ({ backends, hosts, sni } = this.structureOf(table, 'own'));
      next = new Map(backends.map((b) => [b.key, b]));
      taken.clear();
    }
    const plan = planSlots(backends, next, this.applied, { draining: this.draining, ...(this.opts.accessLog ? { endpointsMap: this.files.endpointsMap } : {}) });
    for (const loc of plan.serving) this.draining.delete(loc);
    const now = [...plan.now, ...internalSourceCommands(backends, this.applied, this.files.internalDir)];
    await this.master.runtime(now);
    const renamed = structural ? renamedSlots(backends, this.applied) : [];
    if (structural) {
      const spares = this.newSpares(backends.length);
      await this.reload(backends, hosts, sni, spares);
      this.spares = spares;
      this.tidyDue = false;
      clearTimeout(this.tidyTimer);
      this.tidyTimer = undefined;
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
    if (taken.size) {
      this.spares = this.spares.filter((n) => !taken.has(n));
      this.scheduleTidy();
    }
    this.forceReload = false;

    for (const [loc, id] of [...plan.newlyDraining, ...renamed]) this.draining.set(loc, { endpointId: id, sinceEpoch: this.fetchEpoch });
    this.applied = next;
    this.appliedHosts = hosts;
    this.appliedSni = sni;
    const changed = plan.moved || structural || now.length > 0 || plan.afterReload.length > 0 || mapCmds.length > 0;
    if (changed) this.reindex();
    return changed;
  }

  /** Gives each new route that fits a spare (see spares.ts) one of the running worker's idle spares; returns their names. */
  private takeSpares(backends: Backend[], hosts: Map<string, string>): Set<string> {
    const taken = new Set<string>();
    // While HAProxy serves `/routes` (a file it reads when it loads, see ROUTE_INFO_MAX_BYTES) a new route
    // reloads, so that `/routes` names it once it is served; past that size spares carry new routes.
    if (this.routeInfoServed) return taken;
    const renamed = new Map<string, string>();
    let free = 0;
    for (const b of backends) {
      if (this.applied.has(b.key) || !fitsSpare(b, this.slotsPerBackend)) continue;
      if (free >= this.spares.length) break;
      renamed.set(b.name, this.spares[free]);
      b.name = this.spares[free++];
      taken.add(b.name);
    }
    if (renamed.size) for (const [h, be] of hosts) if (renamed.has(be)) hosts.set(h, renamed.get(be)!);
    return taken;
  }

  /** Names for the spares of the next configuration: never used before by this HAProxy. */
  private newSpares(routeBackends: number): string[] {
    return Array.from({ length: spareCount(routeBackends) }, () => `${SPARE_PREFIX}${++this.spareSeq}`);
  }

  /**
   * With router metrics on, routes on spares are written under their own names (their metrics' `proxy`
   * label) by a reload a little after the last one was taken; without, their names are seen nowhere.
   */
  private scheduleTidy(): void {
    if (this.metricsPort === undefined) return;
    // Put off while routes keep coming, but not for long.
    if (this.tidyTimer && Date.now() - this.tidySince > TIDY_AT_MOST_MS) return;
    if (!this.tidyTimer) this.tidySince = Date.now();
    clearTimeout(this.tidyTimer);
    this.tidyTimer = setTimeout(() => {
      this.tidyTimer = undefined;
      this.tidyDue = true;
      this.kick();
    }, TIDY_AFTER_MS);
    this.tidyTimer.unref();
  }

  /** Frees the slots whose drain is over: a count taken after the drain began shows nothing in flight. */
  private async releaseDrained(): Promise<boolean> {
    const cmds: string[] = [];
    const draining = this.draining.size;
    let byName: Map<string, Backend> | undefined;
    for (const [loc, d] of this.draining) {
      if (this.loadEpoch <= d.sinceEpoch || (this.load.get(loc) ?? 0) > 0) continue;
      this.draining.delete(loc);
      const [beName, server] = loc.split('/');
      byName ??= new Map([...this.applied.values()].map((x) => [x.name, x]));
      const b = byName.get(beName);
      const i = Number(server.slice(SERVER_PREFIX.length)) - 1;
      const slot = b?.slots[i];
      if (!b || !slot?.removed || slot.endpoint?.id !== d.endpointId) continue;
      cmds.push(`set server ${loc} state maint`);
      b.slots[i] = { ...FREE_SLOT, addr: slot.addr, port: slot.port, weight: slot.weight };
      this.stateJson.delete(b);
      this.index.restated(b);
    }
    await this.master.runtime(cmds);
    if (cmds.length === 0 && this.draining.size === draining) return false;
    this.reindex();
    return true;
  }

  /**
   * The slots changed: the index of endpoints to slots is brought up to date when next asked (inFlight), once
   * for any number of changes in between, recounting only the backends that changed (endpoint-index.ts).
   */
  private reindex(): void {
    this.indexStale = true;
    if (this.draining.size > 0 && !this.statsTimer) {
      this.statsTimer = setInterval(() => void this.refreshLoad().then(() => this.draining.size > 0 && this.kick()), STATS_INTERVAL_MS);
      this.statsTimer.unref();
    } else if (this.draining.size === 0 && this.statsTimer) {
      clearInterval(this.statsTimer);
      this.statsTimer = undefined;
    }
  }

  // ── HAProxy I/O ────────────────────────────────────────────────────────────────────────────────────

  /** Counts in-flight requests per slot across every worker (old ones still finish after a reload). */
  private refreshLoad(): Promise<void> {
    if (this.statsFetch || !this.started) return this.statsFetch ?? Promise.resolve();
    const epoch = ++this.fetchEpoch;
    this.statsFetch = (async () => {
      // Only the backends of draining slots and of endpoints asked about lately are read (under any name they had).
      const backends = new Set([...this.draining.keys()].map((loc) => loc.slice(0, loc.indexOf('/'))));
      for (const [b, at] of this.watched) if (Date.now() - at < WATCH_MS) backends.add(b);
      else this.watched.delete(b);
      this.load = backends.size ? await this.master.serverLoad([...backends]) : new Map();
      this.loadEpoch = epoch;
      this.loadAt = Date.now();
    })()
      .catch((err) => this.opts.logger?.debug({ err: (err as Error).message }, 'haproxy stats not read'))
      .finally(() => (this.statsFetch = undefined));
    return this.statsFetch;
  }

  /** The model of what HAProxy holds, for the next start to adopt it with. */
  private saveState(): void {
    this.savedTable = this.desired;
    const state = { host: this.opts.host, port: this.port, tlsPort: this.tlsPort, metricsPort: this.metricsPort, table: this.desired, backends: [...this.applied.values()], hosts: [...this.appliedHosts], sni: [...this.appliedSni], spareSeq: this.spareSeq };
    // Rendered when written: of the models handed over while one is written only the newest is rendered.
    this.stateWriter.write(() => renderState(state, this.stateJson));
  }

  private writeStructure(backends: Backend[], hosts: Map<string, string>, sni: Map<string, string>, spares: string[]): void {
    const idle = spares.map((name) => spareSpec(name, this.slotsPerBackend));
    const routeInfo = this.metricsPort !== undefined ? renderRouteInfo(backends.map((b) => b.route)) : '';
    this.routeInfoServed = this.metricsPort !== undefined && Buffer.byteLength(routeInfo) <= ROUTE_INFO_MAX_BYTES;
    const cfg = renderConfig({
      dir: this.dir,
      bindHost: this.opts.host,
      port: this.port,
      backends: [...backends, ...idle],
      hardStopAfterSeconds: 60,
      accessLog: !!this.opts.accessLog,
      ...(this.tlsPort !== undefined ? { tls: { port: this.tlsPort, passthrough: sni.size > 0 } } : {}),
      ...(this.metricsPort !== undefined ? { metrics: { port: this.metricsPort, routeInfo: this.routeInfoServed } } : {}),
    });
    if (this.tlsPort !== undefined) this.writeCrtList();
    // Read by HAProxy when it loads the configuration, so written with it (the routes change only with it).
    if (this.metricsPort !== undefined) writeAtomic(this.files.routeInfo, routeInfo);
    writeAtomic(this.files.hostsMap, renderHostsMap(hosts));
    if (this.opts.accessLog) {
      writeAtomic(this.files.routesMap, renderRoutesMap([...backends, ...idle]));
      writeAtomic(this.files.endpointsMap, renderEndpointsMap([...backends, ...idle], SERVER_PREFIX));
    }
    writeAtomic(this.files.sniMap, renderHostsMap(sni));
    writeAtomic(this.files.config, cfg);
  }

  private validate(): Promise<void> {
    return new Promise((resolve, reject) =>
      execFile(this.bin!, ['-c', '-q', '-f', this.files.config], (err, stdout, stderr) => (err ? reject(new Error(`generated haproxy configuration is invalid: ${(stderr || stdout).trim().slice(-1500)}`)) : resolve())),
    );
  }

  /**
   * Seamless reload: write the configuration (with every slot as it is now, see renderConfig), check it,
   * ask the master to reload, and wait until the new worker answers on the admin socket.
   */
  private async reload(backends: Backend[], hosts: Map<string, string>, sni: Map<string, string>, spares: string[]): Promise<void> {
    const oldConfig = fs.readFileSync(this.files.config, 'utf8');
    const oldMap = fs.readFileSync(this.files.hostsMap, 'utf8');
    const oldSni = fs.readFileSync(this.files.sniMap, 'utf8');
    const oldCrtList = this.appliedCrtList;
    this.writeStructure(backends, hosts, sni, spares);
    try {
      await this.validate();
    } catch (err) {
      writeAtomic(this.files.config, oldConfig);
      writeAtomic(this.files.hostsMap, oldMap);
      writeAtomic(this.files.sniMap, oldSni);
      if (this.tlsPort !== undefined && oldCrtList !== this.appliedCrtList) {
        writeAtomic(this.files.crtList, oldCrtList);
        this.appliedCrtList = oldCrtList;
      }
      throw err;
    }
    await this.master.reload();
    // Internal-source files of routes gone or no longer looking at internal traffic (the configuration
    // that named them is no longer loaded).
    const kept = new Set(backends.filter((b) => b.internal).map((b) => `${b.name}.acl`));
    for (const f of fs.readdirSync(this.files.internalDir)) if (f.endsWith('.acl') && !kept.has(f)) fs.rmSync(path.join(this.files.internalDir, f), { force: true });
    this.opts.logger?.debug({ backends: backends.length, hosts: hosts.size }, 'haproxy reloaded');
  }
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

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
