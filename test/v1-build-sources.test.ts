/**
 * The build sources the official client's request types allow, accepted on `/v1` as the client sends them:
 * a build service from its minimal body (no branch) with branch and pull-request rules, and combined services
 * built from uploaded bundles (`buildSource: 'bundle'`, no `vcsData`), built, deployed and answering through
 * the router.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tar from 'tar';
import type { ApiClient, CreateServiceBuildData, CreateServiceCombinedData } from '@northflank/js-client';
import { ROOT, api, fixtureRepo, northflankClient, startTestPlatform, viaRouter, waitFor, type RunningPlatform } from './support/platform.ts';

async function bundleOf(app: string, greeting: string): Promise<Buffer> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'slipway-bundle-'));
  fs.cpSync(path.join(ROOT, 'test/fixtures/apps', app), path.join(dir, 'app'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'app', 'Procfile'), `web: GREETING=${greeting} node server.js\n`);
  const file = path.join(dir, 'app.tar.gz');
  await tar.c({ gzip: true, file, cwd: dir }, ['app']);
  const data = fs.readFileSync(file);
  fs.rmSync(dir, { recursive: true, force: true });
  return data;
}

describe('build sources through the official client', () => {
  let p: RunningPlatform;
  let client: ApiClient;
  const repo = fixtureRepo('hello');
  const project = 'sources';
  const get = async (serviceId: string) => (await client.get.service({ parameters: { projectId: project, serviceId } })).data;
  const answer = async (host: string) => {
    const r = await viaRouter(p, host);
    return r.status === 200 ? ((await r.json()) as { message: string }).message : undefined;
  };

  before(async () => {
    p = await startTestPlatform();
    client = await northflankClient(p);
    await client.create.project({ data: { name: project } });
  });
  after(async () => {
    await p?.stop();
  });

  it("creates a build service from the client's minimal body, with branch and pull-request rules, and builds the repository", async () => {
    const data: CreateServiceBuildData = {
      name: 'builder',
      billing: {},
      vcsData: { projectUrl: repo.dir, projectType: 'self-hosted' },
      buildSettings: { buildpack: {} },
      buildConfiguration: { branchRestrictions: ['main', 'feature/*'], prRestrictions: ['*'] },
    };
    const created = await client.create.service.build({ parameters: { projectId: project }, data });
    assert.equal(created.data.id, 'builder');
    const svc = await get('builder');
    assert.equal(svc.buildSource, 'git');
    assert.deepEqual(svc.buildConfiguration?.branchRestrictions, ['main', 'feature/*']);
    assert.deepEqual(svc.buildConfiguration?.prRestrictions, ['*']);
    assert.equal(svc.vcsData?.projectBranch, undefined);
    const notices = (svc as unknown as { notices: string[] }).notices;
    assert.ok(notices.some((n) => n.startsWith('buildConfiguration.branchRestrictions: stored')), JSON.stringify(notices));
    const build = await waitFor(async () => {
      const b = (await client.get.service.builds({ parameters: { projectId: project, serviceId: 'builder' } })).data.builds[0] as { status?: string; sha?: string } | undefined;
      if (b?.status === 'FAILURE') throw new Error('the build failed');
      return b?.status === 'SUCCESS' ? b : undefined;
    }, 180_000, 'a successful build of the repository head');
    assert.equal(build.sha, repo.head());

    // The rules can be changed as the client sends them, and a branch build is asked for by name.
    await client.patch.service.build({ parameters: { projectId: project, serviceId: 'builder' }, data: { buildConfiguration: { branchRestrictions: ['main'] } } });
    assert.deepEqual((await get('builder')).buildConfiguration?.branchRestrictions, ['main']);
    const started = await client.start.service.build({ parameters: { projectId: project, serviceId: 'builder' }, data: { branch: 'main' } });
    assert.equal((started.data as { sha?: string }).sha, repo.head());
  });

  it('creates a combined service from uploaded bundles, builds the uploaded bundle, deploys it and answers through the router', async () => {
    const data: CreateServiceCombinedData = {
      name: 'bundled',
      billing: { deploymentPlan: 'nf-compute-20' },
      deployment: { instances: 1 },
      buildSource: 'bundle',
      buildSettings: { buildpack: {} },
      ports: [{ name: 'p01', internalPort: 8080, public: true, protocol: 'HTTP' }],
    };
    const created = await client.create.service.combined({ parameters: { projectId: project }, data });
    assert.equal(created.data.id, 'bundled');
    const before_ = await get('bundled');
    assert.equal(before_.buildSource, 'bundle');
    assert.equal(before_.vcsData, undefined);
    assert.equal((await client.get.service.builds({ parameters: { projectId: project, serviceId: 'bundled' } })).data.builds.length, 0, 'nothing to build before an upload');

    const up = await api(p, 'POST', `/projects/${project}/services/bundled/bundles`, undefined, { raw: await bundleOf('hello', 'from-upload'), contentType: 'application/gzip' });
    assert.equal(up.status, 202, JSON.stringify(up.body));
    const dns = before_.ports[0].dns!;
    assert.equal(dns, `p01--bundled--${project}.localhost`);
    await waitFor(async () => (await answer(dns)) === 'from-upload', 180_000, 'the uploaded bundle answering through the router');
    const after_ = await waitFor(async () => {
      const svc = await get('bundled');
      return svc.status.deployment?.status === 'COMPLETED' ? svc : undefined;
    }, 120_000, 'the rollout COMPLETED');
    assert.equal(after_.status.build?.status, 'SUCCESS');
  });

  it('builds the bundle bundleData names at creation', async () => {
    const file = path.join(p.dataDir, 'named.tar.gz');
    fs.writeFileSync(file, await bundleOf('hello', 'from-bundle-data'));
    const data: CreateServiceCombinedData = {
      name: 'named',
      billing: { deploymentPlan: 'nf-compute-20' },
      deployment: { instances: 1 },
      buildSource: 'bundle',
      bundleData: { bundleUrl: `file://${file}`, branch: 'main' },
      buildSettings: { buildpack: {} },
      ports: [{ name: 'p01', internalPort: 8080, public: true, protocol: 'HTTP' }],
    };
    await client.create.service.combined({ parameters: { projectId: project }, data });
    assert.equal((await get('named')).bundleData?.bundleUrl, `file://${file}`);
    await waitFor(async () => (await answer(`named.${project}.localhost`)) === 'from-bundle-data', 180_000, 'the named bundle answering through the router');
  });

  it('builds a new bundle named by bundleData in an update, and switches a bundle-built service to git when given a repository', async () => {
    const file = path.join(p.dataDir, 'named-2.tar.gz');
    fs.writeFileSync(file, await bundleOf('hello', 'from-second-bundle'));
    await client.patch.service.combined({ parameters: { projectId: project, serviceId: 'named' }, data: { bundleData: { bundleUrl: file, branch: 'main' } } });
    await waitFor(async () => (await answer(`named.${project}.localhost`)) === 'from-second-bundle', 180_000, 'the second bundle answering through the router');

    const refused = await api(p, 'PATCH', `/v1/projects/${project}/services/combined/named`, { buildSource: 'git' });
    assert.equal(refused.status, 400);
    assert.ok(refused.body.error.details.vcsData, JSON.stringify(refused.body));

    await client.patch.service.combined({ parameters: { projectId: project, serviceId: 'named' }, data: { vcsData: { projectUrl: repo.dir, projectType: 'self-hosted', projectBranch: 'main' } } });
    const svc = await get('named');
    assert.equal(svc.buildSource, 'git');
    assert.equal(svc.bundleData, undefined);
    await waitFor(async () => (await answer(`named.${project}.localhost`)) === 'hello', 180_000, 'the repository build answering through the router');
  });

  it('refuses a build source that is neither git nor bundle, or both, naming the field, and stores nothing', async () => {
    const base = { billing: { deploymentPlan: 'nf-compute-20' }, deployment: { instances: 1 }, buildSettings: { buildpack: {} } };
    const none = await api(p, 'POST', `/v1/projects/${project}/services/combined`, { name: 'nowhere', ...base });
    assert.equal(none.status, 400);
    assert.ok(none.body.error.details.vcsData, JSON.stringify(none.body));
    const both = await api(p, 'POST', `/v1/projects/${project}/services/combined`, { name: 'both', ...base, buildSource: 'bundle', vcsData: { projectUrl: repo.dir, projectType: 'self-hosted', projectBranch: 'main' } });
    assert.equal(both.status, 400);
    assert.ok(both.body.error.details.vcsData, JSON.stringify(both.body));
    const unreadable = await api(p, 'POST', `/v1/projects/${project}/services/combined`, { name: 'unreadable', ...base, buildSource: 'bundle', bundleData: { bundleUrl: '/nonexistent/app.tar.gz' } });
    assert.equal(unreadable.status, 400);
    assert.ok(unreadable.body.error.details['bundleData.bundleUrl'], JSON.stringify(unreadable.body));
    for (const id of ['nowhere', 'both', 'unreadable']) assert.equal((await api(p, 'GET', `/v1/projects/${project}/services/${id}`)).status, 404);
  });
});
