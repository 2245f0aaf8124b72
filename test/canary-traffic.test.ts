/**
 * Native canaries by request percentage, on each data plane (HAProxy and the built-in router): a 5 % step
 * over 4 old instances and 1 new sends 5 % ± 1 % of 10,000 requests to the new release; pinned requests
 * (header or cookie) always reach it; a new release answering 5xx on 20 % of its requests is aborted by the
 * analysis at its first step with no failed request outside its share and the service back on the old
 * release; a healthy one is promoted to 100 % by the analysis with no person. Real platform, real router,
 * real app processes.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ADMIN_TOKEN, api, fixtureRepo, startTestPlatform, waitFor, type RunningPlatform } from './support/platform.ts';
import { assertCliOk, runCli } from './support/cli.ts';
import { chromium } from 'playwright-core';

const HOST = 'web.can.localhost';
const SVC = '/v1/projects/can/services/web';
const BASE = '/projects/can/services/web';
const PLANES = (process.env.SLIPWAY_TEST_PLANES ?? 'haproxy,builtin').split(',');

interface Answer {
  status: number;
  release: string | null;
  error?: string;
}

/** One GET through the router; the answering release from the body (null when the router answered itself). */
function get(p: RunningPlatform, agent: http.Agent, headers: Record<string, string> = {}): Promise<Answer> {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port: p.routerPort, path: '/', headers: { host: HOST, ...headers }, agent }, (res) => {
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => {
        let release: string | null = null;
        try {
          release = String(JSON.parse(body).release);
        } catch {}
        resolve({ status: res.statusCode ?? 0, release });
      });
    });
    req.on('error', (e) => resolve({ status: 0, release: null, error: e.message }));
  });
}

/** `n` requests over `concurrency` keep-alive connections; answers counted by release and status. */
async function burst(p: RunningPlatform, n: number, concurrency = 16, headers: Record<string, string> = {}) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  const byRelease = new Map<string, number>();
  const other: string[] = [];
  let sent = 0;
  const worker = async () => {
    while (sent < n) {
      sent++;
      const a = await get(p, agent, headers);
      if (a.status === 200 && a.release) byRelease.set(a.release, (byRelease.get(a.release) ?? 0) + 1);
      else other.push(`${a.status} ${a.release ?? a.error ?? ''}`);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  agent.destroy();
  return { byRelease, other };
}

/** Steady load until stopped: every answer by release and status. */
function load(p: RunningPlatform, concurrency = 4) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  const answers: Answer[] = [];
  let stop = false;
  const worker = async () => {
    while (!stop) answers.push(await get(p, agent));
  };
  const done = Promise.all(Array.from({ length: concurrency }, worker));
  return {
    answers,
    async stop() {
      stop = true;
      await done;
      agent.destroy();
    },
  };
}

for (const plane of PLANES) {
  describe(`traffic-percentage canaries (${plane} data plane)`, () => {
    let p: RunningPlatform;
    const repo = fixtureRepo('canary');
    const running = async () => (await api(p, 'GET', `${SVC}/containers`)).body.data.containers as { release: number; ready: boolean; state: string }[];
    const byRelease = async () => {
      const m: Record<number, number> = {};
      for (const x of (await running()).filter((c) => c.ready && c.state !== 'stopping')) m[x.release] = (m[x.release] ?? 0) + 1;
      return JSON.stringify(m);
    };
    const rollout = async (n: number) => (await api(p, 'GET', `${BASE}/rollouts/${n}`)).body;
    const settle = async (what: string) => waitFor(async () => (await api(p, 'GET', SVC)).body.data.status.deployment.status === 'COMPLETED', 120_000, what);

    before(async () => {
      p = await startTestPlatform({ SLIPWAY_ROUTER: plane });
      await api(p, 'POST', '/v1/projects', { name: 'can' });
      const created = await api(p, 'POST', '/v1/projects/can/services/combined', {
        name: 'web',
        billing: { deploymentPlan: 'nf-compute-20' },
        deployment: { instances: 4 },
        vcsData: { projectUrl: repo.dir, projectType: 'self-hosted', projectBranch: 'main' },
        ports: [{ name: 'p01', internalPort: 8080, public: true, protocol: 'HTTP' }],
        runtimeEnvironment: { GREETING: 'v1' },
      });
      assert.equal(created.status, 200, JSON.stringify(created.body));
      await settle('release 1');
      // Release 2 (healthy) and release 3 (5xx on every 5th request), each rolled out and then rolled back
      // from, so the canaries below move 1 → 2 and 1 → 3.
      await api(p, 'PATCH', '/v1/projects/can/services/combined/web', { runtimeEnvironment: { GREETING: 'v2' } });
      await settle('release 2');
      await api(p, 'PATCH', '/v1/projects/can/services/combined/web', { runtimeEnvironment: { GREETING: 'v3', FAIL_EVERY: '5' } });
      await settle('release 3');
      await api(p, 'POST', `${BASE}/rollback`, { release: 1 });
      await waitFor(async () => (await byRelease()) === '{"1":4}', 120_000, 'back on 1');
      await settle('rollback to 1');
    });
    after(async () => {
      await p?.stop();
    });

    it('refuses bad canary input with a 4xx naming the field', async () => {
      const bad = async (canary: unknown) => api(p, 'POST', `${BASE}/rollouts`, { release: 2, strategy: 'canary', canary });
      let r = await bad({ steps: [{ trafficPercent: 120 }] });
      assert.equal(r.status, 400);
      assert.match(JSON.stringify(r.body), /trafficPercent/);
      r = await bad({ steps: [{ trafficPercent: 5.05 }] });
      assert.equal(r.status, 400);
      assert.match(JSON.stringify(r.body), /canary\.steps\.0\.trafficPercent/);
      r = await bad({ steps: [{ trafficPercent: 5, pin: { header: { name: 'bad header', value: 'x' } } }] });
      assert.equal(r.status, 400);
      assert.match(JSON.stringify(r.body), /canary\.steps\.0\.pin\.header\.name/);
      r = await bad({ steps: [{ trafficPercent: 5, instanceWeight: 10 }] });
      assert.equal(r.status, 400);
      assert.equal((await api(p, 'GET', `${BASE}/rollouts`)).body.rollouts[0].kind, 'rollback', 'nothing was started');
    });

    it('sends 5 % ± 1 % of 10,000 requests to the new release at a 5 % step over 4 old and 1 new, and every pinned request to it', async () => {
      const started = await api(p, 'POST', `${BASE}/rollouts`, { release: 2, strategy: 'canary', canary: { steps: [{ trafficPercent: 5, pin: { header: { name: 'X-Canary', value: 'on' }, cookie: { name: 'canary', value: '1' } } }] } });
      assert.equal(started.status, 200, JSON.stringify(started.body));
      const n = started.body.number as number;
      await waitFor(async () => (await rollout(n)).canary?.paused === true, 120_000, 'paused at the 5 % step');
      assert.equal(await byRelease(), '{"1":4,"2":1}');
      const view = await rollout(n);
      assert.equal(view.canary.traffic.split.percent, 5);
      assert.ok(Math.abs(view.canary.traffic.split.effectivePercent - 5) < 0.05, JSON.stringify(view.canary.traffic));

      const { byRelease: seen, other } = await burst(p, 10_000);
      assert.deepEqual(other, [], 'every request answered 200');
      const share = (100 * (seen.get('2') ?? 0)) / 10_000;
      console.log(`${plane}: 5 % step → ${share.toFixed(2)} % of 10,000 requests to the new release`);
      assert.ok(share >= 4 && share <= 6, `share ${share} %`);

      const byHeader = await burst(p, 200, 4, { 'x-canary': 'on' });
      assert.deepEqual([...byHeader.byRelease.keys()], ['2'], 'header-pinned requests reach the new release');
      const byCookie = await burst(p, 200, 4, { cookie: 'a=b; canary=1' });
      assert.deepEqual([...byCookie.byRelease.keys()], ['2'], 'cookie-pinned requests reach the new release');

      // The per-release metrics the router reported for that traffic.
      // The router reports each request as it ends, so the counts follow the bursts within moments.
      let metricsSeen: unknown;
      await waitFor(async () => {
        const view = await rollout(n);
        metricsSeen = view.canary.traffic.releases;
        const r2 = view.canary.traffic.releases.find((x: { release: number }) => x.release === 2);
        return !!r2 && r2.requests >= 400;
      }, 30_000, 'the new release\'s requests in its metrics').catch(() => assert.fail(`per-release metrics: ${JSON.stringify(metricsSeen)}`));

      await api(p, 'POST', `${BASE}/rollouts/${n}/cancel`);
      await waitFor(async () => (await byRelease()) === '{"1":4}', 120_000, 'back on 1 after cancel');
      await settle('cancel');
    });

    it('aborts a new release answering 5xx on 20 % of requests at its first step, with no failed request outside its share', async () => {
      const traffic = load(p);
      const started = await api(p, 'POST', `${BASE}/rollouts`, {
        release: 3,
        strategy: 'canary',
        canary: { steps: [{ trafficPercent: 10 }, { trafficPercent: 50 }], analysis: { interval: 3, minRequests: 30, metrics: [{ name: 'errorRate', max: 5 }] } },
      });
      assert.equal(started.status, 200, JSON.stringify(started.body));
      const n = started.body.number as number;
      await waitFor(async () => (await rollout(n)).status === 'FAILED', 180_000, 'aborted by analysis');
      await waitFor(async () => (await byRelease()) === '{"1":4}', 120_000, 'back on release 1');
      await traffic.stop();
      const r = await rollout(n);
      const events = r.events.map((e: { message: string }) => e.message);
      assert.ok(events.some((m: string) => /canary analysis failed at step 1\/2 \(10% of requests\): errorRate/.test(m)), events.join('\n'));
      assert.ok(!events.some((m: string) => /step 2\/2/.test(m)), 'never reached step 2');
      const failedOutside = traffic.answers.filter((a) => a.status !== 200 && a.release !== '3');
      assert.deepEqual(failedOutside.slice(0, 5), [], `no failed request outside the canary's share (${traffic.answers.length} requests)`);
      const fromCanary = traffic.answers.filter((a) => a.release === '3').length;
      assert.ok(fromCanary > 0 && fromCanary < traffic.answers.length * 0.2, `the canary had only its share: ${fromCanary}/${traffic.answers.length}`);
      await waitFor(async () => {
        const [last] = (await api(p, 'GET', `${BASE}/rollouts`)).body.rollouts;
        return last.kind === 'return' && last.status === 'COMPLETED';
      }, 120_000, 'the return to release 1 completed');
      assert.equal((await api(p, 'GET', SVC)).body.data.status.deployment.status, 'FAILED', 'the service says its last rollout failed');
    });

    it('promotes a healthy release to 100 % step by step with no person, showing each analysis', async () => {
      const traffic = load(p);
      const started = await api(p, 'POST', `${BASE}/rollouts`, {
        release: 2,
        strategy: 'canary',
        canary: {
          steps: [{ trafficPercent: 5 }, { trafficPercent: 50 }],
          analysis: { interval: 2, minRequests: 15, metrics: [{ name: 'errorRate', max: 1 }, { name: 'latencyP99', maxAboveStable: 1000 }] },
        },
      });
      assert.equal(started.status, 200, JSON.stringify(started.body));
      const n = started.body.number as number;
      const live = await waitFor(async () => {
        const v = await rollout(n);
        return v.canary?.traffic?.split?.percent === 5 && v.canary.traffic.split.canaryEndpoints === 1 && v.canary.traffic.releases.length >= 1 ? v : false;
      }, 120_000, 'the live 5 % split in the rollout view');
      assert.equal(live.canary.traffic.split.stableEndpoints, 4);
      await waitFor(async () => (await rollout(n)).status === 'COMPLETED', 240_000, 'promoted');
      await waitFor(async () => (await byRelease()) === '{"2":4}', 120_000, 'all on release 2');
      await traffic.stop();
      const r = await rollout(n);
      const events = r.events.map((e: { message: string }) => e.message);
      assert.ok(events.some((m: string) => /analysis of step 1\/2 \(5% of requests\): passed: errorRate/.test(m)), events.join('\n'));
      assert.ok(events.some((m: string) => /analysis of step 2\/2 \(50% of requests\): passed/.test(m)), events.join('\n'));
      assert.ok(r.canary.analysis.measurements.some((m: { verdict: string }) => m.verdict === 'pass'));
      const failed = traffic.answers.filter((a) => a.status !== 200);
      assert.deepEqual(failed.slice(0, 5), [], `no failed request (${traffic.answers.length})`);
    });

    it('shows the live split and the per-release traffic on the dashboard', { skip: plane !== 'builtin' ? 'the page reads the same API on either plane: run once' : false }, async () => {
      const from = await byRelease();
      const started = await api(p, 'POST', `${BASE}/rollouts`, { release: from === '{"1":4}' ? 2 : 1, strategy: 'canary', canary: { steps: [{ trafficPercent: 5 }] } });
      assert.equal(started.status, 200, JSON.stringify(started.body));
      const n = started.body.number as number;
      await waitFor(async () => (await rollout(n)).canary?.paused === true, 120_000, 'paused at 5 %');
      const pump = load(p, 2);
      const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--headless', '--no-sandbox', '--disable-gpu'] });
      try {
        const page = await browser.newPage();
        await page.goto(`${p.apiUrl}/ui/`);
        await page.getByLabel('API token').fill(p.token);
        await page.getByLabel('API token').press('Enter');
        await waitFor(async () => (await page.evaluate(() => sessionStorage.getItem('slipway.token'))) === p.token, 30_000, 'signed in');
        await page.goto(`${p.apiUrl}/ui/projects/can/services/web`);
        const panel = page.getByLabel(`Traffic of canary rollout ${n}`);
        await panel.getByText(/Router split: 5% of requests to the new release/).waitFor({ timeout: 120_000 });
        await panel.getByRole('table').getByRole('row').nth(2).waitFor({ timeout: 120_000 });
      } finally {
        await browser.close();
        await pump.stop();
      }
      await api(p, 'POST', `${BASE}/rollouts/${n}/cancel`);
      await waitFor(async () => (await byRelease()) === from, 120_000, `back on ${from}`);
    });

    it('runs and follows a canary from the CLI, printing each analysis result', async () => {
      const home = fs.mkdtempSync(path.join(os.tmpdir(), 'slipway-cli-canary-'));
      assertCliOk(await runCli(['login', '--host', p.apiUrl, '--token', ADMIN_TOKEN, '--name', 'test', '--router-port', String(p.routerPort)], { home }), 'login');
      const bad = await runCli(['canary', '1', '-p', 'can', '-s', 'web', '--step', '150'], { home });
      assert.notEqual(bad.code, 0);
      assert.match(bad.output, /trafficPercent/);
      const traffic = load(p);
      const run = await runCli(['canary', '1', '-p', 'can', '-s', 'web', '--step', '20', '--max-error-rate', '1', '--interval', '2', '--min-requests', '10'], { home });
      await traffic.stop();
      assertCliOk(run, 'slipway canary');
      assert.match(run.output, /analysis of step 1\/1 \(20% of requests\): passed/);
      assert.match(run.output, /completed/);
      await waitFor(async () => (await byRelease()) === '{"1":4}', 120_000, 'all on release 1');
      fs.rmSync(home, { recursive: true, force: true });
    });
  });
}
