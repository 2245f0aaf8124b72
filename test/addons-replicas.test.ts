/**
 * Read replicas through the official client: a PostgreSQL addon with a streaming replica and a Redis addon
 * with a replica, each read back from the replica after a write on the primary, refused for writes, and
 * scaled back down (the replica stops and its data goes); a MySQL (MariaDB) addon scaled to two replicas while
 * writes go on (the primary never stops), read back from each, through a rotation, and scaled down; and a
 * TLS-only MySQL primary replicated over TLS.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { Redis } from 'ioredis';
import mysql from 'mysql2/promise';
import type { ApiClient } from '@northflank/js-client';
import { api, instancePids, northflankClient, startTestPlatform, waitFor, type RunningPlatform } from './support/platform.ts';
import { waitForAddonStatus } from './support/addons.ts';

const P = 'replicated';
/** The container name of an addon's primary server (its read replicas end in --1, --2). */
const addonServer = (addonId: string) => `addon--${P}--${addonId}--0`;

describe('addon read replicas', () => {
  let p: RunningPlatform;
  let client: ApiClient;

  const running = async (addonId: string, n: number) =>
    waitFor(async () => {
      const c = (await client.get.addon.containers({ parameters: { projectId: P, addonId } })).data.containers!;
      return c.length === n && c.every((x) => x.status === 'TASK_RUNNING') ? c : undefined;
    }, 180_000, `${n} running servers of ${addonId}`);

  before(async () => {
    p = await startTestPlatform();
    client = await northflankClient(p);
    await client.create.project({ data: { name: P } });
  });
  after(async () => {
    await p?.stop();
  });

  it('streams a PostgreSQL primary to a read-only replica', async () => {
    await client.create.addon({ parameters: { projectId: P }, data: { name: 'pgsql', type: 'postgresql', version: 'latest', billing: { deploymentPlan: 'nf-compute-20', storage: 1024, replicas: 2 } } });
    await waitForAddonStatus(client, P, 'pgsql', 'running');
    await running('pgsql', 2);
    const creds = (await client.get.addon.credentials({ parameters: { projectId: P, addonId: 'pgsql' } })).data.secrets;
    assert.ok(creds.postgresUriRead, JSON.stringify(Object.keys(creds)));
    const primary = new pg.Client({ connectionString: creds.postgresUri });
    await primary.connect();
    await primary.query('CREATE TABLE t (v text)');
    await primary.query("INSERT INTO t VALUES ('written on the primary')");
    await primary.end();
    const rows = await waitFor(async () => {
      const replica = new pg.Client({ connectionString: creds.postgresUriRead, connectionTimeoutMillis: 5000 });
      try {
        await replica.connect();
        const r = await replica.query('SELECT v FROM t');
        return r.rows.length ? r.rows : undefined;
      } finally {
        await replica.end().catch(() => {});
      }
    }, 120_000, 'the row on the replica');
    assert.deepEqual(rows, [{ v: 'written on the primary' }]);
    const replica = new pg.Client({ connectionString: creds.postgresUriRead });
    await replica.connect();
    await assert.rejects(replica.query("INSERT INTO t VALUES ('no')"), /read-only/);
    await replica.end();

    await client.scale.addon({ parameters: { projectId: P, addonId: 'pgsql' }, data: { replicas: 1 } });
    await running('pgsql', 1);
    await waitFor(() => !fs.existsSync(path.join(p.dataDir, 'addons', P, 'pgsql', 'replica-1')), 60_000, 'replica data removed');
    const after_ = (await client.get.addon.credentials({ parameters: { projectId: P, addonId: 'pgsql' } })).data.secrets;
    assert.equal(after_.postgresUriRead, undefined);
  });

  it('replicates Redis to a read-only replica', async () => {
    await client.create.addon({ parameters: { projectId: P }, data: { name: 'cache', type: 'redis', version: 'latest', billing: { deploymentPlan: 'nf-compute-10', storage: 1024, replicas: 2 } } });
    await waitForAddonStatus(client, P, 'cache', 'running');
    await running('cache', 2);
    const creds = (await client.get.addon.credentials({ parameters: { projectId: P, addonId: 'cache' } })).data.secrets;
    const open = async (url: string) => {
      const r = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => null });
      r.on('error', () => {});
      await r.connect();
      return r;
    };
    const primary = await open(creds.redisMasterUrl);
    await primary.set('k', 'v');
    primary.disconnect();
    // A replica's container is TASK_RUNNING once its process runs, before its server listens (replicas never
    // hold up the addon's status): each attempt opens a fresh connection, as the PostgreSQL case does. (A
    // refused connection fails ioredis' connect() with "Connection is closed." when it may not retry.)
    const replica = await waitFor(async () => {
      const r = await open(creds.redisReplicaUrl).catch(() => undefined);
      if (r && (await r.get('k').catch(() => undefined)) === 'v') return r;
      r?.disconnect();
      return undefined;
    }, 60_000, 'the key on the replica');
    await assert.rejects(replica.set('k', 'w'), /READONLY/);
    replica.disconnect();
  });

  it('replicates a MySQL (MariaDB) primary to read-only replicas by binlog and GTID, and scales them without stopping the primary', async () => {
    await client.create.addon({ parameters: { projectId: P }, data: { name: 'shop', type: 'mysql', version: 'latest', billing: { deploymentPlan: 'nf-compute-20', storage: 1024, replicas: 1 } } });
    await waitForAddonStatus(client, P, 'shop', 'running');
    const parameters = { projectId: P, addonId: 'shop' };
    const before = (await client.get.addon.credentials({ parameters })).data.secrets;
    assert.equal(before.mysqlUriRead, undefined, 'no replica, no read URI');
    const query = async (uri: string, sql: string) => {
      const c = await mysql.createConnection({ uri, connectTimeout: 5000 });
      try {
        return (await c.query(sql))[0] as Record<string, unknown>[];
      } finally {
        await c.end();
      }
    };
    // Written before any replica exists: the replica is seeded from the primary with it.
    await query(before.mysqlUri, 'CREATE TABLE t (id int AUTO_INCREMENT PRIMARY KEY, v varchar(50))');
    await query(before.mysqlUri, "INSERT INTO t (v) VALUES ('before the replica')");
    const primaryPid = instancePids(p.dataDir, (await running('shop', 1))[0].name);

    // Scaling up while writes go on: the primary keeps taking them (it is not restarted).
    let writes = 0;
    const failures: string[] = [];
    let writing = true;
    const writer = (async () => {
      while (writing) {
        try {
          await query(before.mysqlUri, `INSERT INTO t (v) VALUES ('during the scale ${writes}')`);
          writes++;
        } catch (err) {
          failures.push((err as Error).message);
        }
      }
    })();
    await client.scale.addon({ parameters, data: { replicas: 3 } });
    const servers = await running('shop', 3);
    const creds = await waitFor(async () => {
      const c = (await client.get.addon.credentials({ parameters })).data.secrets;
      return c.mysqlUriRead ? c : undefined;
    }, 60_000, 'the read URI');
    writing = false;
    await writer;
    assert.deepEqual(failures, [], 'every write during the scale succeeded');
    assert.ok(writes > 0);
    assert.deepEqual(instancePids(p.dataDir, servers.find((x) => x.name === addonServer('shop'))!.name), primaryPid, 'the primary was not restarted');
    await query(creds.mysqlUri, "INSERT INTO t (v) VALUES ('after the scale')");
    const want = (await query(creds.mysqlUri, 'SELECT id, v FROM t ORDER BY id')).map((r) => `${r.id}:${r.v}`);
    // Every replica serves exactly the committed rows (READ_PORTS lists them; MYSQL_URI_READ is the first).
    const readPorts = String(creds.readPorts).split(',');
    assert.equal(readPorts.length, 2);
    assert.ok(String(creds.mysqlUriRead).includes(`:${readPorts[0]}/`));
    for (const port of readPorts) {
      const uri = creds.mysqlUri.replace(`:${creds.port}/`, `:${port}/`);
      const rows = await waitFor(async () => {
        const got = (await query(uri, 'SELECT id, v FROM t ORDER BY id').catch(() => [])).map((r) => `${r.id}:${r.v}`);
        return got.length === want.length ? got : undefined;
      }, 120_000, `the rows on the replica at ${port}`);
      assert.deepEqual(rows, want);
      await assert.rejects(query(uri, "INSERT INTO t (v) VALUES ('on a replica')"), /read-only|READ.ONLY/i);
    }

    // Rotation: the replicas follow the primary with the new login, and keep replicating.
    const rotated = await api(p, 'POST', `/projects/${P}/addons/shop/credentials/rotate`);
    assert.equal(rotated.status, 202, JSON.stringify(rotated.body));
    await waitFor(async () => (await api(p, 'GET', `/projects/${P}/addons/shop/credentials/rotation`)).body.state === 'idle', 120_000, 'rotation over');
    const now = (await client.get.addon.credentials({ parameters })).data.secrets;
    await query(now.mysqlUri, "INSERT INTO t (v) VALUES ('after the rotation')");
    await waitFor(async () => (await query(now.mysqlUriRead, "SELECT v FROM t WHERE v = 'after the rotation'").catch(() => [])).length === 1, 120_000, 'the write after the rotation on the replica');

    // Scaling down: the surplus replicas stop and their data goes; the primary keeps serving.
    await client.scale.addon({ parameters, data: { replicas: 1 } });
    await running('shop', 1);
    await waitFor(() => !fs.existsSync(path.join(p.dataDir, 'addons', P, 'shop', 'replica-1')) && !fs.existsSync(path.join(p.dataDir, 'addons', P, 'shop', 'replica-2')), 60_000, 'replica data removed');
    assert.equal((await client.get.addon.credentials({ parameters })).data.secrets.mysqlUriRead, undefined);
    await query(now.mysqlUri, "INSERT INTO t (v) VALUES ('after the scale down')");
    assert.equal((await query(now.mysqlUri, 'SELECT COUNT(*) AS n FROM t'))[0].n, want.length + 2);
  });

  it('replicates a TLS-only MySQL (MariaDB) primary to its replica over TLS', async () => {
    await client.create.addon({ parameters: { projectId: P }, data: { name: 'shop-tls', type: 'mysql', version: 'latest', tlsEnabled: true, billing: { deploymentPlan: 'nf-compute-20', storage: 1024, replicas: 2 } } });
    await waitForAddonStatus(client, P, 'shop-tls', 'running');
    await running('shop-tls', 2);
    const s = await waitFor(async () => {
      const c = (await client.get.addon.credentials({ parameters: { projectId: P, addonId: 'shop-tls' } })).data.secrets;
      return c.mysqlUriRead ? c : undefined;
    }, 60_000, 'the read URI');
    assert.match(s.mysqlUriRead, /\?ssl-mode=REQUIRED$/);
    const ssl = { ca: fs.readFileSync(path.join(p.dataDir, 'addons', P, 'shop-tls', 'tls', 'server.crt'), 'utf8') };
    const base = { host: s.host, user: s.username, password: s.password, database: s.database, ssl, connectTimeout: 5000 };
    const primary = await mysql.createConnection({ ...base, port: Number(s.port) });
    await primary.query('CREATE TABLE t (v varchar(50))');
    await primary.query("INSERT INTO t VALUES ('over TLS')");
    await primary.end();
    const rows = await waitFor(async () => {
      const c = await mysql.createConnection({ ...base, port: Number(String(s.readPorts).split(',')[0]) }).catch(() => undefined);
      if (!c) return undefined;
      try {
        const [r] = await c.query('SELECT v FROM t').catch(() => [[]]);
        return (r as unknown[]).length ? r : undefined;
      } finally {
        await c.end();
      }
    }, 120_000, 'the row on the TLS replica');
    assert.deepEqual(rows, [{ v: 'over TLS' }]);
  });

  it('refuses replicas out of range, naming the field', async () => {
    const res = await api(p, 'POST', `/v1/projects/${P}/addons`, { name: 'mysql-db', type: 'mysql', version: 'latest', billing: { deploymentPlan: 'nf-compute-20', storage: 1024, replicas: 4 } });
    assert.equal(res.status, 400);
    assert.ok(res.body.error.details['billing.replicas'], JSON.stringify(res.body));
  });
});
