/**
 * The HAProxy data plane against real HTTP backends on 127.0.0.1, through a real HAProxy: host routing,
 * the router's own pages, balancing modes, forwarded headers, endpoint changes under keep-alive load with
 * no failed request, retries away from a vanished instance, and draining. Needs the Debian package
 * `haproxy`; without it the suite fails (it never skips silently).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Pool, request } from 'undici';
import { HaproxyRouter } from '../src/router/haproxy/haproxy-router.ts';
import { haproxyAvailable } from '../src/router/haproxy/detect.ts';
import { proxyName } from '../src/router/metrics.ts';
import type { Endpoint, Route } from '../src/router/table.ts';

interface Backend {
  id: string;
  port: number;
  server: http.Server;
  hits: number;
  lastHeaders?: http.IncomingHttpHeaders;
}

async function backend(id: string, handler?: http.RequestListener): Promise<Backend> {
  const b: Backend = { id, port: 0, server: undefined as never, hits: 0 };
  b.server = http.createServer({ keepAliveTimeout: 30_000 }, (req, res) => {
    b.hits++;
    b.lastHeaders = req.headers;
    if (handler) return handler(req, res);
    res.end(id);
  });
  await new Promise<void>((r) => b.server.listen(0, '127.0.0.1', () => r()));
  b.port = (b.server.address() as net.AddressInfo).port;
  return b;
}

async function close(b: Backend): Promise<void> {
  const closed = new Promise((r) => b.server.close(r));
  b.server.closeAllConnections();
  await closed;
}

const ep = (b: Backend, weight = 1): Endpoint => ({ id: b.id, host: '127.0.0.1', port: b.port, weight });
const route = (hosts: string[], endpoints: Endpoint[], extra: Partial<Route> = {}): Route => ({ key: `p/${hosts[0]}/web`, hosts, project: 'p', service: hosts[0], portName: 'web', protocol: 'HTTP', endpoints, maintenance: false, ...extra });

async function until(what: string, check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('HAProxy router', () => {
  let router: HaproxyRouter;
  let port: number;
  let dataDir: string;
  let pool: Pool;
  const backends: Backend[] = [];
  const mk = async (id: string, h?: http.RequestListener) => {
    const b = await backend(id, h);
    backends.push(b);
    return b;
  };
  /** A request over a kept-alive connection, with the given Host header. */
  const get = async (host: string, headers: Record<string, string> = {}, method: 'GET' | 'POST' = 'GET') => {
    const res = await request(`http://127.0.0.1:${port}/`, { method, headers: { host, ...headers }, dispatcher: pool });
    return { status: res.statusCode, headers: res.headers, body: await res.body.text() };
  };
  const count = async (host: string, n: number, headers: Record<string, string> = {}) => {
    const c: Record<string, number> = {};
    for (let i = 0; i < n; i++) {
      const id = (await get(host, headers)).body;
      c[id] = (c[id] ?? 0) + 1;
    }
    return c;
  };
  const setTable = async (routes: Route[]) => {
    router.setTable({ routes });
    await router.settled();
  };

  before(async () => {
    assert.ok(haproxyAvailable(), 'haproxy is not installed: install the Debian package haproxy (apt-get install -y haproxy)');
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'slipway-hap-'));
    router = new HaproxyRouter({ host: '127.0.0.1', port: 0, dataDir });
    await router.start();
    port = router.address().httpPort;
    pool = new Pool(`http://127.0.0.1:${port}`, { connections: 8, keepAliveTimeout: 30_000 });
  });

  after(async () => {
    await pool?.close();
    await router?.stop();
    for (const b of backends) b.server.closeAllConnections();
    await Promise.all(backends.map((b) => new Promise((r) => b.server.close(r))));
    if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
  });

  test('binds a real port when asked for port 0 and writes its configuration under the data directory', () => {
    assert.ok(port > 0);
    const cfg = fs.readFileSync(path.join(dataDir, 'router', 'haproxy.cfg'), 'utf8');
    assert.match(cfg, /expose-fd listeners/);
    assert.doesNotMatch(cfg, /http-server-close/);
  });

  test('routes by Host, ignoring case and port, and answers 404 naming an unknown host', async () => {
    const a = await mk('a');
    const b = await mk('b');
    await setTable([route(['app.test', 'www.app.test'], [ep(a)]), route(['other.test'], [ep(b)])]);
    assert.equal((await get('App.Test:8080')).body, 'a');
    assert.equal((await get('www.app.test')).body, 'a');
    assert.equal((await get('other.test')).body, 'b');
    const miss = await get('nope.test');
    assert.equal(miss.status, 404);
    assert.match(miss.body, /No service answers at <code>nope.test<\/code>/);
    const evil = await get('x<script>.test');
    assert.equal(evil.status, 404);
    assert.ok(!evil.body.includes('<script>'));
  });

  test('answers 503 with no ready instance and a maintenance page when scaled to zero', async () => {
    await setTable([route(['empty.test'], []), route(['maint.test'], [], { maintenance: true })]);
    const empty = await get('empty.test');
    assert.equal(empty.status, 503);
    assert.match(empty.body, /No instance of this service is ready yet/);
    const maint = await get('maint.test');
    assert.equal(maint.status, 503);
    assert.match(maint.body, /scaled to zero for maintenance/);
    assert.equal(maint.headers['retry-after'], '30');
  });

  test('keeps serving a route through a reload for another route', async () => {
    const k = await mk('kept');
    await setTable([route(['kept.test'], [ep(k)])]);
    assert.equal((await get('kept.test')).body, 'kept');
    await setTable([route(['kept.test'], [ep(k)]), route(['added.test'], [])]);
    assert.equal((await get('kept.test')).body, 'kept');
    assert.equal((await get('added.test')).status, 503);
  });

  test('serves new routes on spare backends without a reload; the reload when they are used up writes every route under its own name', async () => {
    const k = await mk('spare');
    const routes = [route(['sp0.test'], [ep(k)])];
    await setTable(routes);
    const cfg = fs.readFileSync(path.join(dataDir, 'router', 'haproxy.cfg'), 'utf8');
    routes.push(route(['sp1.test'], [ep(k)]));
    await setTable(routes);
    assert.equal((await get('sp1.test')).body, 'spare');
    assert.equal(fs.readFileSync(path.join(dataDir, 'router', 'haproxy.cfg'), 'utf8'), cfg, 'a new plain route must not rewrite the configuration');
    // More new routes than spares: one reload, which writes every route's backend under its own name.
    for (let i = 2; i < 40; i++) routes.push(route([`sp${i}.test`], [ep(k)]));
    await setTable(routes);
    const reloaded = fs.readFileSync(path.join(dataDir, 'router', 'haproxy.cfg'), 'utf8');
    for (const r of routes) {
      assert.equal((await get(r.hosts[0])).body, 'spare', r.hosts[0]);
      assert.match(reloaded, new RegExp(`^backend ${proxyName(r.key)}$`, 'm'));
    }
  });

  test('spreads requests round robin over three instances', async () => {
    const [x, y, z] = [await mk('x'), await mk('y'), await mk('z')];
    await setTable([route(['rr.test'], [ep(x), ep(y), ep(z)])]);
    const c = await count('rr.test', 30);
    assert.deepEqual(Object.keys(c).sort(), ['x', 'y', 'z']);
    for (const id of ['x', 'y', 'z']) assert.ok(c[id] >= 8 && c[id] <= 12, `even spread expected, got ${JSON.stringify(c)}`);
  });

  test('follows weights and never sends to weight 0, changing them without a reload', async () => {
    const [x, y, z] = [await mk('wx'), await mk('wy'), await mk('wz')];
    await setTable([route(['w.test'], [ep(x), ep(y), ep(z)])]);
    const cfg = fs.readFileSync(path.join(dataDir, 'router', 'haproxy.cfg'), 'utf8');
    await setTable([route(['w.test'], [ep(x, 3), ep(y, 1), ep(z, 0)])]);
    assert.equal(fs.readFileSync(path.join(dataDir, 'router', 'haproxy.cfg'), 'utf8'), cfg, 'a weight change must not rewrite the configuration');
    const c = await count('w.test', 40);
    assert.equal(c.wz, undefined);
    assert.ok(c.wx > 0 && c.wy > 0, JSON.stringify(c));
    assert.ok(c.wx > 2 * c.wy, `a 3:1 split expected, got ${JSON.stringify(c)}`);
  });

  test('prefers the idle instance in leastConnection mode', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let held = false;
    // The first request, wherever it lands, is held open; every later one is answered at once.
    const hold =
      (id: string): http.RequestListener =>
      (_req, res) => {
        if (held) return void res.end(id);
        held = true;
        void gate.then(() => res.end('held'));
      };
    const l1 = await mk('l1', hold('l1'));
    const l2 = await mk('l2', hold('l2'));
    await setTable([route(['lc.test'], [ep(l1), ep(l2)], { loadBalancing: { mode: 'leastConnection' } })]);
    const first = get('lc.test');
    await until('one instance holds a request', () => held);
    const busy = l1.hits === 1 ? 'l1' : 'l2';
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await get('lc.test')).body);
    const idle = busy === 'l1' ? 'l2' : 'l1';
    assert.deepEqual(ids, [idle, idle, idle, idle, idle]);
    release();
    assert.equal((await first).body, 'held');
  });

  test('keeps a client IP on one instance with consistentHash ip', async () => {
    const hs = [await mk('ip1'), await mk('ip2'), await mk('ip3')];
    await setTable([route(['ip.test'], hs.map((h) => ep(h)), { loadBalancing: { mode: 'consistentHash', consistentHash: { mode: 'ip' } } })]);
    const from = (addr: string) =>
      new Promise<string>((resolve, reject) => {
        http
          .get({ host: '127.0.0.1', port, localAddress: addr, headers: { host: 'ip.test' }, agent: false }, (res) => {
            let body = '';
            res.on('data', (d) => (body += d));
            res.on('end', () => resolve(body));
          })
          .on('error', reject);
      });
    const seen = new Set<string>();
    for (let i = 1; i <= 12; i++) {
      const addr = `127.0.0.${i}`;
      const first = await from(addr);
      seen.add(first);
      for (let j = 0; j < 3; j++) assert.equal(await from(addr), first, `client ${addr} moved`);
    }
    assert.ok(seen.size > 1, 'different clients should spread over instances');
  });

  test('keeps a header value on one instance with consistentHash customHeader', async () => {
    const hs = [await mk('h1'), await mk('h2'), await mk('h3')];
    await setTable([route(['hash.test'], hs.map((h) => ep(h)), { loadBalancing: { mode: 'consistentHash', consistentHash: { mode: 'customHeader', header: 'X-Sticky-Session' } } })]);
    const seen = new Set<string>();
    for (let u = 0; u < 12; u++) {
      const c = await count('hash.test', 4, { 'x-sticky-session': `user-${u}` });
      assert.equal(Object.keys(c).length, 1, `user-${u} was spread: ${JSON.stringify(c)}`);
      seen.add(Object.keys(c)[0]);
    }
    assert.ok(seen.size > 1, 'different header values should spread over instances');
  });

  test('adds X-Forwarded-* headers and a request id, keeping a sane client id', async () => {
    const h = await mk('hdr');
    await setTable([route(['hdr.test'], [ep(h)])]);
    await get('hdr.test', { 'x-forwarded-for': '203.0.113.9' });
    assert.equal(h.lastHeaders!['x-forwarded-for'], '203.0.113.9, 127.0.0.1');
    assert.equal(h.lastHeaders!['x-forwarded-proto'], 'http');
    assert.equal(h.lastHeaders!['x-forwarded-host'], 'hdr.test');
    assert.equal(h.lastHeaders!['x-forwarded-port'], String(port));
    assert.match(String(h.lastHeaders!['x-request-id']), /^[0-9a-f-]{36}$/);
    await get('hdr.test', { 'x-request-id': 'abc-123' });
    assert.equal(h.lastHeaders!['x-request-id'], 'abc-123');
    await get('hdr.test', { 'x-request-id': 'bad id with spaces' });
    assert.match(String(h.lastHeaders!['x-request-id']), /^[0-9a-f-]{36}$/);
  });

  test('retries a GET on another instance when one refuses the connection', async () => {
    const live = await mk('live');
    const dead = await mk('dead');
    await close(dead);
    await setTable([route(['retry.test'], [ep(dead), ep(live)])]);
    for (let i = 0; i < 6; i++) {
      const res = await get('retry.test');
      assert.equal(res.status, 200);
      assert.equal(res.body, 'live');
    }
  });

  test('passes WebSocket upgrades through', async () => {
    const ws = await mk('ws');
    ws.server.on('upgrade', (req, socket) => {
      // HAProxy checks the handshake, so the instance answers with a real Sec-WebSocket-Accept.
      const accept = crypto.createHash('sha1').update(`${req.headers['sec-websocket-key']}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
      socket.write(`HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: Upgrade\r\nsec-websocket-accept: ${accept}\r\n\r\n`);
      socket.on('data', (d: Buffer) => socket.write(Buffer.concat([Buffer.from('ws:'), d])));
      socket.on('end', () => socket.destroy());
    });
    await setTable([route(['ws.test'], [ep(ws)])]);
    const sock = net.connect({ host: '127.0.0.1', port });
    sock.write('GET /chat HTTP/1.1\r\nHost: ws.test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n');
    let got = '';
    await new Promise<void>((resolve, reject) => {
      sock.on('error', reject);
      sock.on('data', (d) => {
        got += d.toString();
        if (!got.startsWith('HTTP/1.1 101')) return reject(new Error(`upgrade refused: ${got.slice(0, 60)}`));
        if (got.includes('\r\n\r\n') && !got.includes('ws:ping')) sock.write('ping');
        if (got.includes('ws:ping')) resolve();
      });
    });
    assert.match(got, /^HTTP\/1.1 101/);
    sock.destroy();
  });

  test('replaces instances under keep-alive load without a failed request', async () => {
    let gen = 0;
    const spawnInstance = () => mk(`gen${gen++}`);
    let current = [await spawnInstance(), await spawnInstance()];
    await setTable([route(['load.test'], current.map((b) => ep(b)))]);
    const cfg = fs.readFileSync(path.join(dataDir, 'router', 'haproxy.cfg'), 'utf8');

    let running = true;
    let ok = 0;
    const failures: string[] = [];
    const answeredBy = new Set<string>();
    const client = async () => {
      while (running) {
        try {
          const res = await get('load.test');
          if (res.status === 200) {
            ok++;
            answeredBy.add(res.body);
          } else failures.push(`status ${res.status}`);
        } catch (err) {
          failures.push((err as Error).message);
        }
      }
    };
    const clients = Array.from({ length: 6 }, client);

    // Rolling replacement: a new instance joins, the oldest leaves the table, drains, and is stopped. It
    // goes on for about 2 s, and in any case until enough replacements and requests happened.
    const started = Date.now();
    let replacements = 0;
    while (Date.now() - started < 2000 || replacements < 6 || ok < 200) {
      await new Promise((r) => setTimeout(r, 100));
      const next = await spawnInstance();
      const leaving = current[0];
      current = [...current.slice(1), next];
      router.setTable({ routes: [route(['load.test'], current.map((b) => ep(b)))] });
      await until(`${leaving.id} drained`, () => router.inFlight(leaving.id) === 0);
      await close(leaving);
      replacements++;
    }
    running = false;
    await Promise.all(clients);

    assert.deepEqual(failures, []);
    assert.ok(answeredBy.size >= 4, `answers came from ${[...answeredBy].join(', ')}`);
    assert.equal(fs.readFileSync(path.join(dataDir, 'router', 'haproxy.cfg'), 'utf8'), cfg, 'endpoint changes must not rewrite the configuration');
    const c = await count('load.test', 10);
    assert.deepEqual(Object.keys(c).sort(), current.map((b) => b.id).sort(), 'only the instances in the table answer');
  });

  test('a rollout faster than its drains are counted reuses the drained slots instead of reloading', async () => {
    // 12 instances in a backend of 16 slots, replaced one at a time without waiting for the drains: the
    // fifth new instance finds every slot taken, four of them by instances that left the table and drain.
    let current = await Promise.all(Array.from({ length: 12 }, (_, i) => mk(`fast${i}`)));
    await setTable([route(['fast.test'], current.map((b) => ep(b)))]);
    const cfg = fs.readFileSync(path.join(dataDir, 'router', 'haproxy.cfg'), 'utf8');
    const replacements = await Promise.all(Array.from({ length: 8 }, (_, i) => mk(`fastnew${i}`)));
    for (const next of replacements) {
      current = [...current.slice(1), next];
      await setTable([route(['fast.test'], current.map((b) => ep(b)))]);
    }
    assert.equal(fs.readFileSync(path.join(dataDir, 'router', 'haproxy.cfg'), 'utf8'), cfg, 'a rolling replacement must not rewrite the configuration');
    const c = await count('fast.test', 24);
    assert.deepEqual(Object.keys(c).sort(), current.map((b) => b.id).sort(), 'only the instances in the table answer');
  });

  test('lets an in-flight request to a removed instance finish, and sends new ones elsewhere', async () => {
    const draining = await mk('draining', (_req, res) => setTimeout(() => res.end('finished'), 400));
    const stays = await mk('stays');
    await setTable([route(['drain.test'], [ep(draining)])]);
    const inflight = get('drain.test');
    await until('the slow request reached its instance', () => draining.hits === 1);
    await until('the router counts it in flight', () => router.inFlight('draining') === 1);
    router.setTable({ routes: [route(['drain.test'], [ep(stays)])] });
    assert.ok(router.inFlight('draining') >= 1, 'a removed instance with a request in flight is not drained');
    await router.settled();
    for (let i = 0; i < 3; i++) assert.equal((await get('drain.test')).body, 'stays');
    const done = await inflight;
    assert.equal(done.status, 200);
    assert.equal(done.body, 'finished');
    await until('the drained instance counts nothing in flight', () => router.inFlight('draining') === 0);
    assert.equal(draining.hits, 1);
  });
});
