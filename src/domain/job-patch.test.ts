import { it } from 'node:test';
import assert from 'node:assert/strict';
import { mergeJobSpec, type JobSpec } from './job.ts';

const base: JobSpec = {
  name: 'nightly',
  billing: { deploymentPlan: 'nf-compute-20', buildPlan: 'nf-compute-200' },
  deployment: { internal: { id: 'api', branch: 'main' }, gracePeriodSeconds: 10 },
  runtimeEnvironment: { A: '1', B: '2' },
  backoffLimit: 2,
};

it('replaces top-level fields, the runtime environment whole', () => {
  const next = mergeJobSpec(base, { runtimeEnvironment: { C: '3' }, backoffLimit: 0, description: 'runs at night' });
  assert.deepEqual(next.runtimeEnvironment, { C: '3' });
  assert.equal(next.backoffLimit, 0);
  assert.equal(next.description, 'runs at night');
  assert.deepEqual(next.deployment, base.deployment);
});

it('merges billing and deployment one level, internal and external replacing each other', () => {
  const next = mergeJobSpec(base, { billing: { deploymentPlan: 'nf-compute-50' }, deployment: { external: { imagePath: 'registry.local/tool:1' } } });
  assert.deepEqual(next.billing, { deploymentPlan: 'nf-compute-50', buildPlan: 'nf-compute-200' });
  assert.deepEqual(next.deployment, { external: { imagePath: 'registry.local/tool:1' }, gracePeriodSeconds: 10 });
  const back = mergeJobSpec(next, { deployment: { internal: { id: 'api' } } });
  assert.deepEqual(back.deployment, { internal: { id: 'api' }, gracePeriodSeconds: 10 });
});

it('keeps the name, which the id derives from', () => {
  assert.equal(mergeJobSpec(base, { name: 'other' } as never).name, 'nightly');
});

it('leaves the spec it was given as it was', () => {
  const copy = structuredClone(base);
  mergeJobSpec(base, { billing: { deploymentPlan: 'x' }, deployment: { internal: { id: 'y' } } });
  assert.deepEqual(base, copy);
});
