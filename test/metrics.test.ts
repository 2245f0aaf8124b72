/**
 * Metrics over time on a real platform (sampling every second): a known load through the real router shows
 * up in the service's series with the request count the load generator sent (within 1%), on both data
 * planes; a CPU-burning instance's CPU shows up against its plan; an addon's server has its own series; the
 * control plane's Prometheus endpoint parses and carries project / service / instance labels; bad queries
 * are refused naming the field.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { api, fixtureRepo, startTestPlatform, waitFor, type RunningPlatform } from './support/platform.ts';
import { parsePromText } from '../src/observe/metrics/prom-text.ts';

const PROJECT = 'metered';

/** Sends exactly `total` GETs through the router with `concurrency` keep-alive connections; counts answers. */
async function load(p: RunningPlatform, host: string, total: number, concurrency = 8): Promise<{ sent: number; ok: number; other: number }> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  const res = { sent: 0, ok: 0, other: 0 };
  const one = () =>
    new Promise<void>((resolve) => {
      res.sent++;
      const req = http.get({ host: '127.0.0.1', port: p.routerPort, path: '/', headers: { host }, agent }, (r) => {
        r.resume();
        r.on('end', () => {
          if (r.statusCode === 200) res.ok++;
          else res.other++;
          resolve();
        });
      });
      req.on('error', () => {
        res.other++;
        resolve();
      });
    });
  const worker = async () => {
    while (res.sent < total) await one();
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  agent.destroy();
  return res;
}

type Series = { name: string; instance: string | null; kind: string; unit: string; points: [number, number][]; max?: number[] };

async function series(p: RunningPlatform, path: string, query: Record<string, string>): Promise<Series[]> {
  const res = await api(p, "GET", `${path}/metrics?${new URLSearchParams(query)}`);
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return res.body.series as Series[];
}

const total = (s: Series[], name: string) => s.filter((x) => x.name === name).reduce((a, x) => a + x.points.reduce((b, [, v]) => b + v, 0), 0);

for (const plane of ['haproxy', 'builtin'] as const) {
  describe(`metrics on a real platform (${plane} router)`, () => {
    let p: RunningPlatform;
    const svc = (s: string) => `/projects/${PROJECT}/services/${s}`;
    const create = async (name: string, app: string, plan: string, instances: number) => {
      const res = await api(p, 'POST', `/v1/projects/${PROJECT}/services/combined`, {
        name,
        billing: { deploymentPlan: plan },
        deployment: { instances },
        vcsData: { projectUrl: fixtureRepo(app).dir, projectType: 'self-hosted', projectBranch: 'main' },
        ports: [{ name: 'p01', internalPort: 8080, public: true, protocol: 'HTTP' }],
      });
      assert.equal(res.status, 200, JSON.stringify(res.body));
      await waitFor(async () => (await api(p, 'GET', `/v1/projects/${PROJECT}/services/${name}`)).body.data?.status?.deployment?.status === 'COMPLETED', 180_000, `${name} deployed`);
    };

    before(async () => {
      p = await startTestPlatform({ SLIPWAY_ROUTER: plane, SLIPWAY_METRICS_INTERVAL_SECONDS: '1' });
      assert.equal((await api(p, 'POST', '/v1/projects', { name: PROJECT })).status, 200);
      await create('web', 'hello', 'nf-compute-20', 2);
      if (plane === 'haproxy') await create('burner', 'cpu-burner', 'nf-compute-50', 1);
    });
    after(async () => {
      await p?.stop();
    });

    it('returns the series a known load produced: the request count the load generator sent, within 1%', async () => {
      // The sampler has read the route before the load starts (its counters are the baseline).
      await waitFor(async () => (await series(p, svc('web'), { names: 'requests', from: '-5m' })).length > 0, 60_000, 'the route sampled');
      const from = Math.floor(Date.now() / 1000) - 1;
      const sent = await load(p, `web.${PROJECT}.localhost`, 4000);
      assert.equal(sent.ok, 4000, `every request answered 200 (${sent.other} did not)`);
      const loadEnded = Date.now() / 1000;
      // Wait for a pass after the load ended, then read the range at a step of 5 s.
      await waitFor(async () => {
        const s = await series(p, svc('web'), { names: 'requests', from: String(from), step: '5' });
        return s[0]?.points.some(([ts]) => ts >= Math.floor(loadEnded) + 1) ?? false;
      }, 60_000, 'a sample after the load');
      await new Promise((r) => setTimeout(r, 2500));
      const got = await series(p, svc('web'), { names: 'requests,requests_per_second,responses_2xx,responses_5xx,latency_p99_seconds,latency_avg_seconds,in_flight', from: String(from), step: '5' });
      const counted = total(got, 'requests');
      assert.ok(Math.abs(counted - sent.sent) <= sent.sent * 0.01, `router counted ${counted} requests, the load sent ${sent.sent}`);
      assert.ok(Math.abs(total(got, 'responses_2xx') - sent.ok) <= sent.ok * 0.01, `2xx: ${total(got, 'responses_2xx')} of ${sent.ok}`);
      assert.equal(total(got, 'responses_5xx'), 0);
      const rps = got.find((s) => s.name === 'requests_per_second')!;
      assert.ok(rps.points.some(([, v]) => v > 0), 'requests per second rose during the load');
      const latency = got.find((s) => s.name === (plane === 'builtin' ? 'latency_p99_seconds' : 'latency_avg_seconds'));
      assert.ok(latency && latency.points.some(([, v]) => v > 0), `${plane}: a latency series`);
      if (plane === 'haproxy') assert.equal(got.find((s) => s.name === 'latency_p99_seconds'), undefined, 'HAProxy 2.6 has no histogram: no percentile is made up');
      // Both instances of the service have their own memory series, against the plan.
      const mem = await series(p, svc('web'), { names: 'memory_bytes,memory_percent', from: String(from) });
      const instances = new Set(mem.filter((s) => s.name === 'memory_bytes').map((s) => s.instance));
      assert.equal(instances.size, 2);
      for (const s of mem) for (const [, v] of s.points) assert.ok(v > 0, `${s.name} of ${s.instance}: ${v}`);
      // The service's first rollout is marked on the time axis: started, then completed.
      const marked = (await api(p, 'GET', `${svc('web')}/metrics?names=requests&from=-1h`)).body.markers as { kind: string; reason: string }[];
      assert.ok(marked.some((m) => m.kind === 'rollout' && m.reason === 'Started'), JSON.stringify(marked));
      assert.ok(marked.some((m) => m.kind === 'rollout' && m.reason === 'Completed'), JSON.stringify(marked));
    });

    if (plane === 'haproxy') {
      it("shows the CPU of a CPU-burning instance against its plan, above an idle service's", async () => {
        // From now on: the load of the test before has ended, so the other service is idle.
        const since = String(Math.floor(Date.now() / 1000) + 1);
        const burning = await waitFor(async () => {
          const s = await series(p, svc('burner'), { names: 'cpu_percent,cpu_cores', from: since, step: '1' });
          const pct = s.find((x) => x.name === 'cpu_percent');
          return pct && pct.points.length >= 3 ? s : undefined;
        }, 60_000, 'CPU samples of the burner');
        const pct = burning.find((x) => x.name === 'cpu_percent')!;
        const cores = burning.find((x) => x.name === 'cpu_cores')!;
        // Percent of the plan is the cores used over the plan's 0.5 vCPU, point by point.
        const coresAt = new Map(cores.points);
        for (const [ts, v] of pct.points) if (coresAt.has(ts)) assert.ok(Math.abs(v - (coresAt.get(ts)! / 0.5) * 100) < 1e-6, `${v}% vs ${coresAt.get(ts)} cores`);
        // It wants a whole core; how much it gets depends on what else the machine runs, so compare it with an
        // idle service's instances on the same machine at the same time rather than with a fixed number.
        const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
        const burnerMean = mean(pct.points.map(([, v]) => v));
        const idle = (await series(p, svc('web'), { names: 'cpu_percent', from: since, step: '1' })).flatMap((s) => s.points.map(([, v]) => v));
        assert.ok(idle.length > 0);
        assert.ok(burnerMean > 0, 'the burner uses CPU');
        assert.ok(burnerMean > mean(idle), `the burner uses more of its plan (${burnerMean.toFixed(1)}%) than an idle service (${mean(idle).toFixed(1)}%)`);
      });

      it('exports Prometheus text that parses, with project, service and instance labels', async () => {
        const res = await fetch(`${p.apiUrl}/metrics`, { headers: { authorization: `Bearer ${p.token}` } });
        assert.equal(res.status, 200);
        assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
        const text = await res.text();
        const doc = parsePromText(text);
        // Every sample line also matches the exposition grammar on its own.
        for (const line of text.split('\n').filter((l) => l && !l.startsWith('#'))) assert.match(line, /^[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\]|\\.)*",?)*\})? -?[0-9.e+-]+$|^.* [+-]Inf$/);
        const cpu = doc.samples.filter((s) => s.name === 'slipway_instance_cpu_percent_of_plan' && s.labels.service === 'burner');
        assert.equal(cpu.length, 1);
        assert.equal(cpu[0].labels.project, PROJECT);
        assert.match(cpu[0].labels.instance, /burner/);
        const reqs = doc.samples.find((s) => s.name === 'slipway_service_http_requests_total' && s.labels.service === 'web');
        assert.ok(reqs && reqs.labels.project === PROJECT && reqs.value >= 4000, JSON.stringify(reqs));
        assert.equal(doc.types.get('slipway_service_http_requests_total'), 'counter');
        assert.ok(doc.samples.some((s) => s.name === 'slipway_instance_memory_bytes' && s.labels.service === 'web' && s.value > 0));
        const unauth = await fetch(`${p.apiUrl}/metrics`);
        assert.equal(unauth.status, 401);
      });

      it("keeps an addon's server under its own metrics route", async () => {
        const res = await api(p, 'POST', `/v1/projects/${PROJECT}/addons`, { name: 'cache', type: 'redis', version: '7', billing: { deploymentPlan: 'nf-compute-20', storage: 1024, replicas: 1 } });
        assert.equal(res.status, 200, JSON.stringify(res.body));
        const got = await waitFor(async () => {
          const s = await series(p, `/projects/${PROJECT}/addons/cache`, { names: 'memory_bytes,memory_percent,cpu_percent', from: '-5m' });
          return s.some((x) => x.name === 'memory_bytes') && s.some((x) => x.name === 'cpu_percent') ? s : undefined;
        }, 120_000, 'addon samples');
        const mem = got.find((x) => x.name === 'memory_bytes')!;
        assert.ok(mem.instance && mem.points.every(([, v]) => v > 0));
        const bad = await api(p, 'GET', `/projects/${PROJECT}/addons/cache/metrics?names=requests`);
        assert.equal(bad.status, 400, 'an addon has no router traffic');
        assert.match(JSON.stringify(bad.body), /names/);
      });

      it('refuses bad queries with a 400 naming the field and the rule, and unknown services with a 404', async () => {
        const cases: [string, string][] = [
          ['names=cpu_percent,nope', 'names'],
          ['from=yesterday', 'from'],
          ['to=2026-13-99', 'to'],
          ['from=-1h&to=-2h', 'from'],
          ['step=0', 'step'],
          ['step=fast', 'step'],
          ['from=-30d&step=1', 'step'],
        ];
        for (const [q, field] of cases) {
          const res = await api(p, 'GET', `${svc('web')}/metrics?${q}`);
          assert.equal(res.status, 400, `${q}: ${JSON.stringify(res.body)}`);
          assert.equal(res.headers.get('content-type')?.split(';')[0], 'application/problem+json');
          assert.ok(JSON.stringify(res.body).includes(`"${field}"`), `${q} names ${field}: ${JSON.stringify(res.body)}`);
        }
        assert.equal((await api(p, 'GET', `${svc('nothing')}/metrics`)).status, 404);
        const doc = (await api(p, 'GET', '/openapi.json')).body;
        const route = doc.paths['/projects/{projectId}/services/{serviceId}/metrics'].get;
        assert.ok(route.description.includes('requests_per_second'));
        assert.deepEqual(
          route.parameters.filter((x: { in: string }) => x.in === 'query').map((x: { name: string }) => x.name).sort(),
          ['from', 'names', 'step', 'to'],
        );
      });
    }
  });
}
