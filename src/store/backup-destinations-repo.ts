/**
 * S3-compatible backup destinations and the placements of backups written to them. A destination's
 * credentials (both keys, bucket, region, endpoint) are sealed with the SecretBox: `find`/`list` return the
 * open fields only, `credentials()` the plain ones for the code that talks to the endpoint.
 */
import type { Kysely } from 'kysely';
import type { Database } from './schema.ts';
import type { SecretBox } from './secret-box.ts';
import { ConflictError, NotFoundError } from '../errors/errors.ts';
import { isUniqueViolation } from './unique-violation.ts';

export interface BackupDestinationCredentials {
  accessKey: string;
  secretKey: string;
  bucketName: string;
  region: string;
  endpoint: string;
}

export interface BackupDestinationRecord {
  id: string;
  name: string;
  description?: string;
  type: 's3';
  prefix: string;
  /** the open parts of the credentials (no secret key) */
  bucketName: string;
  region: string;
  endpoint: string;
  accessKey: string;
  createdAt: string;
  updatedAt: string;
}

export interface BackupPlacement {
  backupId: string;
  destinationId: string;
  objectKey: string;
}

type Row = Database['backup_destinations'];

export class BackupDestinationsRepo {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly box: SecretBox,
  ) {}

  private toRecord(r: Row): BackupDestinationRecord {
    const c = this.box.open<BackupDestinationCredentials>(r.credentials);
    return {
      id: r.id,
      name: r.name,
      ...(r.description !== null ? { description: r.description } : {}),
      type: 's3',
      prefix: r.prefix,
      bucketName: c.bucketName,
      region: c.region,
      endpoint: c.endpoint,
      accessKey: c.accessKey,
      createdAt: r.created_at,
      updatedAt: r.updated_at,
    };
  }

  async create(d: { id: string; name: string; description?: string; prefix: string; credentials: BackupDestinationCredentials }): Promise<BackupDestinationRecord> {
    const now = new Date().toISOString();
    const row: Row = { id: d.id, name: d.name, description: d.description ?? null, type: 's3', prefix: d.prefix, credentials: this.box.seal(d.credentials), created_at: now, updated_at: now };
    try {
      await this.db.insertInto('backup_destinations').values(row).execute();
    } catch (err) {
      if (isUniqueViolation(err)) throw new ConflictError(`backup destination '${d.id}' already exists`);
      throw err;
    }
    return this.toRecord(row);
  }

  async find(id: string): Promise<BackupDestinationRecord | undefined> {
    const row = await this.db.selectFrom('backup_destinations').selectAll().where('id', '=', id).executeTakeFirst();
    return row ? this.toRecord(row) : undefined;
  }

  async get(id: string): Promise<BackupDestinationRecord> {
    const d = await this.find(id);
    if (!d) throw new NotFoundError('backup destination', id);
    return d;
  }

  async list(opts: { after?: string; limit: number }): Promise<BackupDestinationRecord[]> {
    let q = this.db.selectFrom('backup_destinations').selectAll().orderBy('id').limit(opts.limit);
    if (opts.after) q = q.where('id', '>', opts.after);
    return (await q.execute()).map((r) => this.toRecord(r));
  }

  /** The plain credentials, for the endpoint calls only. */
  async credentials(id: string): Promise<BackupDestinationCredentials> {
    const row = await this.db.selectFrom('backup_destinations').select('credentials').where('id', '=', id).executeTakeFirst();
    if (!row) throw new NotFoundError('backup destination', id);
    return this.box.open<BackupDestinationCredentials>(row.credentials);
  }

  async update(id: string, patch: { name?: string; description?: string; credentials?: BackupDestinationCredentials }): Promise<BackupDestinationRecord> {
    await this.get(id);
    await this.db
      .updateTable('backup_destinations')
      .set({
        ...(patch.name !== undefined ? { name: patch.name } : {}),
        ...(patch.description !== undefined ? { description: patch.description } : {}),
        ...(patch.credentials ? { credentials: this.box.seal(patch.credentials) } : {}),
        updated_at: new Date().toISOString(),
      })
      .where('id', '=', id)
      .execute();
    return this.get(id);
  }

  async delete(id: string): Promise<void> {
    await this.db.deleteFrom('backup_destinations').where('id', '=', id).execute();
  }

  // Placements

  async place(p: BackupPlacement): Promise<void> {
    await this.db.insertInto('backup_placements').values({ backup_id: p.backupId, destination_id: p.destinationId, object_key: p.objectKey, created_at: new Date().toISOString() }).execute();
  }

  async placement(backupId: string): Promise<BackupPlacement | undefined> {
    const r = await this.db.selectFrom('backup_placements').selectAll().where('backup_id', '=', backupId).executeTakeFirst();
    return r ? { backupId: r.backup_id, destinationId: r.destination_id, objectKey: r.object_key } : undefined;
  }

  async unplace(backupId: string): Promise<void> {
    await this.db.deleteFrom('backup_placements').where('backup_id', '=', backupId).execute();
  }

  /** Ids of the backups placed at a destination. */
  async backupsAt(destinationId: string): Promise<string[]> {
    return (await this.db.selectFrom('backup_placements').select('backup_id').where('destination_id', '=', destinationId).orderBy('created_at', 'desc').execute()).map((r) => r.backup_id);
  }
}
