/**
 * The control plane's `/metrics` in the Prometheus text format: the sampler's latest numbers with
 * `project`, `service` (or `addon`) and `instance` labels. Counters count since the control plane started
 * (Prometheus' `rate()` handles the restart), except restarts of service instances, which the store keeps.
 */
import { PromWriter } from './prom-text.ts';
import { STATUS_CLASSES } from './router-scrape.ts';
import type { LatestInstanceSample } from './signals.ts';
import type { OwnerTotals } from './sampler.ts';

export interface PrometheusSource {
  readonly intervalSeconds: number;
  allLatest(): LatestInstanceSample[];
  ownerTotals(): OwnerTotals[];
  exitsOf(instanceId: string): number;
}

const ADDON = 'addon';

export function renderPrometheus(src: PrometheusSource, visibleProjects: Set<string> | undefined, serviceRestarts: Map<string, number>): string {
  const w = new PromWriter();
  const seen = (p: string) => !visibleProjects || visibleProjects.has(p);
  const instances = src.allLatest().filter((s) => seen(s.projectId));
  const labelsOf = (s: LatestInstanceSample): Record<string, string> => (s.processType === ADDON ? { project: s.projectId, addon: s.ownerId, instance: s.instanceId } : { project: s.projectId, service: s.ownerId, instance: s.instanceId, process_type: s.processType });
  const gauge = (name: string, help: string, pick: (s: LatestInstanceSample) => number | null) =>
    w.family(
      name,
      'gauge',
      help,
      instances.flatMap((s) => {
        const v = pick(s);
        return v === null ? [] : [{ labels: labelsOf(s), value: v }];
      }),
    );
  gauge('slipway_instance_cpu_percent_of_plan', "CPU used over the last sampling interval, as a percentage of the plan's vCPU.", (s) => s.cpuPercentOfPlan);
  gauge('slipway_instance_memory_bytes', 'Resident memory of the instance.', (s) => s.memoryBytes);
  gauge('slipway_instance_memory_percent_of_plan', "Resident memory as a percentage of the plan's memory.", (s) => s.memoryPercentOfPlan);
  w.family(
    'slipway_instance_restarts_total',
    'counter',
    'Times the instance exited and was restarted.',
    instances.map((s) => ({ labels: labelsOf(s), value: Math.max(s.processType === ADDON ? 0 : (serviceRestarts.get(s.instanceId) ?? 0), src.exitsOf(s.instanceId)) })),
  );

  const owners = src.ownerTotals().filter((o) => seen(o.projectId));
  const svc = (o: OwnerTotals) => ({ project: o.projectId, service: o.ownerId });
  w.family('slipway_service_http_requests_total', 'counter', 'Requests the router took for the service.', owners.map((o) => ({ labels: svc(o), value: o.requestsTotal })));
  w.family(
    'slipway_service_http_responses_total',
    'counter',
    'Answers by status class.',
    owners.flatMap((o) => STATUS_CLASSES.map((k) => ({ labels: { ...svc(o), code: k }, value: o.responsesTotal[k] ?? 0 }))),
  );
  w.family('slipway_service_requests_per_second', 'gauge', 'Requests per second over the last sampling interval.', owners.filter((o) => o.traffic && o.traffic.seconds > 0).map((o) => ({ labels: svc(o), value: o.traffic!.requests / o.traffic!.seconds })));
  w.family('slipway_service_in_flight_requests', 'gauge', 'Requests in flight at the last sample.', owners.filter((o) => o.traffic).map((o) => ({ labels: svc(o), value: o.traffic!.inFlight })));
  w.family(
    'slipway_service_request_duration_seconds',
    'summary',
    'Request time over the last sampling interval: quantiles from the built-in router histogram, on HAProxy from the per-request stream.',
    owners.flatMap((o) =>
      (
        [
          ['0.5', o.traffic?.p50],
          ['0.9', o.traffic?.p90],
          ['0.99', o.traffic?.p99],
        ] as const
      )
        .filter(([, v]) => v !== undefined)
        .map(([q, v]) => ({ labels: { ...svc(o), quantile: q }, value: v! })),
    ),
  );
  w.family('slipway_service_request_duration_average_seconds', 'gauge', 'Mean request time (HAProxy: of its last 1024 requests).', owners.filter((o) => o.traffic?.avg !== undefined).map((o) => ({ labels: svc(o), value: o.traffic!.avg! })));
  w.family('slipway_metrics_interval_seconds', 'gauge', 'The sampling period of these numbers.', [{ labels: {}, value: src.intervalSeconds }]);
  return w.text();
}
