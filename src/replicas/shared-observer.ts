/**
 * Observed state (instances, readiness, restarts) answered the same by every control-plane replica
 * (docs/high-availability.md). A replica's runtime only sees the instances it runs; so each replica
 * publishes, every `publishMs`, the views of its own instances per service (`observed_instances`), and a
 * read on any replica merges its own views with those other replicas published within `staleMs`.
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

  constructor(
    private readonly inner: InstanceObserver & { runtimeKeys(): Promise<string[]> },
    private readonly db: Kysely<Database>,
    private readonly opts: { nodeId: string; logger: Logger; publishMs?: number; staleMs?: number },
  ) {}

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
    try {
      const keys = await this.inner.runtimeKeys();
      const now = Date.now();
      for (const key of keys) {
        const views = JSON.stringify(await this.inner.instancesOf(key));
        if (this.published.get(key) === views) continue;
        const row = { views, updated_ms: now };
        await this.db
          .insertInto('observed_instances')
          .values({ node_id: this.opts.nodeId, service_key: key, ...row })
          .onConflict((oc) => oc.columns(['node_id', 'service_key']).doUpdateSet(row))
          .execute();
        this.published.set(key, views);
      }
      const gone = [...this.published.keys()].filter((k) => !keys.includes(k));
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
      this.opts.logger.warn({ err: (err as Error).message }, 'observed instances not published for the other replicas');
    } finally {
      this.publishing = false;
    }
  }
}
