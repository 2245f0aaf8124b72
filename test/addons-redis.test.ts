/**
 * A Redis addon through the official Northflank client, running the real server: created, reached with its
 * credentials by ioredis, backed up (an RDB), written to, restored to exactly the backed-up keys (the data
 * directory swapped while the server is down), restarted and paused with the data kept.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { Redis } from 'ioredis';
import type { ApiClient } from '@northflank/js-client';
import Database from 'better-sqlite3';
import { api, instancePids, northflankClient, startTestPlatform, waitFor, type RunningPlatform } from './support/platform.ts';
import { backupAndWait, restoreAndWait, rotateAndWait, waitForAddonStatus } from './support/addons.ts';

const P = 'kvstore';
const A = 'sessions';

describe('Redis addon', () => {
  let p: RunningPlatform;
  let client: ApiClient;
  let url: string;

  const withRedis = async <T>(fn: (r: Redis) => Promise<T>): Promise<T> => {
    const r = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1, connectTimeout: 10_000, retryStrategy: () => null });
    r.on('error', () => {});
    await r.connect();
    try {
      return await fn(r);
    } finally {
      r.disconnect();
    }
  };
  const keys = () => withRedis(async (r) => (await r.keys('*')).sort());

  before(async () => {
    p = await startTestPlatform();
    client = await northflankClient(p);
    await client.create.project({ data: { name: P } });
  });
  after(async () => {
    await p?.stop();
  });

  it('creates the addon and hands out working credentials', async () => {
    await client.create.addon({
      parameters: { projectId: P },
      data: { name: A, type: 'redis', version: '7', billing: { deploymentPlan: 'nf-compute-20', storage: 1024, replicas: 1 }, typeSpecificSettings: { redisMaxMemoryPolicy: 'allkeys-lru' } },
    });
    await waitForAddonStatus(client, P, A, 'running');
    const creds = (await client.get.addon.credentials({ parameters: { projectId: P, addonId: A } })).data;
    url = creds.secrets.redisMasterUrl;
    assert.ok(url.startsWith('redis://'));
    await withRedis(async (r) => {
      await r.set('a', '1');
      await r.set('b', '2');
      assert.equal(await r.config('GET', 'maxmemory-policy').then((x) => (x as string[])[1]), 'allkeys-lru');
    });
    const wrong = new Redis({ host: creds.secrets.host, port: Number(creds.secrets.port), password: 'not-the-password', lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    wrong.on('error', () => {});
    await assert.rejects(wrong.connect(), 'a wrong password is refused');
    wrong.disconnect();
    assert.equal(fs.existsSync(path.join(p.dataDir, 'addons', P, A, 'data', 'redis.conf')), false, 'the configuration with the password is removed once the server answers');
  });

  it('restores an RDB dump to exactly the backed-up keys', async () => {
    const backupId = await backupAndWait(client, P, A, 'two keys');
    await withRedis(async (r) => {
      await r.set('c', '3');
      await r.del('a');
    });
    assert.deepEqual(await keys(), ['b', 'c']);
    const restore = await restoreAndWait(client, P, A, backupId);
    assert.equal(restore.status, 'completed', JSON.stringify(restore));
    await waitForAddonStatus(client, P, A, 'running');
    assert.deepEqual(await keys(), ['a', 'b']);
    assert.equal(await withRedis((r) => r.get('a')), '1');
  });

  it('a restore of a damaged backup fails and leaves the data as it was', async () => {
    const backupId = await backupAndWait(client, P, A, 'to be spoiled');
    const dir = path.join(p.dataDir, 'addons', P, A, 'backups');
    fs.writeFileSync(path.join(dir, fs.readdirSync(dir).find((f) => f.startsWith(backupId))!), 'REDIS0009 not really');
    await withRedis((r) => r.set('d', '4'));
    const restore = await restoreAndWait(client, P, A, backupId);
    assert.equal(restore.status, 'failed');
    assert.deepEqual(await keys(), ['a', 'b', 'd']);
  });

  it('takes backups on a schedule, refuses a bad schedule by field, and keeps a retained backup', async () => {
    const everyMinute = Array.from({ length: 60 }, (_, i) => i);
    const created = await client.create.addon.backupSchedule({
      parameters: { projectId: P, addonId: A },
      data: { scheduling: { interval: 'hourly', minute: everyMinute }, backupType: 'dump', retentionTime: 1 },
    });
    const scheduleId = created.data.id;
    const listed = (await client.get.addon.backupSchedules({ parameters: { projectId: P, addonId: A } })).data.schedules!;
    assert.deepEqual(listed.map((x) => x.id), [scheduleId]);
    const scheduled = await waitFor(async () => {
      const backups = (await client.get.addon.backups({ parameters: { projectId: P, addonId: A } })).data.backups as { id: string; status: string; scheduleId?: string }[];
      return backups.find((b) => b.scheduleId === scheduleId && b.status === 'completed');
    }, 150_000, 'a scheduled backup');
    await client.retain.addon.backup({ parameters: { projectId: P, addonId: A, backupId: scheduled.id } });
    const got = (await client.get.addon.backup({ parameters: { projectId: P, addonId: A, backupId: scheduled.id } })).data as { retained?: boolean };
    assert.equal(got.retained, true);

    const dup = await api(p, 'POST', `/v1/projects/${P}/addons/${A}/backup-schedules`, { scheduling: { interval: 'hourly', minute: [5] }, backupType: 'dump', retentionTime: 7 });
    assert.equal(dup.status, 400, JSON.stringify(dup.body));
    assert.ok(dup.body.error.details['scheduling.interval'], JSON.stringify(dup.body));
    const noHour = await api(p, 'POST', `/v1/projects/${P}/addons/${A}/backup-schedules`, { scheduling: { interval: 'daily', minute: [5] }, backupType: 'dump', retentionTime: 7 });
    assert.equal(noHour.status, 400);
    assert.ok(noHour.body.error.details['scheduling.hour'], JSON.stringify(noHour.body));
    await client.delete.addon.backupSchedule({ parameters: { projectId: P, addonId: A, scheduleId } });
    assert.equal((await client.get.addon.backupSchedules({ parameters: { projectId: P, addonId: A } })).data.schedules!.length, 0);
  });

  it('updates through put, patch and version, keeping the data across the server replacement', async () => {
    const put = await client.put.addon({
      parameters: { projectId: P },
      data: { name: A, type: 'redis', version: '7', description: 'session store', billing: { deploymentPlan: 'nf-compute-20', storage: 1024, replicas: 1 } },
    });
    assert.equal((put.data as { description?: string }).description, 'session store');
    const patched = await client.patch.addon({ parameters: { projectId: P, addonId: A }, data: { billing: { deploymentPlan: 'nf-compute-50' }, typeSpecificSettings: { redisMaxMemoryPolicy: 'volatile-lru' } } });
    assert.equal((patched.data as { billing: { deploymentPlan: string } }).billing.deploymentPlan, 'nf-compute-50');
    await waitFor(async () => {
      const policy = await withRedis((r) => r.config('GET', 'maxmemory-policy')).catch(() => undefined);
      return (policy as string[] | undefined)?.[1] === 'volatile-lru';
    }, 60_000, 'the server replaced with the new settings');
    await waitForAddonStatus(client, P, A, 'running');
    assert.deepEqual(await keys(), ['a', 'b', 'd']);
    const v = (await client.get.addon.version({ parameters: { projectId: P, addonId: A } })).data;
    assert.match(v.version, /^7\./);
    const wrongType = await api(p, 'PUT', `/v1/projects/${P}/addons`, { name: A, type: 'postgresql', version: 'latest', billing: { deploymentPlan: 'nf-compute-20', storage: 1024, replicas: 1 } });
    assert.equal(wrongType.status, 400);
    assert.ok(wrongType.body.error.details.type);
    const otherMajor = await api(p, 'POST', `/v1/projects/${P}/addons/${A}/version`, { version: '6' });
    assert.equal(otherMajor.status, 400, JSON.stringify(otherMajor.body));
    assert.ok(otherMajor.body.error.details.version);
  });

  it('rotates the password: the new one works, the replaced one is retired, and a restart keeps the new one', async () => {
    const { before, after } = await rotateAndWait(p, client, P, A, 'redisMasterUrl');
    url = after;
    assert.deepEqual(await keys(), ['a', 'b', 'd']);
    // AUTH on a bare connection: the server's own answer to each password.
    const u = new URL(after);
    const auth = (password: string) =>
      new Promise<string>((resolve, reject) => {
        const sock = net.connect(Number(u.port), u.hostname, () => sock.write(`AUTH default ${password}\r\n`));
        sock.once('data', (d) => {
          resolve(d.toString().trim());
          sock.destroy();
        });
        sock.once('error', reject);
      });
    assert.match(await auth(decodeURIComponent(new URL(before).password)), /^-WRONGPASS/, 'the replaced password is refused');
    assert.equal(await auth(decodeURIComponent(u.password)), '+OK');
  });

  it('keeps the data through restart, pause and resume', async () => {
    await client.restart.addon({ parameters: { projectId: P, addonId: A } });
    await waitFor(async () => (await keys().catch(() => [])).length === 3 && (await client.get.addon({ parameters: { projectId: P, addonId: A } })).data.status === 'running', 60_000, 'back after restart');
    await client.pause.addon({ parameters: { projectId: P, addonId: A } });
    await waitForAddonStatus(client, P, A, 'paused');
    await client.resume.addon({ parameters: { projectId: P, addonId: A } });
    await waitForAddonStatus(client, P, A, 'running');
    assert.deepEqual(await keys(), ['a', 'b', 'd']);
  });

  it('puts the data back when a control-plane kill cut a restore between its directory swaps', async () => {
    const name = (await client.get.addon.containers({ parameters: { projectId: P, addonId: A } })).data.containers![0].name;
    await p.kill9();
    // What a restore leaves when killed mid-swap: the server stopped, the live data moved aside, a new
    // (here empty) directory in its place, and the restore recorded as running.
    const [app] = instancePids(p.dataDir, name);
    process.kill(-app, 'SIGTERM');
    await waitFor(() => fs.existsSync(path.join(p.dataDir, 'runtime', 'instances', name, 'exit.json')), 60_000, 'redis stopped');
    const data = path.join(p.dataDir, 'addons', P, A, 'data');
    fs.renameSync(path.join(data, 'redis'), path.join(data, 'redis.replaced'));
    fs.mkdirSync(path.join(data, 'redis'));
    const db = new Database(path.join(p.dataDir, 'slipway.db'));
    db.prepare("INSERT INTO addon_restores (id, project_id, addon_id, backup_id, status, error, created_at, completed_at) VALUES ('restore-cut', ?, ?, 'backup-x', 'in-progress', NULL, ?, NULL)").run(P, A, new Date().toISOString());
    db.close();
    await p.restart();
    client = await northflankClient(p);
    await waitForAddonStatus(client, P, A, 'running');
    assert.deepEqual(await keys(), ['a', 'b', 'd']);
    const cut = (await client.get.addon.restores({ parameters: { projectId: P, addonId: A } })).data.restores.find((r) => r.id === 'restore-cut');
    assert.equal(cut?.status, 'failed');
    assert.equal(fs.existsSync(path.join(data, 'redis.replaced')), false);
  });
});
