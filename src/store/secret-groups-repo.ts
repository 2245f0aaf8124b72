import type { Kysely } from 'kysely';
import type { Database } from './schema.ts';
import type { SecretBox } from './secret-box.ts';
import { ConflictError, NotFoundError, VersionConflictError } from '../errors/errors.ts';
import { isUniqueViolation } from './unique-violation.ts';
import type { SecretGroupRecord, SecretGroupSpec, SecretGroupValues } from '../domain/secret-group.ts';

/**
 * Secret groups. The open fields are stored as JSON; the variables and files are sealed with the
 * SecretBox, so a copy of the database alone never shows a value. Each write is one statement: a group is
 * stored whole or not at all.
 */
export class SecretGroupsRepo {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly box: SecretBox,
  ) {}

  private toRecord(row: Database['secret_groups']): SecretGroupRecord {
    return {
      projectId: row.project_id,
      id: row.id,
      spec: JSON.parse(row.spec) as SecretGroupSpec,
      values: this.box.open<SecretGroupValues>(row.secrets),
      version: row.version,
      createdAt: row.created_at,
      updatedAt: row.updated_at,
    };
  }

  /** Insert; ConflictError if the id or the name is taken in the project. */
  async create(g: { projectId: string; id: string; spec: SecretGroupSpec; values: SecretGroupValues }): Promise<SecretGroupRecord> {
    const now = new Date().toISOString();
    const row: Database['secret_groups'] = { project_id: g.projectId, id: g.id, name: g.spec.name, spec: JSON.stringify(g.spec), secrets: this.box.seal(g.values), version: 1, created_at: now, updated_at: now };
    try {
      await this.db.insertInto('secret_groups').values(row).execute();
    } catch (err) {
      if (isUniqueViolation(err)) throw new ConflictError(`name: a secret group '${g.spec.name}' already exists in project '${g.projectId}'`);
      throw err;
    }
    return this.toRecord(row);
  }

  async find(projectId: string, id: string): Promise<SecretGroupRecord | undefined> {
    const row = await this.db.selectFrom('secret_groups').selectAll().where('project_id', '=', projectId).where('id', '=', id).executeTakeFirst();
    return row ? this.toRecord(row) : undefined;
  }

  async get(projectId: string, id: string): Promise<SecretGroupRecord> {
    const g = await this.find(projectId, id);
    if (!g) throw new NotFoundError('secret group', id);
    return g;
  }

  /** Page through a project's groups ordered by id; without `limit`, all of them (what a merge reads). */
  async list(projectId: string, opts: { after?: string; limit?: number } = {}): Promise<SecretGroupRecord[]> {
    let q = this.db.selectFrom('secret_groups').selectAll().where('project_id', '=', projectId).orderBy('id');
    if (opts.limit !== undefined) q = q.limit(opts.limit);
    if (opts.after) q = q.where('id', '>', opts.after);
    return (await q.execute()).map((r) => this.toRecord(r));
  }

  /** Replace spec and values if the version is still `expectedVersion`; VersionConflictError otherwise. */
  async update(projectId: string, id: string, expectedVersion: number, spec: SecretGroupSpec, values: SecretGroupValues): Promise<SecretGroupRecord> {
    const res = await this.db
      .updateTable('secret_groups')
      .set({ name: spec.name, spec: JSON.stringify(spec), secrets: this.box.seal(values), version: expectedVersion + 1, updated_at: new Date().toISOString() })
      .where('project_id', '=', projectId)
      .where('id', '=', id)
      .where('version', '=', expectedVersion)
      .executeTakeFirst();
    if (Number(res.numUpdatedRows) === 0) {
      await this.get(projectId, id);
      throw new VersionConflictError(`secret group '${id}' was modified concurrently; retry`);
    }
    return this.get(projectId, id);
  }

  /** Delete; NotFoundError if absent. */
  async delete(projectId: string, id: string): Promise<void> {
    const res = await this.db.deleteFrom('secret_groups').where('project_id', '=', projectId).where('id', '=', id).executeTakeFirst();
    if (Number(res.numDeletedRows) === 0) throw new NotFoundError('secret group', id);
  }
}
