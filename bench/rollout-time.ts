/**
 * bench/rollout-time: rollout time of 10 instances of an app that takes 300 ms to start, with
 * max_in_flight 1 and 5, as a ratio to the floor (the app's own start time × the number of waves).
 *   node --import tsx bench/rollout-time.ts [rounds=3]
 */
import { api, fixtureRepo, startTestPlatform, waitFor } from '../test/support/platform.ts';

const START_MS = 300;
const INSTANCES = 10;
const rounds = Number(process.argv[2] ?? 3);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function main() {
  const p = await startTestPlatform({ SLIPWAY_LOG_LEVEL: 'warn', SLIPWAY_TEST_CONCURRENCY: '1' });
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
    for (const maxInFlight of [1, 5]) {
      const times: number[] = [];
      for (let r = 0; r < rounds; r++) {
        // A new release (a config change), then a rollout of it with this max-in-flight.
        await api(p, 'PATCH', '/v1/projects/bench/services/combined/web', { runtimeEnvironment: { START_DELAY_MS: String(START_MS), GREETING: `v${version++}` } });
        const t0 = performance.now();
        const started = await api(p, 'POST', '/projects/bench/services/web/rollouts', { strategy: 'rolling', maxInFlight });
        const n = started.body.number;
        await waitFor(async () => (await api(p, 'GET', '/projects/bench/services/web/rollouts')).body.rollouts.find((x: { number: number }) => x.number === n)?.status === 'COMPLETED', 300_000, 'rollout');
        times.push(performance.now() - t0);
      }
      const floor = START_MS * Math.ceil(INSTANCES / maxInFlight);
      const m = median(times);
      console.log(`rollout-time max_in_flight=${maxInFlight}: ${m.toFixed(0)} ms (median of ${rounds}), floor ${floor} ms (${START_MS} ms × ${Math.ceil(INSTANCES / maxInFlight)} waves), ratio ${(m / floor).toFixed(2)}x`);
    }
  } finally {
    await p.stop();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
