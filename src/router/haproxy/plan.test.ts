import { test } from 'node:test';
import assert from 'node:assert/strict';
import { planSlots } from './plan.ts';
import { assignSlots, type Backend } from './slots.ts';
import type { Endpoint, Route } from '../table.ts';

const ep = (id: string, port: number): Endpoint => ({ id, host: '127.0.0.1', port, weight: 1 });
const route = (endpoints: Endpoint[]): Route => ({ key: 'p/web/http', hosts: ['web.test'], project: 'p', service: 'web', portName: 'http', protocol: 'HTTP', endpoints, maintenance: false });
const backend = (r: Route, prev: Backend | undefined): Backend => ({ key: r.key, name: 'be_web', mode: 'http', balance: ['balance roundrobin'], route: r, hosts: r.hosts, maintenance: false, access: { userlists: [], rules: [] }, slotCount: 4, slots: assignSlots(prev?.slots ?? [], r) });

test('a slot that takes traffic is made ready before the one it replaces drains (make before break)', () => {
  const before = backend(route([ep('one', 9001)]), undefined);
  const after = backend(route([ep('two', 9002)]), before);
  const plan = planSlots([after], new Map([[after.key, after]]), new Map([[before.key, before]]), { draining: new Set<string>() });
  const ready = plan.now.indexOf('set server be_web/s2 state ready');
  const drain = plan.now.indexOf('set server be_web/s1 state drain');
  assert.ok(ready >= 0 && drain >= 0, plan.now.join('; '));
  assert.ok(ready < drain, `ready after drain: ${plan.now.join('; ')}`);
  assert.ok(plan.now.indexOf('set server be_web/s2 addr 127.0.0.1 port 9002') < ready, plan.now.join('; '));
  assert.deepEqual(plan.newlyDraining, [['be_web/s1', 'one']]);
});

test('a backend whose new instances need the reload keeps its old ones serving in the running worker until then', () => {
  // Two slots, both serving; the next table has two other instances beside a third: slot 3 exists only
  // after the reload, so putting slots 1-2 in drain now would leave the running worker with no server.
  const two = (r: Route, prev: Backend | undefined, slotCount: number): Backend => ({ ...backend(r, prev), slotCount });
  const before = two(route([ep('one', 9001), ep('two', 9002)]), undefined, 2);
  const after = two(route([ep('three', 9003), ep('four', 9004), ep('five', 9005)]), before, 3);
  const plan = planSlots([after], new Map([[after.key, after]]), new Map([[before.key, before]]), { draining: new Set<string>() });
  assert.deepEqual(plan.now.filter((c) => / state (drain|maint)$/.test(c)), [], `nothing stops serving before the reload: ${plan.now.join('; ')}`);
  assert.ok(plan.afterReload.includes('set server be_web/s3 state ready'), plan.afterReload.join('; '));
  // The old instances still drain (the reload writes their slots as drained; their requests finish in the old worker).
  assert.deepEqual(plan.newlyDraining.map(([loc]) => loc).sort(), ['be_web/s1', 'be_web/s2']);
  // Where the new instance fits the running worker's slots, the old one drains at once, after it.
  const one = two(route([ep('one', 9001)]), undefined, 2);
  const fits = two(route([ep('three', 9003)]), one, 2);
  const now = planSlots([fits], new Map([[fits.key, fits]]), new Map([[one.key, one]]), { draining: new Set<string>() }).now;
  assert.ok(now.indexOf('set server be_web/s2 state ready') < now.indexOf('set server be_web/s1 state drain') && now.includes('set server be_web/s1 state drain'), now.join('; '));
});
