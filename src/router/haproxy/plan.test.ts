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
