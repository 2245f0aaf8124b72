import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseFlow, resolveExpressions, type StageResource } from './template.ts';

const resources: StageResource[] = [
  { id: 'builder', type: 'service', stage: null, serviceKind: 'build' },
  { id: 'web-staging', type: 'service', stage: 'Staging', serviceKind: 'deployment' },
  { id: 'web', type: 'service', stage: 'Production', serviceKind: 'deployment' },
  { id: 'db', type: 'addon', stage: 'Production' },
  { id: 'migrate', type: 'job', stage: 'Production' },
  { id: 'seed', type: 'job', stage: 'Staging' },
];
const ctx = { stage: 'Production' as const, resources, previousStage: 'Staging' as const };
const seq = (...steps: unknown[]) => ({ kind: 'Workflow', spec: { type: 'sequential', steps } });
const par = (...steps: unknown[]) => ({ kind: 'Workflow', spec: { type: 'parallel', steps } });
const backup = { kind: 'AddonBackup', ref: 'b', spec: { addonId: 'db' }, condition: 'success' };
const migrate = { kind: 'JobRun', ref: 'm', spec: { jobId: 'migrate' }, condition: 'success' };
const promote = { kind: 'Release', ref: 'p', spec: { type: 'deployment', origin: { id: 'web-staging', type: 'service' }, target: { id: 'web', type: 'service' } } };

describe('release flow templates', () => {
  it('orders a sequential workflow: each node waits for every leaf of the step before it', () => {
    const { leaves, problems } = parseFlow(seq(backup, par(migrate, { ...backup, ref: 'b2' }), promote), ctx);
    assert.deepEqual(problems, []);
    const after = Object.fromEntries(leaves.map((l) => [l.ref, l.after]));
    assert.deepEqual(after.b, []);
    assert.deepEqual(after.m, ['spec.spec.steps[0]']);
    assert.deepEqual(after.b2, ['spec.spec.steps[0]']);
    assert.deepEqual(after.p, ['spec.spec.steps[1].spec.steps[0]', 'spec.spec.steps[1].spec.steps[1]']);
  });

  it('names the path of each bad node and the rule it breaks', () => {
    const cases: [unknown, string, string][] = [
      [seq(backup, { kind: 'Nope', spec: {} }), 'spec.spec.steps[1].kind', 'kind'],
      [seq({ kind: 'JobRun', spec: { jobId: 'gone' } }), 'spec.spec.steps[0].spec.jobId', 'exists'],
      [seq({ kind: 'JobRun', spec: { jobId: 'seed' } }), 'spec.spec.steps[0].spec.jobId', 'stage'],
      [seq({ ...promote, spec: { ...promote.spec, origin: { id: 'web', type: 'service' } } }), 'spec.spec.steps[0].spec.origin.id', 'stage'],
      [seq({ kind: 'Release', spec: { type: 'build', origin: { id: 'web-staging' }, target: { id: 'web', type: 'service' } } }), 'spec.spec.steps[0].spec.origin.id', 'buildService'],
      [seq({ ...migrate, spec: { jobId: 'migrate', command: '${refs.x.id}' } }), 'spec.spec.steps[0].spec.command', 'ref'],
      [seq({ ...migrate, spec: { jobId: 'migrate', command: '${refs.p.id}' } }, promote), 'spec.spec.steps[0]', 'cycle'],
      [seq(backup, { ...backup }), 'spec.spec.steps[1].ref', 'unique'],
      [seq({ ...migrate, slipway: { phase: 'contract' } }, promote), 'spec.spec.steps[0]', 'cycle'],
      [seq({ ...backup, slipway: { phase: 'expand' } }), 'spec.spec.steps[0].slipway.phase', 'enum'],
    ];
    for (const [spec, field, rule] of cases) {
      const { problems } = parseFlow(spec, ctx);
      assert.ok(problems.some((p) => p.field === field && p.rule === rule), `${field} ${rule} in ${JSON.stringify(problems)}`);
    }
  });

  it('binds expand nodes before every release node and contract/revert-expand nodes after them', () => {
    const { leaves, problems } = parseFlow(seq({ ...migrate, ref: 'e', slipway: { phase: 'expand' } }, promote, { ...migrate, ref: 'c', slipway: { phase: 'contract' } }, { ...migrate, ref: 'r', slipway: { phase: 'revert-expand' } }), ctx);
    assert.deepEqual(problems, []);
    const after = Object.fromEntries(leaves.map((l) => [l.ref, l.after]));
    assert.deepEqual(after.p, ['spec.spec.steps[0]']);
    assert.deepEqual(after.c, ['spec.spec.steps[1]']);
    // revert-expand does not wait for the nodes a failure skips (contract), only for expand and release nodes.
    assert.deepEqual(after.r.sort(), ['spec.spec.steps[0]', 'spec.spec.steps[1]']);
  });

  it('resolves arguments and node outputs, keeping the type of a whole-string reference', () => {
    const { value, missing } = resolveExpressions({ a: '${args.N}', b: 'build ${refs.p.buildId}!', c: '${args.GONE}' }, { args: { N: 3 }, refs: { p: { buildId: 'x1' } } });
    assert.deepEqual(value, { a: 3, b: 'build x1!', c: undefined });
    assert.deepEqual(missing, ['args.GONE']);
  });
});
