/**
 * bench/failover: how long a rollout stalls when the control-plane replica holding its lease dies. Two
 * replicas on one PostgreSQL database (created and dropped here) and one process-runtime directory; a slow
 * rolling rollout (one instance at a time, each taking START_MS to listen); the lease holder is killed
 * (SIGKILL) once the first new instance is ready. Prints, per round and as the median, the time from the
 * kill to the lease takeover, to the next rollout event and to the next instance start, beside the lease TTL
 * (the floor: a dead holder's lease cannot move before it expires) as a ratio.
 *   node --import tsx bench/failover.ts [rounds=3] [ttlSeconds=3]
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import crypto from 'node:crypto';
import { api, fixtureRepo, killInstances, startTestPlatform, stopRouter, waitFor, type RunningPlatform } from '../test/support/platform.ts';
import { createPgDatabase } from '../test/support/databases.ts';

const rounds = Number(process.argv[2] ?? 3);
const ttlSeconds = Number(process.argv[3] ?? 3);
const renewSeconds = Math.max(0.1, ttlSeconds / 6);
const START_MS = 1500;
const INSTANCES = 3;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main() {
  const db = await createPgDatabase();
  const shared = fs.mkdtempSync(path.join(os.tmpdir(), 'slipway-failover-'));
  const startLog = path.join(shared, 'starts.log');
  const secretKey = crypto.randomBytes(32).toString('base64');
  const names = ['bench-a', 'bench-b'];
  const replicas: RunningPlatform[] = [];
  try {
    for (const name of names) {
      replicas.push(
        await startTestPlatform({
          SLIPWAY_DATABASE_URL: db.url,
          SLIPWAY_RUNTIME_DIR: path.join(shared, 'runtime'),
          SLIPWAY_SECRET_KEY: secretKey,
          SLIPWAY_NODE_ID: name,
          SLIPWAY_LEASE_TTL_SECONDS: String(ttlSeconds),
          SLIPWAY_LEASE_RENEW_SECONDS: String(renewSeconds),
          SLIPWAY_ROUTER: 'builtin',
          SLIPWAY_ISOLATION: 'none',
          SLIPWAY_RESYNC_MS: '500',
          SLIPWAY_LOG_LEVEL: 'warn',
        }),
      );
    }
    const live = () => replicas.find((r) => r.proc.exitCode === null && r.proc.signalCode === null)!;
    const repo = fixtureRepo('hello');
    await api(live(), 'POST', '/v1/projects', { name: 'bench' });
    await api(live(), 'POST', '/v1/projects/bench/services/combined', {
      name: 'web',
      billing: { deploymentPlan: 'nf-compute-10' },
      deployment: { instances: INSTANCES },
      vcsData: { projectUrl: repo.dir, projectType: 'self-hosted', projectBranch: 'main' },
      ports: [{ name: 'p01', internalPort: 8080, public: true, protocol: 'HTTP' }],
      runtimeEnvironment: { GREETING: 'v0', START_LOG: startLog },
    });
    await waitFor(async () => (await api(live(), 'GET', '/v1/projects/bench/services/web')).body.data.status.deployment.status === 'COMPLETED', 180_000, 'COMPLETED');
    const takeovers: number[] = [];
    const nextEvents: number[] = [];
    const nextStarts: number[] = [];
    for (let round = 1; round <= rounds; round++) {
      const lease = async () => (await api(live(), 'GET', '/leases')).body.leases.find((l: { name: string }) => l.name === 'services/0') as { holder: string; epoch: number };
      const before = await lease();
      const leader = replicas[names.indexOf(before.holder)]!;
      await api(live(), 'PATCH', '/v1/projects/bench/services/combined/web', { runtimeEnvironment: { GREETING: `v${round}`, START_DELAY_MS: String(START_MS), START_LOG: startLog } });
      const started = await api(live(), 'POST', '/projects/bench/services/web/rollouts', { strategy: 'rolling', maxInFlight: 1 });
      const { number, toRelease } = started.body as { number: number; toRelease: number };
      const containers = async () => (await api(live(), 'GET', '/v1/projects/bench/services/web/containers')).body.data.containers as { release: number; ready: boolean }[];
      await waitFor(async () => (await containers()).some((c) => c.release === toRelease && c.ready), 120_000, 'first new instance ready');
      const killedAt = Date.now();
      await leader.kill9();
      const after = await waitFor(async () => {
        const l = await lease();
        return l.epoch > before.epoch ? l : undefined;
      }, 120_000, 'takeover');
      takeovers.push(Date.now() - killedAt);
      const rollout = async () => ((await api(live(), 'GET', '/projects/bench/services/web/rollouts')).body.rollouts as { number: number; status: string; events: { createdAt: string }[] }[]).find((r) => r.number === number)!;
      const ev = await waitFor(async () => (await rollout()).events.find((e) => Date.parse(e.createdAt) > killedAt), 120_000, 'next rollout event');
      nextEvents.push(Date.parse(ev.createdAt) - killedAt);
      const st = await waitFor(() => fs.readFileSync(startLog, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { at: number }).find((s) => s.at > killedAt), 120_000, 'next instance start');
      nextStarts.push(st.at - killedAt);
      await waitFor(async () => (await rollout()).status === 'COMPLETED', 300_000, 'rollout completed');
      console.log(`round ${round}: ${before.holder}@${before.epoch} killed -> ${after.holder}@${after.epoch}: takeover seen ${takeovers.at(-1)} ms, next rollout event ${nextEvents.at(-1)} ms, next instance start ${nextStarts.at(-1)} ms`);
      await leader.restart();
    }
    const ttlMs = ttlSeconds * 1000;
    const line = (what: string, xs: number[]) => `${what} ${median(xs)} ms (median of ${xs.length}), ${(median(xs) / ttlMs).toFixed(2)}x the lease TTL`;
    console.log(`failover (lease TTL ${ttlMs} ms, renewed every ${renewSeconds * 1000} ms): ${line('takeover', takeovers)}; ${line('next rollout event', nextEvents)}; ${line('next instance start', nextStarts)}`);
  } finally {
    for (const r of replicas) await r.stop().catch(() => {});
    killInstances(shared);
    for (const r of replicas) await stopRouter(r.dataDir).catch(() => {});
    await db.drop().catch(() => {});
    fs.rmSync(shared, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
