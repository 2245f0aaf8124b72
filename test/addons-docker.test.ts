/**
 * Addons on the docker runtime (Podman here): each type's server runs as a container from its image
 * (SLIPWAY_ADDON_IMAGE_<TYPE>), as the unprivileged server user, on the host's network, its data directory
 * an engine volume bound to the platform's data directory. No public registry is reachable: the images are
 * built `FROM scratch` from this machine's Debian binaries (test/support/addon-images.ts) and loaded into
 * the Podman service this file starts. Each type: created, reached with its credentials by the real driver,
 * written, backed up, written more, restored to exactly the backed-up data; PostgreSQL is also paused and
 * resumed and its container adopted after a control-plane SIGKILL.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import mysql from 'mysql2/promise';
import { Redis } from 'ioredis';
import type { ApiClient } from '@northflank/js-client';
import { api, northflankClient, startTestPlatform, waitFor, type RunningPlatform } from './support/platform.ts';
import { backupAndWait, restoreAndWait, waitForAddonStatus } from './support/addons.ts';
import { startPodman, type PodmanService } from './support/podman.ts';
import { ADDON_IMAGES, addonImageEnv, buildAddonImage } from './support/addon-images.ts';

const P = 'dockeraddons';
const billing = { deploymentPlan: 'nf-compute-20', storage: 1024, replicas: 1 };

describe('addons on the docker runtime', () => {
  let podman: PodmanService;
  let p: RunningPlatform;
  let client: ApiClient;

  const creds = async (addonId: string) => (await client.get.addon.credentials({ parameters: { projectId: P, addonId } })).data.secrets;
  const container = async (addonId: string) => (await client.get.addon.containers({ parameters: { projectId: P, addonId } })).data.containers!;

  before(async () => {
    podman = await startPodman();
    for (const type of ['postgresql', 'mysql', 'redis'] as const) console.log(`${type} image built in ${await buildAddonImage(podman.docker, type)} ms`);
    p = await startTestPlatform({ SLIPWAY_RUNTIME: 'docker', DOCKER_HOST: podman.dockerHost, ...addonImageEnv() });
    client = await northflankClient(p);
    await client.create.project({ data: { name: P } });
  });
  after(async () => {
    try {
      for (const a of ['pg-db', 'my-db', 'cache']) await client?.delete.addon({ parameters: { projectId: P, addonId: a } }).catch(() => {});
      if (client) await waitFor(async () => (await client.list.addons({ parameters: { projectId: P } })).data.addons.length === 0, 120_000, 'addons deleted').catch(() => {});
      await p?.stop();
    } finally {
      // Whatever a failed test left in the shared image store's engine: this project's containers and volumes.
      if (podman) {
        for (const c of await podman.docker.listContainers({ all: true, filters: { label: [`slipway.project=${P}`] } })) await podman.docker.getContainer(c.Id).remove({ force: true }).catch(() => {});
        for (const v of (await podman.docker.listVolumes()).Volumes ?? []) if (v.Name.includes(`addon-${P}-`)) await podman.docker.getVolume(v.Name).remove({ force: true }).catch(() => {});
        await podman.stop();
      }
    }
  });

  it('offers the types that have an image', async () => {
    const types = (await client.get.addon.types({})).data.addonTypes.map((t) => t.type).sort();
    assert.deepEqual(types, ['mysql', 'postgresql', 'redis']);
  });

  it('PostgreSQL: a container from its image as the server user; connect, write, back up, restore', async () => {
    await client.create.addon({ parameters: { projectId: P }, data: { name: 'pg-db', type: 'postgresql', version: 'latest', billing } });
    await waitForAddonStatus(client, P, 'pg-db', 'running');
    const [c] = await container('pg-db');
    assert.equal(c.status, 'TASK_RUNNING');
    const info = await podman.docker.getContainer(c.name).inspect();
    assert.equal(info.Config.Image, ADDON_IMAGES.postgresql);
    assert.notEqual(info.Config.User, '', 'runs as a user of its own');
    assert.doesNotMatch(info.Config.User, /^0(:|$)/, 'not as root');
    assert.equal(info.HostConfig.NetworkMode, 'host');
    const owner = fs.statSync(path.join(p.dataDir, 'addons', P, 'pg-db', 'data', 'pg')).uid;
    assert.equal(String(owner), info.Config.User.split(':')[0], 'the data directory on the host belongs to the container user');
    assert.equal(fs.statSync(path.join(p.dataDir, 'addons', P, 'pg-db', 'data')).mode & 0o777, 0o700, 'and only that user may read it');

    const uri = (await creds('pg-db')).postgresUri as string;
    const q = async (sql: string) => {
      const conn = new pg.Client({ connectionString: uri, connectionTimeoutMillis: 10_000 });
      await conn.connect();
      try {
        return (await conn.query(sql)).rows;
      } finally {
        await conn.end();
      }
    };
    await q('CREATE TABLE items (id serial PRIMARY KEY, name text)');
    await q("INSERT INTO items (name) VALUES ('one'), ('two')");
    const backupId = await backupAndWait(client, P, 'pg-db', 'docker pg');
    await q("INSERT INTO items (name) VALUES ('three')");
    const r = await restoreAndWait(client, P, 'pg-db', backupId);
    assert.equal(r.status, 'completed', JSON.stringify(r));
    assert.deepEqual((await q('SELECT name FROM items ORDER BY id')).map((x) => x.name), ['one', 'two']);
    await waitForAddonStatus(client, P, 'pg-db', 'running');

    // Pause stops the container, resume starts a new one on the same data.
    await client.pause.addon({ parameters: { projectId: P, addonId: 'pg-db' } });
    await waitForAddonStatus(client, P, 'pg-db', 'paused');
    await waitFor(async () => (await container('pg-db')).length === 0, 60_000, 'no container while paused');
    await client.resume.addon({ parameters: { projectId: P, addonId: 'pg-db' } });
    await waitForAddonStatus(client, P, 'pg-db', 'running');
    assert.deepEqual((await q('SELECT name FROM items ORDER BY id')).map((x) => x.name), ['one', 'two']);

    // A control plane killed with SIGKILL: the container keeps serving and is adopted, not replaced.
    const before_ = (await podman.docker.getContainer((await container('pg-db'))[0].name).inspect()).Id;
    await p.kill9();
    assert.deepEqual((await q('SELECT name FROM items ORDER BY id')).map((x) => x.name), ['one', 'two'], 'serves while the control plane is down');
    await p.restart();
    client = await northflankClient(p);
    await waitForAddonStatus(client, P, 'pg-db', 'running');
    const now = await container('pg-db');
    assert.equal(now.length, 1);
    assert.equal((await podman.docker.getContainer(now[0].name).inspect()).Id, before_, 'the same container, adopted');
  });

  it('MySQL (MariaDB): connect, write, back up, restore', async () => {
    await client.create.addon({ parameters: { projectId: P }, data: { name: 'my-db', type: 'mysql', version: 'latest', billing } });
    await waitForAddonStatus(client, P, 'my-db', 'running');
    assert.equal((await podman.docker.getContainer((await container('my-db'))[0].name).inspect()).Config.Image, ADDON_IMAGES.mysql);
    const uri = (await creds('my-db')).mysqlUri as string;
    const q = async (sql: string) => {
      const conn = await mysql.createConnection({ uri, connectTimeout: 10_000 });
      try {
        return (await conn.query(sql))[0] as any[];
      } finally {
        await conn.end();
      }
    };
    await q('CREATE TABLE items (id int AUTO_INCREMENT PRIMARY KEY, name text)');
    await q("INSERT INTO items (name) VALUES ('a'), ('b')");
    const backupId = await backupAndWait(client, P, 'my-db', 'docker mysql');
    await q("INSERT INTO items (name) VALUES ('c')");
    const r = await restoreAndWait(client, P, 'my-db', backupId);
    assert.equal(r.status, 'completed', JSON.stringify(r));
    assert.deepEqual((await q('SELECT name FROM items ORDER BY id')).map((x) => x.name), ['a', 'b']);
  });

  it('Redis: connect, write, back up, restore', async () => {
    await client.create.addon({ parameters: { projectId: P }, data: { name: 'cache', type: 'redis', version: 'latest', billing } });
    await waitForAddonStatus(client, P, 'cache', 'running');
    assert.equal((await podman.docker.getContainer((await container('cache'))[0].name).inspect()).Config.Image, ADDON_IMAGES.redis);
    const url = (await creds('cache')).redisMasterUrl as string;
    const withRedis = async <T>(fn: (r: Redis) => Promise<T>) => {
      const r = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1, connectTimeout: 10_000, retryStrategy: () => null });
      await r.connect();
      try {
        return await fn(r);
      } finally {
        r.disconnect();
      }
    };
    await withRedis((r) => r.mset('k1', 'v1', 'k2', 'v2'));
    const backupId = await backupAndWait(client, P, 'cache', 'docker redis');
    await withRedis((r) => r.set('k3', 'v3'));
    const r = await restoreAndWait(client, P, 'cache', backupId);
    assert.equal(r.status, 'completed', JSON.stringify(r));
    await waitForAddonStatus(client, P, 'cache', 'running');
    assert.deepEqual(await withRedis(async (x) => (await x.keys('*')).sort()), ['k1', 'k2']);
  });

  it('deletes an addon: its container is stopped, then its data removed', async () => {
    const name = (await container('cache'))[0].name;
    await client.delete.addon({ parameters: { projectId: P, addonId: 'cache' } });
    await waitFor(async () => !fs.existsSync(path.join(p.dataDir, 'addons', P, 'cache')), 120_000, 'data removed');
    assert.equal((await podman.docker.listContainers({ all: true, filters: { name: [name] } })).length, 0);
    assert.equal(((await podman.docker.listVolumes()).Volumes ?? []).filter((v) => v.Name.includes(`addon-${P}-cache`)).length, 0, 'its engine volume is gone');
  });

  it('refuses a type with no image on this runtime (422 naming type), and lists only the types with one', async () => {
    const only = await startTestPlatform({ SLIPWAY_RUNTIME: 'docker', DOCKER_HOST: podman.dockerHost, SLIPWAY_ADDON_IMAGE_POSTGRESQL: ADDON_IMAGES.postgresql });
    try {
      const c = await northflankClient(only);
      await c.create.project({ data: { name: P } });
      assert.deepEqual((await c.get.addon.types({})).data.addonTypes.map((t) => t.type), ['postgresql']);
      const res = await api(only, 'POST', `/v1/projects/${P}/addons`, { name: 'no-image', type: 'redis', version: 'latest', billing });
      assert.equal(res.status, 422, JSON.stringify(res.body));
      assert.ok(res.body.error.details.type, JSON.stringify(res.body));
      assert.match(JSON.stringify(res.body), /SLIPWAY_ADDON_IMAGE_REDIS/);
      assert.equal((await c.list.addons({ parameters: { projectId: P } })).data.addons.length, 0, 'nothing half-created');
    } finally {
      await only.stop();
    }
  });
});
