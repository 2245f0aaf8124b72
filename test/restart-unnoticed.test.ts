/**
 * A control-plane restart nobody notices, on both data planes: steady requests through the router to a
 * 2-instance service while the control plane gets a SIGTERM and starts again, then a `kill -9` and starts
 * again. Not one request fails, and the router process is the same one throughout (adopted, never
 * restarted because the control plane was).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { api, fixtureRepo, instancePids, pidAlive, routerLoad, routerPids, startTestPlatform, viaRouter, waitFor, type RunningPlatform } from './support/platform.ts';

for (const plane of ['haproxy', 'builtin'] as const) {
  describe(`control-plane restarts under load (${plane} router)`, () => {
    let p: RunningPlatform;
    const repo = fixtureRepo('hello');
    const host = 'web.calm.localhost';

    before(async () => {
      p = await startTestPlatform({ SLIPWAY_ROUTER: plane });
      assert.equal((await api(p, 'POST', '/v1/projects', { name: 'calm' })).status, 200);
      const created = await api(p, 'POST', '/v1/projects/calm/services/combined', {
        name: 'web',
        billing: { deploymentPlan: 'nf-compute-20' },
        deployment: { instances: 2 },
        vcsData: { projectUrl: repo.dir, projectType: 'self-hosted', projectBranch: 'main' },
        buildSettings: { buildpack: { builder: 'HEROKU_24' } },
        ports: [{ name: 'p01', internalPort: 8080, public: true, protocol: 'HTTP' }],
      });
      assert.equal(created.status, 200, JSON.stringify(created.body));
      await waitFor(async () => (await api(p, 'GET', '/v1/projects/calm/services/web')).body.data.status.deployment.status === 'COMPLETED', 180_000, 'COMPLETED');
      await waitFor(async () => (await viaRouter(p, host)).status === 200, 60_000, 'routed');
    });
    after(async () => {
      await p?.stop();
    });

    it('loses no request across a SIGTERM + start and a kill -9 + start, and keeps the same router process', async () => {
      const [routerPid] = routerPids(p.dataDir);
      assert.ok(routerPid && pidAlive(routerPid), `the ${plane} router runs in a process of its own`);
      const load = routerLoad(p, host);
      const answered = async (more: number, what: string) => {
        const from = load.stats.ok;
        await waitFor(() => load.stats.ok >= from + more, 60_000, what);
      };
      try {
        await answered(50, 'requests before the restarts');

        await p.sigterm();
        assert.ok(pidAlive(routerPid), 'the router outlives a SIGTERM of the control plane');
        assert.ok(p.logs.join('').includes('keep running and are adopted on the next start'), 'the exit says what keeps running');
        await answered(50, 'requests while the control plane is stopped');
        await p.restart();
        await waitFor(() => p.logs.join('').includes('routing table handed to the router'), 60_000, 'table handed over after the first restart');
        await answered(100, 'requests after the first restart');

        const handedOver = p.logs.join('').split('routing table handed to the router').length;
        await p.kill9();
        assert.ok(pidAlive(routerPid), 'the router outlives a kill -9 of the control plane');
        await answered(50, 'requests while the control plane is dead');
        await p.restart();
        await waitFor(() => p.logs.join('').split('routing table handed to the router').length > handedOver, 60_000, 'table handed over after the second restart');
        await answered(100, 'requests after the second restart');
      } finally {
        await load.stop();
      }
      assert.equal(load.stats.failed, 0, `failed requests: ${load.stats.errors.slice(0, 10).join(' | ')}`);
      assert.ok(load.stats.ok > 350, `${load.stats.ok} answered`);
      assert.deepEqual(routerPids(p.dataDir), [routerPid], 'the same router process serves before and after both restarts');
      const adoptions = p.logs.join('').split(plane === 'haproxy' ? 'adopted the haproxy left running' : 'adopted the built-in router left running').length - 1;
      assert.equal(adoptions, 2, 'each start adopted the router');
      // Both instances still serve (the router was handed the full table again).
      assert.equal(load.stats.seen.size >= 1, true);
      const containers = (await api(p, 'GET', '/v1/projects/calm/services/web/containers')).body.data.containers;
      assert.equal(containers.filter((c: { ready: boolean }) => c.ready).length, 2);
    });
  });
}

describe('SLIPWAY_STOP_ON_EXIT=all', () => {
  let p: RunningPlatform;
  const repo = fixtureRepo('hello');

  before(async () => {
    p = await startTestPlatform({ SLIPWAY_ROUTER: 'builtin', SLIPWAY_STOP_ON_EXIT: 'all' });
  });
  after(async () => {
    await p?.stop();
  });

  it('stops the router and every instance with the control plane, and says so', async () => {
    assert.equal((await api(p, 'POST', '/v1/projects', { name: 'tidy' })).status, 200);
    const created = await api(p, 'POST', '/v1/projects/tidy/services/combined', {
      name: 'web',
      billing: { deploymentPlan: 'nf-compute-20' },
      deployment: { instances: 1 },
      vcsData: { projectUrl: repo.dir, projectType: 'self-hosted', projectBranch: 'main' },
      buildSettings: { buildpack: { builder: 'HEROKU_24' } },
      ports: [{ name: 'p01', internalPort: 8080, public: true, protocol: 'HTTP' }],
    });
    assert.equal(created.status, 200, JSON.stringify(created.body));
    await waitFor(async () => (await viaRouter(p, 'web.tidy.localhost')).status === 200, 180_000, 'routed');
    const [routerPid] = routerPids(p.dataDir);
    const ids = (await api(p, 'GET', '/v1/projects/tidy/services/web/containers')).body.data.containers.map((c: { name: string }) => c.name);
    const pids = ids.flatMap((id: string) => instancePids(p.dataDir, id));
    assert.ok(routerPid && pids.length > 0);

    await p.sigterm();
    assert.ok(p.logs.join('').includes('stopped the router and every instance'), 'the exit says what it stopped');
    await waitFor(() => !pidAlive(routerPid) && pids.every((pid: number) => !pidAlive(pid)), 30_000, 'router and instances stopped');
  });
});
