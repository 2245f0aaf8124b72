/**
 * bench/instance-start: time from a scale request to a ready instance (its port accepting connections, as
 * the router sees it), against a raw spawn of the same command until its port accepts, in the same run.
 *   node --import tsx bench/instance-start.ts [rounds=10]
 */
import { spawn } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { api, fixtureRepo, freePort, startTestPlatform, waitFor, ROOT } from '../test/support/platform.ts';

const rounds = Number(process.argv[2] ?? 10);

async function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port });
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('error', () => resolve(false));
  });
}

async function rawSpawn(): Promise<number> {
  const port = await freePort();
  const t0 = performance.now();
  const child = spawn('/bin/sh', ['-c', 'node server.js'], { cwd: path.join(ROOT, 'test/fixtures/apps/hello'), env: { ...process.env, PORT: String(port) }, stdio: 'ignore', detached: true });
  while (!(await portOpen(port))) await new Promise((r) => setTimeout(r, 2));
  const ms = performance.now() - t0;
  process.kill(-child.pid!, 'SIGKILL');
  return ms;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function main() {
  const p = await startTestPlatform({ SLIPWAY_LOG_LEVEL: 'warn' });
  try {
    const repo = fixtureRepo('hello');
    await api(p, 'POST', '/v1/projects', { name: 'bench' });
    await api(p, 'POST', '/v1/projects/bench/services/combined', {
      name: 'web',
      billing: { deploymentPlan: 'nf-compute-20' },
      deployment: { instances: 1 },
      vcsData: { projectUrl: repo.dir, projectType: 'self-hosted', projectBranch: 'main' },
      ports: [{ name: 'p01', internalPort: 8080, public: true, protocol: 'HTTP' }],
    });
    await waitFor(async () => (await api(p, 'GET', '/v1/projects/bench/services/web')).body.data.status.deployment.status === 'COMPLETED', 180_000, 'COMPLETED');
    const ready = async () => (await api(p, 'GET', '/v1/projects/bench/services/web/containers')).body.data.containers.filter((c: { ready: boolean }) => c.ready).length;

    const slipway: number[] = [];
    const raw: number[] = [];
    for (let i = 0; i < rounds; i++) {
      raw.push(await rawSpawn());
      const t0 = performance.now();
      await api(p, 'POST', '/v1/projects/bench/services/web/scale', { instances: 2 });
      while ((await ready()) < 2) await new Promise((r) => setTimeout(r, 2));
      slipway.push(performance.now() - t0);
      await api(p, 'POST', '/v1/projects/bench/services/web/scale', { instances: 1 });
      await waitFor(async () => (await api(p, 'GET', '/v1/projects/bench/services/web/containers')).body.data.containers.length === 1, 30_000, 'scale down');
    }
    const s = median(slipway);
    const r = median(raw);
    console.log(`instance-start (median of ${rounds}): slipway scale→ready ${s.toFixed(1)} ms, raw spawn→port ${r.toFixed(1)} ms, ratio ${(s / r).toFixed(2)}x`);
  } finally {
    await p.stop();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
