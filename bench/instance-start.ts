/**
 * bench/instance-start: time from a scale request to a ready instance (its port accepting connections, as
 * the router sees it), against a raw start of the same thing until its port accepts, in the same run:
 *   node --import tsx bench/instance-start.ts [rounds=10]            process runtime vs a raw spawn
 *   node --import tsx bench/instance-start.ts [rounds=10] docker     docker runtime (a Podman service this
 *                                                                    starts) vs a raw `podman run` of the image
 * Both sides are timed to the moment their port is seen accepting by a connect polled every 2 ms: the peer by this
 * bench, slipway by its own readiness check (which polls at that rate early on), whose time the instance list
 * gives as `readyAt`. The bench finds that time by listing the instances every LIST_POLL_MS (5 ms): polling the
 * API every 2 ms kept the control plane under test busy answering ~500 listings a second on a 2-core machine,
 * which slowed the very start it timed. When the listing showed the instance ready is printed too, as a client
 * polling the API would see it.
 */
import { spawn } from 'node:child_process';
import { request } from 'undici';
import net from 'node:net';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { SYSTEM_PATH } from '../src/domain/system-path.ts';
import { api, fixtureRepo, freePort, startTestPlatform, waitFor, ROOT, type RunningPlatform } from '../test/support/platform.ts';
import { IMAGE, buildConformanceImage, startPodman } from '../test/support/podman.ts';

const rounds = Number(process.argv[2] ?? 10);
const runtime = process.argv[3] === 'docker' ? 'docker' : 'process';
const PORT_POLL_MS = 2;
const LIST_POLL_MS = 5;

async function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port });
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('error', () => resolve(false));
  });
}

/**
 * The peer: the same command in the environment an instance gets (the system PATH, so the same `node`, not the
 * bench's own; none of this shell's variables: NODE_EXTRA_CA_CERTS alone adds ~40 ms to Node 20's boot).
 */
async function rawSpawn(): Promise<number> {
  const port = await freePort();
  const t0 = performance.now();
  const child = spawn('/bin/sh', ['-c', 'node server.js'], { cwd: path.join(ROOT, 'test/fixtures/apps/hello'), env: { PATH: SYSTEM_PATH, HOME: '/tmp', NODE_ENV: 'production', PORT: String(port) }, stdio: 'ignore', detached: true });
  while (!(await portOpen(port))) await new Promise((r) => setTimeout(r, PORT_POLL_MS));
  const ms = performance.now() - t0;
  process.kill(-child.pid!, 'SIGKILL');
  return ms;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const seenNote = (ms: number) => `the instance list showed it ready after ${ms.toFixed(1)} ms (listed every ${LIST_POLL_MS} ms)`;

/** Scale 1 → 2 and back, `rounds` times, timing each scale-up to a second ready instance. */
async function scaleUps(p: RunningPlatform, service: string, raw: () => Promise<number>) {
  // The timed requests go over undici's kept-alive pool (fetch adds ~1-2 ms of its own per request here).
  const call = async (method: 'GET' | 'POST', pathname: string, body?: unknown) => {
    const res = await request(`${p.apiUrl}${pathname}`, { method, headers: { authorization: `Bearer ${p.token}`, ...(body ? { 'content-type': 'application/json' } : {}) }, body: body ? JSON.stringify(body) : undefined });
    return (await res.body.json()) as any;
  };
  type Container = { name: string; ready: boolean; readyAt: string | null };
  const list = async () => (await call('GET', `/v1/projects/bench/services/${service}/containers`)).data.containers as Container[];
  const slipway: number[] = [];
  const listed: number[] = [];
  const rawTimes: number[] = [];
  // Each start is timed on a settled machine: the previous one's teardown (a killed process, a scale-down)
  // is given a moment to finish first, so neither side pays for the other's.
  const settle = () => new Promise((r) => setTimeout(r, 100));
  for (let i = 0; i < rounds; i++) {
    await settle();
    rawTimes.push(await raw());
    await settle();
    const before = new Set((await list()).map((c) => c.name));
    const wall0 = Date.now();
    const t0 = performance.now();
    await call('POST', `/v1/projects/bench/services/${service}/scale`, { instances: 2 });
    let added: Container | undefined;
    for (;;) {
      const now = await list();
      added = now.find((c) => !before.has(c.name) && c.ready);
      if (added && now.filter((c) => c.ready).length === 2) break;
      await new Promise((r) => setTimeout(r, LIST_POLL_MS));
    }
    listed.push(performance.now() - t0);
    slipway.push(Date.parse(added.readyAt!) - wall0);
    await api(p, 'POST', `/v1/projects/bench/services/${service}/scale`, { instances: 1 });
    await waitFor(async () => (await api(p, 'GET', `/v1/projects/bench/services/${service}/containers`)).body.data.containers.length === 1, 30_000, 'scale down');
  }
  return { s: median(slipway), r: median(rawTimes), listed: median(listed) };
}

async function docker() {
  const podman = await startPodman();
  await buildConformanceImage(podman.docker);
  const p = await startTestPlatform({ SLIPWAY_LOG_LEVEL: 'warn', SLIPWAY_RUNTIME: 'docker', DOCKER_HOST: podman.dockerHost });
  try {
    await api(p, 'POST', '/v1/projects', { name: 'bench' });
    await api(p, 'POST', '/v1/projects/bench/services/deployment', {
      name: 'img',
      billing: { deploymentPlan: 'nf-compute-20' },
      deployment: { instances: 1, external: { imagePath: IMAGE } },
      ports: [{ name: 'p01', internalPort: 8080, public: true, protocol: 'HTTP' }],
    });
    await waitFor(async () => (await api(p, 'GET', '/v1/projects/bench/services/img')).body.data.status.deployment.status === 'COMPLETED', 180_000, 'COMPLETED');
    // The peer: the same image started by hand through the same Podman, until its published port accepts.
    const rawRun = async () => {
      const port = await freePort();
      const t0 = performance.now();
      const id = execFileSync('podman', ['run', '-d', '--rm', '-e', 'PORT=8080', '-p', `127.0.0.1:${port}:8080`, IMAGE], { env: { ...process.env, CONTAINERS_CONF: podman.confFile } }).toString().trim();
      while (!(await portOpen(port))) await new Promise((r) => setTimeout(r, PORT_POLL_MS));
      const ms = performance.now() - t0;
      execFileSync('podman', ['rm', '-f', id], { env: { ...process.env, CONTAINERS_CONF: podman.confFile }, stdio: 'ignore' });
      return ms;
    };
    const { s, r, listed } = await scaleUps(p, 'img', rawRun);
    console.log(`instance-start docker (median of ${rounds}): slipway scale→ready ${s.toFixed(1)} ms, raw podman run→port ${r.toFixed(1)} ms, ratio ${(s / r).toFixed(2)}x; ${seenNote(listed)}`);
  } finally {
    await p.stop();
    for (const c of await podman.docker.listContainers({ all: true, filters: { label: ['slipway.project=bench'] } })) await podman.docker.getContainer(c.Id).remove({ force: true }).catch(() => {});
    await podman.stop();
  }
}

async function main() {
  if (runtime === 'docker') return docker();
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
    const { s, r, listed } = await scaleUps(p, 'web', rawSpawn);
    console.log(`instance-start (median of ${rounds}): slipway scale→ready ${s.toFixed(1)} ms, raw spawn→port ${r.toFixed(1)} ms, ratio ${(s / r).toFixed(2)}x; ${seenNote(listed)}`);
  } finally {
    await p.stop();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
