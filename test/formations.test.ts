/**
 * Process types and the Akkeris formation face through real HTTP: `GET /sizes`, every formation route and
 * field, a worker type that runs without a port, scales on its own and is rolled on a new release, quantity 0
 * as maintenance mode and back, limits, and batch updates that are all or nothing.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { api, fixtureRepo, startTestPlatform, viaRouter, waitFor, type RunningPlatform } from './support/platform.ts';

const APP = '/apps/web-akk/formation';

interface Instance {
  id: string;
  processType: string;
  release: number;
  ready: boolean;
  state: string;
}

describe('formations (Akkeris face) and process types', { concurrency: false }, () => {
  let p: RunningPlatform;
  const repo = fixtureRepo('hello');
  repo.commit('add a worker', (dir) => {
    fs.writeFileSync(path.join(dir, 'worker.js'), "console.log(`working PORT=${process.env.PORT} GREETING=${process.env.GREETING}`);\nsetInterval(() => {}, 1000);\nprocess.on('SIGTERM', () => process.exit(0));\n");
    fs.writeFileSync(path.join(dir, 'Procfile'), 'web: node server.js\nworker: node worker.js\n');
  });
  const instances = async (): Promise<Instance[]> => (await api(p, 'GET', '/projects/akk/services/web/instances')).body.instances;
  const byType = async (type: string) => (await instances()).filter((i) => i.processType === type && i.state !== 'stopping');
  const status = async () => (await api(p, 'GET', '/v1/projects/akk/services/web')).body.data.status.deployment.status;

  before(async () => {
    p = await startTestPlatform();
    assert.equal((await api(p, 'POST', '/v1/projects', { name: 'akk' })).status, 200);
    const created = await api(p, 'POST', '/v1/projects/akk/services/combined', {
      name: 'web',
      billing: { deploymentPlan: 'nf-compute-20' },
      deployment: { instances: 1 },
      vcsData: { projectUrl: repo.dir, projectType: 'self-hosted', projectBranch: 'main' },
      ports: [{ name: 'p01', internalPort: 8080, public: true, protocol: 'HTTP' }],
      runtimeEnvironment: { GREETING: 'v1' },
    });
    assert.equal(created.status, 200, JSON.stringify(created.body));
    await waitFor(async () => (await status()) === 'COMPLETED', 120_000, 'deployed');
  });
  after(async () => {
    await p?.stop();
  });

  it('lists sizes in the seed shape', async () => {
    const res = await api(p, 'GET', '/sizes');
    assert.equal(res.status, 200);
    const gp1 = res.body.find((s: { name: string }) => s.name === 'gp1');
    assert.deepEqual(gp1.resources.requests.memory, '256Mi');
    assert.deepEqual(gp1.resources.limits.memory, '256Mi');
    assert.ok(res.body.some((s: { name: string }) => s.name === 'gp2'));
  });

  it('shows the web formation with its quantity, size and port', async () => {
    const res = await api(p, 'GET', APP);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.length, 1);
    const web = res.body[0];
    for (const f of ['app', 'command', 'created_at', 'id', 'quantity', 'size', 'type', 'port', 'updated_at']) assert.ok(f in web, `formation lacks ${f}`);
    assert.deepEqual([web.type, web.quantity, web.size, web.port, web.command], ['web', 1, 'nf-compute-20', 8080, null]);
    assert.equal(web.app.name, 'web-akk');
    assert.equal((await api(p, 'GET', `${APP}/web`)).body.id, web.id);
    assert.equal((await api(p, 'GET', '/apps/nope-akk/formation')).status, 404);
    assert.equal((await api(p, 'GET', `${APP}/worker`)).status, 404);
  });

  it('creates a worker type that runs without a port and scales on its own', async () => {
    const bad = await api(p, 'POST', APP, { type: 'ghost', size: 'gp1', quantity: 1 });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.errors[0].field, 'type');
    const withPort = await api(p, 'POST', APP, { type: 'worker', size: 'gp1', quantity: 1, port: 9000 });
    assert.equal(withPort.status, 400);
    assert.equal(withPort.body.errors[0].field, 'port');

    const res = await api(p, 'POST', APP, { type: 'worker', size: 'gp1', quantity: '2', command: null, healthcheck: null });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.deepEqual([res.body.type, res.body.quantity, res.body.size, res.body.port], ['worker', 2, 'gp1', null]);
    assert.equal((await api(p, 'POST', APP, { type: 'worker', size: 'gp1', quantity: 1 })).status, 409);
    await waitFor(async () => (await byType('worker')).filter((i) => i.ready).length === 2, 60_000, '2 workers');
    await waitFor(async () => {
      const logs = (await api(p, 'GET', '/projects/akk/services/web/logs?tail=200')).body.lines as { line: string }[];
      return logs.some((l) => l.line === 'working PORT=undefined GREETING=v1');
    }, 30_000, 'worker output without PORT');
    // A size of its own is part of the release, so the web instance was rolled too; it ends as one.
    await waitFor(async () => (await status()) === 'COMPLETED' && (await byType('web')).length === 1, 60_000, 'one web instance');
    assert.deepEqual((await api(p, 'GET', APP)).body.map((f: { type: string }) => f.type), ['web', 'worker']);
  });

  it('puts the app in maintenance mode at quantity 0 and back', async () => {
    assert.equal((await viaRouter(p, 'web.akk.localhost')).status, 200);
    const zero = await api(p, 'PATCH', `${APP}/web`, { quantity: 0 });
    assert.equal(zero.status, 200, JSON.stringify(zero.body));
    assert.equal(zero.body.quantity, 0);
    await waitFor(async () => {
      const page = await viaRouter(p, 'web.akk.localhost');
      return page.status === 503 && /maintenance/i.test(await page.text());
    }, 30_000, 'maintenance page');
    assert.equal((await byType('worker')).length, 2, 'workers keep running');
    assert.equal((await api(p, 'PATCH', `${APP}/web`, { quantity: 1, size: 'gp2' })).body.size, 'gp2');
    await waitFor(async () => (await viaRouter(p, 'web.akk.localhost')).status === 200, 60_000, 'back from maintenance');
  });

  it('refuses quantities over 20 and unknown sizes, and applies a batch all or nothing', async () => {
    const big = await api(p, 'PATCH', `${APP}/web`, { quantity: 21 });
    assert.equal(big.status, 400);
    assert.equal(big.body.errors[0].field, 'quantity');
    const size = await api(p, 'PATCH', `${APP}/worker`, { size: 'huge' });
    assert.equal(size.status, 400);
    assert.equal(size.body.errors[0].field, 'size');

    const mixed = await api(p, 'PATCH', APP, [{ type: 'web', quantity: 2 }, { type: 'worker', quantity: 25 }]);
    assert.equal(mixed.status, 400);
    assert.equal(mixed.body.errors[0].field, '1.quantity');
    assert.equal((await api(p, 'GET', `${APP}/web`)).body.quantity, 1, 'nothing applied');

    const ok = await api(p, 'PATCH', APP, [{ type: 'web', quantity: 2, size: 'gp2' }, { type: 'worker', quantity: 1 }]);
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    assert.deepEqual(ok.body.map((f: { type: string; quantity: number }) => [f.type, f.quantity]), [['web', 2], ['worker', 1]]);
    await waitFor(async () => (await byType('web')).filter((i) => i.ready).length === 2 && (await byType('worker')).length === 1, 60_000, '2 web, 1 worker');
  });

  it('rolls the worker to a new release too, never stopping all workers at once', async () => {
    assert.equal((await api(p, 'PATCH', `${APP}/worker`, { quantity: 2 })).status, 200);
    await waitFor(async () => (await byType('worker')).filter((i) => i.ready).length === 2, 60_000, '2 workers');
    const before_ = (await byType('worker'))[0].release;
    let minWorkers = Infinity;
    const patched = await api(p, 'PATCH', '/v1/projects/akk/services/combined/web', { runtimeEnvironment: { GREETING: 'v2' } });
    assert.equal(patched.status, 200);
    await waitFor(async () => {
      const w = await byType('worker');
      minWorkers = Math.min(minWorkers, w.filter((i) => i.ready).length);
      return w.length === 2 && w.every((i) => i.release > before_ && i.ready) && (await status()) === 'COMPLETED';
    }, 90_000, 'workers on the new release');
    assert.ok(minWorkers >= 1, 'a ready worker remained throughout');
    // A worker is ready once it has stayed up a moment; its output reaches the logs within the runtime's
    // collection interval (200 ms), which can be after that.
    await waitFor(async () => {
      const logs = (await api(p, 'GET', '/projects/akk/services/web/logs?tail=500')).body.lines as { line: string }[];
      return logs.some((l) => l.line === 'working PORT=undefined GREETING=v2');
    }, 10_000, 'the new workers’ output in the logs');
  });

  it('runs a one-off formation of the current release with its env override', async () => {
    const res = await api(p, 'POST', APP, { type: 'migrate', size: 'gp1', quantity: 1, oneoff: true, command: 'echo "one-off $ONE"', options: { env: { ONE: 'override' } } });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.oneoff, true);
    const runPath = res.body.run.href as string;
    const done = await waitFor(async () => {
      const r = (await api(p, 'GET', runPath)).body;
      return ['SUCCEEDED', 'FAILED'].includes(r.status) ? r : undefined;
    }, 60_000, 'one-off run finished');
    assert.equal(done.status, 'SUCCEEDED', JSON.stringify(done));
    const logs = (await api(p, 'GET', `${runPath}/logs`)).body.lines as { line: string }[];
    assert.ok(logs.some((l) => l.line === 'one-off override'), JSON.stringify(logs));
    const image = await api(p, 'POST', APP, { type: 'migrate', size: 'gp1', quantity: 1, oneoff: true, options: { image: 'x:1' } });
    assert.equal(image.status, 422, 'the process runtime runs no images');
    assert.equal(image.body.errors[0].field, 'options.image');
  });

  it('overrides and removes commands, sets and removes the web health check, and removes a formation', async () => {
    const cmd = await api(p, 'PATCH', `${APP}/worker`, { command: 'node -e "console.log(\'custom worker\'); setInterval(() => {}, 1000)"' });
    assert.equal(cmd.status, 200, JSON.stringify(cmd.body));
    assert.match(cmd.body.command, /custom worker/);
    await waitFor(async () => ((await api(p, 'GET', '/projects/akk/services/web/logs?tail=500')).body.lines as { line: string }[]).some((l) => l.line === 'custom worker'), 60_000, 'custom command runs');
    const removed = await api(p, 'PATCH', `${APP}/worker`, { 'remove-command': true });
    assert.equal(removed.body.command, null);

    const hc = await api(p, 'PATCH', `${APP}/web`, { healthcheck: '/health' });
    assert.equal(hc.body.healthcheck, '/health');
    const svc = (await api(p, 'GET', '/v1/projects/akk/services/web')).body.data;
    assert.ok(svc.healthChecks.some((h: { type: string; path: string }) => h.type === 'readinessProbe' && h.path === '/health'));
    assert.equal((await api(p, 'PATCH', `${APP}/web`, { removeHealthcheck: true })).body.healthcheck, null);

    assert.equal((await api(p, 'DELETE', `${APP}/web`)).status, 403);
    const del = await api(p, 'DELETE', `${APP}/worker`);
    assert.equal(del.status, 200);
    assert.equal(del.body.type, 'worker');
    await waitFor(async () => (await byType('worker')).length === 0, 60_000, 'workers gone');
    assert.equal((await api(p, 'GET', `${APP}/worker`)).status, 404);
  });
});
