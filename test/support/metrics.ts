/**
 * Shared by the metrics tests: an exact load through the router, the metrics route's series, and the case
 * both data planes must pass (a known load's request count in the series, within 1%).
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import { it } from 'node:test';
import { api, waitFor, type RunningPlatform } from './platform.ts';

/**
 * Sends exactly `total` GETs through the router with `concurrency` keep-alive connections; counts answers and
 * names each failure (`failures`). A GET whose kept-alive connection closes before any answer is sent again
 * once, as browsers and HTTP/1.1 clients do (RFC 9112 section 9.3.1, and Node's
 * `request.reusedSocket` documentation): HAProxy closes a client's connection without an answer, so that the
 * client sends again, when the app closed the pooled server connection the request went out on (an app's
 * keep-alive timeout racing the request; see docs/router.md).
 */
export async function load(p: RunningPlatform, host: string, total: number, concurrency = 8, path = '/'): Promise<{ sent: number; ok: number; other: number; failures: string[] }> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  const res = { sent: 0, ok: 0, failures: [] as string[] };
  const attempt = (again: boolean) =>
    new Promise<void>((resolve) => {
      const req = http.get({ host: '127.0.0.1', port: p.routerPort, path, headers: { host }, agent }, (r) => {
        r.resume();
        r.on('end', () => {
          if (r.statusCode === 200) res.ok++;
          else res.failures.push(`status ${r.statusCode}`);
          resolve();
        });
      });
      req.on('error', (err: NodeJS.ErrnoException) => {
        if (!again && req.reusedSocket && err.code === 'ECONNRESET') return void attempt(true).then(resolve);
        res.failures.push(`${err.code ?? err.message}${req.reusedSocket ? ' on a kept-alive connection' : ''}`);
        resolve();
      });
    });
  const worker = async () => {
    while (res.sent < total) {
      res.sent++;
      await attempt(false);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  agent.destroy();
  return { ...res, other: res.failures.length };
}

export type Series = { name: string; instance: string | null; kind: string; unit: string; points: [number, number][]; max?: number[] };

export async function series(p: RunningPlatform, path: string, query: Record<string, string>): Promise<Series[]> {
  const res = await api(p, "GET", `${path}/metrics?${new URLSearchParams(query)}`);
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return res.body.series as Series[];
}

export const total = (s: Series[], name: string) => s.filter((x) => x.name === name).reduce((a, x) => a + x.points.reduce((b, [, v]) => b + v, 0), 0);


/** The metrics route returns the series a known load produced, on this data plane. */
export function knownLoadCase(plane: 'haproxy' | 'builtin', platform: () => RunningPlatform, project: string): void {
  const svc = (s: string) => `/projects/${project}/services/${s}`;
  it('returns the series a known load produced: the request count the load generator sent, within 1%', async () => {
    const p = platform();
    // The sampler has read the route before the load starts (its counters are the baseline).
    await waitFor(async () => (await series(p, svc('web'), { names: 'requests', from: '-5m' })).length > 0, 60_000, 'the route sampled');
    const from = Math.floor(Date.now() / 1000) - 1;
    const sent = await load(p, `web.${project}.localhost`, 4000);
    assert.equal(sent.ok, 4000, `every request answered 200 (${sent.other} did not: ${sent.failures.join(', ')})`);
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
    // Percentiles on both planes (HAProxy's from the per-request stream, the built-in router's from its histogram).
    const p99 = got.find((s) => s.name === 'latency_p99_seconds');
    assert.ok(p99 && p99.points.some(([, v]) => v > 0), `${plane}: a p99 series`);
    if (plane === 'haproxy') assert.ok(got.find((s) => s.name === 'latency_avg_seconds')?.points.some(([, v]) => v > 0), 'HAProxy: its mean too');
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
}
