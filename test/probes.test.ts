/**
 * Health checks with Kubernetes semantics, through the platform: HTTP, TCP and CMD probes; a startup probe
 * holds readiness until it passes; readiness gates traffic; a failing liveness probe replaces the instance.
 * Per-instance probe state is visible in the API. Probe periods run scaled down (SLIPWAY_PROBE_TIME_SCALE).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { api, fixtureRepo, startTestPlatform, viaRouter, waitFor, type RunningPlatform } from './support/platform.ts';

// timeoutSeconds 5 runs as 250 ms at the test time scale: a CMD probe starts a sandbox, which a loaded machine
// can take longer than 50 ms to do.
const check = (c: Record<string, unknown>) => ({ initialDelaySeconds: 1, periodSeconds: 10, timeoutSeconds: 5, failureThreshold: 2, successThreshold: 1, ...c });

describe('health checks', () => {
  let p: RunningPlatform;
  const repo = fixtureRepo('hello');
  const containers = async (svc: string) => (await api(p, 'GET', `/v1/projects/probes/services/${svc}/containers`)).body.data.containers as { name: string; ready: boolean; restarts: number; probes: Record<string, { passing: boolean; consecutiveFailures: number; lastError?: string; lastSuccessAt?: string }> }[];
  const service = async (name: string, env: Record<string, string>, healthChecks: unknown[]) => {
    const res = await api(p, 'POST', '/v1/projects/probes/services/combined', {
      name,
      billing: { deploymentPlan: 'nf-compute-20' },
      deployment: { instances: 1 },
      vcsData: { projectUrl: repo.dir, projectType: 'self-hosted', projectBranch: 'main' },
      ports: [{ name: 'p01', internalPort: 8080, public: true, protocol: 'HTTP' }],
      runtimeEnvironment: env,
      healthChecks,
    });
    assert.equal(res.status, 200, JSON.stringify(res.body));
  };

  before(async () => {
    p = await startTestPlatform();
    assert.equal((await api(p, 'POST', '/v1/projects', { name: 'probes' })).status, 200);
  });
  after(async () => {
    await p?.stop();
  });

  it('holds readiness behind a startup probe until it passes, and gates traffic on readiness', async () => {
    await service('startup', { READY_AFTER_MS: '2500' }, [
      check({ protocol: 'HTTP', type: 'startupProbe', path: '/health', port: 8080, failureThreshold: 20 }),
      check({ protocol: 'HTTP', type: 'readinessProbe', path: '/health', port: 8080 }),
    ]);
    const early = await waitFor(async () => (await containers('startup'))[0], 60_000, 'an instance');
    assert.equal(early.ready, false);
    const res = await viaRouter(p, 'startup.probes.localhost');
    assert.equal(res.status, 503, 'no traffic before the instance is ready');
    const c = await waitFor(async () => (await containers('startup')).find((x) => x.ready), 60_000, 'ready after startup');
    assert.equal(c.probes.startupProbe.passing, true);
    assert.equal(c.probes.readinessProbe.passing, true);
    assert.ok(c.probes.readinessProbe.lastSuccessAt);
    // The router takes the instance once the controller has passed the table on: poll, never a fixed wait.
    await waitFor(async () => (await viaRouter(p, 'startup.probes.localhost')).status === 200, 30_000, 'routed once ready');
  });

  it('shows a failing readiness probe with its error and consecutive failures', async () => {
    await service('unready', { HEALTH_STATUS: '500' }, [check({ protocol: 'HTTP', type: 'readinessProbe', path: '/health', port: 8080 })]);
    const c = await waitFor(async () => (await containers('unready')).find((x) => (x.probes.readinessProbe?.consecutiveFailures ?? 0) >= 2), 60_000, 'failures recorded');
    assert.equal(c.ready, false);
    assert.equal(c.probes.readinessProbe.lastError, 'HTTP 500 on /health');
    assert.equal((await viaRouter(p, 'unready.probes.localhost')).status, 503);
  });

  it('replaces an instance whose liveness probe fails', async () => {
    await service('liveness', { LIVE_FAIL_AFTER_MS: '1500' }, [check({ protocol: 'HTTP', type: 'livenessProbe', path: '/live', port: 8080 })]);
    const c = await waitFor(async () => (await containers('liveness')).find((x) => x.restarts >= 1), 60_000, 'instance replaced');
    assert.ok(c.restarts >= 1);
    const events = (await api(p, 'GET', '/projects/probes/services/liveness/events')).body.events as { reason: string; message: string }[];
    assert.ok(events.some((e) => e.reason === 'Unhealthy' && /liveness probe: HTTP 500 on \/live/.test(e.message)), JSON.stringify(events));
  });

  it('passes a CMD probe run inside the instance, which sees the files the app wrote', async () => {
    await service('cmd', { READY_AFTER_MS: '1000' }, [check({ protocol: 'CMD', type: 'readinessProbe', cmd: 'test -f /tmp/ready' })]);
    const early = await waitFor(async () => (await containers('cmd'))[0], 60_000, 'an instance');
    assert.equal(early.ready, false);
    const c = await waitFor(async () => (await containers('cmd')).find((x) => x.ready), 60_000, 'CMD probe passes');
    assert.equal(c.probes.readinessProbe.passing, true);
  });

  it('passes a TCP probe once the port accepts connections', async () => {
    await service('tcp', {}, [check({ protocol: 'TCP', type: 'readinessProbe', port: 8080 })]);
    const c = await waitFor(async () => (await containers('tcp')).find((x) => x.ready), 60_000, 'TCP probe passes');
    assert.equal(c.probes.readinessProbe.passing, true);
    await waitFor(async () => (await viaRouter(p, 'tcp.probes.localhost')).status === 200, 30_000, 'routed once ready');
  });
});
