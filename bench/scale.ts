/**
 * bench/scale: does the control plane stay fast with thousands of instances?
 *   node --import tsx bench/scale.ts [services=1000] [instancesPerService=10] [store=sqlite|postgres]
 *
 * The real control plane (store, API, controllers, probes) and the real HAProxy data plane run in a process
 * of their own (bench/scale/control-plane.ts); the instances come from a RUNTIME STAND-IN
 * (bench/scale/stand-in-driver.ts: one helper process serving every instance's port as a real listener),
 * because 10,000 Node processes do not fit a 2-core machine. Everything the stand-in replaces is the
 * runtime's own work (spawning, supervising); what it cannot show is the cost of a real driver's `list()`.
 *
 * Measured, with the peer "the same service alone on an empty platform" in the same run:
 *   - API p50/p99: GET one service, list services (a page of 100), PATCH (a new release and its rollout
 *     recorded), GET /v3/apps/{guid} (the CF face); the PATCH twice: with the others idle (each rollout
 *     COMPLETED before the next PATCH), and as a stream (each PATCH taken while the rollouts of the ones
 *     before it run);
 *   - one service's rollout with the others idle, against the same rollout alone on an empty platform;
 *   - control-plane CPU per resync of every key (idle, resync every SLIPWAY_RESYNC_MS), and the event loop's
 *     delay meanwhile (monitorEventLoopDelay, 5 ms resolution): its max is what an unlucky API request waits;
 *   - HAProxy: a Runtime-API update (one endpoint re-weighted), a new route (on a spare backend) and a reload
 *     (a route no spare fits) through slipway's HaproxyRouter at services × instances servers, from setTable
 *     to settled;
 *   - memory (RSS) of the control plane, HAProxy and the instance host.
 * Environment: BENCH_IDLE_SECONDS (30), BENCH_SAMPLES (200), BENCH_ROLLOUTS (3), BENCH_PER_SERVICE_LIST=0,
 * BENCH_CPU_PROF=<dir> (a V8 CPU profile of each control plane, written when it stops),
 * BENCH_PG_SOCKET=<dir> (the control plane reaches PostgreSQL through its Unix socket in <dir>, e.g.
 * /var/run/postgresql, instead of 127.0.0.1:5432).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { fixtureRepo, freePort, ROOT, waitFor } from '../test/support/platform.ts';
import { measureHaproxy } from './scale/haproxy-at-scale.ts';
import { cpuMs, haproxyPids, rssMb } from './support/proc.ts';

const SERVICES = Number(process.argv[2] ?? 1000);
const PER_SERVICE = Number(process.argv[3] ?? 10);
const STORE = (process.argv[4] ?? 'sqlite') as 'sqlite' | 'postgres';
const IDLE_SECONDS = Number(process.env.BENCH_IDLE_SECONDS ?? 30);
const SAMPLES = Number(process.env.BENCH_SAMPLES ?? 200);
const ROLLOUTS = Number(process.env.BENCH_ROLLOUTS ?? 3);
const RESYNC_MS = 5000;
const TOKEN = 'bench-admin-token-0123456789abcdef';
const PG_ADMIN = 'postgres://postgres@127.0.0.1:5432/postgres';
if (!['sqlite', 'postgres'].includes(STORE) || !(SERVICES > 0) || !(PER_SERVICE > 0)) throw new Error('usage: bench/scale.ts [services] [instancesPerService] [sqlite|postgres]');

const log = (...a: unknown[]) => console.log(...a);
const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((xs.length * p) / 100))];
const median = (xs: number[]) => pct(xs, 50);
const ms = (x: number) => `${x.toFixed(1)} ms`;
/** The machine is shared: each number is logged with the load average it was taken at. */
const load = () => `[load ${os.loadavg()[0].toFixed(1)}]`;

interface ControlPlane {
  name: string;
  apiUrl: string;
  routerPort: number;
  proc: ChildProcess;
  hostPid: number;
  dataDir: string;
  db?: string;
  stop(): Promise<void>;
}

async function createDatabase(name: string): Promise<string> {
  const c = new pg.Client(PG_ADMIN);
  await c.connect();
  await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  await c.query(`CREATE DATABASE ${name}`);
  await c.end();
  const socket = process.env.BENCH_PG_SOCKET;
  return socket ? `postgres://postgres@/${name}?host=${encodeURIComponent(socket)}` : `postgres://postgres@127.0.0.1:5432/${name}`;
}

async function dropDatabase(name: string): Promise<void> {
  const c = new pg.Client(PG_ADMIN);
  await c.connect();
  await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  await c.end();
}

async function startControlPlane(name: string): Promise<ControlPlane> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), `slipway-scale-${name}-`));
  const db = STORE === 'postgres' ? `slipway_scale_${process.pid}_${name}` : undefined;
  const env: Record<string, string> = {
    ...(process.env as Record<string, string>),
    SLIPWAY_DATA_DIR: dataDir,
    SLIPWAY_API_PORT: String(await freePort()),
    SLIPWAY_ROUTER_PORT: String(await freePort()),
    SLIPWAY_ROUTER_TLS_PORT: String(await freePort()),
    SLIPWAY_ROUTER_METRICS_PORT: String(await freePort()),
    SLIPWAY_ROUTER_HOST: '127.0.0.1',
    SLIPWAY_ROUTER: 'haproxy',
    SLIPWAY_ROUTER_ACCESS_LOG: 'off',
    SLIPWAY_ADMIN_TOKEN: TOKEN,
    SLIPWAY_LOG_LEVEL: 'warn',
    SLIPWAY_RESYNC_MS: String(RESYNC_MS),
    SLIPWAY_STOP_ON_EXIT: 'all',
    SLIPWAY_GRACE_PERIOD_CAP_SECONDS: '1',
    ...(db ? { SLIPWAY_DATABASE_URL: await createDatabase(db) } : {}),
  };
  const prof = process.env.BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`] : [];
  const proc = spawn(process.execPath, [...prof, '--import', 'tsx', 'bench/scale/control-plane.ts'], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe', 'ipc'] });
  let out = '';
  proc.stderr!.on('data', (d) => process.stderr.write(`[${name}] ${d}`));
  const ready = await new Promise<{ apiUrl: string; routerPort: number; hostPid: number }>((resolve, reject) => {
    proc.stdout!.on('data', (d) => {
      out += String(d);
      const m = /control-plane ready (\{.*\})/.exec(out);
      if (m) resolve(JSON.parse(m[1]));
    });
    proc.once('exit', (code) => reject(new Error(`control plane ${name} exited with ${code}`)));
  });
  return {
    name,
    ...ready,
    proc,
    dataDir,
    db,
    async stop() {
      if (proc.exitCode === null) {
        const exited = new Promise((r) => proc.once('exit', r));
        proc.kill('SIGTERM');
        await exited;
      }
      if (db) await dropDatabase(db);
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

async function call(cp: ControlPlane, method: string, p: string, body?: unknown): Promise<{ status: number; body: any; ms: number }> {
  const t0 = performance.now();
  const res = await fetch(`${cp.apiUrl}${p}`, { method, headers: { authorization: `Bearer ${TOKEN}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) }, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  const took = performance.now() - t0;
  const parsed = text ? JSON.parse(text) : undefined;
  if (res.status >= 400) throw new Error(`${method} ${p}: ${res.status} ${text.slice(0, 300)}`);
  return { status: res.status, body: parsed, ms: took };
}

async function pool<T>(items: T[], concurrency: number, f: (x: T) => Promise<void>): Promise<void> {
  let i = 0;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (i < items.length) await f(items[i++]);
  }));
}

/** CPU seconds (user + system) a process has used, from /proc. */
const cpuSeconds = (pid: number) => cpuMs(pid) / 1000;

const svcName = (i: number) => `s${String(i).padStart(4, '0')}`;

/** A project, a build service built once from the hello fixture, and `count` deployment services of it. */
async function populate(cp: ControlPlane, count: number): Promise<number> {
  const repo = fixtureRepo('hello');
  await call(cp, 'POST', '/v1/projects', { name: 'bench' });
  await call(cp, 'POST', '/v1/projects/bench/services/build', { name: 'builder', billing: {}, vcsData: { projectUrl: repo.dir, projectType: 'self-hosted', projectBranch: 'main' } });
  const buildId = await waitFor(async () => {
    const builds = (await call(cp, 'GET', '/v1/projects/bench/services/builder/build')).body.data.builds as { id: string; status: string }[];
    if (builds.some((b) => b.status === 'FAILURE')) throw new Error('the fixture build failed');
    return builds.find((b) => b.status === 'SUCCESS')?.id;
  }, 600_000, 'fixture build');
  const t0 = performance.now();
  await pool(Array.from({ length: count }, (_, i) => i), 4, async (i) => {
    await call(cp, 'POST', '/v1/projects/bench/services/deployment', {
      name: svcName(i),
      billing: { deploymentPlan: 'nf-compute-10' },
      deployment: { instances: PER_SERVICE, internal: { id: 'builder', branch: 'main', buildId } },
      ports: [{ name: 'p01', internalPort: 8080, public: true, protocol: 'HTTP' }],
      runtimeEnvironment: { A: 'v0' },
    });
  });
  const created = performance.now() - t0;
  await waitFor(async () => (await pending(cp)) === 0, 3_600_000, 'every service COMPLETED');
  const converged = performance.now() - t0;
  log(`  [${cp.name}] ${count} services × ${PER_SERVICE} instances: created in ${(created / 1000).toFixed(1)} s, all COMPLETED after ${(converged / 1000).toFixed(1)} s ${load()}`);
  return converged;
}

/** Services not COMPLETED (every page of the list). */
async function pending(cp: ControlPlane): Promise<number> {
  let n = 0;
  let cursor: string | undefined;
  do {
    const r = await call(cp, 'GET', `/v1/projects/bench/services?per_page=100${cursor ? `&cursor=${cursor}` : ''}`);
    for (const s of r.body.data.services) if (s.serviceType === 'deployment' && s.status.deployment.status !== 'COMPLETED') n++;
    cursor = r.body.pagination.hasNextPage ? r.body.pagination.cursor : undefined;
  } while (cursor);
  return n;
}

/** Instances answering through the router for one service (by the instance id in their answers). */
async function routedInstances(cp: ControlPlane, service: string, requests = 4 * PER_SERVICE): Promise<Set<string>> {
  const seen = new Set<string>();
  for (let i = 0; i < requests; i++) {
    // fetch() cannot set Host: node:http can.
    const { status, body } = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = http.get({ host: '127.0.0.1', port: cp.routerPort, path: '/', headers: { host: `${service}.bench.localhost` } }, (res) => {
        let b = '';
        res.on('data', (d) => (b += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: b }));
      });
      req.on('error', reject);
    });
    const instance = status === 200 ? (JSON.parse(body) as { instance?: string }).instance : undefined;
    if (instance) seen.add(instance);
  }
  return seen;
}

let version = 1;
/** PATCH a service's variables (a new release, rolled out); resolves with the PATCH's own time and PATCH → COMPLETED. */
async function rollout(cp: ControlPlane, service: string): Promise<{ patchMs: number; totalMs: number }> {
  const t0 = performance.now();
  const r = await call(cp, 'PATCH', `/v1/projects/bench/services/deployment/${service}`, { runtimeEnvironment: { A: `v${version++}` } });
  try {
    await waitFor(async () => (await call(cp, 'GET', `/v1/projects/bench/services/${service}`)).body.data.status.deployment.status === 'COMPLETED', 600_000, `${service} rollout`);
  } catch (err) {
    const svc = (await call(cp, 'GET', `/v1/projects/bench/services/${service}`)).body.data;
    const ro = (await call(cp, 'GET', `/projects/bench/services/${service}/rollouts`)).body;
    log(`  ${service} did not complete: ${JSON.stringify(svc.status)} ${JSON.stringify(ro).slice(0, 1500)}`);
    throw err;
  }
  const totalMs = performance.now() - t0;
  return { patchMs: r.ms, totalMs };
}

async function latencies(cp: ControlPlane, what: string, n: number, f: (i: number) => Promise<number>): Promise<void> {
  const xs: number[] = [];
  for (let i = 0; i < Math.min(3, n); i++) await f(i); // warm-up
  for (let i = 0; i < n; i++) xs.push(await f(i));
  log(`  ${what.padEnd(34)} p50 ${ms(median(xs)).padStart(9)}  p99 ${ms(pct(xs, 99)).padStart(9)}  max ${ms(Math.max(...xs)).padStart(9)}  (n=${n}) ${load()}`);
}

async function main() {
  log(`bench/scale: ${SERVICES} services × ${PER_SERVICE} instances (${SERVICES * PER_SERVICE}), store ${STORE}${STORE === 'postgres' && process.env.BENCH_PG_SOCKET ? ` (Unix socket ${process.env.BENCH_PG_SOCKET})` : ''}, HAProxy data plane, RUNTIME STAND-IN (one process serving every instance's port)`);
  log(`machine: ${os.cpus().length} cores (${os.cpus()[0]?.model}), load average ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}, per-service listing ${process.env.BENCH_PER_SERVICE_LIST === '0' ? 'off' : 'on'}`);

  // The peer: one service alone on an empty platform.
  const alone = await startControlPlane('alone');
  const aloneTimes: number[] = [];
  try {
    await populate(alone, 1);
    for (let i = 0; i < ROLLOUTS; i++) aloneTimes.push((await rollout(alone, svcName(0))).totalMs);
  } finally {
    await alone.stop();
  }

  const big = await startControlPlane('big');
  try {
    const rssEmpty = rssMb(big.proc.pid!);
    await populate(big, SERVICES);
    const probe = svcName(Math.floor(SERVICES / 2));
    const routed = await routedInstances(big, probe);
    log(`  router check: ${routed.size}/${PER_SERVICE} instances of ${probe} answered through HAProxy`);

    // Idle: CPU per resync of every key, and the longest the event loop was held (an API request waits that).
    const c0 = cpuSeconds(big.proc.pid!);
    const idleFrom = process.hrtime.bigint() / 1000n;
    big.proc.send({ op: 'loop-delay-reset' });
    await new Promise((r) => setTimeout(r, IDLE_SECONDS * 1000));
    const idleCpu = cpuSeconds(big.proc.pid!) - c0;
    if (process.env.BENCH_CPU_PROF) log(`  IDLE phase: ${idleFrom} to ${process.hrtime.bigint() / 1000n} µs (CLOCK_MONOTONIC)`);
    const delay = await new Promise<{ maxMs: number; p99Ms: number }>((resolve) => {
      const on = (m: { op?: string; maxMs: number; p99Ms: number }) => m.op === 'loop-delay' && (big.proc.off('message', on), resolve(m));
      big.proc.on('message', on);
      big.proc.send({ op: 'loop-delay' });
    });
    const resyncs = (IDLE_SECONDS * 1000) / RESYNC_MS;
    log(`  idle control plane: ${((idleCpu / IDLE_SECONDS) * 1000).toFixed(0)} ms CPU per s over ${IDLE_SECONDS} s, ${((idleCpu / resyncs) * 1000).toFixed(0)} ms CPU per resync of ${SERVICES} keys (resync every ${RESYNC_MS / 1000} s; includes the other idle timers); event-loop delay p99 ${delay.p99Ms.toFixed(1)} ms, max ${delay.maxMs.toFixed(1)} ms ${load()}`);

    // Memory.
    const hostStats = await new Promise<{ count: number; rssBytes: number }>((resolve) => {
      big.proc.once('message', (m: { count: number; rssBytes: number }) => resolve(m));
      big.proc.send({ op: 'host-stats' });
    });
    const hp = haproxyPids(big.dataDir);
    log(`  RSS: control plane ${rssMb(big.proc.pid!).toFixed(0)} MB at ${hostStats.count} instances (${rssEmpty.toFixed(0)} MB empty); HAProxy ${hp.map((p) => rssMb(p).toFixed(0)).join(' + ')} MB; instance host (stand-in) ${(hostStats.rssBytes / 2 ** 20).toFixed(0)} MB ${load()}`);

    // API latencies, sequential requests.
    log('  API latency (sequential requests, others idle):');
    const pick = (i: number) => svcName((i * 7919) % SERVICES);
    await latencies(big, 'GET /v1/…/services/{id}', SAMPLES, async (i) => (await call(big, 'GET', `/v1/projects/bench/services/${pick(i)}`)).ms);
    await latencies(big, 'GET /v1/…/services?per_page=100', Math.ceil(SAMPLES / 2), async (i) => (await call(big, 'GET', `/v1/projects/bench/services?per_page=100&page=${1 + (i % Math.ceil(SERVICES / 100))}`)).ms);
    const guids = ((await call(big, 'GET', '/v3/apps?per_page=5000')).body.resources as { guid: string }[]).map((a) => a.guid);
    await latencies(big, 'GET /v3/apps/{guid}', Math.ceil(SAMPLES / 2), async (i) => (await call(big, 'GET', `/v3/apps/${guids[(i * 7919) % guids.length]}`)).ms);

    // One service's rollout with the others idle, against the peer.
    const bigTimes: number[] = [];
    for (let i = 0; i < ROLLOUTS; i++) bigTimes.push((await rollout(big, probe)).totalMs);
    const ratio = median(bigTimes) / median(aloneTimes);
    log(`  rollout of one service (${PER_SERVICE} instances, PATCH → COMPLETED, median of ${ROLLOUTS}): ${ms(median(bigTimes))} with ${SERVICES - 1} others idle vs ${ms(median(aloneTimes))} alone on an empty platform: ${ratio.toFixed(2)}x ${load()}`);
    log(`    each, in order: ${bigTimes.map((t) => t.toFixed(0)).join(', ')} ms with the others idle; ${aloneTimes.map((t) => t.toFixed(0)).join(', ')} ms alone`);

    // PATCH → rollout recorded with the others idle: each service's rollout COMPLETED before the next PATCH.
    const idleN = Math.min(SERVICES, Math.ceil(SAMPLES / 4));
    await latencies(big, 'PATCH, others idle', idleN, async (i) => (await rollout(big, svcName(SERVICES - 1 - i))).patchMs);

    // PATCH → rollout recorded, one per service, sequentially (each leaves a rollout running behind it).
    const patchN = Math.min(SERVICES, Math.ceil(SAMPLES / 2));
    const patchFrom = process.hrtime.bigint() / 1000n;
    await latencies(big, 'PATCH, while earlier ones roll out', patchN, async (i) => (await call(big, 'PATCH', `/v1/projects/bench/services/deployment/${svcName(i)}`, { runtimeEnvironment: { A: `p${i}-${version++}` } })).ms);
    // The phase on the monotonic clock a CPU profile's timestamps use, to cut the control plane's profile to it.
    if (process.env.BENCH_CPU_PROF) log(`  PATCH phase: ${patchFrom} to ${process.hrtime.bigint() / 1000n} µs (CLOCK_MONOTONIC)`);
    await waitFor(async () => (await pending(big)) === 0, 1_800_000, 'the PATCHed services COMPLETED');
  } finally {
    await big.stop();
  }

  // The data plane alone at services × instances servers.
  await measureHaproxy(SERVICES, PER_SERVICE, log);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
