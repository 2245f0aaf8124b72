import { sql, type Kysely } from 'kysely';
import { setImmediate as nextTurn } from 'node:timers/promises';
import type { Database } from './schema.ts';

/** One stored point: a sample (tier 0) or a roll-up of samples (tier 1). */
export interface MetricPoint {
  tier: number;
  /** epoch seconds */
  ts: number;
  projectId: string;
  ownerKind: 'service' | 'addon';
  ownerId: string;
  /** '' for an owner-level metric */
  instanceId: string;
  name: string;
  sum: number;
  count: number;
  max: number;
}

/** A step's aggregate of one series. */
export interface MetricBucket {
  instanceId: string;
  name: string;
  /** epoch seconds, the step's start */
  ts: number;
  sum: number;
  count: number;
  max: number;
}

/** A moment to mark on a chart's time axis: a rollout began or ended, the service scaled. */
export interface MetricMarker {
  /** epoch seconds */
  ts: number;
  kind: string;
  reason: string;
  message: string;
}

/**
 * Event kinds marked on charts (`autoscale`/`autoscaling` are the autoscaler's); events of other kinds whose
 * reason speaks of scaling (Scaled, Autoscaled…) are marked too. Releases are not: each one that ships is a
 * rollout, marked when it starts and ends.
 */
export const MARKER_KINDS = ['rollout', 'scale', 'autoscale', 'autoscaling'];

const CHUNK = 200;

/**
 * Metrics over time (migration 0015). Points are append-only; `rollup` folds whole minutes of tier 0 into
 * tier 1, `prune` forgets a tier's points older than its retention. Every method works the same on SQLite and
 * PostgreSQL (integer epoch seconds, `ts - ts % step` as the bucket).
 */
export class MetricsRepo {
  constructor(private readonly db: Kysely<Database>) {}

  async insert(points: MetricPoint[]): Promise<void> {
    for (let i = 0; i < points.length; i += CHUNK) {
      // SQLite inserts without waiting on I/O: a turn of the event loop between chunks keeps a pass of
      // thousands of instances from holding API requests back (tens of milliseconds at 10,000 instances).
      if (i > 0) await nextTurn();
      const rows = points.slice(i, i + CHUNK).map((p) => ({ tier: p.tier, ts: Math.floor(p.ts), project_id: p.projectId, owner_kind: p.ownerKind, owner_id: p.ownerId, instance_id: p.instanceId, name: p.name, sum: p.sum, count: p.count, max: p.max }));
      await this.db.insertInto('metric_points').values(rows).execute();
    }
  }

  /**
   * Folds tier 0 into 1-minute points of tier 1 for every whole minute before `untilTs` (epoch seconds) not
   * folded yet. Idempotent: the progress mark moves in the same transaction as the insert, so a repeated or
   * concurrent call folds each minute once. Returns the minutes folded.
   */
  async rollup(untilTs: number): Promise<number> {
    const until = untilTs - (untilTs % 60);
    return this.db.transaction().execute(async (tx) => {
      const mark = await tx.selectFrom('metric_rollups').select('rolled_until').where('tier', '=', 1).executeTakeFirst();
      let from = mark ? Number(mark.rolled_until) : undefined;
      if (from === undefined) {
        const first = await tx.selectFrom('metric_points').select((eb) => eb.fn.min('ts').as('ts')).where('tier', '=', 0).executeTakeFirst();
        if (first?.ts === null || first?.ts === undefined) return 0;
        from = Number(first.ts) - (Number(first.ts) % 60);
        await tx.insertInto('metric_rollups').values({ tier: 1, rolled_until: from }).execute();
      }
      if (until <= from) return 0;
      const bucket = sql<number>`ts - ts % 60`;
      await tx
        .insertInto('metric_points')
        .columns(['tier', 'ts', 'project_id', 'owner_kind', 'owner_id', 'instance_id', 'name', 'sum', 'count', 'max'])
        .expression(
          tx
            .selectFrom('metric_points')
            .select([
              sql<number>`1`.as('tier'),
              bucket.as('ts'),
              'project_id',
              'owner_kind',
              'owner_id',
              'instance_id',
              'name',
              sql<number>`sum(sum)`.as('sum'),
              sql<number>`sum(count)`.as('count'),
              sql<number>`max(max)`.as('max'),
            ])
            .where('tier', '=', 0)
            .where('ts', '>=', from)
            .where('ts', '<', until)
            .groupBy([bucket, 'project_id', 'owner_kind', 'owner_id', 'instance_id', 'name']),
        )
        .execute();
      // Conditional on the mark read above: a concurrent roll-up that moved it first makes this one a no-op.
      const moved = await tx.updateTable('metric_rollups').set({ rolled_until: until }).where('tier', '=', 1).where('rolled_until', '=', from).executeTakeFirst();
      if (Number(moved.numUpdatedRows) !== 1) throw new Error('metrics roll-up raced another one');
      return (until - from) / 60;
    });
  }

  /** Forgets a tier's points older than `beforeTs` (epoch seconds). */
  async prune(tier: number, beforeTs: number): Promise<void> {
    await this.db.deleteFrom('metric_points').where('tier', '=', tier).where('ts', '<', Math.floor(beforeTs)).execute();
  }

  /** Forgets every point of an owner (a deleted service or addon). */
  async deleteOwner(projectId: string, ownerKind: 'service' | 'addon', ownerId: string): Promise<void> {
    await this.db.deleteFrom('metric_points').where('project_id', '=', projectId).where('owner_kind', '=', ownerKind).where('owner_id', '=', ownerId).execute();
  }

  /** The end (exclusive, epoch seconds) of what tier 1 holds, if anything was rolled up. */
  async rolledUntil(): Promise<number | undefined> {
    const mark = await this.db.selectFrom('metric_rollups').select('rolled_until').where('tier', '=', 1).executeTakeFirst();
    return mark ? Number(mark.rolled_until) : undefined;
  }

  /**
   * Aggregates an owner's points of one tier into buckets of `stepSeconds` (an integer), for `names`, with
   * `fromTs <= ts < toTs`; ordered by series and time.
   */
  async query(q: { projectId: string; ownerKind: 'service' | 'addon'; ownerId: string; names: string[]; tier: number; fromTs: number; toTs: number; stepSeconds: number }): Promise<MetricBucket[]> {
    if (q.names.length === 0) return [];
    const step = Math.max(1, Math.floor(q.stepSeconds));
    const bucket = sql<number>`ts - ts % ${sql.lit(step)}`;
    const rows = await this.db
      .selectFrom('metric_points')
      .select(['instance_id', 'name', bucket.as('bucket'), sql<number>`sum(sum)`.as('sum'), sql<number>`sum(count)`.as('count'), sql<number>`max(max)`.as('max')])
      .where('project_id', '=', q.projectId)
      .where('owner_kind', '=', q.ownerKind)
      .where('owner_id', '=', q.ownerId)
      .where('tier', '=', q.tier)
      .where('name', 'in', q.names)
      .where('ts', '>=', Math.floor(q.fromTs))
      .where('ts', '<', Math.ceil(q.toTs))
      .groupBy(['instance_id', 'name', bucket])
      .orderBy('name')
      .orderBy('instance_id')
      .orderBy('bucket')
      .execute();
    return rows.map((r) => ({ instanceId: r.instance_id, name: r.name, ts: Number(r.bucket), sum: Number(r.sum), count: Number(r.count), max: Number(r.max) }));
  }

  /**
   * What happened to a service between two times, for the charts: rollouts started (from the rollouts table)
   * and service events of the MARKER_KINDS; oldest first, at most `limit`.
   */
  async markers(projectId: string, serviceId: string, fromTs: number, toTs: number, limit = 500): Promise<MetricMarker[]> {
    const from = new Date(fromTs * 1000).toISOString();
    const to = new Date(toTs * 1000).toISOString();
    const events = await this.db
      .selectFrom('events')
      .select(['kind', 'reason', 'message', 'created_at'])
      .where('project_id', '=', projectId)
      .where('service_id', '=', serviceId)
      .where('created_at', '>=', from)
      .where('created_at', '<=', to)
      .where((eb) => eb.or([eb('kind', 'in', MARKER_KINDS), eb('reason', 'like', '%cal%')]))
      .orderBy('id', 'desc')
      .limit(limit)
      .execute();
    const rollouts = await this.db
      .selectFrom('rollouts')
      .select(['number', 'kind', 'strategy', 'created_at'])
      .where('service_id', '=', `${projectId}/${serviceId}`)
      .where('created_at', '>=', from)
      .where('created_at', '<=', to)
      .orderBy('number', 'desc')
      .limit(limit)
      .execute();
    // Fetched newest first (so the limit keeps the latest); reversed so equal times keep their order.
    events.reverse();
    rollouts.reverse();
    const out: MetricMarker[] = [
      ...events.map((e) => ({ ts: Date.parse(e.created_at) / 1000, kind: e.kind, reason: e.reason, message: e.message })),
      ...rollouts.map((r) => ({ ts: Date.parse(r.created_at) / 1000, kind: 'rollout', reason: 'Started', message: `rollout ${r.number} (${r.kind}, ${r.strategy}) started` })),
    ];
    return out.sort((a, b) => a.ts - b.ts).slice(-limit);
  }
}
