import { it } from 'node:test';
import assert from 'node:assert/strict';
import { ReleaseTraffic } from './release-traffic.ts';

it('sums a window of access-log entries per release: requests, 5xx share, p50 and p99', () => {
  const t = new ReleaseTraffic();
  const entry = (release: number, status: number, ms: number) => ({ ts: '', client: '', method: 'GET', host: 'h', path: '/', status, bytes: 0, durationMs: ms, route: 'shop/web/p01', endpoint: `shop--web--web-r${release}-0-abcdef` });
  for (let i = 1; i <= 100; i++) t.record(entry(1, 200, i), 1000);
  for (let i = 0; i < 10; i++) t.record(entry(2, i < 2 ? 500 : 200, 5), 1000);
  t.record({ ...entry(2, 200, 1), endpoint: undefined }, 1000);
  t.record(entry(2, 500, 1), 5000); // outside the window
  const w = t.window('shop/web', 0, 2000);
  assert.deepEqual(w.get(1), { release: 1, requests: 100, errors: 0, errorRate: 0, latencyP50Ms: 50, latencyP99Ms: 99 });
  assert.deepEqual(w.get(2), { release: 2, requests: 10, errors: 2, errorRate: 20, latencyP50Ms: 5, latencyP99Ms: 5 });
});

it("gives the service-wide p50/p90/p99 of a window, all releases together (the HAProxy plane's metrics percentiles)", () => {
  const t = new ReleaseTraffic();
  const entry = (release: number, ms: number) => ({ ts: '', client: '', method: 'GET', host: 'h', path: '/', status: 200, bytes: 0, durationMs: ms, route: 'shop/web/p01', endpoint: `shop--web--web-r${release}-0-abcdef` });
  for (let i = 1; i <= 50; i++) t.record(entry(1, i), 1000);
  for (let i = 51; i <= 100; i++) t.record(entry(2, i), 1500);
  t.record(entry(2, 9999), 2000); // at the window's end: the next window's
  assert.deepEqual(t.latency('shop/web', 1000, 2000), { requests: 100, p50Ms: 50, p90Ms: 90, p99Ms: 99 });
  assert.equal(t.latency('shop/web', 3000, 4000), undefined);
  assert.equal(t.latency('shop/other', 0, 4000), undefined);
});

it('keeps a busy service to its bounds, dropping old samples in batches: the newest are always there', () => {
  const t = new ReleaseTraffic();
  const r = { route: 'shop/web/p01', endpoint: 'shop--web--web-r3-0-abcdef', status: 200, durationMs: 1 };
  // More than the 200,000 kept (plus the batch slack): the oldest went, the last second's are all counted.
  for (let i = 0; i < 450_000; i++) t.record(r, 1_000_000 + Math.floor(i / 1000));
  const all = t.window('shop/web', 0, 2_000_000).get(3)!.requests;
  assert.ok(all >= 200_000 && all <= 220_000, `kept ${all}`);
  assert.equal(t.window('shop/web', 1_000_449, 1_000_450).get(3)!.requests, 1000);
  // Samples older than 15 minutes go (once a minute past that): a window of the last minute holds only new ones.
  const later = 1_000_000 + 17 * 60_000;
  t.record(r, later);
  assert.equal(t.window('shop/web', 0, later + 1).get(3)!.requests, 1);
});
