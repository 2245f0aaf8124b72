import { it } from 'node:test';
import assert from 'node:assert/strict';
import { Balancer } from './balancer.ts';

const ep = (id: string, weight = 1) => ({ id, host: '127.0.0.1', port: 1, weight });
const count = (b: Balancer, n: number) => {
  const c: Record<string, number> = {};
  for (let i = 0; i < n; i++) {
    const e = b.pick()!;
    c[e.id] = (c[e.id] ?? 0) + 1;
  }
  return c;
};

it('spreads requests evenly with equal weights', () => {
  assert.deepEqual(count(new Balancer([ep('a'), ep('b'), ep('c')], 'roundRobin', () => 0), 300), { a: 100, b: 100, c: 100 });
});

it('follows weights 3:1', () => {
  assert.deepEqual(count(new Balancer([ep('a', 3), ep('b', 1)], 'roundRobin', () => 0), 400), { a: 300, b: 100 });
});

it('never picks a weight-0 endpoint', () => {
  assert.deepEqual(count(new Balancer([ep('a', 0), ep('b', 1)], 'roundRobin', () => 0), 10), { b: 10 });
});

it('prefers the endpoint with fewer requests in flight in leastConnection mode', () => {
  const b = new Balancer([ep('busy'), ep('idle')], 'leastConnection', (id) => (id === 'busy' ? 5 : 0));
  assert.deepEqual(count(b, 10), { idle: 10 });
});

it('skips the excluded endpoint on a retry', () => {
  const b = new Balancer([ep('a'), ep('b')], 'roundRobin', () => 0);
  for (let i = 0; i < 10; i++) assert.equal(b.pick('a')?.id, 'b');
  assert.equal(new Balancer([ep('a')], 'roundRobin', () => 0).pick('a'), undefined);
});
