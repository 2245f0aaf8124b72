/**
 * A PostgreSQL addon through the official Northflank client, running the real server: created, running,
 * reached with its credentials, backed up, written to, restored to exactly the backed-up rows; paused and
 * resumed, its control plane killed with SIGKILL and restarted, with the data kept throughout; deleted, with
 * its server stopped before its data goes.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import zlib from 'node:zlib';
import pg from 'pg';
import type { ApiClient } from '@northflank/js-client';
import { api, freePort, instancePids, northflankClient, pidAlive, startTestPlatform, waitFor, type RunningPlatform } from './support/platform.ts';
import { backupAndWait, restoreAndWait, rotateAndWait, waitForAddonStatus } from './support/addons.ts';

const P = 'pgdata';

/** A live process (zombies, which linger when nothing reaps them, do not count). */
function running(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}
const A = 'main-db';

describe('PostgreSQL addon', () => {
  let p: RunningPlatform;
  let client: ApiClient;
  let uri: string;

  const query = async (sql: string, params: unknown[] = []) => {
    const c = new pg.Client({ connectionString: uri, connectionTimeoutMillis: 10_000 });
    await c.connect();
    try {
      return (await c.query(sql, params)).rows;
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

  it('lists postgresql among the addon types with the installed major version', async () => {
    const types = (await client.get.addon.types({})).data.addonTypes as { type: string; versions: string[]; major: string[] }[];
    const pgType = types.find((t) => t.type === 'postgresql');
    assert.ok(pgType, JSON.stringify(types));
    assert.ok(pgType.major.includes('15'), JSON.stringify(pgType));
    const mysql = types.find((t) => t.type === 'mysql') as unknown as { name: string } | undefined;
    assert.match(mysql?.name ?? '', /MariaDB/);
  });

  it('creates the addon, runs the server as an unprivileged user and hands out working credentials', async () => {
    const created = await client.create.addon({
      parameters: { projectId: P },
      data: { name: A, type: 'postgresql', version: '15', billing: { deploymentPlan: 'nf-compute-20', storage: 1024, replicas: 1 } },
    });
    assert.equal(created.data.id, A);
    const running = await waitForAddonStatus(client, P, A, 'running');
    assert.match(running.spec.config.versionTag, /^15\./);

    const creds = (await client.get.addon.credentials({ parameters: { projectId: P, addonId: A } })).data;
    uri = creds.secrets.postgresUri;
    assert.ok(uri.startsWith('postgresql://'), 'a postgres URI');
    assert.equal(creds.secrets.host, '127.0.0.1');
    assert.ok(creds.secrets.password.length >= 32, 'a strong password');
    assert.equal(creds.secrets.database, 'main_db');

    await query('CREATE TABLE items (id serial PRIMARY KEY, name text NOT NULL)');
    await query("INSERT INTO items (name) VALUES ('one'), ('two'), ('three')");
    assert.deepEqual(await names(), ['one', 'two', 'three']);

    // The server does not run as root, and its data sits under the platform's data directory.
    const containers = (await client.get.addon.containers({ parameters: { projectId: P, addonId: A } })).data.containers!;
    assert.equal(containers.length, 1);
    assert.equal(containers[0].status, 'TASK_RUNNING');
    const [app] = instancePids(p.dataDir, containers[0].name);
    assert.ok(app && pidAlive(app));
    const owner = fs.statSync(path.join(p.dataDir, 'addons', P, A, 'data', 'pg')).uid;
    assert.notEqual(owner, 0, 'the data directory belongs to an unprivileged user');
    // The password is sealed in the store, never written in the clear.
    const db = fs.readFileSync(path.join(p.dataDir, 'slipway.db'));
    assert.equal(db.includes(Buffer.from(creds.secrets.password)), false, 'the password is not stored in plain text');
    assert.equal(fs.existsSync(path.join(p.dataDir, 'addons', P, A, 'data', '.initdb-password')), false, 'the first-start password file is gone');
  });

  it('restores a dump to exactly the backed-up data', async () => {
    const backupId = await backupAndWait(client, P, A, 'before more writes');
    const listed = (await client.get.addon.backups({ parameters: { projectId: P, addonId: A } })).data.backups;
    assert.ok(listed.some((b) => b.id === backupId && Number(b.config.size) > 0), JSON.stringify(listed));

    await query("INSERT INTO items (name) VALUES ('four')");
    await query("UPDATE items SET name = 'ONE' WHERE name = 'one'");
    await query('CREATE TABLE extra (x int)');
    assert.deepEqual(await names(), ['ONE', 'two', 'three', 'four']);

    const restore = await restoreAndWait(client, P, A, backupId);
    assert.equal(restore.status, 'completed', JSON.stringify(restore));
    assert.deepEqual(await names(), ['one', 'two', 'three']);
    const extra = await query("SELECT 1 FROM information_schema.tables WHERE table_name = 'extra'");
    assert.equal(extra.length, 0, 'a table made after the backup is gone');
    await waitForAddonStatus(client, P, A, 'running');
    const history = (await client.get.addon.backup.restores({ parameters: { projectId: P, addonId: A, backupId } })).data.restores!;
    assert.equal(history.length, 1);
  });

  it('a failed restore leaves the data as it was', async () => {
    const backupId = await backupAndWait(client, P, A, 'to be spoiled');
    const file = fs.readdirSync(path.join(p.dataDir, 'addons', P, A, 'backups')).find((f) => f.startsWith(backupId))!;
    fs.writeFileSync(path.join(p.dataDir, 'addons', P, A, 'backups', file), 'not a dump');
    await query("INSERT INTO items (name) VALUES ('kept')");
    const restore = await restoreAndWait(client, P, A, backupId);
    assert.equal(restore.status, 'failed');
    assert.deepEqual(await names(), ['one', 'two', 'three', 'kept']);
    await waitForAddonStatus(client, P, A, 'running');
  });

  it('undoes a restore swap cut short between its renames (the live database renamed away)', async () => {
    const admin = new pg.Client({ connectionString: (await client.get.addon.credentials({ parameters: { projectId: P, addonId: A } })).data.secrets.postgresUriAdmin });
    await admin.connect();
    await admin.query('ALTER DATABASE main_db ALLOW_CONNECTIONS false');
    await admin.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = 'main_db'");
    await admin.query('ALTER DATABASE main_db RENAME TO main_db__replaced');
    await admin.end();
    const rows = await waitFor(async () => names().catch(() => undefined), 60_000, 'the database back under its name');
    assert.deepEqual(rows, ['one', 'two', 'three', 'kept']);
  });

  it('keeps the data through pause and resume', async () => {
    await client.pause.addon({ parameters: { projectId: P, addonId: A } });
    await waitForAddonStatus(client, P, A, 'paused');
    await waitFor(async () => (await client.get.addon.containers({ parameters: { projectId: P, addonId: A } })).data.containers!.length === 0, 60_000, 'no server while paused');
    await assert.rejects(query('SELECT 1'));
    await client.resume.addon({ parameters: { projectId: P, addonId: A } });
    await waitForAddonStatus(client, P, A, 'running');
    assert.deepEqual(await names(), ['one', 'two', 'three', 'kept']);
  });

  it('keeps serving through a control-plane SIGKILL and adopts the same server after', async () => {
    const before_ = (await client.get.addon.containers({ parameters: { projectId: P, addonId: A } })).data.containers![0].name;
    const pids = instancePids(p.dataDir, before_);
    await p.kill9();
    assert.deepEqual(await names(), ['one', 'two', 'three', 'kept'], 'the server answers while the control plane is down');
    await p.restart();
    client = await northflankClient(p);
    await waitForAddonStatus(client, P, A, 'running');
    const after_ = (await client.get.addon.containers({ parameters: { projectId: P, addonId: A } })).data.containers!;
    assert.equal(after_.length, 1);
    assert.equal(after_[0].name, before_);
    assert.deepEqual(instancePids(p.dataDir, after_[0].name), pids, 'the same server process, adopted');
    await query("INSERT INTO items (name) VALUES ('after restart')");
    assert.deepEqual(await names(), ['one', 'two', 'three', 'kept', 'after restart']);
  });

  it('restarts the server on request with the data kept', async () => {
    const before_ = instancePids(p.dataDir, (await client.get.addon.containers({ parameters: { projectId: P, addonId: A } })).data.containers![0].name);
    await client.restart.addon({ parameters: { projectId: P, addonId: A } });
    await waitFor(async () => {
      const c = (await client.get.addon.containers({ parameters: { projectId: P, addonId: A } })).data.containers!;
      return c.length === 1 && c[0].status === 'TASK_RUNNING' && instancePids(p.dataDir, c[0].name)[0] !== before_[0] && (await client.get.addon({ parameters: { projectId: P, addonId: A } })).data.status === 'running';
    }, 120_000, 'a new server process');
    assert.deepEqual(await names(), ['one', 'two', 'three', 'kept', 'after restart']);
  });

  it('rotates the credentials: the new login works, the replaced one is retired', async () => {
    const { before, after } = await rotateAndWait(p, client, P, A, 'postgresUri');
    uri = after;
    assert.notEqual(new URL(after).username, new URL(before).username, 'PostgreSQL holds one password per role: a rotation alternates two roles');
    assert.deepEqual(await names(), ['one', 'two', 'three', 'kept', 'after restart']);
    const c = new pg.Client({ connectionString: before, connectionTimeoutMillis: 10_000 });
    c.on('error', () => {});
    await assert.rejects(c.connect(), /password authentication failed/);
    await c.end().catch(() => {});
  });

  it('restores a snapshot (the stopped server\'s files) even after the password was rotated since', async () => {
    const b = await client.backup.addon({ parameters: { projectId: P, addonId: A }, data: { name: 'files', backupType: 'snapshot' } });
    const snap = await waitFor(async () => {
      const r = (await client.get.addon.backup({ parameters: { projectId: P, addonId: A, backupId: b.data.id } })).data;
      return r.status === 'completed' || r.status === 'failed' ? r : undefined;
    }, 180_000, 'snapshot');
    assert.equal(snap.status, 'completed', JSON.stringify(snap));
    await waitForAddonStatus(client, P, A, 'running');
    const old = uri;
    assert.equal((await api(p, 'POST', `/projects/${P}/addons/${A}/credentials/rotate`)).status, 202);
    uri = await waitFor(async () => {
      const next = (await client.get.addon.credentials({ parameters: { projectId: P, addonId: A } })).data.secrets.postgresUri as string;
      return next !== old ? next : undefined;
    }, 60_000, 'a new password');
    await query("INSERT INTO items (name) VALUES ('after snapshot')");
    const restore = await restoreAndWait(client, P, A, b.data.id);
    assert.equal(restore.status, 'completed', JSON.stringify(restore));
    await waitForAddonStatus(client, P, A, 'running');
    assert.deepEqual(await names(), ['one', 'two', 'three', 'kept', 'after restart'], 'the snapshot\'s rows, read with today\'s password');
  });

  it('hands out a download link for a backup', async () => {
    const backupId = await backupAndWait(client, P, A, 'to download');
    const link = (await client.get.addon.backup.download({ parameters: { projectId: P, addonId: A, backupId } })).data.downloadLink;
    const res = await fetch(link, { headers: { authorization: `Bearer ${p.token}` } });
    assert.equal(res.status, 200);
    const body = Buffer.from(await res.arrayBuffer());
    assert.equal(body.subarray(0, 5).toString(), 'PGDMP', 'a pg_dump custom-format file');
    assert.equal((await fetch(link)).status, 401, 'not without a token');
  });

  it('refuses bad input by field and creates nothing', async () => {
    const base = { name: 'bad-one', type: 'postgresql', version: '15', billing: { deploymentPlan: 'nf-compute-20', storage: 1024, replicas: 1 } };
    const cases: [Record<string, unknown>, string, number][] = [
      [{ ...base, type: 'mongodb' }, 'type', 400],
      [{ ...base, version: '9' }, 'version', 400],
      [{ ...base, billing: { ...base.billing, replicas: 4 } }, 'billing.replicas', 400],
      [{ ...base, billing: { ...base.billing, deploymentPlan: 'huge' } }, 'billing.deploymentPlan', 400],
      [{ ...base, typeSpecificSettings: { redisMaxMemoryPolicy: 'allkeys-lru' } }, 'typeSpecificSettings.redisMaxMemoryPolicy', 400],
      [{ ...base, customCredentials: { dbName: '1bad' } }, 'customCredentials.dbName', 400],
      [{ ...base, billing: { ...base.billing, zonalRedundancy: { type: 'required' } } }, 'billing.zonalRedundancy', 422],
      [{ ...base, surprise: 1 }, 'surprise', 400],
    ];
    for (const [body, field, status] of cases) {
      const res = await api(p, 'POST', `/v1/projects/${P}/addons`, body);
      assert.equal(res.status, status, `${field}: ${JSON.stringify(res.body)}`);
      assert.ok(res.body.error.details?.[field], `${field} named: ${JSON.stringify(res.body)}`);
    }
    const list = (await client.list.addons({ parameters: { projectId: P } })).data.addons;
    assert.deepEqual(list.map((a) => a.id), [A], 'nothing half-created');
    const dup = await api(p, 'POST', `/v1/projects/${P}/addons`, { ...base, name: A });
    assert.equal(dup.status, 409);
    // A backup destination that does not exist (destinations themselves: test/addons-s3.test.ts).
    const dest = await api(p, 'POST', `/v1/projects/${P}/addons/${A}/backups`, { backupType: 'dump', customDestinationId: 'bucket' });
    assert.equal(dest.status, 400);
    assert.ok(dest.body.error.details.customDestinationId);
    const badType = await api(p, 'POST', `/v1/projects/${P}/addons/${A}/backups`, { backupType: 'full' });
    assert.equal(badType.status, 400);
    assert.ok(badType.body.error.details.backupType);
    const missing = await api(p, 'POST', `/v1/projects/${P}/addons/${A}/backups/backup-nope/restore`);
    assert.equal(missing.status, 404);
  });

  it('imports a live database into another addon', async () => {
    await client.create.addon({ parameters: { projectId: P }, data: { name: 'copy-db', type: 'postgresql', version: 'latest', billing: { deploymentPlan: 'nf-compute-20', storage: 1024, replicas: 1 } } });
    await waitForAddonStatus(client, P, 'copy-db', 'running');
    const wrong = await api(p, 'POST', `/v1/projects/${P}/addons/copy-db/import`, { connectionString: 'mysql://u:p@127.0.0.1:3306/x' });
    assert.equal(wrong.status, 400);
    assert.ok(wrong.body.error.details.connectionString, JSON.stringify(wrong.body));

    const res = await api(p, 'POST', `/v1/projects/${P}/addons/copy-db/import`, { name: 'from main', connectionString: uri });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const done = await waitFor(async () => {
      const list = (await client.get.addon.restores({ parameters: { projectId: P, addonId: 'copy-db' } })).data.restores;
      const r = list.find((x) => x.id === res.body.data.restoreId);
      return r && (r.status === 'completed' || r.status === 'failed') ? r : undefined;
    }, 180_000, 'import restored');
    assert.equal(done.status, 'completed', JSON.stringify(done));
    const copyUri = (await client.get.addon.credentials({ parameters: { projectId: P, addonId: 'copy-db' } })).data.secrets.postgresUri as string;
    const c = new pg.Client({ connectionString: copyUri });
    await c.connect();
    const rows = (await c.query('SELECT name FROM items ORDER BY id')).rows.map((r) => r.name);
    await c.end();
    assert.deepEqual(rows, await names());
    const backup = (await client.get.addon.backup({ parameters: { projectId: P, addonId: 'copy-db', backupId: res.body.data.backupId } })).data;
    assert.equal(backup.config.source?.type, 'liveInstance');
  });

  it('imports a dump from an http URL (gzipped), and fails a download with its reason', async () => {
    // A real dump of the main addon, served gzipped (as Northflank's imports are) by a local HTTP server.
    const backupId = await backupAndWait(client, P, A, 'to serve');
    const link = (await client.get.addon.backup.download({ parameters: { projectId: P, addonId: A, backupId } })).data.downloadLink;
    const dump = Buffer.from(await (await fetch(link, { headers: { authorization: `Bearer ${p.token}` } })).arrayBuffer());
    const files: Record<string, Buffer> = { '/main.dump.gz': zlib.gzipSync(dump), '/notes.txt': Buffer.from('just some text\n') };
    const server = http.createServer((req, res) => {
      const body = files[req.url ?? ''];
      res.statusCode = body ? 200 : 404;
      res.end(body ?? 'not here');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const closed = await freePort();
    const parameters = { projectId: P, addonId: 'copy-db' };
    const outcome = async (importUrl: string) => {
      const res = await client.import.addon.backup({ parameters, data: { name: `from ${importUrl}`, importUrl } });
      const backup = await waitFor(async () => {
        const b = (await client.get.addon.backup({ parameters: { ...parameters, backupId: res.data.backupId } })).data;
        return b.status === 'completed' || b.status === 'failed' ? b : undefined;
      }, 120_000, `import of ${importUrl}`);
      const restore = await waitFor(async () => {
        const r = (await client.get.addon.restores({ parameters })).data.restores.find((x) => x.id === res.data.restoreId);
        return r && (r.status === 'completed' || r.status === 'failed') ? r : undefined;
      }, 180_000, 'its restore');
      return { backup, restore };
    };
    const onCopy = async (sql: string) => {
      const c = new pg.Client({ connectionString: (await client.get.addon.credentials({ parameters })).data.secrets.postgresUri as string });
      await c.connect();
      try {
        return (await c.query(sql)).rows;
      } finally {
        await c.end();
      }
    };
    const copyNames = async () => (await onCopy('SELECT name FROM items ORDER BY id')).map((r) => r.name as string);
    try {
      // Bad input: refused by field, nothing made.
      const before = (await client.get.addon.backups({ parameters })).data.backups.length;
      for (const [body, field] of [
        [{ importUrl: 'not a url' }, 'importUrl'],
        [{ importUrl: 'ftp://127.0.0.1/x.gz' }, 'importUrl'],
        [{ importUrl: `${base}/main.dump.gz`, connectionString: uri }, 'importUrl'],
        [{ importUrl: '' }, 'importUrl'],
      ] as const) {
        const res = await api(p, 'POST', `/v1/projects/${P}/addons/copy-db/import`, body);
        assert.equal(res.status, 400, `${JSON.stringify(body)}: ${JSON.stringify(res.body)}`);
        assert.ok(res.body.error.details?.[field], JSON.stringify(res.body));
      }
      assert.equal((await client.get.addon.backups({ parameters })).data.backups.length, before, 'nothing half-created');

      await onCopy("INSERT INTO items (name) VALUES ('only in the copy')");
      const good = await outcome(`${base}/main.dump.gz`);
      assert.equal(good.backup.status, 'completed', JSON.stringify(good.backup));
      assert.equal(good.backup.config.source?.type, 'externalDump');
      assert.equal(good.restore.status, 'completed', JSON.stringify(good.restore));
      assert.deepEqual(await copyNames(), await names(), 'the data is exactly the downloaded dump\'s');

      const failures: [string, RegExp][] = [
        [`${base}/missing.gz`, /HTTP 404/],
        [`${base}/notes.txt`, /not a PostgreSQL custom-format dump/],
        [`http://127.0.0.1:${closed}/main.dump.gz`, /ECONNREFUSED/],
      ];
      for (const [url, reason] of failures) {
        const bad = await outcome(url);
        assert.equal(bad.backup.status, 'failed', url);
        assert.match(String((bad.backup as { message?: string }).message ?? JSON.stringify(bad.backup)), reason);
        assert.equal(bad.restore.status, 'failed');
      }
      assert.deepEqual(await copyNames(), await names(), 'a failed import leaves the data as it was');
    } finally {
      server.close();
    }
  });

  it('imports an uploaded pg_dump file (gzipped), and refuses a bad upload by field with the data kept', async () => {
    // The dump comes from outside slipway: pg_dump -Fc of a database made on the machine's own PostgreSQL.
    const source = `upload_src_${process.pid}`;
    const local = (database: string) => new pg.Client({ host: '127.0.0.1', port: 5432, user: 'postgres', database });
    const admin = local('postgres');
    await admin.connect();
    await admin.query(`DROP DATABASE IF EXISTS ${source}`);
    await admin.query(`CREATE DATABASE ${source}`);
    const parameters = { projectId: P, addonId: 'copy-db' };
    const upload = (body: Buffer, contentType = 'application/octet-stream', query = '') => api(p, 'POST', `/v1/projects/${P}/addons/copy-db/import/upload${query}`, undefined, { raw: body, contentType });
    const onCopy = async (sql: string) => {
      const c = new pg.Client({ connectionString: (await client.get.addon.credentials({ parameters })).data.secrets.postgresUri as string });
      await c.connect();
      try {
        return (await c.query(sql)).rows;
      } finally {
        await c.end();
      }
    };
    const copyRows = async () => (await onCopy('SELECT id, name FROM items ORDER BY id')).map((r) => `${r.id}:${r.name}`);
    const outcome = async (backupId: string, restoreId: string) => {
      const backup = await waitFor(async () => {
        const b = (await client.get.addon.backup({ parameters: { ...parameters, backupId } })).data;
        return b.status === 'completed' || b.status === 'failed' ? b : undefined;
      }, 120_000, `upload ${backupId}`);
      const restore = await waitFor(async () => {
        const r = (await client.get.addon.restores({ parameters })).data.restores.find((x) => x.id === restoreId);
        return r && (r.status === 'completed' || r.status === 'failed') ? r : undefined;
      }, 180_000, 'its restore');
      return { backup, restore };
    };
    try {
      const src = local(source);
      await src.connect();
      await src.query('CREATE TABLE items (id integer PRIMARY KEY, name text NOT NULL)');
      await src.query("INSERT INTO items VALUES (7, 'uploaded seven'), (8, 'uploaded eight'), (9, 'uploaded nine')");
      await src.query('CREATE TABLE notes (body text)');
      await src.query("INSERT INTO notes VALUES ('from the uploaded dump')");
      await src.end();
      const dump = execFileSync('/usr/lib/postgresql/15/bin/pg_dump', ['-Fc', '--no-owner', '--no-acl', '-h', '127.0.0.1', '-U', 'postgres', '-d', source], { maxBuffer: 64 * 1048576 });
      assert.equal(dump.subarray(0, 5).toString(), 'PGDMP');

      await onCopy("INSERT INTO items (name) VALUES ('only in the copy, before the upload')");
      const made = await upload(zlib.gzipSync(dump), 'application/gzip', '?name=uploaded%20dump');
      assert.equal(made.status, 200, JSON.stringify(made.body));
      const good = await outcome(made.body.data.backupId, made.body.data.restoreId);
      assert.equal(good.backup.status, 'completed', JSON.stringify(good.backup));
      assert.equal(good.backup.name, 'uploaded dump');
      assert.equal(good.backup.config.source?.type, 'fileUpload');
      assert.equal(good.restore.status, 'completed', JSON.stringify(good.restore));
      assert.deepEqual(await copyRows(), ['7:uploaded seven', '8:uploaded eight', '9:uploaded nine'], "the data is exactly the uploaded dump's");
      assert.deepEqual((await onCopy('SELECT body FROM notes')).map((r) => r.body), ['from the uploaded dump']);
      // The stored backup is the dump as sent, unpacked: downloading it gives pg_dump's bytes back.
      const link = (await client.get.addon.backup.download({ parameters: { ...parameters, backupId: good.backup.id } })).data.downloadLink;
      assert.ok(Buffer.from(await (await fetch(link, { headers: { authorization: `Bearer ${p.token}` } })).arrayBuffer()).equals(dump));

      // Refused by field, nothing made, nothing left on disk, the data untouched.
      const backupsDir = path.join(p.dataDir, 'addons', P, 'copy-db', 'backups');
      const filesBefore = fs.readdirSync(backupsDir).sort();
      const countBefore = (await client.get.addon.backups({ parameters })).data.backups.length;
      const rdb = Buffer.concat([Buffer.from('REDIS0011'), Buffer.alloc(64, 0xfe)]);
      const refusals: [Buffer, string, number, string, RegExp][] = [
        [Buffer.from('just some text\n'), 'application/octet-stream', 400, 'file', /not a PostgreSQL custom-format dump/],
        [zlib.gzipSync(rdb), 'application/gzip', 400, 'file', /not a PostgreSQL custom-format dump/],
        [Buffer.concat([zlib.gzipSync(dump).subarray(0, 40), Buffer.from('broken off')]), 'application/gzip', 400, 'file', /not a readable gzip file/],
        [Buffer.alloc(0), 'application/octet-stream', 400, 'file', /not a PostgreSQL custom-format dump/],
      ];
      for (const [body, type, status, field, reason] of refusals) {
        const res = await upload(body, type);
        assert.equal(res.status, status, JSON.stringify(res.body));
        assert.match(String(res.body.error.details?.[field]), reason, JSON.stringify(res.body));
      }
      const json = await api(p, 'POST', `/v1/projects/${P}/addons/copy-db/import/upload`, { importUrl: 'https://example.com/x.gz' });
      assert.equal(json.status, 415, JSON.stringify(json.body));
      const badQuery = await upload(dump, 'application/octet-stream', '?surprise=1');
      assert.equal(badQuery.status, 400, JSON.stringify(badQuery.body));
      const badDestination = await upload(dump, 'application/octet-stream', '?customDestinationId=nowhere');
      assert.equal(badDestination.status, 400);
      assert.ok(badDestination.body.error.details.customDestinationId, JSON.stringify(badDestination.body));
      // Larger than the addon's storage (1024 MB), by its Content-Length: refused before a byte is read.
      const tooLarge = await new Promise<{ status: number; body: any }>((resolve, reject) => {
        const req = http.request(`${p.apiUrl}/v1/projects/${P}/addons/copy-db/import/upload`, { method: 'POST', headers: { authorization: `Bearer ${p.token}`, 'content-type': 'application/octet-stream', 'content-length': String(2 * 1024 ** 3) } }, (res) => {
          let text = '';
          res.on('data', (d) => (text += d));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) }));
        });
        req.on('error', reject);
        req.write(dump.subarray(0, 1024));
      });
      assert.equal(tooLarge.status, 413, JSON.stringify(tooLarge.body));
      assert.match(String(tooLarge.body.error.details?.file), /larger than the addon's storage/);
      assert.equal((await client.get.addon.backups({ parameters })).data.backups.length, countBefore, 'nothing half-created');
      assert.deepEqual(fs.readdirSync(backupsDir).sort(), filesBefore, 'nothing left on disk');

      // A file that looks like a dump but is cut short is stored, and its restore fails: the data is as it was.
      const cut = await upload(dump.subarray(0, Math.floor(dump.length / 2)));
      assert.equal(cut.status, 200, JSON.stringify(cut.body));
      const failed = await outcome(cut.body.data.backupId, cut.body.data.restoreId);
      assert.equal(failed.restore.status, 'failed', JSON.stringify(failed.restore));
      assert.deepEqual(await copyRows(), ['7:uploaded seven', '8:uploaded eight', '9:uploaded nine'], 'a failed restore leaves the data as it was');
    } finally {
      await admin.query(`DROP DATABASE IF EXISTS ${source}`);
      await admin.end();
    }
  });

  it('deletes the addon: the server stops, then its data is removed', async () => {
    const name = (await client.get.addon.containers({ parameters: { projectId: P, addonId: A } })).data.containers![0].name;
    const pids = instancePids(p.dataDir, name);
    const res = await api(p, 'DELETE', `/v1/projects/${P}/addons/${A}`);
    assert.equal(res.status, 200);
    assert.match(res.body.data.message, /stopped/);
    await waitFor(async () => (await api(p, 'GET', `/v1/projects/${P}/addons/${A}`)).status === 404, 120_000, 'addon gone');
    assert.ok(pids.every((pid) => !running(pid)), 'the server processes ended');
    assert.equal(fs.existsSync(path.join(p.dataDir, 'addons', P, A)), false, 'data and backups removed');
  });
});
