/**
 * The `mysql` addon type, served by MariaDB (Debian's mariadb-server: MySQL's protocol and SQL, MariaDB's
 * version numbers). The data directory is `<data>/mysql`, made by mariadb-install-db on first start; the
 * addon's user and database come from an init file the server runs at start, written only for the start
 * that needs it and removed once the server answers. Dumps are mariadb-dump's SQL. Read replicas follow the
 * primary's binary log by GTID (mysql-replica.ts).
 */
import fs from 'node:fs';
import path from 'node:path';
import { generatePassword, type AddonLogin, type AddonRecord } from '../../domain/addons.ts';
import type { AddonEngine, EngineContext, ServerControl } from './engine.ts';
import { run, versionLine, writeOwned } from './run.ts';
import { followWith, replicationOptions, seedReplica } from './mysql-replica.ts';

const SERVER = '/usr/sbin/mariadbd';
const INSTALL_DB = '/usr/bin/mariadb-install-db';
const CLIENT = '/usr/bin/mariadb';
const DUMP = '/usr/bin/mariadb-dump';
const INIT_FILE = '.init.sql';

/** A quoted identifier. */
function ident(name: string): string {
  return `\`${name.replace(/`/g, '``')}\``;
}

/** A quoted string literal. */
function literal(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

export class MysqlEngine implements AddonEngine {
  readonly type = 'mysql' as const;
  readonly name = 'MySQL (served by MariaDB)';
  readonly description = 'MySQL-compatible relational database, served here by MariaDB: versions are MariaDB versions.';
  readonly features = { backupsDump: true, customDBName: true, importDump: true, importLive: true, scaleReplicas: true, tls: true, externalAccess: false, forkAddon: false };
  readonly dumpExtension = 'sql';
  private versions?: string[];

  installed(): string[] {
    if (this.versions) return this.versions;
    const m = /Ver\s+(\d+\.\d+\.\d+)/.exec(versionLine(SERVER) ?? '');
    this.versions = m && fs.existsSync(INSTALL_DB) ? [m[1]] : [];
    return this.versions;
  }

  database(addon: AddonRecord): string {
    return addon.spec.dbName ?? addon.id.replace(/-/g, '_');
  }

  async prepare(ctx: EngineContext): Promise<void> {
    fs.mkdirSync(path.join(ctx.dataDir, 'tmp'), { recursive: true });
    if (process.getuid?.() === 0) fs.chownSync(path.join(ctx.dataDir, 'tmp'), ctx.user.uid, ctx.user.gid);
    const u = `${literal(ctx.secrets.username)}@'%'`;
    const sql = [
      `CREATE USER IF NOT EXISTS ${u} IDENTIFIED BY ${literal(ctx.secrets.password)};`,
      `ALTER USER ${u} IDENTIFIED BY ${literal(ctx.secrets.password)} ACCOUNT UNLOCK;`,
      `GRANT ALL PRIVILEGES ON *.* TO ${u} WITH GRANT OPTION;`,
      // Without it, read_only (on the read replicas) refuses this login's writes as everyone else's.
      `REVOKE READ_ONLY ADMIN ON *.* FROM ${u};`,
      `CREATE DATABASE IF NOT EXISTS ${ident(this.database(ctx.addon))};`,
      'FLUSH PRIVILEGES;',
    ].join('\n');
    writeOwned(path.join(ctx.dataDir, INIT_FILE), `${sql}\n`, ctx.user);
  }

  script(ctx: EngineContext): string {
    const m = ctx.mountPath;
    const d = `${m}/mysql`;
    const poolMb = Math.max(8, Math.floor(ctx.memoryMb / 4));
    return [
      'set -e',
      `export TMPDIR=${m}/tmp`,
      `if [ ! -d ${d}/mysql ]; then`,
      `  rm -rf ${d}.init`,
      `  ${INSTALL_DB} --no-defaults --datadir=${d}.init --auth-root-authentication-method=socket --skip-test-db >/dev/null`,
      `  mv ${d}.init ${d}`,
      'fi',
      `INIT=; [ -f ${m}/${INIT_FILE} ] && INIT=--init-file=${m}/${INIT_FILE}`,
      `exec ${SERVER} --no-defaults --datadir=${d} --tmpdir=${m}/tmp --bind-address=${ctx.host} --port=${ctx.addon.port} --socket=${m}/mysqld.sock --pid-file=${m}/mysqld.pid --skip-name-resolve --innodb-buffer-pool-size=${poolMb}M --performance-schema=OFF ${replicationOptions(ctx)}${ctx.tls ? ` --ssl-cert=${ctx.tls.certPath} --ssl-key=${ctx.tls.keyPath} --require-secure-transport=ON` : ''} $INIT`,
    ].join('\n');
  }

  private args(ctx: EngineContext, to: { host: string; port: number } = { host: ctx.host, port: ctx.addon.port }): string[] {
    return ['--no-defaults', '--protocol=tcp', '-h', to.host, '-P', String(to.port), '-u', ctx.secrets.username, ...(ctx.tls ? ['--ssl', `--ssl-ca=${ctx.tls.caFile}`] : [])];
  }

  private env(ctx: EngineContext): Record<string, string> {
    return { MYSQL_PWD: ctx.secrets.password };
  }

  private sql(ctx: EngineContext, statement: string, database?: string): Promise<string> {
    return run(CLIENT, [...this.args(ctx), '--batch', '--skip-column-names', '--connect-timeout=5', ...(database ? ['-D', database] : []), '-e', statement], { env: this.env(ctx), timeoutMs: 60_000 });
  }

  async ping(ctx: EngineContext): Promise<boolean> {
    try {
      return (await this.sql(ctx, 'SELECT 1')).trim() === '1';
    } catch {
      return false;
    }
  }

  async afterReady(ctx: EngineContext): Promise<void> {
    fs.rmSync(path.join(ctx.dataDir, INIT_FILE), { force: true });
    // A replica: seeded from the primary once, then following it (its database comes from there).
    if (ctx.replicaOf) return seedReplica(ctx, this.database(ctx.addon), (host, port) => this.args(ctx, { host, port }));
    await this.sql(ctx, `CREATE DATABASE IF NOT EXISTS ${ident(this.database(ctx.addon))}`);
  }

  followLogin(replica: EngineContext, login: AddonLogin): Promise<void> {
    return followWith(replica, login);
  }

  async dumpFrom(source: URL, file: string): Promise<void> {
    const db = decodeURIComponent(source.pathname.replace(/^\//, ''));
    if (!db) throw new Error('the connection string names no database');
    const args = ['--no-defaults', '--protocol=tcp', '-h', source.hostname, '-P', source.port || '3306', '-u', decodeURIComponent(source.username), '--single-transaction', '--routines', '--triggers', '--skip-lock-tables', db];
    await run(DUMP, args, { env: { MYSQL_PWD: decodeURIComponent(source.password) }, stdoutFile: file, timeoutMs: 60 * 60_000 });
  }

  readonly loginsPerServer = false;

  /** Statements with secrets in them go to the client on stdin, never its argument list. */
  private admin(ctx: EngineContext, statements: string[]): Promise<string> {
    return run(CLIENT, [...this.args(ctx), '--batch', '--skip-column-names', '--connect-timeout=5'], { env: this.env(ctx), stdin: `${statements.map((q) => `${q};`).join('\n')}\n`, timeoutMs: 60_000 });
  }

  async addLogin(ctx: EngineContext, login: AddonLogin): Promise<void> {
    const u = `${literal(login.username)}@'%'`;
    // The new login gets exactly the global privileges of the one granting them: ALL but READ_ONLY ADMIN for
    // a login made here (so read_only refuses its writes on the read replicas; a login cannot GRANT ALL then).
    const own = /^GRANT (.+?) ON \*\.\* TO /m.exec(await this.sql(ctx, 'SHOW GRANTS FOR CURRENT_USER()'));
    if (!own) throw new Error('the current login holds no global privileges to hand on');
    await this.admin(ctx, [
      `CREATE USER IF NOT EXISTS ${u} IDENTIFIED BY ${literal(login.password)}`,
      `ALTER USER ${u} IDENTIFIED BY ${literal(login.password)} ACCOUNT UNLOCK`,
      `GRANT ${own[1]} ON *.* TO ${u} WITH GRANT OPTION`,
      'FLUSH PRIVILEGES',
    ]);
  }

  async retireLogin(ctx: EngineContext, login: AddonLogin): Promise<void> {
    if (login.username === ctx.secrets.username) throw new Error('a login cannot retire itself');
    // Locked, with a password nobody knows: it cannot log in; then its open sessions end.
    // IF EXISTS: replicated to read replicas seeded after this login was made, which never had it.
    await this.admin(ctx, [`ALTER USER IF EXISTS ${literal(login.username)}@'%' IDENTIFIED BY ${literal(generatePassword())} ACCOUNT LOCK`, 'FLUSH PRIVILEGES']);
    const ids = await this.sql(ctx, `SELECT id FROM information_schema.processlist WHERE user = ${literal(login.username)}`);
    for (const id of ids.split('\n').filter((l) => /^\d+$/.test(l.trim()))) await this.sql(ctx, `KILL CONNECTION ${Number(id)}`).catch(() => {});
  }

  async dump(ctx: EngineContext, file: string): Promise<void> {
    await run(DUMP, [...this.args(ctx), '--single-transaction', '--routines', '--triggers', '--skip-lock-tables', this.database(ctx.addon)], { env: this.env(ctx), stdoutFile: file, timeoutMs: 30 * 60_000 });
  }

  private async tables(ctx: EngineContext, db: string): Promise<string[]> {
    const out = await this.sql(ctx, `SELECT table_name FROM information_schema.tables WHERE table_schema = ${literal(db)} AND table_type = 'BASE TABLE'`);
    return out.split('\n').filter(Boolean);
  }

  async restore(ctx: EngineContext, file: string, _server: ServerControl): Promise<void> {
    const db = this.database(ctx.addon);
    const fresh = `${db}__restore`;
    const old = `${db}__replaced`;
    await this.sql(ctx, `DROP DATABASE IF EXISTS ${ident(fresh)}; CREATE DATABASE ${ident(fresh)}`);
    try {
      await run(CLIENT, [...this.args(ctx), '-D', fresh], { env: this.env(ctx), stdinFile: file, timeoutMs: 30 * 60_000 });
    } catch (err) {
      await this.sql(ctx, `DROP DATABASE IF EXISTS ${ident(fresh)}`).catch(() => {});
      throw err;
    }
    // The swap: one RENAME TABLE moves every live table out and every restored one in, atomically.
    const live = await this.tables(ctx, db);
    const restored = await this.tables(ctx, fresh);
    await this.sql(ctx, `DROP DATABASE IF EXISTS ${ident(old)}; CREATE DATABASE ${ident(old)}`);
    const moves = [...live.map((t) => `${ident(db)}.${ident(t)} TO ${ident(old)}.${ident(t)}`), ...restored.map((t) => `${ident(fresh)}.${ident(t)} TO ${ident(db)}.${ident(t)}`)];
    if (moves.length) await this.sql(ctx, `SET FOREIGN_KEY_CHECKS=0; RENAME TABLE ${moves.join(', ')}`);
    await this.sql(ctx, `DROP DATABASE IF EXISTS ${ident(old)}; DROP DATABASE IF EXISTS ${ident(fresh)}`);
  }
}
