/**
 * Services' output kept in the store (migration 0020), so every control-plane replica reads the lines of
 * instances that run on another (docs/high-availability.md). Rows only grow; `id` orders them as written.
 */
import type { Kysely, Selectable } from 'kysely';
import type { Database } from './schema.ts';

export interface StoredLogLine {
  id: number;
  project: string;
  service: string;
  instance: string;
  ts: string;
  stream: 'stdout' | 'stderr';
  line: string;
}

export class LogLinesRepo {
  constructor(private readonly db: Kysely<Database>) {}

  async append(lines: Omit<StoredLogLine, 'id'>[]): Promise<void> {
    for (let i = 0; i < lines.length; i += 500) {
      const rows = lines.slice(i, i + 500).map((l) => ({ project_id: l.project, service_id: l.service, instance_id: l.instance, ts: l.ts, ts_ms: Date.parse(l.ts) || Date.now(), stream: l.stream, line: l.line }));
      await this.db.insertInto('log_lines').values(rows).execute();
    }
  }

  /** A service's lines from `sinceMs` to `untilMs`, newest first, `limit` at a time before `beforeId`. */
  async newestFirst(project: string, service: string, o: { sinceMs: number; untilMs?: number; beforeId?: number; limit: number }): Promise<StoredLogLine[]> {
    let q = this.db.selectFrom('log_lines').selectAll().where('project_id', '=', project).where('service_id', '=', service).where('ts_ms', '>=', o.sinceMs);
    if (o.untilMs !== undefined) q = q.where('ts_ms', '<=', o.untilMs);
    if (o.beforeId !== undefined) q = q.where('id', '<', o.beforeId);
    return (await q.orderBy('id', 'desc').limit(o.limit).execute()).map(toLine);
  }

  /** A service's lines written after `afterId`, oldest first. */
  async after(project: string, service: string, afterId: number, limit = 5000): Promise<StoredLogLine[]> {
    const rows = await this.db.selectFrom('log_lines').selectAll().where('project_id', '=', project).where('service_id', '=', service).where('id', '>', afterId).orderBy('id', 'asc').limit(limit).execute();
    return rows.map(toLine);
  }

  /** The newest id of any line (0 with none). */
  async lastId(): Promise<number> {
    const r = await this.db.selectFrom('log_lines').select((eb) => eb.fn.max('id').as('max')).executeTakeFirst();
    return Number(r?.max ?? 0);
  }

  async deleteOlderThan(ms: number): Promise<number> {
    const r = await this.db.deleteFrom('log_lines').where('ts_ms', '<', ms).executeTakeFirst();
    return Number(r.numDeletedRows ?? 0);
  }
}

function toLine(r: Selectable<Database['log_lines']>): StoredLogLine {
  return { id: Number(r.id), project: r.project_id, service: r.service_id, instance: r.instance_id, ts: r.ts, stream: r.stream as 'stdout' | 'stderr', line: r.line };
}
