import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { matchesPin, splitWeights } from './split.ts';

describe('splitWeights', () => {
  const cases: { name: string; percent: number; stable: number; canary: number; within: number }[] = [
    { name: '5 % over 4 old and 1 new', percent: 5, stable: 4, canary: 1, within: 0.01 },
    { name: '0.1 % over 4 old and 1 new', percent: 0.1, stable: 4, canary: 1, within: 0.001 },
    { name: '50 % over 4 old and 1 new', percent: 50, stable: 4, canary: 1, within: 0 },
    { name: '12.5 % over 3 old and 2 new', percent: 12.5, stable: 3, canary: 2, within: 0.01 },
    { name: '99.9 % over 1 old and 1 new', percent: 99.9, stable: 1, canary: 1, within: 0.3 },
  ];
  for (const c of cases) {
    it(`gives ${c.name} within ${c.within} points`, () => {
      const w = splitWeights(c.percent, c.stable, c.canary);
      const share = (100 * c.canary * w.canaryWeight) / (c.canary * w.canaryWeight + c.stable * w.stableWeight);
      assert.ok(Math.abs(share - c.percent) <= c.within + 1e-9, `${share} for ${c.percent}`);
      assert.ok(Math.abs(w.effectivePercent - share) < 0.001);
      assert.ok(w.stableWeight >= 1 && w.stableWeight <= 256 && w.canaryWeight >= 1 && w.canaryWeight <= 256);
    });
  }
  it('drains a side at 0 % and 100 %, and gives everything to the only side there is', () => {
    assert.deepEqual(splitWeights(0, 4, 1), { stableWeight: 1, canaryWeight: 0, effectivePercent: 0 });
    assert.deepEqual(splitWeights(100, 4, 1), { stableWeight: 0, canaryWeight: 1, effectivePercent: 100 });
    assert.equal(splitWeights(5, 0, 1).effectivePercent, 100);
    assert.equal(splitWeights(5, 4, 0).effectivePercent, 0);
  });
});

describe('matchesPin', () => {
  const headers = (h: Record<string, string>) => (name: string) => h[name];
  it('matches a header value by a case-insensitive name, exactly', () => {
    assert.ok(matchesPin([{ header: 'X-Canary', value: 'yes' }], headers({ 'x-canary': 'yes' })));
    assert.ok(!matchesPin([{ header: 'X-Canary', value: 'yes' }], headers({ 'x-canary': 'yes2' })));
  });
  it('matches a cookie among others', () => {
    assert.ok(matchesPin([{ cookie: 'canary', value: '1' }], headers({ cookie: 'a=b; canary=1; c=d' })));
    assert.ok(!matchesPin([{ cookie: 'canary', value: '1' }], headers({ cookie: 'notcanary=1' })));
    assert.ok(!matchesPin(undefined, headers({})));
  });
});

describe('a split on a consistent-hash route', () => {
  it('keeps each client on one release while the split holds and gives the new release its share of clients', async () => {
    const { Balancer } = await import('./node-proxy/balancer.ts');
    const w = splitWeights(5, 4, 1);
    const eps = [0, 1, 2, 3].map((i) => ({ id: `old-${i}`, host: '127.0.0.1', port: 1000 + i, weight: w.stableWeight })).concat([{ id: 'new-0', host: '127.0.0.1', port: 2000, weight: w.canaryWeight }]);
    const b = new Balancer(eps, 'consistentHash', () => 0);
    let onNew = 0;
    for (let c = 0; c < 20_000; c++) {
      const key = `10.0.${c >> 8}.${c & 255}`;
      const first = b.pick(undefined, key)!.id;
      assert.equal(b.pick(undefined, key)!.id, first, 'the same client reaches the same endpoint');
      if (first === 'new-0') onNew++;
    }
    const share = (100 * onNew) / 20_000;
    assert.ok(share > 4 && share < 6, `${share} % of clients on the new release`);
  });
});
