/**
 * Secret groups and tags through the official @northflank/js-client, unmodified, on a real platform: groups
 * reach the services they apply to (all, by tag, by name), merge by priority under the service's own values,
 * roll out with no failed request through the router, change nothing where they make no difference, are
 * sealed at rest, show viewers names only, and refuse every bad input by field with nothing stored.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import type { ApiClient } from '@northflank/js-client';
import { api, fixtureRepo, northflankClient, routerLoad, startTestPlatform, viaRouter, waitFor, type RunningPlatform } from './support/platform.ts';

const PROJECT = 'sec';
const parameters = { projectId: PROJECT };
const SECRET_VALUE = 'sealed-value-8c1f27';

describe('secret groups and tags through the Northflank client', () => {
  let p: RunningPlatform;
  let client: ApiClient;
  const repo = fixtureRepo('hello');
  const svcPath = (id: string) => `/v1/projects/${PROJECT}/services/${id}`;
  const releases = async (id: string) => (await api(p, 'GET', `/projects/${PROJECT}/services/${id}/releases`)).body.releases as { number: number }[];
  const rolloutEvents = async (id: string) => ((await api(p, 'GET', `/projects/${PROJECT}/services/${id}/rollouts`)).body.rollouts as { events: { message: string }[] }[])[0].events.map((e) => e.message);
  const env = async (id: string, show: 'this' | 'inherited' | 'all' = 'all') => (await client.get.service.runtimeEnvironment({ parameters: { ...parameters, serviceId: id }, options: { show } })).data.runtimeEnvironment as Record<string, string>;
  const status = async (id: string) => (await api(p, 'GET', svcPath(id))).body.data.status.deployment as { status: string; message?: string };
  const answer = async (id: string) => (await (await viaRouter(p, `${id}.${PROJECT}.localhost`)).json()) as { message: string; release: string };
  /** Every instance of the service runs its newest release, ready, and the router answers `message` from it. */
  const settled = (id: string, message: string) =>
    waitFor(async () => {
      const newest = (await releases(id))[0]?.number;
      const containers = (await api(p, 'GET', `${svcPath(id)}/containers`)).body.data.containers as { release: number; ready: boolean }[];
      if (!containers.length || !containers.every((c) => c.release === newest && c.ready) || (await status(id)).status !== 'COMPLETED') return false;
      for (let i = 0; i < 6; i++) if ((await answer(id)).message !== message) return false;
      return true;
    }, 120_000, `${id} answering '${message}'`);
  /** The error the official client throws for a call, with its status and details. */
  const refusal = async (call: Promise<unknown>) => {
    try {
      await call;
    } catch (err) {
      return err as { status: number; message: string; details?: Record<string, string[]> };
    }
    assert.fail('the call was accepted');
  };
  const deploymentService = (name: string, extra: Record<string, unknown> = {}) =>
    client.create.service.deployment({
      parameters,
      data: {
        name,
        billing: { deploymentPlan: 'nf-compute-20' },
        deployment: { instances: 1, internal: { id: 'builder', branch: 'main' } },
        ports: [{ name: 'p01', internalPort: 8080, public: true, protocol: 'HTTP' }],
        ...extra,
      } as never,
    });

  before(async () => {
    p = await startTestPlatform();
    client = await northflankClient(p);
    await client.create.project({ data: { name: PROJECT } });
    await client.create.service.build({ parameters, data: { name: 'builder', billing: { deploymentPlan: 'nf-compute-20' }, vcsData: { projectUrl: repo.dir, projectType: 'self-hosted', projectBranch: 'main' }, buildSettings: { buildpack: { builder: 'HEROKU_24' } } } as never });
    await waitFor(async () => (await api(p, 'GET', `${svcPath('builder')}/build`)).body.data.builds.some((b: { status: string }) => b.status === 'SUCCESS'), 180_000, 'builder build');
    await deploymentService('web', {
      tags: ['production'],
      deployment: { instances: 2, internal: { id: 'builder', branch: 'main' } },
      healthChecks: [{ protocol: 'HTTP', type: 'readinessProbe', path: '/health', port: 8080, initialDelaySeconds: 1, periodSeconds: 10, timeoutSeconds: 1, failureThreshold: 3, successThreshold: 1 }],
    });
    await deploymentService('api');
    await settled('web', 'hello');
    await settled('api', 'hello');
  });
  after(async () => {
    await p?.stop();
  });

  it('manages account-level tags', async () => {
    const added = await client.add.tag({ data: { name: 'production', description: 'live traffic', color: '#ff0000' } });
    assert.equal(added.data.id, 'production');
    await client.add.tag({ data: { name: 'staging' } });
    assert.deepEqual((await client.list.tags({})).data.tags.map((t) => t.name), ['production', 'staging']);
    await client.patch.tag({ parameters: { resourceTagId: 'staging' }, data: { description: 'pre-production' } });
    assert.equal((await client.get.tag({ parameters: { resourceTagId: 'staging' } })).data.description, 'pre-production');
    await client.put.tag({ parameters: { resourceTagId: 'eu-west' }, data: { name: 'eu-west' } });
    assert.equal((await client.get.tag({ parameters: { resourceTagId: 'eu-west' } })).data.name, 'eu-west');
    await client.delete.tag({ parameters: { resourceTagId: 'eu-west' } });
    assert.equal((await refusal(client.get.tag({ parameters: { resourceTagId: 'eu-west' } }))).status, 404);
    const dup = await refusal(client.add.tag({ data: { name: 'staging' } }));
    assert.equal(dup.status, 400);
    assert.ok(dup.details?.name, JSON.stringify(dup));
  });

  it('gives an unrestricted group to every service, each with a new release naming the group', async () => {
    const created = await client.create.secret({ parameters, data: { name: 'shared', secretType: 'environment', priority: 10, secrets: { variables: { GREETING: 'from shared', SHARED: SECRET_VALUE } } } });
    assert.equal(created.data.id, 'shared');
    await settled('web', 'from shared');
    await settled('api', 'from shared');
    assert.ok((await rolloutEvents('api')).some((m) => /secret group 'shared' created/.test(m)), JSON.stringify(await rolloutEvents('api')));
    const inherited = await client.get.service.runtimeEnvironment({ parameters: { ...parameters, serviceId: 'api' }, options: { show: 'inherited' } });
    assert.deepEqual(inherited.data.runtimeEnvironment, { GREETING: 'from shared', SHARED: SECRET_VALUE });
    const own = await client.get.service.runtimeEnvironment({ parameters: { ...parameters, serviceId: 'api' }, options: { show: 'this' } });
    assert.deepEqual(own.data.runtimeEnvironment, {});
  });

  it('gives a group restricted by tag only to tagged services, and follows a tag added or removed', async () => {
    const before = (await releases('api')).length;
    await client.create.secret({ parameters, data: { name: 'prod', secretType: 'environment', priority: 20, restrictions: { restricted: true, tags: ['production'] }, secrets: { variables: { GREETING: 'prod' } } } });
    await settled('web', 'prod');
    assert.equal((await releases('api')).length, before, 'a group that does not apply makes no release');
    assert.equal((await answer('api')).message, 'from shared');

    await client.patch.service.deployment({ parameters: { ...parameters, serviceId: 'api' }, data: { tags: ['production'] } as never });
    await settled('api', 'prod');
    await client.patch.service.deployment({ parameters: { ...parameters, serviceId: 'api' }, data: { tags: [] } as never });
    await settled('api', 'from shared');
  });

  it('merges by priority under the service own values and says where each value comes from', async () => {
    const web = await client.get.service.runtimeEnvironmentDetails({ parameters: { ...parameters, serviceId: 'web' } });
    const greeting = (web.data.runtimeEnvironment as Record<string, any>).GREETING;
    assert.equal(greeting.value, 'prod');
    assert.equal(greeting.inheritedFrom, 'prod');
    assert.equal(greeting.priority, 20);
    assert.deepEqual(greeting.overriding, [{ value: 'from shared', inheritedFrom: 'shared', priority: 10 }]);

    await client.update.service.runtimeEnvironment({ parameters: { ...parameters, serviceId: 'api' }, data: { runtimeEnvironment: { GREETING: 'api own' } } });
    await settled('api', 'api own');
    const api_ = await client.get.service.runtimeEnvironmentDetails({ parameters: { ...parameters, serviceId: 'api' } });
    const own = (api_.data.runtimeEnvironment as Record<string, any>).GREETING;
    assert.equal(own.value, 'api own');
    assert.equal(own.inheritedFrom, undefined);
    assert.deepEqual(own.overriding, [{ value: 'from shared', inheritedFrom: 'shared', priority: 10 }]);
    const all = await client.get.service.runtimeEnvironment({ parameters: { ...parameters, serviceId: 'api' }, options: { show: 'all' } });
    assert.deepEqual(all.data.runtimeEnvironment, { GREETING: 'api own', SHARED: SECRET_VALUE });

    // A lower priority group loses to both.
    await client.create.secret({ parameters, data: { name: 'defaults', secretType: 'environment', priority: 1, secrets: { variables: { GREETING: 'default', LEVEL: 'info' } } } });
    await settled('web', 'prod');
    assert.deepEqual(await env('web', 'inherited'), { GREETING: 'prod', SHARED: SECRET_VALUE, LEVEL: 'info' });
  });

  it('rolls a group change out with no failed request, and every instance then sees the new value', async () => {
    await settled('web', 'prod');
    const load = routerLoad(p, `web.${PROJECT}.localhost`);
    await client.update.secret({ parameters: { ...parameters, secretId: 'prod' }, data: { secrets: { variables: { GREETING: 'prod v2' } } } as never });
    await settled('web', 'prod v2');
    await load.stop();
    assert.equal(load.stats.failed, 0, `no failed request (${load.stats.ok} ok): ${load.stats.errors.slice(0, 5).join('; ')}`);
    assert.ok(load.stats.ok > 0);
    const instances = new Set<string>();
    await waitFor(async () => {
      const a = (await (await viaRouter(p, `web.${PROJECT}.localhost`)).json()) as { message: string; instance: string };
      assert.equal(a.message, 'prod v2');
      instances.add(a.instance);
      return instances.size === 2;
    }, 30_000, 'both instances answering prod v2');
    assert.ok((await rolloutEvents('web')).some((m) => /secret group 'prod' changed/.test(m)));
  });

  it('makes no release where a change makes no difference', async () => {
    const counts = async () => [(await releases('web')).length, (await releases('api')).length];
    const before = await counts();
    await client.patch.secret({ parameters: { ...parameters, secretId: 'prod' }, data: { description: 'production values' } });
    // A group the service's own value hides: changing it changes nothing api runs.
    await client.patch.secret({ parameters: { ...parameters, secretId: 'shared' }, data: { secrets: { variables: { GREETING: 'hidden by own', SHARED: SECRET_VALUE } } } });
    const after_ = await counts();
    assert.equal(after_[1], before[1], 'api: its own GREETING hides the change');
    assert.equal(after_[0], before[0], 'web: the prod group hides the change');
  });

  it('keeps values sealed at rest', async () => {
    const files = fs.readdirSync(p.dataDir).filter((f) => f.startsWith('slipway.db'));
    assert.ok(files.length > 0);
    for (const f of files) assert.ok(!fs.readFileSync(path.join(p.dataDir, f)).includes(SECRET_VALUE), `${f} holds no plain value`);
    assert.ok(!p.logs.join('').includes(SECRET_VALUE), 'no value in the log');
  });

  it('shows a viewer token names, not values', async () => {
    const made = await api(p, 'POST', '/tokens', { name: 'ro', role: 'viewer', projectId: PROJECT });
    assert.equal(made.status, 201, JSON.stringify(made.body));
    const viewer = await northflankClient(p, made.body.token);
    const list = await viewer.list.secrets({ parameters });
    assert.deepEqual(list.data.secrets.map((s) => s.id).sort(), ['defaults', 'prod', 'shared']);
    const got = await viewer.get.secret({ parameters: { ...parameters, secretId: 'shared' } });
    assert.deepEqual(got.data.secrets.variables, { GREETING: null, SHARED: null });
    const details = await viewer.get.service.runtimeEnvironmentDetails({ parameters: { ...parameters, serviceId: 'api' } });
    const viewed = await viewer.get.service.runtimeEnvironment({ parameters: { ...parameters, serviceId: 'api' } });
    for (const body of [got.data, list.data, details.data, viewed.data, (await viewer.get.secretDetails({ parameters: { ...parameters, secretId: 'shared' } })).data]) {
      assert.ok(!JSON.stringify(body).includes(SECRET_VALUE), JSON.stringify(body));
    }
    assert.deepEqual(Object.keys(viewed.data.runtimeEnvironment).sort(), ['GREETING', 'LEVEL', 'SHARED']);
    assert.equal((await refusal(viewer.create.secret({ parameters, data: { name: 'nope', secretType: 'environment', priority: 1 } }))).status, 403);
    assert.equal((await refusal(viewer.delete.secret({ parameters: { ...parameters, secretId: 'shared' } }))).status, 403);
    // A developer reads values.
    const dev = await northflankClient(p, (await api(p, 'POST', '/tokens', { name: 'dev', role: 'developer', projectId: PROJECT })).body.token);
    assert.equal((await dev.get.secret({ parameters: { ...parameters, secretId: 'shared' } })).data.secrets.variables.SHARED, SECRET_VALUE);
  });

  it('refuses every bad group by field, with nothing stored or changed', async () => {
    const snapshot = async () => JSON.stringify([(await client.list.secrets({ parameters })).data, (await client.get.secret({ parameters: { ...parameters, secretId: 'prod' } })).data, await releases('web'), await releases('api')]);
    const before = await snapshot();
    const base = { secretType: 'environment' as const, priority: 5 };
    const cases: { name: string; call: () => Promise<unknown>; field: string }[] = [
      { name: 'a relative file path', call: () => client.create.secret({ parameters, data: { ...base, name: 'files', secrets: { files: { 'etc/app.conf': { data: 'eA==' } } } } }), field: 'secrets.files.etc/app.conf' },
      { name: 'a duplicate name', call: () => client.create.secret({ parameters, data: { ...base, name: 'shared' } }), field: 'name' },
      { name: 'a priority out of range', call: () => client.create.secret({ parameters, data: { ...base, name: 'high', priority: 101 } }), field: 'priority' },
      { name: 'a restriction naming a missing service', call: () => client.create.secret({ parameters, data: { ...base, name: 'ghost', restrictions: { restricted: true, nfObjects: [{ id: 'ghost', type: 'service' }] } } }), field: 'restrictions.nfObjects.0.id' },
      { name: 'a restriction naming a missing job', call: () => client.create.secret({ parameters, data: { ...base, name: 'ghost job', restrictions: { restricted: true, nfObjects: [{ id: 'web', type: 'job' }] } } }), field: 'restrictions.nfObjects.0.id' },
      { name: 'a link to a missing addon', call: () => client.create.secret({ parameters, data: { ...base, name: 'linked', addonDependencies: [{ addonId: 'db', keys: [{ keyName: 'HOST' }] }] } }), field: 'addonDependencies.0.addonId' },
      { name: 'a Docker secret mount (slipway builds have none)', call: () => client.create.secret({ parameters, data: { ...base, name: 'mounts', secrets: { dockerSecretMounts: { npmrc: { data: 'eA==' } } } as never } }), field: 'secrets.dockerSecretMounts' },
      { name: 'an unknown secret type', call: () => client.create.secret({ parameters, data: { ...base, name: 'kind', secretType: 'other' as never } }), field: 'secretType' },
      { name: 'a variable the platform sets', call: () => client.create.secret({ parameters, data: { ...base, name: 'port', secrets: { variables: { PORT: '1' } } } }), field: 'secrets.variables.PORT' },
      { name: 'a bad variable name, its value never echoed', call: () => client.create.secret({ parameters, data: { ...base, name: 'badkey', secrets: { variables: { 'A B': SECRET_VALUE } } } }), field: 'secrets.variables.A B' },
      { name: 'a change with a priority out of range', call: () => client.patch.secret({ parameters: { ...parameters, secretId: 'prod' }, data: { priority: -1, secrets: { variables: { GREETING: 'never' } } } }), field: 'priority' },
      { name: 'a change with a relative file path', call: () => client.update.secret({ parameters: { ...parameters, secretId: 'prod' }, data: { secrets: { files: { 'x': { data: 'eA==' } } } } as never }), field: 'secrets.files.x' },
      { name: 'an addon link to a missing addon', call: () => client.update.secretLink({ parameters: { ...parameters, secretId: 'prod', addonId: 'redis' }, data: { keys: [{ keyName: 'HOST' }] } }), field: 'addonId' },
      { name: 'an addon link of a bad shape', call: () => client.update.secretLink({ parameters: { ...parameters, secretId: 'prod', addonId: 'redis' }, data: { keys: [{ name: 'HOST' }] } as never }), field: 'keys.0.keyName' },
    ];
    for (const c of cases) {
      const err = await refusal(c.call());
      assert.ok(err.status >= 400 && err.status < 500, `${c.name}: ${err.status}`);
      assert.ok(err.details && c.field in err.details, `${c.name}: ${JSON.stringify(err)}`);
      assert.ok(!JSON.stringify(err).includes(SECRET_VALUE), `${c.name}: no value in the error`);
    }
    assert.equal((await refusal(client.get.secretLink({ parameters: { ...parameters, secretId: 'prod', addonId: 'redis' } }))).status, 404);
    assert.equal((await refusal(client.get.secret({ parameters: { ...parameters, secretId: 'files' } }))).status, 404);
    assert.equal(await snapshot(), before, 'nothing stored or changed');
  });

  it('deleting a group takes its values away from the services it applied to', async () => {
    await client.delete.secret({ parameters: { ...parameters, secretId: 'prod' } });
    await settled('web', 'hidden by own');
    assert.ok((await rolloutEvents('web')).some((m) => /secret group 'prod' deleted/.test(m)));
    await client.put.secret({ parameters, data: { name: 'prod', secretType: 'environment', priority: 30, restrictions: { restricted: true, nfObjects: [{ id: 'web', type: 'service' }] }, secrets: { variables: { GREETING: 'by name' } } } });
    await settled('web', 'by name');
    assert.equal((await client.get.secret({ parameters: { ...parameters, secretId: 'prod' } })).data.priority, 30);
  });
});
