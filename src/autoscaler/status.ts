/**
 * What the autoscaler says about a service: its bounds, the current and desired counts, each metric's value
 * against its target, why it holds, and its last scaling. The `/v1` service view shows it as
 * `status.autoscaling`; the native route `GET /projects/{p}/services/{s}/autoscaling` returns it whole.
 * Also the words of the scaling events ("rps 240/instance > target 100: 1 -> 3").
 */

export type MetricKind = 'cpu' | 'memory' | 'rps' | 'gauge' | 'counter';

export interface MetricStatus {
  /** `cpu`, `memory`, `rps`, or the user metric's name */
  name: string;
  kind: MetricKind;
  /** the value judged: per instance (CPU and memory in % of the plan, rps and counters per second); null when unread */
  value: number | null;
  target: number;
  /** the count this metric asks for; null when unread */
  replicas: number | null;
}

export type AutoscaleReason =
  | 'ScalingActive'
  | 'ScaledUp'
  | 'ScaledDown'
  | 'ScaleDownStabilized'
  | 'HeldForRollout'
  | 'LimitedByVolume'
  | 'ScalingDisabled'
  | 'MetricsUnavailable';

export interface AutoscaleStatus {
  minReplicas: number;
  maxReplicas: number;
  /** the instance count the service has now (`deployment.instances`) */
  currentReplicas: number;
  /** how many of them are ready */
  readyReplicas: number;
  /** the count the autoscaler wants (equal to current once it has acted, or while it holds) */
  desiredReplicas: number;
  metrics: MetricStatus[];
  reason: AutoscaleReason;
  message: string;
  /** when this was evaluated; absent before the autoscaler's first look at the service */
  evaluatedAt?: string;
  lastScaleTime?: string;
  lastScaleMessage?: string;
}

/** A metric's value in words: "cpu 180%", "rps 240/instance", "queue_depth 30/instance". */
export function describeValue(m: Pick<MetricStatus, 'name' | 'kind'>, v: number): string {
  const n = round(v);
  if (m.kind === 'cpu' || m.kind === 'memory') return `${m.name} ${n}% of plan`;
  return `${m.name} ${n}/instance`;
}

export function describeTarget(m: Pick<MetricStatus, 'kind' | 'target'>): string {
  return m.kind === 'cpu' || m.kind === 'memory' ? `${m.target}%` : String(m.target);
}

/** The words of a scaling: "rps 240/instance > target 100: 1 -> 3". */
export function scaleMessage(by: MetricStatus | undefined, from: number, to: number, extra?: string): string {
  const why = by && by.value !== null ? `${describeValue(by, by.value)} ${to > from ? '>' : '<'} target ${describeTarget(by)}` : to > from ? 'below minReplicas' : 'above maxReplicas';
  return `${why}: ${from} -> ${to}${extra ? ` (${extra})` : ''}`;
}

/** Every metric against its target: "rps 3/instance (target 100), cpu unread (target 50%)". */
export function summarize(metrics: MetricStatus[]): string {
  return metrics.map((m) => `${m.value === null ? `${m.name} unread` : describeValue(m, m.value)} (target ${describeTarget(m)})`).join(', ');
}

export function round(v: number): number {
  return Math.abs(v) >= 10 ? Math.round(v) : Math.round(v * 100) / 100;
}
