/**
 * MariaDB read replicas of a `mysql` addon: binlog + GTID replication from the primary. The primary always
 * writes its binary log (`mysql-bin`, row format, kept one day), so adding a replica never restarts it. A
 * replica is its own server (own data directory, port and server id, `read_only`), started like the
 * primary; once it answers it is seeded (`seedReplica`): a consistent dump of the addon's database taken
 * from the primary with the GTID position it stands at (`mariadb-dump --single-transaction --master-data=2
 * --gtid`: a brief global read lock while the dump starts, no restart), loaded into the replica, which then
 * follows the primary from that position (`MASTER_USE_GTID=slave_pos`) and reconnects by itself after a
 * restart. slipway administers a replica as the database's socket-authenticated local superuser (root when
 * slipway runs as root, else slipway's own user: mariadb-install-db makes both), over the replica's socket in
 * its data directory, so the addon's login needs no extra privilege there.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { AddonLogin } from '../../domain/addons.ts';
import type { EngineContext } from './engine.ts';
import { run } from './run.ts';

const CLIENT = '/usr/bin/mariadb';
const DUMP = '/usr/bin/mariadb-dump';

/** A quoted string literal. */
function literal(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

/** The server options that make a primary (binlog on, server id 1) or a read replica (its port as its id). */
export function replicationOptions(ctx: EngineContext): string {
  if (!ctx.replicaOf) return '--server-id=1 --log-bin=mysql-bin --binlog-format=ROW --expire-logs-days=1';
  return `--server-id=${ctx.addon.port} --read-only=ON --relay-log=relay-bin`;
}

/** Statements run on a replica as its local superuser, over its socket; fed on stdin (they may hold a password). */
function local(ctx: EngineContext, statements: string[]): Promise<string> {
  const args = ['--no-defaults', '--protocol=socket', `--socket=${path.join(ctx.dataDir, 'mysqld.sock')}`, '-u', os.userInfo().username, '--batch', '--connect-timeout=5'];
  return run(CLIENT, args, { stdin: `${statements.map((q) => `${q};`).join('\n')}\n`, timeoutMs: 60_000 });
}

/** Whether the replica already follows a primary (it was seeded). */
async function isFollowing(ctx: EngineContext): Promise<boolean> {
  return (await local(ctx, ['SHOW SLAVE STATUS'])).trim().split('\n').length > 1;
}

function changeMaster(ctx: EngineContext, login: AddonLogin): string {
  const { host, port } = ctx.replicaOf!;
  return `CHANGE MASTER TO MASTER_HOST=${literal(host)}, MASTER_PORT=${port}, MASTER_USER=${literal(login.username)}, MASTER_PASSWORD=${literal(login.password)}, MASTER_USE_GTID=slave_pos${ctx.tls ? ', MASTER_SSL=1' : ''}`;
}

/**
 * Once the replica answers: seed it if it follows no primary yet. (The addon's logins lack READ_ONLY ADMIN,
 * here as on the primary, so `read_only` refuses their writes.)
 */
export async function seedReplica(ctx: EngineContext, database: string, clientArgs: (host: string, port: number) => string[]): Promise<void> {
  if (!ctx.replicaOf) return;
  if (!(await isFollowing(ctx))) {
    const seed = path.join(ctx.dataDir, '.seed.sql');
    try {
      try {
        await run(DUMP, [...clientArgs(ctx.replicaOf.host, ctx.replicaOf.port), '--single-transaction', '--master-data=2', '--gtid', '--routines', '--triggers', '--databases', database], { env: { MYSQL_PWD: ctx.secrets.password }, stdoutFile: seed, timeoutMs: 60 * 60_000 });
      } catch (err) {
        if (/[Bb]inlog/.test((err as Error).message)) throw new Error('the primary runs without its binary log (it was started before replicas were possible here): restart the addon once', { cause: err });
        throw err;
      }
      const head = fs.readFileSync(seed, 'utf8').slice(0, 64 * 1024);
      const gtid = /gtid_slave_pos\s*=\s*'([^']*)'/.exec(head);
      if (!gtid) throw new Error('the dump of the primary carries no GTID position');
      await run(CLIENT, ['--no-defaults', '--protocol=socket', `--socket=${path.join(ctx.dataDir, 'mysqld.sock')}`, '-u', os.userInfo().username], { stdinFile: seed, timeoutMs: 60 * 60_000 });
      await local(ctx, ['STOP SLAVE', `SET GLOBAL gtid_slave_pos = ${literal(gtid[1])}`, changeMaster(ctx, ctx.secrets), 'START SLAVE']);
    } finally {
      fs.rmSync(seed, { force: true });
    }
  }
}

/** A replica told to connect to its primary with `login` from now on (after a rotation). */
export async function followWith(ctx: EngineContext, login: AddonLogin): Promise<void> {
  if (!ctx.replicaOf || !(await isFollowing(ctx))) return;
  await local(ctx, ['STOP SLAVE', changeMaster(ctx, login), 'START SLAVE']);
}
