/**
 * Backup destinations: an S3-compatible bucket addon backups are written to, through the official client.
 * No S3 server is packaged in Debian here: `s3rver` (an npm dev dependency, run in this process) is the
 * STAND-IN for the S3 endpoint, with its one built-in key pair (S3RVER / S3RVER). It checks the access key
 * of a SigV4 request but not its signature, so a wrong secret key is not caught here (real S3 refuses it
 * with SignatureDoesNotMatch, which the service maps to `credentials.secretKey`).
 * A Redis addon (the real server) is backed up to the bucket, restored and downloaded from it; a scheduled
 * backup goes there too and is deleted there once past its retention; bad input is refused by field.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import S3rver from 's3rver';
import Database from 'better-sqlite3';
import { Redis } from 'ioredis';
import type { ApiClient } from '@northflank/js-client';
import { ROOT, api, freePort, northflankClient, startTestPlatform, waitFor, type RunningPlatform } from './support/platform.ts';
import { restoreAndWait, waitForAddonStatus } from './support/addons.ts';
import { launchChromium, openPage } from './support/browser.ts';

const P = 's3backups';
const A = 'cache';
const BUCKET = 'slipway-backups';

/** Every object key s3rver holds in the bucket (its file store keeps `<key>._S3rver_object`). */
function objects(dir: string): string[] {
  const root = path.join(dir, BUCKET);
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of fs.existsSync(d) ? fs.readdirSync(d, { withFileTypes: true }) : []) {
      const full = path.join(d, e.name);
      if (e.isDirectory()) walk(full);
      else if (e.name.endsWith('._S3rver_object')) out.push(path.relative(root, full).replace(/\._S3rver_object$/, ''));
    }
  };
  walk(root);
  return out.sort();
}

describe('backup destinations (S3, s3rver as the stand-in endpoint)', () => {
  let p: RunningPlatform;
  let client: ApiClient;
  let s3: S3rver;
  let s3Dir: string;
  let endpoint: string;
  let url: string;
  let backupId: string;

  const withRedis = async <T>(fn: (r: Redis) => Promise<T>) => {
    const r = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1, connectTimeout: 10_000, retryStrategy: () => null });
    await r.connect();
    try {
      return await fn(r);
    } finally {
      r.disconnect();
    }
  };
  const keys = () => withRedis(async (r) => (await r.keys('*')).sort());
  const credentials = (over: Record<string, string> = {}) => ({ accessKey: 'S3RVER', secretKey: 'S3RVER', bucketName: BUCKET, region: 'us-east-1', endpoint, ...over });

  before(async () => {
    s3Dir = fs.mkdtempSync(path.join(os.tmpdir(), 'slipway-s3rver-'));
    const port = await freePort();
    s3 = new S3rver({ address: '127.0.0.1', port, silent: true, directory: s3Dir, configureBuckets: [{ name: BUCKET, configs: [] }] });
    await s3.run();
    endpoint = `http://127.0.0.1:${port}`;
    p = await startTestPlatform();
    client = await northflankClient(p);
    await client.create.project({ data: { name: P } });
    await client.create.addon({ parameters: { projectId: P }, data: { name: A, type: 'redis', version: 'latest', billing: { deploymentPlan: 'nf-compute-20', storage: 1024, replicas: 1 } } });
    await waitForAddonStatus(client, P, A, 'running');
    url = (await client.get.addon.credentials({ parameters: { projectId: P, addonId: A } })).data.secrets.redisMasterUrl;
  });
  after(async () => {
    await p?.stop();
    await s3?.close();
    fs.rmSync(s3Dir, { recursive: true, force: true });
  });

  it('refuses bad destinations by field, and nothing is saved', async () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ name: 'bad type', type: 'gcs', prefix: '', credentials: credentials() }, 'type'],
      [{ name: 'bad bucket', type: 's3', prefix: '', credentials: credentials({ bucketName: 'No_Such', secretKey: 'sekrit-value' }) }, 'credentials.bucketName'],
      [{ name: 'bad endpoint', type: 's3', prefix: '', credentials: credentials({ endpoint: 'ftp://x' }) }, 'credentials.endpoint'],
      [{ name: 'bad prefix', type: 's3', prefix: 'a/../b', credentials: credentials() }, 'prefix'],
      [{ name: 'wrong key', type: 's3', prefix: '', credentials: credentials({ accessKey: 'not-the-key' }) }, 'credentials.accessKey'],
      [{ name: 'missing bucket', type: 's3', prefix: '', credentials: credentials({ bucketName: 'not-there', secretKey: 'sekrit-value' }) }, 'credentials.bucketName'],
    ];
    for (const [body, field] of cases) {
      const res = await api(p, 'POST', '/v1/backup-destinations', body);
      assert.equal(res.status, 400, `${field}: ${JSON.stringify(res.body)}`);
      assert.ok(res.body.error.details[field], `${field} named: ${JSON.stringify(res.body)}`);
      assert.doesNotMatch(JSON.stringify(res.body), /sekrit-value/, 'the secret key is not echoed');
    }
    assert.equal((await client.list.backupDestinations({})).data.backupDestinations.length, 0);
  });

  it('creates, lists, gets and updates a destination; the secret key is sealed and never returned', async () => {
    const created = await client.add.backupDestination({ data: { name: 'offsite', type: 's3', prefix: 'team-a/', credentials: credentials() } });
    assert.equal(created.data.id, 'offsite');
    assert.equal(created.data.credentials.secretKey, '[redacted]');
    const got = (await client.get.backupDestination({ parameters: { backupDestinationId: 'offsite' } })).data;
    assert.deepEqual({ ...got.credentials }, { accessKey: 'S3RVER', secretKey: '[redacted]', bucketName: BUCKET, region: 'us-east-1', endpoint });
    assert.deepEqual((await client.list.backupDestinations({})).data.backupDestinations.map((d) => d.name), ['offsite']);
    await client.patch.backupDestination({ parameters: { backupDestinationId: 'offsite' }, data: { description: 'the off-site copy' } });
    assert.equal((await client.get.backupDestination({ parameters: { backupDestinationId: 'offsite' } })).data.description, 'the off-site copy');
    const badPatch = await api(p, 'PATCH', '/v1/backup-destinations/offsite', { credentials: credentials({ accessKey: 'wrong' }) });
    assert.equal(badPatch.status, 400);
    assert.ok(badPatch.body.error.details['credentials.accessKey'], JSON.stringify(badPatch.body));
    assert.equal((await client.get.backupDestination({ parameters: { backupDestinationId: 'offsite' } })).data.credentials.accessKey, 'S3RVER', 'a refused patch changes nothing');
    // Sealed at rest: the key pair is nowhere in the store's files.
    for (const f of fs.readdirSync(p.dataDir).filter((n) => n.startsWith('slipway.db'))) assert.equal(fs.readFileSync(path.join(p.dataDir, f)).includes('S3RVER'), false, `${f} holds no key`);
  });

  it('writes a backup to the bucket (not the data directory), restores and downloads it from there', async () => {
    await withRedis((r) => r.mset('a', '1', 'b', '2'));
    const unknown = await api(p, 'POST', `/v1/projects/${P}/addons/${A}/backups`, { name: 'nowhere', customDestinationId: 'nope' });
    assert.equal(unknown.status, 400);
    assert.ok(unknown.body.error.details.customDestinationId, JSON.stringify(unknown.body));

    const b = await client.backup.addon({ parameters: { projectId: P, addonId: A }, data: { name: 'to s3', backupType: 'dump', customDestinationId: 'offsite' } });
    backupId = b.data.id;
    const done = await waitFor(async () => {
      const r = (await client.get.addon.backup({ parameters: { projectId: P, addonId: A, backupId } })).data as any;
      return r.status === 'completed' || r.status === 'failed' ? r : undefined;
    }, 120_000, 'backup to s3');
    assert.equal(done.status, 'completed', JSON.stringify(done));
    assert.equal(done.customDestinationId, 'offsite');
    assert.deepEqual(objects(s3Dir), [`team-a/${P}/${A}/${backupId}.rdb`]);
    const localDir = path.join(p.dataDir, 'addons', P, A, 'backups');
    assert.deepEqual(fs.existsSync(localDir) ? fs.readdirSync(localDir) : [], [], 'no local copy kept');
    const stored = (await client.list.backupDestinationsBackups({ parameters: { backupDestinationId: 'offsite' } })).data;
    assert.deepEqual(stored.map((x) => [x.id, x.status, x.addon?.id]), [[backupId, 'completed', A]]);

    await withRedis((r) => r.set('c', '3'));
    const restored = await restoreAndWait(client, P, A, backupId);
    assert.equal(restored.status, 'completed', JSON.stringify(restored));
    await waitForAddonStatus(client, P, A, 'running');
    assert.deepEqual(await keys(), ['a', 'b']);
    assert.deepEqual(fs.readdirSync(localDir), [], 'the fetched copy is removed after the restore');

    const link = (await client.get.addon.backup.download({ parameters: { projectId: P, addonId: A, backupId } })).data.downloadLink;
    const res = await fetch(link, { headers: { authorization: `Bearer ${p.token}` } });
    assert.equal(res.status, 200);
    const body = Buffer.from(await res.arrayBuffer());
    assert.equal(body.subarray(0, 5).toString(), 'REDIS');
    assert.equal(String(body.length), done.config.size);
  });

  it('the dashboard backs up to the destination and says where each backup is stored', async () => {
    if (!process.env.SLIPWAY_TEST_WEB_BUILT) execFileSync('npm', ['run', '--silent', 'build:web'], { cwd: ROOT, stdio: 'pipe' });
    const browser = await launchChromium();
    try {
      const page = await openPage(browser);
      await page.goto(`${p.apiUrl}/ui/`);
      await page.getByLabel('API token').fill(p.token);
      await page.getByLabel('API token').press('Enter');
      await page.getByRole('link', { name: P }).click();
      await page.getByRole('link', { name: A }).click();
      await page.getByRole('heading', { level: 1, name: A }).waitFor();
      await page.getByLabel('Back up to').selectOption('offsite');
      await page.getByRole('button', { name: 'Back up now' }).click();
      const table = page.getByRole('table', { name: 'Backups' });
      await waitFor(async () => (await table.getByText('destination offsite').count()) === 2, 120_000, 'two backups stored on the destination');
      const mine = await waitFor(async () => {
        const all = (await client.get.addon.backups({ parameters: { projectId: P, addonId: A } })).data.backups as { id: string; status: string; customDestinationId?: string }[];
        return all.find((x) => x.id !== backupId && x.customDestinationId === 'offsite' && x.status === 'completed');
      }, 120_000, 'the dashboard backup completed');
      await client.delete.backup({ parameters: { projectId: P, addonId: A, backupId: mine.id } });
      assert.deepEqual(objects(s3Dir), [`team-a/${P}/${A}/${backupId}.rdb`]);
    } finally {
      await browser.close();
    }
  });

  it('refuses to delete a destination that holds backups (409)', async () => {
    const res = await api(p, 'DELETE', '/v1/backup-destinations/offsite');
    assert.equal(res.status, 409, JSON.stringify(res.body));
  });

  it('a scheduled backup goes to the destination, and is deleted there once past its retention', async () => {
    const everyMinute = Array.from({ length: 60 }, (_, i) => i);
    const bad = await api(p, 'POST', `/v1/projects/${P}/addons/${A}/backup-schedules`, { scheduling: { interval: 'hourly', minute: everyMinute }, backupType: 'dump', retentionTime: 1, customDestinationId: 'nope' });
    assert.equal(bad.status, 400);
    assert.ok(bad.body.error.details.customDestinationId, JSON.stringify(bad.body));
    const s = await client.create.addon.backupSchedule({ parameters: { projectId: P, addonId: A }, data: { scheduling: { interval: 'hourly', minute: everyMinute }, backupType: 'dump', retentionTime: 1, customDestinationId: 'offsite' } });
    const scheduled = await waitFor(async () => {
      const all = (await client.get.addon.backups({ parameters: { projectId: P, addonId: A } })).data.backups as { id: string; status: string; scheduleId?: string }[];
      return all.find((x) => x.scheduleId === s.data.id && x.status === 'completed');
    }, 150_000, 'a scheduled backup');
    await client.delete.addon.backupSchedule({ parameters: { projectId: P, addonId: A, scheduleId: s.data.id } });
    assert.ok(objects(s3Dir).includes(`team-a/${P}/${A}/${scheduled.id}.rdb`), JSON.stringify(objects(s3Dir)));
    // The retention is a day; a day passing is simulated by moving the backup's expiry into the past.
    const db = new Database(path.join(p.dataDir, 'slipway.db'));
    db.prepare('UPDATE addon_backups SET expires_at = ? WHERE schedule_id = ?').run(new Date(Date.now() - 60_000).toISOString(), s.data.id);
    db.close();
    await waitFor(async () => {
      const all = (await client.get.addon.backups({ parameters: { projectId: P, addonId: A } })).data.backups as { id: string; scheduleId?: string }[];
      return !all.some((x) => x.scheduleId === s.data.id);
    }, 60_000, 'the expired backups removed');
    assert.deepEqual(objects(s3Dir), [`team-a/${P}/${A}/${backupId}.rdb`], 'only the manual backup is left in the bucket');
  });

  it('deleting a backup deletes its object; then the destination can be deleted', async () => {
    await client.delete.backup({ parameters: { projectId: P, addonId: A, backupId } });
    assert.deepEqual(objects(s3Dir), []);
    await client.delete.backupDestination({ parameters: { backupDestinationId: 'offsite' } });
    assert.equal((await client.list.backupDestinations({})).data.backupDestinations.length, 0);
  });

  it('the CLI adds a destination (secret key from the environment), backs up to it, lists and deletes', async () => {
    const home = fs.mkdtempSync(path.join(os.tmpdir(), 'slipway-cli-s3-'));
    // Asynchronous: s3rver runs in this process and must keep answering while the CLI waits for a backup.
    const cli = (args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; out: string }> => {
      const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('SLIPWAY_') && k !== 'S3_SECRET_KEY'));
      const child = spawn(process.execPath, [path.join(ROOT, 'bin/slipway.mjs'), ...args], { cwd: home, env: { ...base, SLIPWAY_CONFIG: path.join(home, 'slipway.json'), SLIPWAY_HOST: p.apiUrl, SLIPWAY_TOKEN: p.token, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      child.stdout.on('data', (d) => (out += d));
      child.stderr.on('data', (d) => (out += d));
      return new Promise((resolve, reject) => {
        child.on('error', reject);
        child.on('close', (code) => resolve({ code, out }));
      });
    };
    try {
      const noSecret = await cli(['backup-destinations', 'create', 'cli-dest', '--bucket', BUCKET, '--endpoint', endpoint, '--access-key', 'S3RVER']);
      assert.notEqual(noSecret.code, 0);
      assert.match(noSecret.out, /S3_SECRET_KEY/);
      const created = await cli(['backup-destinations', 'create', 'cli-dest', '--bucket', BUCKET, '--endpoint', endpoint, '--access-key', 'S3RVER', '--prefix', 'cli'], { S3_SECRET_KEY: 'S3RVER' });
      assert.equal(created.code, 0, created.out);
      const listed = await cli(['backup-destinations', 'list']);
      assert.equal(listed.code, 0, listed.out);
      assert.match(listed.out, /cli-dest/);
      const shown = await cli(['backup-destinations', 'show', 'cli-dest']);
      assert.equal(shown.code, 0, shown.out);
      assert.match(shown.out, new RegExp(BUCKET));
      assert.doesNotMatch(shown.out, /secret/i, 'no secret key shown');
      const backup = await cli(['addons', 'backup', A, '-p', P, '--destination', 'cli-dest']);
      assert.equal(backup.code, 0, backup.out);
      const id = /Backup '([^']+)' completed/.exec(backup.out)?.[1];
      assert.ok(id, backup.out);
      assert.deepEqual(objects(s3Dir), [`cli/${P}/${A}/${id}.rdb`]);
      const stored = await cli(['backup-destinations', 'backups', 'cli-dest']);
      assert.match(stored.out, new RegExp(id));
      assert.notEqual((await cli(['backup-destinations', 'delete', 'cli-dest'])).code, 0, 'refused while it holds a backup');
      await client.delete.backup({ parameters: { projectId: P, addonId: A, backupId: id } });
      assert.equal((await cli(['backup-destinations', 'delete', 'cli-dest'])).code, 0);
      assert.deepEqual(objects(s3Dir), []);
    } finally {
      fs.rmSync(home, { recursive: true, force: true });
    }
  });
});
