/**
 * Endpoint replacement under load, through a real HAProxy (its default threads, one per core): a route's only
 * endpoint is replaced again and again while requests keep coming. The new endpoint's slot must take traffic
 * before the old one's drains (make before break): HAProxy serves requests on its other threads while the
 * Runtime API applies a line of commands, so the other order leaves moments with no server, answered 503.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { HaproxyRouter } from '../src/router/haproxy/haproxy-router.ts';
import type { Endpoint, Route } from '../src/router/table.ts';
import { requestLoad } from './support/platform.ts';

const SWAPS = 60;
const LOOPS = 4;

let dataDir: string;
const servers: { id: string; port: number; server: http.Server }[] = [];
let router: HaproxyRouter;

before(async () => {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'slipway-swap-'));
  for (const id of ['one', 'two', 'three']) {
    const server = http.createServer({ keepAliveTimeout: 30_000 }, (_req, res) => res.end(id));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    servers.push({ id, port: (server.address() as net.AddressInfo).port, server });
  }
});
after(async () => {
  await router?.stop().catch(() => undefined);
  for (const s of servers) {
    s.server.closeAllConnections();
    await new Promise((r) => s.server.close(r));
  }
  fs.rmSync(dataDir, { recursive: true, force: true });
});

const route = (e: (typeof servers)[number]): Route => {
  const endpoint: Endpoint = { id: e.id, host: '127.0.0.1', port: e.port, weight: 1 };
  return { key: 'p/swap/web', hosts: ['swap.test'], project: 'p', service: 'swap', portName: 'web', protocol: 'HTTP', endpoints: [endpoint], maintenance: false };
};

test(`a route's only endpoint replaced ${SWAPS} times under load: no request fails`, async () => {
  router = new HaproxyRouter({ host: '127.0.0.1', port: 0, dataDir });
  router.setTable({ routes: [route(servers[0]!)] });
  await router.start();
  const port = router.address().httpPort;
  const load = requestLoad(port, 'swap.test', { keptAlive: LOOPS, fresh: 0 });
  const { stats } = load;
  try {
    for (let i = 1; i <= SWAPS; i++) {
      router.setTable({ routes: [route(servers[i % servers.length]!)] });
      await router.settled();
      // Some requests between swaps, so every change meets traffic.
      const from = stats.ok;
      const deadline = Date.now() + 5000;
      while (stats.ok < from + 20 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 2));
    }
  } finally {
    await load.stop();
  }
  assert.ok(stats.ok > SWAPS * 20, `requests served: ${stats.ok}`);
  assert.deepEqual([...stats.seen.keys()].sort(), ['one', 'three', 'two']);
  assert.equal(stats.failed, 0, `${stats.failed} failed: ${stats.errors.slice(0, 5).join(' | ')}`);
});
