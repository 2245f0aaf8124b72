import { it } from 'node:test';
import assert from 'node:assert/strict';
import type { ServiceRecord } from '../domain/service.ts';
import { Autoscaler, type AutoscaleStore } from './autoscaler.ts';
import { autoscalePolicy } from './spec.ts';
import type { AutoscaleSignals } from './signals.ts';

it('gives an autoscaled service a status before its first evaluation: its bounds and metrics, none read', () => {
  const spec = { deployment: { instances: 2 }, autoscaling: { horizontal: { enabled: true, minReplicas: 1, maxReplicas: 4, cpu: { enabled: true, thresholdPercentage: 70 }, rps: { enabled: true, thresholdValue: 5 } } } };
  const svc = { projectId: 'p', id: 's', spec } as unknown as ServiceRecord;
  const policy = autoscalePolicy(spec)!;
  const autoscaler = new Autoscaler({} as AutoscaleStore, {} as AutoscaleSignals, { intervalMs: 1000, downStabilizationMs: 1000, logger: { warn() {} } as never, instances: async () => [], serviceChanged() {} });
  assert.deepEqual(autoscaler.status(svc, policy), {
    minReplicas: 1,
    maxReplicas: 4,
    currentReplicas: 2,
    readyReplicas: 0,
    desiredReplicas: 2,
    metrics: [
      { name: 'cpu', kind: 'cpu', target: 70, value: null, replicas: null },
      { name: 'rps', kind: 'rps', target: 5, value: null, replicas: null },
    ],
    reason: 'MetricsUnavailable',
    message: 'not evaluated yet',
  });
});
