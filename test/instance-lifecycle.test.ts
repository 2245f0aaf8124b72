/**
 * What users feel of the process runtime and the rolling replacement: a redeploy drops no request, a
 * crashing instance is restarted with back-off and shows it, pause answers 503 and resume brings it back,
 * restart replaces every instance with a new release, logs carry timestamps.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { api, fixtureRepo, startTestPlatform, viaRouter, waitFor, type RunningPlatform } from './support/platform.ts';

const HOST = 'web.life.localhost';

describe('instance lifecycle', () => {
  let p: RunningPlatform;
  const repo = fixtureRepo('hello');
  const status = async () => (await api(p, 'GET', '/v1/projects/life/services/web')).body.data.status.deployment.status;

  before(async () => {
    p = await startTestPlatform({ SLIPWAY_ROUTER: 'builtin' }); // the fallback data plane, end to end
    assert.equal((await api(p, 'POST', '/v1/projects', { name: 'life' })).status, 200);
    const created = await api(p, 'POST', '/v1/projects/life/services/combined', {
      name: 'web',
      billing: { deploymentPlan: 'nf-compute-20' },
      deployment: { instances: 2 },
      vcsData: { projectUrl: repo.dir, projectType: 'self-hosted', projectBranch: 'main' },
      ports: [{ name: 'p01', internalPort: 8080, public: true, protocol: 'HTTP' }],
      runtimeEnvironment: { GREETING: 'v1' },
    });
    assert.equal(created.status, 200, JSON.stringify(created.body));
    await waitFor(async () => (await status()) === 'COMPLETED', 120_000, 'COMPLETED');
  });
  after(async () => {
    await p?.stop();
  });

  it('replaces instances new before old: a redeploy under load fails no request', async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
    let ok = 0;
    let failed = 0;
    const seen = new Set<string>();
    let stop = false;
    const one = () =>
      new Promise<void>((resolve) => {
        const req = http.get({ host: '127.0.0.1', port: p.routerPort, path: '/', headers: { host: HOST }, agent }, (res) => {
          let body = '';
          res.on('data', (c) => (body += c));
          res.on('end', () => {
            if (res.statusCode === 200) {
              ok++;
              seen.add(JSON.parse(body).message);
            } else failed++;
            resolve();
          });
        });
        req.on('error', () => {
          failed++;
          resolve();
        });
      });
    const load = (async () => {
      while (!stop) await Promise.all([one(), one()]);
    })();
    const patched = await api(p, 'PATCH', '/v1/projects/life/services/combined/web', { runtimeEnvironment: { GREETING: 'v2' } });
    assert.equal(patched.status, 200, JSON.stringify(patched.body));
    await waitFor(async () => (await status()) === 'COMPLETED' && seen.has('v2'), 60_000, 'v2 rolled out');
    await waitFor(async () => {
      const c = (await api(p, 'GET', '/v1/projects/life/services/web/containers')).body.data.containers;
      return c.length === 2 && c.every((x: { release: number }) => x.release === 2);
    }, 60_000, 'only release 2 instances');
    await new Promise((r) => setTimeout(r, 300));
    stop = true;
    await load;
    agent.destroy();
    assert.ok(ok > 50, `enough requests made (${ok})`);
    assert.equal(failed, 0, `no failed request (${ok} ok)`);
    assert.ok(seen.has('v1') && seen.has('v2'));
  });

  it('restarts a crashing instance with back-off and shows the restarts', async () => {
    await api(p, 'PATCH', '/v1/projects/life/services/combined/web', { runtimeEnvironment: { GREETING: 'crashy', CRASH_AFTER_MS: '300' } });
    const crashed = await waitFor(async () => {
      const c = (await api(p, 'GET', '/v1/projects/life/services/web/containers')).body.data.containers;
      return c.find((x: { restarts: number }) => x.restarts >= 2);
    }, 60_000, 'an instance restarted twice');
    assert.equal(crashed.lastExitCode, 3);
    const events = (await api(p, 'GET', '/projects/life/services/web/events')).body.events as { reason: string; message: string }[];
    assert.ok(events.some((e) => e.reason === 'Crashed' && /code 3/.test(e.message)));
    // Crash-looping new instances never took the healthy old ones down.
    const res = await viaRouter(p, HOST);
    assert.equal(res.status, 200);
    await api(p, 'PATCH', '/v1/projects/life/services/combined/web', { runtimeEnvironment: { GREETING: 'v3' } });
    await waitFor(async () => (await status()) === 'COMPLETED', 60_000, 'COMPLETED after the fix');
  });

  it('kills an instance over its plan memory, records why, and keeps the healthy release serving', async () => {
    // nf-compute-10 is 256 MB: the app holds 320 MB.
    await api(p, 'PATCH', '/v1/projects/life/services/combined/web', { billing: { deploymentPlan: 'nf-compute-10' }, runtimeEnvironment: { GREETING: 'hog', ALLOC_MB: '320' } });
    const events = await waitFor(async () => {
      const e = (await api(p, 'GET', '/projects/life/services/web/events')).body.events as { reason: string; message: string }[];
      return e.some((x) => x.reason === 'OOMKilled') ? e : undefined;
    }, 60_000, 'an OOMKilled event');
    assert.ok(events.some((e) => e.reason === 'OOMKilled' && /memory limit/.test(e.message)));
    assert.equal((await viaRouter(p, HOST)).status, 200);
    await api(p, 'PATCH', '/v1/projects/life/services/combined/web', { billing: { deploymentPlan: 'nf-compute-20' }, runtimeEnvironment: { GREETING: 'v4' } });
    await waitFor(async () => (await status()) === 'COMPLETED', 60_000, 'COMPLETED after the fix');
  });

  it('pauses to a 503 maintenance page and resumes', async () => {
    assert.equal((await api(p, 'POST', '/v1/projects/life/services/web/pause')).status, 200);
    await waitFor(async () => (await viaRouter(p, HOST)).status === 503, 30_000, '503 while paused');
    await waitFor(async () => (await api(p, 'GET', '/v1/projects/life/services/web/containers')).body.data.containers.length === 0, 30_000, 'no instances while paused');
    assert.equal((await api(p, 'POST', '/v1/projects/life/services/web/resume')).status, 200);
    await waitFor(async () => (await viaRouter(p, HOST)).status === 200, 60_000, '200 after resume');
  });

  it('restarts every instance with a new release of the same spec', async () => {
    const before_ = (await api(p, 'GET', '/projects/life/services/web/releases')).body.releases[0].number as number;
    assert.equal((await api(p, 'POST', '/v1/projects/life/services/web/restart')).status, 200);
    await waitFor(async () => {
      const c = (await api(p, 'GET', '/v1/projects/life/services/web/containers')).body.data.containers;
      return c.length === 2 && c.every((x: { release: number; ready: boolean }) => x.release === before_ + 1 && x.ready);
    }, 60_000, 'restarted instances ready');
    const rels = (await api(p, 'GET', '/projects/life/services/web/releases')).body.releases;
    assert.ok(rels[0].restartedAt);
  });

  it('serves timestamped stdout and stderr lines of the instances', async () => {
    const res = await api(p, 'GET', '/projects/life/services/web/logs?tail=50');
    assert.equal(res.status, 200);
    const lines = res.body.lines as { ts: string; stream: string; line: string }[];
    assert.ok(lines.some((l) => l.stream === 'stdout' && /listening on/.test(l.line)));
    assert.ok(lines.some((l) => l.stream === 'stderr' && /a line on stderr/.test(l.line)));
    assert.ok(lines.every((l) => !Number.isNaN(Date.parse(l.ts))));
  });
});
