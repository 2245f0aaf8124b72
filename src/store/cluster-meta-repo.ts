/**
 * Facts every control plane on one database must agree on (migration 0020). Today: which sealing key the
 * database's secrets were sealed with, by fingerprint, so a replica started with another key refuses to
 * start instead of answering 500 for every sealed row (docs/high-availability.md).
 */
import type { Kysely } from 'kysely';
import type { Database } from './schema.ts';

export class SealingKeyMismatchError extends Error {}

/**
 * Records the key's fingerprint on the first start against this database; on every later start, throws
 * SealingKeyMismatchError when the key differs from the recorded one. Safe when replicas start together:
 * the first insert wins and the others compare against it.
 */
export async function checkSealingKey(db: Kysely<Database>, fingerprint: string, keySource: string): Promise<void> {
  await db.insertInto('cluster_meta').values({ key: 'sealing_key_fingerprint', value: fingerprint }).onConflict((oc) => oc.column('key').doNothing()).execute();
  const row = await db.selectFrom('cluster_meta').select('value').where('key', '=', 'sealing_key_fingerprint').executeTakeFirstOrThrow();
  if (row.value !== fingerprint) {
    throw new SealingKeyMismatchError(
      `the secrets in this database were sealed with another key (fingerprint ${row.value}) than this control plane's (${fingerprint}, from ${keySource}): ` +
        'every control plane on one database must share one key: set SLIPWAY_SECRET_KEY to the same value on each (see docs/high-availability.md)',
    );
  }
}
