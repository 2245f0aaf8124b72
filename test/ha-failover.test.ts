/**
 * A highly available control plane: three replicas on one PostgreSQL database (created for this file) and
 * one process-runtime state directory (SLIPWAY_RUNTIME_DIR, shared as replicas on one machine share it).
 * A service with four instances takes load through the routers of all three replicas while a slow rolling
 * rollout runs (each new instance takes START_DELAY_MS to listen, one at a time).
 *
 *  1. The replica holding the service controller's lease is killed (SIGKILL) mid-rollout: another takes the
 *     lease over within the lease TTL plus a renewal round, resumes the rollout where it stood and completes it.
 *  2. During a second rollout the new holder is paused (SIGSTOP) until the lease moves, then resumed
 *     (SIGCONT): it finds its hold stale, its writes are refused and it gives the work up; the rollout
 *     completes under the new holder.
 *
 * Throughout: no failed request, and no instance (id, release) started twice (the app appends a line per
 * process start to START_LOG). The load stands in for an external load balancer that health-checks each
 * replica: it stops sending to a replica's router at the moment that replica is killed or paused (its
 * router, a process of its own, would go on serving a table nobody updates any more).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import crypto from 'node:crypto';
import { api, fixtureRepo, killInstances, routerLoad, startTestPlatform, stopRouter, viaRouter, waitFor, type RunningPlatform } from './support/platform.ts';
import { createPgDatabase } from './support/databases.ts';

const PROJECT = 'ha-failover';
const HOST = `web.${PROJECT}.localhost`;
const SVC = `/v1/projects/${PROJECT}/services/web`;
const INSTANCES = 4;
const TTL_SECONDS = 3;
const RENEW_SECONDS = 0.5;
const START_DELAY_MS = 2500;

interface Lease {
  name: string;
  holder: string;
  epoch: number;
  expiresInMs: number;
}

describe('high availability: leases and failover across three control planes', () => {
  let db: { url: string; drop: () => Promise<void> };
  const shared = fs.mkdtempSync(path.join(os.tmpdir(), 'slipway-ha-'));
  const startLog = path.join(shared, 'starts.log');
  const replicas: RunningPlatform[] = [];
  const names = ['replica-a', 'replica-b', 'replica-c'];
  const loads = new Map<RunningPlatform, ReturnType<typeof routerLoad>>();
  const alive = new Set<RunningPlatform>();
  const stoppedLoads: ReturnType<typeof routerLoad>[] = [];
  const repo = fixtureRepo('hello');

  const anyAlive = () => [...alive][0]!;
  const leases = async (p = anyAlive()): Promise<{ nodeId: string; leases: Lease[]; local: { held: { name: string; epoch: number }[]; refusedWrites: number } }> => {
    const r = await api(p, 'GET', '/leases');
    assert.equal(r.status, 200, JSON.stringify(r.body));
    return r.body;
  };
  const serviceLease = async () => (await leases()).leases.find((l) => l.name === 'services/0')!;
  const byNode = (node: string) => replicas[names.indexOf(node)]!;
  const rollouts = async () => (await api(anyAlive(), 'GET', `/projects/${PROJECT}/services/web/rollouts`)).body.rollouts as { number: number; status: string; toRelease: number; events: { message: string; createdAt: string }[] }[];
  /** The instances as the replica running the service's controller sees them (readiness is its probes'). */
  const containers = async () => {
    const holder = byNode((await serviceLease()).holder);
    return (await api(alive.has(holder) ? holder : anyAlive(), 'GET', `${SVC}/containers`)).body.data.containers as { name: string; release: number; ready: boolean }[];
  };
  const starts = () =>
    fs.existsSync(startLog)
      ? fs
          .readFileSync(startLog, 'utf8')
          .trim()
          .split('\n')
          .filter(Boolean)
          .map((l) => JSON.parse(l) as { instance: string; release: string; pid: number })
      : [];
  /** The load balancer takes a replica out: no more requests to its router. */
  const takeOut = async (p: RunningPlatform) => {
    alive.delete(p);
    const load = loads.get(p);
    if (load) {
      await load.stop();
      stoppedLoads.push(load);
      loads.delete(p);
    }
  };
  /** A slow rolling rollout of a new release, one new instance at a time; resolves with its number. */
  const slowRollout = async (greeting: string) => {
    const p = anyAlive();
    const patched = await api(p, 'PATCH', `/v1/projects/${PROJECT}/services/combined/web`, { runtimeEnvironment: { GREETING: greeting, START_DELAY_MS: String(START_DELAY_MS), START_LOG: startLog } });
    assert.equal(patched.status, 200, JSON.stringify(patched.body));
    const started = await api(p, 'POST', `/projects/${PROJECT}/services/web/rollouts`, { strategy: 'rolling', maxInFlight: 1 });
    assert.equal(started.status, 200, JSON.stringify(started.body));
    return { number: started.body.number as number, release: started.body.toRelease as number };
  };
  /**
   * Waits for rollout `number` to complete; on a timeout the error carries what each replica saw: the
   * rollout's last events, the instances, the leases, and the warnings of the replicas' logs about the service.
   */
  const rolloutCompleted = async (number: number, logFrom: Map<RunningPlatform, number>) => {
    try {
      await waitFor(async () => (await rollouts()).find((r) => r.number === number)!.status === 'COMPLETED', 180_000, 'rollout completed by the new holder');
    } catch (err) {
      const r = (await rollouts().catch(() => []))!.find((x) => x.number === number);
      const events = (r?.events ?? []).slice(-12).map((e) => `${e.createdAt} ${e.message}`);
      const seen = await Promise.all(
        [...alive].map(async (p) => {
          const c = await api(p, 'GET', `${SVC}/containers`).catch((e: Error) => ({ body: { data: e.message } }));
          const listed = Array.isArray(c.body?.data?.containers)
            ? (c.body.data.containers as { name: string; release: number; status: string; ready: boolean; restarts: number; probes: { readinessProbe?: { passing: boolean; lastError?: string } } }[])
                .map((x) => `${x.name.split('--').pop()} r${x.release} ${x.status} ready=${x.ready} restarts=${x.restarts} probe=${x.probes.readinessProbe ? `${x.probes.readinessProbe.passing}/${x.probes.readinessProbe.lastError ?? ''}` : 'none'}`)
                .join('; ')
            : JSON.stringify(c.body);
          const logs = p.logs.join('').slice(logFrom.get(p) ?? 0).split('\n').filter((l) => /"level":(40|50)|rollout|instance (started|stopped|exited)/.test(l)).slice(-40);
          return `${names[replicas.indexOf(p)]}: containers ${listed}\n  ${logs.join('\n  ')}`;
        }),
      );
      const l = await leases().catch((e: Error) => e.message);
      throw new Error(`${(err as Error).message}\nrollout ${number}: ${r?.status}\n  ${events.join('\n  ')}\nleases ${JSON.stringify(l)}\n${seen.join('\n')}`);
    }
  };
  const logMarks = () => new Map(replicas.map((p) => [p, p.logs.join('').length]));
  /** Waits until `n` instances of `release` are ready (and the rollout is not finished yet). */
  const newReady = async (release: number, n: number) =>
    waitFor(async () => (await containers()).filter((c) => c.release === release && c.ready).length >= n, 120_000, `${n} new instance(s) of release ${release} ready`);

  before(async () => {
    db = await createPgDatabase();
    const secretKey = crypto.randomBytes(32).toString('base64');
    const start = (name: string) =>
      startTestPlatform({
        SLIPWAY_DATABASE_URL: db.url,
        SLIPWAY_RUNTIME_DIR: path.join(shared, 'runtime'),
        SLIPWAY_SECRET_KEY: secretKey,
        SLIPWAY_NODE_ID: name,
        SLIPWAY_LEASE_TTL_SECONDS: String(TTL_SECONDS),
        SLIPWAY_LEASE_RENEW_SECONDS: String(RENEW_SECONDS),
        SLIPWAY_ROUTER: 'builtin',
        SLIPWAY_ISOLATION: 'none',
        SLIPWAY_RESYNC_MS: '500',
        SLIPWAY_PROGRESS_DEADLINE_SECONDS: '300',
      });
    // The first replica takes every lease; the other two start side by side.
    replicas.push(await start(names[0]!));
    replicas.push(...(await Promise.all(names.slice(1).map(start))));
    for (const r of replicas) alive.add(r);
    const p = replicas[0]!;
    assert.equal((await api(p, 'POST', '/v1/projects', { name: PROJECT })).status, 200);
    const created = await api(p, 'POST', `/v1/projects/${PROJECT}/services/combined`, {
      name: 'web',
      billing: { deploymentPlan: 'nf-compute-10' },
      deployment: { instances: INSTANCES },
      vcsData: { projectUrl: repo.dir, projectType: 'self-hosted', projectBranch: 'main' },
      ports: [{ name: 'p01', internalPort: 8080, public: true, protocol: 'HTTP' }],
      healthChecks: [{ protocol: 'HTTP', type: 'readinessProbe', path: '/health', port: 8080, initialDelaySeconds: 1, periodSeconds: 10, timeoutSeconds: 1, failureThreshold: 3, successThreshold: 1 }],
      runtimeEnvironment: { GREETING: 'v1', START_LOG: startLog },
    });
    assert.equal(created.status, 200, JSON.stringify(created.body));
    await waitFor(async () => (await api(p, 'GET', SVC)).body.data.status.deployment.status === 'COMPLETED', 180_000, 'v1 COMPLETED');
    // Every replica's router serves the service before the load starts.
    for (const r of replicas) {
      await waitFor(async () => {
        const res = await viaRouter(r, HOST).catch(() => undefined);
        return res?.status === 200;
      }, 60_000, `router of ${names[replicas.indexOf(r)]} serving`);
    }
    for (const r of replicas) loads.set(r, routerLoad(r, HOST));
  });

  after(async () => {
    // A replica a failed case left paused is resumed first: its stop (and the others') must not wait on it.
    for (const r of replicas) {
      try {
        process.kill(r.proc.pid!, 'SIGCONT');
      } catch {}
    }
    for (const load of loads.values()) await load.stop().catch(() => {});
    // SLIPWAY_TEST_KEEP_LOGS=dir keeps each replica's log there.
    const keep = process.env.SLIPWAY_TEST_KEEP_LOGS;
    if (keep) for (const [i, r] of replicas.entries()) fs.writeFileSync(path.join(keep, `${names[i]}.log`), r.logs.join(''));
    for (const r of replicas) {
      try {
        process.kill(r.proc.pid!, 'SIGCONT');
      } catch {}
      await r.stop().catch(() => {});
    }
    killInstances(shared);
    for (const r of replicas) await stopRouter(r.dataDir).catch(() => {});
    await db?.drop().catch(() => {});
    fs.rmSync(shared, { recursive: true, force: true });
  });

  it('every replica reports its node id and lists the same leases, each held once', async () => {
    for (const [i, r] of replicas.entries()) {
      const health = await fetch(`${r.apiUrl}/healthz`);
      assert.equal(health.status, 200);
      assert.equal(((await health.json()) as { nodeId: string }).nodeId, names[i]);
    }
    const views = await Promise.all(replicas.map((r) => leases(r)));
    // One log collector for the runtime directory the three share: `logs/<runtime>`.
    const expected = ['addons', 'alerts', 'autoscaler', 'builds', 'cron', 'flows', 'jobs', 'logs/<runtime>', 'metrics', 'services/0', 'volumes'];
    for (const v of views) {
      assert.deepEqual(v.leases.map((l) => l.name.replace(/^logs\/[0-9a-f]{12}$/, 'logs/<runtime>')), expected);
      for (const l of v.leases) {
        assert.ok(names.includes(l.holder), `${l.name} held by a replica: ${l.holder}`);
        assert.ok(l.expiresInMs > 0, `${l.name} renewed`);
      }
    }
    // What each replica says it holds is what the store says: every lease exactly once.
    const held = views.flatMap((v) => v.local.held.map((h) => `${h.name}@${v.nodeId}`)).sort();
    assert.deepEqual(held, views[0]!.leases.map((l) => `${l.name}@${l.holder}`).sort());
    const anon = await api(replicas[0]!, 'GET', '/leases', undefined, { token: null });
    assert.equal(anon.status, 401);
  });

  it('a killed lease holder: another replica resumes the rollout within the lease TTL plus one pass and completes it', async () => {
    const before_ = await serviceLease();
    const leader = byNode(before_.holder);
    const { number, release } = await slowRollout('v2');
    await newReady(release, 1);
    assert.notEqual((await rollouts()).find((r) => r.number === number)!.status, 'COMPLETED', 'killed mid-rollout');
    const killedAt = Date.now();
    const marks = logMarks();
    await takeOut(leader);
    await leader.kill9();
    // Another replica takes the lease over, at a higher epoch.
    const after_ = await waitFor(async () => {
      const l = await serviceLease();
      return l.holder !== before_.holder && l.epoch > before_.epoch ? l : undefined;
    }, 60_000, 'lease taken over');
    const takenOverMs = Date.now() - killedAt;
    // The rollout goes on: its next event after the kill, then completion.
    const nextStep = await waitFor(async () => (await rollouts()).find((r) => r.number === number)!.events.find((e) => Date.parse(e.createdAt) > killedAt), 60_000, 'next rollout step after the kill');
    const resumedMs = Date.parse(nextStep.createdAt) - killedAt;
    console.log(`failover: lease ${before_.holder}@${before_.epoch} -> ${after_.holder}@${after_.epoch} seen after ${takenOverMs} ms; next rollout step ${resumedMs} ms after the kill (TTL ${TTL_SECONDS * 1000} ms, renew ${RENEW_SECONDS * 1000} ms): ${nextStep.message}`);
    await rolloutCompleted(number, marks);
    // An old instance may still be stopping (draining) when the rollout has completed; then only new ones.
    await waitFor(async () => {
      const c = await containers();
      return c.length === INSTANCES && c.every((x) => x.release === release && x.ready);
    }, 60_000, `only the ${INSTANCES} instances of release ${release}, all ready`);
    // How soon is a measure, not an assertion here (bench/failover.ts prints it beside the TTL).
    assert.ok(resumedMs > 0);
  });

  it('a paused holder resumed after the failover finds its writes refused and gives the work up', async () => {
    const before_ = await serviceLease();
    const leader = byNode(before_.holder);
    const { number, release } = await slowRollout('v3');
    await newReady(release, 1);
    const marks = logMarks();
    await takeOut(leader);
    process.kill(leader.proc.pid!, 'SIGSTOP');
    const after_ = await waitFor(async () => {
      const l = await serviceLease();
      return l.holder !== before_.holder && l.epoch > before_.epoch ? l : undefined;
    }, 60_000, 'lease taken over from the paused replica');
    // The new holder moves the rollout on while the old one is still paused.
    const [taken] = (await rollouts()).filter((r) => r.number === number);
    const seen = taken!.events.length;
    await waitFor(async () => (await rollouts()).find((r) => r.number === number)!.events.length > seen, 60_000, 'a step by the new holder');
    const logFrom = leader.logs.join('').length;
    process.kill(leader.proc.pid!, 'SIGCONT');
    // The resumed replica finds its hold stale and gives the work up: its log says so and it holds nothing of it.
    await waitFor(() => /lease lost; its work stops|write refused/.test(leader.logs.join('').slice(logFrom)), 30_000, 'the resumed replica gives the lease up');
    const view = await leases(leader);
    assert.ok(!view.local.held.some((h) => h.name === 'services/0'), `the resumed replica holds no service lease: ${JSON.stringify(view.local)}`);
    const current = view.leases.find((l) => l.name === 'services/0')!;
    assert.equal(current.holder, after_.holder);
    assert.ok(current.epoch >= after_.epoch);
    const resumedLog = leader.logs.join('').slice(logFrom);
    const refusals = resumedLog.split('\n').filter((l) => /write refused|lease lost/.test(l));
    console.log(`paused replica ${before_.holder} after SIGCONT: refused writes ${view.local.refusedWrites}; ${refusals.length} log line(s): ${refusals.map((l) => JSON.parse(l).msg ?? l).slice(0, 3).join(' | ')}`);
    alive.add(leader);
    await rolloutCompleted(number, marks);
    // An old instance may still be stopping (draining) when the rollout has completed; then only new ones.
    await waitFor(async () => {
      const c = await containers();
      return c.length === INSTANCES && c.every((x) => x.release === release && x.ready);
    }, 60_000, `only the ${INSTANCES} instances of release ${release}, all ready`);
  });

  it('no failed request through any router, no instance started twice, and none stopped counted as crashed', async () => {
    // The app ends with code 0 only on SIGTERM: an instance a killed or paused holder had begun to stop is
    // no crash to the holder after it (its restarts would count, and the rollout would say "crashing").
    const events = (await api(anyAlive(), 'GET', `/projects/${PROJECT}/services/web/events`)).body.events as { reason: string; message: string }[];
    for (const p of [...loads.keys()]) await takeOut(p);
    const total = stoppedLoads.reduce((n, l) => n + l.stats.ok, 0);
    const failed = stoppedLoads.reduce((n, l) => n + l.stats.failed, 0);
    const errors = stoppedLoads.flatMap((l) => l.stats.errors).slice(0, 5);
    console.log(`load: ${total} ok, ${failed} failed through ${stoppedLoads.length} routers`);
    assert.ok(stoppedLoads.every((l) => l.stats.ok > 0), 'every router took load');
    assert.equal(failed, 0, `no failed request (${total} ok): ${errors.join('; ')}`);
    const byInstance = new Map<string, number>();
    for (const s of starts()) byInstance.set(`${s.instance}@${s.release}`, (byInstance.get(`${s.instance}@${s.release}`) ?? 0) + 1);
    const twice = [...byInstance].filter(([, n]) => n > 1);
    assert.ok(byInstance.size >= 3 * INSTANCES, `starts recorded: ${byInstance.size}`);
    assert.deepEqual(twice, [], 'no instance started twice');
    assert.deepEqual(events.filter((e) => e.reason === 'Crashed' && /\(code 0\)/.test(e.message)), [], 'no stopped instance counted as crashed');
  });
});
