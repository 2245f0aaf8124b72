import { it } from 'node:test';
import assert from 'node:assert/strict';
import { nextRollingStep, type RollingInput } from './rolling.ts';

const slot = (id: string, ordinal: number, ready: boolean) => ({ id, ordinal, ready });
const base: RollingInput = { desired: 2, maxSurge: 1, stopOldFirst: false, current: [], old: [], blockedOrdinals: new Set() };

const cases: { name: string; input: Partial<RollingInput>; start: number[]; stop: string[] }[] = [
  { name: 'fresh service starts every instance', input: {}, start: [0, 1], stop: [] },
  { name: 'rolling starts one surge instance while all old are ready', input: { old: [slot('o0', 0, true), slot('o1', 1, true)] }, start: [0], stop: [] },
  { name: 'does not stop old while the new one is not ready', input: { old: [slot('o0', 0, true), slot('o1', 1, true)], current: [slot('n0', 0, false)] }, start: [], stop: [] },
  { name: 'stops one old once a new one is ready', input: { old: [slot('o0', 0, true), slot('o1', 1, true)], current: [slot('n0', 0, true)] }, start: [1], stop: ['o1'] },
  { name: 'unready old instances are removed at once', input: { old: [slot('o0', 0, false), slot('o1', 1, true)], current: [slot('n0', 0, false)] }, start: [1], stop: ['o0'] },
  { name: 'scale down removes the highest ordinal', input: { desired: 1, current: [slot('n0', 0, true), slot('n1', 1, true)] }, start: [], stop: ['n1'] },
  { name: 'crash back-off holds an ordinal', input: { blockedOrdinals: new Set([0]) }, start: [1], stop: [] },
  { name: 'recreate stops old first', input: { stopOldFirst: true, maxSurge: 0, old: [slot('o0', 0, true)] }, start: [], stop: ['o0'] },
  { name: 'single instance starts the new one before stopping the old', input: { desired: 1, old: [slot('o0', 0, true)] }, start: [0], stop: [] },
  { name: 'a never-ready new release keeps the healthy old ones', input: { desired: 1, old: [slot('o0', 0, true)], current: [slot('n0', 0, false)] }, start: [], stop: [] },
  { name: 'a canary step starts its share of new instances beside all the old ones', input: { desired: 4, maxSurge: 1, currentTarget: 1, old: [slot('o0', 0, true), slot('o1', 1, true), slot('o2', 2, true), slot('o3', 3, true)] }, start: [0], stop: [] },
  { name: 'a canary step then retires one old instance and keeps the rest', input: { desired: 4, maxSurge: 1, currentTarget: 1, current: [slot('n0', 0, true)], old: [slot('o0', 0, true), slot('o1', 1, true), slot('o2', 2, true), slot('o3', 3, true)] }, start: [], stop: ['o3'] },
  { name: 'a traffic-percentage step keeps every old instance beside its new one', input: { desired: 4, maxSurge: 1, currentTarget: 1, oldKeep: 4, current: [slot('n0', 0, true)], old: [slot('o0', 0, true), slot('o1', 1, true), slot('o2', 2, true), slot('o3', 3, true)] }, start: [], stop: [] },
  { name: 'a reached canary step holds', input: { desired: 4, maxSurge: 1, currentTarget: 1, current: [slot('n0', 0, true)], old: [slot('o0', 0, true), slot('o1', 1, true), slot('o2', 2, true)] }, start: [], stop: [] },
  { name: 'an unproven new release keeps the last ready old instance', input: { keepLastOld: true, old: [slot('o0', 0, true)], current: [slot('n0', 0, true), slot('n1', 1, true)] }, start: [], stop: [] },
  { name: 'an unproven new release still replaces every old instance but the last', input: { desired: 3, maxSurge: 2, keepLastOld: true, old: [slot('o0', 0, true), slot('o1', 1, true), slot('o2', 2, true)], current: [slot('n0', 0, true), slot('n1', 1, true), slot('n2', 2, true)] }, start: [], stop: ['o2', 'o1'] },
  { name: 'a proven new release lets the last old instance go', input: { keepLastOld: false, old: [slot('o0', 0, true)], current: [slot('n0', 0, true), slot('n1', 1, true)] }, start: [], stop: ['o0'] },
];

for (const c of cases) {
  it(c.name, () => {
    const step = nextRollingStep({ ...base, ...c.input });
    assert.deepEqual(step.start, c.start);
    assert.deepEqual(step.stop, c.stop);
  });
}

it('plans a rolling rollout of 3 instances one surge at a time, peaking at 4', async () => {
  const { planRollout } = await import('./rolling.ts');
  const plan = planRollout({ desired: 3, oldCount: 3, strategy: 'rollout-steady', memoryMb: 512 });
  assert.equal(plan.peakInstances, 4);
  assert.equal(plan.peakMemoryMb, 2048);
  const last = plan.steps.at(-1)!;
  assert.deepEqual([last.oldInstances, last.newInstances], [0, 3]);
  const recreate = planRollout({ desired: 3, oldCount: 3, strategy: 'recreate', memoryMb: 512 });
  assert.equal(recreate.peakInstances, 3);
  assert.deepEqual([recreate.steps[0].oldInstances, recreate.steps[0].newInstances], [0, 0]);
});
