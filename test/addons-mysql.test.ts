/**
 * A MySQL addon (served by MariaDB) through the official Northflank client, running the real server:
 * created, reached with its credentials by the mysql2 client, backed up, written to, restored to exactly
 * the backed-up rows, paused and resumed with the data kept. A backup of another type is refused by field.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { execFileSync } from 'node:child_process';
import zlib from 'node:zlib';
import path from 'node:path';
import mysql from 'mysql2/promise';
import type { ApiClient } from '@northflank/js-client';
import { api, instancePids, northflankClient, startTestPlatform, waitFor, type RunningPlatform } from './support/platform.ts';
import { backupAndWait, restoreAndWait, rotateAndWait, waitForAddonStatus } from './support/addons.ts';

const P = 'mydata';
const A = 'shop-db';

describe('MySQL addon (MariaDB)', () => {
  let p: RunningPlatform;
  let client: ApiClient;
  let uri: string;

  const query = async (sql: string) => {
    const c = await mysql.createConnection({ uri, connectTimeout: 10_000 });
    try {
      const [rows] = await c.query(sql);
      return rows as Record<string, unknown>[];
    } finally {
      await c.end();
    }
  };
  const names = async () => (await query('SELECT name FROM items ORDER BY id')).map((r) => r.name as string);

  before(async () => {
    p = await startTestPlatform();
    client = await northflankClient(p);
    await client.create.project({ data: { name: P } });
  });
  after(async () => {
    await p?.stop();
  });

  it('creates the addon with a custom database name and hands out working credentials', async () => {
    const types = (await client.get.addon.types({})).data.addonTypes as { type: string; name: string; versions: string[] }[];
    const t = types.find((x) => x.type === 'mysql')!;
    assert.match(t.name, /MariaDB/);
    await client.create.addon({
      parameters: { projectId: P },
      data: { name: A, type: 'mysql', version: 'latest', billing: { deploymentPlan: 'nf-compute-20', storage: 1024, replicas: 1 }, customCredentials: { dbName: 'shop' } },
    });
    const running = await waitForAddonStatus(client, P, A, 'running');
    assert.equal(running.spec.config.versionTag, t.versions[0]);
    const creds = (await client.get.addon.credentials({ parameters: { projectId: P, addonId: A } })).data;
    uri = creds.secrets.mysqlUri;
    assert.ok(uri.startsWith('mysql://') && uri.endsWith('/shop'), 'a mysql URI to the custom database');
    await query('CREATE TABLE items (id int AUTO_INCREMENT PRIMARY KEY, name varchar(50) NOT NULL)');
    await query("INSERT INTO items (name) VALUES ('one'), ('two')");
    assert.deepEqual(await names(), ['one', 'two']);
  });

  it('restores a dump to exactly the backed-up data', async () => {
    const backupId = await backupAndWait(client, P, A, 'shop before');
    await query("INSERT INTO items (name) VALUES ('three')");
    await query('DELETE FROM items WHERE name = "one"');
    await query('CREATE TABLE extra (x int)');
    const restore = await restoreAndWait(client, P, A, backupId);
    assert.equal(restore.status, 'completed', JSON.stringify(restore));
    assert.deepEqual(await names(), ['one', 'two']);
    assert.equal((await query("SHOW TABLES LIKE 'extra'")).length, 0, 'a table made after the backup is gone');
  });

  it('restores a snapshot of the server\'s files', async () => {
    const b = await client.backup.addon({ parameters: { projectId: P, addonId: A }, data: { backupType: 'snapshot' } });
    const snap = await waitFor(async () => {
      const r = (await client.get.addon.backup({ parameters: { projectId: P, addonId: A, backupId: b.data.id } })).data;
      return r.status === 'completed' || r.status === 'failed' ? r : undefined;
    }, 180_000, 'snapshot');
    assert.equal(snap.status, 'completed', JSON.stringify(snap));
    await waitForAddonStatus(client, P, A, 'running');
    await query("INSERT INTO items (name) VALUES ('after snapshot')");
    const restore = await restoreAndWait(client, P, A, b.data.id);
    assert.equal(restore.status, 'completed', JSON.stringify(restore));
    await waitForAddonStatus(client, P, A, 'running');
    assert.deepEqual(await names(), ['one', 'two']);
  });

  it('refuses to restore a backup of another addon type, naming the backup', async () => {
    await client.create.addon({ parameters: { projectId: P }, data: { name: 'cache', type: 'redis', version: 'latest', billing: { deploymentPlan: 'nf-compute-10', storage: 1024, replicas: 1 } } });
    await waitForAddonStatus(client, P, 'cache', 'running');
    const redisBackup = await backupAndWait(client, P, 'cache', 'cache backup');
    const res = await api(p, 'POST', `/v1/projects/${P}/addons/${A}/backups/${redisBackup}/restore?sourceAddonId=cache`);
    assert.equal(res.status, 400, JSON.stringify(res.body));
    assert.ok(res.body.error.details.backupId, JSON.stringify(res.body));
    const notNamed = await api(p, 'POST', `/v1/projects/${P}/addons/${A}/backups/${redisBackup}/restore`);
    assert.equal(notNamed.status, 400, JSON.stringify(notNamed.body));
    assert.ok(notNamed.body.error.details.backupId);
    assert.equal((await client.get.addon.restores({ parameters: { projectId: P, addonId: A } })).data.restores.length, 2, 'no restore recorded for the refused ones');
  });

  it('imports an uploaded mysqldump file (gzipped), and refuses a Redis RDB upload by field with the data kept', async () => {
    // The dump is made outside slipway, by MariaDB's own mysqldump against the addon, then the data changes.
    const creds = (await client.get.addon.credentials({ parameters: { projectId: P, addonId: A } })).data.secrets;
    const dump = execFileSync('/usr/bin/mysqldump', ['-h', '127.0.0.1', '-P', String(creds.port), '-u', creds.username, '--single-transaction', creds.database], { env: { ...process.env, MYSQL_PWD: creds.password }, maxBuffer: 64 * 1048576 });
    assert.match(dump.toString(), /CREATE TABLE `items`/);
    await query("INSERT INTO items (name) VALUES ('after the dump')");
    await query('CREATE TABLE later (x int)');

    const parameters = { projectId: P, addonId: A };
    const before = (await client.get.addon.backups({ parameters })).data.backups.length;
    const cacheBackups = (await client.get.addon.backups({ parameters: { projectId: P, addonId: 'cache' } })).data.backups;
    const rdb = Buffer.from(await (await fetch(`${p.apiUrl}/v1/projects/${P}/addons/cache/backups/${cacheBackups[0].id}/download`, { headers: { authorization: `Bearer ${p.token}` } })).arrayBuffer());
    assert.equal(rdb.subarray(0, 5).toString(), 'REDIS');
    const refused = await api(p, 'POST', `/v1/projects/${P}/addons/${A}/import/upload`, undefined, { raw: rdb, contentType: 'application/octet-stream' });
    assert.equal(refused.status, 400, JSON.stringify(refused.body));
    assert.match(String(refused.body.error.details?.file), /not a MySQL\/MariaDB SQL dump/);
    assert.equal((await client.get.addon.backups({ parameters })).data.backups.length, before, 'nothing made');
    assert.deepEqual(await names(), ['one', 'two', 'after the dump'], 'the data as it was');

    const made = await api(p, 'POST', `/v1/projects/${P}/addons/${A}/import/upload?name=shop%20upload`, undefined, { raw: zlib.gzipSync(dump), contentType: 'application/gzip' });
    assert.equal(made.status, 200, JSON.stringify(made.body));
    const restore = await waitFor(async () => {
      const r = (await client.get.addon.restores({ parameters })).data.restores.find((x) => x.id === made.body.data.restoreId);
      return r && (r.status === 'completed' || r.status === 'failed') ? r : undefined;
    }, 180_000, 'the upload restored');
    assert.equal(restore.status, 'completed', JSON.stringify(restore));
    const backup = (await client.get.addon.backup({ parameters: { ...parameters, backupId: made.body.data.backupId } })).data;
    assert.equal(backup.config.source?.type, 'fileUpload');
    assert.deepEqual(await names(), ['one', 'two'], "exactly the dump's rows");
    assert.equal((await query("SHOW TABLES LIKE 'later'")).length, 0, 'a table made after the dump is gone');
  });

  it('rotates the credentials to the other login: it works, the replaced one is retired', async () => {
    const { before, after } = await rotateAndWait(p, client, P, A, 'mysqlUri');
    uri = after;
    assert.notEqual(new URL(after).username, new URL(before).username, 'MariaDB holds one password per user: a rotation alternates two users');
    await query("INSERT INTO items (name) VALUES ('rotated')");
    await assert.rejects(mysql.createConnection(before), /locked|Access denied/);
    await query("DELETE FROM items WHERE name = 'rotated'");
  });

  it('keeps the data through pause and resume', async () => {
    await client.pause.addon({ parameters: { projectId: P, addonId: A } });
    await waitForAddonStatus(client, P, A, 'paused');
    await waitFor(async () => (await client.get.addon.containers({ parameters: { projectId: P, addonId: A } })).data.containers!.length === 0, 60_000, 'no server while paused');
    await client.resume.addon({ parameters: { projectId: P, addonId: A } });
    await waitForAddonStatus(client, P, A, 'running');
    assert.deepEqual(await names(), ['one', 'two']);
  });

  it('keeps serving through a control-plane SIGKILL and adopts the same server after', async () => {
    const before_ = (await client.get.addon.containers({ parameters: { projectId: P, addonId: A } })).data.containers![0].name;
    const pids = instancePids(p.dataDir, before_);
    await p.kill9();
    assert.deepEqual(await names(), ['one', 'two'], 'the server answers while the control plane is down');
    await p.restart();
    client = await northflankClient(p);
    await waitForAddonStatus(client, P, A, 'running');
    assert.deepEqual(instancePids(p.dataDir, before_), pids, 'the same server process, adopted');
    assert.deepEqual(await names(), ['one', 'two']);
  });

  it('deleting the project stops its addons and removes their data', async () => {
    const res = await api(p, 'DELETE', `/v1/projects/${P}`);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    await waitFor(() => !fs.existsSync(path.join(p.dataDir, 'addons', P, A)) && !fs.existsSync(path.join(p.dataDir, 'addons', P, 'cache')), 120_000, 'addon data removed');
    const left = fs.readdirSync(path.join(p.dataDir, 'runtime', 'instances')).filter((id) => id.startsWith(`addon--${P}--`));
    assert.deepEqual(left, [], 'no addon instance left');
  });
});
