import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { EndpointIndex, TableEndpoints } from './endpoint-index.ts';
import type { Route, RoutingTable } from '../table.ts';
import { FREE_SLOT, type Backend, type Slot } from './slots.ts';

const slot = (id: string, removed = false): Slot => ({ ...FREE_SLOT, endpoint: { id, host: '127.0.0.1', port: 1, weight: 1 }, addr: '127.0.0.1', port: 1, state: removed ? 'drain' : 'ready', removed });
const backend = (name: string, slots: Slot[]): Backend => ({ name, key: name, slots, hosts: [], route: { key: name } } as unknown as Backend);

/** The index built from nothing: what every sync must equal. */
function fresh(backends: Backend[]): EndpointIndex {
  const i = new EndpointIndex();
  i.sync(backends);
  return i;
}

describe('EndpointIndex', () => {
  it('names each endpoint’s slots and whether one still routes to it, kept right across replaced, removed and restated backends', () => {
    const a = backend('be_a', [slot('x'), { ...FREE_SLOT }, slot('y', true)]);
    const b = backend('be_b', [slot('x', true), slot('z')]);
    const index = new EndpointIndex();
    index.sync([a, b]);
    assert.deepEqual([...index.locationsOf('x')].sort(), ['be_a/s1', 'be_b/s1']);
    assert.deepEqual(index.locationsOf('y'), ['be_a/s3']);
    assert.equal(index.isActive('x'), true);
    assert.equal(index.isActive('y'), false, 'a removed slot routes nothing');

    // b replaced by a new object without x; a changed in place (y's slot freed).
    const b2 = backend('be_b', [{ ...FREE_SLOT }, slot('z')]);
    a.slots[2] = { ...FREE_SLOT };
    index.restated(a);
    index.sync([a, b2]);
    assert.deepEqual(index.locationsOf('x'), ['be_a/s1']);
    assert.deepEqual(index.locationsOf('y'), []);
    assert.deepEqual(index.locationsOf('z'), ['be_b/s2']);

    // a gone: x is nowhere, and nothing is left of it.
    index.sync([b2]);
    assert.deepEqual(index.locationsOf('x'), []);
    assert.equal(index.isActive('x'), false);
    for (const id of ['x', 'y', 'z']) {
      assert.deepEqual(index.locationsOf(id), fresh([b2]).locationsOf(id));
      assert.equal(index.isActive(id), fresh([b2]).isActive(id));
    }
  });

  it('brought up to date from the replaced and restated backends alone, it equals the index built from nothing', () => {
    const a = backend('be_a', [slot('x'), slot('y')]);
    const b = backend('be_b', [slot('z')]);
    const c = backend('be_c', [slot('w', true)]);
    const index = new EndpointIndex();
    index.sync([a, b, c]);
    // b replaced twice before the index is asked (x moves there, z drains); c changed in place (w freed).
    const b2 = backend('be_b', [slot('z', true), slot('v')]);
    const b3 = backend('be_b', [slot('z', true), slot('x')]);
    c.slots[0] = { ...FREE_SLOT };
    index.restated(c);
    index.syncChanged([b2, b3]);
    const now = fresh([a, b3, c]);
    for (const id of ['v', 'w', 'x', 'y', 'z']) {
      assert.deepEqual([...index.locationsOf(id)].sort(), [...now.locationsOf(id)].sort(), id);
      assert.equal(index.isActive(id), now.isActive(id), id);
    }
    assert.deepEqual([...index.locationsOf('x')].sort(), ['be_a/s1', 'be_b/s2']);
    assert.equal(index.isActive('w'), false);
    // A later change still finds the backend counted under its key.
    const a2 = backend('be_a', [slot('y')]);
    index.syncChanged([a2]);
    assert.deepEqual(index.locationsOf('x'), ['be_b/s2']);
  });

  it('TableEndpoints names the endpoints of the last table: routes replaced, kept, removed, an endpoint in two routes, a key twice', () => {
    const route = (key: string, ...ids: string[]) => ({ key, endpoints: ids.map((id) => ({ id, host: '127.0.0.1', port: 1, weight: 1 })) }) as unknown as Route;
    const table = (...routes: Route[]): RoutingTable => ({ routes });
    const names = (t: TableEndpoints, ids: string[]) => ids.filter((id) => t.has(id));
    const all = ['a', 'b', 'c', 'd', 'e'];
    const t = new TableEndpoints();
    const r1 = route('p/s1/web', 'a', 'b');
    const r2 = route('p/s2/web', 'b', 'c');
    t.update(table(r1, r2));
    assert.deepEqual(names(t, all), ['a', 'b', 'c']);
    // r1 replaced without b: b is still r2's.
    const r1a = route('p/s1/web', 'a');
    t.update(table(r1a, r2));
    assert.deepEqual(names(t, all), ['a', 'b', 'c']);
    // Then r2 replaced without b (the same keys again): b is nobody's.
    t.update(table(r1a, route('p/s2/web', 'c')));
    assert.deepEqual(names(t, all), ['a', 'c']);
    t.update(table(r1a, r2));
    // r2 gone: b and c with it.
    const r1b = route('p/s1/web', 'a', 'd');
    t.update(table(r1b));
    assert.deepEqual(names(t, all), ['a', 'd']);
    // The same key twice, then once again.
    t.update(table(r1b, route('p/s1/web', 'e')));
    assert.deepEqual(names(t, all), ['a', 'd', 'e']);
    t.update(table(r1b));
    assert.deepEqual(names(t, all), ['a', 'd']);
    t.update(table());
    assert.deepEqual(names(t, all), []);
  });
});
