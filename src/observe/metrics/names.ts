/**
 * The catalogue of stored metrics: the `names=` the metrics routes accept, their unit and how a step
 * aggregates them. `count` metrics are events in an interval (a step sums them); `gauge` metrics are levels
 * (a step averages them, and keeps their max). Instance metrics carry an instance id; the others are the
 * service's (or addon's) own.
 */

export type MetricKind = 'gauge' | 'count';
export type MetricScope = 'instance' | 'service';

export interface MetricName {
  name: string;
  kind: MetricKind;
  scope: MetricScope;
  unit: string;
  /** which owners have it */
  owners: ('service' | 'addon')[];
  help: string;
}

const both: ('service' | 'addon')[] = ['service', 'addon'];
const svc: ('service' | 'addon')[] = ['service'];

export const METRICS: readonly MetricName[] = Object.freeze([
  { name: 'cpu_percent', kind: 'gauge', scope: 'instance', unit: 'percent of the plan', owners: both, help: "CPU used over the interval, as a percentage of the plan's vCPU" },
  { name: 'cpu_cores', kind: 'gauge', scope: 'instance', unit: 'vCPU', owners: both, help: 'CPU used over the interval, in cores (1 = one core busy)' },
  { name: 'memory_bytes', kind: 'gauge', scope: 'instance', unit: 'bytes', owners: both, help: 'resident memory of the instance' },
  { name: 'memory_percent', kind: 'gauge', scope: 'instance', unit: 'percent of the plan', owners: both, help: "resident memory as a percentage of the plan's memory" },
  { name: 'restarts', kind: 'count', scope: 'instance', unit: 'restarts', owners: both, help: 'times the instance exited and was restarted' },
  { name: 'instances', kind: 'gauge', scope: 'service', unit: 'instances', owners: both, help: 'running instances' },
  { name: 'requests', kind: 'count', scope: 'service', unit: 'requests', owners: svc, help: 'requests the router took for the service' },
  { name: 'requests_per_second', kind: 'gauge', scope: 'service', unit: 'requests/s', owners: svc, help: 'requests per second' },
  { name: 'responses_1xx', kind: 'count', scope: 'service', unit: 'responses', owners: svc, help: 'answers with a 1xx status' },
  { name: 'responses_2xx', kind: 'count', scope: 'service', unit: 'responses', owners: svc, help: 'answers with a 2xx status' },
  { name: 'responses_3xx', kind: 'count', scope: 'service', unit: 'responses', owners: svc, help: 'answers with a 3xx status' },
  { name: 'responses_4xx', kind: 'count', scope: 'service', unit: 'responses', owners: svc, help: 'answers with a 4xx status' },
  { name: 'responses_5xx', kind: 'count', scope: 'service', unit: 'responses', owners: svc, help: 'answers with a 5xx status' },
  { name: 'in_flight', kind: 'gauge', scope: 'service', unit: 'requests', owners: svc, help: 'requests in flight at the sample' },
  { name: 'latency_p50_seconds', kind: 'gauge', scope: 'service', unit: 'seconds', owners: svc, help: "median request time of the interval's requests (built-in router: its histogram; HAProxy: the per-request stream)" },
  { name: 'latency_p90_seconds', kind: 'gauge', scope: 'service', unit: 'seconds', owners: svc, help: "90th percentile request time of the interval's requests (built-in router: its histogram; HAProxy: the per-request stream)" },
  { name: 'latency_p99_seconds', kind: 'gauge', scope: 'service', unit: 'seconds', owners: svc, help: "99th percentile request time of the interval's requests (built-in router: its histogram; HAProxy: the per-request stream)" },
  { name: 'latency_avg_seconds', kind: 'gauge', scope: 'service', unit: 'seconds', owners: svc, help: 'mean request time (HAProxy: of its last 1024 requests)' },
] satisfies MetricName[]);

export function findMetric(name: string): MetricName | undefined {
  return METRICS.find((m) => m.name === name);
}

/** What a chart shows when no names are asked for. */
export const DEFAULT_SERVICE_METRICS = ['cpu_percent', 'memory_bytes', 'requests_per_second', 'latency_p99_seconds', 'latency_avg_seconds', 'responses_2xx', 'responses_4xx', 'responses_5xx', 'restarts'];
export const DEFAULT_ADDON_METRICS = ['cpu_percent', 'memory_bytes', 'memory_percent', 'restarts'];
