/**
 * Builds through the API: a source bundle upload builds and deploys; a build of a commit that already
 * built is the cached build; a failing build is visible with its log and never replaces what runs.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tar from 'tar';
import { ROOT, api, fixtureRepo, northflankClient, pidAlive, startTestPlatform, viaRouter, waitFor, type RunningPlatform } from './support/platform.ts';

async function bundleOf(app: string, edit?: (dir: string) => void): Promise<Buffer> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'slipway-bundle-'));
  fs.cpSync(path.join(ROOT, 'test/fixtures/apps', app), path.join(dir, 'app'), { recursive: true });
  edit?.(path.join(dir, 'app'));
  const file = path.join(dir, 'app.tar.gz');
  await tar.c({ gzip: true, file, cwd: dir }, ['app']);
  const data = fs.readFileSync(file);
  fs.rmSync(dir, { recursive: true, force: true });
  return data;
}

describe('builds through the API', () => {
  let p: RunningPlatform;
  const repo = fixtureRepo('hello');
  const svcStatus = async (id: string) => (await api(p, 'GET', `/v1/projects/builds/services/${id}`)).body.data.status;

  before(async () => {
    p = await startTestPlatform();
    assert.equal((await api(p, 'POST', '/v1/projects', { name: 'builds' })).status, 200);
  });
  after(async () => {
    await p?.stop();
  });

  it('builds and deploys an uploaded source bundle, and takes bundleUrl through the Northflank client', async () => {
    const created = await api(p, 'POST', '/v1/projects/builds/services/combined', {
      name: 'bundled',
      billing: { deploymentPlan: 'nf-compute-20' },
      deployment: { instances: 1 },
      vcsData: { projectUrl: repo.dir, projectType: 'self-hosted', projectBranch: 'main' },
      ports: [{ name: 'p01', internalPort: 8080, public: true, protocol: 'HTTP' }],
    });
    assert.equal(created.status, 200, JSON.stringify(created.body));
    await waitFor(async () => (await svcStatus('bundled')).deployment.status === 'COMPLETED', 120_000, 'git build deployed');

    const bundle = await bundleOf('hello', (d) => fs.writeFileSync(path.join(d, 'Procfile'), 'web: GREETING=from-bundle node server.js\n'));
    const up = await api(p, 'POST', '/projects/builds/services/bundled/bundles', undefined, { raw: bundle, contentType: 'application/gzip' });
    assert.equal(up.status, 202, JSON.stringify(up.body));
    assert.match(up.body.sha, /^bundle:[0-9a-f]{64}$/);
    await waitFor(async () => {
      const r = await viaRouter(p, 'bundled.builds.localhost');
      return r.status === 200 && ((await r.json()) as { message: string }).message === 'from-bundle';
    }, 120_000, 'bundle deployed');

    const file = path.join(p.dataDir, 'client-bundle.tar.gz');
    fs.writeFileSync(file, await bundleOf('hello', (d) => fs.writeFileSync(path.join(d, 'Procfile'), 'web: GREETING=via-client node server.js\n')));
    const client = await northflankClient(p);
    const started = await client.start.service.build({ parameters: { projectId: 'builds', serviceId: 'bundled' }, data: { bundleUrl: `file://${file}` } as never });
    assert.ok(started.data.id);
    await waitFor(async () => {
      const r = await viaRouter(p, 'bundled.builds.localhost');
      return r.status === 200 && ((await r.json()) as { message: string }).message === 'via-client';
    }, 120_000, 'client bundle deployed');
  });

  it('returns the cached build for a commit that already built', async () => {
    const a = await api(p, 'POST', '/v1/projects/builds/services/bundled/build', { sha: repo.head() });
    assert.equal(a.status, 200, JSON.stringify(a.body));
    assert.equal(a.body.data.status, 'SUCCESS');
    const builds = (await api(p, 'GET', '/v1/projects/builds/services/bundled/build')).body.data.builds as { id: string; sha: string }[];
    assert.equal(builds.filter((b) => b.sha === repo.head()).length, 1);
    assert.equal(a.body.data.id, builds.find((b) => b.sha === repo.head())!.id);
  });

  it('shows a failed build with its log and keeps the running release', async () => {
    const before_ = (await api(p, 'GET', '/projects/builds/services/bundled/releases')).body.releases.length;
    const bad = await bundleOf('hello', (d) => fs.writeFileSync(path.join(d, 'package.json'), JSON.stringify({ name: 'x', version: '1.0.0', scripts: { build: 'echo compile error >&2; exit 2', start: 'node server.js' } })));
    const up = await api(p, 'POST', '/projects/builds/services/bundled/bundles', undefined, { raw: bad, contentType: 'application/gzip' });
    assert.equal(up.status, 202);
    const failed = await waitFor(async () => {
      const b = (await api(p, 'GET', `/v1/projects/builds/services/bundled/build/${up.body.id}`)).body.data;
      return b.status === 'FAILURE' ? b : undefined;
    }, 120_000, 'build FAILURE');
    assert.equal(failed.success, false);
    assert.match(failed.message, /exit code 2/);
    const log = await api(p, 'GET', `/projects/builds/services/bundled/builds/${up.body.id}/log`);
    assert.match(log.body, /compile error/);
    assert.equal((await api(p, 'GET', '/projects/builds/services/bundled/releases')).body.releases.length, before_);
    const r = await viaRouter(p, 'bundled.builds.localhost');
    assert.equal(((await r.json()) as { message: string }).message, 'via-client');
    assert.equal((await svcStatus('bundled')).build.status, 'FAILURE');
  });

  it('aborts a running build through the official client: its steps are killed, its log kept, and what runs is untouched', async () => {
    const releases = (await api(p, 'GET', '/projects/builds/services/bundled/releases')).body.releases.length;
    const pidFile = path.join(p.dataDir, `build-step-${Date.now()}.pid`);
    const slow = await bundleOf('hello', (d) =>
      fs.writeFileSync(path.join(d, 'package.json'), JSON.stringify({ name: 'x', version: '1.0.0', scripts: { build: `echo $$ > ${pidFile}; echo compiling slowly; exec sleep 600`, start: 'node server.js' } })),
    );
    const up = await api(p, 'POST', '/projects/builds/services/bundled/bundles', undefined, { raw: slow, contentType: 'application/gzip' });
    assert.equal(up.status, 202, JSON.stringify(up.body));
    const log = async () => (await api(p, 'GET', `/projects/builds/services/bundled/builds/${up.body.id}/log`)).body as string;
    await waitFor(async () => /compiling slowly/.test(await log()) && fs.existsSync(pidFile), 120_000, 'the build step running');
    const stepPid = Number(fs.readFileSync(pidFile, 'utf8').trim());
    assert.ok(pidAlive(stepPid));

    const client = await northflankClient(p);
    const aborted = await client.abort.service.build({ parameters: { projectId: 'builds', serviceId: 'bundled', buildId: up.body.id } });
    assert.equal(aborted.data.status, 'ABORTED');
    assert.equal(aborted.data.concluded, true);
    await waitFor(() => !pidAlive(stepPid), 120_000, 'the build step killed');
    await waitFor(async () => /Build aborted/.test(await log()), 120_000, 'the log closed');
    assert.match(await log(), /compiling slowly/);
    assert.equal((await api(p, 'GET', `/v1/projects/builds/services/bundled/build/${up.body.id}`)).body.data.status, 'ABORTED', 'the build stays aborted');
    assert.equal((await api(p, 'GET', '/projects/builds/services/bundled/releases')).body.releases.length, releases);
    assert.equal(((await (await viaRouter(p, 'bundled.builds.localhost')).json()) as { message: string }).message, 'via-client');
    const events = (await api(p, 'GET', '/projects/builds/services/bundled/events')).body.events as { reason: string }[];
    assert.ok(events.some((e) => e.reason === 'Aborted'));
    assert.ok(!events.some((e) => e.reason === 'Failed' && JSON.stringify(e).includes(up.body.id)), 'an abort is not a failure');

    const again = await api(p, 'DELETE', `/v1/projects/builds/services/bundled/build/${up.body.id}`);
    assert.equal(again.status, 409, JSON.stringify(again.body));
    // The next build runs as usual.
    const next = await api(p, 'POST', '/projects/builds/services/bundled/bundles', undefined, { raw: await bundleOf('hello', (d) => fs.writeFileSync(path.join(d, 'Procfile'), 'web: GREETING=after-abort node server.js\n')), contentType: 'application/gzip' });
    assert.equal(next.status, 202);
    await waitFor(async () => ((await (await viaRouter(p, 'bundled.builds.localhost')).json()) as { message: string }).message === 'after-abort', 120_000, 'the next build deployed');
  });

  it('refuses a bundle that is not a gzip archive', async () => {
    const res = await api(p, 'POST', '/projects/builds/services/bundled/bundles', undefined, { raw: Buffer.from('plain text'), contentType: 'application/gzip' });
    assert.equal(res.status, 400);
    assert.ok(res.body.errors.some((e: { field: string }) => e.field === 'body'));
  });
});
