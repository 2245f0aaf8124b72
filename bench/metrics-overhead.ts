/**
 * bench/metrics-overhead: the router's throughput with metrics collection off and on, in the same run.
 *
 * Three platforms start side by side, identical but for SLIPWAY_METRICS_INTERVAL_SECONDS: `0` (collection off),
 * `10` (the default) and `1` (ten times as often, the worst case). Each runs the same service (the hello
 * fixture app, 2 instances) behind the same data plane (HAProxy where installed, else the built-in router).
 * wrk drives each platform's router in turn, rounds interleaved after a warm-up; while one is measured the
 * other two control planes are paused (SIGSTOP; their routers and instances are separate processes and stay
 * idle), so a sampler never competes with the run it is not part of. Reported per mode: median req/s, p50 and
 * p99 latency, the ratio to "off", and the control plane's CPU time per second of the run (what sampling costs).
 *
 *   node --import tsx bench/metrics-overhead.ts      (BENCH_SECONDS=5, BENCH_ROUNDS=3, BENCH_CONNECTIONS=32, BENCH_ROUTER)
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { api, fixtureRepo, startTestPlatform, waitFor, type RunningPlatform } from '../test/support/platform.ts';
import { cpuMs } from './support/proc.ts';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 32);
const HOST = 'web.bench.localhost';
const MODES = [
  { name: 'metrics off', interval: '0' },
  { name: 'metrics every 10 s (default)', interval: '10' },
  { name: 'metrics every 1 s', interval: '1' },
];

interface Run {
  rps: number;
  p50ms: number;
  p99ms: number;
  errors: string;
  controlPlaneCpuMsPerS: number;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

function parseDuration(s: string): number {
  const m = /^([\d.]+)(us|ms|s)$/.exec(s);
  if (!m) return NaN;
  return Number(m[1]) * (m[2] === 'us' ? 0.001 : m[2] === 's' ? 1000 : 1);
}

function wrk(port: number, seconds: number): Promise<Omit<Run, 'controlPlaneCpuMsPerS'>> {
  return new Promise((resolve, reject) => {
    const child = spawn('wrk', ['-t1', `-c${CONNECTIONS}`, `-d${seconds}s`, '--latency', '-H', `Host: ${HOST}`, `http://127.0.0.1:${port}/`], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.once('error', reject);
    child.once('exit', (code) => {
      if (code !== 0) return reject(new Error(`wrk failed (${code}): ${out}`));
      resolve({
        rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1]),
        p50ms: parseDuration(/^\s+50%\s+(\S+)/m.exec(out)?.[1] ?? ''),
        p99ms: parseDuration(/^\s+99%\s+(\S+)/m.exec(out)?.[1] ?? ''),
        errors: [/Socket errors:.*$/m.exec(out)?.[0], /Non-2xx or 3xx responses:.*$/m.exec(out)?.[0]].filter(Boolean).join('; '),
      });
    });
  });
}

async function deploy(p: RunningPlatform, repoDir: string): Promise<void> {
  assert200(await api(p, 'POST', '/v1/projects', { name: 'bench' }));
  assert200(
    await api(p, 'POST', '/v1/projects/bench/services/combined', {
      name: 'web',
      billing: { deploymentPlan: 'nf-compute-20' },
      deployment: { instances: 2 },
      vcsData: { projectUrl: repoDir, projectType: 'self-hosted', projectBranch: 'main' },
      ports: [{ name: 'p01', internalPort: 8080, public: true, protocol: 'HTTP' }],
    }),
  );
  await waitFor(async () => (await api(p, 'GET', '/v1/projects/bench/services/web')).body.data?.status?.deployment?.status === 'COMPLETED', 300_000, 'service deployed');
}

function assert200(res: { status: number; body: unknown }): void {
  if (res.status !== 200) throw new Error(`HTTP ${res.status}: ${JSON.stringify(res.body)}`);
}

async function main(): Promise<void> {
  const repo = fixtureRepo('hello');
  const env = { SLIPWAY_LOG_LEVEL: 'warn', ...(process.env.BENCH_ROUTER ? { SLIPWAY_ROUTER: process.env.BENCH_ROUTER } : {}) };
  const platforms: RunningPlatform[] = [];
  try {
    for (const m of MODES) platforms.push(await startTestPlatform({ ...env, SLIPWAY_METRICS_INTERVAL_SECONDS: m.interval }));
    for (const p of platforms) await deploy(p, repo.dir);
    const only = (i: number) => {
      platforms.forEach((p, j) => p.proc.kill(j === i ? 'SIGCONT' : 'SIGSTOP'));
    };
    console.log(`metrics overhead: ${SECONDS}s x ${ROUNDS} rounds, ${CONNECTIONS} connections, hello app x2 behind the router, one platform per mode`);
    const runs: Run[][] = MODES.map(() => []);
    for (let i = 0; i < MODES.length; i++) {
      only(i);
      await wrk(platforms[i].routerPort, 1); // warm-up: keep-alive pools, JIT
    }
    for (let r = 0; r < ROUNDS; r++) {
      for (let i = 0; i < MODES.length; i++) {
        only(i);
        await new Promise((res) => setTimeout(res, 1000)); // the resumed control plane catches up (a sampler pass is due)
        const pid = platforms[i].proc.pid!;
        const before = cpuMs(pid);
        const w = await wrk(platforms[i].routerPort, SECONDS);
        runs[i].push({ ...w, controlPlaneCpuMsPerS: (cpuMs(pid) - before) / SECONDS });
      }
    }
    platforms.forEach((p) => p.proc.kill('SIGCONT'));
    const off = median(runs[0].map((x) => x.rps));
    console.log('| mode | req/s (median) | vs off | p50 ms | p99 ms | control plane CPU ms/s | errors |');
    console.log('|---|---|---|---|---|---|---|');
    MODES.forEach((m, i) => {
      const rs = runs[i];
      const rps = median(rs.map((x) => x.rps));
      console.log(`| ${m.name} | ${rps.toFixed(0)} | ${((rps / off) * 100).toFixed(1)}% | ${median(rs.map((x) => x.p50ms)).toFixed(2)} | ${median(rs.map((x) => x.p99ms)).toFixed(2)} | ${median(rs.map((x) => x.controlPlaneCpuMsPerS)).toFixed(1)} | ${rs.map((x) => x.errors).filter(Boolean).join('; ') || 'none'} |`);
    });
  } finally {
    platforms.forEach((p) => p.proc.kill('SIGCONT'));
    for (const p of platforms) await p.stop().catch(() => undefined);
    fs.rmSync(repo.dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
