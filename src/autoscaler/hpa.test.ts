import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { combine, normalize, perInstanceReplicas, scaleUpLimit, stabilize, totalReplicas, withinTolerance } from './hpa.ts';

const ready = (...values: (number | undefined)[]) => values.map((value) => ({ ready: true, value }));

describe('HPA: one per-instance metric', () => {
  it('desired = ceil(current × value / target)', () => {
    assert.deepEqual(perInstanceReplicas(1, 50, ready(180)), { replicas: 4, value: 180 });
    assert.deepEqual(perInstanceReplicas(3, 50, ready(10, 20, 30)), { replicas: 2, value: 20 }); // ceil(0.4 × 3)
    assert.equal(perInstanceReplicas(2, 10, ready(0, 0))!.replicas, 0);
  });

  it('leaves the count alone within the 10% tolerance, and acts just outside it', () => {
    assert.equal(withinTolerance(1.09), true);
    assert.equal(withinTolerance(0.91), true);
    assert.equal(withinTolerance(1.11), false);
    assert.equal(perInstanceReplicas(4, 100, ready(109, 109, 109, 109))!.replicas, 4);
    assert.equal(perInstanceReplicas(4, 100, ready(91, 91, 91, 91))!.replicas, 4);
    assert.equal(perInstanceReplicas(4, 100, ready(112, 112, 112, 112))!.replicas, 5);
    assert.equal(perInstanceReplicas(4, 100, ready(80, 80, 80, 80))!.replicas, 4); // ceil(0.8 × 4) = 4: no change either way
    assert.equal(perInstanceReplicas(4, 100, ready(70, 70, 70, 70))!.replicas, 3);
  });

  it('has nothing to say without a sample', () => {
    assert.equal(perInstanceReplicas(2, 50, ready(undefined, undefined)), undefined);
    assert.equal(perInstanceReplicas(2, 50, []), undefined);
  });

  it('counts missing instances as 0 on a scale-up', () => {
    // Ready ones at 200% of a 100 target, one missing: (200 + 200 + 0) / 3 = 133% → ceil(1.33 × 3) = 4.
    assert.deepEqual(perInstanceReplicas(3, 100, ready(200, 200, undefined)), { replicas: 4, value: 200 });
  });

  it('counts missing instances as at the target on a scale-down', () => {
    // (20 + 100) / 2 = 60% → ceil(0.6 × 2) = 2: the missing one keeps the count.
    assert.equal(perInstanceReplicas(2, 100, ready(20, undefined))!.replicas, 2);
    // (10 + 10 + 10 + 100) / 4 = 32.5% → ceil(0.325 × 4) = 2.
    assert.equal(perInstanceReplicas(4, 100, ready(10, 10, 10, undefined))!.replicas, 2);
  });

  it('does not scale when the assumption for missing instances turns the direction around', () => {
    // Ready at 120 (up), two missing counted as 0: (120 + 0 + 0) / 3 = 40 → would be a scale-down: hold.
    assert.equal(perInstanceReplicas(3, 100, ready(120, undefined, undefined))!.replicas, 3);
  });

  it('sets not-ready instances aside for CPU and counts them as 0 on a scale-up', () => {
    const samples = [
      { ready: true, value: 300 },
      { ready: false, value: 400 }, // a start-up burst says nothing about load
    ];
    // Only the ready one judges: 300% of 100 → up; the unready one counted as 0: (300 + 0) / 2 = 150% → 3.
    assert.deepEqual(perInstanceReplicas(2, 100, samples, { unreadyAside: true }), { replicas: 3, value: 300 });
    // Without setting aside (memory, user metrics): (300 + 400) / 2 = 350% → 7.
    assert.equal(perInstanceReplicas(2, 100, samples)!.replicas, 7);
    // Scaling down, a not-ready instance is simply left out.
    assert.equal(perInstanceReplicas(2, 100, [{ ready: true, value: 10 }, { ready: false, value: 400 }], { unreadyAside: true })!.replicas, 1);
  });
});

describe('HPA: a service-wide total (requests per second)', () => {
  it('desired = ceil(total / target per instance)', () => {
    assert.deepEqual(totalReplicas(1, 100, 240), { replicas: 3, value: 240 });
    assert.deepEqual(totalReplicas(3, 100, 240), { replicas: 3, value: 80 }); // 240/300 = 0.8: ceil(2.4) = 3
    assert.equal(totalReplicas(3, 100, 0)!.replicas, 0);
    assert.equal(totalReplicas(2, 100, 210)!.replicas, 2); // 1.05: within tolerance
    assert.equal(totalReplicas(0, 100, 10), undefined);
  });
});

describe('HPA: several metrics', () => {
  it('takes the most demanding one', () => {
    const r = combine(2, [
      { name: 'cpu', target: 50, value: 40, replicas: 2 },
      { name: 'rps', target: 100, value: 250, replicas: 5 },
    ], 0);
    assert.equal(r.replicas, 5);
    assert.equal(r.by?.name, 'rps');
  });

  it('an unreadable metric blocks a scale-down, not a scale-up', () => {
    assert.equal(combine(4, [{ name: 'cpu', target: 50, value: 5, replicas: 1 }], 1).replicas, 4);
    assert.equal(combine(4, [{ name: 'cpu', target: 50, value: 100, replicas: 8 }], 1).replicas, 8);
    assert.equal(combine(4, [], 2).replicas, 4);
  });
});

describe('HPA: stabilization and bounds', () => {
  const W = 300_000;

  it('scales up at once', () => {
    const s = stabilize(1, 3, [{ replicas: 1, at: 0 }], 10_000, W);
    assert.equal(s.replicas, 3);
  });

  it('scales down only to the highest recommendation of the window', () => {
    let h = [{ replicas: 5, at: 0 }];
    let s = stabilize(5, 1, h, 100_000, W);
    assert.equal(s.replicas, 5, 'the 5 of t=0 is inside the window');
    h = s.history;
    s = stabilize(5, 2, h, 200_000, W);
    assert.equal(s.replicas, 5);
    h = s.history;
    s = stabilize(5, 1, h, 300_001, W);
    assert.equal(s.replicas, 2, 't=0 left the window; the 2 of t=200 s is the highest left');
    h = s.history;
    s = stabilize(2, 1, h, 500_001, W);
    assert.equal(s.replicas, 1);
    assert.ok(s.history.every((r) => r.at > 500_001 - W));
  });

  it('keeps the count inside [min, max] and limits a scale-up to double or +4', () => {
    assert.deepEqual(normalize(1, 20, { min: 1, max: 50 }), { replicas: 5, limitedBy: 'scaleUpLimit' });
    assert.equal(scaleUpLimit(10), 20);
    assert.deepEqual(normalize(1, 4, { min: 1, max: 3 }), { replicas: 3, limitedBy: 'max' });
    assert.deepEqual(normalize(3, 0, { min: 2, max: 5 }), { replicas: 2, limitedBy: 'min' });
    assert.deepEqual(normalize(3, 3, { min: 1, max: 5 }), { replicas: 3 });
    assert.deepEqual(normalize(6, 6, { min: 1, max: 4 }), { replicas: 4, limitedBy: 'max' }, 'a count above max comes down at once');
  });
});
