/**
 * The native canary's steps as the service controller drives them: the traffic split a step puts on the
 * routes, and what happens once a step is reached: with no analysis it pauses for a person (continue or
 * cancel, as CF canaries do); with one it measures the new release against the stable one over each
 * interval, from the router's own per-release metrics (release-traffic.ts), and continues, aborts, waits or
 * pauses by itself. Every measurement is a rollout event; the last ones are kept with the rollout for
 * `GET …/rollouts/{n}` and the dashboard's chart.
 */
import type { Store } from '../../store/store.ts';
import type { RolloutRecord, CanaryAnalysisState } from '../../store/rollouts-repo.ts';
import type { ReleaseRecord } from '../../domain/release.ts';
import { judgeWindow, type CanaryStep, type ReleaseStats } from '../../domain/canary.ts';
import type { RouteTableBuilder, ServiceSplit } from './route-table.ts';
import type { ReleaseTraffic } from './release-traffic.ts';

/** Measurements kept with the rollout (for the chart); events keep every one. */
const HISTORY = 60;

export interface AnalysisRecord {
  at: string;
  step: number;
  verdict: 'pass' | 'fail' | 'inconclusive';
  canaryRequests: number;
  stableRequests: number;
  results: { metric: string; value: number | null; stable: number | null; limit: number | null; passed: boolean }[];
}

type StateWithHistory = CanaryAnalysisState & { history?: AnalysisRecord[] };

/** How a step is described in events: "step 1/3 (5 % of requests)". */
export function describeStep(rollout: RolloutRecord, index = rollout.stepIndex): string {
  const steps = rollout.options.canarySteps ?? [];
  const s = steps[index];
  const share = s?.trafficPercent !== undefined ? `${s.trafficPercent}% of requests` : `${s?.instanceWeight}%`;
  return `step ${index + 1}/${steps.length} (${share})`;
}

/** The split a step puts on the service's routes; undefined for a CF-style instance step without pins. */
export function splitFor(step: CanaryStep | undefined, canaryIds: string[]): ServiceSplit | undefined {
  if (!step || (step.trafficPercent === undefined && !step.pins?.length)) return undefined;
  return { canaryIds: new Set(canaryIds), ...(step.trafficPercent !== undefined ? { percent: step.trafficPercent } : {}), ...(step.pins?.length ? { pins: step.pins } : {}) };
}

export class CanaryStepper {
  constructor(
    private readonly store: Store,
    private readonly traffic: ReleaseTraffic | undefined,
    private readonly routes: Pick<RouteTableBuilder, 'splitOf'>,
  ) {}

  /** A canary's live split and the per-release metrics of the last `windowSeconds` (for `GET …/rollouts/{n}`). */
  view(key: string, windowSeconds = 60) {
    const split = this.routes.splitOf(key) ?? null;
    const releases = this.traffic ? [...this.traffic.window(key, Date.now() - windowSeconds * 1000).values()].sort((a, b) => a.release - b.release) : [];
    return { split, windowSeconds, releases };
  }

  /**
   * A step is reached (its instances are up and routed). Returns when to look again, or undefined when the
   * rollout waits for a person. `fail` aborts the rollout (the service returns to its stable release).
   */
  async reached(serviceKey: string, rollout: RolloutRecord, target: ReleaseRecord, fail: (message: string) => Promise<void>): Promise<{ againInMs: number } | undefined> {
    const analysis = rollout.options.canaryAnalysis;
    if (!analysis) {
      await this.store.rollouts.setStep(rollout.id, { paused: true });
      return undefined;
    }
    const now = Date.now();
    const had = rollout.options.canaryAnalysisState as StateWithHistory | undefined;
    if (!had || had.stepIndex !== rollout.stepIndex) {
      // The step has just been reached: its first window starts now, on the new split.
      await this.store.rollouts.setAnalysisState(rollout.id, { stepIndex: rollout.stepIndex, windowStart: new Date(now).toISOString(), failures: had?.failures ?? 0, history: had?.history ?? [] } as StateWithHistory);
      await this.store.rollouts.event(rollout.id, `${describeStep(rollout)} reached; analysing the next ${analysis.intervalSeconds} s of traffic`);
      return { againInMs: analysis.intervalSeconds * 1000 };
    }
    const windowStart = Date.parse(had.windowStart);
    const left = windowStart + analysis.intervalSeconds * 1000 - now;
    if (left > 0) return { againInMs: Math.min(left + 5, 1000) };

    const windows = this.traffic?.window(serviceKey, windowStart, now) ?? new Map();
    const canary = windows.get(target.number);
    const stable = stableOf(windows, target.number);
    const v = judgeWindow(analysis, canary, stable);
    const record: AnalysisRecord = { at: new Date(now).toISOString(), step: rollout.stepIndex + 1, verdict: v.verdict, canaryRequests: v.canaryRequests, stableRequests: v.stableRequests, results: v.results };
    const history = [...(had.history ?? []), record].slice(-HISTORY);
    const failures = had.failures + (v.verdict === 'fail' ? 1 : 0);
    await this.store.rollouts.event(rollout.id, `analysis of ${describeStep(rollout)}: ${v.summary}${v.verdict === 'fail' ? ` (failure ${failures}, limit ${analysis.failureLimit})` : ''}`);
    const next: StateWithHistory = { stepIndex: rollout.stepIndex, windowStart: new Date(now).toISOString(), failures, history };

    if (v.verdict === 'fail' && failures > analysis.failureLimit) {
      await this.store.rollouts.setAnalysisState(rollout.id, next);
      const worst = v.results.find((r) => !r.passed)!;
      await fail(`canary analysis failed at ${describeStep(rollout)}: ${worst.metric} ${worst.value} over its limit ${worst.limit} (${v.summary})`);
      return undefined;
    }
    if (v.verdict === 'pass') {
      const steps = rollout.options.canarySteps ?? [];
      const index = rollout.stepIndex + 1;
      await this.store.rollouts.setAnalysisState(rollout.id, { ...next, stepIndex: index });
      // A fresh progress deadline for the next step, as a continue by hand gives.
      const length = Math.max(5 * 60_000, Date.parse(rollout.deadlineAt) - Date.parse(rollout.createdAt));
      await this.store.rollouts.setStep(rollout.id, { stepIndex: index, paused: false, deadlineAt: new Date(now + length).toISOString() });
      await this.store.rollouts.event(rollout.id, index < steps.length ? `analysis passed: continuing to ${describeStep(rollout, index)}` : 'analysis passed: promoting the new release to all instances and requests');
      return { againInMs: 20 };
    }
    await this.store.rollouts.setAnalysisState(rollout.id, next);
    if (v.verdict === 'inconclusive' && analysis.inconclusive === 'pause') {
      await this.store.rollouts.setStep(rollout.id, { paused: true });
      await this.store.rollouts.event(rollout.id, `paused at ${describeStep(rollout)}: analysis inconclusive; continue or cancel`);
      return undefined;
    }
    return { againInMs: analysis.intervalSeconds * 1000 };
  }
}

/** The stable side of a window: every release but the new one, summed (normally just the one it replaces). */
function stableOf(windows: Map<number, ReleaseStats & { errors?: number; release?: number }>, canary: number): ReleaseStats | undefined {
  const others = [...windows.entries()].filter(([n]) => n !== canary).map(([, w]) => w);
  if (others.length === 0) return undefined;
  if (others.length === 1) return others[0];
  // Several old releases: the one with the most requests stands for the stable side.
  return others.sort((a, b) => b.requests - a.requests)[0];
}
