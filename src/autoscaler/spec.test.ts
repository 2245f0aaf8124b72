import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { autoscaledInstances, autoscalePolicy, autoscalingProblems } from './spec.ts';
import { counterRate, parsePromText, sumOf } from './prom-text.ts';
import { scaleMessage, summarize } from './status.ts';

const h = (horizontal: Record<string, unknown>) => ({ autoscaling: { horizontal } });
const fields = (spec: object, ports = [8080]) => autoscalingProblems(spec, ports).map((p) => `${p.field}:${p.rule}`);

describe('autoscaling.horizontal rules', () => {
  it('accepts the seed example shape and reads it as a policy', () => {
    const spec = h({ enabled: true, minReplicas: 1, maxReplicas: 3, cpu: { enabled: true, thresholdPercentage: 80 }, memory: { enabled: false, thresholdPercentage: 80 }, rps: { enabled: true, thresholdValue: 100 } });
    assert.deepEqual(fields(spec), []);
    assert.deepEqual(autoscalePolicy(spec), { minReplicas: 1, maxReplicas: 3, cpuPercent: 80, rps: 100 });
  });

  it('names each broken field', () => {
    assert.deepEqual(fields(h({ enabled: true, minReplicas: 4, maxReplicas: 2, rps: { enabled: true, thresholdValue: 1 } })), ['autoscaling.horizontal.minReplicas:lessOrEqual']);
    assert.deepEqual(fields(h({ enabled: true, maxReplicas: 2, rps: { enabled: true, thresholdValue: 1 } })), ['autoscaling.horizontal.minReplicas:required']);
    assert.deepEqual(fields(h({ enabled: true, minReplicas: 1, maxReplicas: 2.5, rps: { enabled: true, thresholdValue: 1 } })), ['autoscaling.horizontal.maxReplicas:range']);
    assert.deepEqual(fields(h({ enabled: true, minReplicas: 1, maxReplicas: 2 })), ['autoscaling.horizontal.enabled:metric']);
    assert.deepEqual(fields(h({ enabled: true, minReplicas: 1, maxReplicas: 2, cpu: { enabled: true } })), ['autoscaling.horizontal.cpu.thresholdPercentage:required']);
    assert.deepEqual(
      fields(h({ enabled: true, minReplicas: 1, maxReplicas: 2, userMetrics: { enabled: true, exposedMetricsPath: '/metrics', exposedMetricsPort: 9999, metrics: [] } })),
      ['autoscaling.horizontal.userMetrics.exposedMetricsPort:exists', 'autoscaling.horizontal.userMetrics.metrics:minItems'],
    );
    assert.deepEqual(
      fields(h({ enabled: true, minReplicas: 1, maxReplicas: 2, userMetrics: { enabled: true, exposedMetricsPath: '/metrics', exposedMetricsPort: 8080, metrics: [{ metricName: 'q', metricType: 'gauge', thresholdValue: 1 }, { metricName: 'q', metricType: 'gauge', thresholdValue: 0 }] } })),
      ['autoscaling.horizontal.userMetrics.metrics.1.metricName:unique', 'autoscaling.horizontal.userMetrics.metrics.1.thresholdValue:exclusiveMinimum'],
    );
  });

  it('says nothing about a disabled block', () => {
    assert.deepEqual(fields(h({ enabled: false, minReplicas: 9, maxReplicas: 1 })), []);
    assert.equal(autoscalePolicy(h({ enabled: false, minReplicas: 1, maxReplicas: 3 })), undefined);
  });

  it('keeps the autoscaler’s count on a write, moved into new bounds', () => {
    const on = h({ enabled: true, minReplicas: 2, maxReplicas: 5, rps: { enabled: true, thresholdValue: 10 } });
    assert.equal(autoscaledInstances(4, on, { ...on, deployment: { instances: 1 } }), 4, 'a write of instances does not undo a scaling');
    assert.equal(autoscaledInstances(1, {}, { ...on, deployment: { instances: 1 } }), 2, 'turned on: raised to minReplicas');
    const narrower = h({ enabled: true, minReplicas: 1, maxReplicas: 3, rps: { enabled: true, thresholdValue: 10 } });
    assert.equal(autoscaledInstances(4, on, narrower), 3);
    assert.equal(autoscaledInstances(0, on, on), 0, 'maintenance mode is kept');
    assert.equal(autoscaledInstances(4, on, {}), undefined);
  });
});

describe('Prometheus text and rates', () => {
  const doc = ['# HELP q queue', '# TYPE q gauge', 'q 3', 'jobs_total{kind="a"} 10', 'jobs_total{kind="b",x="y\\"z"} 5 1700000000', 'bad line here', 'nan_metric NaN'].join('\n');

  it('reads samples, labels and sums', () => {
    const s = parsePromText(doc);
    assert.equal(sumOf(s, 'q'), 3);
    assert.equal(sumOf(s, 'jobs_total'), 15);
    assert.equal(s.find((x) => x.labels.kind === 'b')?.labels.x, 'y"z');
    assert.equal(sumOf(s, 'absent'), undefined);
  });

  it('reads a counter as a rate, and a reset as new counts', () => {
    assert.equal(counterRate(undefined, { value: 10, at: 1000 }), undefined);
    assert.equal(counterRate({ value: 10, at: 0 }, { value: 40, at: 15_000 }), 2);
    assert.equal(counterRate({ value: 100, at: 0 }, { value: 30, at: 15_000 }), 2);
  });
});

describe('scaling words', () => {
  it('says why', () => {
    assert.equal(scaleMessage({ name: 'rps', kind: 'rps', value: 240, target: 100, replicas: 3 }, 1, 3), 'rps 240/instance > target 100: 1 -> 3');
    assert.equal(scaleMessage({ name: 'cpu', kind: 'cpu', value: 12.345, target: 50, replicas: 1 }, 3, 1, 'after the 300 s stabilization window'), 'cpu 12% of plan < target 50%: 3 -> 1 (after the 300 s stabilization window)');
    assert.equal(summarize([{ name: 'queue_depth', kind: 'gauge', value: null, target: 5, replicas: null }]), 'queue_depth unread (target 5)');
  });
});
