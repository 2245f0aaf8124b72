/**
 * A service's rollout history through the native API, past the 50 the list shows: one rollout, its events,
 * and a release by number are found however old they are, each with its own release numbers and events.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { api, fixtureRepo, startTestPlatform, waitFor, type RunningPlatform } from './support/platform.ts';

const BASE = '/projects/hist/services/web';
/** More rollouts than the list shows (50). */
const ROLLOUTS = 56;

interface RolloutView {
  number: number;
  status: string;
  fromRelease: number | null;
  toRelease: number | null;
  events: { id: number; message: string }[];
}

describe('rollout history', () => {
  let p: RunningPlatform;
  const repo = fixtureRepo('hello');

  before(async () => {
    p = await startTestPlatform();
    assert.equal((await api(p, 'POST', '/v1/projects', { name: 'hist' })).status, 200);
    const created = await api(p, 'POST', '/v1/projects/hist/services/combined', {
      name: 'web',
      billing: { deploymentPlan: 'nf-compute-10' },
      deployment: { instances: 1 },
      vcsData: { projectUrl: repo.dir, projectType: 'self-hosted', projectBranch: 'main' },
      ports: [{ name: 'p01', internalPort: 8080, public: true, protocol: 'HTTP' }],
      runtimeEnvironment: { GREETING: 'r1' },
    });
    assert.equal(created.status, 200, JSON.stringify(created.body));
    await waitFor(async () => (await api(p, 'GET', '/v1/projects/hist/services/web')).body.data.status.deployment.status === 'COMPLETED', 120_000, 'first rollout');
    // Release 2, so that rollouts move between two releases.
    await api(p, 'PATCH', '/v1/projects/hist/services/combined/web', { runtimeEnvironment: { GREETING: 'r2' } });
    // Each one supersedes the one before: the history grows without waiting for instances.
    for (let i = 0; i < ROLLOUTS; i++) {
      const res = await api(p, 'POST', `${BASE}/rollouts`, { strategy: 'rolling', release: (i % 2) + 1 });
      assert.equal(res.status, 200, JSON.stringify(res.body));
    }
    await waitFor(async () => (await api(p, 'GET', `${BASE}/rollouts`)).body.rollouts[0].status !== 'IN_PROGRESS', 120_000, 'the last rollout ends');
  });

  after(() => p?.stop());

  it('lists the newest 50, newest first, each with its release numbers and its own events', async () => {
    const list = (await api(p, 'GET', `${BASE}/rollouts`)).body.rollouts as RolloutView[];
    assert.equal(list.length, 50);
    const numbers = list.map((r) => r.number);
    assert.deepEqual(numbers, [...numbers].sort((a, b) => b - a));
    const newest = numbers[0]!;
    assert.ok(newest >= ROLLOUTS + 2, `newest rollout ${newest}`);
    for (const r of list) {
      assert.ok(r.toRelease === 1 || r.toRelease === 2, JSON.stringify(r));
      assert.ok(r.events.length > 0, `rollout ${r.number} has events`);
      // Each rollout's events are its own: read one by one, they are the same.
      const own = (await api(p, 'GET', `${BASE}/rollouts/${r.number}/events`)).body.events as { id: number }[];
      assert.deepEqual(r.events.map((e) => e.id), own.map((e) => e.id), `rollout ${r.number}`);
    }
    // Those of the loop alternate between release 1 and 2 (the newest went to release 2 or 1 by its place).
    const fromLoop = list.filter((r) => r.number > 2);
    for (const r of fromLoop) assert.notEqual(r.toRelease, list.find((x) => x.number === r.number - 1)?.toRelease, `rollout ${r.number} and the one before go to different releases`);
  });

  it('finds one rollout and its events however old, and says 404 for a number that never was', async () => {
    const first = await api(p, 'GET', `${BASE}/rollouts/1`);
    assert.equal(first.status, 200, JSON.stringify(first.body));
    const r = first.body as RolloutView;
    assert.equal(r.number, 1);
    assert.equal(r.toRelease, 1);
    assert.equal(r.fromRelease, null);
    assert.equal(r.status, 'COMPLETED');
    assert.ok(r.events.some((e) => /completed/.test(e.message)), JSON.stringify(r.events));
    const events = await api(p, 'GET', `${BASE}/rollouts/1/events`);
    assert.equal(events.status, 200);
    assert.equal(events.body.status, 'COMPLETED');
    assert.deepEqual(events.body.events.map((e: { id: number }) => e.id), r.events.map((e) => e.id));
    // The third: the first POST of the loop, back to release 1 from release 2 (done at once or superseded).
    const third = (await api(p, 'GET', `${BASE}/rollouts/3`)).body as RolloutView;
    assert.equal(third.toRelease, 1);
    assert.equal(third.fromRelease, 2);
    assert.ok(['COMPLETED', 'SUPERSEDED'].includes(third.status), third.status);
    assert.equal((await api(p, 'GET', `${BASE}/rollouts/999`)).status, 404);
    assert.equal((await api(p, 'GET', `${BASE}/rollouts/999/events`)).status, 404);
    assert.equal((await api(p, 'POST', `${BASE}/rollouts/1/continue`)).status, 409, 'an old rollout is found, and is not in progress');
  });
});
