/**
 * The next safe step of a rolling replacement, as a pure function (after argo-rollouts' replicaset
 * math): old instances are stopped only once enough new ones are ready that capacity never drops below
 * the desired count; new ones are started up to `maxSurge` above it.
 */

export interface SlotView {
  id: string;
  ordinal: number;
  ready: boolean;
}

export interface RollingInput {
  desired: number;
  maxSurge: number;
  /** stop old before starting new (services with a volume, `recreate`) */
  stopOldFirst: boolean;
  current: SlotView[];
  old: SlotView[];
  /** ordinals of the current release that may not start yet (crash back-off) */
  blockedOrdinals: Set<number>;
  /** a canary step: how many current instances are wanted now (default: all of `desired`) */
  currentTarget?: number;
  /**
   * a canary step: how many old instances keep serving beside the new ones (default: `desired` minus
   * `currentTarget`). A traffic-percentage step keeps them all: the router, not the count, sets the share.
   */
  oldKeep?: number;
  /**
   * No new instance has proven itself yet (stayed ready for the proof time): the last ready old instance
   * stays, so a release that crashes soon after its port opens never takes the service down entirely.
   */
  keepLastOld?: boolean;
}

export interface RollingStep {
  start: number[];
  stop: string[];
  reason: string;
}

export function strategySurge(strategy: string | undefined, desired: number): { maxSurge: number; stopOldFirst: boolean } {
  switch (strategy) {
    case 'recreate':
      return { maxSurge: 0, stopOldFirst: true };
    case 'rollout-fast':
      return { maxSurge: Math.max(1, Math.ceil(desired / 2)), stopOldFirst: false };
    case 'rollout-balanced':
      return { maxSurge: Math.max(1, Math.ceil(desired / 4)), stopOldFirst: false };
    default:
      return { maxSurge: 1, stopOldFirst: false };
  }
}

export function nextRollingStep(i: RollingInput): RollingStep {
  const start: number[] = [];
  const stop: string[] = [];
  const readyCurrent = i.current.filter((s) => s.ready).length;
  const readyOld = i.old.filter((s) => s.ready).length;
  const want = Math.min(i.currentTarget ?? i.desired, i.desired);
  // A canary step keeps this many old instances serving beside the new ones.
  const oldKeep = i.oldKeep ?? i.desired - want;

  // Too many current instances (scale down): drop the highest ordinals, unready ones first.
  if (i.current.length > want) {
    const extra = [...i.current].sort((a, b) => Number(a.ready) - Number(b.ready) || b.ordinal - a.ordinal).slice(0, i.current.length - want);
    return { start, stop: extra.map((s) => s.id), reason: `scaling down to ${want}` };
  }

  if (i.stopOldFirst && i.old.length > 0) {
    return { start, stop: i.old.map((s) => s.id), reason: 'stopping old instances first (recreate)' };
  }

  // Old instances that are not ready carry no traffic: removing them never costs capacity.
  const unreadyOld = i.old.filter((s) => !s.ready);
  stop.push(...unreadyOld.map((s) => s.id));

  // Stop ready old ones only while ready capacity stays at or above the desired count (and a canary
  // step keeps its share of old ones).
  let capacity = readyCurrent + readyOld;
  let oldLeft = i.old.length - unreadyOld.length;
  for (const o of [...i.old.filter((s) => s.ready)].sort((a, b) => b.ordinal - a.ordinal)) {
    if (oldLeft <= oldKeep) break;
    if (capacity - 1 >= i.desired || readyCurrent >= i.desired) {
      stop.push(o.id);
      capacity--;
      oldLeft--;
    }
  }

  let keptLast = false;
  if (i.keepLastOld && readyOld > 0 && i.old.filter((s) => s.ready && !stop.includes(s.id)).length === 0) {
    // The lowest ordinal stays (stops go highest first).
    const last = i.old.filter((s) => s.ready).sort((a, b) => a.ordinal - b.ordinal)[0];
    stop.splice(stop.indexOf(last.id), 1);
    keptLast = true;
  }

  const used = new Set(i.current.map((s) => s.ordinal));
  const liveAfter = i.current.length + i.old.length - stop.length;
  let room = i.desired + i.maxSurge - liveAfter;
  if (i.old.length - stop.length === 0) room = want - i.current.length;
  room = Math.min(room, want - i.current.length);
  for (let ord = 0; ord < want && room > 0; ord++) {
    if (used.has(ord) || i.blockedOrdinals.has(ord)) continue;
    start.push(ord);
    room--;
  }
  const waiting = i.current.length - readyCurrent;
  const reason =
    start.length || stop.length
      ? `starting ${start.length}, stopping ${stop.length}${keptLast ? '; the last old instance stays until a new one has proven itself' : ''}`
      : keptLast
        ? 'the last old instance stays until a new one has stayed ready long enough to prove the release'
      : waiting > 0
        ? `${waiting} starting, waiting for readiness (max surge ${i.maxSurge})`
        : i.blockedOrdinals.size > 0
          ? `${i.blockedOrdinals.size} instance(s) in crash back-off`
          : 'steady';
  return { start, stop, reason };
}

export interface PlannedStep {
  step: number;
  oldInstances: number;
  newInstances: number;
  action: string;
}

/**
 * The steps a rollout would take, computed by running `nextRollingStep` against instances that become
 * ready at once: what a dry run shows before anything is touched.
 */
export function planRollout(opts: { desired: number; oldCount: number; strategy: string | undefined; memoryMb: number }): { steps: PlannedStep[]; peakInstances: number; peakMemoryMb: number } {
  const { maxSurge, stopOldFirst } = strategySurge(opts.strategy, opts.desired);
  let old: SlotView[] = Array.from({ length: opts.oldCount }, (_, i) => ({ id: `old-${i}`, ordinal: i, ready: true }));
  let current: SlotView[] = [];
  const steps: PlannedStep[] = [];
  let peak = old.length;
  for (let n = 1; n <= 1000; n++) {
    const step = nextRollingStep({ desired: opts.desired, maxSurge, stopOldFirst, current, old, blockedOrdinals: new Set() });
    if (step.start.length === 0 && step.stop.length === 0) break;
    old = old.filter((s) => !step.stop.includes(s.id));
    current = current.filter((s) => !step.stop.includes(s.id));
    current = [...current.map((s) => ({ ...s, ready: true })), ...step.start.map((ord) => ({ id: `new-${ord}`, ordinal: ord, ready: false }))];
    peak = Math.max(peak, old.length + current.length);
    steps.push({ step: n, oldInstances: old.length, newInstances: current.length, action: step.reason });
    // Next wave: what was started is ready.
    current = current.map((s) => ({ ...s, ready: true }));
  }
  return { steps, peakInstances: peak, peakMemoryMb: peak * opts.memoryMb };
}
