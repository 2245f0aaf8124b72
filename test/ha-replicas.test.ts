/**
 * Three control planes on one fresh PostgreSQL database, started as `npm start` runs them, each with its own
 * data directory, API and router ports, the same admin token and sealing key (docs/high-availability.md).
 * They split the controllers (SLIPWAY_CONTROLLERS) so that what one replica does is seen by the others and
 * no two fight over instances: replica 1 runs the builds, replica 2 the services (its runtime runs the
 * instances), replica 3 none (API and router only).
 *
 * Through the official @northflank/js-client a project and a service are created on replica 1; every
 * replica answers the service the same on /v1, natively, on /v3 and as a formation; each replica's router
 * reaches it; the build made on replica 1 runs on replica 2 from the artifact in the store; a rollout started
 * on replica 1 streams on replica 3; the instance's output reads and streams from replicas 1 and 3; a second
 * replica with another sealing key is refused with a message naming SLIPWAY_SECRET_KEY.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import type { ApiClient } from '@northflank/js-client';
import { createPgDatabase } from './support/databases.ts';
import { ROOT, api, fixtureRepo, northflankClient, startTestPlatform, viaRouter, waitFor, type RunningPlatform } from './support/platform.ts';

const PROJECT = 'harbor';
const SVC = 'web';
const HOST = `${SVC}.${PROJECT}.localhost`;
const KEY = crypto.randomBytes(32).toString('base64');

/** Reads Server-Sent Events from `url` until `until` says so (or the server ends the stream); the frames seen. */
async function readEvents(p: RunningPlatform, pathname: string, until: (frames: { event?: string; data: string }[]) => boolean, timeoutMs = 120_000) {
  const ctl = new AbortController();
  const timer = setTimeout(() => ctl.abort(), timeoutMs);
  const res = await fetch(`${p.apiUrl}${pathname}`, { headers: { authorization: `Bearer ${p.token}`, accept: 'text/event-stream' }, signal: ctl.signal });
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /text\/event-stream/);
  const frames: { event?: string; data: string }[] = [];
  const decoder = new TextDecoder();
  let buf = '';
  const ready = (async () => {
    try {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        buf += decoder.decode(chunk, { stream: true });
        let i: number;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const raw = buf.slice(0, i);
          buf = buf.slice(i + 2);
          const fields = Object.fromEntries(raw.split('\n').filter((l) => !l.startsWith(':')).map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 2)]));
          if (fields.data !== undefined) frames.push({ event: fields.event, data: fields.data });
        }
        if (until(frames)) break;
      }
    } catch (err) {
      if (!ctl.signal.aborted) throw err;
    } finally {
      clearTimeout(timer);
      ctl.abort();
    }
    return frames;
  })();
  return { frames, done: ready };
}

describe('three control planes on one PostgreSQL database', () => {
  let db: Awaited<ReturnType<typeof createPgDatabase>>;
  const replicas: RunningPlatform[] = [];
  let r1: RunningPlatform, r2: RunningPlatform, r3: RunningPlatform;
  let client1: ApiClient;
  const repo = fixtureRepo('hello');

  before(async () => {
    db = await createPgDatabase();
    const shared = { SLIPWAY_DATABASE_URL: db.url, SLIPWAY_SECRET_KEY: KEY, SLIPWAY_ROUTER: 'builtin' };
    // One at a time: the first migrates the fresh database (the others would wait on its lock anyway).
    for (const controllers of ['builds', 'services,jobs,addons,flows', 'none']) replicas.push(await startTestPlatform({ ...shared, SLIPWAY_CONTROLLERS: controllers }));
    [r1, r2, r3] = replicas as [RunningPlatform, RunningPlatform, RunningPlatform];
    client1 = await northflankClient(r1);
  });
  after(async () => {
    for (const r of replicas) await r.stop();
    await db?.drop();
  });

  it('creates a service on replica 1 that every replica answers the same on every API face', async () => {
    await client1.create.project({ data: { name: PROJECT, description: 'replicated' } });
    const created = await client1.create.service.combined({
      parameters: { projectId: PROJECT },
      data: {
        name: SVC,
        billing: { deploymentPlan: 'nf-compute-20' },
        deployment: { instances: 1 },
        vcsData: { projectUrl: `file://${repo.dir}`, projectType: 'self-hosted', projectBranch: 'main' },
        ports: [{ name: 'p01', internalPort: 8080, public: true, protocol: 'HTTP' }],
        // sealed in the store: a replica without the same key could not read the service back
        runtimeEnvironment: { GREETING: 'v1', API_KEY: 'not-in-plain-text' },
      } as never,
    });
    assert.equal(created.data.id, SVC);
    await waitFor(async () => {
      const r = await api(r1, 'GET', `/v1/projects/${PROJECT}/services/${SVC}`);
      if (r.body.data?.status?.deployment?.status === 'FAILED') throw new Error(`deployment failed: ${JSON.stringify(r.body.data.status)}`);
      return r.body.data?.status?.deployment?.status === 'COMPLETED';
    }, 240_000, 'service COMPLETED');

    // The same body from each replica (read until two reads agree: a status may move between them).
    const bodies = await waitFor(async () => {
      const got = await Promise.all(replicas.map((r) => api(r, 'GET', `/v1/projects/${PROJECT}/services/${SVC}`)));
      for (const g of got) assert.equal(g.status, 200, JSON.stringify(g.body));
      return got.every((g) => JSON.stringify(g.body) === JSON.stringify(got[0]!.body)) ? got : undefined;
    }, 30_000, 'the same service body from every replica');
    assert.equal(bodies[2]!.body.data.runtimeEnvironment.API_KEY, 'not-in-plain-text');
    const viaClient3 = await (await northflankClient(r3)).get.service({ parameters: { projectId: PROJECT, serviceId: SVC } });
    assert.equal((viaClient3.data as { id: string }).id, SVC);

    for (const r of replicas) {
      const native = await api(r, 'GET', `/projects/${PROJECT}/services/${SVC}/rollouts`);
      assert.equal(native.status, 200, JSON.stringify(native.body));
      assert.equal(native.body.rollouts[0].status, 'COMPLETED');
      const v3 = await api(r, 'GET', '/v3/apps');
      assert.equal(v3.status, 200, JSON.stringify(v3.body));
      assert.ok(v3.body.resources.some((a: { name: string }) => a.name === SVC), JSON.stringify(v3.body));
      const formation = await api(r, 'GET', `/apps/${SVC}-${PROJECT}/formation`);
      assert.equal(formation.status, 200, JSON.stringify(formation.body));
      assert.equal(formation.body.find((f: { type: string }) => f.type === 'web').quantity, 1);
    }
  });

  it('reaches the service through the router of every replica', async () => {
    for (const r of replicas) {
      const res = await waitFor(async () => {
        const x = await viaRouter(r, HOST);
        return x.status === 200 ? x : undefined;
      }, 30_000, `router of ${r.apiUrl}`);
      const body = (await res.json()) as { message: string; project: string; instance: string };
      assert.equal(body.message, 'v1');
      assert.equal(body.project, PROJECT);
    }
  });

  it('runs the build made on replica 1 on replica 2, from the artifact in the store', async () => {
    const builds = await api(r3, 'GET', `/v1/projects/${PROJECT}/services/${SVC}/build`);
    assert.equal(builds.status, 200, JSON.stringify(builds.body));
    const build = builds.body.data.builds[0] as { id: string; status: string };
    assert.equal(build.status, 'SUCCESS');
    assert.ok(fs.existsSync(path.join(r1.dataDir, 'artifacts', build.id)), 'built on replica 1');
    assert.ok(fs.existsSync(path.join(r2.dataDir, 'artifacts', build.id, 'server.js')), 'fetched by replica 2');
    assert.ok(!fs.existsSync(path.join(r3.dataDir, 'artifacts', build.id)), 'replica 3 runs nothing');
    const { instance } = (await (await viaRouter(r3, HOST)).json()) as { instance: string };
    assert.ok(fs.existsSync(path.join(r2.dataDir, 'runtime', 'instances', instance)), `instance ${instance} runs on replica 2`);
    assert.ok(!fs.existsSync(path.join(r1.dataDir, 'runtime', 'instances', instance)));
    // The instance, observed by replica 2's runtime, is listed by every replica.
    for (const r of [r1, r3]) {
      const c = await waitFor(async () => {
        const got = await (await northflankClient(r)).get.service.containers({ parameters: { projectId: PROJECT, serviceId: SVC } });
        return got.data.containers?.length === 1 ? got.data.containers : undefined;
      }, 30_000, `containers on ${r.apiUrl}`);
      assert.equal(c[0]!.status, 'TASK_RUNNING');
      assert.equal(JSON.stringify(c[0]).includes(instance), true, JSON.stringify(c[0]));
    }
    // The build log, written on replica 1, reads from replica 3.
    const log = await api(r3, 'GET', `/projects/${PROJECT}/services/${SVC}/builds/${build.id}/log`);
    assert.equal(log.status, 200);
    assert.match(log.body as string, /Build succeeded/);
  });

  it('streams on replica 3 a rollout started on replica 1, and routes to the new release everywhere', async () => {
    const before_ = (await api(r3, 'GET', `/projects/${PROJECT}/services/${SVC}/rollouts`)).body.rollouts[0].number as number;
    // The overview stream is open on replica 3 before the rollout starts on replica 1.
    const overview = await readEvents(r3, '/overview', (frames) =>
      frames.some((f) => {
        const o = JSON.parse(f.data) as { projects: { id: string; services: { id: string; lastRollout: { number: number; status: string } | null }[] }[] };
        const s = o.projects.find((p) => p.id === PROJECT)?.services.find((x) => x.id === SVC);
        return !!s?.lastRollout && s.lastRollout.number > before_ && s.lastRollout.status === 'COMPLETED';
      }),
    );
    await waitFor(() => overview.frames.length > 0, 30_000, 'first overview event');
    await client1.patch.service.combined({ parameters: { projectId: PROJECT, serviceId: SVC }, data: { runtimeEnvironment: { GREETING: 'v2', API_KEY: 'not-in-plain-text' } } as never });
    const number = await waitFor(async () => {
      const n = (await api(r3, 'GET', `/projects/${PROJECT}/services/${SVC}/rollouts`)).body.rollouts[0].number as number;
      return n > before_ ? n : undefined;
    }, 30_000, 'the new rollout seen on replica 3');
    const events = await readEvents(r3, `/projects/${PROJECT}/services/${SVC}/rollouts/${number}/events`, (frames) => frames.some((f) => f.event === 'end'));
    const frames = await events.done;
    const rollout = frames.filter((f) => f.event === 'rollout').map((f) => JSON.parse(f.data) as { message: string });
    assert.match(rollout[0]!.message, /started/);
    assert.match(rollout.at(-1)!.message, /completed/);
    assert.deepEqual(JSON.parse(frames.at(-1)!.data), { status: 'COMPLETED' });
    const seen = await overview.done;
    assert.ok(seen.length >= 2, 'the overview stream on replica 3 sent the change');
    for (const r of replicas) {
      await waitFor(async () => {
        const x = await viaRouter(r, HOST);
        return x.status === 200 && ((await x.json()) as { message: string }).message === 'v2';
      }, 30_000, `v2 through the router of ${r.apiUrl}`);
    }
  });

  it("reads and streams, from replicas 1 and 3, the output of an instance that runs on replica 2", async () => {
    const { instance } = (await (await viaRouter(r1, HOST)).json()) as { instance: string };
    for (const r of [r1, r3]) {
      const lines = await waitFor(async () => {
        const res = await api(r, 'GET', `/projects/${PROJECT}/services/${SVC}/logs?tail=50`);
        assert.equal(res.status, 200, JSON.stringify(res.body));
        const all = (Array.isArray(res.body) ? res.body : res.body.lines) as { instance: string; line: string }[];
        return all.some((l) => l.instance === instance && l.line.includes(`listening on`)) ? all : undefined;
      }, 30_000, `logs on ${r.apiUrl}`);
      assert.ok(lines.some((l) => l.instance === instance));
    }
    // A live stream on replica 3 gets the lines of a restart that happens on replica 2.
    const stream = await readEvents(r3, `/projects/${PROJECT}/services/${SVC}/logs/stream?tail=1`, (frames) =>
      frames.some((f) => f.event === 'line' && /listening on/.test(f.data) && !f.data.includes(instance)),
    );
    await client1.patch.service.combined({ parameters: { projectId: PROJECT, serviceId: SVC }, data: { runtimeEnvironment: { GREETING: 'v3', API_KEY: 'not-in-plain-text' } } as never });
    const frames = await stream.done;
    assert.ok(frames.some((f) => f.event === 'line' && /listening on/.test(f.data) && !f.data.includes(instance)), JSON.stringify(frames.slice(-5)));
  });

  it('keeps answering /healthz on every replica', async () => {
    for (const r of replicas) assert.equal((await fetch(`${r.apiUrl}/healthz`)).status, 200);
  });

  it('refuses a replica whose sealing key differs, naming SLIPWAY_SECRET_KEY', () => {
    const dataDir = fs.mkdtempSync(path.join(r1.dataDir, '..', 'slipway-test-otherkey-'));
    try {
      const run = spawnSync(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
        cwd: ROOT,
        env: { ...process.env, SLIPWAY_DATA_DIR: dataDir, SLIPWAY_DATABASE_URL: db.url, SLIPWAY_SECRET_KEY: crypto.randomBytes(32).toString('base64'), SLIPWAY_API_PORT: '0', SLIPWAY_ROUTER_PORT: '0', SLIPWAY_ROUTER_TLS_PORT: '0', SLIPWAY_ROUTER_METRICS_PORT: '0', SLIPWAY_ROUTER: 'builtin', SLIPWAY_CONTROLLERS: 'none' },
        encoding: 'utf8',
        timeout: 120_000,
      });
      assert.notEqual(run.status, 0);
      assert.match(run.stderr, /sealed with another key.*SLIPWAY_SECRET_KEY/s);
    } finally {
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
