/**
 * bench/rollout-time: rollout time of 10 instances of an app that takes 300 ms to start (after Node's own
 * boot), with max_in_flight 1 and 5, as a ratio to the floor measured in the same run: a raw spawn of the
 * same command until its port accepts (process start included; median), times the number of waves.
 * The platform runs with the settings a user gets by default (probe timing, grace periods, resync), the
 * service has no health check; the last rows show the cost of a minimum-ready hold (minReadySeconds).
 * With max_in_flight above 1 a second peer is printed beside it: a wave's raw starts all at once (the
 * slowest of them, median), times the waves, as a wave of starts competes for the same cores. Each row also
 * gives the platform's own CPU per rollout (control plane, the runtime's supervisor, HAProxy; from /proc).
 *   node --import tsx bench/rollout-time.ts [rounds=3] [holdSeconds=0.5]     (holdSeconds 0: no hold rows)
 * The platform's last-old hold (SLIPWAY_LAST_OLD_HOLD_SECONDS, 0.5 s by default: the last old instance stays
 * until one new instance has been ready that long) is the default unless BENCH_LAST_OLD_HOLD_SECONDS sets it;
 * every line says which.
 */
import { spawn } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { SYSTEM_PATH } from '../src/domain/system-path.ts';
import { api, fixtureRepo, freePort, startTestPlatform, waitFor, ROOT } from '../test/support/platform.ts';
import { cpuMs, haproxyPids, supervisorPid } from './support/proc.ts';

const START_MS = 300;
const INSTANCES = 10;
const rounds = Number(process.argv[2] ?? 3);
const holdSeconds = Number(process.argv[3] ?? 0.5);
const LAST_OLD_HOLD = process.env.BENCH_LAST_OLD_HOLD_SECONDS;
const holdNote = `last-old hold ${LAST_OLD_HOLD === undefined ? '0.5 s (default)' : `${LAST_OLD_HOLD} s`}`;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port });
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('error', () => resolve(false));
  });
}

/**
 * The peer: the app's Procfile command started by hand, until its port accepts (polled every 2 ms), with the
 * environment an instance gets: the system PATH, so the same `node` the instance runs (not the Node running
 * this bench), and none of this shell's variables.
 */
async function rawStart(): Promise<number> {
  const port = await freePort();
  const t0 = performance.now();
  const child = spawn('/bin/sh', ['-c', 'node server.js'], { cwd: path.join(ROOT, 'test/fixtures/apps/hello'), env: { PATH: SYSTEM_PATH, HOME: '/tmp', NODE_ENV: 'production', PORT: String(port), START_DELAY_MS: String(START_MS) }, stdio: 'ignore', detached: true });
  while (!(await portOpen(port))) await new Promise((r) => setTimeout(r, 2));
  const ms = performance.now() - t0;
  process.kill(-child.pid!, 'SIGKILL');
  return ms;
}

async function main() {
  // The defaults a user gets (test platforms shorten probe timing, grace periods and the resync).
  const p = await startTestPlatform({ SLIPWAY_LOG_LEVEL: 'warn', SLIPWAY_PROBE_TIME_SCALE: '1', SLIPWAY_GRACE_PERIOD_CAP_SECONDS: '', SLIPWAY_RESYNC_MS: '5000', SLIPWAY_ROUTER_ACCESS_LOG: 'on', ...(LAST_OLD_HOLD !== undefined ? { SLIPWAY_LAST_OLD_HOLD_SECONDS: LAST_OLD_HOLD } : {}) });
  try {
    const repo = fixtureRepo('hello');
    await api(p, 'POST', '/v1/projects', { name: 'bench' });
    await api(p, 'POST', '/v1/projects/bench/services/combined', {
      name: 'web',
      billing: { deploymentPlan: 'nf-compute-10' },
      deployment: { instances: INSTANCES },
      vcsData: { projectUrl: repo.dir, projectType: 'self-hosted', projectBranch: 'main' },
      ports: [{ name: 'p01', internalPort: 8080, public: true, protocol: 'HTTP' }],
      runtimeEnvironment: { START_DELAY_MS: String(START_MS), GREETING: 'v0' },
    });
    await waitFor(async () => (await api(p, 'GET', '/v1/projects/bench/services/web')).body.data.status.deployment.status === 'COMPLETED', 180_000, 'COMPLETED');
    let version = 1;
    const rows: { label: string; maxInFlight: number; hold: number; ms: number; floor: number }[] = [];
    for (const hold of holdSeconds > 0 ? [0, holdSeconds] : [0]) {
      for (const maxInFlight of [1, 5]) {
        const times: number[] = [];
        const raw: number[] = [];
        const rawWaves: number[] = [];
        const cpu: { controlPlane: number; supervisor: number; haproxy: number }[] = [];
        for (let r = 0; r < rounds; r++) {
          // The old instances of the last round have stopped: nothing else runs while this one is timed.
          await waitFor(async () => (await api(p, 'GET', '/v1/projects/bench/services/web/containers')).body.data.containers.length === INSTANCES, 60_000, 'old instances stopped');
          raw.push(await rawStart(), await rawStart());
          if (maxInFlight > 1) rawWaves.push(Math.max(...(await Promise.all(Array.from({ length: maxInFlight }, () => rawStart())))));
          // A new release (a config change), then a rollout of it with this max-in-flight: timed from the
          // change to the rollout's own finishing time (no polling in the measurement).
          const supervisor = supervisorPid(p.dataDir);
          const platformCpu = () => ({ controlPlane: cpuMs(p.proc.pid!), supervisor: supervisor ? cpuMs(supervisor) : 0, haproxy: cpuMs(...haproxyPids(p.dataDir)) });
          const cpu0 = platformCpu();
          const t0 = Date.now();
          await api(p, 'PATCH', '/v1/projects/bench/services/combined/web', { runtimeEnvironment: { START_DELAY_MS: String(START_MS), GREETING: `v${version++}` } });
          const started = await api(p, 'POST', '/projects/bench/services/web/rollouts', { strategy: 'rolling', maxInFlight, ...(hold ? { minReadySeconds: hold } : {}) });
          const n = started.body.number;
          const done = await waitFor(async () => {
            const ro = (await api(p, 'GET', '/projects/bench/services/web/rollouts')).body.rollouts.find((x: { number: number }) => x.number === n);
            if (ro?.status === 'FAILED' || ro?.status === 'SUPERSEDED') throw new Error(`rollout ${n} ${ro.status}: ${ro.message}`);
            return ro?.status === 'COMPLETED' && ro;
          }, 300_000, 'rollout');
          times.push(Date.parse(done.finishedAt) - t0);
          // The platform's own CPU for the whole rollout: until the old instances have stopped too.
          await waitFor(async () => (await api(p, 'GET', '/v1/projects/bench/services/web/containers')).body.data.containers.length === INSTANCES, 60_000, 'old instances stopped');
          const cpu1 = platformCpu();
          cpu.push({ controlPlane: cpu1.controlPlane - cpu0.controlPlane, supervisor: cpu1.supervisor - cpu0.supervisor, haproxy: cpu1.haproxy - cpu0.haproxy });
        }
        const waves = Math.ceil(INSTANCES / maxInFlight);
        const start = median(raw);
        const m = median(times);
        const floor = start * waves;
        rows.push({ label: hold ? `minReadySeconds=${hold}` : 'defaults', maxInFlight, hold, ms: m, floor });
        console.log(
          `rollout-time max_in_flight=${maxInFlight}${hold ? ` minReadySeconds=${hold}` : ''}: ${m.toFixed(0)} ms (median of ${rounds}), floor ${floor.toFixed(0)} ms (raw start→port ${start.toFixed(0)} ms, median of ${raw.length}, × ${waves} waves), ratio ${(m / floor).toFixed(2)}x; ${holdNote}`,
        );
        console.log(
          `  the platform's CPU per rollout (median of ${rounds}; the old instances' stops included, and this bench's polling of the API every 100 ms): control plane ${median(cpu.map((c) => c.controlPlane)).toFixed(0)} ms, supervisor ${median(cpu.map((c) => c.supervisor)).toFixed(0)} ms, HAProxy ${median(cpu.map((c) => c.haproxy)).toFixed(0)} ms`,
        );
        if (rawWaves.length) console.log(`  beside it: ${maxInFlight} raw starts at once take ${median(rawWaves).toFixed(0)} ms (the slowest, median of ${rawWaves.length}), × ${waves} waves = ${(median(rawWaves) * waves).toFixed(0)} ms, ratio ${(m / (median(rawWaves) * waves)).toFixed(2)}x`);
      }
    }
    for (const r of rows.filter((x) => x.hold)) {
      const base = rows.find((x) => !x.hold && x.maxInFlight === r.maxInFlight)!;
      console.log(`hold cost max_in_flight=${r.maxInFlight} ${r.label}: +${(r.ms - base.ms).toFixed(0)} ms over the defaults (${Math.ceil(INSTANCES / r.maxInFlight)} waves × ${r.hold * 1000} ms = ${Math.ceil(INSTANCES / r.maxInFlight) * r.hold * 1000} ms expected)`);
    }
  } finally {
    await p.stop();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
