/**
 * Addons with `tlsEnabled`, through the official client, running the real servers with the certificate slipway
 * generates: the credentials carry the TLS flag (`sslmode=require`, `ssl-mode=REQUIRED`, `rediss://`); real
 * clients connect over TLS (psql with the URI as given; `pg`, `mysql2` and ioredis checking the server against
 * the addon's certificate); a connection without TLS is refused; a dump and its restore run over TLS; TLS cannot
 * be switched by a patch (422 naming `tlsEnabled`).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import mysql from 'mysql2/promise';
import { Redis } from 'ioredis';
import type { ApiClient } from '@northflank/js-client';
import { api, northflankClient, startTestPlatform, type RunningPlatform } from './support/platform.ts';
import { backupAndWait, restoreAndWait, waitForAddonStatus } from './support/addons.ts';

const P = 'secure';
const billing = { deploymentPlan: 'nf-compute-20', storage: 1024, replicas: 1 };

describe('addons with TLS', () => {
  let p: RunningPlatform;
  let client: ApiClient;
  const secrets = async (addonId: string) => (await client.get.addon.credentials({ parameters: { projectId: P, addonId } })).data.secrets as Record<string, string>;
  const ca = (addonId: string) => fs.readFileSync(path.join(p.dataDir, 'addons', P, addonId, 'tls', 'server.crt'), 'utf8');

  before(async () => {
    p = await startTestPlatform();
    client = await northflankClient(p);
    await client.create.project({ data: { name: P } });
    for (const [name, type] of [['pg-tls', 'postgresql'], ['kv-tls', 'redis'], ['my-tls', 'mysql']] as const) {
      const made = await client.create.addon({ parameters: { projectId: P }, data: { name, type, version: 'latest', billing, tlsEnabled: true } });
      assert.equal((made.data as { tlsEnabled?: boolean }).tlsEnabled, true);
    }
    for (const a of ['pg-tls', 'kv-tls', 'my-tls']) await waitForAddonStatus(client, P, a, 'running');
  });
  after(async () => {
    await p?.stop();
  });

  it('PostgreSQL: the URI asks for TLS, clients connect over it, a connection without it is refused', async () => {
    const s = await secrets('pg-tls');
    assert.equal(s.tlsEnabled, 'true');
    assert.match(s.postgresUri, /\?sslmode=require$/);
    // libpq's own client with the URI exactly as handed out.
    const { stdout } = await promisify(execFile)('psql', [s.postgresUri, '-Atc', 'SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()']);
    assert.equal(stdout.trim(), 't');
    // node-postgres, checking the server against the addon's certificate.
    const c = new pg.Client({ host: s.host, port: Number(s.port), user: s.username, password: s.password, database: s.database, ssl: { ca: ca('pg-tls') } });
    await c.connect();
    await c.query('CREATE TABLE t (v text)');
    await c.query("INSERT INTO t VALUES ('over tls')");
    await c.end();
    const plain = new pg.Client({ host: s.host, port: Number(s.port), user: s.username, password: s.password, database: s.database, ssl: false });
    plain.on('error', () => {});
    await assert.rejects(plain.connect(), /no pg_hba.conf entry|no encryption/);
  });

  it('PostgreSQL: a dump and its restore run over TLS', async () => {
    const s = await secrets('pg-tls');
    const q = async (sql: string) => {
      const c = new pg.Client({ host: s.host, port: Number(s.port), user: s.username, password: s.password, database: s.database, ssl: { ca: ca('pg-tls') } });
      await c.connect();
      try {
        return (await c.query(sql)).rows;
      } finally {
        await c.end();
      }
    };
    const backupId = await backupAndWait(client, P, 'pg-tls', 'over tls');
    await q("INSERT INTO t VALUES ('later')");
    const r = await restoreAndWait(client, P, 'pg-tls', backupId);
    assert.equal(r.status, 'completed', JSON.stringify(r));
    assert.deepEqual((await q('SELECT v FROM t')).map((x) => x.v), ['over tls']);
  });

  it('Redis: a rediss:// URL, ioredis over TLS, a plain connection refused', async () => {
    const s = await secrets('kv-tls');
    assert.match(s.redisMasterUrl, /^rediss:\/\/default:/);
    const r = new Redis(s.redisMasterUrl, { tls: { ca: ca('kv-tls') }, lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => null });
    r.on('error', () => {});
    await r.connect();
    await r.set('k', 'over tls');
    assert.equal(await r.get('k'), 'over tls');
    r.disconnect();
    const plain = new Redis({ host: s.host, port: Number(s.port), password: s.password, lazyConnect: true, maxRetriesPerRequest: 0, connectTimeout: 5000, retryStrategy: () => null });
    plain.on('error', () => {});
    await assert.rejects(plain.connect());
    plain.disconnect();
  });

  it('MySQL: the URI asks for TLS, mysql2 connects over it, a plain connection is refused', async () => {
    const s = await secrets('my-tls');
    assert.match(s.mysqlUri, /\?ssl-mode=REQUIRED$/);
    const base = { host: s.host, port: Number(s.port), user: s.username, password: s.password, database: s.database };
    const c = await mysql.createConnection({ ...base, ssl: { ca: ca('my-tls') } });
    const [rows] = await c.query("SHOW SESSION STATUS LIKE 'Ssl_cipher'");
    assert.ok((rows as { Value: string }[])[0].Value, 'a TLS cipher in use');
    const [vars] = await c.query("SHOW GLOBAL VARIABLES LIKE 'require_secure_transport'");
    assert.equal((vars as { Value: string }[])[0].Value, 'ON');
    await c.end();
    // The same credentials without TLS are refused (MariaDB 10.11 under require_secure_transport answers a
    // plain login with 'Access denied'; later versions name the insecure transport).
    await assert.rejects(mysql.createConnection({ ...base, ssl: undefined }), /secure transport|insecure transport|Access denied/i);
  });

  it('refuses to switch TLS on an existing addon, naming the field', async () => {
    const res = await api(p, 'PATCH', `/v1/projects/${P}/addons/kv-tls`, { tlsEnabled: false });
    assert.equal(res.status, 422, JSON.stringify(res.body));
    assert.ok(res.body.error.details?.tlsEnabled, JSON.stringify(res.body));
  });
});
