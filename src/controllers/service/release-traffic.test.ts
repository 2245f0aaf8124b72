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
