/**
 * The deployment engine through the API: every release is a rollout with ordered events; a release whose
 * readiness never passes fails at its progress deadline and the service returns to its last good release
 * without a failed request; rollback goes to the last good release; a dry run plans without acting; a
 * control plane killed mid-rollout finishes it after restart.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { api, fixtureRepo, routerLoad, startTestPlatform, waitFor, type RunningPlatform } from './support/platform.ts';

const HOST = 'web.roll.localhost';
const SVC = '/v1/projects/roll/services/web';

describe('rollouts', () => {
  let p: RunningPlatform;
  const repo = fixtureRepo('hello');
  const status = async () => (await api(p, 'GET', SVC)).body.data.status.deployment;
  const rollouts = async () => (await api(p, 'GET', '/projects/roll/services/web/rollouts')).body.rollouts;
  const running = async () => (await api(p, 'GET', `${SVC}/containers`)).body.data.containers as { release: number; ready: boolean }[];

  before(async () => {
    p = await startTestPlatform({ SLIPWAY_PROGRESS_DEADLINE_SECONDS: '20' });
    assert.equal((await api(p, 'POST', '/v1/projects', { name: 'roll' })).status, 200);
    const created = await api(p, 'POST', '/v1/projects/roll/services/combined', {
      name: 'web',
      billing: { deploymentPlan: 'nf-compute-20' },
      deployment: { instances: 2 },
      vcsData: { projectUrl: repo.dir, projectType: 'self-hosted', projectBranch: 'main' },
      ports: [{ name: 'p01', internalPort: 8080, public: true, protocol: 'HTTP' }],
      healthChecks: [{ protocol: 'HTTP', type: 'readinessProbe', path: '/health', port: 8080, initialDelaySeconds: 1, periodSeconds: 10, timeoutSeconds: 1, failureThreshold: 1, successThreshold: 1 }],
      runtimeEnvironment: { GREETING: 'v1' },
    });
    assert.equal(created.status, 200, JSON.stringify(created.body));
    await waitFor(async () => (await status()).status === 'COMPLETED', 120_000, 'v1 COMPLETED');
  });
  after(async () => {
    await p?.stop();
  });

  it('records each rollout with its ordered events', async () => {
    const [first] = await rollouts();
    assert.equal(first.status, 'COMPLETED');
    assert.equal(first.toRelease, 1);
    assert.equal(first.kind, 'deploy');
    assert.match(first.events[0].message, /deploy to release 1 started/);
    assert.match(first.events.at(-1).message, /completed: release 1: 2\/2 instances ready/);
  });

  it('fails a never-ready release at its deadline, says why, and returns to the last good release with no failed request', async () => {
    const load = routerLoad(p, HOST);
    await api(p, 'PATCH', '/v1/projects/roll/services/combined/web', { runtimeEnvironment: { GREETING: 'broken', HEALTH_STATUS: '500' } });
    await waitFor(async () => (await status()).status === 'FAILED', 60_000, 'FAILED');
    await waitFor(async () => {
      const c = await running();
      return c.length === 2 && c.every((x) => x.release === 1 && x.ready);
    }, 60_000, 'back on release 1 only');
    await load.stop();
    assert.equal(load.stats.failed, 0, `no failed request (${load.stats.ok} ok)`);
    assert.deepEqual([...load.stats.seen.keys()], ['v1']);
    const [back, failed] = await rollouts();
    assert.equal(failed.status, 'FAILED');
    assert.equal(failed.toRelease, 2);
    assert.ok(failed.events.some((e: { message: string }) => /failing readiness: HTTP 500 on \/health/.test(e.message)), JSON.stringify(failed.events));
    assert.equal(back.kind, 'return');
    assert.equal(back.toRelease, 1);
    await waitFor(async () => (await rollouts())[0].status === 'COMPLETED', 30_000, 'return completed');
    assert.match((await status()).message ?? (await api(p, 'GET', SVC)).body.data.status.deployment.message ?? '', /returned to release 1/);
  });

  it('plans a rollout without touching anything', async () => {
    const before_ = await running();
    const plan = await api(p, 'POST', '/projects/roll/services/web/rollouts/plan', { instances: 3 });
    assert.equal(plan.status, 200, JSON.stringify(plan.body));
    assert.equal(plan.body.peakInstances, 4);
    assert.equal(plan.body.peakMemoryMb, 4 * 512);
    assert.deepEqual([plan.body.steps.at(-1).oldInstances, plan.body.steps.at(-1).newInstances], [0, 3]);
    assert.deepEqual(await running(), before_);
  });

  it('rolls back to the last good release', async () => {
    await api(p, 'PATCH', '/v1/projects/roll/services/combined/web', { runtimeEnvironment: { GREETING: 'v3' } });
    await waitFor(async () => (await status()).status === 'COMPLETED', 60_000, 'v3 COMPLETED');
    const v3 = (await running())[0].release;
    const rb = await api(p, 'POST', '/projects/roll/services/web/rollback');
    assert.equal(rb.status, 200, JSON.stringify(rb.body));
    assert.equal(rb.body.release, 1, 'the failed release 2 is skipped');
    await waitFor(async () => (await status()).status === 'COMPLETED' && (await running()).every((c) => c.release === 1), 60_000, 'rolled back');
    const explicit = await api(p, 'POST', '/projects/roll/services/web/rollback', { release: v3 });
    assert.equal(explicit.body.release, v3);
    await waitFor(async () => (await running()).length === 2 && (await running()).every((c) => c.release === v3 && c.ready), 60_000, 'forward again');
    assert.equal((await api(p, 'POST', '/projects/roll/services/web/rollback', { release: 99 })).status, 400);
  });

  it('finishes a rollout after the control plane is killed in the middle of it', async () => {
    await api(p, 'PATCH', '/v1/projects/roll/services/combined/web', { deployment: { instances: 3 }, runtimeEnvironment: { GREETING: 'v4' } });
    // Killed at once: the new release's first instance is at most starting.
    await p.kill9();
    await p.restart();
    await waitFor(async () => {
      const c = await running();
      return (await status()).status === 'COMPLETED' && c.length === 3 && c.every((x) => x.ready) && new Set(c.map((x) => x.release)).size === 1;
    }, 60_000, 'rollout completed after restart');
    const last = (await rollouts())[0];
    assert.equal(last.status, 'COMPLETED');
    assert.equal(last.toRelease, (await running())[0].release);
  });

  it('streams the events of a rollout as Server-Sent Events until it ends', async () => {
    await api(p, 'PATCH', '/v1/projects/roll/services/combined/web', { runtimeEnvironment: { GREETING: 'v1', STREAMED: '1' } });
    const [r] = await rollouts();
    const res = await fetch(`${p.apiUrl}/projects/roll/services/web/rollouts/${r.number}/events`, { headers: { authorization: `Bearer ${p.token}`, accept: 'text/event-stream' } });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /text\/event-stream/);
    const text = await res.text(); // the server ends the stream when the rollout is over
    const frames = text.trim().split('\n\n').map((f) => Object.fromEntries(f.split('\n').map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 2)])));
    const events = frames.filter((f) => f.event === 'rollout').map((f) => ({ id: Number(f.id), ...JSON.parse(f.data) }));
    assert.match(events[0].message, /started/);
    assert.match(events.at(-1)!.message, /completed/);
    assert.deepEqual(events.map((e) => e.id), [...events.map((e) => e.id)].sort((a, b) => a - b));
    assert.deepEqual(JSON.parse(frames.at(-1)!.data), { status: 'COMPLETED' });
    assert.equal(frames.at(-1)!.event, 'end');
    const resumed = await fetch(`${p.apiUrl}/projects/roll/services/web/rollouts/${r.number}/events`, { headers: { authorization: `Bearer ${p.token}`, accept: 'text/event-stream', 'last-event-id': String(events.at(-2)!.id) } });
    const again = (await resumed.text()).split('\n\n').filter((f) => f.includes('event: rollout'));
    assert.equal(again.length, 1, 'Last-Event-ID resumes after that event');
    const json = await api(p, 'GET', `/projects/roll/services/web/rollouts/${r.number}/events`);
    assert.equal(json.body.status, 'COMPLETED');
    assert.equal(json.body.events.length, events.length);
  });

  it('redeploys every instance at once and keeps the old ones for the overlap after the new are ready', async () => {
    const desired = (await api(p, 'GET', SVC)).body.data.deployment.instances as number;
    await waitFor(async () => (await rollouts())[0].status === 'COMPLETED' && (await running()).length === desired, 60_000, 'settled before the redeploy');
    const load = routerLoad(p, HOST);
    const before_ = (await running()).map((c) => c.release);
    const res = await api(p, 'POST', '/projects/roll/services/web/redeploy', { overlapSeconds: 2 });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const next = res.body.release as number;
    assert.ok(before_.every((r) => r < next));
    // Both generations ready side by side: the overlap.
    await waitFor(async () => {
      const c = await running();
      return c.filter((x) => x.release === next && x.ready).length === before_.length && c.filter((x) => x.release !== next && x.ready).length === before_.length;
    }, 60_000, 'old and new ready together');
    const [r] = await rollouts();
    assert.ok(r.events.some((e: { message: string }) => /overlap/.test(e.message)), JSON.stringify(r.events));
    await waitFor(async () => {
      const c = await running();
      return c.length === before_.length && c.every((x) => x.release === next);
    }, 60_000, 'old ones gone after the overlap');
    await load.stop();
    assert.equal(load.stats.failed, 0);
    await waitFor(async () => (await rollouts())[0].status === 'COMPLETED', 30_000, 'redeploy COMPLETED');
    const bad = await api(p, 'POST', '/projects/roll/services/web/redeploy', { overlapSeconds: -1 });
    assert.equal(bad.status, 400);
  });
});

describe('canary rollouts', () => {
  let p: RunningPlatform;
  const repo = fixtureRepo('hello');
  const base = '/projects/roll/services/web';
  const running = async () => (await api(p, 'GET', `${SVC}/containers`)).body.data.containers as { release: number; ready: boolean; state: string }[];
  const byRelease = async () => {
    const c = (await running()).filter((x) => x.ready && x.state !== 'stopping');
    const m: Record<number, number> = {};
    for (const x of c) m[x.release] = (m[x.release] ?? 0) + 1;
    return m;
  };

  before(async () => {
    p = await startTestPlatform();
    await api(p, 'POST', '/v1/projects', { name: 'roll' });
    await api(p, 'POST', '/v1/projects/roll/services/combined', {
      name: 'web',
      billing: { deploymentPlan: 'nf-compute-20' },
      deployment: { instances: 4 },
      vcsData: { projectUrl: repo.dir, projectType: 'self-hosted', projectBranch: 'main' },
      ports: [{ name: 'p01', internalPort: 8080, public: true, protocol: 'HTTP' }],
      runtimeEnvironment: { GREETING: 'v1' },
    });
    await waitFor(async () => (await api(p, 'GET', SVC)).body.data.status.deployment.status === 'COMPLETED', 120_000, 'v1');
    // A second release, rolled out normally, then back to release 1, so canaries move 1 → 2.
    await api(p, 'PATCH', '/v1/projects/roll/services/combined/web', { runtimeEnvironment: { GREETING: 'v2' } });
    await waitFor(async () => (await api(p, 'GET', SVC)).body.data.status.deployment.status === 'COMPLETED', 60_000, 'v2');
    await api(p, 'POST', `${base}/rollback`, { release: 1 });
    await waitFor(async () => JSON.stringify(await byRelease()) === '{"1":4}', 60_000, 'back on 1');
  });
  after(async () => {
    await p?.stop();
  });

  it('moves in weighted steps, pausing at each until continued, with traffic split by instances', async () => {
    const load = routerLoad(p, HOST);
    const started = await api(p, 'POST', `${base}/rollouts`, { release: 2, strategy: 'canary', canary: { steps: [{ instanceWeight: 25 }, { instanceWeight: 50 }] } });
    assert.equal(started.status, 200, JSON.stringify(started.body));
    const n = started.body.number;
    await waitFor(async () => (await api(p, 'GET', `${base}/rollouts`)).body.rollouts[0].canary?.paused === true, 60_000, 'paused at step 1');
    assert.deepEqual(await byRelease(), { 1: 3, 2: 1 });
    await new Promise((r) => setTimeout(r, 500));
    assert.deepEqual(await byRelease(), { 1: 3, 2: 1 }, 'holds while paused');
    assert.equal((await api(p, 'GET', SVC)).body.data.status.deployment.status, 'IN_PROGRESS');
    await api(p, 'POST', `${base}/rollouts/${n}/continue`);
    await waitFor(async () => {
      const r = (await api(p, 'GET', `${base}/rollouts`)).body.rollouts[0];
      return r.canary?.paused === true && r.canary.currentStep === 2;
    }, 60_000, 'paused at step 2');
    assert.deepEqual(await byRelease(), { 1: 2, 2: 2 });
    await api(p, 'POST', `${base}/rollouts/${n}/continue`);
    await waitFor(async () => (await api(p, 'GET', `${base}/rollouts`)).body.rollouts[0].status === 'COMPLETED', 60_000, 'completed');
    await waitFor(async () => JSON.stringify(await byRelease()) === '{"2":4}', 30_000, 'all on 2');
    await load.stop();
    assert.equal(load.stats.failed, 0, `no failed request (${load.stats.ok} ok)`);
    assert.deepEqual([...load.stats.seen.keys()].sort(), ['v1', 'v2']);
    const events = (await api(p, 'GET', `${base}/rollouts`)).body.rollouts[0].events.map((e: { message: string }) => e.message);
    assert.ok(events.some((m: string) => /paused at canary step 1\/2 \(25%\)/.test(m)));
    assert.ok(events.some((m: string) => /continued/.test(m)));
  });

  it('cancels a canary and returns to the previous release with no failed request', async () => {
    const load = routerLoad(p, HOST);
    const started = await api(p, 'POST', `${base}/rollouts`, { release: 1, strategy: 'canary', canary: { steps: [{ instanceWeight: 50 }] } });
    const n = started.body.number;
    await waitFor(async () => (await api(p, 'GET', `${base}/rollouts`)).body.rollouts[0].canary?.paused === true, 60_000, 'paused');
    assert.deepEqual(await byRelease(), { 1: 2, 2: 2 });
    const canceled = await api(p, 'POST', `${base}/rollouts/${n}/cancel`);
    assert.equal(canceled.status, 200, JSON.stringify(canceled.body));
    assert.equal(canceled.body.status, 'CANCELED');
    await waitFor(async () => JSON.stringify(await byRelease()) === '{"2":4}' && (await running()).length === 4, 60_000, 'back on 2');
    await load.stop();
    assert.equal(load.stats.failed, 0);
    assert.equal((await api(p, 'POST', `${base}/rollouts/${n}/continue`)).status, 409);
  });

  it('supersedes a paused canary with a new rollout', async () => {
    const first = await api(p, 'POST', `${base}/rollouts`, { release: 1, strategy: 'canary', canary: { steps: [{ instanceWeight: 25 }] } });
    await waitFor(async () => (await api(p, 'GET', `${base}/rollouts`)).body.rollouts[0].canary?.paused === true, 60_000, 'paused');
    const second = await api(p, 'POST', `${base}/rollouts`, { release: 1, strategy: 'rolling', maxInFlight: 2 });
    assert.equal(second.status, 200);
    await waitFor(async () => JSON.stringify(await byRelease()) === '{"1":4}', 60_000, 'all on 1');
    const list = (await api(p, 'GET', `${base}/rollouts`)).body.rollouts;
    assert.equal(list.find((r: { number: number }) => r.number === first.body.number).status, 'SUPERSEDED');
    assert.equal(list.find((r: { number: number }) => r.number === second.body.number).maxInFlight, 2);
  });
});
