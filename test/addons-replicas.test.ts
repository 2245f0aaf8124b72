/**
 * Read replicas through the official client: a PostgreSQL addon with a streaming replica and a Redis addon
 * with a replica, each read back from the replica after a write on the primary, refused for writes, and
 * scaled back down (the replica stops and its data goes). MySQL takes no replicas here (refused by field).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { Redis } from 'ioredis';
import type { ApiClient } from '@northflank/js-client';
import { api, northflankClient, startTestPlatform, waitFor, type RunningPlatform } from './support/platform.ts';
import { waitForAddonStatus } from './support/addons.ts';

const P = 'replicated';

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
    const replica = await open(creds.redisReplicaUrl);
    await waitFor(async () => (await replica.get('k')) === 'v', 60_000, 'the key on the replica');
    await assert.rejects(replica.set('k', 'w'), /READONLY/);
    replica.disconnect();
  });

  it('refuses replicas for MySQL, naming the field', async () => {
    const res = await api(p, 'POST', `/v1/projects/${P}/addons`, { name: 'mysql-db', type: 'mysql', version: 'latest', billing: { deploymentPlan: 'nf-compute-20', storage: 1024, replicas: 2 } });
    assert.equal(res.status, 400);
    assert.ok(res.body.error.details['billing.replicas'], JSON.stringify(res.body));
  });
});
