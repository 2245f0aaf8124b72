/**
 * The progress of a service's open rollout, as the service controller's passes see it: each pass that
 * waits records why (deduplicated), a converged rollout completes, one past its progress deadline fails and
 * the service returns to its last good release, and a start the registry refuses fails it at once.
 */
import type { Store } from '../../store/store.ts';
import type { ObservedInstance } from '../../runtime/driver.ts';
import type { ProbeScheduler } from '../../probes/scheduler.ts';
import type { ServiceRecord } from '../../domain/service.ts';
import type { ReleaseRecord } from '../../domain/release.ts';
import type { RolloutRecord } from '../../store/rollouts-repo.ts';
import { serviceKey } from '../../domain/ids.ts';
import { returnDesiredSpec } from './return-desired-spec.ts';

/** A rollout first seen by this controller when older than this was begun by an earlier run or another replica. */
const RESUMED_AFTER_MS = 2_000;

type ExitRecords = Map<string, { restarts: number; lastExitCode: number | null }>;

export class RolloutProgress {
  /** rollouts failed by a start in the current pass (a refused pull): the pass's end leaves them alone */
  private readonly failedThisPass = new Set<string>();
  /** the last reason a new instance could not start (a pull that failed), by rollout id: part of why it waits */
  private readonly startErrors = new Map<string, string>();
  /** rollouts this controller has passed over: the first pass over one it did not see begin renews its deadline */
  private readonly seenRollouts = new Set<string>();

  constructor(
    private readonly store: Store,
    private readonly probes: ProbeScheduler,
    private readonly opts: { progressDeadlineSeconds?: number; requeue: (key: string) => void },
  ) {}

  /** A new instance of the rollout started: an earlier start failure no longer explains the wait. */
  started(rolloutId: string): void {
    this.startErrors.delete(rolloutId);
  }

  /** A start that may heal (retried with back-off) failed: the rollout's waits name it until one succeeds. */
  startFailed(rolloutId: string, message: string): void {
    this.startErrors.set(rolloutId, message);
  }

  /** A start that fails the same way every time (a refused pull) fails the rollout now, not at its deadline. */
  async failedToStart(svc: ServiceRecord, rollout: RolloutRecord, release: ReleaseRecord, message: string): Promise<void> {
    this.failedThisPass.add(rollout.id);
    await this.fail(svc, rollout, release, `release ${release.number} could not start: ${message}`);
  }

  /** One pass's word on the rollout: complete it, record why it waits, or fail it past its deadline. */
  async pass(svc: ServiceRecord, rollout: RolloutRecord, target: ReleaseRecord, converged: boolean, reason: string, current: ObservedInstance[], desired: number, records: ExitRecords): Promise<void> {
    if (this.failedThisPass.delete(rollout.id)) return;
    const startError = this.startErrors.get(rollout.id);
    if (converged) {
      this.startErrors.delete(rollout.id);
      await this.store.rollouts.finish(rollout.id, 'COMPLETED', `release ${target.number}: ${desired}/${desired} instances ready`);
      return;
    }
    const why = `${this.explain(current, desired, reason, records)}${startError ? `; last start failure: ${startError}` : ''}`;
    if ((await this.store.rollouts.lastEvent(rollout.id))?.message !== why) await this.store.rollouts.event(rollout.id, why);
    if (Date.now() < (await this.resumedDeadline(rollout))) return;
    await this.fail(svc, rollout, target, `release ${target.number} did not become ready within the progress deadline: ${why}`);
  }

  /**
   * The rollout's deadline, renewed once when this controller resumes a rollout an earlier run or another
   * replica began (a restart, a failover): the time no control plane worked on it is not held against the
   * release, which gets the whole progress deadline from here.
   */
  private async resumedDeadline(rollout: RolloutRecord): Promise<number> {
    const deadline = Date.parse(rollout.deadlineAt);
    if (this.seenRollouts.has(rollout.id)) return deadline;
    if (this.seenRollouts.size > 10_000) this.seenRollouts.clear();
    this.seenRollouts.add(rollout.id);
    const seconds = this.opts.progressDeadlineSeconds;
    const now = Date.now();
    if (!seconds || rollout.paused || now - Date.parse(rollout.createdAt) < RESUMED_AFTER_MS || deadline >= now + seconds * 1000) return deadline;
    const renewed = now + seconds * 1000;
    await this.store.rollouts.setStep(rollout.id, { paused: false, deadlineAt: new Date(renewed).toISOString() });
    await this.store.rollouts.event(rollout.id, `resumed by this control plane: progress deadline renewed to ${seconds} s from now`);
    return renewed;
  }

  /** Fail a rollout once and return the service to its last good release (if it has one). */
  async fail(svc: ServiceRecord, rollout: RolloutRecord, target: ReleaseRecord, message: string): Promise<void> {
    const key = serviceKey(svc.projectId, svc.id);
    this.startErrors.delete(rollout.id);
    if (!(await this.store.rollouts.finish(rollout.id, 'FAILED', message))) return;
    await this.store.events.append({ projectId: svc.projectId, serviceId: svc.id, kind: 'rollout', reason: 'Failed', message });
    const stable = svc.stableReleaseId && svc.stableReleaseId !== target.id ? await this.store.releases.find(svc.stableReleaseId) : undefined;
    if (!stable) {
      await this.store.services.setStatus(svc.projectId, svc.id, { deployStatus: 'FAILED', deployMessage: message });
      return;
    }
    // Back to the last good release; the failed instances become "old" and leave, the healthy ones stay.
    const restored = await returnDesiredSpec(this.store, svc, rollout, target, stable, message);
    if (!restored) await this.store.services.setStatus(svc.projectId, svc.id, { targetReleaseId: stable.id, deployStatus: 'FAILED', deployMessage: `${message}; returned to release ${stable.number}` });
    const back = await this.store.rollouts.begin({ serviceKey: key, fromReleaseId: target.id, toReleaseId: stable.id, kind: 'return', strategy: rollout.strategy, deadlineAt: new Date(Date.now() + 3600_000).toISOString() });
    await this.store.rollouts.event(back.id, `returning to release ${stable.number} after release ${target.number} failed${restored?.length ? `; restored its ${restored.join(', ')}` : ''}`);
    this.opts.requeue(key);
  }

  /** Why a rollout waits, in words: "1 new instance failing readiness: HTTP 500 on /health". */
  private explain(current: ObservedInstance[], desired: number, reason: string, records: Map<string, { restarts: number; lastExitCode: number | null }>): string {
    const parts: string[] = [];
    const failing: { kind: string; error: string }[] = [];
    for (const i of current) {
      const ps = this.probes.state(i.id);
      if (!ps || ps.ready) continue;
      for (const [kind, p] of Object.entries(ps.probes)) {
        if (p && !p.passing && p.lastError) {
          failing.push({ kind: kind.replace('Probe', ''), error: p.lastError });
          break;
        }
      }
    }
    if (failing.length) parts.push(`${failing.length} new instance${failing.length > 1 ? 's' : ''} failing ${failing[0].kind}: ${failing[0].error}`);
    const crashing = [...records.values()].filter((r) => r.restarts > 0);
    if (crashing.length) parts.push(`${crashing.length} instance${crashing.length > 1 ? 's' : ''} crashing (last exit code ${crashing[0].lastExitCode ?? 'none'}, ${crashing[0].restarts} restarts)`);
    parts.push(`${current.filter((i) => this.probes.state(i.id)?.ready).length}/${desired} new ready; ${reason}`);
    return parts.join('; ');
  }
}
