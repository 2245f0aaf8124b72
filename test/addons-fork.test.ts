/**
 * Forking (`source` on `create.addon`), through the official client with the real PostgreSQL server: a new
 * addon made from another addon's backup holds exactly the backed-up rows (not those written after), and its
 * restore history shows the restore; a fork from a backup of another type, an unknown backup or one of another
 * addon is a 400 naming the field, and nothing is created.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import type { ApiClient } from '@northflank/js-client';
import { api, northflankClient, startTestPlatform, waitFor, type RunningPlatform } from './support/platform.ts';
import { backupAndWait, waitForAddonStatus } from './support/addons.ts';

const P = 'forks';
const billing = { deploymentPlan: 'nf-compute-20', storage: 1024, replicas: 1 };

describe('forking an addon from a backup', () => {
  let p: RunningPlatform;
  let client: ApiClient;
  let backupId: string;
  const query = async (addonId: string, sql: string) => {
    const s = (await client.get.addon.credentials({ parameters: { projectId: P, addonId } })).data.secrets as Record<string, string>;
    const c = new pg.Client({ connectionString: s.postgresUri });
    await c.connect();
    try {
      return (await c.query(sql)).rows;
    } finally {
      await c.end();
    }
  };

  before(async () => {
    p = await startTestPlatform();
    client = await northflankClient(p);
    await client.create.project({ data: { name: P } });
    await client.create.addon({ parameters: { projectId: P }, data: { name: 'origin', type: 'postgresql', version: 'latest', billing } });
    await waitForAddonStatus(client, P, 'origin', 'running');
    await query('origin', 'CREATE TABLE orders (id int PRIMARY KEY, item text)');
    await query('origin', "INSERT INTO orders VALUES (1, 'anchor'), (2, 'rope')");
    backupId = await backupAndWait(client, P, 'origin', 'before the fork');
    await query('origin', "INSERT INTO orders VALUES (3, 'after the backup')");
  });
  after(async () => {
    await p?.stop();
  });

  it('a fork holds exactly the backed-up data and lists the restore', async () => {
    const made = await client.create.addon({ parameters: { projectId: P }, data: { name: 'copy', type: 'postgresql', version: 'latest', billing, source: { addonId: 'origin', backupId } } });
    assert.equal(made.data.id, 'copy');
    const restore = await waitFor(async () => {
      const list = (await client.get.addon.restores({ parameters: { projectId: P, addonId: 'copy' } })).data.restores;
      const r = list.find((x) => x.backupId === backupId);
      return r && (r.status === 'completed' || r.status === 'failed') ? r : undefined;
    }, 240_000, 'the fork restore');
    assert.equal(restore.status, 'completed', JSON.stringify(restore));
    await waitForAddonStatus(client, P, 'copy', 'running');
    assert.deepEqual(await query('copy', 'SELECT id, item FROM orders ORDER BY id'), [
      { id: 1, item: 'anchor' },
      { id: 2, item: 'rope' },
    ]);
    // The fork is its own addon: a write there leaves the origin as it was.
    await query('copy', "INSERT INTO orders VALUES (9, 'only in the fork')");
    assert.deepEqual((await query('origin', 'SELECT id FROM orders ORDER BY id')).map((r) => r.id), [1, 2, 3]);
  });

  it('refuses a fork from a backup of another type, an unknown backup or another addon’s, creating nothing', async () => {
    const cases: [Record<string, unknown>, string, string, string][] = [
      [{ addonId: 'origin', backupId }, 'redis', 'source.backupId', 'postgresql'],
      [{ addonId: 'origin', backupId: 'no-such-backup' }, 'postgresql', 'source.backupId', 'no-such-backup'],
      [{ addonId: 'copy', backupId }, 'postgresql', 'source.backupId', 'has no backup'],
      [{ backupUid: 'no-such-backup' }, 'postgresql', 'source.backupUid', 'no-such-backup'],
      [{ backupId }, 'postgresql', 'source.addonId', 'addonId'],
    ];
    for (const [source, type, field, says] of cases) {
      const res = await api(p, 'POST', `/v1/projects/${P}/addons`, { name: 'refused-fork', type, version: 'latest', billing, source });
      assert.equal(res.status, 400, JSON.stringify(res.body));
      assert.ok(res.body.error.details?.[field], `${field} named in ${JSON.stringify(res.body)}`);
      assert.ok(JSON.stringify(res.body.error.details[field]).includes(says), JSON.stringify(res.body));
    }
    // By uid (the backup's id here), the fork is taken.
    const byUid = await api(p, 'POST', `/v1/projects/${P}/addons`, { name: 'by-uid', type: 'postgresql', version: 'latest', billing, source: { backupUid: backupId } });
    assert.equal(byUid.status, 200, JSON.stringify(byUid.body));
    const ids = (await client.list.addons({ parameters: { projectId: P } })).data.addons.map((a) => a.id).sort();
    assert.deepEqual(ids, ['by-uid', 'copy', 'origin']);
  });
});
