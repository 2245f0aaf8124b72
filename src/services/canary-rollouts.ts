/**
 * The native canary's use-case rules: turning a request's steps and analysis into rollout options (every
 * bad field named, before anything is written), and the canary part of a rollout's view (steps, analysis,
 * its measurements, the live split and per-release metrics).
 */
import { ANALYSIS_DEFAULTS, checkCanary, type CanaryAnalysis, type CanaryStep, type Pin } from '../domain/canary.ts';
import type { ServiceSpec } from '../domain/service.ts';
import { ValidationError } from '../errors/errors.ts';
import type { RolloutOptions, RolloutRecord } from '../store/rollouts-repo.ts';
import type { CanaryLiveView } from './ports.ts';

/** A step as the native API takes it: `pin` names a header and/or a cookie. */
export interface CanaryStepInput {
  instanceWeight?: number;
  trafficPercent?: number;
  pin?: { header?: { name: string; value: string }; cookie?: { name: string; value: string } };
}

export interface CanaryAnalysisInput {
  interval?: number;
  failureLimit?: number;
  minRequests?: number;
  inconclusive?: 'wait' | 'pause';
  metrics: { name: 'errorRate' | 'latencyP50' | 'latencyP99'; max?: number; maxAboveStable?: number }[];
}

function hasPublicHttpPort(spec: ServiceSpec): boolean {
  return (spec.ports ?? []).some((p) => p.public && (p.protocol === 'HTTP' || p.protocol === 'HTTP/2'));
}

/** Steps and analysis → rollout options; a ValidationError naming every bad field. */
export function canaryOptions(spec: ServiceSpec, steps: CanaryStepInput[], analysis: CanaryAnalysisInput | undefined): Pick<RolloutOptions, 'canarySteps' | 'canaryAnalysis'> {
  const canarySteps: CanaryStep[] = steps.map((s) => {
    const pins: Pin[] = [];
    if (s.pin?.header) pins.push({ header: s.pin.header.name, value: s.pin.header.value });
    if (s.pin?.cookie) pins.push({ cookie: s.pin.cookie.name, value: s.pin.cookie.value });
    return { ...(s.instanceWeight !== undefined ? { instanceWeight: s.instanceWeight } : {}), ...(s.trafficPercent !== undefined ? { trafficPercent: s.trafficPercent } : {}), ...(pins.length ? { pins } : {}) };
  });
  const problems = checkCanary(canarySteps, analysis ? { metrics: analysis.metrics.map((m) => ({ name: m.name, max: m.max, maxAboveStable: m.maxAboveStable })) } : undefined, { hasPublicHttpPort: hasPublicHttpPort(spec) });
  // Pins were checked on the internal shape; name the API's fields.
  for (const p of problems) p.field = p.field.replace(/\.pins\.(\d+)\.(header|cookie)$/, (_m, _j, k) => `.pin.${k}.name`).replace(/\.pins\.\d+\.value$/, '.pin.value').replace(/\.pins$/, '.pin');
  if (problems.length) throw new ValidationError(problems);
  const canaryAnalysis: CanaryAnalysis | undefined = analysis
    ? {
        intervalSeconds: analysis.interval ?? ANALYSIS_DEFAULTS.intervalSeconds,
        failureLimit: analysis.failureLimit ?? ANALYSIS_DEFAULTS.failureLimit,
        minRequests: analysis.minRequests ?? ANALYSIS_DEFAULTS.minRequests,
        inconclusive: analysis.inconclusive ?? ANALYSIS_DEFAULTS.inconclusive,
        metrics: analysis.metrics.map((m) => ({ name: m.name, ...(m.max !== undefined ? { max: m.max } : {}), ...(m.maxAboveStable !== undefined ? { maxAboveStable: m.maxAboveStable } : {}) })),
      }
    : undefined;
  return { canarySteps, ...(canaryAnalysis ? { canaryAnalysis } : {}) };
}

/** The canary part of a rollout's view; `live` only for a rollout in progress. */
export function canaryView(r: RolloutRecord, live?: CanaryLiveView) {
  const steps = r.options.canarySteps;
  if (!steps) return {};
  const state = r.options.canaryAnalysisState as (RolloutOptions['canaryAnalysisState'] & { history?: unknown[] }) | undefined;
  return {
    canary: {
      steps: steps.map((s) => ({
        ...(s.instanceWeight !== undefined ? { instanceWeight: s.instanceWeight } : {}),
        ...(s.trafficPercent !== undefined ? { trafficPercent: s.trafficPercent } : {}),
        ...(s.pins?.length ? { pin: Object.fromEntries(s.pins.map((p) => ('header' in p ? ['header', { name: p.header, value: p.value }] : ['cookie', { name: p.cookie, value: p.value }]))) } : {}),
      })),
      currentStep: r.stepIndex + 1,
      paused: r.paused,
      ...(r.options.canaryAnalysis
        ? {
            analysis: {
              interval: r.options.canaryAnalysis.intervalSeconds,
              failureLimit: r.options.canaryAnalysis.failureLimit,
              minRequests: r.options.canaryAnalysis.minRequests,
              inconclusive: r.options.canaryAnalysis.inconclusive,
              metrics: r.options.canaryAnalysis.metrics,
              failures: state?.failures ?? 0,
              measurements: state?.history ?? [],
            },
          }
        : {}),
      ...(live ? { traffic: live } : {}),
    },
  };
}
