/**
 * Kubernetes' HorizontalPodAutoscaler algorithm, as pure functions (kubernetes/pkg/controller/podautoscaler:
 * replica_calculator.go and horizontal.go), so the autoscaler's loop only gathers samples and acts.
 *
 * - Per metric: desired = ceil(current × value / target), no change while value/target is within the
 *   tolerance (10%) of 1.
 * - Per-instance metrics (CPU, memory, a user metric): the mean over instances with a sample. Instances
 *   without a sample are "missing": on a scale-up they count as 0, on a scale-down as exactly at the target,
 *   and a step that the assumption reverses or brings within the tolerance is not taken. For CPU, instances
 *   not yet ready are set aside like the HPA does; they count as 0 on a scale-up.
 * - A service-wide total (requests per second): desired = ceil(total / target per instance).
 * - Over several metrics the most demanding wins. A metric that cannot be read blocks a scale-down but not a
 *   scale-up.
 * - Scale-up is immediate (at most doubling, or +4, per evaluation: the HPA's default policy); a scale-down
 *   takes the highest recommendation of the stabilization window; the result stays within [min, max].
 */

export const TOLERANCE = 0.1;

export interface InstanceSample {
  /** readiness passed (the instance takes traffic) */
  ready: boolean;
  /** the metric's value for this instance; undefined when it could not be read (a "missing" instance) */
  value?: number;
}

export interface Proposal {
  /** the replica count this metric asks for */
  replicas: number;
  /** the value it was judged on: the mean per instance (of the ready ones with a sample) */
  value: number;
}

/** Whether value/target is close enough to 1 to leave the count alone. */
export function withinTolerance(ratio: number, tolerance = TOLERANCE): boolean {
  return Math.abs(1 - ratio) <= tolerance;
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

/**
 * The replica count a per-instance metric asks for (GetResourceReplicas / calcPlainMetricReplicas).
 * `unreadyAside`: instances not yet ready are set aside (the HPA does this for CPU, whose start-up burst
 * says nothing about load). Undefined when no instance has a usable sample.
 */
export function perInstanceReplicas(current: number, target: number, instances: InstanceSample[], opts: { unreadyAside?: boolean; tolerance?: number } = {}): Proposal | undefined {
  const tolerance = opts.tolerance ?? TOLERANCE;
  const counted: number[] = [];
  let unready = 0;
  let missing = 0;
  for (const i of instances) {
    if (i.value === undefined || !Number.isFinite(i.value)) missing++;
    else if (opts.unreadyAside && !i.ready) unready++;
    else counted.push(i.value);
  }
  if (counted.length === 0 || target <= 0) return undefined;
  const value = mean(counted);
  const ratio = value / target;
  const scaleUpWithUnready = unready > 0 && ratio > 1;
  if (!scaleUpWithUnready && missing === 0) {
    if (withinTolerance(ratio, tolerance)) return { replicas: current, value };
    return { replicas: Math.ceil(ratio * counted.length), value };
  }
  const filled = [...counted];
  if (missing > 0) {
    // Scaling down: the missing ones are assumed at the target; scaling up: idle.
    if (ratio < 1) for (let k = 0; k < missing; k++) filled.push(target);
    else if (ratio > 1) for (let k = 0; k < missing; k++) filled.push(0);
  }
  if (scaleUpWithUnready) for (let k = 0; k < unready; k++) filled.push(0);
  const newRatio = mean(filled) / target;
  if (withinTolerance(newRatio, tolerance) || (ratio < 1 && newRatio > 1) || (ratio > 1 && newRatio < 1)) return { replicas: current, value };
  const replicas = Math.ceil(newRatio * filled.length);
  // The assumption must not turn the step around.
  if ((newRatio < 1 && replicas > current) || (newRatio > 1 && replicas < current)) return { replicas: current, value };
  return { replicas, value };
}

/**
 * The replica count a service-wide total asks for, with a target per instance (the HPA's Object/External
 * metric with an AverageValue target: GetObjectPerPodMetricReplicas). `value` is the total per instance.
 */
export function totalReplicas(current: number, target: number, total: number, tolerance = TOLERANCE): Proposal | undefined {
  if (current <= 0 || target <= 0 || !Number.isFinite(total)) return undefined;
  const ratio = total / (target * current);
  const value = total / current;
  if (withinTolerance(ratio, tolerance)) return { replicas: current, value };
  return { replicas: Math.ceil(total / target), value };
}

export interface MetricProposal extends Proposal {
  name: string;
  target: number;
}

/**
 * The most demanding metric's count (horizontal.go computeReplicasForMetrics). `invalid` counts metrics that
 * could not be read: with any, a scale-down is not proposed (current is kept) but a scale-up is.
 */
export function combine(current: number, proposals: MetricProposal[], invalid: number): { replicas: number; by?: MetricProposal } {
  let best: MetricProposal | undefined;
  for (const p of proposals) if (!best || p.replicas > best.replicas) best = p;
  if (!best) return { replicas: current };
  if (invalid > 0 && best.replicas < current) return { replicas: current, by: best };
  return { replicas: best.replicas, by: best };
}

export interface Recommendation {
  replicas: number;
  at: number;
}

/**
 * The HPA's stabilization (stabilizeRecommendationWithBehaviors): a scale-down goes only as low as the
 * highest recommendation of the last `downWindowMs`; a scale-up (window 0) is taken at once. Returns the
 * stabilized count and the recommendations to keep (this one added, those older than the window dropped).
 */
export function stabilize(current: number, recommended: number, history: Recommendation[], now: number, downWindowMs: number): { replicas: number; history: Recommendation[] } {
  const kept = history.filter((r) => r.at > now - downWindowMs);
  let down = recommended;
  for (const r of kept) down = Math.max(down, r.replicas);
  let replicas = current;
  if (replicas < recommended) replicas = recommended;
  if (replicas > down) replicas = down;
  return { replicas, history: [...kept, { replicas: recommended, at: now }] };
}

/** The HPA's default scale-up policy: per evaluation, at most double (100%) or add 4, whichever is more. */
export function scaleUpLimit(current: number): number {
  return Math.max(current * 2, current + 4);
}

export interface Bounds {
  min: number;
  max: number;
}

/** Rate limit and bounds (normalizeDesiredReplicasWithBehaviors): the count the autoscaler sets. */
export function normalize(current: number, stabilized: number, bounds: Bounds): { replicas: number; limitedBy?: 'min' | 'max' | 'scaleUpLimit' } {
  let replicas = stabilized;
  let limitedBy: 'min' | 'max' | 'scaleUpLimit' | undefined;
  if (replicas > current && replicas > scaleUpLimit(current)) {
    replicas = scaleUpLimit(current);
    limitedBy = 'scaleUpLimit';
  }
  if (replicas > bounds.max) {
    replicas = bounds.max;
    limitedBy = 'max';
  }
  if (replicas < bounds.min) {
    replicas = bounds.min;
    limitedBy = 'min';
  }
  return { replicas, ...(limitedBy ? { limitedBy } : {}) };
}
