/**
 * One routing table for every control-plane replica on a database (docs/high-availability.md).
 *
 * Each replica's controllers build the table of the instances they run (RouteTableBuilder). `SharedRoutes`
 * stands between that builder and this replica's data plane: it publishes the local table to the store (one
 * row per replica, `route_publications`) and hands its data plane the merge of every live replica's table,
 * so any replica's router serves every service, whichever replica runs its instances.
 *
 *   builder ──setTable──► SharedRoutes ──upsert row──► route_publications ◄──poll / NOTIFY── other replicas
 *                              │
 *                              └──merge(own table, every fresh row)──► data plane.setTable
 *
 * Changes reach the others at once through a NOTIFY on `slipway_routes`, and within `pollMs` without it (a
 * lost NOTIFY only delays). A replica whose row has not been refreshed for `staleMs` (it died) drops out of
 * the merge. `settled()` waits until every live replica says (in its row's `applied`) that it serves this
 * replica's latest table, so a controller that stops an instance after `settled()` knows no router still
 * sends it new requests; bounded, so a stuck replica cannot hold a rollout.
 *
 * Instance addresses are taken as they are: on the process runtime they are 127.0.0.1 ports, so every
 * router must run on the machine that runs the instances; across machines the runtime's addresses must be
 * reachable from every router (the docker runtime with routable container addresses, Kubernetes pod IPs).
 */
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { Database } from '../store/schema.ts';
import { cachedJson, type Route, type Router, type RoutingTable } from '../router/table.ts';

export const ROUTES_CHANNEL = 'slipway_routes';
/** How often a replica alone writes its table to the store at most (see setTable). */
const LONE_PUBLISH_MS = 1000;

interface Publication {
  version: number;
  routes: Route[];
  heartbeatMs: number;
  applied: Record<string, number>;
}

export interface SharedRoutesOptions {
  nodeId: string;
  logger: Logger;
  /** how often other replicas' rows are read without a NOTIFY (ms) */
  pollMs?: number;
  /** how often this replica refreshes its row's heartbeat (ms) */
  heartbeatMs?: number;
  /** a replica whose row is older than this is left out of the merge (ms) */
  staleMs?: number;
  /** longest `settled()` waits for other replicas (ms) */
  settleMaxMs?: number;
  notify?: () => void;
  /** subscribe to other replicas' nudges */
  onNudge?: (wake: () => void) => void;
}

export class SharedRoutes implements Router {
  private local?: RoutingTable;
  private localVersion = 0;
  private publishedVersion = 0;
  private publishing: Promise<void> = Promise.resolve();
  private readonly others = new Map<string, Publication>();
  private readonly applied: Record<string, number> = {};
  /** the JSON of the routes published, by object (cachedJson) */
  private readonly routeJson = new WeakMap<object, string>();
  /** the pending publication of a replica alone (see setTable) */
  private lonePublish?: NodeJS.Timeout;
  private timers: NodeJS.Timeout[] = [];
  private polling?: Promise<void>;
  private pollAgain = false;
  private stopped = false;

  constructor(
    private readonly inner: Router,
    private readonly db: Kysely<Database>,
    private readonly opts: SharedRoutesOptions,
  ) {}

  get name(): string {
    return this.inner.name;
  }

  async start(): Promise<void> {
    await this.inner.start();
    this.opts.onNudge?.(() => void this.poll());
    this.timers.push(setInterval(() => void this.poll(), this.opts.pollMs ?? 500));
    this.timers.push(setInterval(() => void this.heartbeat(), this.opts.heartbeatMs ?? 2000));
    for (const t of this.timers) t.unref();
    await this.poll();
  }

  setTable(table: RoutingTable): void {
    this.local = table;
    // Versions grow with the clock, so a restarted replica's first table is newer than its last one.
    this.localVersion = Math.max(this.localVersion + 1, Date.now());
    // While no other replica serves this table, its store copy (the whole table, megabytes at thousands of
    // instances) is written at most once per LONE_PUBLISH_MS, the newest then; a replica that joins reads it.
    if (this.othersLive()) this.queuePublish();
    else this.lonePublish ??= setTimeout(() => {
      this.lonePublish = undefined;
      this.queuePublish();
    }, LONE_PUBLISH_MS);
    this.apply();
  }

  private queuePublish(): void {
    const version = this.localVersion;
    this.publishing = this.publishing.then(() => this.publish(version)).catch((err: Error) => this.opts.logger.warn({ err: err.message }, 'routing table not published to the store; retried at the next heartbeat'));
  }

  inFlight(endpointId: string): number {
    return this.inner.inFlight?.(endpointId) ?? 0;
  }

  async settled(): Promise<void> {
    await this.inner.settled?.();
    const version = this.localVersion;
    // With no other replica's router serving this table, nothing waits for the store's copy of it: it is
    // written in the background (the whole table, megabytes at thousands of instances), off each pass's path.
    if (!this.othersLive()) return;
    await this.publishing;
    const deadline = Date.now() + (this.opts.settleMaxMs ?? 3000);
    while (!this.stopped && Date.now() < deadline) {
      await this.poll();
      const behind = this.freshOthers().filter(([, p]) => (p.applied[this.opts.nodeId] ?? 0) < version);
      if (!behind.length) return;
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  address(): ReturnType<Router['address']> {
    return this.inner.address();
  }

  tcpPortOf(routeKey: string): number | undefined {
    return this.inner.tcpPortOf?.(routeKey);
  }

  /** The data plane stops (and the instances with it): other routers drop this replica's routes at once. */
  async stop(): Promise<void> {
    this.halt();
    await this.publishing;
    await this.db.deleteFrom('route_publications').where('node_id', '=', this.opts.nodeId).execute().catch(() => {});
    this.opts.notify?.();
    await this.inner.stop();
  }

  /** Keep the row (the data plane and the instances go on serving); other replicas drop it once it is stale. */
  get detach(): (() => Promise<void>) | undefined {
    const d = this.inner.detach;
    if (!d) return undefined;
    return async () => {
      this.halt();
      await d.call(this.inner);
    };
  }

  private halt(): void {
    this.stopped = true;
    clearTimeout(this.lonePublish);
    this.lonePublish = undefined;
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
  }

  private staleMs(): number {
    return this.opts.staleMs ?? 30_000;
  }

  /** The other replicas whose rows are fresh: their routers serve, and their tables are merged. */
  private freshOthers(): [string, Publication][] {
    const now = Date.now();
    return [...this.others.entries()].filter(([, p]) => now - p.heartbeatMs < this.staleMs());
  }

  private othersLive(): boolean {
    return this.freshOthers().length > 0;
  }

  private async publish(version: number): Promise<void> {
    if (!this.local || version < this.localVersion) return; // a newer table is queued behind
    const row = { routes: `[${this.local.routes.map((r) => cachedJson(this.routeJson, r)).join(',')}]`, version, applied: JSON.stringify(this.applied), heartbeat_ms: Date.now() };
    await this.db
      .insertInto('route_publications')
      .values({ node_id: this.opts.nodeId, ...row })
      .onConflict((oc) => oc.column('node_id').doUpdateSet(row))
      .execute();
    this.publishedVersion = version;
    this.opts.notify?.();
  }

  private async heartbeat(): Promise<void> {
    if (this.stopped) return;
    try {
      if (this.local && this.publishedVersion < this.localVersion) return await this.publish(this.localVersion);
      if (!this.local) return;
      await this.db.updateTable('route_publications').set({ heartbeat_ms: Date.now(), applied: JSON.stringify(this.applied) }).where('node_id', '=', this.opts.nodeId).execute();
    } catch (err) {
      this.opts.logger.warn({ err: (err as Error).message }, 'routing heartbeat not written');
    }
  }

  /** Reads the other replicas' rows (only the changed tables); one read at a time, a nudge mid-read reads again. */
  private poll(): Promise<void> {
    if (this.polling) {
      this.pollAgain = true;
      return this.polling;
    }
    this.polling = (async () => {
      do {
        this.pollAgain = false;
        try {
          await this.readOthers();
        } catch (err) {
          this.opts.logger.warn({ err: (err as Error).message }, 'routing tables of other replicas not read');
        }
      } while (this.pollAgain && !this.stopped);
    })().finally(() => (this.polling = undefined));
    return this.polling;
  }

  private async readOthers(): Promise<void> {
    const rows = await this.db.selectFrom('route_publications').select(['node_id', 'version', 'heartbeat_ms', 'applied']).where('node_id', '!=', this.opts.nodeId).execute();
    let changed = false;
    const seen = new Set<string>();
    for (const r of rows) {
      seen.add(r.node_id);
      const had = this.others.get(r.node_id);
      const applied = JSON.parse(r.applied) as Record<string, number>;
      const wasFresh = had ? Date.now() - had.heartbeatMs < this.staleMs() : false;
      if (!had || had.version !== Number(r.version)) {
        const full = await this.db.selectFrom('route_publications').select(['routes', 'version']).where('node_id', '=', r.node_id).executeTakeFirst();
        if (!full) continue;
        this.others.set(r.node_id, { version: Number(full.version), routes: JSON.parse(full.routes) as Route[], heartbeatMs: Number(r.heartbeat_ms), applied });
        changed = true;
      } else {
        had.heartbeatMs = Number(r.heartbeat_ms);
        had.applied = applied;
        // A replica going stale (or back) changes the merge too.
        if (wasFresh !== Date.now() - had.heartbeatMs < this.staleMs()) changed = true;
      }
    }
    for (const id of [...this.others.keys()]) {
      if (!seen.has(id)) {
        this.others.delete(id);
        changed = true;
      }
    }
    if (changed) {
      this.apply();
      // Say at once which tables this router serves: a replica waiting in settled() reads it from the row.
      void this.heartbeat();
    }
  }

  /** Hands the data plane the merged table, once this replica has a table of its own (see warm-start.ts). */
  private apply(): void {
    if (!this.local || this.stopped) return;
    const fresh = this.freshOthers();
    // Alone, the merge is this replica's own table: handed over as it is (the same route objects).
    this.inner.setTable(fresh.length ? { routes: mergeRoutes([{ version: this.localVersion, routes: this.local.routes }, ...fresh.map(([, p]) => p)]) } : this.local);
    this.applied[this.opts.nodeId] = this.localVersion;
    for (const [id, p] of fresh) this.applied[id] = p.version;
  }
}

/**
 * The union of several replicas' tables. A route set under a lease (`fence`) is the lease holder's alone: of
 * the replicas publishing it, the one with the newest epoch wins and the others' (a replica that lost the
 * lease, dead or paused, whose row is not stale yet) are refused. A route key several replicas publish
 * without a lease serves the endpoints of all; its other fields come from the newest publication.
 */
export function mergeRoutes(tables: { version: number; routes: Route[] }[]): Route[] {
  const byKey = new Map<string, { version: number; route: Route }>();
  for (const t of tables) {
    for (const r of t.routes) {
      const had = byKey.get(r.key);
      if (!had) {
        byKey.set(r.key, { version: t.version, route: r });
        continue;
      }
      const a = had.route.fence;
      const b = r.fence;
      if (a && b && a.lease === b.lease && a.epoch !== b.epoch) {
        if (b.epoch > a.epoch) byKey.set(r.key, { version: t.version, route: r });
        continue;
      }
      const [newer, older] = t.version > had.version ? [r, had.route] : [had.route, r];
      const ids = new Set(newer.endpoints.map((e) => e.id));
      const endpoints = [...newer.endpoints, ...older.endpoints.filter((e) => !ids.has(e.id))];
      const sources = newer.internalSources || older.internalSources ? [...new Set([...(newer.internalSources ?? []), ...(older.internalSources ?? [])])].sort() : undefined;
      byKey.set(r.key, { version: Math.max(t.version, had.version), route: { ...newer, endpoints, ...(sources ? { internalSources: sources } : {}) } });
    }
  }
  return [...byKey.values()].map((v) => v.route);
}
