/**
 * Metrics over time on a real platform (sampling every second, HAProxy data plane; the built-in router's
 * case is test/metrics-builtin.test.ts): a known load through the real router shows up in the service's series
 * with the request count the load generator sent (within 1%); requests that each take 50 ms show up in the
 * HAProxy plane's p50/p90/p99 (taken from the per-request stream: HAProxy has no histogram); a CPU-burning instance's CPU shows up against its plan; an addon's server has its own series; the
 * control plane's Prometheus endpoint parses and carries project / service / instance labels; bad queries
 * are refused naming the field.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { api, fixtureRepo, startTestPlatform, waitFor, type RunningPlatform } from './support/platform.ts';
import { assertCliOk, runCli } from './support/cli.ts';
import { knownLoadCase, load, series } from './support/metrics.ts';
import { parsePromText } from '../src/observe/metrics/prom-text.ts';

const PROJECT = 'metered';

const plane = 'haproxy' as const;

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
    await create('burner', 'cpu-burner', 'nf-compute-50', 1);
  });
  after(async () => {
    await p?.stop();
  });

  knownLoadCase(plane, () => p, PROJECT);

  it('gives HAProxy percentiles from the per-request stream: requests that each take 50 ms have p50 >= 50 ms', async () => {
    // Only these requests reach the service from now on (the load of the test before has ended).
    const from = Math.floor(Date.now() / 1000);
    const sent = await load(p, `web.${PROJECT}.localhost`, 200, 4, '/slow?ms=50');
    assert.equal(sent.ok, 200, `every request answered 200 (${sent.other} did not: ${sent.failures.join(', ')})`);
    const loadEnded = Math.floor(Date.now() / 1000);
    const names = 'requests,latency_p50_seconds,latency_p90_seconds,latency_p99_seconds';
    const got = await waitFor(async () => {
      const s = await series(p, svc('web'), { names, from: String(from), step: '1' });
      return s.find((x) => x.name === 'requests')?.points.some(([ts]) => ts > loadEnded + 1) ? s : undefined;
    }, 60_000, 'a sample after the slow load');
    const pts = (name: string) => new Map(got.find((x) => x.name === name)?.points ?? []);
    const [p50, p90, p99] = [pts('latency_p50_seconds'), pts('latency_p90_seconds'), pts('latency_p99_seconds')];
    assert.ok(p50.size > 0 && p99.size > 0, `percentile series on HAProxy: ${JSON.stringify(got)}`);
    assert.equal(p99.size, p50.size);
    // Every interval's requests were slow ones: each percentile is at least the 50 ms the app waits, in order.
    for (const [ts, v50] of p50) {
      assert.ok(v50 >= 0.05, `p50 ${v50} s at ${ts}`);
      assert.ok(p90.get(ts)! >= v50 && p99.get(ts)! >= p90.get(ts)!, `p50 ${v50} <= p90 ${p90.get(ts)} <= p99 ${p99.get(ts)} at ${ts}`);
    }
    // The seconds with percentiles carry the requests the load sent (the stream saw each one end).
    const reqs = got.find((x) => x.name === 'requests')!.points.filter(([ts]) => p50.has(ts)).reduce((a, [, v]) => a + v, 0);
    assert.ok(reqs > 0, 'requests in the seconds with percentiles');
  });

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

  it('summarizes a service in `slipway metrics <service>`: traffic, answers by class and each instance', async () => {
    const home = fs.mkdtempSync(path.join(os.tmpdir(), 'slipway-metrics-cli-'));
    try {
      const env = { SLIPWAY_HOST: p.apiUrl, SLIPWAY_TOKEN: p.token };
      const r = await runCli(['metrics', 'web', '-p', PROJECT, '--since', '15m', '--no-color'], { home, env });
      assertCliOk(r, 'slipway metrics web');
      const out = r.stdout;
      assert.match(out, /^web \(metered\) · last 15m/m);
      const total = Number(/requests +(\d+) in all/.exec(out)?.[1]);
      assert.ok(total >= 4000, out);
      assert.match(out, /responses +2xx \d+ · 3xx 0 · 4xx 0 · 5xx 0/);
      // HAProxy: the percentiles from the per-request stream, and its own mean.
      assert.match(out, /latency +p50 [\d.]+ m?s · p99 [\d.]+ m?s · mean [\d.]+ m?s/);
      const instanceLines = out.split('\n').filter((l) => /^ {4}\S+ +cpu .*% of plan .* · mem \d+ MiB \([\d.]+%\) · restarts 0$/.test(l));
      assert.equal(instanceLines.length, 2, out);
      const json = await runCli(['metrics', 'web', '-p', PROJECT, '--json'], { home, env });
      assertCliOk(json, 'slipway metrics --json');
      assert.ok(Array.isArray(JSON.parse(json.stdout).series));
      const bad = await runCli(['metrics', 'web', '-p', PROJECT, '--since', 'forever'], { home, env });
      assert.equal(bad.code, 2);
      assert.match(bad.stderr, /--since/);
    } finally {
      fs.rmSync(home, { recursive: true, force: true });
    }
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
});
