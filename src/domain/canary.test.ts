import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { checkCanary, judgeWindow, type CanaryAnalysis } from './canary.ts';

const analysis: CanaryAnalysis = { intervalSeconds: 10, failureLimit: 0, minRequests: 50, inconclusive: 'wait', metrics: [{ name: 'errorRate', max: 1 }, { name: 'latencyP99', maxAboveStable: 100 }] };
const stats = (requests: number, errorRate: number, p99: number) => ({ requests, errorRate, latencyP50Ms: p99 / 2, latencyP99Ms: p99 });

describe('judgeWindow', () => {
  const cases: { name: string; canary: ReturnType<typeof stats> | undefined; stable: ReturnType<typeof stats> | undefined; verdict: string }[] = [
    { name: 'passes a release within every limit', canary: stats(100, 0, 50), stable: stats(2000, 0, 40), verdict: 'pass' },
    { name: 'fails a release over its absolute error limit', canary: stats(100, 20, 50), stable: stats(2000, 0, 40), verdict: 'fail' },
    { name: 'fails a release slower than the stable one by more than the allowance', canary: stats(100, 0, 400), stable: stats(2000, 0, 40), verdict: 'fail' },
    { name: 'is inconclusive with too few new-release requests', canary: stats(10, 50, 50), stable: stats(2000, 0, 40), verdict: 'inconclusive' },
    { name: 'is inconclusive with too few stable requests to compare', canary: stats(100, 0, 50), stable: stats(5, 0, 40), verdict: 'inconclusive' },
    { name: 'is inconclusive with no traffic at all', canary: undefined, stable: undefined, verdict: 'inconclusive' },
  ];
  for (const c of cases) {
    it(c.name, () => assert.equal(judgeWindow(analysis, c.canary, c.stable).verdict, c.verdict));
  }
  it('names the failing metric, its value and its limit', () => {
    const v = judgeWindow(analysis, stats(100, 20, 50), stats(2000, 0, 40));
    assert.match(v.summary, /errorRate 20 % > 1 %/);
    assert.deepEqual(v.results[0], { metric: 'errorRate', value: 20, stable: 0, limit: 1, passed: false });
  });
});

describe('checkCanary', () => {
  const ok = { hasPublicHttpPort: true };
  const fields = (e: { field: string }[]) => e.map((x) => x.field);
  it('accepts traffic steps in 0.1 increments with pins and analysis', () => {
    assert.deepEqual(checkCanary([{ trafficPercent: 0.1, pins: [{ header: 'X-Canary', value: 'on' }] }, { trafficPercent: 12.5 }], { metrics: [{ name: 'errorRate', max: 1 }] }, ok), []);
  });
  it('names each bad field', () => {
    assert.deepEqual(fields(checkCanary([{ trafficPercent: 101 }], undefined, ok)), ['canary.steps.0.trafficPercent']);
    assert.deepEqual(fields(checkCanary([{ trafficPercent: 0.05 }], undefined, ok)), ['canary.steps.0.trafficPercent']);
    assert.deepEqual(fields(checkCanary([{ trafficPercent: 5, instanceWeight: 5 }], undefined, ok)), ['canary.steps.0.trafficPercent']);
    assert.deepEqual(fields(checkCanary([{ trafficPercent: 10 }, { trafficPercent: 5 }], undefined, ok)), ['canary.steps.1.trafficPercent']);
    assert.deepEqual(fields(checkCanary([{ trafficPercent: 5, pins: [{ header: 'bad name', value: 'x' }] }], undefined, ok)), ['canary.steps.0.pins.0.header']);
    assert.deepEqual(fields(checkCanary([{ trafficPercent: 5, pins: [{ cookie: 'c', value: 'a b' }] }], undefined, ok)), ['canary.steps.0.pins.0.value']);
    assert.deepEqual(fields(checkCanary([{ instanceWeight: 5 }], { metrics: [{ name: 'errorRate', max: 1 }] }, { hasPublicHttpPort: false })), ['canary.analysis']);
    assert.deepEqual(fields(checkCanary([{ trafficPercent: 5 }], { metrics: [{ name: 'errorRate' }] }, ok)), ['canary.analysis.metrics.0.max']);
  });
});
