/**
 * Redis from Debian's redis-server. The dataset is `<data>/redis/dump.rdb` (RDB snapshots, saved on a
 * schedule and at shutdown); the configuration, with the password, is written for each start and removed
 * once the server answers. A dump is an RDB taken over the replication protocol (`redis-cli --rdb`); a
 * restore checks the file, then swaps data directories while the server is down, and swaps back if the
 * server does not come up on the restored data.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { AddonLogin, AddonRecord } from '../../domain/addons.ts';
import type { AddonEngine, EngineContext, ServerControl } from './engine.ts';
import { chown, run, versionLine, writeOwned } from './run.ts';

const SERVER = '/usr/bin/redis-server';
const CLI = '/usr/bin/redis-cli';
const CHECK_RDB = '/usr/bin/redis-check-rdb';
const CONF = 'redis.conf';

export class RedisEngine implements AddonEngine {
  readonly type = 'redis' as const;
  readonly name = 'Redis';
  readonly description = 'Redis implements a distributed, in-memory key-value database with optional durability.';
  readonly features = { backupsDump: true, customDBName: false, importDump: true, importLive: true, scaleReplicas: true, tls: true, externalAccess: false, forkAddon: false };
  readonly dumpExtension = 'rdb';
  private versions?: string[];

  installed(): string[] {
    if (this.versions) return this.versions;
    const m = /v=(\d+\.\d+\.\d+)/.exec(versionLine(SERVER) ?? '');
    this.versions = m ? [m[1]] : [];
    return this.versions;
  }

  database(_addon: AddonRecord): undefined {
    return undefined;
  }

  async prepare(ctx: EngineContext): Promise<void> {
    const dir = path.join(ctx.dataDir, 'redis');
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    chown(dir, ctx.user);
    const maxMemoryMb = Math.max(16, Math.floor(ctx.memoryMb * 0.75));
    const policy = String(ctx.addon.spec.typeSpecificSettings?.redisMaxMemoryPolicy ?? 'noeviction');
    const conf = [
      `bind ${ctx.host}`,
      // With TLS the port takes TLS connections only (clients are not asked for certificates).
      ...(ctx.tls
        ? ['port 0', `tls-port ${ctx.addon.port}`, `tls-cert-file ${ctx.tls.certPath}`, `tls-key-file ${ctx.tls.keyPath}`, `tls-ca-cert-file ${ctx.tls.certPath}`, 'tls-auth-clients no', ...(ctx.replicaOf ? ['tls-replication yes'] : [])]
        : [`port ${ctx.addon.port}`]),
      'protected-mode yes',
      'daemonize no',
      'logfile ""',
      `dir ${ctx.mountPath}/redis`,
      'dbfilename dump.rdb',
      'appendonly no',
      'save 3600 1 300 100 60 10000',
      `maxmemory ${maxMemoryMb}mb`,
      `maxmemory-policy ${policy}`,
      // The default user's passwords: the current one, and one a rotation replaced while it is retiring (the
      // generated ones are alphanumeric, so no quoting is needed).
      `user default on resetpass >${ctx.secrets.password}${ctx.secrets.retiring ? ` >${ctx.secrets.retiring.password}` : ''} ~* &* +@all`,
      ...(ctx.replicaOf ? [`replicaof ${ctx.replicaOf.host} ${ctx.replicaOf.port}`, `masterauth "${ctx.secrets.password}"`, 'replica-read-only yes'] : []),
    ].join('\n');
    writeOwned(path.join(ctx.dataDir, CONF), `${conf}\n`, ctx.user);
  }

  script(ctx: EngineContext): string {
    return ['set -e', `exec ${SERVER} ${ctx.mountPath}/${CONF}`].join('\n');
  }

  /** redis-cli's arguments to reach the server (over TLS, checked against the addon's certificate). */
  private target(ctx: EngineContext): string[] {
    return ['-h', ctx.host, '-p', String(ctx.addon.port), '--no-auth-warning', ...(ctx.tls ? ['--tls', '--cacert', ctx.tls.caFile] : [])];
  }

  private cli(ctx: EngineContext, args: string[], timeoutMs = 30_000): Promise<string> {
    return run(CLI, [...this.target(ctx), ...args], { env: { REDISCLI_AUTH: ctx.secrets.password }, timeoutMs });
  }

  async ping(ctx: EngineContext): Promise<boolean> {
    try {
      return (await this.cli(ctx, ['ping'], 5000)).trim() === 'PONG';
    } catch {
      return false;
    }
  }

  async afterReady(ctx: EngineContext): Promise<void> {
    fs.rmSync(path.join(ctx.dataDir, CONF), { force: true });
  }

  async dumpFrom(source: URL, file: string): Promise<void> {
    const user = decodeURIComponent(source.username);
    const args = ['-h', source.hostname, '-p', source.port || '6379', '--no-auth-warning', ...(user && user !== 'default' ? ['--user', user] : []), '--rdb', file];
    await run(CLI, args, { env: source.password ? { REDISCLI_AUTH: decodeURIComponent(source.password) } : {}, timeoutMs: 60 * 60_000 });
  }

  readonly loginsPerServer = true;

  /** A command that carries a password goes to redis-cli on stdin, never its argument list. */
  private async command(ctx: EngineContext, line: string): Promise<void> {
    const out = (await run(CLI, this.target(ctx), { env: { REDISCLI_AUTH: ctx.secrets.password }, stdin: `${line}\n`, timeoutMs: 30_000 })).trim();
    if (out !== 'OK') throw new Error(`redis refused ${line.split(' ').slice(0, 2).join(' ')}: ${out.slice(0, 200)}`);
  }

  async addLogin(ctx: EngineContext, login: AddonLogin): Promise<void> {
    // Redis' users hold several passwords: the new one is added, the current one keeps working.
    await this.command(ctx, `ACL SETUSER default on >${login.password}`);
  }

  async retireLogin(ctx: EngineContext, login: AddonLogin): Promise<void> {
    if (login.password === ctx.secrets.password) throw new Error('a login cannot retire itself');
    await this.command(ctx, `ACL SETUSER default <${login.password}`);
  }

  async followLogin(replica: EngineContext, login: AddonLogin): Promise<void> {
    if (replica.replicaOf) await this.command(replica, `CONFIG SET masterauth ${login.password}`);
  }

  async dump(ctx: EngineContext, file: string): Promise<void> {
    await this.cli(ctx, ['--rdb', file], 30 * 60_000);
  }

  async restore(ctx: EngineContext, file: string, server: ServerControl): Promise<void> {
    // A file redis could not load is refused before anything is touched.
    if (fs.existsSync(CHECK_RDB)) await run(CHECK_RDB, [file], { timeoutMs: 10 * 60_000 });
    const live = path.join(ctx.dataDir, 'redis');
    const next = `${live}.restore`;
    const prev = `${live}.replaced`;
    fs.rmSync(next, { recursive: true, force: true });
    fs.rmSync(prev, { recursive: true, force: true });
    fs.mkdirSync(next, { mode: 0o700 });
    fs.copyFileSync(file, path.join(next, 'dump.rdb'));
    chown(next, ctx.user);
    chown(path.join(next, 'dump.rdb'), ctx.user);
    await server.stop();
    fs.renameSync(live, prev);
    fs.renameSync(next, live);
    try {
      await server.start();
    } catch (err) {
      await server.stop();
      fs.rmSync(live, { recursive: true, force: true });
      fs.renameSync(prev, live);
      await server.start();
      throw err;
    }
    fs.rmSync(prev, { recursive: true, force: true });
  }
}
