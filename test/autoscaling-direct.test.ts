/**
 * Horizontal autoscaling with metrics collection off (`SLIPWAY_METRICS_INTERVAL_SECONDS=0`): the autoscaler
 * reads the router's metrics endpoint and the runtime itself (src/autoscaler/signals.ts, DirectSignals).
 * Requests through the router scale a service up on rps and, after the shortened window, back down; memory
 * is read from the runtime. See test/autoscaling.test.ts for the rest.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { api, fixtureRepo, routerLoad, startTestPlatform, waitFor, type RunningPlatform } from './support/platform.ts';

const PROJECT = 'scale';
const INTERVAL_S = 1;
const WINDOW_S = 6;

describe('horizontal autoscaling with metrics collection off (the autoscaler reads the router itself)', () => {
  let p: RunningPlatform;
  const repo = fixtureRepo('autoscale');

  before(async () => {
    p = await startTestPlatform({ SLIPWAY_AUTOSCALE_INTERVAL_SECONDS: String(INTERVAL_S), SLIPWAY_AUTOSCALE_DOWN_STABILIZATION_SECONDS: String(WINDOW_S), SLIPWAY_METRICS_INTERVAL_SECONDS: '0' });
    assert.equal((await api(p, 'POST', '/v1/projects', { name: PROJECT })).status, 200);
  });
  after(async () => {
    await p?.stop();
  });

  it('scales up on requests per second and back down', async () => {
    const created = await api(p, 'POST', `/v1/projects/${PROJECT}/services/combined`, {
      name: 'web',
      billing: { deploymentPlan: 'nf-compute-20' },
      deployment: { instances: 1 },
      vcsData: { projectUrl: repo.dir, projectType: 'self-hosted', projectBranch: 'main' },
      ports: [{ name: 'p01', internalPort: 8080, public: true, protocol: 'HTTP' }],
      autoscaling: { horizontal: { enabled: true, minReplicas: 1, maxReplicas: 2, rps: { enabled: true, thresholdValue: 1 }, memory: { enabled: true, thresholdPercentage: 90 } } },
    });
    assert.equal(created.status, 200, JSON.stringify(created.body));
    const instances = async () => (await api(p, 'GET', `/v1/projects/${PROJECT}/services/web`)).body.data.deployment.instances as number;
    await waitFor(async () => (await api(p, 'GET', `/v1/projects/${PROJECT}/services/web`)).body.data.status.deployment.status === 'COMPLETED', 180_000, 'web COMPLETED');
    const load = routerLoad(p, 'web.scale.localhost');
    try {
      await waitFor(async () => (await instances()) === 2, 120_000, 'web at 2 instances');
    } finally {
      await load.stop();
    }
    assert.equal(load.stats.failed, 0, load.stats.errors.slice(0, 5).join('; '));
    const view = (await api(p, 'GET', `/projects/${PROJECT}/services/web/autoscaling`)).body;
    assert.match(view.events[0].message, /^rps \d+\/instance > target 1: 1 -> 2/);
    // Memory is read from the runtime: a resident app is well under 90% of 512 MB.
    const memory = view.status.metrics.find((m: { name: string }) => m.name === 'memory');
    assert.ok(memory.value > 0 && memory.value < 90, JSON.stringify(memory));
    await waitFor(async () => (await instances()) === 1, 120_000, 'web back at 1 instance');
  });
});
