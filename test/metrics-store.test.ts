/**
 * The metrics store (migration 0015) on SQLite and PostgreSQL: points at the sampling period, aggregated at
 * any step (counts summed, gauges averaged with their max), folded into 1-minute roll-ups exactly once, and
 * pruned by age per tier.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { SUPPORTED_DATABASES, openTestStore } from './support/databases.ts';
import { MetricsRepo, type MetricPoint } from '../src/store/metrics-repo.ts';

const T0 = 1_796_540_400; // a whole minute (epoch seconds)

function point(ts: number, name: string, value: number, instanceId = ''): MetricPoint {
  return { tier: 0, ts, projectId: 'p', ownerKind: 'service', ownerId: 'web', instanceId, name, sum: value, count: 1, max: value };
}

for (const dbId of SUPPORTED_DATABASES) {
  describe(`metrics store on ${dbId}`, () => {
    it('sums counts and averages gauges per step, per instance, within the range', async () => {
      const { store, cleanup } = await openTestStore(dbId);
      try {
        const repo = new MetricsRepo(store.db);
        const points: MetricPoint[] = [];
        for (let i = 0; i < 12; i++) {
          points.push(point(T0 + i * 10, 'requests', 100 + i));
          points.push(point(T0 + i * 10, 'cpu_percent', i % 2 ? 30 : 10, 'web-a'));
          points.push(point(T0 + i * 10, 'cpu_percent', 50, 'web-b'));
        }
        points.push({ ...point(T0, 'requests', 999), ownerId: 'other' });
        await repo.insert(points);
        const rows = await repo.query({ projectId: 'p', ownerKind: 'service', ownerId: 'web', names: ['requests', 'cpu_percent'], tier: 0, fromTs: T0, toTs: T0 + 120, stepSeconds: 60 });
        const req = rows.filter((r) => r.name === 'requests');
        assert.deepEqual(req.map((r) => [r.ts, r.sum]), [
          [T0, 100 + 101 + 102 + 103 + 104 + 105],
          [T0 + 60, 106 + 107 + 108 + 109 + 110 + 111],
        ]);
        const a = rows.filter((r) => r.name === 'cpu_percent' && r.instanceId === 'web-a');
        assert.deepEqual(a.map((r) => [r.ts, r.sum / r.count, r.max]), [
          [T0, 20, 30],
          [T0 + 60, 20, 30],
        ]);
        assert.equal(rows.filter((r) => r.instanceId === 'web-b').length, 2);
        const narrow = await repo.query({ projectId: 'p', ownerKind: 'service', ownerId: 'web', names: ['requests'], tier: 0, fromTs: T0 + 30, toTs: T0 + 50, stepSeconds: 10 });
        assert.deepEqual(narrow.map((r) => r.sum), [103, 104]);
      } finally {
        await cleanup();
      }
    });

    it('stores a pass of thousands of points whole, letting the event loop in between its chunks', async () => {
      const { store, cleanup } = await openTestStore(dbId);
      try {
        const repo = new MetricsRepo(store.db);
        const points = Array.from({ length: 5000 }, (_, i) => point(T0, 'memory_bytes', i, `web-${i}`));
        let callbacksMeanwhile = 0;
        let stored = false;
        const tick = () => {
          if (stored) return;
          callbacksMeanwhile++;
          setImmediate(tick);
        };
        setImmediate(tick);
        await repo.insert(points);
        stored = true;
        // On SQLite nothing in an insert waits on I/O: without turns of the loop between its chunks, the
        // other callbacks (an API request) would wait for all of it.
        assert.ok(callbacksMeanwhile >= 5, `${callbacksMeanwhile} turns of the loop during the insert`);
        const rows = await repo.query({ projectId: 'p', ownerKind: 'service', ownerId: 'web', names: ['memory_bytes'], tier: 0, fromTs: T0, toTs: T0 + 10, stepSeconds: 10 });
        assert.equal(rows.length, 5000);
      } finally {
        await cleanup();
      }
    });

    it("marks a service's rollout and scaling events in a range, and nothing else", async () => {
      const { store, cleanup } = await openTestStore(dbId);
      try {
        const repo = new MetricsRepo(store.db);
        await store.projects.create({ id: 'p', name: 'p', spec: {} });
        const before = Date.now() / 1000 - 1;
        await store.events.append({ projectId: 'p', serviceId: 'web', kind: 'rollout', reason: 'Completed', message: 'release 2: 2/2 instances ready' });
        await store.events.append({ projectId: 'p', serviceId: 'web', kind: 'autoscale', reason: 'ScaledUp', message: 'rps 240/instance > target 100: 1 -> 3' });
        await store.events.append({ projectId: 'p', serviceId: 'web', kind: 'build', reason: 'Queued', message: 'build queued' });
        await store.events.append({ projectId: 'p', serviceId: 'other', kind: 'rollout', reason: 'Completed', message: 'not this service' });
        const marked = await repo.markers('p', 'web', before, Date.now() / 1000 + 1);
        assert.deepEqual(marked.map((m) => `${m.kind}/${m.reason}`), ['rollout/Completed', 'autoscale/ScaledUp']);
        assert.deepEqual(await repo.markers('p', 'web', before - 3600, before - 60), []);
      } finally {
        await cleanup();
      }
    });

    it('folds whole minutes into roll-ups once, keeping sums, counts and maxima, and prunes each tier by age', async () => {
      const { store, cleanup } = await openTestStore(dbId);
      try {
        const repo = new MetricsRepo(store.db);
        const points: MetricPoint[] = [];
        for (let i = 0; i < 18; i++) points.push(point(T0 + i * 10, 'requests', 10), point(T0 + i * 10, 'memory_bytes', 1000 + i, 'web-a'));
        await repo.insert(points);
        // At T0+150 two minutes are whole; the third is not folded yet.
        assert.equal(await repo.rollup(T0 + 150), 2);
        assert.equal(await repo.rollup(T0 + 150), 0, 'a repeated roll-up folds nothing');
        let rolled = await repo.query({ projectId: 'p', ownerKind: 'service', ownerId: 'web', names: ['requests', 'memory_bytes'], tier: 1, fromTs: T0, toTs: T0 + 600, stepSeconds: 60 });
        assert.deepEqual(rolled.filter((r) => r.name === 'requests').map((r) => [r.ts, r.sum, r.count]), [
          [T0, 60, 6],
          [T0 + 60, 60, 6],
        ]);
        assert.deepEqual(rolled.filter((r) => r.name === 'memory_bytes').map((r) => [r.sum / r.count, r.max]), [
          [1002.5, 1005],
          [1008.5, 1011],
        ]);
        assert.equal(await repo.rollup(T0 + 200), 1);
        rolled = await repo.query({ projectId: 'p', ownerKind: 'service', ownerId: 'web', names: ['requests'], tier: 1, fromTs: T0, toTs: T0 + 600, stepSeconds: 120 });
        assert.deepEqual(rolled.map((r) => [r.ts, r.sum]), [
          [T0, 120],
          [T0 + 120, 60],
        ]);
        assert.equal(await repo.rolledUntil(), T0 + 180);

        await repo.prune(0, T0 + 90);
        const raw = await repo.query({ projectId: 'p', ownerKind: 'service', ownerId: 'web', names: ['requests'], tier: 0, fromTs: 0, toTs: T0 + 600, stepSeconds: 10 });
        assert.equal(raw[0].ts, T0 + 90);
        assert.equal(raw.length, 9);
        await repo.prune(1, T0 + 60);
        const kept = await repo.query({ projectId: 'p', ownerKind: 'service', ownerId: 'web', names: ['requests'], tier: 1, fromTs: 0, toTs: T0 + 600, stepSeconds: 60 });
        assert.deepEqual(kept.map((r) => r.ts), [T0 + 60, T0 + 120]);
      } finally {
        await cleanup();
      }
    });
  });
}
