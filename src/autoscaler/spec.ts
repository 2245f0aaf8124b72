/**
 * `autoscaling.horizontal` as seed 000 and Northflank's client name it: read into a typed policy, and the
 * rules a JSON schema cannot express (min ≤ max, an enabled metric needs its threshold, at least one metric,
 * the metrics port is one of the service's ports). Pure: no imports of the platform.
 */

export interface UserMetricSpec {
  metricName: string;
  metricType: 'gauge' | 'counter';
  thresholdValue: number;
}

/** The policy the autoscaler runs: only what is enabled. */
export interface AutoscalePolicy {
  minReplicas: number;
  maxReplicas: number;
  cpuPercent?: number;
  memoryPercent?: number;
  rps?: number;
  userMetrics?: { path: string; port: number; metrics: UserMetricSpec[] };
}

interface HorizontalSpec {
  enabled?: boolean;
  minReplicas?: number;
  maxReplicas?: number;
  cpu?: { enabled?: boolean; thresholdPercentage?: number };
  memory?: { enabled?: boolean; thresholdPercentage?: number };
  rps?: { enabled?: boolean; thresholdValue?: number };
  userMetrics?: { enabled?: boolean; exposedMetricsPath?: string; exposedMetricsPort?: number; metrics?: Partial<UserMetricSpec>[] };
}

/** The most instances an autoscaled service may have (the `/v1` face's own limit on `deployment.instances`). */
export const MAX_REPLICAS_LIMIT = 100;

function horizontalOf(autoscaling: unknown): HorizontalSpec | undefined {
  const h = (autoscaling as { horizontal?: unknown } | undefined)?.horizontal;
  return h && typeof h === 'object' ? (h as HorizontalSpec) : undefined;
}

/** The policy of a spec whose horizontal autoscaling is enabled (and valid), else undefined. */
export function autoscalePolicy(spec: { autoscaling?: unknown }): AutoscalePolicy | undefined {
  const h = horizontalOf(spec.autoscaling);
  if (!h?.enabled || h.minReplicas === undefined || h.maxReplicas === undefined) return undefined;
  const p: AutoscalePolicy = { minReplicas: h.minReplicas, maxReplicas: h.maxReplicas };
  if (h.cpu?.enabled && h.cpu.thresholdPercentage) p.cpuPercent = h.cpu.thresholdPercentage;
  if (h.memory?.enabled && h.memory.thresholdPercentage) p.memoryPercent = h.memory.thresholdPercentage;
  if (h.rps?.enabled && h.rps.thresholdValue) p.rps = h.rps.thresholdValue;
  const u = h.userMetrics;
  if (u?.enabled && u.exposedMetricsPath && u.exposedMetricsPort && u.metrics?.length) {
    p.userMetrics = { path: u.exposedMetricsPath, port: u.exposedMetricsPort, metrics: u.metrics.filter((m): m is UserMetricSpec => !!m.metricName && !!m.metricType && typeof m.thresholdValue === 'number') };
  }
  return p;
}

export interface Problem {
  field: string;
  rule: string;
  message: string;
}

/**
 * What is wrong with a spec's `autoscaling.horizontal`, each naming its field. `portNumbers` are the
 * service's internal ports (the metrics port must be one of them: only those reach an instance).
 */
export function autoscalingProblems(spec: { autoscaling?: unknown }, portNumbers: number[]): Problem[] {
  const h = horizontalOf(spec.autoscaling);
  if (!h || !h.enabled) return [];
  const out: Problem[] = [];
  const f = 'autoscaling.horizontal';
  const bad = (field: string, rule: string, message: string) => out.push({ field: `${f}.${field}`, rule, message });
  const intIn = (field: string, v: number | undefined, min: number, max: number) => {
    if (v === undefined) bad(field, 'required', 'required when horizontal autoscaling is enabled');
    else if (!Number.isInteger(v) || v < min || v > max) bad(field, 'range', `must be a whole number from ${min} to ${max} (got ${v})`);
  };
  intIn('minReplicas', h.minReplicas, 1, MAX_REPLICAS_LIMIT);
  intIn('maxReplicas', h.maxReplicas, 1, MAX_REPLICAS_LIMIT);
  if (Number.isInteger(h.minReplicas) && Number.isInteger(h.maxReplicas) && h.minReplicas! > h.maxReplicas!) {
    bad('minReplicas', 'lessOrEqual', `minReplicas (${h.minReplicas}) must not be more than maxReplicas (${h.maxReplicas})`);
  }
  for (const k of ['cpu', 'memory'] as const) {
    const m = h[k];
    if (m?.enabled && m.thresholdPercentage === undefined) bad(`${k}.thresholdPercentage`, 'required', `required when ${k} autoscaling is enabled`);
  }
  if (h.rps?.enabled && h.rps.thresholdValue === undefined) bad('rps.thresholdValue', 'required', 'required when rps autoscaling is enabled');
  const u = h.userMetrics;
  if (u?.enabled) {
    if (!u.exposedMetricsPath) bad('userMetrics.exposedMetricsPath', 'required', 'required when userMetrics is enabled');
    if (u.exposedMetricsPort === undefined) bad('userMetrics.exposedMetricsPort', 'required', 'required when userMetrics is enabled');
    else if (!portNumbers.includes(u.exposedMetricsPort)) bad('userMetrics.exposedMetricsPort', 'exists', `port ${u.exposedMetricsPort} is not one of the service's ports (${portNumbers.join(', ') || 'none'}): the metrics are scraped from an instance's port`);
    if (!u.metrics?.length) bad('userMetrics.metrics', 'minItems', 'at least one metric is required');
    const seen = new Set<string>();
    (u.metrics ?? []).forEach((m, i) => {
      if (m.metricName && seen.has(m.metricName)) bad(`userMetrics.metrics.${i}.metricName`, 'unique', `metric '${m.metricName}' is named twice`);
      if (m.metricName) seen.add(m.metricName);
      if (typeof m.thresholdValue === 'number' && !(m.thresholdValue > 0)) bad(`userMetrics.metrics.${i}.thresholdValue`, 'exclusiveMinimum', 'must be more than 0');
    });
  }
  const any = h.cpu?.enabled || h.memory?.enabled || h.rps?.enabled || u?.enabled;
  if (!any) bad('enabled', 'metric', 'enabled without a metric: enable at least one of cpu, memory, rps or userMetrics');
  return out;
}

/**
 * The instance count a write leaves when autoscaling is on: the autoscaler owns `deployment.instances`, so a
 * write keeps the count it set (`previous`), moved into the (possibly new) [min, max] at once. A spec that
 * turns autoscaling on starts from its own count, clamped. Undefined when autoscaling is off.
 */
export function autoscaledInstances(previousInstances: number | undefined, previousSpec: { autoscaling?: unknown } | undefined, next: { autoscaling?: unknown; deployment?: { instances?: number } }): number | undefined {
  const policy = autoscalePolicy(next);
  if (!policy) return undefined;
  const wasOn = previousSpec ? !!autoscalePolicy(previousSpec) : false;
  const from = wasOn && previousInstances !== undefined ? previousInstances : (next.deployment?.instances ?? previousInstances ?? policy.minReplicas);
  // 0 is maintenance mode: kept, the autoscaler does not act on a service scaled to 0.
  if (from === 0) return 0;
  return Math.min(policy.maxReplicas, Math.max(policy.minReplicas, from));
}
