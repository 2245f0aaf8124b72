import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parsePromText, readPromText } from './prom-text.ts';
import { quantile, reduceScrape, trafficBetween } from './router-scrape.ts';

const routes = parsePromText(
  [
    'slipway_route_info{proxy="be_a",route="shop/web/p01",project="shop",service="web",port="p01",protocol="HTTP"} 1',
    'slipway_route_info{proxy="be_b",route="shop/web/p02",project="shop",service="web",port="p02",protocol="HTTP"} 1',
    'slipway_route_info{proxy="be_c",route="shop/api/p01",project="shop",service="api",port="p01",protocol="HTTP"} 1',
  ].join('\n'),
);

function scrape(at: number, counters: Record<string, { req: number; c2?: number; c5?: number; avg?: number; buckets?: [string, number][] }>) {
  const lines: string[] = [];
  for (const [proxy, c] of Object.entries(counters)) {
    lines.push(`haproxy_backend_http_requests_total{proxy="${proxy}"} ${c.req}`);
    lines.push(`haproxy_backend_http_responses_total{proxy="${proxy}",code="2xx"} ${c.c2 ?? c.req}`);
    lines.push(`haproxy_backend_http_responses_total{proxy="${proxy}",code="5xx"} ${c.c5 ?? 0}`);
    lines.push(`haproxy_backend_current_sessions{proxy="${proxy}"} 1`);
    if (c.avg !== undefined) lines.push(`haproxy_backend_total_time_average_seconds{proxy="${proxy}"} ${c.avg}`);
    for (const [le, n] of c.buckets ?? []) lines.push(`slipway_router_request_duration_seconds_bucket{proxy="${proxy}",le="${le}"} ${n}`);
  }
  return reduceScrape(parsePromText(lines.join('\n')), routes, at);
}

describe('router traffic between two scrapes', () => {
  it('has no interval at the first scrape: counters before it are a baseline, not traffic', () => {
    assert.deepEqual(trafficBetween(undefined, scrape(0, { be_a: { req: 500 } })), []);
  });

  it("sums a service's routes and keeps services apart", () => {
    const t = trafficBetween(scrape(0, { be_a: { req: 100 }, be_b: { req: 10 }, be_c: { req: 7 } }), scrape(10_000, { be_a: { req: 150 }, be_b: { req: 30 }, be_c: { req: 7 } }));
    const web = t.find((x) => x.serviceId === 'web')!;
    assert.equal(web.requests, 70);
    assert.equal(web.responses['2xx'], 70);
    assert.equal(web.inFlight, 2);
    assert.equal(t.find((x) => x.serviceId === 'api')!.requests, 0);
  });

  it('counts a counter that went down as restarted from zero (an HAProxy reload), as increase() does', () => {
    const t = trafficBetween(scrape(0, { be_a: { req: 1000, c2: 990, c5: 10 } }), scrape(10_000, { be_a: { req: 40, c2: 38, c5: 2 } }));
    assert.deepEqual([t[0].requests, t[0].responses['2xx'], t[0].responses['5xx']], [40, 38, 2]);
  });

  it('counts a route that appeared since the previous scrape from zero', () => {
    const t = trafficBetween(scrape(0, { be_a: { req: 5 } }), scrape(10_000, { be_a: { req: 5 }, be_c: { req: 12 } }));
    assert.equal(t.find((x) => x.serviceId === 'api')!.requests, 12);
  });

  it('takes percentiles from the interval’s histogram (built-in router) and only a mean from HAProxy', () => {
    const before = scrape(0, { be_c: { req: 0, buckets: [['0.01', 0], ['0.1', 0], ['1', 0], ['+Inf', 0]] } });
    const after = scrape(10_000, { be_c: { req: 100, avg: 0.05, buckets: [['0.01', 50], ['0.1', 90], ['1', 100], ['+Inf', 100]] } });
    const [api] = trafficBetween(before, after);
    assert.equal(api.p50, 0.01);
    assert.ok(Math.abs(api.p90! - 0.1) < 1e-12);
    assert.ok(Math.abs(api.p99! - (0.1 + 0.9 * 0.9)) < 1e-9);
    assert.equal(api.avg, 0.05);
    const [ha] = trafficBetween(scrape(0, { be_c: { req: 0 } }), scrape(10_000, { be_c: { req: 10, avg: 0.2 } }));
    assert.deepEqual([ha.p50, ha.p99, ha.avg], [undefined, undefined, 0.2]);
  });

  it('interpolates quantiles as histogram_quantile does, the +Inf bucket answering the highest finite bound', () => {
    const b = new Map([
      [0.1, 10],
      [0.5, 10],
      [1, 20],
      [Infinity, 40],
    ]);
    assert.equal(quantile(0.25, b), 0.1);
    assert.equal(quantile(0.5, b), 1);
    assert.equal(quantile(0.99, b), 1);
    assert.equal(quantile(0.5, new Map([[Infinity, 0]])), undefined);
  });
});

describe('the Prometheus text parser', () => {
  it('reads names, escaped labels, special values and metadata, and refuses a malformed line', () => {
    const doc = parsePromText('# HELP x_total Things.\n# TYPE x_total counter\nx_total{a="q\\"uote",b="back\\\\slash"} 3\ny +Inf\nz NaN\n');
    assert.deepEqual(doc.samples[0], { name: 'x_total', labels: { a: 'q"uote', b: 'back\\slash' }, value: 3 });
    assert.equal(doc.samples[1].value, Infinity);
    assert.ok(Number.isNaN(doc.samples[2].value));
    assert.equal(doc.types.get('x_total'), 'counter');
    assert.throws(() => parsePromText('x{a="1"'), /line 1/);
    assert.throws(() => parsePromText('9bad 1'), /bad metric name/);
    assert.throws(() => parsePromText('x abc'), /bad value/);
  });

  it('reads only the names asked for, leaving the others unread (a malformed one among them too)', () => {
    const text = 'a_total{proxy="p"} 1\nb{proxy="p",x="y"} 2\nc 3\nb 4\nskipped{a="1" 5\n';
    const doc = parsePromText(text, { only: new Set(['b']) });
    assert.deepEqual(
      doc.samples.map((s) => [s.name, s.value]),
      [
        ['b', 2],
        ['b', 4],
      ],
    );
    assert.throws(() => parsePromText(text), /line 5/);
  });

  it('reads a document chunk by chunk as parsePromText reads it whole, lines cut anywhere, and names the line of an error', async () => {
    const text = '# TYPE a_total counter\na_total{proxy="p",code="2xx"} 1\nb{proxy="é"} 2\nc 3\n';
    const bytes = new TextEncoder().encode(text);
    for (const size of [1, 2, 7, bytes.length]) {
      async function* chunks(b: Uint8Array) {
        for (let i = 0; i < b.length; i += size) yield b.subarray(i, i + size);
      }
      assert.deepEqual(await readPromText(chunks(bytes)), parsePromText(text), `chunks of ${size}`);
      assert.deepEqual((await readPromText(chunks(bytes), { only: new Set(['c']) })).samples, [{ name: 'c', labels: {}, value: 3 }]);
    }
    async function* bad() {
      yield new TextEncoder().encode('a 1\nb 2\n');
      yield new TextEncoder().encode('c x\n');
    }
    await assert.rejects(readPromText(bad()), /line 3: bad value/);
  });
});
