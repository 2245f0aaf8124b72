/**
 * Every store test body runs on each supported database: an in-memory SQLite and a fresh PostgreSQL
 * database per test (created on the server at SLIPWAY_TEST_PG_URL, default 127.0.0.1:5432, and dropped
 * afterwards). PostgreSQL missing is a failure with the package to install, never a silent skip.
 */
import crypto from 'node:crypto';
import pg from 'pg';
import { openStore, type Store } from '../../src/store/store.ts';
import { SecretBox } from '../../src/store/secret-box.ts';

export const PG_ADMIN_URL = process.env.SLIPWAY_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export const SUPPORTED_DATABASES = ['sqlite', 'postgres'] as const;
export type DatabaseId = (typeof SUPPORTED_DATABASES)[number];

export async function createPgDatabase(): Promise<{ url: string; drop: () => Promise<void> }> {
  const name = `slipway_t_${crypto.randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: PG_ADMIN_URL });
  try {
    await admin.connect();
  } catch (err) {
    throw new Error(`PostgreSQL is not reachable at ${PG_ADMIN_URL}: install and start it (Debian package: postgresql)`, { cause: err });
  }
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(PG_ADMIN_URL);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: async () => {
      const c = new pg.Client({ connectionString: PG_ADMIN_URL });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
}

export async function openTestStore(id: DatabaseId): Promise<{ store: Store; cleanup: () => Promise<void> }> {
  const box = SecretBox.fromKey(crypto.randomBytes(32));
  if (id === 'sqlite') {
    const store = await openStore({ box });
    return { store, cleanup: () => store.close() };
  }
  const db = await createPgDatabase();
  const store = await openStore({ url: db.url, box });
  return {
    store,
    cleanup: async () => {
      await store.close();
      await db.drop();
    },
  };
}
