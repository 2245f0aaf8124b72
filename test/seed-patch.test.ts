/**
 * The seed's example PATCH request (000_8bb16af877f79126.txt), adapted only where it names a build this
 * platform made, is accepted and reflected by GET; runtime environment and runtime files reach the app;
 * `instances` changes the running count.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { api, fixtureRepo, startTestPlatform, viaRouter, waitFor, type RunningPlatform } from './support/platform.ts';

function seedExample(buildId: string) {
  // Verbatim from the seed, but for buildId.
  return {
    description: 'A service description',
    billing: { deploymentPlan: 'nf-compute-20' },
    deployment: { instances: 1, docker: { configType: 'default' }, storage: { ephemeralStorage: { storageSize: 1024 } }, internal: { id: 'example-build-service', branch: 'master', buildId } },
    ports: [
      {
        name: 'p01',
        internalPort: 8080,
        public: true,
        security: {
          credentials: [{ username: 'admin', password: 'password123', type: 'basic-auth' }],
          ip: [{ addresses: ['127.0.0.1'], action: 'DENY' }],
          policies: [{ addresses: ['127.0.0.1'], action: 'DENY' }],
          headers: [{ regexMode: false }],
          securePathConfiguration: {
            rules: [
              {
                paths: [{ routingMode: 'prefix' }],
                securityPolicies: {
                  orPolicies: { credentials: [{ username: 'admin', password: 'password123', type: 'basic-auth' }], ip: [{ addresses: ['127.0.0.1'], action: 'DENY' }], policies: [{ addresses: ['127.0.0.1'], action: 'DENY' }], headers: [{ regexMode: false }] },
                  requiredPolicies: { credentials: [{ username: 'admin', password: 'password123', type: 'basic-auth' }], ip: [{ addresses: ['127.0.0.1'], action: 'DENY' }], policies: [{ addresses: ['127.0.0.1'], action: 'DENY' }], headers: [{ regexMode: false }] },
                },
              },
            ],
          },
        },
        domains: ['app.example.com'],
        protocol: 'HTTP',
      },
    ],
    runtimeEnvironment: { VARIABLE_1: 'abcdef', VARIABLE_2: '12345' },
    runtimeFiles: { '/dir/fileName': { data: 'VGhpcyBpcyBhbiBleGFtcGxlIHdpdGggYSB0ZW1wbGF0ZWQgJHtOT0RFX0VOVn0gdmFyaWFibGU=', encoding: 'utf-8' } },
    healthChecks: [{ protocol: 'HTTP', type: 'readinessProbe', path: '/health-check', port: 8080, initialDelaySeconds: 10, periodSeconds: 60, timeoutSeconds: 1, failureThreshold: 3, successThreshold: 1 }],
    autoscaling: { horizontal: { userMetrics: { exposedMetricsPath: '/metrics', exposedMetricsPort: 8080 } } },
  };
}

describe("the seed's example PATCH", () => {
  let p: RunningPlatform;
  const repo = fixtureRepo('hello');
  let buildId = '';

  before(async () => {
    p = await startTestPlatform();
    assert.equal((await api(p, 'POST', '/v1/projects', { name: 'seed-project' })).status, 200);
    const bs = await api(p, 'POST', '/v1/projects/seed-project/services/build', {
      name: 'example-build-service',
      billing: { deploymentPlan: 'nf-compute-20' },
      vcsData: { projectUrl: repo.dir, projectType: 'self-hosted', projectBranch: 'main' },
      buildSettings: { buildpack: { builder: 'HEROKU_24' } },
    });
    assert.equal(bs.status, 200, JSON.stringify(bs.body));
    const started = await api(p, 'POST', '/v1/projects/seed-project/services/example-build-service/build', { branch: 'main' });
    assert.equal(started.status, 200, JSON.stringify(started.body));
    buildId = started.body.data.id;
    await waitFor(async () => {
      const b = await api(p, 'GET', `/v1/projects/seed-project/services/example-build-service/build/${buildId}`);
      if (b.body.data.status === 'FAILURE') throw new Error('build failed');
      return b.body.data.status === 'SUCCESS';
    }, 120_000, 'build SUCCESS');
    const svc = await api(p, 'POST', '/v1/projects/seed-project/services/deployment', { name: 'example-service', billing: { deploymentPlan: 'nf-compute-20' }, deployment: { instances: 0 } });
    assert.equal(svc.status, 200, JSON.stringify(svc.body));
  });
  after(async () => {
    await p?.stop();
  });

  it('accepts the example and reflects every field in GET', async () => {
    const body = seedExample(buildId);
    const res = await api(p, 'PATCH', '/v1/projects/seed-project/services/deployment/example-service', body);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const got = (await api(p, 'GET', '/v1/projects/seed-project/services/example-service')).body.data;
    assert.equal(got.description, body.description);
    assert.deepEqual(got.billing, body.billing);
    assert.deepEqual(got.runtimeEnvironment, body.runtimeEnvironment);
    assert.deepEqual(got.runtimeFiles, body.runtimeFiles);
    assert.deepEqual(got.healthChecks, body.healthChecks);
    assert.deepEqual(got.autoscaling, body.autoscaling);
    assert.equal(got.deployment.instances, 1);
    const internal = got.deployment.internal;
    assert.deepEqual({ id: internal.id, branch: internal.branch, buildId: internal.buildId }, body.deployment.internal);
    // A read adds what the client declares of the source: the service it builds from and its repository.
    assert.equal(got.deployment.internal.nfObjectId, 'example-build-service');
    assert.equal(got.deployment.internal.nfObjectType, 'service');
    assert.equal(got.deployment.internal.buildSHA, 'latest');
    // ... read from the source service (its repository) and the pinned build (the commit it deployed).
    const build = (await api(p, 'GET', `/v1/projects/seed-project/services/example-build-service/build/${buildId}`)).body.data;
    assert.equal(got.deployment.internal.repository, repo.dir);
    assert.match(got.deployment.internal.deployedSHA, /^[0-9a-f]{40}$/);
    assert.equal(got.deployment.internal.deployedSHA, build.sha);
    assert.deepEqual(res.body.data.deployment.internal.repository, repo.dir, 'the write answers with them too');
    assert.deepEqual(got.deployment.storage, body.deployment.storage);
    assert.equal(got.ports[0].name, 'p01');
    assert.deepEqual(got.ports[0].domains, [{ name: 'app.example.com', certificate: { inProgress: false } }], 'a read lists domains as objects (GetServiceResult)');
    assert.deepEqual(res.body.data.ports[0].domains, ['app.example.com'], 'a write echoes the names it was sent');
    assert.equal(got.ports[0].dns, 'p01--example-service--seed-project.localhost');
    assert.equal(got.serviceType, 'deployment');
    assert.ok(['PENDING', 'IN_PROGRESS', 'COMPLETED'].includes(got.status.deployment.status));
    assert.ok(['DEPLOYING', 'SCALING'].includes(got.status.deployment.reason));
    assert.ok(Array.isArray(got.notices) && got.notices.some((n: string) => /storage/.test(n)));
  });

  it('runs the release with the runtime environment and the runtime file at its absolute path', async () => {
    // The example's port policy denies 127.0.0.1, where this test's requests come from.
    await waitFor(async () => (await viaRouter(p, 'p01--example-service--seed-project.localhost')).status === 403, 90_000, 'the seed policy denies 127.0.0.1');
    const open = await api(p, 'PATCH', '/v1/projects/seed-project/services/deployment/example-service', {
      runtimeEnvironment: { VARIABLE_1: 'abcdef', VARIABLE_2: '12345', FILE_PATH: '/dir/fileName', GREETING: 'seeded' },
      ports: [{ name: 'p01', internalPort: 8080, public: true, protocol: 'HTTP', domains: ['app.example.com'] }],
    });
    assert.equal(open.status, 200, JSON.stringify(open.body));
    await waitFor(async () => (await api(p, 'GET', '/v1/projects/seed-project/services/example-service')).body.data.status.deployment.status === 'COMPLETED', 90_000, 'COMPLETED');
    const res = await waitFor(async () => {
      const r = await viaRouter(p, 'p01--example-service--seed-project.localhost');
      const body = r.status === 200 ? ((await r.json()) as { message: string; file: string }) : undefined;
      return body?.message === 'seeded' ? body : undefined;
    }, 30_000, 'new release answering');
    assert.equal(res.file, 'This is an example with a templated ${NODE_ENV} variable');
    const custom = await viaRouter(p, 'app.example.com');
    assert.equal(custom.status, 200, 'custom domain routes to the port');
  });

  it('changes the running count with instances', async () => {
    await api(p, 'PATCH', '/v1/projects/seed-project/services/deployment/example-service', { deployment: { instances: 3 } });
    await waitFor(async () => {
      const c = (await api(p, 'GET', '/v1/projects/seed-project/services/example-service/containers')).body.data.containers;
      return c.filter((x: { status: string; ready: boolean }) => x.ready).length === 3;
    }, 60_000, '3 ready instances');
    const svc = (await api(p, 'GET', '/v1/projects/seed-project/services/example-service')).body.data;
    await waitFor(async () => (await api(p, 'GET', '/v1/projects/seed-project/services/example-service')).body.data.status.deployment.status === 'COMPLETED', 30_000, 'COMPLETED after scaling');
    assert.equal(svc.deployment.instances, 3);
  });
});
