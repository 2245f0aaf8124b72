import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { UserMetricScraper } from './signals.ts';

describe('user metrics scraped from an instance', () => {
  let server: http.Server;
  let url: string;
  let counter = 0;
  let depth = 7;

  before(async () => {
    // An app's metrics endpoint: a gauge, a labelled counter (read as the sum of its series).
    server = http.createServer((_req, res) => res.end(`# TYPE queue_depth gauge\nqueue_depth ${depth}\n# TYPE jobs_total counter\njobs_total{kind="a"} ${counter}\njobs_total{kind="b"} ${counter}\n`));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/metrics`;
  });
  after(() => server.close());

  it('reads a gauge as it is and a counter as a rate since the previous scrape', async () => {
    const scraper = new UserMetricScraper();
    const metrics = [
      { metricName: 'queue_depth', metricType: 'gauge' as const },
      { metricName: 'jobs', metricType: 'counter' as const }, // found as jobs_total
      { metricName: 'absent', metricType: 'gauge' as const },
    ];
    counter = 100;
    const before1 = Date.now();
    const first = await scraper.read('i1', url, metrics);
    const after1 = Date.now();
    assert.equal(first?.get('queue_depth'), 7);
    assert.equal(first?.get('jobs'), undefined, 'a rate needs two readings');
    assert.equal(first?.get('absent'), undefined);
    await new Promise((r) => setTimeout(r, 200));
    counter = 150; // +50 per series, +100 in all
    depth = 2;
    const before2 = Date.now();
    const second = await scraper.read('i1', url, metrics);
    const after2 = Date.now();
    assert.equal(second?.get('queue_depth'), 2);
    // Each reading is stamped while its read runs: the time between them is at least the gap between the two
    // reads and at most from the first's start to the second's end, however slow the machine.
    const rate = second?.get('jobs');
    assert.ok(rate !== undefined && rate >= 100 / ((after2 - before1) / 1000) && rate <= 100 / ((before2 - after1) / 1000), `rate ${rate} over reads ${before1}-${after1} and ${before2}-${after2}`);
    // Another instance has its own history; a gone instance is forgotten.
    assert.equal((await scraper.read('i2', url, metrics))?.get('jobs'), undefined);
    scraper.retain(new Set(['i2']));
    assert.equal((await scraper.read('i1', url, metrics))?.get('jobs'), undefined);
  });

  it('answers undefined when the endpoint cannot be read', async () => {
    assert.equal(await new UserMetricScraper().read('i1', 'http://127.0.0.1:1/metrics', [{ metricName: 'q', metricType: 'gauge' }]), undefined);
  });
});
