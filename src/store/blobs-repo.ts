/**
 * Named byte strings in the store that every control-plane replica reads (migration 0020): build artifacts
 * (`artifact/<build id>`, tar.gz) and finished build logs (`build-log/<build id>`). Each carries its sha256.
 */
import crypto from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Database } from './schema.ts';

export class BlobsRepo {
  constructor(private readonly db: Kysely<Database>) {}

  /** Writes (or replaces) a blob. */
  async put(name: string, data: Buffer): Promise<void> {
    const digest = `sha256:${crypto.createHash('sha256').update(data).digest('hex')}`;
    await this.db
      .insertInto('blobs')
      .values({ name, digest, size: data.length, data, created_at: new Date().toISOString() })
      .onConflict((oc) => oc.column('name').doUpdateSet({ digest, size: data.length, data }))
      .execute();
  }

  /** The blob's bytes, checked against its digest; undefined when there is none; throws when it is damaged. */
  async get(name: string): Promise<Buffer | undefined> {
    const row = await this.db.selectFrom('blobs').select(['digest', 'data']).where('name', '=', name).executeTakeFirst();
    if (!row) return undefined;
    const data = Buffer.from(row.data);
    const digest = `sha256:${crypto.createHash('sha256').update(data).digest('hex')}`;
    if (digest !== row.digest) throw new Error(`blob ${name} in the store is damaged (${digest}, expected ${row.digest})`);
    return data;
  }
}
