/**
 * bench/canary-split: on each data plane, a service of 4 instances runs a canary by request percentage
 * (steps 0.5, 1, 5, 20 %: one new instance beside the 4 old ones). At each step it sends N requests through
 * the router and prints the share that reached the new release against the one requested (and the share
 * the router's integer weights give), and the time from `continue` to the next split being live (the
 * rollout paused at the next step, which the controller records only after the data plane confirmed the
 * new table).
 *   node --import tsx bench/canary-split.ts [requests per step=10000] [planes=haproxy,builtin]
 */
import http from 'node:http';
import { api, fixtureRepo, startTestPlatform, waitFor, type RunningPlatform } from '../test/support/platform.ts';

const N = Number(process.argv[2] ?? 10_000);
const PLANES = (process.argv[3] ?? 'haproxy,builtin').split(',');
const STEPS = [0.5, 1, 5, 20];
const HOST = 'web.bench.localhost';
const BASE = '/projects/bench/services/web';

async function share(p: RunningPlatform, n: number): Promise<number> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
  let sent = 0;
  let canary = 0;
  const one = () =>
    new Promise<void>((resolve) => {
      http
        .get({ host: '127.0.0.1', port: p.routerPort, path: '/', headers: { host: HOST }, agent }, (res) => {
          let body = '';
          res.on('data', (c) => (body += c));
          res.on('end', () => {
            if (JSON.parse(body).release === '2') canary++;
            resolve();
          });
        })
        .on('error', () => resolve());
    });
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      while (sent++ < n) await one();
    }),
  );
  agent.destroy();
  return (100 * canary) / n;
}

async function plane(name: string) {
  const p = await startTestPlatform({ SLIPWAY_ROUTER: name, SLIPWAY_LOG_LEVEL: 'warn' });
  try {
    const repo = fixtureRepo('canary');
    const settle = (what: string) => waitFor(async () => (await api(p, 'GET', '/v1/projects/bench/services/web')).body.data.status.deployment.status === 'COMPLETED', 180_000, what);
    await api(p, 'POST', '/v1/projects', { name: 'bench' });
    await api(p, 'POST', '/v1/projects/bench/services/combined', {
      name: 'web',
      billing: { deploymentPlan: 'nf-compute-20' },
      deployment: { instances: 4 },
      vcsData: { projectUrl: repo.dir, projectType: 'self-hosted', projectBranch: 'main' },
      ports: [{ name: 'p01', internalPort: 8080, public: true, protocol: 'HTTP' }],
      runtimeEnvironment: { GREETING: 'v1' },
    });
    await settle('release 1');
    await api(p, 'PATCH', '/v1/projects/bench/services/combined/web', { runtimeEnvironment: { GREETING: 'v2' } });
    await settle('release 2');
    await api(p, 'POST', `${BASE}/rollback`, { release: 1 });
    await waitFor(async () => (await api(p, 'GET', `${BASE}/rollouts`)).body.rollouts[0].status === 'COMPLETED', 180_000, 'back on 1');
    const started = await api(p, 'POST', `${BASE}/rollouts`, { release: 2, strategy: 'canary', canary: { steps: STEPS.map((trafficPercent) => ({ trafficPercent })) } });
    const n = started.body.number as number;
    console.log(`\n${name} data plane, 4 old instances + 1 new, ${N} requests per step`);
    console.log('requested %  router weights %  measured %  continue → split live (ms)');
    for (let i = 0; i < STEPS.length; i++) {
      const t0 = performance.now();
      if (i > 0) await api(p, 'POST', `${BASE}/rollouts/${n}/continue`);
      const view = await waitFor(async () => {
        const v = (await api(p, 'GET', `${BASE}/rollouts/${n}`)).body;
        return v.canary?.paused === true && v.canary.currentStep === i + 1 && v.canary.traffic?.split?.canaryEndpoints === 1 ? v : false;
      }, 180_000, `step ${i + 1}`);
      const liveMs = performance.now() - t0;
      const measured = await share(p, N);
      console.log(`${String(STEPS[i]).padStart(11)}  ${String(view.canary.traffic.split.effectivePercent).padStart(15)}  ${measured.toFixed(2).padStart(10)}  ${i === 0 ? '(first step: start of the new instance)' : liveMs.toFixed(0).padStart(6)}`);
    }
    await api(p, 'POST', `${BASE}/rollouts/${n}/cancel`);
  } finally {
    await p.stop();
  }
}

for (const name of PLANES) await plane(name);
