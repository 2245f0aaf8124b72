/**
 * One process type's next rolling step in a service pass, and where the type stands: which instances are new
 * and old, which are available, what to start and stop, and whether the type has converged. A pure function
 * of what the pass read (the instances, their records, the rollout) and the probes' verdicts.
 */
import type { ObservedInstance } from '../../runtime/driver.ts';
import type { ReleaseRecord } from '../../domain/release.ts';
import { instanceId, instanceIdParts } from '../../domain/release.ts';
import { nextRollingStep, strategySurge } from '../../domain/rolling.ts';
import type { RolloutRecord } from '../../store/rollouts-repo.ts';
import type { ServiceVolume } from '../../volumes/service-volumes.ts';
import { volumeStep } from '../../domain/volume.ts';
import type { CanaryStep } from '../../domain/canary.ts';
import type { ProbeScheduler } from '../../probes/scheduler.ts';

/**
 * How long one new instance must stay ready before the last old instance of a service may stop (see
 * `keepLastOld` in domain/rolling.ts), whatever minReadySeconds says (the longer of the two applies), unless
 * `SLIPWAY_LAST_OLD_HOLD_SECONDS` says otherwise.
 */
const LAST_OLD_HOLD_SECONDS = 0.5;

/** What a plan reads of the controller: the probes' verdicts, the instances being stopped, the platform's holds. */
export interface TypePlanContext {
  probeState: ProbeScheduler['state'];
  /** instances being stopped in the background */
  stopping: ReadonlySet<string>;
  /** the platform's minReadySeconds, for a rollout that sets none */
  minReadySeconds?: number;
  /** the last-old hold (0: none); LAST_OLD_HOLD_SECONDS unless set */
  lastOldHoldSeconds?: number;
}

/** An instance's ordinal within its release and process type, from its id. */
export function ordinalOf(id: string): number {
  return instanceIdParts(id)?.ordinal ?? 0;
}

/** The next rolling step of one process type and where it stands (see the module's comment). */
export function planType(
  ctx: TypePlanContext,
  a: {
    key: string;
    projectId: string;
    serviceId: string;
    type: string;
    want: number;
    target: ReleaseRecord | undefined;
    live: ObservedInstance[];
    now: number;
    refreshed: Map<string, { notBefore: string | null }>;
    rollout: RolloutRecord | undefined;
    canaryStep: CanaryStep | undefined;
    strategyName: string | undefined;
    volume?: ServiceVolume;
    stoppingHere?: boolean;
  },
) {
  const { target, now } = a;
  const current = target ? a.live.filter((i) => i.labels.release === target.id) : [];
  const old = a.live.filter((i) => !target || i.labels.release !== target.id);
  const isReady = (i: ObservedInstance) => ctx.probeState(i.id)?.ready === true;
  // minReadySeconds (Kubernetes' meaning): a new instance counts as available, and so lets an old one go,
  // once it has stayed ready this long. 0 counts it at readiness: a release that crashes just after its
  // port opens is then caught by the crash (the instance leaves the table, the capacity rule stops no
  // more old ones) and the progress deadline, not by the hold.
  const minReadyMs = (a.rollout?.options.minReadySeconds ?? ctx.minReadySeconds ?? 0) * 1000;
  const isAvailable = (i: ObservedInstance) => {
    const ps = ctx.probeState(i.id);
    return ps?.ready === true && (minReadyMs === 0 || now - (ps.readySince ?? now) >= minReadyMs);
  };
  let soonestAvailableMs = Infinity;
  for (const i of current) {
    const ps = ctx.probeState(i.id);
    if (ps?.ready && !isAvailable(i)) soonestAvailableMs = Math.min(soonestAvailableMs, minReadyMs - (now - (ps.readySince ?? now)));
  }
  // New instances count once available; old ones count as soon as they are ready (an old instance that
  // just became ready is capacity, not a risk, and must never be mistaken for a dead one and removed).
  const slot = (i: ObservedInstance) => ({ id: i.id, ordinal: ordinalOf(i.id), ready: isAvailable(i) });
  const oldSlot = (i: ObservedInstance) => ({ id: i.id, ordinal: ordinalOf(i.id), ready: isReady(i) });
  const blocked = new Set<number>();
  let nextUnblockMs = Infinity;
  if (target) {
    for (let ord = 0; ord < a.want; ord++) {
      const id = instanceId(a.projectId, a.serviceId, target, a.type, ord);
      // The same slot still stopping (a quick return to a release): wait for it rather than adopt the dying process.
      if (ctx.stopping.has(id)) {
        blocked.add(ord);
        nextUnblockMs = Math.min(nextUnblockMs, 100);
        continue;
      }
      const rec = a.refreshed.get(id);
      if (rec?.notBefore && Date.parse(rec.notBefore) > now) {
        blocked.add(ord);
        nextUnblockMs = Math.min(nextUnblockMs, Date.parse(rec.notBefore) - now);
      }
    }
  }
  let strategy = strategySurge(a.rollout?.strategy ?? a.strategyName, a.want);
  if (a.rollout?.options.maxInFlight) strategy = { maxSurge: a.rollout.options.maxInFlight, stopOldFirst: false };
  // A traffic step runs enough new instances for its share of the requests (at least one) beside every
  // old one: the router's weights, not the counts, set the split.
  const byTraffic = a.canaryStep?.trafficPercent !== undefined;
  const weight = a.canaryStep ? (a.canaryStep.trafficPercent ?? a.canaryStep.instanceWeight ?? 100) : 100;
  const currentTarget = a.canaryStep && a.want > 0 ? Math.min(a.want, Math.max(1, Math.ceil((a.want * weight) / 100))) : a.canaryStep ? 0 : undefined;
  const oldKeep = byTraffic && currentTarget !== undefined ? a.want : undefined;
  if (currentTarget !== undefined) strategy = { maxSurge: Math.max(1, currentTarget), stopOldFirst: false };
  if (a.volume) strategy = { maxSurge: 0, stopOldFirst: true };
  // Whatever minReadySeconds, the last ready old instance goes only once a new one has stayed ready for
  // the proof time: a release that crashes soon after its port opens never takes the whole service down.
  // It costs a wait only when the rollout is done sooner than that after its first new instance was ready.
  const proofMs = Math.max(minReadyMs, (ctx.lastOldHoldSeconds ?? LAST_OLD_HOLD_SECONDS) * 1000);
  let provenInMs = Infinity;
  for (const i of current) {
    const ps = ctx.probeState(i.id);
    if (ps?.ready) provenInMs = Math.min(provenInMs, proofMs - (now - (ps.readySince ?? now)));
  }
  const keepLastOld = a.want > 0 && !strategy.stopOldFirst && provenInMs > 0;
  let step = nextRollingStep({ desired: a.want, maxSurge: strategy.maxSurge, stopOldFirst: strategy.stopOldFirst, current: current.map(slot), old: old.map(oldSlot), blockedOrdinals: blocked, currentTarget, oldKeep, keepLastOld });
  if (keepLastOld && Number.isFinite(provenInMs)) soonestAvailableMs = Math.min(soonestAvailableMs, provenInMs);
  if (a.volume) step = volumeStep(step, a.volume, a.stoppingHere === true);
  const converged = target !== undefined && current.length === a.want && current.every(isAvailable) && old.length === 0 && step.start.length === 0 && step.stop.length === 0;
  // Every new instance available and this step stops the last old ones: converged once they leave.
  const doneAfterStops = target !== undefined && current.length === a.want && current.every(isAvailable) && step.start.length === 0 && old.every((i) => step.stop.includes(i.id)) && !current.some((i) => step.stop.includes(i.id));
  const canaryReached = currentTarget !== undefined && current.length === currentTarget && current.every(isAvailable) && old.length <= (oldKeep ?? a.want - currentTarget) && step.start.length === 0 && step.stop.length === 0;
  return { type: a.type, want: a.want, current, old, isAvailable, step, converged, doneAfterStops, canaryReached, currentTarget, nextUnblockMs, soonestAvailableMs };
}
