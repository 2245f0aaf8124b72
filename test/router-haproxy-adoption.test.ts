/**
 * HAProxy across control planes and reloads, through a real HAProxy against real HTTP backends:
 * - a router that lets go of HAProxy (`detach`) leaves it serving, and a new router on the same data
 *   directory adopts that master (same pid), with no failed request between, then drives it;
 * - a TLS request on a keep-alive connection opened before a reload, sent after an endpoint change that
 *   stopped the endpoint it was first served by, meets the new endpoint (the old worker hands it over).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { HaproxyRouter } from '../src/router/haproxy/haproxy-router.ts';
import { cliCommand, parseShowProc } from '../src/router/haproxy/runtime-api.ts';
import type { Endpoint, Route } from '../src/router/table.ts';
import { requestLoad } from './support/platform.ts';

interface Backend {
  id: string;
  port: number;
  server: http.Server;
}

async function backend(id: string): Promise<Backend> {
  const server = http.createServer({ keepAliveTimeout: 30_000 }, (_req, res) => res.end(id));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return { id, port: (server.address() as net.AddressInfo).port, server };
}

async function close(b: Backend): Promise<void> {
  const closed = new Promise((r) => b.server.close(r));
  b.server.closeAllConnections();
  await closed;
}

const ep = (b: Backend): Endpoint => ({ id: b.id, host: '127.0.0.1', port: b.port, weight: 1 });
const route = (host: string, endpoints: Endpoint[]): Route => ({ key: `p/${host}/web`, hosts: [host], project: 'p', service: host.split('.')[0], portName: 'web', protocol: 'HTTP', endpoints, maintenance: false });

function get(port: number, host: string, agent: http.Agent | false): Promise<{ status: number; body: string; reused: boolean }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/', headers: { host }, agent }, (res) => {
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, reused: req.reusedSocket }));
    });
    req.on('error', reject);
  });
}

function getTls(port: number, host: string, agent: https.Agent): Promise<{ status: number; body: string; reused: boolean }> {
  return new Promise((resolve, reject) => {
    const req = https.get({ host: '127.0.0.1', port, path: '/', servername: host, headers: { host }, agent, rejectUnauthorized: false }, (res) => {
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, reused: req.reusedSocket }));
    });
    req.on('error', reject);
  });
}

async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('HAProxy adopted across control planes', () => {
  let dataDir: string;
  const backends: Backend[] = [];
  const routers: HaproxyRouter[] = [];

  before(async () => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'slipway-adopt-'));
    for (const id of ['one', 'two', 'three']) backends.push(await backend(id));
  });
  after(async () => {
    for (const r of routers.reverse()) await r.stop().catch(() => undefined);
    for (const b of backends) await close(b);
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  test('a new router adopts the HAProxy a detached one left serving, with no failed request', async () => {
    const [one, two] = backends;
    const first = new HaproxyRouter({ host: '127.0.0.1', port: 0, dataDir });
    routers.push(first);
    first.setTable({ routes: [route('a.test', [ep(one)])] });
    await first.start();
    const port = first.address().httpPort;
    const pid = first.masterPid;
    assert.ok(pid > 0 && !first.adopted);

    const load = requestLoad(port, 'a.test');
    const { stats } = load;
    try {
      await until('requests before', () => stats.ok > 50);
      await first.detach();
      const whileAlone = stats.ok;
      await until('requests with no router driving HAProxy', () => stats.ok > whileAlone + 50);

      const second = new HaproxyRouter({ host: '127.0.0.1', port, dataDir });
      routers.push(second);
      await second.start();
      assert.equal(second.adopted, true, 'adopted');
      assert.equal(second.masterPid, pid, 'the same master');
      assert.equal(second.address().httpPort, port);
      // The adopted router drives it: an endpoint change is served.
      second.setTable({ routes: [route('a.test', [ep(two)])] });
      await second.settled();
      const from = stats.ok;
      await until('requests after the change', () => stats.ok > from + 50);
      assert.equal((await get(port, 'a.test', false)).body, 'two');
    } finally {
      await load.stop();
    }
    assert.equal(stats.failed, 0, stats.errors.slice(0, 5).join(' | '));
    assert.ok(alive(pid), 'never restarted');
  });

  test('stop() ends the adopted HAProxy', async () => {
    const r = routers[routers.length - 1];
    const pid = r.masterPid;
    await r.stop();
    await until('the master exited', () => !alive(pid));
  });
});

describe('HAProxy old workers after a reload', () => {
  let dataDir: string;
  let router: HaproxyRouter;
  const backends: Backend[] = [];

  before(async () => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'slipway-oldw-'));
    for (const id of ['one', 'two']) backends.push(await backend(id));
    router = new HaproxyRouter({ host: '127.0.0.1', port: 0, tlsPort: 0, domain: 'test.local', dataDir });
    await router.start();
  });
  after(async () => {
    await router?.stop();
    for (const b of backends) await close(b).catch(() => undefined);
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  test('a TLS request on a connection opened before a reload meets the endpoints of a later change', async () => {
    const [one, two] = backends;
    const host = 'a.test.local';
    router.setTable({ routes: [route(host, [ep(one)])] });
    await router.settled();
    const tlsPort = router.address().httpsPort!;
    const agent = new https.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      assert.deepEqual(await getTls(tlsPort, host, agent), { status: 200, body: 'one', reused: false });

      // A new route that no spare backend can hold (another load-balancing mode) reloads HAProxy; the idle
      // TLS connection stays with the worker that is now old.
      const b = (e: Endpoint): Route => ({ ...route('b.test.local', [e]), loadBalancing: { mode: 'leastConnection' } });
      router.setTable({ routes: [route(host, [ep(one)]), b(ep(one))] });
      await router.settled();
      const procs = parseShowProc(await cliCommand(path.join(dataDir, 'router', 'master.sock'), 'show proc'));
      assert.ok(procs.workers.some((w) => !w.current), 'an old worker holds the connection');

      // A rollout replaces the endpoint and stops the old one.
      router.setTable({ routes: [route(host, [ep(two)]), b(ep(two))] });
      await router.settled();
      await close(one);

      const after_ = await getTls(tlsPort, host, agent);
      assert.equal(after_.reused, true, 'sent on the connection opened before the reload');
      assert.equal(after_.status, 200, after_.body);
      assert.equal(after_.body, 'two');
    } finally {
      agent.destroy();
    }
  });
});
