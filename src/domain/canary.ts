/**
 * Canary steps and their automatic analysis, as pure rules. A step moves either by instances
 * (`instanceWeight`: the CF face's meaning, a share of the instances) or by requests (`trafficPercent`:
 * the router's split, whatever the instance counts), and may pin requests to the new release. An analysis
 * measures the new release against limits, each absolute or above the stable release measured over the same
 * window, after argo-rollouts' AnalysisRun (`failureLimit`, inconclusive results), from the router's own
 * per-release metrics instead of an external provider.
 */

export type Pin = { header: string; value: string } | { cookie: string; value: string };

export interface CanaryStep {
  /** CF: percent of the instances that run the new release; traffic follows the instances */
  instanceWeight?: number;
  /** percent of the requests (0-100, steps of 0.1) the router sends to the new release */
  trafficPercent?: number;
  /** requests carrying one of these always reach the new release */
  pins?: Pin[];
}

export type AnalysisMetricName = 'errorRate' | 'latencyP50' | 'latencyP99';

export interface AnalysisMetric {
  name: AnalysisMetricName;
  /** the new release's value may not exceed this (errorRate in percent, latencies in ms) */
  max?: number;
  /** the new release's value may exceed the stable release's over the same window by at most this */
  maxAboveStable?: number;
}

export interface CanaryAnalysis {
  /** seconds of traffic per measurement */
  intervalSeconds: number;
  /** failed measurements tolerated; one more aborts the rollout */
  failureLimit: number;
  /** requests the new release (and, for a comparison, the stable one) must have answered in a window */
  minRequests: number;
  /** too few requests: measure again (`wait`) or pause for a person (`pause`) */
  inconclusive: 'wait' | 'pause';
  metrics: AnalysisMetric[];
}

/** What a window of traffic shows for one release. */
export interface ReleaseStats {
  requests: number;
  errorRate: number;
  latencyP50Ms: number | null;
  latencyP99Ms: number | null;
}

export interface MetricResult {
  metric: AnalysisMetricName;
  value: number | null;
  stable: number | null;
  /** the limit the value was held to (absolute, or the stable value plus the allowance) */
  limit: number | null;
  passed: boolean;
}

export interface AnalysisVerdict {
  verdict: 'pass' | 'fail' | 'inconclusive';
  results: MetricResult[];
  canaryRequests: number;
  stableRequests: number;
  /** one line: "errorRate 20.2 % > 1 % (limit); p99 12 ms ≤ 500 ms" */
  summary: string;
}

export const ANALYSIS_DEFAULTS = { intervalSeconds: 30, failureLimit: 0, minRequests: 50, inconclusive: 'wait' as const };

function valueOf(s: ReleaseStats | undefined, m: AnalysisMetricName): number | null {
  if (!s || s.requests === 0) return null;
  return m === 'errorRate' ? s.errorRate : m === 'latencyP50' ? s.latencyP50Ms : s.latencyP99Ms;
}

const UNIT: Record<AnalysisMetricName, string> = { errorRate: ' %', latencyP50: ' ms', latencyP99: ' ms' };

/**
 * Judges one window: inconclusive while the new release (or, for a comparison, the stable one) answered
 * fewer than `minRequests`; else failed when any metric is over its limit, passed otherwise.
 */
export function judgeWindow(a: CanaryAnalysis, canary: ReleaseStats | undefined, stable: ReleaseStats | undefined): AnalysisVerdict {
  const canaryRequests = canary?.requests ?? 0;
  const stableRequests = stable?.requests ?? 0;
  const compares = a.metrics.some((m) => m.maxAboveStable !== undefined);
  const results: MetricResult[] = [];
  for (const m of a.metrics) {
    const value = valueOf(canary, m.name);
    const base = valueOf(stable, m.name);
    const limits: number[] = [];
    if (m.max !== undefined) limits.push(m.max);
    if (m.maxAboveStable !== undefined && base !== null) limits.push(base + m.maxAboveStable);
    const limit = limits.length ? Math.min(...limits) : null;
    results.push({ metric: m.name, value, stable: base, limit, passed: value === null || limit === null ? true : value <= limit });
  }
  const few = canaryRequests < a.minRequests || (compares && stableRequests < a.minRequests);
  const verdict = few ? 'inconclusive' : results.every((r) => r.passed) ? 'pass' : 'fail';
  const words = results.map((r) => `${r.metric} ${fmt(r.value)}${UNIT[r.metric]} ${r.passed ? '≤' : '>'} ${fmt(r.limit)}${UNIT[r.metric]}${r.stable !== null ? ` (stable ${fmt(r.stable)}${UNIT[r.metric]})` : ''}`);
  const summary = few
    ? `inconclusive: ${canaryRequests} new-release request${canaryRequests === 1 ? '' : 's'}${compares ? ` and ${stableRequests} stable` : ''} in the window, ${a.minRequests} needed`
    : `${verdict === 'pass' ? 'passed' : 'failed'}: ${words.join('; ')} over ${canaryRequests} new-release requests`;
  return { verdict, results, canaryRequests, stableRequests, summary };
}

function fmt(x: number | null): string {
  return x === null ? 'n/a' : String(Math.round(x * 1000) / 1000);
}

export interface CanaryFieldError {
  field: string;
  rule: string;
  message: string;
}

/** RFC 9110 token (header names, cookie names) and the values a pin may hold (see router/split.ts). */
export const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,64}$/;
export const PIN_VALUE = /^[A-Za-z0-9._~:@!*+=/-]{1,128}$/;

/**
 * Checks native canary steps and analysis beyond their schema: a step says either instanceWeight or
 * trafficPercent (in steps of 0.1), shares never go down, pins are well-formed, analysis needs traffic
 * steps and a public HTTP port to measure. Returns every bad field.
 */
export function checkCanary(steps: CanaryStep[], analysis: Partial<CanaryAnalysis> | undefined, opts: { hasPublicHttpPort: boolean }): CanaryFieldError[] {
  const errors: CanaryFieldError[] = [];
  steps.forEach((s, i) => {
    const at = `canary.steps.${i}`;
    if (s.instanceWeight !== undefined && s.trafficPercent !== undefined) errors.push({ field: `${at}.trafficPercent`, rule: 'exclusive', message: 'a step says either instanceWeight or trafficPercent, not both' });
    if (s.instanceWeight === undefined && s.trafficPercent === undefined) errors.push({ field: `${at}.trafficPercent`, rule: 'required', message: 'a step needs instanceWeight or trafficPercent' });
    if (s.trafficPercent !== undefined) {
      if (!(s.trafficPercent >= 0 && s.trafficPercent <= 100)) errors.push({ field: `${at}.trafficPercent`, rule: 'range', message: 'trafficPercent is a percentage from 0 to 100' });
      else if (Math.abs(s.trafficPercent * 10 - Math.round(s.trafficPercent * 10)) > 1e-9) errors.push({ field: `${at}.trafficPercent`, rule: 'precision', message: 'trafficPercent goes in steps of 0.1' });
      if (!opts.hasPublicHttpPort) errors.push({ field: `${at}.trafficPercent`, rule: 'applicable', message: 'a traffic split needs a public HTTP port: the router splits requests' });
    }
    (s.pins ?? []).forEach((p, j) => {
      const pat = `${at}.pins.${j}`;
      const name = 'header' in p ? p.header : p.cookie;
      if (!TOKEN.test(name)) errors.push({ field: `${pat}.${'header' in p ? 'header' : 'cookie'}`, rule: 'format', message: `'${name.slice(0, 70)}' is not a valid ${'header' in p ? 'header' : 'cookie'} name (RFC 9110 token, 1-64 characters)` });
      if (!PIN_VALUE.test(p.value)) errors.push({ field: `${pat}.value`, rule: 'format', message: 'a pin value is 1-128 of A-Z a-z 0-9 . _ ~ : @ ! * + = / -' });
    });
    if ((s.pins?.length ?? 0) > 0 && !opts.hasPublicHttpPort) errors.push({ field: `${at}.pins`, rule: 'applicable', message: 'pins need a public HTTP port' });
    const prev = steps[i - 1];
    const share = (x: CanaryStep | undefined) => x?.trafficPercent ?? x?.instanceWeight;
    if (i > 0 && share(s) !== undefined && share(prev) !== undefined && share(s)! < share(prev)!) errors.push({ field: `${at}.${s.trafficPercent !== undefined ? 'trafficPercent' : 'instanceWeight'}`, rule: 'increasing', message: 'each step sends at least the share of the step before it' });
  });
  if (analysis) {
    if (!opts.hasPublicHttpPort) errors.push({ field: 'canary.analysis', rule: 'applicable', message: "analysis reads the router's metrics: the service needs a public HTTP port" });
    if (!steps.some((s) => s.trafficPercent !== undefined) && !steps.some((s) => s.instanceWeight !== undefined)) errors.push({ field: 'canary.steps', rule: 'required', message: 'analysis judges canary steps' });
    (analysis.metrics ?? []).forEach((m, i) => {
      if (m.max === undefined && m.maxAboveStable === undefined) errors.push({ field: `canary.analysis.metrics.${i}.max`, rule: 'required', message: 'a metric needs max, maxAboveStable or both' });
    });
  }
  return errors;
}
