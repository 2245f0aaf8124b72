import type { Kysely } from 'kysely';
import type { Database } from './schema.ts';

export interface EventRecord {
  id: number;
  projectId: string;
  serviceId: string | null;
  kind: string;
  reason: string;
  message: string;
  createdAt: string;
}

/** An append-only log of what happened to each service (crashes, builds, rollout steps). */
export class EventsRepo {
  constructor(private readonly db: Kysely<Database>) {}

  async append(e: { projectId: string; serviceId: string | null; kind: string; reason: string; message: string }): Promise<void> {
    await this.db
      .insertInto('events')
      .values({ project_id: e.projectId, service_id: e.serviceId, kind: e.kind, reason: e.reason, message: e.message, created_at: new Date().toISOString() })
      .execute();
  }

  async list(projectId: string, serviceId: string, opts: { afterId?: number; limit?: number } = {}): Promise<EventRecord[]> {
    let q = this.db.selectFrom('events').selectAll().where('project_id', '=', projectId).where('service_id', '=', serviceId).orderBy('id').limit(opts.limit ?? 200);
    if (opts.afterId) q = q.where('id', '>', opts.afterId);
    const rows = await q.execute();
    return rows.map((r) => ({ id: Number(r.id), projectId: r.project_id, serviceId: r.service_id, kind: r.kind, reason: r.reason, message: r.message, createdAt: r.created_at }));
  }
}
