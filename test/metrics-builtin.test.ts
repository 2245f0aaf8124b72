/**
 * Metrics through the built-in router (the Node data plane, with its latency histogram): a known load's
 * request count in the service's series within 1% of what the load generator sent, and percentiles. The
 * HAProxy plane and everything else about metrics is test/metrics.test.ts.
 */
import { after, before, describe } from 'node:test';
import assert from 'node:assert/strict';
import { api, fixtureRepo, startTestPlatform, waitFor, type RunningPlatform } from './support/platform.ts';
import { knownLoadCase } from './support/metrics.ts';

const PROJECT = 'metered';

describe('metrics on a real platform (builtin router)', () => {
  let p: RunningPlatform;
  before(async () => {
    p = await startTestPlatform({ SLIPWAY_ROUTER: 'builtin', SLIPWAY_METRICS_INTERVAL_SECONDS: '1' });
    assert.equal((await api(p, 'POST', '/v1/projects', { name: PROJECT })).status, 200);
    const res = await api(p, 'POST', `/v1/projects/${PROJECT}/services/combined`, {
      name: 'web',
      billing: { deploymentPlan: 'nf-compute-20' },
      deployment: { instances: 2 },
      vcsData: { projectUrl: fixtureRepo('hello').dir, projectType: 'self-hosted', projectBranch: 'main' },
      ports: [{ name: 'p01', internalPort: 8080, public: true, protocol: 'HTTP' }],
    });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    await waitFor(async () => (await api(p, 'GET', `/v1/projects/${PROJECT}/services/web`)).body.data?.status?.deployment?.status === 'COMPLETED', 180_000, 'web deployed');
  });
  after(async () => {
    await p?.stop();
  });

  knownLoadCase('builtin', () => p, PROJECT);
});
