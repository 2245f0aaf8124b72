/**
 * Both data planes (HAProxy and the built-in proxy) over a long random walk of routing tables, checked after
 * every step:
 * - HAProxy serves each route from exactly its endpoints at their weights (its own `show servers state`, the
 *   route found through HAProxy's own `routes.map`);
 * - each route's requests are answered by its endpoints of weight above 0 and nothing else, an empty route
 *   answers 503, a route in maintenance its maintenance page, a host no route names any more 404;
 * - the access log names the instance that answered each request;
 * - requests to one serving route all through the step never fail and are answered only by endpoints the
 *   step's tables serve.
 * Most steps move endpoints only (HAProxy: the pass planned from the changed routes); some change the
 * structure (a route added or removed, new hosts, maintenance, more endpoints than a backend has slots: a
 * reload); some hand over a table of new objects equal to the last, or several tables before the router has
 * served the first. The walk is seeded: a failure names its seed and step, and SLIPWAY_TEST_WALK_SEED replays
 * it.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Pool, request } from 'undici';
import { HaproxyRouter } from '../src/router/haproxy/haproxy-router.ts';
import { haproxyAvailable } from '../src/router/haproxy/detect.ts';
import { NodeRouter } from '../src/router/node-proxy/node-router.ts';
import type { Endpoint, Route, Router } from '../src/router/table.ts';

const STEPS = 120;
const INSTANCES = 10;
const SLOTS = 4;
/**
 * Rounds of the weights each route is asked for. Not every endpoint is reached in them: HAProxy's weighted
 * round robin queues a server that comes back up by the position it had, so one with a long history can wait
 * a round or more for its first request (its state, checked first, says it serves).
 */
const CYCLES = 2;
const SEED = Number(process.env.SLIPWAY_TEST_WALK_SEED ?? Date.now() % 1_000_000);

/** mulberry32: a small seeded generator, so that a failing walk can be replayed. */
function generator(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number) => Math.floor(next() * n);
  return { next, int, pick: <T>(xs: T[]): T => xs[int(xs.length)]! };
}

interface Instance {
  id: string;
  port: number;
  server: http.Server;
}

async function instance(id: string): Promise<Instance> {
  const server = http.createServer({ keepAliveTimeout: 30_000 }, (_req, res) => res.end(id));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return { id, port: (server.address() as net.AddressInfo).port, server };
}

/** A data plane under the walk: how to make it, feeding the access log's 200s to `logged`. */
interface Plane {
  name: string;
  create(dataDir: string, logged: (route: string, endpoint: string, status: number) => void): Router;
  /** Whether HAProxy's own server state is checked (the built-in proxy has no slots to read). */
  haproxy: boolean;
}

const PLANES: Plane[] = [
  {
    name: 'HAProxy',
    haproxy: true,
    create: (dataDir, logged) => {
      assert.ok(haproxyAvailable(), 'haproxy is not installed: install the Debian package haproxy (apt-get install -y haproxy)');
      return new HaproxyRouter({ host: '127.0.0.1', port: 0, dataDir, slotsPerBackend: SLOTS, accessLog: { requests: logged } });
    },
  },
  {
    name: 'built-in Node proxy',
    haproxy: false,
    create: (dataDir, logged) => new NodeRouter({ host: '127.0.0.1', port: 0, dataDir, upstreamTimeoutMs: 5000, accessLog: (e) => e.route && e.endpoint && logged(e.route, e.endpoint, e.status) }),
  },
];

for (const plane of PLANES) describe(`${plane.name} over a random walk of tables`, () => {
  let router: Router;
  let dataDir: string;
  let pool: Pool;
  const instances: Instance[] = [];
  /** what the access log said answered, by route key, since the last step's check */
  const logged = new Map<string, string[]>();
  /** requests the access log has reported, and those answered 200 through the router (each must be logged) */
  let loggedTotal = 0;
  let answeredTotal = 0;
  /** Until the access log has caught up with every request answered (it follows HAProxy's ring). */
  const logCaughtUp = async () => {
    const deadline = Date.now() + 10_000;
    while (loggedTotal < answeredTotal && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  };
  /** every host a table has named (those no route names any more must answer 404) */
  const gone = new Set<string>();
  const handedHosts: string[] = [];

  before(async () => {
    for (let i = 0; i < INSTANCES; i++) instances.push(await instance(`i${i}`));
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'slipway-walk-'));
    router = plane.create(dataDir, (route, endpoint, status) => {
      if (status !== 200) return;
      const list = logged.get(route) ?? [];
      logged.set(route, list);
      list.push(endpoint);
      loggedTotal++;
    });
    await router.start();
    await router.settled?.();
    pool = new Pool(`http://127.0.0.1:${router.address().httpPort}`, { connections: 4, keepAliveTimeout: 30_000 });
  });

  after(async () => {
    await pool?.close();
    await router?.stop();
    for (const i of instances) i.server.closeAllConnections();
    await Promise.all(instances.map((i) => new Promise((r) => i.server.close(r))));
    if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
  });

  test(`every step serves exactly its table (seed ${SEED})`, async () => {
    const rnd = generator(SEED);
    let names = 0;
    const newRoute = (): Route => {
      const name = `r${names++}`;
      return { key: `p/${name}/web`, hosts: [`${name}.walk.test`], project: 'p', service: name, portName: 'web', protocol: 'HTTP', endpoints: someEndpoints(), maintenance: false };
    };
    // Mostly within a backend's slots; sometimes past them (the backend grows with a reload).
    const someEndpoints = (): Endpoint[] => {
      const n = rnd.next() < 0.1 ? SLOTS + 1 + rnd.int(3) : rnd.int(SLOTS + 1);
      const chosen = [...instances].sort(() => rnd.next() - 0.5).slice(0, n);
      return chosen.map((i) => ({ id: i.id, host: '127.0.0.1', port: i.port, weight: rnd.next() < 0.1 ? 0 : 1 + rnd.int(3) }));
    };
    // Endpoints moved as a rollout moves them: one added, one removed, one re-weighted, or a new set.
    const moved = (r: Route): Route => {
      const eps = [...r.endpoints];
      const roll = rnd.next();
      if (roll < 0.3) {
        const free = instances.filter((i) => !eps.some((e) => e.id === i.id));
        if (free.length) {
          const i = rnd.pick(free);
          eps.push({ id: i.id, host: '127.0.0.1', port: i.port, weight: 1 });
        }
      } else if (roll < 0.6 && eps.length) eps.splice(rnd.int(eps.length), 1);
      else if (roll < 0.8 && eps.length) {
        const at = rnd.int(eps.length);
        eps[at] = { ...eps[at]!, weight: rnd.int(4) };
      } else return { ...r, endpoints: someEndpoints() };
      return { ...r, endpoints: eps };
    };

    let routes: Route[] = Array.from({ length: 5 }, newRoute);
    /** the tables handed over in this step, the one served before it first */
    let handed: Route[][] = [];
    const hand = () => {
      for (const r of routes) handedHosts.push(...r.hosts);
      handed.push([...routes]);
      router.setTable({ routes: [...routes] });
    };
    hand();
    await router.settled?.();

    for (let step = 1; step <= STEPS; step++) {
      const at = `seed ${SEED}, step ${step}`;
      // Requests to one route that serves, all through the step: while the router moves, none may fail.
      handed = [[...routes]];
      const watched = rnd.pick(routes);
      const load = steadyLoad(watched.hosts[0]!);
      const roll = rnd.next();
      let what: string;
      if (roll < 0.6) {
        // Endpoints only, on one to three routes; the others keep their objects, as the controller's table does.
        const n = 1 + rnd.int(3);
        for (let k = 0; k < n; k++) {
          const i = rnd.int(routes.length);
          routes[i] = moved(routes[i]!);
        }
        what = `endpoints of ${n} route(s)`;
        hand();
      } else if (roll < 0.7) {
        // Several tables handed over before the router serves the first: it must end on the last.
        for (let k = 0; k < 3; k++) {
          const i = rnd.int(routes.length);
          routes[i] = moved(routes[i]!);
          hand();
        }
        what = 'three tables at once';
      } else if (roll < 0.76) {
        routes = routes.map((r) => ({ ...r, endpoints: r.endpoints.map((e) => ({ ...e })) }));
        what = 'the same table as new objects';
        hand();
      } else if (roll < 0.84) {
        if (routes.length < 8) routes.push(newRoute());
        else routes.splice(rnd.int(routes.length), 1);
        what = 'a route added or removed';
        hand();
      } else if (roll < 0.9) {
        if (routes.length > 2) routes.splice(rnd.int(routes.length), 1);
        what = 'a route removed';
        hand();
      } else if (roll < 0.95) {
        const i = rnd.int(routes.length);
        routes[i] = { ...routes[i]!, maintenance: !routes[i]!.maintenance };
        what = 'maintenance toggled';
        hand();
      } else {
        const i = rnd.int(routes.length);
        const r = routes[i]!;
        routes[i] = { ...r, hosts: r.hosts.length > 1 ? [r.hosts[0]!] : [...r.hosts, `alt-${r.service}.walk.test`] };
        what = 'hosts changed';
        hand();
      }
      await router.settled?.();
      const answers = await load.stop();
      // Only where every table of the step had the route serving (it may have left, emptied or gone into
      // maintenance): then each request is answered by an endpoint one of those tables serves.
      const serving = (t: Route[]) => t.find((r) => r.key === watched.key && !r.maintenance && r.hosts[0] === watched.hosts[0])?.endpoints.filter((e) => e.weight !== 0) ?? [];
      if (handed.every((t) => serving(t).length > 0)) {
        const ids = new Set(handed.flatMap((t) => serving(t).map((e) => e.id)));
        const wrong = answers.filter((a) => !ids.has(a));
        assert.deepEqual(wrong, [], `${at} (${what}): ${answers.length} requests to ${watched.key} while the router moved, answered by ${JSON.stringify(count(answers))}; served by ${[...ids].join(',')}`);
      }
      await check(routes, `${at} (${what})`);
    }
  });

  /**
   * Requests to `host` until stopped, three at a time over kept-alive connections; resolves with each answer:
   * the instance's id for a 200, else the status or the error.
   */
  function steadyLoad(host: string) {
    let stop = false;
    const answers: string[] = [];
    const loop = async () => {
      while (!stop) {
        try {
          const res = await request(`http://127.0.0.1:${router.address().httpPort}/`, { headers: { host }, dispatcher: pool });
          const body = await res.body.text();
          if (res.statusCode === 200) answeredTotal++;
          answers.push(res.statusCode === 200 ? body : `${res.statusCode}`);
        } catch (err) {
          answers.push((err as Error).message);
        }
      }
    };
    const done = Promise.all([loop(), loop(), loop()]);
    return {
      async stop() {
        stop = true;
        await done;
        return answers;
      },
    };
  }

  /** A line of commands on HAProxy's admin socket, and its answer. */
  async function admin(command: string): Promise<string> {
    const sock = net.connect(path.join(dataDir, 'router', 'admin.sock'));
    let out = '';
    sock.on('data', (d) => (out += d));
    const ended = new Promise((r) => sock.on('close', r));
    sock.end(`${command}\n`);
    await ended;
    return out;
  }

  /**
   * What HAProxy itself serves each route from, by route key: the port and weight of every server that takes
   * new requests (running, and neither in maintenance nor draining; a `disabled` server set ready keeps the
   * configuration's flag, 0x04, which says nothing of now).
   */
  async function served(): Promise<Map<string, Map<number, number>>> {
    const keyOf = new Map<string, string>();
    for (const line of (await admin(`show map ${path.join(dataDir, 'router', 'routes.map')}`)).split('\n')) {
      const [, backend, key] = line.split(' ');
      if (backend && key) keyOf.set(backend, key);
    }
    const out = new Map<string, Map<number, number>>();
    for (const line of (await admin('show servers state')).split('\n')) {
      const f = line.split(' ');
      if (f.length < 20 || line.startsWith('#')) continue;
      const key = keyOf.get(f[1]!);
      if (!key) continue;
      const [opState, adminState, weight, port] = [Number(f[5]), Number(f[6]), Number(f[7]), Number(f[18])];
      const servers = out.get(key) ?? new Map<number, number>();
      out.set(key, servers);
      if (opState === 2 && (adminState & ~0x04) === 0) servers.set(port, weight);
    }
    return out;
  }

  /** Requests to every route of the table; each must meet the table exactly, and the log must say who answered. */
  async function check(routes: Route[], at: string): Promise<void> {
    const held = plane.haproxy ? await served() : undefined;
    if (held) for (const r of routes) {
      const want = new Map(r.endpoints.filter((e) => e.weight !== 0).map((e) => [e.port, e.weight ?? 1]));
      assert.deepEqual(Object.fromEntries(held.get(r.key) ?? []), Object.fromEntries(want), `${at}: ${r.key}: HAProxy serves ports and weights ${JSON.stringify([...(held.get(r.key) ?? [])])}, the table ${JSON.stringify([...want])}`);
    }
    for (const h of handedHosts.splice(0)) gone.add(h);
    // The step's own load first, so that what is logged from here on is this check's.
    await logCaughtUp();
    assert.equal(loggedTotal, answeredTotal, `${at}: ${answeredTotal} requests answered, ${loggedTotal} logged`);
    logged.clear();
    const answered = new Map<string, string[]>();
    for (const r of routes) {
      const serving = r.endpoints.filter((e) => e.weight !== 0);
      const weights = serving.reduce((n, e) => n + (e.weight ?? 1), 0);
      const n = r.maintenance || !serving.length ? 3 : CYCLES * weights + 1;
      const seen: string[] = [];
      for (let k = 0; k < n; k++) {
        const res = await request(`http://127.0.0.1:${router.address().httpPort}/`, { headers: { host: r.hosts.at(-1)! }, dispatcher: pool });
        const body = await res.body.text();
        if (r.maintenance || !serving.length) {
          assert.equal(res.statusCode, 503, `${at}: ${r.key} ${r.maintenance ? 'in maintenance' : 'with no endpoint'} answered ${res.statusCode} ${body.slice(0, 40)}`);
          if (r.maintenance) assert.match(body, /maintenance/i, `${at}: ${r.key}'s maintenance page`);
          continue;
        }
        assert.equal(res.statusCode, 200, `${at}: ${r.key} answered ${res.statusCode} with endpoints ${JSON.stringify(r.endpoints)}`);
        assert.ok(serving.some((e) => e.id === body), `${at}: ${r.key} reached ${body}, not one of ${serving.map((e) => e.id).join(',')} (weight 0: ${r.endpoints.filter((e) => e.weight === 0).map((e) => e.id).join(',')})`);
        seen.push(body);
        answeredTotal++;
      }
      if (seen.length) {
        answered.set(r.key, seen);
      }
    }
    // A host whose route has left the table is no longer served.
    for (const host of gone) {
      if (routes.some((r) => r.hosts.includes(host))) continue;
      const res = await request(`http://127.0.0.1:${router.address().httpPort}/`, { headers: { host }, dispatcher: pool });
      await res.body.text();
      assert.equal(res.statusCode, 404, `${at}: ${host} left the table`);
    }
    // The access log follows HAProxy's ring: every answered request is logged, naming the instance that answered.
    await logCaughtUp();
    assert.equal(loggedTotal, answeredTotal, `${at}: ${answeredTotal} requests answered, ${loggedTotal} logged`);
    for (const [key, seen] of answered) assert.deepEqual(count(logged.get(key) ?? []), count(seen), `${at}: ${key}'s logged instances against those that answered`);
  }
});

function count(xs: string[]): Record<string, number> {
  const c: Record<string, number> = {};
  for (const x of [...xs].sort()) c[x] = (c[x] ?? 0) + 1;
  return c;
}
