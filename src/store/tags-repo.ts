import type { Kysely } from 'kysely';
import type { Database } from './schema.ts';
import { ConflictError, NotFoundError } from '../errors/errors.ts';
import { isUniqueViolation } from './unique-violation.ts';

/** The open fields of an account-level resource tag, as Northflank's tags API carries them. */
export interface TagSpec {
  name: string;
  description?: string;
  color?: string;
  useSpotNodes?: boolean;
  useOnDemandNodes?: boolean;
  nodeAffinities?: unknown[];
}

export interface TagRecord {
  id: string;
  spec: TagSpec;
  createdAt: string;
  updatedAt: string;
}

/** Account-level resource tags. Ids and names are both unique. */
export class TagsRepo {
  constructor(private readonly db: Kysely<Database>) {}

  private toRecord(row: Database['resource_tags']): TagRecord {
    return { id: row.id, spec: JSON.parse(row.spec) as TagSpec, createdAt: row.created_at, updatedAt: row.updated_at };
  }

  /** Insert; ConflictError if the id or the name is taken. */
  async create(id: string, spec: TagSpec): Promise<TagRecord> {
    const now = new Date().toISOString();
    const row: Database['resource_tags'] = { id, name: spec.name, spec: JSON.stringify(spec), created_at: now, updated_at: now };
    try {
      await this.db.insertInto('resource_tags').values(row).execute();
    } catch (err) {
      if (isUniqueViolation(err)) throw new ConflictError(`name: a tag '${spec.name}' already exists`);
      throw err;
    }
    return this.toRecord(row);
  }

  async find(id: string): Promise<TagRecord | undefined> {
    const row = await this.db.selectFrom('resource_tags').selectAll().where('id', '=', id).executeTakeFirst();
    return row ? this.toRecord(row) : undefined;
  }

  async get(id: string): Promise<TagRecord> {
    const t = await this.find(id);
    if (!t) throw new NotFoundError('tag', id);
    return t;
  }

  async list(opts: { after?: string; limit: number }): Promise<TagRecord[]> {
    let q = this.db.selectFrom('resource_tags').selectAll().orderBy('id').limit(opts.limit);
    if (opts.after) q = q.where('id', '>', opts.after);
    return (await q.execute()).map((r) => this.toRecord(r));
  }

  /** Replace the open fields; NotFoundError if absent. */
  async update(id: string, spec: TagSpec): Promise<TagRecord> {
    try {
      const res = await this.db.updateTable('resource_tags').set({ name: spec.name, spec: JSON.stringify(spec), updated_at: new Date().toISOString() }).where('id', '=', id).executeTakeFirst();
      if (Number(res.numUpdatedRows) === 0) throw new NotFoundError('tag', id);
    } catch (err) {
      if (isUniqueViolation(err)) throw new ConflictError(`name: a tag '${spec.name}' already exists`);
      throw err;
    }
    return this.get(id);
  }

  async delete(id: string): Promise<void> {
    const res = await this.db.deleteFrom('resource_tags').where('id', '=', id).executeTakeFirst();
    if (Number(res.numDeletedRows) === 0) throw new NotFoundError('tag', id);
  }
}
