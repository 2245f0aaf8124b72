import { test } from 'node:test';
import assert from 'node:assert/strict';
import os from 'node:os';
import { endpointOnlyBackends, uniqueKeys } from './endpoint-pass.ts';
import { structureOf } from './structure.ts';
import type { Backend } from './slots.ts';
import type { Endpoint, Route, RoutingTable } from '../table.ts';

const ep = (id: string, port: number): Endpoint => ({ id, host: '127.0.0.1', port, weight: 1 });
const route = (service: string, endpoints: Endpoint[], more: Partial<Route> = {}): Route => ({
  key: `p/${service}/http`,
  hosts: [`${service}.p.test`],
  project: 'p',
  service,
  portName: 'http',
  protocol: 'HTTP',
  endpoints,
  maintenance: false,
  ...more,
});

/** What HAProxy holds after a whole pass over `table`, and the structure function a pass hands over. */
function held(table: RoutingTable) {
  const ctx = { tcpPorts: new Map<string, number>(), slotsPerBackend: 4, tls: false, pagesDir: os.tmpdir(), internalDir: os.tmpdir() };
  const applied = new Map<string, Backend>();
  for (const b of structureOf(table, { ...ctx, applied, names: 'own' }).backends) applied.set(b.key, b);
  const structure = (t: RoutingTable) => structureOf(t, { ...ctx, applied, names: 'keep' }).backends;
  return { applied, structure, last: { table, uniqueKeys: uniqueKeys(table) } };
}

const a = route('a', [ep('a1', 9001)]);
const b = route('b', [ep('b1', 9101)]);
const c = route('c', [ep('c1', 9201)]);

test('a table whose only change is a route’s endpoints is planned from that route alone', () => {
  const { applied, structure, last } = held({ routes: [a, b, c] });
  const b2 = { ...b, endpoints: [ep('b1', 9101), ep('b2', 9102)] };
  const got = endpointOnlyBackends(last, { routes: [a, b2, c] }, applied, structure);
  assert.ok(got, 'an endpoints-only pass');
  assert.deepEqual(got.map((x) => x.key), [b.key]);
  // As the whole pass makes it: the name HAProxy holds, the slot the old endpoint had, the new one beside it.
  assert.equal(got[0]!.name, applied.get(b.key)!.name);
  assert.deepEqual(got[0]!.slots.map((s) => s.endpoint?.id), ['b1', 'b2']);
  assert.deepEqual(endpointOnlyBackends(last, { routes: [a, b, c] }, applied, structure), [], 'the same table: nothing to do');
});

test('everything but endpoints takes the whole pass', () => {
  const { applied, structure, last } = held({ routes: [a, b, c] });
  const whole = (routes: Route[], why: string) => assert.equal(endpointOnlyBackends(last, { routes }, applied, structure), undefined, why);
  whole([a, b], 'a route removed');
  whole([a, b, c, route('d', [])], 'a route added');
  whole([a, c, b], 'routes in another order');
  whole([a, { ...b, hosts: ['other.p.test'] }, c], 'other hosts');
  whole([a, { ...b, maintenance: true }, c], 'maintenance (another backend declaration)');
  whole([a, { ...b, loadBalancing: { mode: 'leastConnection' } }, c], 'another balance');
  whole([a, { ...b, protocol: 'TCP', hosts: [] }, c], 'a TCP route');
  whole([a, { ...b, tlsPassthrough: true }, c], 'TLS passthrough');
  const many = Array.from({ length: 5 }, (_, i) => ep(`b${i}`, 9101 + i));
  whole([a, { ...b, endpoints: many }, c], 'more endpoints than the backend has slots');
});

test('a table with a key twice, or one HAProxy does not hold as it was handed over, takes the whole pass', () => {
  const twice = held({ routes: [a, b, b] });
  assert.equal(twice.last.uniqueKeys, false);
  assert.equal(endpointOnlyBackends(twice.last, { routes: [a, b, { ...b, endpoints: [] }] }, twice.applied, twice.structure), undefined);
  // The backend HAProxy holds was made from another object than the last table's (a start, an adoption).
  const { applied, structure, last } = held({ routes: [a, b, c] });
  applied.set(b.key, { ...applied.get(b.key)!, route: { ...b } });
  assert.equal(endpointOnlyBackends(last, { routes: [a, { ...b, endpoints: [] }, c] }, applied, structure), undefined);
});
