/**
 * End to end through the official @northflank/js-client, unmodified: a project, a combined service built
 * from a local git repository, two instances, COMPLETED, and the app's answer through the router at the
 * host the API reports in `ports[].dns`.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { ApiClient } from '@northflank/js-client';
import { api, fixtureRepo, northflankClient, startTestPlatform, viaRouter, waitFor, type RunningPlatform } from './support/platform.ts';

describe('deploying a Node app from git with the Northflank client', () => {
  let p: RunningPlatform;
  let client: ApiClient;
  const repo = fixtureRepo('hello');

  before(async () => {
    p = await startTestPlatform();
    client = await northflankClient(p);
  });
  after(async () => {
    await p?.stop();
  });

  it('creates a project whose id derives from its name', async () => {
    const res = await client.create.project({ data: { name: 'my-app', description: 'end to end' } });
    assert.equal(res.data.id, 'my-app');
    const list = await client.list.projects({});
    assert.ok(list.data.projects.some((x) => x.id === 'my-app'));
  });

  it('builds a combined service from a local repository and serves it through the router', async () => {
    const created = await client.create.service.combined({
      parameters: { projectId: 'my-app' },
      data: {
        name: 'web',
        billing: { deploymentPlan: 'nf-compute-20' },
        deployment: { instances: 2 },
        vcsData: { projectUrl: `file://${repo.dir}`, projectType: 'self-hosted', projectBranch: 'main' },
        buildSettings: { buildpack: { builder: 'HEROKU_24' } },
        ports: [{ name: 'p01', internalPort: 8080, public: true, protocol: 'HTTP' }],
        runtimeEnvironment: { GREETING: 'hi from slipway' },
      } as never,
    });
    assert.equal(created.data.id, 'web');

    const svc = await waitFor(async () => {
      const r = await client.get.service({ parameters: { projectId: 'my-app', serviceId: 'web' } });
      const st = (r.data as any).status?.deployment?.status;
      if (st === 'FAILED') throw new Error(`deployment failed: ${JSON.stringify(r.data)}`);
      return st === 'COMPLETED' ? r.data : undefined;
    }, 180_000, 'service COMPLETED');
    const dns = (svc as any).ports[0].dns as string;
    assert.equal(dns, 'p01--web--my-app.localhost');

    const seen = new Set<string>();
    for (let i = 0; i < 20; i++) {
      const res = await viaRouter(p, dns);
      assert.equal(res.status, 200);
      const body = (await res.json()) as { message: string; instance: string; service: string; project: string };
      assert.equal(body.message, 'hi from slipway');
      assert.equal(body.service, 'web');
      assert.equal(body.project, 'my-app');
      seen.add(body.instance);
    }
    assert.equal(seen.size, 2, 'requests reach both instances');

    const short = await viaRouter(p, 'web.my-app.localhost');
    assert.equal(short.status, 200);

    const containers = await client.get.service.containers({ parameters: { projectId: 'my-app', serviceId: 'web' } });
    assert.equal(containers.data.containers?.length, 2);
    assert.ok(containers.data.containers?.every((c) => c.status === 'TASK_RUNNING'));
  });

  it('lists the build with its commit and serves its log', async () => {
    const builds = await client.get.service.builds({ parameters: { projectId: 'my-app', serviceId: 'web' } });
    assert.equal(builds.data.builds.length, 1);
    assert.equal(builds.data.builds[0].sha, repo.head());
    assert.equal(builds.data.builds[0].status, 'SUCCESS');
    const log = await api(p, 'GET', `/projects/my-app/services/web/builds/${builds.data.builds[0].id}/log`);
    assert.equal(log.status, 200);
    assert.match(log.body as string, /Build succeeded/);
  });

  it('scales with the scale endpoint and reports the instance count', async () => {
    await client.scale.service({ parameters: { projectId: 'my-app', serviceId: 'web' }, data: { instances: 3 } });
    await waitFor(async () => {
      const c = await client.get.service.containers({ parameters: { projectId: 'my-app', serviceId: 'web' } });
      return c.data.containers?.filter((x) => x.status === 'TASK_RUNNING').length === 3;
    }, 60_000, '3 running containers');
    await client.scale.service({ parameters: { projectId: 'my-app', serviceId: 'web' }, data: { instances: 1 } });
    await waitFor(async () => {
      const c = await client.get.service.containers({ parameters: { projectId: 'my-app', serviceId: 'web' } });
      return c.data.containers?.length === 1;
    }, 60_000, '1 container');
  });

  it("reads and updates the service's runtime environment, health checks and deployment one part at a time", async () => {
    const ids = { projectId: 'my-app', serviceId: 'web' };
    const completed = (what: string) =>
      waitFor(async () => {
        const r = (await client.get.service({ parameters: ids })).data as any;
        if (r.status?.deployment?.status === 'FAILED') throw new Error(`${what} failed: ${JSON.stringify(r.status)}`);
        return r.status?.deployment?.status === 'COMPLETED' ? r : undefined;
      }, 120_000, what);
    const env = await client.get.service.runtimeEnvironment({ parameters: ids });
    assert.deepEqual(env.data.runtimeEnvironment, { GREETING: 'hi from slipway' });
    assert.deepEqual((await client.get.service.runtimeEnvironment({ parameters: ids, options: { show: 'inherited' } })).data.runtimeEnvironment, {});
    const before_ = (await client.get.service({ parameters: ids })).data as any;

    // The environment replaces the stored one: a new release, rolled out, that the app answers with.
    await client.update.service.runtimeEnvironment({ parameters: ids, data: { runtimeEnvironment: { GREETING: 'updated greeting' } } });
    const after_ = await completed('the environment update');
    assert.ok(after_.release.number > before_.release.number, 'a new release');
    await waitFor(async () => ((await (await viaRouter(p, 'web.my-app.localhost')).json()) as { message: string }).message === 'updated greeting', 60_000, 'the new greeting through the router');
    assert.deepEqual((await client.get.service.runtimeEnvironment({ parameters: ids })).data.runtimeEnvironment, { GREETING: 'updated greeting' });

    const check = { protocol: 'HTTP' as const, type: 'readinessProbe' as const, path: '/health', port: 8080, initialDelaySeconds: 1, periodSeconds: 10, timeoutSeconds: 5, failureThreshold: 3, successThreshold: 1 };
    await client.update.service.healthChecks({ parameters: ids, data: { healthChecks: [check] } });
    assert.deepEqual((await client.get.service.healthChecks({ parameters: ids })).data.healthChecks, [check]);
    await completed('the health-check update');

    // A deployment update merges over the stored deployment: only the instance count changes.
    await client.update.service.deployment({ parameters: ids, data: { instances: 2 } as never });
    const deployment = (await client.get.service.deployment({ parameters: ids })).data as any;
    assert.equal(deployment.instances, 2);
    await waitFor(async () => (await client.get.service.containers({ parameters: ids })).data.containers?.filter((c) => c.status === 'TASK_RUNNING').length === 2, 60_000, '2 running containers');

    const bad = await api(p, 'POST', '/v1/projects/my-app/services/web/health-checks', { healthChecks: [{ ...check, protocol: 'SMTP' }] });
    assert.equal(bad.status, 400, JSON.stringify(bad.body));
    assert.ok(Object.keys(bad.body.error.details).some((k) => k.startsWith('healthChecks.0')), JSON.stringify(bad.body.error.details));
    const noEnv = await api(p, 'POST', '/v1/projects/my-app/services/web/runtime-environment', {});
    assert.equal(noEnv.status, 400);
    assert.ok(noEnv.body.error.details.runtimeEnvironment);
    assert.equal((await api(p, 'GET', '/v1/projects/my-app/services/nope/deployment')).status, 404);
  });

  it('switches the build source to another branch, which builds and deploys, and sets build arguments and options', async () => {
    const ids = { projectId: 'my-app', serviceId: 'web' };
    const git = (...args: string[]) => execFileSync('git', args, { cwd: repo.dir, env: { ...process.env, GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@t', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@t' } });
    git('checkout', '-q', '-b', 'feature');
    fs.writeFileSync(path.join(repo.dir, 'Procfile'), 'web: GREETING=from-feature node server.js\n');
    git('commit', '-q', '-am', 'feature greeting');
    const featureHead = git('rev-parse', 'HEAD').toString().trim();
    git('checkout', '-q', 'main');

    const source = await client.update.service.buildSource({ parameters: ids, data: { projectBranch: 'feature' } });
    assert.equal((source.data as Record<string, unknown>).projectBranch, 'feature');
    assert.equal((source.data as Record<string, unknown>).projectUrl, `file://${repo.dir}`, 'the other vcsData fields stay');
    await waitFor(async () => (await client.get.service.builds({ parameters: ids })).data.builds.some((b) => b.sha === featureHead && b.status === 'SUCCESS'), 120_000, 'the feature head built');
    await waitFor(async () => ((await (await viaRouter(p, 'web.my-app.localhost')).json()) as { message: string }).message === 'from-feature', 120_000, 'the feature build serving');

    assert.deepEqual((await client.get.service.buildArguments({ parameters: ids })).data, { buildArguments: {}, buildFiles: {} });
    await client.update.service.buildArguments({ parameters: ids, data: { buildArguments: { NODE_ENV: 'production' } } });
    assert.deepEqual((await client.get.service.buildArguments({ parameters: ids })).data.buildArguments, { NODE_ENV: 'production' });
    const options = await client.update.service.buildOptions({ parameters: ids, data: { buildpack: { builder: 'HEROKU_24' }, pathIgnoreRules: ['docs/**'] } as never });
    assert.deepEqual((options.data as any).buildConfiguration.pathIgnoreRules, ['docs/**']);
    assert.deepEqual((options.data as any).buildSettings, { buildpack: { builder: 'HEROKU_24' } });
    const both = await api(p, 'POST', '/v1/projects/my-app/services/web/build-options', { buildpack: { builder: 'HEROKU_24' }, dockerfile: { dockerFilePath: '/Dockerfile', dockerWorkDir: '/' } });
    assert.equal(both.status, 400, JSON.stringify(both.body));
    assert.ok(both.body.error.details.dockerfile);
    const files = await api(p, 'POST', '/v1/projects/my-app/services/web/build-arguments', { buildFiles: { '/x': { data: 'eA==' } } });
    assert.equal(files.status, 400);
    assert.ok(files.body.error.details.buildFiles, JSON.stringify(files.body.error.details));
  });

  it('answers 404 for an unknown host through the router', async () => {
    const res = await viaRouter(p, 'nope--nothing--here.localhost');
    assert.equal(res.status, 404);
  });

  it('rejects calls without a token (401) and with a token of another project (403)', async () => {
    const none = await api(p, 'GET', '/v1/projects', undefined, { token: null });
    assert.equal(none.status, 401);
    assert.equal(none.body.error.status, 401);
    await client.create.project({ data: { name: 'other' } });
    const made = await api(p, 'POST', '/tokens', { name: 'viewer', role: 'viewer', projectId: 'other' });
    assert.equal(made.status, 201);
    const viewer = made.body.token as string;
    const forbidden = await api(p, 'GET', '/v1/projects/my-app/services/web', undefined, { token: viewer });
    assert.equal(forbidden.status, 403);
    const allowed = await api(p, 'GET', '/v1/projects/other', undefined, { token: viewer });
    assert.equal(allowed.status, 200);
    const cannotWrite = await api(p, 'PATCH', '/v1/projects/other', { description: 'x' }, { token: viewer });
    assert.equal(cannotWrite.status, 403);
    const list = await api(p, 'GET', '/v1/projects', undefined, { token: viewer });
    assert.deepEqual(list.body.data.projects.map((x: { id: string }) => x.id), ['other']);
    const revoked = await api(p, 'DELETE', `/tokens/${made.body.id}`);
    assert.equal(revoked.status, 204);
    assert.equal((await api(p, 'GET', '/v1/projects/other', undefined, { token: viewer })).status, 401);
  });
});
