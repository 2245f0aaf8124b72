/**
 * Addons with `externalAccessEnabled`, through the official client, running the real servers: the router
 * gives the addon a TCP port of its own and the credentials name it under Northflank's `EXTERNAL_` keys (the
 * internal ones unchanged); `pg` over TLS (passed through to the server, checked against the addon's
 * certificate) and ioredis connect through the router's address; a PATCH turns access off (the router port
 * refuses) and on again (the same port) without restarting the server; the CLI does the same.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { Redis } from 'ioredis';
import type { ApiClient } from '@northflank/js-client';
import { northflankClient, startTestPlatform, waitFor, type RunningPlatform } from './support/platform.ts';
import { waitForAddonStatus } from './support/addons.ts';
import { assertCliOk, runCli } from './support/cli.ts';

const P = 'outside';
const billing = { deploymentPlan: 'nf-compute-20', storage: 1024, replicas: 1 };

/** Whether a TCP connection to 127.0.0.1:port is accepted ('open') or refused ('refused'). */
function probe(port: number): Promise<'open' | 'refused'> {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host: '127.0.0.1', port });
    sock.once('connect', () => {
      sock.destroy();
      resolve('open');
    });
    sock.once('error', (err: NodeJS.ErrnoException) => (err.code === 'ECONNREFUSED' ? resolve('refused') : reject(err)));
  });
}

describe('addons with external access', () => {
  let p: RunningPlatform;
  let client: ApiClient;
  const secrets = async (addonId: string) => (await client.get.addon.credentials({ parameters: { projectId: P, addonId } })).data.secrets as Record<string, string>;
  const startedAt = async (addonId: string) => ((await client.get.addon.containers({ parameters: { projectId: P, addonId } })).data.containers ?? []).map((c) => `${c.name}@${c.createdAt}`).join(',');
  const withRedis = async <T>(url: string, fn: (r: Redis) => Promise<T>): Promise<T> => {
    const r = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1, connectTimeout: 10_000, retryStrategy: () => null });
    r.on('error', () => {});
    await r.connect();
    try {
      return await fn(r);
    } finally {
      r.disconnect();
    }
  };

  before(async () => {
    p = await startTestPlatform();
    client = await northflankClient(p);
    await client.create.project({ data: { name: P } });
    const made = await client.create.addon({ parameters: { projectId: P }, data: { name: 'pg-out', type: 'postgresql', version: 'latest', billing, tlsEnabled: true, externalAccessEnabled: true } });
    assert.equal((made.data as { externalAccessEnabled?: boolean }).externalAccessEnabled, true);
    await client.create.addon({ parameters: { projectId: P }, data: { name: 'kv-out', type: 'redis', version: 'latest', billing } });
    for (const a of ['pg-out', 'kv-out']) await waitForAddonStatus(client, P, a, 'running');
  });
  after(async () => {
    await p?.stop();
  });

  it('PostgreSQL with TLS: reached through the router port named by the EXTERNAL_ keys, TLS passed through', async () => {
    const s = await waitFor(async () => {
      const x = await secrets('pg-out');
      return x.externalPort ? x : undefined;
    }, 60_000, 'an external port in the credentials');
    // The internal keys stay as they are; the external ones name the router.
    assert.equal(s.host, '127.0.0.1');
    assert.notEqual(s.externalPort, s.port);
    assert.equal(s.externalHost, 'localhost');
    assert.equal(s.externalPostgresUri, `postgresql://${encodeURIComponent(s.username)}:${encodeURIComponent(s.password)}@localhost:${s.externalPort}/${s.database}?sslmode=require`);
    assert.ok(s.externalJdbcPostgresUri.includes(`localhost:${s.externalPort}`));
    const ca = fs.readFileSync(path.join(p.dataDir, 'addons', P, 'pg-out', 'tls', 'server.crt'), 'utf8');
    const c = new pg.Client({ host: '127.0.0.1', port: Number(s.externalPort), user: s.username, password: s.password, database: s.database, ssl: { ca } });
    await c.connect();
    try {
      await c.query('CREATE TABLE visits (who text)');
      await c.query("INSERT INTO visits VALUES ('from outside')");
      // The server itself terminated TLS: the session through the router is encrypted end to end.
      assert.equal((await c.query('SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()')).rows[0].ssl, true);
    } finally {
      await c.end();
    }
    // The same row through the internal address.
    const inside = new pg.Client({ host: s.host, port: Number(s.port), user: s.username, password: s.password, database: s.database, ssl: { ca } });
    await inside.connect();
    assert.deepEqual((await inside.query('SELECT who FROM visits')).rows, [{ who: 'from outside' }]);
    await inside.end();
  });

  it('Redis: no external keys and no route while off; a PATCH turns it on and off without a restart', async () => {
    const off = await secrets('kv-out');
    assert.equal(off.externalPort, undefined);
    assert.equal(off.externalRedisMasterUrl, undefined);
    const before = await startedAt('kv-out');

    await client.patch.addon({ parameters: { projectId: P, addonId: 'kv-out' }, data: { externalAccessEnabled: true } });
    const s = await waitFor(async () => {
      const x = await secrets('kv-out');
      return x.externalPort ? x : undefined;
    }, 60_000, 'an external port in the credentials');
    assert.equal(s.host, off.host);
    assert.equal(s.port, off.port);
    assert.equal(s.redisMasterUrl, off.redisMasterUrl);
    assert.equal(s.externalRedisMasterUrl, `redis://default:${encodeURIComponent(s.password)}@localhost:${s.externalPort}`);
    const port = Number(s.externalPort);
    const through = `redis://default:${encodeURIComponent(s.password)}@127.0.0.1:${port}`;
    await waitFor(async () => (await probe(port)) === 'open', 30_000, 'the router port open');
    await withRedis(through, async (r) => {
      await r.set('greeting', 'hello from outside');
      assert.equal(await r.get('greeting'), 'hello from outside');
    });
    await withRedis(s.redisMasterUrl, async (r) => assert.equal(await r.get('greeting'), 'hello from outside'));

    await client.patch.addon({ parameters: { projectId: P, addonId: 'kv-out' }, data: { externalAccessEnabled: false } });
    await waitFor(async () => (await probe(port)) === 'refused', 30_000, 'the router port refusing once access is off');
    const again = await secrets('kv-out');
    assert.equal(again.externalPort, undefined);
    assert.equal(((await client.get.addon({ parameters: { projectId: P, addonId: 'kv-out' } })).data as { externalAccessEnabled?: boolean }).externalAccessEnabled, false);

    // On again: the route comes back on the port it had.
    await client.patch.addon({ parameters: { projectId: P, addonId: 'kv-out' }, data: { externalAccessEnabled: true } });
    const back = await waitFor(async () => {
      const x = await secrets('kv-out');
      return x.externalPort ? x : undefined;
    }, 60_000, 'the external port back');
    assert.equal(back.externalPort, s.externalPort);
    await waitFor(async () => (await probe(port)) === 'open', 30_000, 'the router port open again');
    await withRedis(through, async (r) => assert.equal(await r.get('greeting'), 'hello from outside'));
    // The server was never restarted by any of it.
    assert.equal(await startedAt('kv-out'), before);
    assert.equal((await client.get.addon({ parameters: { projectId: P, addonId: 'kv-out' } })).data.status, 'running');
  });

  it('the CLI turns it off and on and prints the address', async () => {
    const home = fs.mkdtempSync(path.join(os.tmpdir(), 'slipway-cli-external-'));
    const cli = (...args: string[]) => runCli([...args, '-p', P], { home, env: { SLIPWAY_HOST: p.apiUrl, SLIPWAY_TOKEN: p.token } });
    try {
      const port = Number(await waitFor(async () => (await secrets('kv-out')).externalPort, 60_000, 'the external port of kv-out (left on by the case before)'));
      const off = await cli('addons', 'external', 'kv-out', 'off');
      assertCliOk(off, 'addons external off');
      assert.match(off.stdout, /external access off/);
      await waitFor(async () => (await probe(port)) === 'refused', 30_000, 'the router port refusing after the CLI turned access off');
      const shown = await cli('addons', 'get', 'kv-out');
      assertCliOk(shown, 'addons get');
      assert.match(shown.stdout, /external access:\s+off/);
      const on = await cli('addons', 'external', 'kv-out', 'on');
      assertCliOk(on, 'addons external on');
      assert.match(on.stdout, new RegExp(`external access on at localhost:${port}\\b`));
      const bad = await cli('addons', 'external', 'kv-out', 'maybe');
      assert.notEqual(bad.code, 0);
      assert.match(bad.output, /'on' or 'off'/);
    } finally {
      fs.rmSync(home, { recursive: true, force: true });
    }
  });
});
