/**
 * The differences between the embedded SQLite store and PostgreSQL, in one place. Only `main.ts` (through
 * `openDatabase`) picks one.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Kysely, Migrator, PostgresDialect, SqliteDialect } from 'kysely';
import SQLite from 'better-sqlite3';
import pg from 'pg';
import type { Database } from '../schema.ts';
import { migrationProvider } from '../migrations.ts';

import type { DialectName } from './name.ts';
export type { DialectName };

export interface OpenedDatabase {
  db: Kysely<Database>;
  dialect: DialectName;
  close(): Promise<void>;
}

// PostgreSQL returns bigint (int8) as strings by default; our counters fit in a JS number.
pg.types.setTypeParser(20, (v: string) => Number(v));

export async function openDatabase(opts: { url?: string; sqlitePath?: string; onIdleError?: (err: Error) => void }): Promise<OpenedDatabase> {
  let db: Kysely<Database>;
  let dialect: DialectName;
  if (opts.url) {
    dialect = 'postgres';
    const pool = new pg.Pool({ connectionString: opts.url, max: 10 });
    // An idle pooled connection can be closed by the server (restart, failover, admin); pg reports that on
    // the pool, and unhandled it would crash the control plane. The pool replaces the connection.
    pool.on('error', (err) => opts.onIdleError?.(err));
    // A connection the server ends while it is checked out (a fenced transaction past its idle timeout, see
    // leases-repo.ts) reports on the client: its query fails, and the event must not end the process.
    pool.on('connect', (client) => client.on('error', (err) => opts.onIdleError?.(err)));
    db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  } else {
    dialect = 'sqlite';
    const file = opts.sqlitePath ?? ':memory:';
    if (file !== ':memory:') fs.mkdirSync(path.dirname(file), { recursive: true });
    const sqlite = new SQLite(file);
    // WAL lets readers proceed during a write; the busy timeout rides out a concurrent writer (another
    // connection or a CLI opening the same file) instead of failing with SQLITE_BUSY.
    sqlite.pragma('journal_mode = WAL');
    sqlite.pragma('foreign_keys = ON');
    sqlite.pragma('busy_timeout = 5000');
    sqlite.pragma('synchronous = NORMAL');
    db = new Kysely<Database>({ dialect: new SqliteDialect({ database: cachedStatements(sqlite) }) });
  }
  const migrator = new Migrator({ db, provider: migrationProvider(dialect) });
  const { error, results } = await migrator.migrateToLatest();
  if (error) {
    await db.destroy();
    const failed = results?.find((r) => r.status === 'Error');
    throw new Error(`store migration ${failed?.migrationName ?? ''} failed`, { cause: error });
  }
  return { db, dialect, close: () => db.destroy() };
}

/** How many prepared statements the SQLite store keeps (a query's SQL text is its key). */
const STATEMENTS_KEPT = 1000;

/**
 * The SQLite database as Kysely's driver sees it, with each statement prepared once: the driver prepares the
 * SQL of every query it runs, and preparing costs more than running most of the store's queries. The queries
 * run one at a time (the driver holds its one connection per query), so a kept statement is never in use
 * twice. SQLite prepares a statement again by itself when the schema changed under it.
 */
function cachedStatements(sqlite: SQLite.Database): { prepare(sql: string): SQLite.Statement; close(): void } {
  const kept = new Map<string, SQLite.Statement>();
  return {
    prepare(sql) {
      let stmt = kept.get(sql);
      if (!stmt) {
        // Queries with a list of values (`in (?, ?, …)`) have many texts: past the bound the cache starts over.
        if (kept.size >= STATEMENTS_KEPT) kept.clear();
        kept.set(sql, (stmt = sqlite.prepare(sql)));
      }
      return stmt;
    },
    close: () => sqlite.close(),
  };
}

