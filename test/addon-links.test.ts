/**
 * Addons linked to services through secret groups, through the official @northflank/js-client on a real
 * platform: a PostgreSQL addon linked with an alias reaches a service (a Node app using the `pg` module,
 * built from its fixture) as variables it connects with, answering through the router; a credential
 * rotation rolls the service out under load with no failed request, and then the old login stops working; a job run reads it too; bad links are refused by field with
 * nothing stored; a viewer reads names, never values; a linked addon cannot be deleted until unlinked.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import type { ApiClient } from '@northflank/js-client';
import { api, fixtureRepo, northflankClient, routerLoad, startTestPlatform, viaRouter, waitFor, type RunningPlatform } from './support/platform.ts';
import { waitForAddonStatus } from './support/addons.ts';

const PROJECT = 'links';
const parameters = { projectId: PROJECT };
const ADDON = 'linked-db';
const NOTE = 'read through a linked addon';

describe('addons linked to services through secret groups', () => {
  let p: RunningPlatform;
  let client: ApiClient;
  let firstPassword: string;
  const repo = fixtureRepo('pg-app');
  const svcPath = (id: string) => `/v1/projects/${PROJECT}/services/${id}`;
  const releases = async (id: string) => (await api(p, 'GET', `/projects/${PROJECT}/services/${id}/releases`)).body.releases as { number: number }[];
  const rolloutEvents = async (id: string) => ((await api(p, 'GET', `/projects/${PROJECT}/services/${id}/rollouts`)).body.rollouts as { events: { message: string }[] }[])[0].events.map((e) => e.message);
  const status = async (id: string) => (await api(p, 'GET', svcPath(id))).body.data.status.deployment as { status: string };
  const answer = async (id: string) => {
    const res = await viaRouter(p, `${id}.${PROJECT}.localhost`);
    return { status: res.status, body: (await res.json().catch(() => ({}))) as { note?: string; host?: string; linked?: string[]; error?: string } };
  };
  const credentials = async () => (await client.get.addon.credentials({ parameters: { ...parameters, addonId: ADDON } })).data.secrets as { password: string; postgresUri: string };
  /** Every instance runs the newest release, ready, and the router answers from the database. */
  const settledOn = (id: string, newestAtLeast: number) =>
    waitFor(async () => {
      const newest = (await releases(id))[0]?.number ?? 0;
      if (newest < newestAtLeast) return false;
      const containers = (await api(p, 'GET', `${svcPath(id)}/containers`)).body.data.containers as { release: number; ready: boolean }[];
      if (!containers.length || !containers.every((c) => c.release === newest && c.ready) || (await status(id)).status !== 'COMPLETED') return false;
      const a = await answer(id);
      return a.status === 200 && a.body.note === NOTE ? a.body : false;
    }, 180_000, `${id} reading the addon on release ${newestAtLeast} or later`);
  /** The group's stored links (the client's GetSecretResult does not declare the field Northflank returns). */
  const dependencies = async () => ((await client.get.secret({ parameters: { ...parameters, secretId: 'database' } })).data as unknown as { addonDependencies: unknown }).addonDependencies;
  const refusal = async (call: Promise<unknown>) => {
    try {
      await call;
    } catch (err) {
      return err as { status: number; message: string; details?: Record<string, string[]> };
    }
    assert.fail('the call was accepted');
  };

  before(async () => {
    p = await startTestPlatform();
    client = await northflankClient(p);
    await client.create.project({ data: { name: PROJECT } });
    await client.create.addon({ parameters, data: { name: ADDON, type: 'postgresql', version: '15', billing: { deploymentPlan: 'nf-compute-20', storage: 1024, replicas: 1 } } });
    await waitForAddonStatus(client, PROJECT, ADDON, 'running');
    const creds = await credentials();
    firstPassword = creds.password;
    const c = new pg.Client({ connectionString: creds.postgresUri });
    await c.connect();
    await c.query('CREATE TABLE notes (id serial PRIMARY KEY, note text NOT NULL)');
    await c.query('INSERT INTO notes (note) VALUES ($1)', [NOTE]);
    await c.end();

    await client.create.secret({ parameters, data: { name: 'database', secretType: 'environment', priority: 10 } });
    await client.create.service.build({ parameters, data: { name: 'builder', billing: { deploymentPlan: 'nf-compute-20' }, vcsData: { projectUrl: repo.dir, projectType: 'self-hosted', projectBranch: 'main' }, buildSettings: { buildpack: { builder: 'HEROKU_24' } } } as never });
    await waitFor(async () => (await api(p, 'GET', `${svcPath('builder')}/build`)).body.data.builds.some((b: { status: string }) => b.status === 'SUCCESS'), 300_000, 'builder build');
    await client.create.service.deployment({
      parameters,
      data: { name: 'app', billing: { deploymentPlan: 'nf-compute-20' }, deployment: { instances: 2, internal: { id: 'builder', branch: 'main' } }, ports: [{ name: 'p01', internalPort: 8080, public: true, protocol: 'HTTP' }] } as never,
    });
    // Not linked yet: the app has no DATABASE_URL and cannot connect.
    await waitFor(async () => (await answer('app')).status === 502, 180_000, 'app answering without a database');
  });
  after(async () => {
    await p?.stop();
  });

  it('refuses bad links by field and stores nothing', async () => {
    const before = await dependencies();
    const noAddon = await refusal(client.patch.secret({ parameters: { ...parameters, secretId: 'database' }, data: { addonDependencies: [{ addonId: 'no-such-db', keys: [{ keyName: 'HOST' }] }] } as never }));
    assert.equal(noAddon.status, 400);
    assert.ok(noAddon.details?.['addonDependencies.0.addonId'], JSON.stringify(noAddon));
    const noKey = await refusal(client.patch.secret({ parameters: { ...parameters, secretId: 'database' }, data: { addonDependencies: [{ addonId: ADDON, keys: [{ keyName: 'HOST' }, { keyName: 'NOT_A_KEY' }] }] } as never }));
    assert.equal(noKey.status, 400);
    assert.ok(noKey.details?.['addonDependencies.0.keys.1.keyName'], JSON.stringify(noKey));
    const badAlias = await refusal(client.update.secretLink({ parameters: { ...parameters, secretId: 'database', addonId: ADDON }, data: { keys: [{ keyName: 'HOST', aliases: ['1-bad name'] }] } }));
    assert.equal(badAlias.status, 400);
    assert.ok(badAlias.details?.['keys.0.aliases.0'], JSON.stringify(badAlias));
    const badKey = await refusal(client.update.secretLink({ parameters: { ...parameters, secretId: 'database', addonId: ADDON }, data: { keys: [{ keyName: 'NOPE' }] } }));
    assert.ok(badKey.details?.['keys.0.keyName'], JSON.stringify(badKey));
    const missing = await refusal(client.update.secretLink({ parameters: { ...parameters, secretId: 'database', addonId: 'no-such-db' }, data: { keys: [{ keyName: 'HOST' }] } }));
    assert.ok(missing.details?.addonId, JSON.stringify(missing));
    assert.deepEqual(await dependencies(), before);
    assert.equal((await refusal(client.delete.secretLink({ parameters: { ...parameters, secretId: 'database', addonId: ADDON } }))).status, 404);
  });

  it('gives a linked addon to the service under its default names and aliases, and the app connects', async () => {
    const n = (await releases('app'))[0].number;
    const linked = await client.update.secretLink({
      parameters: { ...parameters, secretId: 'database', addonId: ADDON },
      data: { keys: [{ keyName: 'POSTGRES_URI', aliases: ['DATABASE_URL'] }, { keyName: 'HOST' }] },
    });
    assert.deepEqual(linked.data.keys, [
      { keyName: 'POSTGRES_URI', aliases: ['DATABASE_URL'], defaultKey: 'NF_LINKED_DB_POSTGRES_URI' },
      { keyName: 'HOST', defaultKey: 'NF_LINKED_DB_HOST' },
    ]);
    const body = await settledOn('app', n + 1);
    assert.equal(body.host, '127.0.0.1');
    assert.deepEqual(body.linked, ['NF_LINKED_DB_HOST', 'NF_LINKED_DB_POSTGRES_URI']);
    assert.ok((await rolloutEvents('app')).some((m) => /link to addon 'linked-db'/.test(m)), JSON.stringify(await rolloutEvents('app')));

    const link = await client.get.secretLink({ parameters: { ...parameters, secretId: 'database', addonId: ADDON } });
    assert.equal(link.data.linked, true);
    assert.equal(link.data.addonType, 'postgresql');
    assert.equal(link.data.secretId, 'database');
    assert.ok(link.data.availableKeys.includes('PASSWORD') && link.data.availableKeys.includes('POSTGRES_URI'), JSON.stringify(link.data));
    assert.deepEqual(await dependencies(), [{ addonId: ADDON, keys: linked.data.keys.map(({ defaultKey: _d, ...k }) => k) }]);

    const details = (await client.get.service.runtimeEnvironmentDetails({ parameters: { ...parameters, serviceId: 'app' } })).data.runtimeEnvironment as Record<string, { value: string; inheritedFrom: string; addonId?: string }>;
    assert.equal(details.DATABASE_URL.inheritedFrom, 'database');
    assert.equal(details.DATABASE_URL.addonId, ADDON);
    assert.equal(details.DATABASE_URL.value, (await credentials()).postgresUri);
    const group = await client.get.secretDetails({ parameters: { ...parameters, secretId: 'database' } });
    assert.deepEqual(Object.keys(group.data.addonSecrets[0].variables).sort(), ['DATABASE_URL', 'NF_LINKED_DB_HOST', 'NF_LINKED_DB_POSTGRES_URI']);
  });

  it('rotates the credentials with zero downtime: the app answers every request through the rollout, then the old login stops working', async () => {
    const n = (await releases('app'))[0].number;
    const before = await credentials();
    const oldUri = before.postgresUri;
    const rotation = async () => (await api(p, 'GET', `/projects/${PROJECT}/addons/${ADDON}/credentials/rotation`)).body.state as string;
    assert.equal(await rotation(), 'idle');
    const load = routerLoad(p, `app.${PROJECT}.localhost`);
    try {
      await waitFor(() => load.stats.ok > 20, 60_000, 'load flowing');
      assert.equal((await api(p, 'POST', `/projects/${PROJECT}/addons/${ADDON}/credentials/rotate`)).status, 202);
      // A second rotation while this one runs is refused.
      assert.equal((await api(p, 'POST', `/projects/${PROJECT}/addons/${ADDON}/credentials/rotate`)).status, 409);
      const rotated = await waitFor(async () => {
        const c = await credentials();
        return c.password !== firstPassword ? c : false;
      }, 120_000, 'new password');
      assert.notEqual(rotated.postgresUri, oldUri);
      await settledOn('app', n + 1);
      // Retired once no instance runs a release with the old password: new connections with it fail.
      await waitFor(async () => (await rotation()) === 'idle', 180_000, 'old login retired');
      const okAtRetirement = load.stats.ok;
      await waitFor(() => load.stats.ok > okAtRetirement + 20, 60_000, 'load after the retirement');
    } finally {
      await load.stop();
    }
    assert.equal(load.stats.failed, 0, `failed requests: ${load.stats.errors.slice(0, 5).join(' | ')}`);
    assert.ok(load.stats.ok > 40, `answered ${load.stats.ok}`);
    const old = new pg.Client({ connectionString: oldUri, connectionTimeoutMillis: 5000 });
    old.on('error', () => {});
    await assert.rejects(old.connect(), /password authentication failed/);
    assert.ok((await rolloutEvents('app')).some((m) => /addon 'linked-db' credentials rotated/.test(m)), JSON.stringify(await rolloutEvents('app')));
    const details = (await client.get.service.runtimeEnvironmentDetails({ parameters: { ...parameters, serviceId: 'app' } })).data.runtimeEnvironment as Record<string, { value: string }>;
    assert.equal(details.DATABASE_URL.value, (await credentials()).postgresUri);
  });

  it('gives a job run the linked addon too, with the current password', async () => {
    await client.create.job.manual({
      parameters,
      data: { name: 'reader', billing: { deploymentPlan: 'nf-compute-10' }, deployment: { internal: { id: 'builder' }, buildpack: { configType: 'customCommand', customCommand: 'node job.js' } } } as never,
    });
    const started = await client.start.job.run({ parameters: { ...parameters, jobId: 'reader' }, data: {} });
    const id = started.data.id as string;
    await waitFor(async () => (await api(p, 'GET', `/v1/projects/${PROJECT}/jobs/reader/runs/${id}`)).body.data.concluded, 120_000, `run ${id} concluded`);
    const lines = (await api(p, 'GET', `/projects/${PROJECT}/jobs/reader/runs/${id}/logs`)).body.lines as { line: string }[];
    assert.match(lines.map((l) => l.line).join('\n'), new RegExp(`job read: ${NOTE}`));
  });

  it('keeps linked values sealed at rest and out of the log', async () => {
    const { password } = await credentials();
    const files = fs.readdirSync(p.dataDir).filter((f) => f.startsWith('slipway.db'));
    assert.ok(files.length > 0);
    for (const f of files) assert.ok(!fs.readFileSync(path.join(p.dataDir, f)).includes(password), `${f} holds no plain password`);
    assert.ok(!p.logs.join('').includes(password), 'no password in the log');
  });

  it('shows a viewer the names of linked variables, never their values', async () => {
    const made = await api(p, 'POST', '/tokens', { name: 'ro', role: 'viewer', projectId: PROJECT });
    const viewer = await northflankClient(p, made.body.token);
    const details = (await viewer.get.service.runtimeEnvironmentDetails({ parameters: { ...parameters, serviceId: 'app' } })).data.runtimeEnvironment as Record<string, { value: string | null; addonId?: string }>;
    assert.deepEqual(Object.keys(details).sort(), ['DATABASE_URL', 'NF_LINKED_DB_HOST', 'NF_LINKED_DB_POSTGRES_URI']);
    for (const d of Object.values(details)) assert.equal(d.value, null);
    assert.equal(details.DATABASE_URL.addonId, ADDON);
    const group = await viewer.get.secretDetails({ parameters: { ...parameters, secretId: 'database' } });
    assert.deepEqual(Object.values(group.data.addonSecrets[0].variables), [null, null, null]);
    const inherited = await viewer.get.secret({ parameters: { ...parameters, secretId: 'database' }, options: { show: 'inherited' } } as never);
    assert.deepEqual(Object.values((inherited.data as { secrets: { variables: Record<string, unknown> } }).secrets.variables), [null, null, null]);
    assert.ok(!JSON.stringify([details, group.data, inherited.data]).includes((await credentials()).password));
    assert.equal((await refusal(viewer.update.secretLink({ parameters: { ...parameters, secretId: 'database', addonId: ADDON }, data: { keys: [] } }))).status, 403);
  });

  it('refuses to delete a linked addon, and unlinking takes its variables away', async () => {
    const refused = await refusal(client.delete.addon({ parameters: { ...parameters, addonId: ADDON } }));
    assert.equal(refused.status, 409);
    assert.match(refused.message, /secret group 'database'/);
    const n = (await releases('app'))[0].number;
    await client.delete.secretLink({ parameters: { ...parameters, secretId: 'database', addonId: ADDON } });
    assert.equal((await client.get.secretLink({ parameters: { ...parameters, secretId: 'database', addonId: ADDON } })).data.linked, false);
    await waitFor(async () => (await releases('app'))[0].number > n && (await answer('app')).status === 502, 180_000, 'app without its database');
    const env = (await client.get.service.runtimeEnvironment({ parameters: { ...parameters, serviceId: 'app' } })).data.runtimeEnvironment as Record<string, string>;
    assert.deepEqual(env, {});
  });
});
