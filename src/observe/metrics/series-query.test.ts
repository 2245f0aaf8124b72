import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ValidationError } from '../../errors/errors.ts';
import { parseSeriesQuery, parseTime } from './series-query.ts';

const NOW = 1_796_540_400;
const opts = { nowSeconds: NOW, minStepSeconds: 10, defaultNames: ['cpu_percent'] };

describe('metrics query times and steps', () => {
  const cases: [string, number | undefined][] = [
    ['now', NOW],
    ['-15m', NOW - 900],
    ['now-1h', NOW - 3600],
    ['-2d', NOW - 172_800],
    ['1796540000', 1_796_540_000],
    ['1796540000.5', 1_796_540_000.5],
    ['2026-12-06T07:00:00Z', Date.parse('2026-12-06T07:00:00Z') / 1000],
    ['2026-12-06T08:00:00+01:00', Date.parse('2026-12-06T07:00:00Z') / 1000],
    ['yesterday', undefined],
    ['2026-12-06', undefined],
    ['-5x', undefined],
  ];
  for (const [text, want] of cases) it(`reads '${text}'`, () => assert.equal(parseTime(text, NOW), want));

  it('defaults to the last hour at a step of a 300th of it, never below the sampling period', () => {
    const q = parseSeriesQuery({}, 'service', opts);
    assert.deepEqual([q.from, q.to, q.stepSeconds, q.metrics.map((m) => m.name)], [NOW - 3600, NOW, 12, ['cpu_percent']]);
    assert.equal(parseSeriesQuery({ from: '-5m' }, 'service', opts).stepSeconds, 10);
    assert.equal(parseSeriesQuery({ from: '-5m', step: '1m' }, 'service', opts).stepSeconds, 60);
  });

  it('takes names comma-separated or repeated, once each', () => {
    const q = parseSeriesQuery({ names: ['requests,cpu_percent', 'requests'] }, 'service', opts);
    assert.deepEqual(q.metrics.map((m) => m.name), ['requests', 'cpu_percent']);
  });

  it('names every bad field with its rule', () => {
    try {
      parseSeriesQuery({ names: 'requests,bogus', from: 'soon', to: 'later', step: '-1' }, 'addon', opts);
      assert.fail('accepted');
    } catch (err) {
      assert.ok(err instanceof ValidationError);
      assert.deepEqual(err.problems.map((p) => `${p.field}:${p.rule}`), ['names:enum', 'names:enum', 'to:time', 'from:time', 'step:duration']);
    }
    assert.throws(() => parseSeriesQuery({ from: '-1h', to: '-2h' }, 'service', opts), (e: ValidationError) => e.problems[0].rule === 'before_to');
    assert.throws(() => parseSeriesQuery({ from: '-30d', step: '1' }, 'service', opts), (e: ValidationError) => e.problems[0].field === 'step' && e.problems[0].rule === 'max_points');
  });
});
