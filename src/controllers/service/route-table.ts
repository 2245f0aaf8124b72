/**
 * Assembles the routing table from each service's ready instances and hands the whole table to the data
 * plane. Host names follow the conventions: public HTTP port P of service S in project J answers at
 * `P--S--J.<domain>`, and the service's first public HTTP port also at `S.J.<domain>`. A public TCP port
 * becomes a `TCP` route with no host: the router gives it a port of its own (`Router.tcpPortOf`).
 */
import type { Router, Route, RoutingTable } from '../../router/table.ts';
import type { ObservedInstance, RuntimeDriver } from '../../runtime/driver.ts';
import type { ServiceRecord } from '../../domain/service.ts';
import { portHosts } from '../../domain/hosts.ts';
import { accessFromSecurity, usesInternal } from '../../router/access.ts';
import { splitWeights, type Pin } from '../../router/split.ts';

/** A canary's traffic split handed to `setService`: the instances of the new release, the share, the pins. */
export interface ServiceSplit {
  canaryIds: Set<string>;
  /** share of requests for the new release; unset: by instance count (a CF-style step with pins) */
  percent?: number;
  pins?: Pin[];
}

const DRAIN_POLL_MS = 25;

/** How long the routes of a shard whose lease this replica lost stay in its table (see `dropServices`). */
const LOST_ROUTES_KEPT_MS = 30_000;

export class RouteTableBuilder {
  private readonly byService = new Map<string, Route[]>();
  /** Last access model per route key: building one may hash a password, so it is done once per change. */
  private readonly accessByRoute = new Map<string, { security: string; access: Route['access'] }>();
  /**
   * Running instances with an address of their own (see ObservedInstance.address), of every kind (service
   * instances, job runs, one-offs), by instance id: a project's are internal traffic to its routes.
   */
  private readonly sources = new Map<string, { project: string; address: string }>();
  /** keys whose routes look at internal traffic: only they change when an instance's address comes or goes */
  private readonly internalKeys = new Set<string>();

  constructor(
    private readonly router: Router,
    private readonly domain: string,
    private readonly opts: {
      maxDrainMs: number;
      /** the lease and epoch of the running controller pass, stamped on the routes it sets (Route.fence) */
      fenceOf?: () => Route['fence'];
    },
  ) {}

  /** The split each service's routes carry now, by service key (what `GET …/rollouts/{n}` reports). */
  private readonly splits = new Map<string, { percent: number; effectivePercent: number; stableEndpoints: number; canaryEndpoints: number; pins: number }>();

  splitOf(key: string) {
    return this.splits.get(key);
  }

  setService(key: string, svc: ServiceRecord, ready: ObservedInstance[], maintenance: boolean, split?: ServiceSplit): void {
    this.planService(key, svc, ready, maintenance, split).apply();
  }

  /**
   * The service's routes as `setService` would set them: whether they differ from the table's, and the call
   * that sets them. A pass guards its lease only before a real change (a fenced transaction each time).
   */
  planService(key: string, svc: ServiceRecord, ready: ObservedInstance[], maintenance: boolean, split?: ServiceSplit): { changed: boolean; apply(): void } {
    const routes: Route[] = [];
    const canaryReady = split ? ready.filter((i) => split.canaryIds.has(i.id)) : [];
    const byCount = ready.length ? Math.round((100_000 * canaryReady.length) / ready.length) / 1000 : 0;
    const weights = split ? (split.percent !== undefined ? splitWeights(split.percent, ready.length - canaryReady.length, canaryReady.length) : { stableWeight: 1, canaryWeight: 1, effectivePercent: byCount }) : undefined;
    if (split && weights) this.splits.set(key, { percent: split.percent ?? byCount, effectivePercent: weights.effectivePercent, stableEndpoints: ready.length - canaryReady.length, canaryEndpoints: canaryReady.length, pins: split.pins?.length ?? 0 });
    else this.splits.delete(key);
    const weightOf = (id: string) => (!split || !weights ? 1 : split.canaryIds.has(id) ? weights.canaryWeight : weights.stableWeight);
    const ports = (svc.spec.ports ?? []).filter((p) => p.public && (p.protocol === 'HTTP' || p.protocol === 'HTTP/2' || p.protocol === 'TCP'));
    let httpPorts = 0;
    for (const port of ports) {
      const tcp = port.protocol === 'TCP';
      // Access policies are HTTP rules: a TCP route carries none.
      const access = tcp ? undefined : this.accessOf(`${key}/${port.name}`, port.security);
      routes.push({
        key: `${key}/${port.name}`,
        hosts: tcp ? [] : portHosts(this.domain, svc.projectId, svc.id, port, httpPorts++ === 0),
        project: svc.projectId,
        service: svc.id,
        portName: port.name,
        protocol: port.protocol,
        maintenance,
        loadBalancing: svc.spec.loadBalancing as Route['loadBalancing'],
        ...(access ? { access } : {}),
        ...(!tcp && port.advancedOptions?.enableTlsPassthrough === true ? { tlsPassthrough: true } : {}),
        endpoints: ready.flatMap((inst) => {
          const ep = inst.endpoints.find((e) => e.name === port.name);
          return ep ? [{ id: inst.id, host: ep.host, port: ep.port, weight: weightOf(inst.id) }] : [];
        }),
        ...(split && weights && !tcp ? { canary: { endpointIds: canaryReady.map((i) => i.id), percent: split.percent ?? byCount, effectivePercent: weights.effectivePercent, ...(split.pins?.length ? { pins: split.pins } : {}) } } : {}),
      });
    }
    return this.plan(key, routes);
  }

  private put(key: string, routes: Route[]): void {
    this.plan(key, routes).apply();
  }

  /** The key's routes stamped with the running pass's fence, whether they differ from the table's, and the call that sets them. */
  private plan(key: string, routes: Route[]): { changed: boolean; apply(): void } {
    this.stamp(routes);
    const prev = this.byService.get(key);
    const changed = !prev || JSON.stringify(prev) !== JSON.stringify(routes);
    return { changed, apply: () => changed && this.store(key, routes) };
  }

  private store(key: string, routes: Route[]): void {
    this.byService.set(key, routes);
    if (routes.some((r) => usesInternal(r.access))) this.internalKeys.add(key);
    else this.internalKeys.delete(key);
    this.publish();
  }

  /** Stamps routes with the running pass's lease and epoch, when there is one. */
  private stamp(routes: Route[]): void {
    const fence = this.opts.fenceOf?.();
    if (fence) for (const r of routes) r.fence = fence;
  }

  /**
   * Forgets the routes of every key `lost` names (a shard whose lease this replica lost): they are the new
   * holder's to publish, and kept for good they would stand in for a service the new holder has since
   * removed. They are kept for LOST_ROUTES_KEPT_MS first: the new holder publishes a service's routes only after its
   * first pass (which waits for a probe verdict on the instances it adopts), and until then these are the
   * only routes of the service; once it publishes, its newer epoch wins every merge (src/replicas/shared-routes.ts).
   * A key this replica sets again meanwhile (it holds the lease again) is not forgotten.
   */
  dropServices(lost: (key: string) => boolean): void {
    const dropped = [...this.byService.entries()].filter(([key]) => lost(key));
    if (!dropped.length) return;
    const forget = () => {
      let changed = false;
      for (const [key, routes] of dropped) {
        if (this.byService.get(key) !== routes) continue;
        this.byService.delete(key);
        this.splits.delete(key);
        this.internalKeys.delete(key);
        changed = true;
      }
      if (changed) this.publish();
    };
    setTimeout(forget, LOST_ROUTES_KEPT_MS).unref();
  }

  /**
   * Routes that are not a service's (an addon's external access, src/addons/external-access.ts) under their
   * own key; an empty list removes them.
   */
  setRoutes(key: string, routes: Route[]): void {
    if (!routes.length) return this.removeService(key);
    this.put(key, routes.map((r) => ({ ...r })));
  }

  removeService(key: string): void {
    for (const k of this.accessByRoute.keys()) if (k.startsWith(`${key}/`)) this.accessByRoute.delete(k);
    this.internalKeys.delete(key);
    if (this.byService.delete(key)) this.publish();
  }

  /**
   * Follows the runtime's instances for their addresses (internal traffic): one that starts running with an
   * address is a source of its project until it exits or is removed. Returns the unsubscribe function.
   */
  followInstances(driver: Pick<RuntimeDriver, 'watch'>): () => void {
    return driver.watch((e) => {
      const { id, address, labels } = e.instance;
      const had = this.sources.get(id);
      if (e.type === 'started' && address) {
        if (had?.address === address && had.project === labels.project) return;
        this.sources.set(id, { project: labels.project, address });
      } else if (e.type !== 'started' && had) this.sources.delete(id);
      else return;
      if (this.internalKeys.size > 0) this.publish();
    });
  }

  /** Every route handed to the router now (what `/routes` on the router's metrics port describes). */
  routeList(): Route[] {
    return [...this.byService.values()].flat();
  }

  private accessOf(routeKey: string, security: unknown): Route['access'] {
    const json = JSON.stringify(security ?? null);
    const had = this.accessByRoute.get(routeKey);
    if (had?.security === json) return had.access;
    const access = accessFromSecurity(security, routeKey);
    this.accessByRoute.set(routeKey, { security: json, access });
    return access;
  }

  /**
   * Hands the whole table to the router, built in one walk over the services' routes: a pass that changed one
   * service publishes at every instance's readiness, so at thousands of routes this runs often. Instance
   * addresses are gathered only when some route looks at internal traffic.
   */
  private publish(): void {
    const byProject = this.internalKeys.size > 0 ? this.sourcesByProject() : undefined;
    const routes: Route[] = [];
    for (const [key, list] of this.byService) {
      if (byProject && this.internalKeys.has(key)) for (const r of list) routes.push(usesInternal(r.access) ? { ...r, internalSources: [...(byProject.get(r.project) ?? [])].sort() } : r);
      else for (const r of list) routes.push(r);
    }
    const table: RoutingTable = { routes };
    this.router.setTable(table);
  }

  /** The addresses of each project's running instances (see `sources`). */
  private sourcesByProject(): Map<string, Set<string>> {
    const byProject = new Map<string, Set<string>>();
    for (const { project, address } of this.sources.values()) {
      const set = byProject.get(project) ?? new Set<string>();
      byProject.set(project, set.add(address));
    }
    return byProject;
  }

  /** Resolves once the data plane serves the table handed to it (bounded, so a stuck data plane cannot stall a pass). */
  async applied(maxMs = 5000): Promise<void> {
    const settled = this.router.settled?.();
    if (!settled) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([settled.catch(() => undefined), new Promise<void>((r) => (timer = setTimeout(r, maxMs)))]);
    clearTimeout(timer);
  }

  /**
   * Resolves once no request is in flight to the instance through the router (it is already out of the
   * table), bounded by maxDrainMs, so SIGTERM never cuts a request short that the router still carries.
   */
  async drained(instanceId: string): Promise<void> {
    const inFlight = this.router.inFlight?.bind(this.router);
    if (!inFlight) return;
    const deadline = Date.now() + this.opts.maxDrainMs;
    while (inFlight(instanceId) > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, DRAIN_POLL_MS));
  }
}
