/**
 * The built-in router against real HTTP backends on 127.0.0.1: host routing, the router's own pages,
 * balancing, streaming, forwarded headers, retry of refused idempotent requests, draining, WebSocket
 * upgrades, 502 and 504.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import crypto from 'node:crypto';
import { NodeRouter } from '../src/router/node-proxy/node-router.ts';
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
  b.server = http.createServer((req, res) => {
    b.hits++;
    b.lastHeaders = req.headers;
    if (handler) return handler(req, res);
    res.end(id);
  });
  b.server.on('upgrade', (req, socket) => {
    socket.write('HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: Upgrade\r\n\r\n');
    socket.on('data', (d) => socket.write(Buffer.concat([Buffer.from(`${id}:`), d])));
  });
  await new Promise<void>((r) => b.server.listen(0, '127.0.0.1', () => r()));
  b.port = (b.server.address() as net.AddressInfo).port;
  return b;
}

const ep = (b: Backend, weight = 1): Endpoint => ({ id: b.id, host: '127.0.0.1', port: b.port, weight });
const route = (hosts: string[], endpoints: Endpoint[], extra: Partial<Route> = {}): Route => ({ key: hosts[0], hosts, project: 'p', service: 's', portName: 'p01', protocol: 'HTTP', endpoints, maintenance: false, ...extra });

function request(port: number, host: string, opts: { method?: string; path?: string; body?: Buffer; agent?: http.Agent; headers?: Record<string, string> } = {}): Promise<{ status: number; body: Buffer; headers: http.IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method: opts.method ?? 'GET', path: opts.path ?? '/', headers: { host, ...opts.headers }, agent: opts.agent ?? false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, body: Buffer.concat(chunks), headers: res.headers }));
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}

describe('built-in router', () => {
  let router: NodeRouter;
  let port: number;
  const backends: Backend[] = [];
  const mk = async (id: string, h?: http.RequestListener) => {
    const b = await backend(id, h);
    backends.push(b);
    return b;
  };

  before(async () => {
    router = new NodeRouter({ host: '127.0.0.1', port: 0, upstreamTimeoutMs: 500 });
    await router.start();
    port = router.address().httpPort;
  });
  after(async () => {
    await router.stop();
    for (const b of backends) b.server.close();
  });

  it('routes by Host, ignoring case and port, and answers 404 for an unknown host', async () => {
    const a = await mk('a');
    router.setTable({ routes: [route(['app.test'], [ep(a)])] });
    assert.equal((await request(port, 'App.Test:8080')).body.toString(), 'a');
    const miss = await request(port, 'nope.test');
    assert.equal(miss.status, 404);
    assert.match(miss.body.toString(), /No service answers at <code>nope.test<\/code>/);
    const evil = await request(port, 'x<script>.test');
    assert.ok(!evil.body.toString().includes('<script>'));
  });

  it('answers 503 with no ready instance and a maintenance page when scaled to zero', async () => {
    router.setTable({ routes: [route(['empty.test'], []), route(['maint.test'], [], { maintenance: true })] });
    const empty = await request(port, 'empty.test');
    assert.equal(empty.status, 503);
    assert.match(empty.body.toString(), /No instance/);
    const maint = await request(port, 'maint.test');
    assert.equal(maint.status, 503);
    assert.match(maint.body.toString(), /maintenance/);
    assert.equal(maint.headers['retry-after'], '30');
  });

  it('spreads requests evenly, follows weights, and never sends to weight 0', async () => {
    const [x, y, z] = [await mk('x'), await mk('y'), await mk('z')];
    router.setTable({ routes: [route(['rr.test'], [ep(x), ep(y), ep(z)])] });
    const agent = new http.Agent({ keepAlive: true });
    const count = async (n: number) => {
      const c: Record<string, number> = {};
      for (let i = 0; i < n; i++) {
        const id = (await request(port, 'rr.test', { agent })).body.toString();
        c[id] = (c[id] ?? 0) + 1;
      }
      return c;
    };
    assert.deepEqual(await count(30), { x: 10, y: 10, z: 10 });
    router.setTable({ routes: [route(['rr.test'], [ep(x, 3), ep(y, 1), ep(z, 0)])] });
    assert.deepEqual(await count(40), { x: 30, y: 10 });
    agent.destroy();
  });

  it('prefers the idle endpoint in leastConnection mode', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const slow = await mk('slow', (_req, res) => void gate.then(() => res.end('slow')));
    const fast = await mk('fast');
    router.setTable({ routes: [route(['lc.test'], [ep(slow), ep(fast)], { loadBalancing: { mode: 'leastConnection' } })] });
    const first = request(port, 'lc.test');
    while (slow.hits === 0 && fast.hits === 0) await new Promise((r) => setTimeout(r, 5));
    const busy = slow.hits === 1 ? 'slow' : 'fast';
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await request(port, 'lc.test')).body.toString());
    if (busy === 'slow') assert.deepEqual(ids, ['fast', 'fast', 'fast', 'fast', 'fast']);
    release();
    await first;
  });

  it('streams a large request and response intact', async () => {
    const echo = await mk('echo', (req, res) => req.pipe(res));
    router.setTable({ routes: [route(['echo.test'], [ep(echo)])] });
    const body = crypto.randomBytes(20 * 1024 * 1024);
    const res = await request(port, 'echo.test', { method: 'POST', body });
    assert.equal(res.status, 200);
    assert.equal(crypto.createHash('sha256').update(res.body).digest('hex'), crypto.createHash('sha256').update(body).digest('hex'));
  });

  it('adds X-Forwarded-* headers and a request id, keeping a sane client id', async () => {
    const h = await mk('hdr');
    router.setTable({ routes: [route(['hdr.test'], [ep(h)])] });
    await request(port, 'hdr.test', { headers: { 'x-forwarded-for': '203.0.113.9' } });
    assert.equal(h.lastHeaders!['x-forwarded-for'], '203.0.113.9, 127.0.0.1');
    assert.equal(h.lastHeaders!['x-forwarded-proto'], 'http');
    assert.equal(h.lastHeaders!['x-forwarded-host'], 'hdr.test');
    assert.match(String(h.lastHeaders!['x-request-id']), /^[0-9a-f-]{36}$/);
    await request(port, 'hdr.test', { headers: { 'x-request-id': 'abc-123' } });
    assert.equal(h.lastHeaders!['x-request-id'], 'abc-123');
  });

  it('retries a GET on another endpoint when one refuses the connection, but answers a POST 502', async () => {
    const live = await mk('live');
    const dead = await mk('dead');
    await new Promise((r) => dead.server.close(r));
    router.setTable({ routes: [route(['retry.test'], [ep(dead), ep(live)])] });
    for (let i = 0; i < 6; i++) assert.equal((await request(port, 'retry.test')).status, 200);
    router.setTable({ routes: [route(['retry.test'], [ep(dead)])] });
    assert.equal((await request(port, 'retry.test', { method: 'POST', body: Buffer.from('x') })).status, 502);
    assert.equal((await request(port, 'retry.test')).status, 502);
  });

  it('lets an in-flight request to a removed endpoint finish, and sends new ones elsewhere', async () => {
    const draining = await mk('draining', (_req, res) => setTimeout(() => res.end('finished'), 400));
    const stays = await mk('stays');
    router.setTable({ routes: [route(['drain.test'], [ep(draining)])] });
    const inflight = request(port, 'drain.test');
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(router.inFlight('draining'), 1);
    router.setTable({ routes: [route(['drain.test'], [ep(stays)])] });
    for (let i = 0; i < 3; i++) assert.equal((await request(port, 'drain.test')).body.toString(), 'stays');
    const done = await inflight;
    assert.equal(done.status, 200);
    assert.equal(done.body.toString(), 'finished');
    assert.equal(router.inFlight('draining'), 0);
  });

  it('closes its kept-alive connections to a removed endpoint: idle ones at once, busy ones after their request', async () => {
    const open = new Set<net.Socket>();
    const gone = await mk('gone', (req, res) => (req.url === '/slow' ? setTimeout(() => res.end('slow done'), 300) : res.end('gone')));
    gone.server.keepAliveTimeout = 60_000; // the instance would keep them: the router must close them
    gone.server.on('connection', (s: net.Socket) => {
      open.add(s);
      s.on('close', () => open.delete(s));
    });
    const other = await mk('other');
    router.setTable({ routes: [route(['idle.test'], [ep(gone)])] });
    // Two concurrent requests leave two pooled keep-alive connections from the router to the instance.
    await Promise.all([request(port, 'idle.test'), request(port, 'idle.test')]);
    const slow = request(port, 'idle.test', { path: '/slow' });
    await new Promise((r) => setTimeout(r, 100));
    assert.ok(open.size >= 2, `pooled connections: ${open.size}`);
    router.setTable({ routes: [route(['idle.test'], [ep(other)])] });
    assert.equal((await slow).body.toString(), 'slow done');
    const deadline = Date.now() + 3000;
    while (open.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.equal(open.size, 0, 'every connection to the removed endpoint is closed');
    assert.equal((await request(port, 'idle.test')).body.toString(), 'other');
  });

  it('serves many sequential requests over one kept-alive client connection', async () => {
    const k = await mk('ka');
    router.setTable({ routes: [route(['ka.test'], [ep(k)])] });
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const sockets = new Set<net.Socket>();
    for (let i = 0; i < 50; i++) {
      await new Promise<void>((resolve, reject) => {
        const req = http.get({ host: '127.0.0.1', port, headers: { host: 'ka.test' }, agent }, (res) => {
          sockets.add(res.socket as net.Socket);
          res.resume();
          res.on('end', () => resolve());
        });
        req.on('error', reject);
      });
    }
    assert.equal(sockets.size, 1);
    agent.destroy();
  });

  it('passes WebSocket upgrades through', async () => {
    const ws = await mk('ws');
    router.setTable({ routes: [route(['ws.test'], [ep(ws)])] });
    const sock = net.connect({ host: '127.0.0.1', port });
    sock.write('GET /chat HTTP/1.1\r\nHost: ws.test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n');
    let got = '';
    await new Promise<void>((resolve) => {
      sock.on('data', (d) => {
        got += d.toString();
        if (got.includes('\r\n\r\n') && !got.includes('ws:ping')) sock.write('ping');
        if (got.includes('ws:ping')) resolve();
      });
    });
    assert.match(got, /^HTTP\/1.1 101/);
    sock.destroy();
  });

  it('answers 504 when the instance never answers', async () => {
    const hang = await mk('hang', () => {});
    router.setTable({ routes: [route(['hang.test'], [ep(hang)])] });
    const res = await request(port, 'hang.test');
    assert.equal(res.status, 504);
  });
});
