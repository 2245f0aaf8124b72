/**
 * Observed state (instances, readiness, restarts) answered the same by every control-plane replica
 * (docs/high-availability.md). A replica's runtime only sees the instances it runs; so each replica
 * publishes the views of its own instances per service (`observed_instances`), and a read on any replica
 * merges its own views with those other replicas published within `staleMs`.
 *
 * Every `publishMs` the services marked `changed` (by a controller pass something asked for) are published;
 * every `sweepMs` every service this replica runs instances of is looked at again (what changed without a
 * pass: probe details, drift a resync found). Each publication writes only the views that differ from the
 * last written: at a thousand idle services a publication of every one each second read each one's instance
 * records and wrote the rows whose probe times had moved, which kept a core busy.
 */
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { Database } from '../store/schema.ts';
import type { InstanceObserver, InstanceView } from '../services/ports.ts';

export class SharedObserver implements InstanceObserver {
  private timer?: NodeJS.Timeout;
  private readonly published = new Map<string, string>();
  private publishing = false;
  private lastTouchMs = 0;
  private lastSweepMs = 0;
  private readonly dirty = new Set<string>();

  constructor(
    private readonly inner: InstanceObserver & { runtimeKeys(): Promise<string[]> },
    private readonly db: Kysely<Database>,
    private readonly opts: { nodeId: string; logger: Logger; publishMs?: number; sweepMs?: number; staleMs?: number },
  ) {}

  /** The service's instances may look different now: published at the next publication. */
  changed(serviceKey: string): void {
    this.dirty.add(serviceKey);
  }

  start(): void {
    // Rows of an earlier run on this data directory describe instances that may be gone: publish afresh.
    void this.db.deleteFrom('observed_instances').where('node_id', '=', this.opts.nodeId).execute().catch(() => {});
    this.timer = setInterval(() => void this.publish(), this.opts.publishMs ?? 1000);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  async instancesOf(serviceKey: string): Promise<InstanceView[]> {
    const own = await this.inner.instancesOf(serviceKey);
    const rows = await this.db
      .selectFrom('observed_instances')
      .select(['views'])
      .where('service_key', '=', serviceKey)
      .where('node_id', '!=', this.opts.nodeId)
      .where('updated_ms', '>', Date.now() - (this.opts.staleMs ?? 30_000))
      .execute();
    // Replicas on one machine may share one runtime directory (SLIPWAY_RUNTIME_DIR) and so each see every
    // instance; the view that counts is the one from the replica whose controller probes it (it alone knows
    // readiness): a view with probe states wins over one without.
    const byId = new Map(own.map((v) => [v.id, v]));
    for (const v of rows.flatMap((r) => JSON.parse(r.views) as InstanceView[])) {
      const had = byId.get(v.id);
      if (!had || (!had.probes && v.probes)) byId.set(v.id, v);
    }
    return [...byId.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  logsOf(serviceKey: string, opts: { tail: number }) {
    return this.inner.logsOf(serviceKey, opts);
  }

  canaryView(serviceKey: string, windowSeconds?: number) {
    return this.inner.canaryView!(serviceKey, windowSeconds);
  }

  /** Writes the views that changed, removes services this replica no longer runs, refreshes the rest. */
  private async publish(): Promise<void> {
    if (this.publishing) return;
    this.publishing = true;
    const changed = [...this.dirty];
    this.dirty.clear();
    try {
      const now = Date.now();
      const sweep = now - this.lastSweepMs >= (this.opts.sweepMs ?? 30_000);
      const runtimeKeys = new Set(sweep ? await this.inner.runtimeKeys() : []);
      const keys = sweep ? new Set([...runtimeKeys, ...changed]) : changed;
      const gone: string[] = [];
      for (const key of keys) {
        const found = await this.inner.instancesOf(key);
        if (!found.length && !runtimeKeys.has(key)) {
          if (this.published.has(key)) gone.push(key);
          continue;
        }
        const views = JSON.stringify(found);
        if (this.published.get(key) === views) continue;
        const row = { views, updated_ms: now };
        await this.db
          .insertInto('observed_instances')
          .values({ node_id: this.opts.nodeId, service_key: key, ...row })
          .onConflict((oc) => oc.columns(['node_id', 'service_key']).doUpdateSet(row))
          .execute();
        this.published.set(key, views);
      }
      if (sweep) {
        for (const k of this.published.keys()) if (!runtimeKeys.has(k) && !gone.includes(k)) gone.push(k);
        this.lastSweepMs = now;
      }
      if (gone.length) {
        await this.db.deleteFrom('observed_instances').where('node_id', '=', this.opts.nodeId).where('service_key', 'in', gone).execute();
        for (const k of gone) this.published.delete(k);
      }
      // Unchanged rows stay fresh: readers drop a replica whose rows are older than staleMs (it died).
      if (now - this.lastTouchMs > 5000) {
        await this.db.updateTable('observed_instances').set({ updated_ms: now }).where('node_id', '=', this.opts.nodeId).execute();
        this.lastTouchMs = now;
      }
    } catch (err) {
      for (const k of changed) this.dirty.add(k); // published at the next try
      this.opts.logger.warn({ err: (err as Error).message }, 'observed instances not published for the other replicas');
    } finally {
      this.publishing = false;
    }
  }
}
