/**
 * bench/zero-downtime: a load generator (keep-alive and fresh connections) runs through the router for the
 * whole run while a 4-instance service goes through 20 back-to-back rollouts: rolling, canary with two
 * steps and continue, a cancelled canary, a rollback, and a release whose health check never passes. It
 * prints total and failed requests and each rollout's time. In the same run, PM2 reloads a 4-instance
 * cluster of the same app 20 times under the same load, and its failures and times print beside ours.
 *   node --import tsx bench/zero-downtime.ts
 */
import os from 'node:os';
import path from 'node:path';
import fs from 'node:fs';
import { execFileSync } from 'node:child_process';
import { Worker } from 'node:worker_threads';
// @ts-expect-error plain JavaScript module without type declarations
import { startLoad } from './http-load.mjs';
import { ROOT, api, fixtureRepo, freePort, startTestPlatform, waitFor, type RunningPlatform } from '../test/support/platform.ts';

async function slipway(): Promise<{ ok: number; failed: number; times: { what: string; ms: number }[] }> {
  const p: RunningPlatform = await startTestPlatform({ SLIPWAY_LOG_LEVEL: 'warn', SLIPWAY_PROGRESS_DEADLINE_SECONDS: '8', SLIPWAY_PROBE_TIME_SCALE: '0.05' });
  const svc = '/projects/zdt/services/web';
  try {
    const repo = fixtureRepo('hello');
    await api(p, 'POST', '/v1/projects', { name: 'zdt' });
    const created = await api(p, 'POST', '/v1/projects/zdt/services/combined', {
      name: 'web',
      billing: { deploymentPlan: 'nf-compute-10' },
      deployment: { instances: 4 },
      vcsData: { projectUrl: repo.dir, projectType: 'self-hosted', projectBranch: 'main' },
      ports: [{ name: 'p01', internalPort: 8080, public: true, protocol: 'HTTP' }],
      healthChecks: [{ protocol: 'HTTP', type: 'readinessProbe', path: '/health', port: 8080, initialDelaySeconds: 1, periodSeconds: 10, timeoutSeconds: 1, failureThreshold: 1 }],
      runtimeEnvironment: { GREETING: 'v0' },
    });
    if (created.status !== 200) throw new Error(`create failed: ${JSON.stringify(created.body)}`);
    const status = async () => (await api(p, 'GET', '/v1/projects/zdt/services/web')).body.data.status.deployment.status as string;
    await waitFor(async () => (await status()) === 'COMPLETED', 180_000, 'COMPLETED');
    const latest = async () => (await api(p, 'GET', `${svc}/rollouts`)).body.rollouts[0];
    const settled = (n: number) => waitFor(async () => {
      const r = (await api(p, 'GET', `${svc}/rollouts`)).body.rollouts.find((x: { number: number }) => x.number === n);
      return r && r.status !== 'IN_PROGRESS' ? r : undefined;
    }, 300_000, `rollout ${n}`);
    const waitIdle = () => waitFor(async () => (await api(p, 'GET', `${svc}/rollouts`)).body.rollouts.every((x: { status: string }) => x.status !== 'IN_PROGRESS'), 300_000, 'idle');
    const load = startLoad(p.routerPort, 'web.zdt.localhost');
    const times: { what: string; ms: number }[] = [];
    let v = 1;
    const timed = async (what: string, act: () => Promise<void>) => {
      const t0 = performance.now();
      await act();
      await waitIdle();
      times.push({ what, ms: performance.now() - t0 });
    };
    const patch = (env: Record<string, string>) => api(p, 'PATCH', '/v1/projects/zdt/services/combined/web', { runtimeEnvironment: env });
    const newRelease = async () => {
      await patch({ GREETING: `v${v++}` });
      return (await latest()).number as number;
    };
    for (let i = 0; i < 20; i++) {
      switch (i % 5) {
        case 0:
          await timed('rolling', async () => void (await newRelease()));
          break;
        case 1:
          await timed('canary 2 steps + continue', async () => {
            await patch({ GREETING: `v${v++}` });
            await waitIdle();
            await api(p, 'POST', `${svc}/rollback`);
            await waitIdle();
            const rels = (await api(p, 'GET', `${svc}/releases`)).body.releases;
            const r = await api(p, 'POST', `${svc}/rollouts`, { release: rels[0].number, strategy: 'canary', canary: { steps: [{ instanceWeight: 25 }, { instanceWeight: 50 }] } });
            for (let step = 0; step < 2; step++) {
              await waitFor(async () => (await latest()).canary?.paused === true && (await latest()).canary.currentStep === step + 1, 60_000, 'paused').catch(async (err) => {
                console.error(JSON.stringify((await api(p, 'GET', `${svc}/rollouts`)).body.rollouts.slice(0, 4).map((x: any) => [x.number, x.kind, x.status, x.fromRelease, x.toRelease, x.events.slice(-2).map((e: any) => e.message)])));
                console.error(JSON.stringify((await api(p, 'GET', '/v1/projects/zdt/services/web/containers')).body.data.containers.map((c: any) => [c.release, c.ready, c.status])));
                throw err;
              });
              await api(p, 'POST', `${svc}/rollouts/${r.body.number}/continue`);
            }
            await settled(r.body.number);
          });
          break;
        case 2:
          await timed('canary cancelled', async () => {
            const rels = (await api(p, 'GET', `${svc}/releases`)).body.releases;
            const r = await api(p, 'POST', `${svc}/rollouts`, { release: rels[1].number, strategy: 'canary', canary: { steps: [{ instanceWeight: 50 }] } });
            await waitFor(async () => (await latest()).canary?.paused === true, 60_000, 'paused');
            await api(p, 'POST', `${svc}/rollouts/${r.body.number}/cancel`);
          });
          break;
        case 3:
          await timed('rollback', async () => void (await api(p, 'POST', `${svc}/rollback`)));
          break;
        case 4:
          await timed('never-healthy release (fails, returns)', async () => {
            const n = await newRelease().then(async () => {
              await patch({ GREETING: `v${v++}`, HEALTH_STATUS: '500' });
              return (await latest()).number as number;
            });
            await settled(n);
          });
          await patch({ GREETING: `v${v++}` });
          await waitIdle();
          break;
      }
    }
    await load.stop();
    return { ok: load.ok, failed: load.failed, times };
  } finally {
    await p.stop();
  }
}

async function pm2(): Promise<{ ok: number; failed: number; times: number[] }> {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'slipway-pm2-'));
  const port = await freePort();
  const env = { ...process.env, PM2_HOME: home, PORT: String(port), GREETING: 'pm2' };
  const bin = path.join(ROOT, 'node_modules/.bin/pm2');
  const run = (...args: string[]) => execFileSync(bin, args, { env, stdio: 'ignore' });
  try {
    run('start', path.join(ROOT, 'test/fixtures/apps/hello/server.js'), '--name', 'zd', '-i', '4');
    await waitFor(async () => fetch(`http://127.0.0.1:${port}/`).then((r) => r.ok).catch(() => false), 60_000, 'pm2 cluster');
    // The load runs in a worker thread: `pm2 reload` is run synchronously here and must not pause it.
    const worker = new Worker(new URL('./http-load.mjs', import.meta.url), { workerData: { port, host: 'localhost' } });
    await new Promise((r) => setTimeout(r, 300));
    const times: number[] = [];
    for (let i = 0; i < 20; i++) {
      const t0 = performance.now();
      run('reload', 'zd');
      times.push(performance.now() - t0);
    }
    await new Promise((r) => setTimeout(r, 500));
    const result = new Promise<{ ok: number; failed: number }>((resolve) => worker.once('message', resolve));
    worker.postMessage('stop');
    const { ok, failed } = await result;
    await worker.terminate();
    return { ok, failed, times };
  } finally {
    try {
      run('kill');
    } catch {}
    fs.rmSync(home, { recursive: true, force: true });
  }
}

async function main() {
  if (process.env.BENCH_ONLY !== 'pm2') {
    const s = await slipway();
    console.log(`slipway: ${s.ok + s.failed} requests, ${s.failed} failed over 20 rollouts`);
    for (const t of s.times) console.log(`  ${t.what.padEnd(40)} ${t.ms.toFixed(0)} ms`);
  }
  const m = await pm2();
  const avg = m.times.reduce((a, b) => a + b, 0) / m.times.length;
  console.log(`pm2 reload (4-instance cluster): ${m.ok + m.failed} requests, ${m.failed} failed over 20 reloads, ${avg.toFixed(0)} ms per reload on average`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
