import { it } from 'node:test';
import assert from 'node:assert/strict';
import { describeChanges, restoredSource, restoreSpec, sameShape, snapshotOfLegacyRelease } from './release-snapshot.ts';
import type { ServiceSpec } from './service.ts';

const then: ServiceSpec = {
  name: 'web',
  billing: { deploymentPlan: 'nf-compute-20' },
  deployment: { instances: 2, docker: { configType: 'customCommand', customCommand: 'node a.js' } },
  runtimeEnvironment: { GREETING: 'v1' },
  ports: [{ name: 'p01', internalPort: 8080, protocol: 'HTTP', public: true, security: { credentials: [{ username: 'a' }] } }],
  healthChecks: [{ protocol: 'TCP', type: 'readinessProbe', port: 8080, initialDelaySeconds: 1, periodSeconds: 10, timeoutSeconds: 1, failureThreshold: 3 }],
  processTypes: { worker: { quantity: 1, command: 'node w1.js' } },
};
const now: ServiceSpec = {
  ...then,
  description: 'edited later',
  billing: { deploymentPlan: 'nf-compute-50' },
  deployment: { instances: 5, strategy: { type: 'rollout-fast' } },
  runtimeEnvironment: { GREETING: 'v3', EXTRA: '1' },
  ports: [{ name: 'p01', internalPort: 9090, protocol: 'HTTP', public: true }],
  healthChecks: [],
  processTypes: { worker: { quantity: 3, command: 'node w3.js', size: 'nf-compute-50' } },
};

it('restores every instance-shaping part and keeps the rest as it is now', () => {
  const r = restoreSpec(now, then);
  assert.deepEqual(r.runtimeEnvironment, { GREETING: 'v1' });
  assert.deepEqual(r.ports, then.ports, 'ports come back with their security');
  assert.deepEqual(r.healthChecks, then.healthChecks);
  assert.equal(r.billing.deploymentPlan, 'nf-compute-20');
  assert.deepEqual(r.deployment, { instances: 5, strategy: { type: 'rollout-fast' }, docker: { configType: 'customCommand', customCommand: 'node a.js' } });
  assert.deepEqual(r.processTypes, { worker: { quantity: 3, command: 'node w1.js' } }, 'the command and size come back, the count stays');
  assert.equal(r.description, 'edited later');
  assert.ok(sameShape(r, then));
  assert.ok(!sameShape(now, then));
});

it('pins the release build: one of its own for a combined service, of the followed service for a deployment', () => {
  const combined = restoreSpec({ ...now, deployment: { instances: 1 } }, then, { kind: 'combined', serviceId: 'web', buildId: 'b1' });
  assert.deepEqual(combined.deployment?.internal, { id: 'web', buildId: 'b1' });
  const follows = { ...then, deployment: { instances: 1, internal: { id: 'builder', branch: 'main' } } };
  const deployment = restoreSpec(now, follows, { kind: 'deployment', serviceId: 'web', buildId: 'b2' });
  assert.deepEqual(deployment.deployment?.internal, { id: 'builder', branch: 'main', buildId: 'b2' });
});

it('says what a restore changes by names, never by values', () => {
  const words = describeChanges(now, restoreSpec(now, then, { kind: 'combined', serviceId: 'web', buildId: 'b1' }));
  assert.deepEqual(words, ['env (EXTRA, GREETING)', 'ports', 'health checks', 'plan nf-compute-20', 'command', 'process types', 'build b1']);
  assert.ok(!words.join(' ').includes('v1'));
  assert.deepEqual(describeChanges(then, then), []);
});

it('stands in for the snapshot of a release made before releases kept one', () => {
  const snap = snapshotOfLegacyRelease(now, { env: { GREETING: 'old' }, files: {}, healthChecks: [], plan: 'nf-compute-10' });
  assert.deepEqual(restoreSpec(now, snap).runtimeEnvironment, { GREETING: 'old' });
  assert.equal(restoreSpec(now, snap).billing.deploymentPlan, 'nf-compute-10');
});

it('keeps the spec following the newest build when a move does not change the build, and pins another', () => {
  const following = { ...now, deployment: { instances: 1 } };
  const svc = { kind: 'combined' as const, id: 'web' };
  assert.equal(restoredSource(svc, { buildId: 'b1', image: null }, { buildId: 'b1', image: null }), 'keep');
  assert.equal(restoreSpec(following, { ...then, deployment: { instances: 1, internal: { id: 'web', buildId: 'b0' } } }, 'keep').deployment?.internal, undefined);
  assert.deepEqual(restoredSource(svc, { buildId: 'b2', image: null }, { buildId: 'b1', image: null }), { kind: 'combined', serviceId: 'web', buildId: 'b1' });
  assert.deepEqual(restoredSource(svc, { buildId: 'b1', image: null }, { buildId: 'b1', image: null }, true), { kind: 'combined', serviceId: 'web', buildId: 'b1' }, 'a rollback pins even the same build');
  assert.equal(restoredSource(svc, { buildId: null, image: 'nginx:1' }, { buildId: null, image: 'nginx:2' }), 'snapshot');
});
