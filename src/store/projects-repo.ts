import type { Kysely } from 'kysely';
import type { Database } from './schema.ts';
import { ConflictError, NotFoundError, VersionConflictError } from '../errors/errors.ts';
import { isUniqueViolation } from './unique-violation.ts';

export interface ProjectRecord {
  id: string;
  name: string;
  description?: string;
  spec: Record<string, unknown>;
  version: number;
  createdAt: string;
  updatedAt: string;
}

function toRecord(row: Database['projects']): ProjectRecord {
  return {
    id: row.id,
    name: row.name,
    description: row.description ?? undefined,
    spec: JSON.parse(row.spec),
    version: row.version,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

/** Projects. Every write is conditional on the version read, so two writers never silently overwrite. */
export class ProjectsRepo {
  constructor(private readonly db: Kysely<Database>) {}

  /** Insert; ConflictError if the id exists. */
  async create(p: { id: string; name: string; description?: string; spec: Record<string, unknown> }): Promise<ProjectRecord> {
    const now = new Date().toISOString();
    const row = { id: p.id, name: p.name, description: p.description ?? null, spec: JSON.stringify(p.spec), version: 1, created_at: now, updated_at: now };
    try {
      await this.db.insertInto('projects').values(row).execute();
    } catch (err) {
      if (isUniqueViolation(err)) throw new ConflictError(`project '${p.id}' already exists`);
      throw err;
    }
    return toRecord(row);
  }

  async get(id: string): Promise<ProjectRecord> {
    const row = await this.db.selectFrom('projects').selectAll().where('id', '=', id).executeTakeFirst();
    if (!row) throw new NotFoundError('project', id);
    return toRecord(row);
  }

  async find(id: string): Promise<ProjectRecord | undefined> {
    const row = await this.db.selectFrom('projects').selectAll().where('id', '=', id).executeTakeFirst();
    return row ? toRecord(row) : undefined;
  }

  /** Page through projects ordered by id; `ids` restricts to those (for non-admin callers). */
  async list(opts: { after?: string; limit: number; ids?: string[] }): Promise<ProjectRecord[]> {
    let q = this.db.selectFrom('projects').selectAll().orderBy('id').limit(opts.limit);
    if (opts.after) q = q.where('id', '>', opts.after);
    if (opts.ids) {
      if (opts.ids.length === 0) return [];
      q = q.where('id', 'in', opts.ids);
    }
    return (await q.execute()).map(toRecord);
  }

  /** Update if the stored version still equals `expectedVersion`; VersionConflictError otherwise. */
  async update(id: string, expectedVersion: number, p: { name: string; description?: string; spec: Record<string, unknown> }): Promise<ProjectRecord> {
    const now = new Date().toISOString();
    const res = await this.db
      .updateTable('projects')
      .set({ name: p.name, description: p.description ?? null, spec: JSON.stringify(p.spec), version: expectedVersion + 1, updated_at: now })
      .where('id', '=', id)
      .where('version', '=', expectedVersion)
      .executeTakeFirst();
    if (Number(res.numUpdatedRows) === 0) {
      await this.get(id);
      throw new VersionConflictError(`project '${id}' was modified concurrently; retry`);
    }
    return this.get(id);
  }

  async delete(id: string): Promise<void> {
    const res = await this.db.deleteFrom('projects').where('id', '=', id).executeTakeFirst();
    if (Number(res.numDeletedRows) === 0) throw new NotFoundError('project', id);
  }
}
