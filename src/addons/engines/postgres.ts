/**
 * PostgreSQL from Debian's packages (/usr/lib/postgresql/<major>/bin). The cluster lives in `<data>/pg`,
 * made by initdb on first start with the addon's user as its superuser (password auth, scram-sha-256);
 * the server listens on 127.0.0.1 only, with no Unix socket. Dumps are pg_dump's custom format.
 */
import fs from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import type { AddonLogin, AddonRecord } from '../../domain/addons.ts';
import type { AddonEngine, EngineContext, ServerControl } from './engine.ts';
import { run, sh, versionLine, writeOwned } from './run.ts';

const ROOT = '/usr/lib/postgresql';
const PWFILE = '.initdb-password';
const HBA_TLS = 'pg_hba_tls.conf';

function bin(version: string, name: string): string {
  return path.join(ROOT, version.split('.')[0], 'bin', name);
}

/** A quoted SQL identifier. */
function ident(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

async function withClient<T>(ctx: EngineContext, database: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const ssl = ctx.tls ? { ca: fs.readFileSync(ctx.tls.caFile, 'utf8') } : undefined;
  const client = new pg.Client({ host: ctx.host, port: ctx.addon.port, user: ctx.secrets.username, password: ctx.secrets.password, database, connectionTimeoutMillis: 5000, ...(ssl ? { ssl } : {}) });
  client.on('error', () => {});
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => {});
  }
}

export class PostgresEngine implements AddonEngine {
  readonly type = 'postgresql' as const;
  readonly name = 'PostgreSQL';
  readonly description = 'PostgreSQL is a free and open-source relational database management system.';
  readonly features = { backupsDump: true, customDBName: true, importDump: true, importLive: true, scaleReplicas: true, tls: true, externalAccess: false, forkAddon: false };
  readonly dumpExtension = 'pgdump';
  private versions?: string[];

  installed(): string[] {
    if (this.versions) return this.versions;
    const found: string[] = [];
    for (const major of fs.existsSync(ROOT) ? fs.readdirSync(ROOT) : []) {
      const line = versionLine(path.join(ROOT, major, 'bin', 'postgres'));
      const m = line && /\(PostgreSQL\)\s+(\d+(?:\.\d+)*)/.exec(line);
      if (m && fs.existsSync(path.join(ROOT, major, 'bin', 'initdb'))) found.push(m[1]);
    }
    this.versions = found.sort((a, b) => Number(b.split('.')[0]) - Number(a.split('.')[0]));
    return this.versions;
  }

  database(addon: AddonRecord): string {
    return addon.spec.dbName ?? addon.id.replace(/-/g, '_');
  }

  async prepare(ctx: EngineContext): Promise<void> {
    const pgDir = path.join(ctx.dataDir, 'pg');
    if (ctx.replicaOf && !fs.existsSync(path.join(pgDir, 'PG_VERSION'))) {
      // A read replica starts from a base backup of the primary, streaming its WAL after (-R writes
      // standby.signal and the connection to the primary into the replica's own, private data directory).
      fs.rmSync(pgDir, { recursive: true, force: true });
      const args = ['-h', ctx.replicaOf.host, '-p', String(ctx.replicaOf.port), '-U', ctx.secrets.username, '-D', pgDir, '-R', '-X', 'stream', '-c', 'fast'];
      try {
        await run(bin(ctx.addon.spec.version, 'pg_basebackup'), args, { env: this.env(ctx), timeoutMs: 60 * 60_000 });
      } catch (err) {
        fs.rmSync(pgDir, { recursive: true, force: true });
        throw err;
      }
      if (process.getuid?.() === 0) await run('/usr/bin/chown', ['-R', `${ctx.user.uid}:${ctx.user.gid}`, pgDir]);
      fs.chmodSync(pgDir, 0o700);
    }
    // With TLS, connections without it are refused: the server reads this file instead of pg/pg_hba.conf.
    if (ctx.tls) writeOwned(path.join(ctx.dataDir, HBA_TLS), ['hostssl all all 127.0.0.1/32 scram-sha-256', 'hostssl replication all 127.0.0.1/32 scram-sha-256', ''].join('\n'), ctx.user);
    if (ctx.replicaOf) return;
    // initdb reads the superuser's password from a file; it is removed once the server answers.
    if (!fs.existsSync(path.join(ctx.dataDir, 'pg', 'PG_VERSION'))) writeOwned(path.join(ctx.dataDir, PWFILE), `${ctx.secrets.password}\n`, ctx.user);
  }

  script(ctx: EngineContext): string {
    const v = ctx.addon.spec.version;
    const d = `${ctx.mountPath}/pg`;
    // Shared memory counts in every backend's resident size, which the supervisor sums: keep it small.
    const sharedBuffersMb = Math.max(16, Math.floor(ctx.memoryMb / 8));
    const settings: Record<string, string> = {
      listen_addresses: ctx.host,
      port: String(ctx.addon.port),
      unix_socket_directories: '',
      shared_buffers: `${sharedBuffersMb}MB`,
      max_connections: '100',
      wal_level: String(ctx.addon.spec.typeSpecificSettings?.postgresqlWalLevel ?? 'replica'),
      logging_collector: 'off',
      ...(ctx.tls ? { ssl: 'on', ssl_cert_file: ctx.tls.certPath, ssl_key_file: ctx.tls.keyPath, hba_file: `${ctx.mountPath}/${HBA_TLS}` } : {}),
    };
    return [
      'set -e',
      `if [ ! -s ${d}/PG_VERSION ]; then`,
      `  rm -rf ${d}.init`,
      `  ${bin(v, 'initdb')} -D ${d}.init -U ${sh(ctx.secrets.username)} --auth=scram-sha-256 --pwfile=${ctx.mountPath}/${PWFILE} -E UTF8 --locale=C >/dev/null`,
      `  mv ${d}.init ${d}`,
      'fi',
      `exec ${bin(v, 'postgres')} -D ${d} ${Object.entries(settings).map(([k, val]) => `-c ${k}=${sh(val)}`).join(' ')}`,
    ].join('\n');
  }

  async ping(ctx: EngineContext): Promise<boolean> {
    try {
      return await withClient(ctx, 'postgres', async (c) => (await c.query('SELECT 1 AS ok')).rows[0]?.ok === 1);
    } catch {
      return false;
    }
  }

  async afterReady(ctx: EngineContext): Promise<void> {
    fs.rmSync(path.join(ctx.dataDir, PWFILE), { force: true });
    if (ctx.replicaOf) return; // read-only: the database comes from the primary
    const db = this.database(ctx.addon);
    const old = `${db}__replaced`;
    await withClient(ctx, 'postgres', async (c) => {
      const rows = (await c.query('SELECT datname, datallowconn FROM pg_database WHERE datname = ANY($1)', [[db, old]])).rows as { datname: string; datallowconn: boolean }[];
      const names = new Set(rows.map((r) => r.datname));
      const closed = rows.some((r) => !r.datallowconn);
      // A restore's swap cut short by a control-plane kill: finish it (both there) or undo it (only the old).
      if (names.has(old) && names.has(db)) await c.query(`DROP DATABASE ${ident(old)} WITH (FORCE)`);
      else if (names.has(old)) {
        await c.query(`ALTER DATABASE ${ident(old)} RENAME TO ${ident(db)}`);
        names.add(db);
      }
      if (!names.has(db)) await c.query(`CREATE DATABASE ${ident(db)}`);
      else if (closed) await c.query(`ALTER DATABASE ${ident(db)} ALLOW_CONNECTIONS true`);
    });
  }

  async dumpFrom(source: URL, file: string): Promise<void> {
    // The password goes through the environment, never the argument list.
    const env = { PGPASSWORD: decodeURIComponent(source.password), PGCONNECT_TIMEOUT: '10' };
    const db = decodeURIComponent(source.pathname.replace(/^\//, '')) || 'postgres';
    const args = ['-Fc', '--no-owner', '-h', source.hostname, '-p', source.port || '5432', '-U', decodeURIComponent(source.username), '-d', db, '-f', file];
    const major = this.installed()[0];
    await run(bin(major, 'pg_dump'), args, { env, timeoutMs: 60 * 60_000 });
  }

  readonly loginsPerServer = false;

  async addLogin(ctx: EngineContext, login: AddonLogin): Promise<void> {
    // Generated passwords are letters and digits: safe inside a literal.
    if (!/^[A-Za-z0-9]+$/.test(login.password)) throw new Error('unexpected characters in a generated password');
    await withClient(ctx, 'postgres', async (c) => {
      const exists = (await c.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [login.username])).rowCount;
      // A superuser like the addon's first user: every object either made stays reachable by the other.
      if (exists) await c.query(`ALTER ROLE ${ident(login.username)} WITH LOGIN PASSWORD '${login.password}'`);
      else await c.query(`CREATE ROLE ${ident(login.username)} WITH SUPERUSER LOGIN PASSWORD '${login.password}'`);
    });
  }

  async retireLogin(ctx: EngineContext, login: AddonLogin): Promise<void> {
    if (login.username === ctx.secrets.username) throw new Error('a login cannot retire itself');
    await withClient(ctx, 'postgres', async (c) => {
      // No password: no password authentication can succeed. The role stays (it may own objects).
      await c.query(`ALTER ROLE ${ident(login.username)} WITH PASSWORD NULL`);
      await c.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1 AND backend_type = 'client backend'", [login.username]);
    });
  }

  async followLogin(replica: EngineContext, login: AddonLogin): Promise<void> {
    if (!replica.replicaOf) return;
    if (!/^[A-Za-z0-9_]+$/.test(login.username + login.password)) throw new Error('unexpected characters in a generated login');
    const conninfo = `host=${replica.replicaOf.host} port=${replica.replicaOf.port} user=${login.username} password=${login.password}${replica.tls ? ' sslmode=require' : ''}`;
    // The role itself reached the replica through the WAL; its connection to the primary is its own setting.
    await withClient(replica, 'postgres', async (c) => {
      await c.query(`ALTER SYSTEM SET primary_conninfo = '${conninfo}'`);
      await c.query('SELECT pg_reload_conf()');
    });
  }

  private env(ctx: EngineContext): Record<string, string> {
    return { PGPASSWORD: ctx.secrets.password, PGCONNECT_TIMEOUT: '10', ...(ctx.tls ? { PGSSLMODE: 'require' } : {}) };
  }

  async dump(ctx: EngineContext, file: string): Promise<void> {
    const args = ['-Fc', '-h', ctx.host, '-p', String(ctx.addon.port), '-U', ctx.secrets.username, '-d', this.database(ctx.addon), '-f', file];
    await run(bin(ctx.addon.spec.version, 'pg_dump'), args, { env: this.env(ctx), timeoutMs: 30 * 60_000 });
  }

  async restore(ctx: EngineContext, file: string, _server: ServerControl): Promise<void> {
    const db = this.database(ctx.addon);
    const fresh = `${db}__restore`;
    const old = `${db}__replaced`;
    await withClient(ctx, 'postgres', async (c) => {
      await c.query(`DROP DATABASE IF EXISTS ${ident(fresh)} WITH (FORCE)`);
      await c.query(`CREATE DATABASE ${ident(fresh)}`);
    });
    try {
      const args = ['--no-owner', '--exit-on-error', '--single-transaction', '-h', ctx.host, '-p', String(ctx.addon.port), '-U', ctx.secrets.username, '-d', fresh, file];
      await run(bin(ctx.addon.spec.version, 'pg_restore'), args, { env: this.env(ctx), timeoutMs: 30 * 60_000 });
    } catch (err) {
      await withClient(ctx, 'postgres', (c) => c.query(`DROP DATABASE IF EXISTS ${ident(fresh)} WITH (FORCE)`)).catch(() => {});
      throw err;
    }
    // The swap: no new connections to the live database, end the open ones, then two renames. Only here
    // does the live data change, and only after the restore succeeded in full.
    await withClient(ctx, 'postgres', async (c) => {
      await c.query(`DROP DATABASE IF EXISTS ${ident(old)} WITH (FORCE)`);
      const live = await c.query('SELECT 1 FROM pg_database WHERE datname = $1', [db]);
      if (live.rowCount) {
        await c.query(`ALTER DATABASE ${ident(db)} ALLOW_CONNECTIONS false`);
        try {
          await c.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()', [db]);
          await c.query(`ALTER DATABASE ${ident(db)} RENAME TO ${ident(old)}`);
        } catch (err) {
          await c.query(`ALTER DATABASE ${ident(db)} ALLOW_CONNECTIONS true`).catch(() => {});
          await c.query(`DROP DATABASE IF EXISTS ${ident(fresh)} WITH (FORCE)`).catch(() => {});
          throw err;
        }
      }
      await c.query(`ALTER DATABASE ${ident(fresh)} RENAME TO ${ident(db)}`);
      if (live.rowCount) await c.query(`DROP DATABASE ${ident(old)} WITH (FORCE)`);
    });
  }
}
