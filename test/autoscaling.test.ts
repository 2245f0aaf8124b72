/**
 * Horizontal autoscaling on a real platform (process runtime, the router, real load), with the evaluation
 * interval and the scale-down window shortened through their settings (1 s, 6 s):
 * - requests through the router scale a service up to maxReplicas on rps, and after the window back to
 *   minReplicas, each scaling an event that says why;
 * - a rollout while the service is autoscaled under load completes with 0 failed requests, and the
 *   autoscaler holds (no scaling) until it has ended;
 * - a CPU-bound endpoint scales on CPU; memory an instance allocates and holds scales it on memory, and
 *   releasing it scales it back; a gauge the app exposes (requests in flight) scales on its own;
 * - bad autoscaling input is a 400 naming the field; a volume keeps the service at one instance;
 * - the dashboard's service page shows it, in the machine's Chromium (with SLIPWAY_SCREENSHOTS=1 it writes
 *   docs/screenshots/autoscaling.png).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import type { ApiClient } from '@northflank/js-client';
import os from 'node:os';
import { assertCliOk, runCli } from './support/cli.ts';
import { ROOT, api, fixtureRepo, northflankClient, routerLoad, startTestPlatform, waitFor, type RunningPlatform } from './support/platform.ts';
import { launchChromium, openPage, signIn } from './support/browser.ts';

const PROJECT = 'scale';
const INTERVAL_S = 1;
const WINDOW_S = 6;

describe('horizontal autoscaling (process runtime)', () => {
  let p: RunningPlatform;
  let client: ApiClient;
  const repo = fixtureRepo('autoscale');

  const svcPath = (s: string) => `/v1/projects/${PROJECT}/services/${s}`;
  const get = async (s: string) => (await api(p, 'GET', svcPath(s))).body.data;
  const containers = async (s: string) => (await api(p, 'GET', `${svcPath(s)}/containers`)).body.data.containers as { name: string; release: number; ready: boolean; status: string }[];
  const autoscaling = async (s: string) => (await api(p, 'GET', `/projects/${PROJECT}/services/${s}/autoscaling`)).body;
  /** the service's instance count and how many of its instances run ready (none stopping) */
  const counts = async (s: string) => {
    const c = (await containers(s)).filter((x) => x.status !== 'TASK_KILLING');
    return { instances: (await get(s)).deployment.instances as number, ready: c.filter((x) => x.ready).length, running: c.length };
  };
  const settledAt = (s: string, n: number, what: string) =>
    waitFor(async () => {
      const c = await counts(s);
      return c.instances === n && c.ready === n && c.running === n ? c : undefined;
    }, 180_000, what);

  async function createService(name: string, autoscaling: Record<string, unknown>, plan = 'nf-compute-20') {
    await client.create.service.combined({
      parameters: { projectId: PROJECT },
      data: {
        name,
        billing: { deploymentPlan: plan },
        deployment: { instances: 1 },
        vcsData: { projectUrl: repo.dir, projectType: 'self-hosted', projectBranch: 'main' },
        buildSettings: { buildpack: { builder: 'HEROKU_24' } },
        ports: [{ name: 'p01', internalPort: 8080, public: true, protocol: 'HTTP' }],
        healthChecks: [{ protocol: 'HTTP', type: 'readinessProbe', path: '/health', port: 8080, initialDelaySeconds: 1, periodSeconds: 10, timeoutSeconds: 1, failureThreshold: 3, successThreshold: 1 }],
        runtimeEnvironment: { GREETING: 'v1' },
        autoscaling: { horizontal: autoscaling as never },
      },
    });
    await waitFor(async () => (await get(name)).status.deployment.status === 'COMPLETED', 180_000, `${name} COMPLETED`);
  }

  /** `n` request loops through the router to `path` of a service, each on its own kept-alive connection. */
  function loops(host: string, path: string, n: number) {
    const agent = new http.Agent({ keepAlive: true, maxSockets: n });
    const stats = { ok: 0, failed: 0, errors: [] as string[], stop: false };
    const one = () =>
      new Promise<void>((resolve) => {
        const req = http.get({ host: '127.0.0.1', port: p.routerPort, path, headers: { host }, agent }, (res) => {
          res.resume();
          res.on('end', () => {
            if (res.statusCode === 200) stats.ok++;
            else {
              stats.failed++;
              stats.errors.push(String(res.statusCode));
            }
            resolve();
          });
        });
        req.on('error', (e) => {
          stats.failed++;
          stats.errors.push(e.message);
          resolve();
        });
      });
    const done = Promise.all(Array.from({ length: n }, async () => {
      while (!stats.stop) await one();
    }));
    return {
      stats,
      async stop() {
        stats.stop = true;
        await done;
        agent.destroy();
      },
    };
  }

  before(async () => {
    p = await startTestPlatform({ SLIPWAY_AUTOSCALE_INTERVAL_SECONDS: String(INTERVAL_S), SLIPWAY_AUTOSCALE_DOWN_STABILIZATION_SECONDS: String(WINDOW_S), SLIPWAY_METRICS_INTERVAL_SECONDS: '1' });
    client = await northflankClient(p);
    await client.create.project({ data: { name: PROJECT } });
  });
  after(async () => {
    await p?.stop();
  });

  describe('on requests per second, through the router', () => {
    let load: ReturnType<typeof routerLoad> | undefined;
    after(async () => load?.stop());

    it('refuses bad autoscaling input with a 400 naming the field', async () => {
      const body = (horizontal: Record<string, unknown>) => ({
        name: 'bad',
        billing: { deploymentPlan: 'nf-compute-20' },
        deployment: { instances: 1, external: undefined },
        vcsData: { projectUrl: repo.dir, projectType: 'self-hosted', projectBranch: 'main' },
        ports: [{ name: 'p01', internalPort: 8080, public: true, protocol: 'HTTP' }],
        autoscaling: { horizontal },
      });
      const cases: [Record<string, unknown>, string][] = [
        [{ enabled: true, minReplicas: 3, maxReplicas: 2, rps: { enabled: true, thresholdValue: 1 } }, 'autoscaling.horizontal.minReplicas'],
        [{ enabled: true, minReplicas: 1, maxReplicas: 2 }, 'autoscaling.horizontal.enabled'],
        [{ enabled: true, minReplicas: 1, maxReplicas: 2, cpu: { enabled: true, thresholdPercentage: 5 } }, 'autoscaling.horizontal.cpu.thresholdPercentage'],
        [{ enabled: true, minReplicas: 1, maxReplicas: 2, userMetrics: { enabled: true, exposedMetricsPath: '/metrics', exposedMetricsPort: 9090, metrics: [{ metricName: 'q', metricType: 'gauge', thresholdValue: 1 }] } }, 'autoscaling.horizontal.userMetrics.exposedMetricsPort'],
      ];
      for (const [horizontal, field] of cases) {
        const res = await api(p, 'POST', `/v1/projects/${PROJECT}/services/combined`, body(horizontal));
        assert.equal(res.status, 400, JSON.stringify(res.body));
        assert.ok(res.body.error.details[field], `${field} named: ${JSON.stringify(res.body.error)}`);
      }
      assert.equal((await api(p, 'GET', svcPath('bad'))).status, 404, 'nothing half-created');
    });

    it('scales up to maxReplicas under load, saying why', async () => {
      await createService('web', { enabled: true, minReplicas: 1, maxReplicas: 3, rps: { enabled: true, thresholdValue: 1 } });
      const idle = (await get('web')).status.autoscaling;
      assert.equal(idle.currentReplicas, 1);
      assert.equal(idle.maxReplicas, 3);
      assert.deepEqual(idle.metrics.map((m: { name: string }) => m.name), ['rps']);
      load = routerLoad(p, 'web.scale.localhost');
      await settledAt('web', 3, 'web at 3 ready instances');
      const view = await autoscaling('web');
      const up = view.events.find((e: { reason: string }) => e.reason === 'ScaledUp');
      assert.match(up.message, /^rps \d+\/instance > target 1: 1 -> 3/, JSON.stringify(view.events));
      console.log(`web: ${up.message}`);
      const status = await waitFor(async () => {
        const st = (await get('web')).status.autoscaling;
        return st.currentReplicas === 3 ? st : undefined;
      }, 30_000, 'an evaluation at 3 instances');
      assert.ok(status.metrics[0].value > 1, JSON.stringify(status));
      assert.equal(load.stats.failed, 0, `no failed request while scaling up (${load.stats.ok} ok): ${load.stats.errors.slice(0, 5).join('; ')}`);
    });

    it('the CLI and the scale route say the autoscaler owns the count', async () => {
      const home = fs.mkdtempSync(path.join(os.tmpdir(), 'slipway-cli-'));
      const status = await runCli(['status', '-p', PROJECT, '-s', 'web'], { home, env: { SLIPWAY_HOST: p.apiUrl, SLIPWAY_TOKEN: p.token, NO_COLOR: '1' } });
      const cliScale = await runCli(['scale', 'web=2', '-p', PROJECT, '-s', 'web'], { home, env: { SLIPWAY_HOST: p.apiUrl, SLIPWAY_TOKEN: p.token, NO_COLOR: '1' } });
      fs.rmSync(home, { recursive: true, force: true });
      assert.notEqual(cliScale.code, 0, cliScale.output);
      assert.match(cliScale.output, /web is autoscaled between 1 and 3 instances/);
      assertCliOk(status, 'slipway status');
      assert.match(status.stdout, /autoscaling:\s+3 current, 3 desired \(min 1, max 3\)/, status.stdout);
      assert.match(status.stdout, /metric:\s+rps [\d.]+\/s per instance \(target 1\)/, status.stdout);
      assert.match(status.stdout, /last scaled:.*1 -> 3/, status.stdout);

      const scale = await api(p, 'POST', `${svcPath('web')}/scale`, { instances: 1 });
      assert.equal(scale.status, 400, JSON.stringify(scale.body));
      assert.ok(scale.body.error.details.instances, JSON.stringify(scale.body.error));
      // A PATCH that carries an instance count keeps the autoscaler's.
      const patched = await api(p, 'PATCH', `/v1/projects/${PROJECT}/services/combined/web`, { deployment: { instances: 1 } });
      assert.equal(patched.status, 200, JSON.stringify(patched.body));
      assert.equal(patched.body.data.deployment.instances, 3);
    });

    it('completes a rollout during autoscaling with 0 failed requests, and does not scale until it has ended', async () => {
      const before_ = load!.stats.failed;
      const res = await api(p, 'PATCH', `/v1/projects/${PROJECT}/services/combined/web`, { runtimeEnvironment: { GREETING: 'v2' } });
      assert.equal(res.status, 200, JSON.stringify(res.body));
      await waitFor(async () => {
        const c = (await containers('web')).filter((x) => x.status !== 'TASK_KILLING');
        const [last] = (await api(p, 'GET', `/projects/${PROJECT}/services/web/rollouts`)).body.rollouts;
        return last.toRelease === 2 && last.status === 'COMPLETED' && (await get('web')).status.deployment.status === 'COMPLETED' && c.length === 3 && c.every((x) => x.ready && x.release === 2);
      }, 180_000, 'rollout to release 2 completed');
      assert.equal(load!.stats.failed - before_, 0, `no failed request during the rollout: ${load!.stats.errors.slice(0, 5).join('; ')}`);
      console.log(`web: rollout to release 2 under load, ${load!.stats.ok} requests ok so far, ${load!.stats.failed} failed`);
      const rollout = (await api(p, 'GET', `/projects/${PROJECT}/services/web/rollouts`)).body.rollouts[0];
      assert.equal(rollout.status, 'COMPLETED');
      const started = Date.parse(rollout.createdAt);
      const ended = Date.parse(rollout.finishedAt);
      const during = (await autoscaling('web')).events.filter((e: { createdAt: string }) => Date.parse(e.createdAt) > started && Date.parse(e.createdAt) < ended);
      assert.deepEqual(during, [], 'no scaling while the rollout ran');
      assert.equal((await get('web')).deployment.instances, 3);
    });

    it('scales back to minReplicas after the stabilization window once the load stops', async () => {
      await load!.stop();
      const stoppedAt = Date.now();
      assert.equal(load!.stats.failed, 0, `no failed request (${load!.stats.ok} ok): ${load!.stats.errors.slice(0, 5).join('; ')}`);
      load = undefined;
      await settledAt('web', 1, 'web back at 1 instance');
      // Down to the highest recommendation of the window: at once to 1, or in steps when the load's tail (as
      // the router measured it) still asked for 2 within the window.
      const downs = (await autoscaling('web')).events.filter((e: { reason: string; createdAt: string }) => e.reason === 'ScaledDown' && Date.parse(e.createdAt) >= stoppedAt);
      const [first, down] = [downs[0], downs.at(-1)];
      assert.match(first.message, /^rps [\d.]+\/instance < target 1: 3 -> [12] \(after the 6 s stabilization window(, minReplicas 1)?\)/);
      assert.match(down.message, /^rps [\d.]+\/instance < target 1: [23] -> 1 \(after the 6 s stabilization window(, minReplicas 1)?\)/);
      // The recommendations of the window (the last with load at most one interval after the stop) held it up.
      assert.ok(Date.parse(first.createdAt) - stoppedAt >= (WINDOW_S - INTERVAL_S - 1) * 1000, `scaled down ${Date.parse(first.createdAt) - stoppedAt} ms after the load stopped`);
      console.log(`web: ${downs.map((d: { message: string }) => d.message).join('; ')}, ${Date.parse(first.createdAt) - stoppedAt} ms after the load stopped`);
      // The next evaluation sees the new count.
      const status = await waitFor(async () => {
        const st = (await get('web')).status.autoscaling;
        return st.currentReplicas === 1 ? st : undefined;
      }, 30_000, 'an evaluation at 1 instance');
      assert.equal(status.desiredReplicas, 1);
    });

    it('the dashboard shows current and desired instances and each metric', async () => {
      if (!process.env.SLIPWAY_TEST_WEB_BUILT) execFileSync('npm', ['run', '--silent', 'build:web'], { cwd: ROOT, stdio: 'pipe' });
      const browser = await launchChromium();
      try {
        const page = await openPage(browser);
        await signIn(page, p);
        await page.goto(`${p.apiUrl}/ui/projects/${PROJECT}/services/web`);
        const panel = page.getByRole('region', { name: 'Autoscaling' });
        await panel.waitFor();
        const text = async () => (await panel.innerText()).replace(/\s+/g, ' ');
        await waitFor(async () => /1 to 3 instances/.test(await text()) && /1 current/.test(await text()) && /1 desired/.test(await text()), 60_000, 'the autoscaling panel');
        const row = panel.getByRole('table', { name: 'Autoscaling metrics' }).getByRole('row').nth(1);
        assert.match((await row.innerText()).replace(/\s+/g, ' '), /rps [\d.]+\/s per instance 1/);
        assert.match(await text(), /rps [\d.]+\/instance > target 1: 1 -> 3/, 'the scalings, in words');
        assert.match(await text(), /rps [\d.]+\/instance < target 1: [23] -> 1/);
        if (process.env.SLIPWAY_SCREENSHOTS === '1') {
          fs.mkdirSync(path.join(ROOT, 'docs/screenshots'), { recursive: true });
          await panel.screenshot({ path: path.join(ROOT, 'docs/screenshots/autoscaling.png') });
        }
      } finally {
        await browser.close();
      }
    });
  });

  it('scales a CPU-bound endpoint on CPU', async () => {
    await createService('burner', { enabled: true, minReplicas: 1, maxReplicas: 2, cpu: { enabled: true, thresholdPercentage: 50 } }, 'nf-compute-10');
    const load = loops('burner.scale.localhost', '/burn?ms=50', 1);
    try {
      await settledAt('burner', 2, 'burner at 2 instances');
    } finally {
      await load.stop();
    }
    const up = (await autoscaling('burner')).events.find((e: { reason: string }) => e.reason === 'ScaledUp');
    assert.match(up.message, /^cpu \d+% of plan > target 50%: 1 -> 2/);
    console.log(`burner: ${up.message}`);
    await settledAt('burner', 1, 'burner back at 1 instance');
    await client.delete.service({ parameters: { projectId: PROJECT, serviceId: 'burner' } });
  });

  it('scales on memory an instance holds, and back once it is released', async () => {
    // nf-compute-10 has 256 MiB: an instance (the app, its shell and sandbox) idles at ~55 MiB (~21%); holding
    // 150 MiB more puts the one instance at ~80%, above the 60% target, so it scales to maxReplicas (2). Idle
    // again, two instances want ceil(2 x 21 / 60) = 1.
    await createService('hoard', { enabled: true, minReplicas: 1, maxReplicas: 2, memory: { enabled: true, thresholdPercentage: 60 } }, 'nf-compute-10');
    const send = (path: string) =>
      new Promise<{ status: number; body: string }>((resolve, reject) => {
        // A connection of its own each time, so repeated requests reach every instance.
        const req = http.get({ host: '127.0.0.1', port: p.routerPort, path, headers: { host: 'hoard.scale.localhost' }, agent: false }, (res) => {
          let body = '';
          res.on('data', (c) => (body += c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        });
        req.on('error', reject);
      });
    const held = await send('/hold?mb=150');
    assert.equal(held.status, 200, held.body);
    assert.equal(JSON.parse(held.body).heldMb, 150);
    await settledAt('hoard', 2, 'hoard at 2 instances');
    const view = await autoscaling('hoard');
    const up = view.events.find((e: { reason: string }) => e.reason === 'ScaledUp');
    assert.match(up.message, /^memory \d+% of plan > target 60%: 1 -> 2/, JSON.stringify(view.events));
    console.log(`hoard: ${up.message}`);
    const status = (await get('hoard')).status.autoscaling;
    assert.equal(status.metrics[0].name, 'memory');
    // Released (every instance asked, until the mean falls): back to minReplicas after the window.
    const released = waitFor(async () => {
      for (let i = 0; i < 4; i++) assert.equal((await send('/release')).status, 200);
      const down = (await autoscaling('hoard')).events.find((e: { reason: string }) => e.reason === 'ScaledDown');
      return down;
    }, 180_000, 'hoard scaled down');
    const down = await released;
    assert.match(down.message, /^memory \d+% of plan < target 60%: 2 -> 1/, down.message);
    console.log(`hoard: ${down.message}`);
    await settledAt('hoard', 1, 'hoard back at 1 instance');
    await client.delete.service({ parameters: { projectId: PROJECT, serviceId: 'hoard' } });
  });

  it('scales on a gauge the app exposes (requests in flight)', async () => {
    await createService('queue', {
      enabled: true,
      minReplicas: 1,
      maxReplicas: 3,
      userMetrics: { enabled: true, exposedMetricsPath: '/metrics', exposedMetricsPort: 8080, metrics: [{ metricName: 'app_requests_in_flight', metricType: 'gauge', thresholdValue: 2 }] },
    });
    const load = loops('queue.scale.localhost', '/slow?ms=300', 6);
    try {
      await settledAt('queue', 3, 'queue at 3 instances');
      const status = (await get('queue')).status.autoscaling;
      assert.equal(status.metrics[0].name, 'app_requests_in_flight');
      assert.equal(typeof status.metrics[0].value, 'number');
    } finally {
      await load.stop();
    }
    assert.equal(load.stats.failed, 0, load.stats.errors.slice(0, 5).join('; '));
    const up = (await autoscaling('queue')).events.find((e: { reason: string }) => e.reason === 'ScaledUp');
    assert.match(up.message, /^app_requests_in_flight [\d.]+\/instance > target 2: \d -> \d/);
    console.log(`queue: ${(await autoscaling('queue')).events.map((e: { message: string }) => e.message).join(' | ')}`);
    await settledAt('queue', 1, 'queue back at 1 instance');
    await client.delete.service({ parameters: { projectId: PROJECT, serviceId: 'queue' } });
  });

  it('keeps a service with a volume at one instance, and refuses raising maxReplicas, naming the field', async () => {
    await client.create.volume({
      parameters: { projectId: PROJECT },
      data: { name: 'data', mounts: [{ containerMountPath: '/data' }], spec: { accessMode: 'ReadWriteOnce', storageSize: 1024 }, attachedObjects: [{ id: 'web', type: 'service' }] },
    });
    const res = await api(p, 'PATCH', `/v1/projects/${PROJECT}/services/combined/web`, { autoscaling: { horizontal: { enabled: true, minReplicas: 1, maxReplicas: 4, rps: { enabled: true, thresholdValue: 1 } } } });
    assert.equal(res.status, 400, JSON.stringify(res.body));
    assert.ok(res.body.error.details['autoscaling.horizontal.maxReplicas'], JSON.stringify(res.body.error));
    const load = routerLoad(p, 'web.scale.localhost');
    try {
      // Load that asked for 3 before: the autoscaler holds at one, and says why.
      const status = await waitFor(async () => {
        const s = (await get('web')).status.autoscaling;
        return s?.metrics[0]?.value > 1 && s.reason === 'LimitedByVolume' ? s : undefined;
      }, 120_000, 'held at one instance by the volume');
      assert.equal(status.currentReplicas, 1);
      assert.equal((await get('web')).deployment.instances, 1);
    } finally {
      await load.stop();
    }
  });
});
