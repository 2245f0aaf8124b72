/**
 * The deployment engine through the API, on each runtime (`process`, and `docker` on a Podman service this
 * file starts): every release is a rollout with ordered events; a release whose readiness never passes fails
 * at its progress deadline and the service returns to its last good release without a failed request;
 * rollback goes to the last good release; a dry run plans without acting; a control plane killed mid-rollout
 * finishes it after restart; canaries move in weighted steps.
 *
 * On docker the hello fixture's artifact runs in a local image `FROM scratch` holding this machine's Node
 * (no registry is reachable here), and listens on all its interfaces (LISTEN_HOST): a published port reaches
 * the container's address, not its loopback.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { api, fixtureRepo, routerLoad, startTestPlatform, waitFor, type RunningPlatform } from './support/platform.ts';
import { NODE_IMAGE, buildNodeImage, startPodman, type PodmanService } from './support/podman.ts';

const HOST = 'web.roll.localhost';
const SVC = '/v1/projects/roll/services/web';
const PROJECT_LABEL = 'slipway.project=roll';

const ALL_RUNTIMES = ['process', 'docker'] as const;
type Runtime = (typeof ALL_RUNTIMES)[number];
/** Both by default; SLIPWAY_TEST_RUNTIMES=docker (comma-separated) narrows a run while working on one. */
const RUNTIMES = ALL_RUNTIMES.filter((r) => (process.env.SLIPWAY_TEST_RUNTIMES ?? ALL_RUNTIMES.join(',')).split(',').includes(r));
/** Cases a runtime cannot pass, by name, with the reason: reported as skipped with it, never silently. */
const CANNOT_PASS: Record<Runtime, Record<string, string>> = { process: {}, docker: {} };

// One Podman service for the whole file, started by the first docker describe and stopped at the end.
let podman: Promise<PodmanService> | undefined;
const startedAt = Date.now();
after(async () => {
  if (podman) await (await podman).stop();
  console.log(`rollouts: ${RUNTIMES.join(' and ')} runtimes in ${Date.now() - startedAt} ms`);
});

async function dockerService(): Promise<PodmanService> {
  podman ??= (async () => {
    const service = await startPodman();
    const ms = await buildNodeImage(service.docker);
    console.log(ms ? `node image ${NODE_IMAGE} built in ${ms} ms` : `node image ${NODE_IMAGE} reused (same Node version)`);
    return service;
  })();
  return podman;
}

/** The platform environment of a runtime. */
async function platformEnv(runtime: Runtime): Promise<Record<string, string>> {
  if (runtime === 'process') return {};
  const { dockerHost } = await dockerService();
  return { SLIPWAY_RUNTIME: 'docker', DOCKER_HOST: dockerHost, SLIPWAY_DOCKER_ARTIFACT_IMAGE: NODE_IMAGE };
}

/** The app's runtimeEnvironment on a runtime. */
const appEnv = (runtime: Runtime, env: Record<string, string>) => (runtime === 'docker' ? { ...env, LISTEN_HOST: '0.0.0.0' } : env);

/** Instances outlive the control plane by design: remove this file's containers (after a platform, and any left by an aborted run). */
async function removeContainers(runtime: Runtime): Promise<void> {
  if (runtime !== 'docker' || !podman) return;
  const { docker } = await podman;
  for (const c of await docker.listContainers({ all: true, filters: { label: [PROJECT_LABEL] } })) await docker.getContainer(c.Id).remove({ force: true }).catch(() => {});
}

/** `it`, unless the runtime cannot pass the case: then it is reported as skipped with the reason. */
function caseOn(runtime: Runtime) {
  return (name: string, fn: () => Promise<void>) => {
    const reason = CANNOT_PASS[runtime][name];
    if (reason) {
      console.log(`rollouts (${runtime}): cannot pass '${name}': ${reason}`);
      return it(name, { skip: `cannot pass on ${runtime}: ${reason}` }, fn);
    }
    return it(name, fn);
  };
}

for (const runtime of RUNTIMES) {
  const caseIt = caseOn(runtime);

  describe(`rollouts (${runtime} runtime)`, () => {
    let p: RunningPlatform;
    const repo = fixtureRepo('hello');
    const status = async () => (await api(p, 'GET', SVC)).body.data.status.deployment;
    const rollouts = async () => (await api(p, 'GET', '/projects/roll/services/web/rollouts')).body.rollouts;
    const running = async () => (await api(p, 'GET', `${SVC}/containers`)).body.data.containers as { release: number; ready: boolean }[];

    before(async () => {
      const env = await platformEnv(runtime);
      await removeContainers(runtime);
      p = await startTestPlatform({ SLIPWAY_PROGRESS_DEADLINE_SECONDS: '20', ...env });
      assert.equal((await api(p, 'POST', '/v1/projects', { name: 'roll' })).status, 200);
      const created = await api(p, 'POST', '/v1/projects/roll/services/combined', {
        name: 'web',
        billing: { deploymentPlan: 'nf-compute-20' },
        deployment: { instances: 2 },
        vcsData: { projectUrl: repo.dir, projectType: 'self-hosted', projectBranch: 'main' },
        ports: [{ name: 'p01', internalPort: 8080, public: true, protocol: 'HTTP' }],
        // failureThreshold 3 (Kubernetes' default): under this file's load one slow probe must not take a healthy
        // instance out of routing; a broken release still never becomes ready (readiness needs a success).
        healthChecks: [{ protocol: 'HTTP', type: 'readinessProbe', path: '/health', port: 8080, initialDelaySeconds: 1, periodSeconds: 10, timeoutSeconds: 1, failureThreshold: 3, successThreshold: 1 }],
        runtimeEnvironment: appEnv(runtime, { GREETING: 'v1' }),
      });
      assert.equal(created.status, 200, JSON.stringify(created.body));
      await waitFor(async () => (await status()).status === 'COMPLETED', 120_000, 'v1 COMPLETED');
    });
    after(async () => {
      await p?.stop();
      await removeContainers(runtime);
    });

    caseIt('records each rollout with its ordered events', async () => {
      // The service's status and its rollout's are two writes of one pass: the rollout's follows.
      const first = await waitFor(async () => {
        const [r] = await rollouts();
        return r?.status === 'COMPLETED' ? r : undefined;
      }, 30_000, 'the first rollout COMPLETED');
      assert.equal(first.toRelease, 1);
      assert.equal(first.kind, 'deploy');
      assert.match(first.events[0].message, /deploy to release 1 started/);
      assert.match(first.events.at(-1).message, /completed: release 1: 2\/2 instances ready/);
    });

    caseIt('fails a never-ready release at its deadline, says why, and returns to the last good release with no failed request', async () => {
      const load = routerLoad(p, HOST);
      await api(p, 'PATCH', '/v1/projects/roll/services/combined/web', { runtimeEnvironment: appEnv(runtime, { GREETING: 'broken', HEALTH_STATUS: '500' }) });
      await waitFor(async () => (await status()).status === 'FAILED', 60_000, 'FAILED');
      await waitFor(async () => {
        const c = await running();
        return c.length === 2 && c.every((x) => x.release === 1 && x.ready);
      }, 60_000, 'back on release 1 only');
      await load.stop();
      // On a failure, the instances' probe states tell whether readiness dropped (and why) during the load.
      if (load.stats.failed) console.log(`containers: ${JSON.stringify((await api(p, 'GET', `${SVC}/containers`)).body.data.containers.map((c: { name: string; release: number; probes: unknown }) => [c.name, c.release, c.probes]))}`);
      assert.equal(load.stats.failed, 0, `no failed request (${load.stats.ok} ok): ${load.stats.errors.slice(0, 5).join('; ')}`);
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

    caseIt('plans a rollout without touching anything', async () => {
      // The instances and their state, not the probe counters, which go on ticking between two reads.
      const instances = async () => (await api(p, 'GET', `${SVC}/containers`)).body.data.containers.map((c: Record<string, unknown>) => ({ name: c.name, release: c.release, status: c.status, ready: c.ready, restarts: c.restarts, createdAt: c.createdAt }));
      const before_ = await instances();
      const plan = await api(p, 'POST', '/projects/roll/services/web/rollouts/plan', { instances: 3 });
      assert.equal(plan.status, 200, JSON.stringify(plan.body));
      assert.equal(plan.body.peakInstances, 4);
      assert.equal(plan.body.peakMemoryMb, 4 * 512);
      assert.deepEqual([plan.body.steps.at(-1).oldInstances, plan.body.steps.at(-1).newInstances], [0, 3]);
      assert.deepEqual(await instances(), before_);
    });

    caseIt('rolls back to the last good release', async () => {
      await api(p, 'PATCH', '/v1/projects/roll/services/combined/web', { runtimeEnvironment: appEnv(runtime, { GREETING: 'v3' }) });
      await waitFor(async () => (await status()).status === 'COMPLETED', 60_000, 'v3 COMPLETED');
      // The newest release listed: an old instance may still be stopping once the rollout has completed.
      const v3 = Math.max(...(await running()).map((c) => c.release));
      const rb = await api(p, 'POST', '/projects/roll/services/web/rollback');
      assert.equal(rb.status, 200, JSON.stringify(rb.body));
      assert.equal(rb.body.release, 1, 'the failed release 2 is skipped');
      await waitFor(async () => (await status()).status === 'COMPLETED' && (await running()).every((c) => c.release === 1), 60_000, 'rolled back');
      const explicit = await api(p, 'POST', '/projects/roll/services/web/rollback', { release: v3 });
      assert.equal(explicit.body.release, v3);
      await waitFor(async () => (await running()).length === 2 && (await running()).every((c) => c.release === v3 && c.ready), 60_000, 'forward again');
      assert.equal((await api(p, 'POST', '/projects/roll/services/web/rollback', { release: 99 })).status, 400);
    });

    caseIt('finishes a rollout after the control plane is killed in the middle of it', async () => {
      await api(p, 'PATCH', '/v1/projects/roll/services/combined/web', { deployment: { instances: 3 }, runtimeEnvironment: appEnv(runtime, { GREETING: 'v4' }) });
      const [begun] = await rollouts();
      assert.equal(begun.status, 'IN_PROGRESS');
      // Killed at once: the new release's first instance is at most starting.
      await p.kill9();
      // Down past the rollout's progress deadline: the control plane that resumes it renews the deadline
      // rather than failing the release for the time no one worked on it.
      await new Promise((r) => setTimeout(r, Math.max(0, Date.parse(begun.deadlineAt) - Date.now() + 500)));
      await p.restart();
      await waitFor(async () => {
        const c = await running();
        return (await status()).status === 'COMPLETED' && c.length === 3 && c.every((x) => x.ready) && new Set(c.map((x) => x.release)).size === 1;
      }, 60_000, 'rollout completed after restart').catch(async (err) => {
        // Say where it stopped: the service's status, its instances and the rollout's last events.
        const [r] = await rollouts();
        assert.fail(`${(err as Error).message}; status ${JSON.stringify(await status())}; instances ${JSON.stringify(await running())}; rollout ${r?.number} ${r?.status}: ${JSON.stringify(r?.events?.slice(-6))}`);
      });
      const last = (await rollouts())[0];
      assert.equal(last.status, 'COMPLETED');
      assert.equal(last.number, begun.number, 'the rollout begun before the kill completed (no failure, no return)');
      assert.ok(last.events.some((e: { message: string }) => /resumed by this control plane: progress deadline renewed/.test(e.message)), JSON.stringify(last.events));
      assert.equal(last.toRelease, (await running())[0].release);
    });

    caseIt('streams the events of a rollout as Server-Sent Events until it ends', async () => {
      await api(p, 'PATCH', '/v1/projects/roll/services/combined/web', { runtimeEnvironment: appEnv(runtime, { GREETING: 'v1', STREAMED: '1' }) });
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

    caseIt('redeploys every instance at once and keeps the old ones for the overlap after the new are ready', async () => {
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
      if (load.stats.failed > 0) {
        // Where the failures fall in the redeploy: its events and the platform's log lines, on the load's clock.
        const since = (at: number) => `+${at - load.stats.startedAt}ms`;
        const [last] = await rollouts();
        const events = (last.events as { message: string; createdAt: string }[]).map((e) => `${since(Date.parse(e.createdAt))} ${e.message}`);
        const window = `${since(load.stats.failedAt[0]!)}..${since(load.stats.failedAt.at(-1)!)}`;
        const lines = p.logs.join('').split('\n').filter((l) => /"time":(\d+)/.test(l) && Number(/"time":(\d+)/.exec(l)![1]) >= load.stats.startedAt && !/"component":"access"/.test(l));
        const logged = lines.map((l) => l.replace(/"time":(\d+)/, (_, t) => `"t":"${since(Number(t))}"`)).slice(-60);
        // The instances' probe states: whether readiness dropped (and why) during the load.
        const probes = (await api(p, 'GET', `${SVC}/containers`)).body.data.containers.map((c: { name: string; release: number; probes: unknown }) => [c.name, c.release, c.probes]);
        assert.fail(`${load.stats.failed} failed, ${load.stats.ok} ok, failures in ${window}: ${load.stats.errors.slice(0, 5).join('; ')}\nrollout events: ${events.join(' | ')}\ninstances: ${JSON.stringify(probes)}\nplatform log since the load began:\n${logged.join('\n')}`);
      }
      await waitFor(async () => (await rollouts())[0].status === 'COMPLETED', 30_000, 'redeploy COMPLETED');
      const bad = await api(p, 'POST', '/projects/roll/services/web/redeploy', { overlapSeconds: -1 });
      assert.equal(bad.status, 400);
    });
  });

  describe(`canary rollouts (${runtime} runtime)`, () => {
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
      const env = await platformEnv(runtime);
      await removeContainers(runtime);
      p = await startTestPlatform(env);
      await api(p, 'POST', '/v1/projects', { name: 'roll' });
      await api(p, 'POST', '/v1/projects/roll/services/combined', {
        name: 'web',
        billing: { deploymentPlan: 'nf-compute-20' },
        deployment: { instances: 4 },
        vcsData: { projectUrl: repo.dir, projectType: 'self-hosted', projectBranch: 'main' },
        ports: [{ name: 'p01', internalPort: 8080, public: true, protocol: 'HTTP' }],
        runtimeEnvironment: appEnv(runtime, { GREETING: 'v1' }),
      });
      await waitFor(async () => (await api(p, 'GET', SVC)).body.data.status.deployment.status === 'COMPLETED', 120_000, 'v1');
      // A second release, rolled out normally, then back to release 1, so canaries move 1 → 2.
      await api(p, 'PATCH', '/v1/projects/roll/services/combined/web', { runtimeEnvironment: appEnv(runtime, { GREETING: 'v2' }) });
      await waitFor(async () => (await api(p, 'GET', SVC)).body.data.status.deployment.status === 'COMPLETED', 60_000, 'v2');
      await api(p, 'POST', `${base}/rollback`, { release: 1 });
      await waitFor(async () => JSON.stringify(await byRelease()) === '{"1":4}', 60_000, 'back on 1');
    });
    after(async () => {
      await p?.stop();
      await removeContainers(runtime);
    });

    caseIt('moves in weighted steps, pausing at each until continued, with traffic split by instances', async () => {
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
      assert.equal(load.stats.failed, 0, `no failed request (${load.stats.ok} ok): ${load.stats.errors.slice(0, 5).join('; ')}`);
      assert.deepEqual([...load.stats.seen.keys()].sort(), ['v1', 'v2']);
      const events = (await api(p, 'GET', `${base}/rollouts`)).body.rollouts[0].events.map((e: { message: string }) => e.message);
      assert.ok(events.some((m: string) => /paused at canary step 1\/2 \(25%\)/.test(m)));
      assert.ok(events.some((m: string) => /continued/.test(m)));
    });

    caseIt('cancels a canary and returns to the previous release with no failed request', async () => {
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
      assert.equal(load.stats.failed, 0, `no failed request (${load.stats.ok} ok): ${load.stats.errors.slice(0, 5).join('; ')}`);
      assert.equal((await api(p, 'POST', `${base}/rollouts/${n}/continue`)).status, 409);
    });

    caseIt('supersedes a paused canary with a new rollout', async () => {
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
}
