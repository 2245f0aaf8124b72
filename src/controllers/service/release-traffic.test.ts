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

it('sums windows whatever blocks the samples are kept in, and keeps exactly the newest when trimming by count', () => {
  const t = new ReleaseTraffic();
  const endpoint = (release: number) => `shop--web--web-r${release}-0-abcdef`;
  // 10,000 requests one millisecond apart, alternating releases, the n-th taking n ms; every 7th a 503.
  for (let n = 0; n < 10_000; n++) t.recordFields('shop/web/p01', endpoint(1 + (n % 2)), n % 7 === 0 ? 503 : 200, n, 1000 + n);
  const expect = (from: number, to: number) => {
    const byRelease = new Map<number, { times: number[]; errors: number }>();
    for (let n = from; n < to; n++) {
      const r = byRelease.get(1 + (n % 2)) ?? { times: [], errors: 0 };
      r.times.push(n);
      if (n % 7 === 0) r.errors++;
      byRelease.set(1 + (n % 2), r);
    }
    return byRelease;
  };
  // Blocks of 64, 128, … 4,096 samples: they end at 64, 192, 448, 960, 1,984, 4,032 and 8,128.
  for (const [from, to] of [[0, 10_000], [63, 65], [64, 192], [100, 9000], [191, 449], [4031, 4033], [4000, 8200], [8127, 8129], [9999, 10_000]]) {
    const w = t.window('shop/web', 1000 + from, 1000 + to);
    for (const [release, { times, errors }] of expect(from, to)) {
      const got = w.get(release)!;
      assert.equal(got.requests, times.length, `[${from}, ${to}) release ${release}`);
      assert.equal(got.errors, errors);
      assert.equal(got.latencyP50Ms, times[Math.ceil(0.5 * times.length) - 1]);
      assert.equal(got.latencyP99Ms, times[Math.ceil(0.99 * times.length) - 1]);
    }
    assert.equal(t.latency('shop/web', 1000 + from, 1000 + to)!.requests, to - from);
  }

  // Past 220,000 samples, the oldest go down to 200,000: the newest 200,000, to the one.
  const busy = new ReleaseTraffic();
  for (let n = 0; n <= 220_000; n++) busy.recordFields('shop/web/p01', endpoint(1), 200, n, 5000);
  assert.deepEqual(busy.latency('shop/web', 0, 6000), { requests: 200_000, p50Ms: 120_000, p90Ms: 200_000, p99Ms: 218_000 });
  for (let n = 220_001; n < 230_000; n++) busy.recordFields('shop/web/p01', endpoint(1), 200, n, 5000);
  assert.equal(busy.latency('shop/web', 0, 6000)!.requests, 209_999);
  assert.equal(busy.window('shop/web', 0, 6000).get(1)!.latencyP50Ms, 125_000);
});

it('starts over after every sample aged out, and drops only the aged ones when some are still young', () => {
  const t = new ReleaseTraffic();
  const record = (at: number, ms: number) => t.recordFields('shop/web/p01', 'shop--web--web-r1-0-abcdef', 200, ms, at);
  for (let n = 0; n < 5000; n++) record(0, 1);
  // 17 minutes later: the 5,000 are past 15 minutes and past the minute of slack: all dropped.
  for (let n = 0; n < 5000; n++) record(17 * 60_000, 2);
  assert.deepEqual(t.latency('shop/web', 0, 18 * 60_000), { requests: 5000, p50Ms: 2, p90Ms: 2, p99Ms: 2 });
  // 10 minutes on, 3,000 more; 7 minutes after that, the 5,000 (17 minutes old) go, the 3,000 stay.
  for (let n = 0; n < 3000; n++) record(27 * 60_000, 3);
  record(34 * 60_000, 4);
  assert.equal(t.latency('shop/web', 0, 35 * 60_000)!.requests, 3001);
  assert.equal(t.window('shop/web', 0, 35 * 60_000).get(1)!.latencyP50Ms, 3);
  t.forget('shop/web');
  assert.equal(t.latency('shop/web', 0, 35 * 60_000), undefined);
  record(34 * 60_000, 5);
  assert.equal(t.latency('shop/web', 0, 35 * 60_000)!.requests, 1);
});
