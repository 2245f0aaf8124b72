/**
 * The service controller: one pass per service key closes the gap between the target release × instance
 * count in the store and the instances the runtime runs. Each pass reads fresh, takes the next safe step
 * (rolling, new before old), publishes ready endpoints to the router, records status and events, and
 * returns. Instances stopped by a pass leave the routing table before they get SIGTERM.
 */
import type { Store } from '../../store/store.ts';
import { ImagePullError, STOPPED, instancesOfService, type RuntimeDriver, type ObservedInstance, type InstanceSpec } from '../../runtime/driver.ts';
import type { ProbeScheduler } from '../../probes/scheduler.ts';
import type { PassResult } from '../queue.ts';
import type { ServiceRecord } from '../../domain/service.ts';
import type { ReleaseRecord } from '../../domain/release.ts';
import type { InstanceView, InstanceObserver } from '../../services/ports.ts';
import { instanceId, instanceIdParts } from '../../domain/release.ts';
import { parseServiceKey, serviceKey } from '../../domain/ids.ts';
import { findPlan } from '../../domain/plans.ts';
import type { RouteTableBuilder } from './route-table.ts';
import type { RolloutRecord } from '../../store/rollouts-repo.ts';
import type { ServiceVolume } from '../../volumes/service-volumes.ts';
import { VOLUME_MAX_INSTANCES } from '../../domain/volume.ts';
import { RolloutProgress } from './rollout-progress.ts';
import { ordinalOf, planType, type TypePlanContext } from './type-plan.ts';
import { instanceSpec } from './instance-spec.ts';
import { CanaryStepper, describeStep, splitFor } from './canary-steps.ts';
import type { ReleaseTraffic } from './release-traffic.ts';
import { StaleLeaseError } from '../../errors/errors.ts';

export interface ControllerLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

const CRASH_BACKOFF_BASE_MS = 1000;
const CRASH_BACKOFF_CAP_MS = 5 * 60_000;
/** A pass that waits looks again this often even when nothing announced a change (a missed event only delays). */
const WAITING_LOOK_MS = 1000;
/** How many release records the controller keeps (see release()). */
const RELEASES_KEPT = 4096;
/** How long a pass waits for a probe verdict on adopted instances before acting without one. */
const ADOPT_HOLD_MS = 15_000;

export class ServiceController implements InstanceObserver {
  /** instances being stopped in the background: not counted, not routed */
  private readonly stopping = new Set<string>();
  /**
   * Starts in flight, by instance id: a pass launches new instances and ends without waiting for them (a
   * launch can take a while: a process's supervisor to come up, an image to pull), so the next wave's
   * readiness is seen at once. Until the runtime lists one, passes count it as a starting instance of its
   * slot, so it is never started twice nor counted as capacity.
   */
  private readonly launching = new Map<string, { instance: ObservedInstance; done: Promise<void> }>();
  /** when every new instance of an overlapping rollout was first ready, by rollout id */
  private readonly overlapSince = new Map<string, number>();
  private readonly canary: CanaryStepper;
  private readonly progress: RolloutProgress;
  /** what a type's plan reads of this controller (type-plan.ts) */
  private readonly planContext: TypePlanContext;
  /** instances this controller started itself: any other live instance was adopted (a restart, a failover) */
  private readonly startedHere = new Set<string>();
  /** releases read, by service creation time and id, least recently used first (see release()) */
  private readonly releases = new Map<string, ReleaseRecord>();
  /** when this controller first saw an adopted instance without a probe verdict, by service key */
  private readonly warmingSince = new Map<string, number>();

  constructor(
    private readonly store: Store,
    private readonly driver: RuntimeDriver,
    private readonly probes: ProbeScheduler,
    private readonly routes: RouteTableBuilder,
    private readonly opts: {
      timeScale: number;
      /**
       * Kubernetes' `minReadySeconds`, the default of every rollout that sets none: how long a new instance
       * must stay ready before it counts as available, so an old instance is stopped for it (see
       * docs/deployments.md for the trade-off). 0 counts it at readiness.
       */
      minReadySeconds?: number;
      /** how long one new instance must stay ready before the last old one stops (0: no hold); 0.5 s unless set */
      lastOldHoldSeconds?: number;
      gracePeriodCapSeconds?: number;
      /** a rollout's progress deadline (`SLIPWAY_PROGRESS_DEADLINE_SECONDS`), renewed when a rollout is resumed */
      progressDeadlineSeconds?: number;
      logger: ControllerLogger;
      requeue: (key: string) => void;
      /** the service's volume, when volumes are wired: its mounts, and whether an operation holds the instance stopped */
      volumes?: { forService(projectId: string, serviceId: string): Promise<ServiceVolume | undefined> };
      /** the router's per-release metrics (canary analysis, the live view of a rollout) */
      traffic?: ReleaseTraffic;
      /**
       * Called right before every side effect outside the store (an instance start, stop or removal, a route
       * change): throws when the pass's lease is stale, so a replica that lost its lease acts no more (src/leases/fence.ts).
       */
      guard?: () => Promise<void>;
    },
  ) {
    this.canary = new CanaryStepper(store, opts.traffic, routes);
    this.progress = new RolloutProgress(store, probes, opts);
    this.planContext = { probeState: (id) => probes.state(id), stopping: this.stopping, minReadySeconds: opts.minReadySeconds, lastOldHoldSeconds: opts.lastOldHoldSeconds };
  }

  /**
   * Follows the runtime: an instance of a service that exits wakes that service's key at once, so a crash
   * is handled (and a rollout stops counting the instance) without waiting for a pass or the resync.
   * Returns the unsubscribe function.
   */
  followInstances(driver: Pick<RuntimeDriver, 'watch'>): () => void {
    return driver.watch((e) => {
      if (e.type === 'exited' && !isJobRun(e.instance)) this.opts.requeue(serviceKey(e.instance.labels.project, e.instance.labels.service));
    });
  }

  canaryView(key: string, windowSeconds = 60) {
    return this.canary.view(key, windowSeconds);
  }

  async reconcile(key: string): Promise<PassResult> {
    const { projectId, serviceId } = parseServiceKey(key);
    const found = await this.store.services.findForPass(projectId, serviceId);
    const svc = found?.service;
    const observed = (await instancesOfService(this.driver, projectId, serviceId)).filter((i) => !isJobRun(i));
    const listed = new Set(observed.map((i) => i.id));
    for (const { instance } of this.launching.values()) if (instance.labels.project === projectId && instance.labels.service === serviceId && !listed.has(instance.id)) observed.push(instance);

    if (!svc) return this.removeAll(key, observed);

    const target = svc.targetReleaseId ? await this.release(svc, svc.targetReleaseId) : undefined;
    let desired = svc.paused || svc.kind === 'build' || !target ? 0 : (svc.spec.deployment?.instances ?? 0);
    // A volume is mounted by one instance at a time, and by none while an operation (backup, restore,
    // remount) holds it.
    const volume = svc.kind === 'build' || !found?.volumeAttached ? undefined : await this.opts.volumes?.forService(projectId, serviceId);
    if (volume) desired = volume.heldFor ? 0 : Math.min(desired, VOLUME_MAX_INSTANCES);
    const stoppingHere = observed.some((i) => this.stopping.has(i.id) && typeOf(i) === 'web');

    // Exits: record and clear the slot; the rolling step restarts it after its back-off.
    const records = new Map((await this.store.instances.listForService(key)).map((r) => [r.id, r]));
    // The records are read again below only if this pass changed them (an exit or an unhealthy instance).
    let recordsChanged = false;
    for (const inst of observed.filter((i) => i.state === 'exited' && !this.stopping.has(i.id))) {
      if (inst.reason === STOPPED) await this.finishStop(key, inst, records.get(inst.id)?.restarts ?? 0);
      else await this.onExit(svc, inst, records.get(inst.id)?.restarts ?? 0);
      recordsChanged = true;
    }
    // Liveness failure or a startup probe that never passed: replace (stop; the slot restarts).
    for (const inst of observed.filter((i) => i.state !== 'exited' && !this.stopping.has(i.id))) {
      const ps = this.probes.state(inst.id);
      if (ps?.unhealthy) {
        const lastError = Object.values(ps.probes).find((p) => p && !p.passing)?.lastError ?? '';
        await this.store.events.append({ projectId, serviceId, kind: 'instance', reason: 'Unhealthy', message: `instance ${inst.id} failed its ${ps.started ? 'liveness' : 'startup'} probe: ${lastError}; replacing it` });
        // Counted as a restart, with the same back-off as a crash, so a probe loop is visible and slowed.
        const restarts = (records.get(inst.id)?.restarts ?? 0) + 1;
        recordsChanged = true;
        await this.store.instances.ensure({ id: inst.id, serviceKey: key, releaseId: inst.labels.release, ordinal: ordinalOf(inst.id) });
        await this.store.instances.recordExit(inst.id, null, restarts, new Date(Date.now() + this.backoffMs(restarts)).toISOString());
        this.stopInBackground(key, inst.id, 1, { keepRecord: true });
      }
    }

    const live = observed.filter((i) => i.state !== 'exited' && !this.stopping.has(i.id));
    this.probes.untrackMissing(key, new Set(live.map((i) => i.id)));
    // One not listed yet has no endpoints to probe: its launch tracks it once it runs.
    for (const inst of live) if (listed.has(inst.id)) this.trackProbes(key, inst, target);
    const now = Date.now();
    const isReady = (i: ObservedInstance) => this.probes.state(i.id)?.ready === true;
    // Adopted instances (started by an earlier run, or by the replica that held this service's lease before)
    // get a probe verdict before this pass changes anything: until then they would look unready, and the
    // routes would lose them. Bounded: an instance that never answers stops holding the service.
    const unknown = live.filter((i) => !this.startedHere.has(i.id) && !this.launching.has(i.id) && !hasVerdict(this.probes.state(i.id)));
    if (unknown.length > 0) {
      const since = this.warmingSince.get(key) ?? now;
      this.warmingSince.set(key, since);
      if (now - since < ADOPT_HOLD_MS) return { againInMs: 100 };
    }
    this.warmingSince.delete(key);
    const refreshed = recordsChanged ? new Map((await this.store.instances.listForService(key)).map((r) => [r.id, r])) : records;

    // The open rollout decides how to move: its max-in-flight, or the share of a canary step. Every process
    // type moves to the new release with the same strategy, each by its own count.
    const rollout = target && found?.rolling ? (await this.store.rollouts.active(key)).find((r) => r.toReleaseId === target.id) : undefined;
    const canary = rollout?.options.canarySteps;
    const canaryStep = rollout && canary && rollout.stepIndex < canary.length ? canary[rollout.stepIndex] : undefined;
    const desiredByType = this.desiredByType(svc, target, desired);
    // Instances of a type no longer wanted (a removed formation) go like old ones.
    for (const t of new Set(live.map(typeOf))) if (!desiredByType.has(t)) desiredByType.set(t, 0);

    const plans = [...desiredByType].map(([type, want]) => planType(this.planContext, { key, projectId, serviceId, type, want, target, live: live.filter((i) => typeOf(i) === type), now, refreshed, rollout, canaryStep, strategyName: svc.spec.deployment?.strategy?.type, volume: type === 'web' ? volume : undefined, stoppingHere }));
    let overlapWaitMs = Infinity;
    // No overlap with a volume: its one instance is replaced old-first.
    if (rollout?.options.overlapSeconds && !volume) {
      // A redeploy's overlap: old instances stay until every new one is ready, and then for the overlap.
      const allNewReady = plans.every((x) => x.current.length === x.want && x.current.every(x.isAvailable));
      const since = allNewReady ? (this.overlapSince.get(rollout.id) ?? now) : undefined;
      if (since !== undefined) this.overlapSince.set(rollout.id, since);
      const left = since === undefined ? Infinity : rollout.options.overlapSeconds * 1000 - (now - since);
      if (left > 0) {
        for (const x of plans) {
          const held = new Set(x.old.map((i) => i.id));
          x.step = { ...x.step, stop: x.step.stop.filter((id) => !held.has(id)), reason: `new instances ready; old ones kept for the ${rollout.options.overlapSeconds} s overlap` };
          x.converged = false;
          x.doneAfterStops = false;
        }
        if (since !== undefined) overlapWaitMs = left;
      } else this.overlapSince.delete(rollout.id);
    }
    const web = plans.find((x) => x.type === 'web');

    // Routing first: whatever this pass stops is out of the table before it is signalled.
    const stopping = new Set(plans.flatMap((x) => x.step.stop));
    const routable = (web ? [...web.current, ...web.old] : []).filter((i) => isReady(i) && !stopping.has(i.id));
    // New instances are launched in the background, all of a wave's at once, before the table is built and
    // while the data plane applies it (they take no traffic until ready; each launch checks the lease itself).
    // A volume's instance starts only once the old one is gone (volumeStep), so it never overlaps it.
    if (target) for (const x of plans) for (const ord of x.step.start) this.startInBackground(svc, target, x.type, ord, x.type === 'web' ? volume?.mounts : undefined);
    // The lease is checked (a fenced transaction) only before a change: an idle pass sets the same routes.
    const routeChange = this.routes.planService(key, svc, routable, (desiredByType.get('web') ?? 0) === 0, splitFor(canaryStep, web?.current.map((i) => i.id) ?? []));
    if (routeChange.changed) await this.opts.guard?.();
    routeChange.apply();
    // The pass waits for the data plane (with several replicas, every replica's router) to serve the table
    // before it goes on. Going on at once, with each stop waiting for the table on its own, let routers
    // answer 404 for the service around a lease failover (why is not understood yet): it stays.
    await this.routes.applied();
    const grace = svc.spec.deployment?.gracePeriodSeconds ?? target?.spec.gracePeriodSeconds ?? 30;
    for (const x of plans) for (const id of x.step.stop) this.stopInBackground(key, id, grace);

    const sum = (f: (x: (typeof plans)[number]) => number) => plans.reduce((n, x) => n + f(x), 0);
    const desiredTotal = sum((x) => x.want);
    const current = plans.flatMap((x) => x.current);
    const started = sum((x) => x.step.start.length);
    const stopped = sum((x) => x.step.stop.length);
    const old = plans.flatMap((x) => x.old);
    // A rollout held by a volume operation is not done: its instance has yet to start. One whose last old
    // instances this pass stops is done now: they are out of the table (above) and leave in the background.
    // Not at a canary step: one that reaches every instance still pauses there once its old instances are gone.
    const doneAfterStops = target !== undefined && stopped > 0 && !canaryStep && plans.every((x) => x.doneAfterStops) && !volume?.heldFor;
    const converged = (target !== undefined && plans.every((x) => x.converged) && !volume?.heldFor) || doneAfterStops;
    const canaryReached = !!canaryStep && plans.every((x) => x.canaryReached);
    await this.recordStatus(svc, target, desiredTotal, sum((x) => x.current.filter(x.isAvailable).length), current.length, doneAfterStops ? 0 : old.length, started, doneAfterStops ? 0 : stopped);
    if (rollout && target && canaryStep && !rollout.paused) {
      // Fewer old instances than the step's share can remain (one crashed, or left unready): the step is as
      // reached as it can be, and holding it is still right.
      if (canaryReached) {
        const shares = plans.filter((x) => x.want > 0).map((x) => `${plans.length > 1 ? `${x.type}: ` : ''}${x.currentTarget} new, ${x.old.length} old`);
        const split = this.routes.splitOf(key);
        const traffic = split && canaryStep.trafficPercent !== undefined ? `; router split ${split.effectivePercent}% to the new release` : '';
        const next = await this.canary.reached(key, rollout, target, (message) => this.progress.fail(svc, rollout, target, message));
        if (!next && !rollout.options.canaryAnalysis) {
          const what = canaryStep.trafficPercent !== undefined ? describeStep(rollout) : `canary step ${rollout.stepIndex + 1}/${canary!.length} (${canaryStep.instanceWeight}%)`;
          await this.store.rollouts.event(rollout.id, `paused at ${what}: ${shares.join('; ')}${traffic}; continue or cancel`);
        }
        return next;
      }
    }
    const reason = plans.map((x) => (plans.length > 1 ? `${x.type}: ${x.step.reason}` : x.step.reason)).join('; ');
    if (rollout && target && !rollout.paused) await this.progress.pass(svc, rollout, target, converged, reason, current, desiredTotal, refreshed);

    const step = { start: plans.flatMap((x) => x.step.start), stop: [...stopping] };
    const nextUnblockMs = Math.min(overlapWaitMs, ...plans.map((x) => x.nextUnblockMs));
    const soonestAvailableMs = Math.min(...plans.map((x) => x.soonestAvailableMs));
    // After stops the next pass looks afresh at once (the stops may have unblocked the next step), unless
    // this one found the rollout done (each stop's end enqueues the key). After starts, what the pass waits
    // for wakes it by itself: readiness (the probes), an exit (followInstances), a launch that failed, a
    // stop ending. Timers only for what no event announces: a crash back-off running out, a minimum-ready
    // hold, the rollout's deadline; and a look each second as a safety net.
    if (doneAfterStops) return undefined;
    if (step.stop.length) return { againInMs: 0 };
    if (!plans.every((x) => x.converged)) {
      const deadlineMs = rollout && !rollout.paused ? Date.parse(rollout.deadlineAt) - Date.now() + 5 : Infinity;
      const wake = Math.min(nextUnblockMs, soonestAvailableMs + 2, deadlineMs);
      return { againInMs: Number.isFinite(wake) ? Math.max(5, Math.min(wake, WAITING_LOOK_MS)) : WAITING_LOOK_MS };
    }
    return undefined;
  }

  /**
   * One of the service's releases. A release never changes once made, so each is read (and its secrets opened)
   * once and kept, the most recently used RELEASES_KEPT of them: an idle pass reads its service's target each
   * time. Kept under the service's creation time too: a service deleted and made again numbers its releases
   * (and so names them) from 1 again.
   */
  private async release(svc: ServiceRecord, id: string): Promise<ReleaseRecord | undefined> {
    const key = `${svc.createdAt} ${id}`;
    const kept = this.releases.get(key);
    if (kept) {
      this.releases.delete(key);
      this.releases.set(key, kept);
      return kept;
    }
    const found = await this.store.releases.find(id);
    if (found) {
      this.releases.set(key, found);
      if (this.releases.size > RELEASES_KEPT) this.releases.delete(this.releases.keys().next().value!);
    }
    return found;
  }

  /** How many instances of each process type the service wants: `web` from the instance count, others from their formation. */
  private desiredByType(svc: ServiceRecord, target: ReleaseRecord | undefined, web: number): Map<string, number> {
    const out = new Map<string, number>([['web', web]]);
    const off = svc.paused || svc.kind === 'build' || !target;
    for (const [type, f] of Object.entries(svc.spec.processTypes ?? {})) {
      if (type === 'web') continue;
      out.set(type, off || !target.spec.processes[type] ? 0 : f.quantity);
    }
    return out;
  }

  private async removeAll(key: string, observed: ObservedInstance[]): Promise<PassResult> {
    await this.opts.guard?.();
    this.routes.removeService(key);
    for (const inst of observed) {
      if (inst.state === 'exited') {
        this.probes.untrack(inst.id);
        await this.opts.guard?.();
        await this.driver.remove(inst.id);
      } else this.stopInBackground(key, inst.id, 5);
    }
    await this.store.instances.deleteForService(key);
    await this.store.releases.deleteForService(key);
    await this.store.rollouts.deleteForService(key);
    return observed.length > 0 ? { againInMs: 500 } : undefined;
  }

  private trackProbes(key: string, inst: ObservedInstance, target: ReleaseRecord | undefined): void {
    const tracked = this.probes.targetOf(inst.id);
    if (tracked && JSON.stringify(tracked.endpoints.map((e) => e.port)) === JSON.stringify(inst.endpoints.map((e) => e.port))) return;
    if (tracked) this.probes.untrack(inst.id);
    // Health checks name the web ports; other process types are ready once they stay up (no port to probe).
    const checks = target && inst.labels.release === target.id && typeOf(inst) === 'web' ? target.spec.healthChecks : [];
    this.probes.track({
      instanceId: inst.id,
      ownerKey: key,
      endpoints: inst.endpoints.map((e) => ({ internalPort: e.internalPort, host: e.host, port: e.port })),
      checks,
    });
  }

  private async onExit(svc: ServiceRecord, inst: ObservedInstance, restarts: number): Promise<void> {
    const key = serviceKey(svc.projectId, svc.id);
    const n = restarts + 1;
    const backoff = this.backoffMs(n);
    await this.store.instances.ensure({ id: inst.id, serviceKey: key, releaseId: inst.labels.release, ordinal: ordinalOf(inst.id) });
    await this.store.instances.recordExit(inst.id, inst.exitCode ?? null, n, new Date(Date.now() + backoff).toISOString());
    // `Evicted: <why>` comes from a driver that ended the instance for going over a limit the engine cannot hold.
    const evicted = inst.reason?.startsWith('Evicted') ? inst.reason.slice('Evicted'.length).replace(/^:\s*/, '') : undefined;
    await this.store.events.append({
      projectId: svc.projectId,
      serviceId: svc.id,
      kind: 'instance',
      reason: inst.reason === 'OOMKilled' ? 'OOMKilled' : evicted !== undefined ? 'Evicted' : 'Crashed',
      message: `instance ${inst.id} ${inst.reason === 'OOMKilled' ? 'went over its memory limit and was killed' : evicted !== undefined ? `was evicted${evicted ? `: ${evicted}` : ''}` : 'exited'} (${inst.signal ? `signal ${inst.signal}` : `code ${inst.exitCode}`}); restart ${n} in ${Math.round(backoff)} ms`,
    });
    this.opts.logger.warn({ service: key, instance: inst.id, exitCode: inst.exitCode, restarts: n }, 'instance exited');
    this.probes.untrack(inst.id);
    await this.opts.guard?.();
    await this.driver.remove(inst.id);
  }

  /**
   * An instance whose stop another control plane began and did not see through (it died, or lost the lease
   * mid-stop): it ended as asked, so it is no crash. Its record goes as a stop's would, unless it holds a
   * back-off (an unhealthy instance being replaced), which the slot still serves.
   */
  private async finishStop(key: string, inst: ObservedInstance, restarts: number): Promise<void> {
    this.opts.logger.info({ service: key, instance: inst.id, exitCode: inst.exitCode }, 'instance stopped by an earlier control plane: removed');
    this.probes.untrack(inst.id);
    await this.opts.guard?.();
    await this.driver.remove(inst.id);
    if (restarts === 0) await this.store.instances.delete(inst.id);
  }

  /** Launch an instance without holding the pass; its end (started, or failed and recorded) requeues the service. */
  private startInBackground(svc: ServiceRecord, release: ReleaseRecord, type: string, ordinal: number, volumes?: InstanceSpec['volumes']): void {
    const key = serviceKey(svc.projectId, svc.id);
    const id = instanceId(svc.projectId, svc.id, release, type, ordinal);
    if (this.launching.has(id)) return;
    const instance: ObservedInstance = { id, labels: { project: svc.projectId, service: svc.id, release: release.id, processType: type }, state: 'starting', endpoints: [] };
    // A launch that leaves a running instance wakes nobody: its readiness (the probe) or its exit (the
    // watch) does. One that failed, or ended at once, wakes the service.
    let running = false;
    const done = this.startInstance(svc, release, type, ordinal, volumes)
      .then((state) => void (running = state === 'running'))
      .catch((err) => {
        if (err instanceof StaleLeaseError) this.opts.logger.warn({ instance: id, err: err.message }, 'instance not started: this replica lost the lease');
        else this.opts.logger.error({ err, instance: id }, 'starting instance failed');
      })
      .finally(() => {
        this.launching.delete(id);
        if (!running) this.opts.requeue(key);
      });
    this.launching.set(id, { instance, done });
  }

  /** Resolves with the state of the instance started (undefined when it could not start). */
  private async startInstance(svc: ServiceRecord, release: ReleaseRecord, type: string, ordinal: number, volumes?: InstanceSpec['volumes']): Promise<ObservedInstance['state'] | undefined> {
    const key = serviceKey(svc.projectId, svc.id);
    const id = instanceId(svc.projectId, svc.id, release, type, ordinal);
    const command = release.spec.processes[type];
    if (!command) {
      await this.store.services.setStatus(svc.projectId, svc.id, { deployStatus: 'FAILED', deployMessage: `the release has no ${type} command: add a Procfile ${type}: line${type === 'web' ? ' or a start script' : ''}` });
      return;
    }
    const plan = findPlan((type !== 'web' && release.spec.typePlans?.[type]) || release.spec.plan);
    const spec = instanceSpec({ id, svc, release, type, command, plan, volumes });
    // The instance's record and the rollout it belongs to are looked up while the runtime starts it (the
    // launch does not wait for the store). An image pull reports its progress to that rollout (a handful of
    // lines), and a start that fails says why there.
    let rollout: RolloutRecord | undefined;
    const bookkeeping = Promise.all([
      this.store.instances.ensure({ id, serviceKey: key, releaseId: release.id, ordinal }),
      this.store.rollouts.active(key).then((active) => void (rollout = active.find((r) => r.toReleaseId === release.id))),
    ]).then(() => undefined);
    // Awaited on every path below; this keeps a failure from counting as unhandled before then.
    bookkeeping.catch(() => {});
    let progress = Promise.resolve();
    const onProgress = (message: string) =>
      void (progress = progress
        .then(() => bookkeeping)
        .then(() => (rollout ? this.store.rollouts.event(rollout.id, message) : undefined))
        .catch(() => {}));
    try {
      if (release.spec.image && release.spec.imageCredentials) {
        const credentialId = release.spec.imageCredentials;
        const image = release.spec.image;
        spec.registryAuth = await this.store.registryCredentials.authFor(credentialId, svc.projectId, image).catch((err: Error) => {
          throw new ImagePullError(image, `registry credentials '${credentialId}': ${err.message}`, true);
        });
      }
      await this.opts.guard?.();
      this.startedHere.add(id);
      const inst = await this.driver.start(spec, { onProgress });
      // Running: a store failure now does not make it a failed start (the next pass sees the instance).
      await bookkeeping.catch((err: Error) => {
        if (err instanceof StaleLeaseError) throw err;
        this.opts.logger.warn({ instance: id, err: err.message }, 'instance started; its record was not written');
      });
      await progress;
      if (rollout) this.progress.started(rollout.id);
      // Probe at once rather than on the next pass: readiness is what the rollout waits for.
      this.trackProbes(key, inst, release);
      return inst.state;
    } catch (err) {
      if (err instanceof StaleLeaseError) throw err;
      await bookkeeping.catch(() => {});
      const message = err instanceof Error ? err.message : String(err);
      await this.store.events.append({ projectId: svc.projectId, serviceId: svc.id, kind: 'instance', reason: 'StartFailed', message: `instance ${id} could not start: ${message}` });
      const rec = (await this.store.instances.listForService(key)).find((r) => r.id === id);
      const n = (rec?.restarts ?? 0) + 1;
      const retryMs = CRASH_BACKOFF_BASE_MS * 2 ** Math.min(n, 10) * this.opts.timeScale;
      await this.store.instances.recordExit(id, null, n, new Date(Date.now() + retryMs).toISOString());
      await progress;
      if (!rollout) return;
      if (err instanceof ImagePullError && err.terminal) {
        // A refused pull fails the same way every time: fail the rollout now rather than at its deadline.
        await this.progress.failedToStart(svc, rollout, release, message);
        return;
      }
      // One that may heal (a registry still starting) is retried with back-off, each failure in the
      // rollout's events and the service's status until an attempt succeeds or the deadline passes.
      this.progress.startFailed(rollout.id, message);
      const retry = `instance ${id} could not start (attempt ${n}): ${message}; retrying in ${retryMs < 1000 ? `${Math.round(retryMs)} ms` : `${Math.round(retryMs / 1000)} s`}`;
      await this.store.rollouts.event(rollout.id, retry);
      await this.store.services.setStatusIfUnchanged(svc, { deployMessage: `release ${release.number}: ${retry}` });
    }
  }

  /** Exponential crash back-off: 1 s, 2 s, 4 s … capped at 5 min (times the probe time scale). */
  private backoffMs(restarts: number): number {
    return Math.min(CRASH_BACKOFF_CAP_MS, CRASH_BACKOFF_BASE_MS * 2 ** Math.min(restarts - 1, 10)) * this.opts.timeScale;
  }

  private stopInBackground(key: string, id: string, gracePeriodSeconds: number, opts: { keepRecord?: boolean } = {}): void {
    if (this.stopping.has(id)) return;
    this.stopping.add(id);
    this.probes.untrack(id);
    const grace = this.opts.gracePeriodCapSeconds !== undefined ? Math.min(gracePeriodSeconds, this.opts.gracePeriodCapSeconds) : gracePeriodSeconds;
    void (async () => {
      try {
        // One still being launched is stopped once its launch is over (there is nothing to signal before).
        await this.launching.get(id)?.done;
        await this.routes.drained(id);
        await this.opts.guard?.();
        await this.driver.stop(id, grace);
        this.startedHere.delete(id);
        if (!opts.keepRecord) await this.store.instances.delete(id);
      } catch (err) {
        if (err instanceof StaleLeaseError) this.opts.logger.warn({ instance: id, err: err.message }, 'instance not stopped: this replica lost the lease');
        else this.opts.logger.error({ err, instance: id }, 'stopping instance failed');
      } finally {
        this.stopping.delete(id);
        this.opts.requeue(key);
      }
    })();
  }

  private async recordStatus(svc: ServiceRecord, target: ReleaseRecord | undefined, desired: number, ready: number, current: number, old: number, starting: number, stopping: number): Promise<void> {
    const converged = target !== undefined && ready === desired && current === desired && old === 0 && starting === 0 && stopping === 0;
    // Each write is conditional on the snapshot this pass read: a rollout begun since then keeps its status.
    if (converged && (svc.deployStatus === 'IN_PROGRESS' || svc.deployStatus === 'PENDING')) {
      if (await this.store.services.setStatusIfUnchanged(svc, { deployStatus: 'COMPLETED', stableReleaseId: target.id, deployMessage: null })) {
        await this.store.events.append({ projectId: svc.projectId, serviceId: svc.id, kind: 'rollout', reason: 'Completed', message: `release ${target.number}: ${ready}/${desired} instances ready` });
      }
    } else if (!target && desired === 0 && svc.kind !== 'build' && svc.deployStatus === 'IN_PROGRESS') {
      await this.store.services.setStatusIfUnchanged(svc, { deployStatus: 'PENDING' });
    } else if (svc.paused && old === 0 && current === 0 && svc.deployStatus === 'IN_PROGRESS') {
      await this.store.services.setStatusIfUnchanged(svc, { deployStatus: 'COMPLETED' });
    }
  }

  /** Every service key the runtime still has instances of: the resync reconciles orphans of deleted services. */
  async runtimeKeys(): Promise<string[]> {
    const keys = new Set<string>();
    for (const i of await this.driver.list()) if (!isJobRun(i)) keys.add(serviceKey(i.labels.project, i.labels.service));
    return [...keys];
  }

  async logsOf(key: string, opts: { tail: number }): Promise<{ instance: string; ts: string; stream: string; line: string }[]> {
    const { projectId, serviceId } = parseServiceKey(key);
    const observed = (await instancesOfService(this.driver, projectId, serviceId)).filter((i) => !isJobRun(i));
    const lines: { instance: string; ts: string; stream: string; line: string }[] = [];
    for (const inst of observed) {
      for await (const l of this.driver.logs(inst.id, { tail: opts.tail })) lines.push({ instance: inst.id, ts: l.ts, stream: l.stream, line: l.line });
    }
    return lines.sort((a, b) => (a.ts < b.ts ? -1 : a.ts > b.ts ? 1 : 0)).slice(-opts.tail);
  }

  async instancesOf(key: string): Promise<InstanceView[]> {
    const { projectId, serviceId } = parseServiceKey(key);
    const observed = (await instancesOfService(this.driver, projectId, serviceId)).filter((i) => !isJobRun(i));
    const records = new Map((await this.store.instances.listForService(key)).map((r) => [r.id, r]));
    // An instance id names its release's number (domain/release.ts instanceId); only an id that does not is
    // looked up (was: the service's last 100 releases, secrets opened, on every listing).
    const releases = new Map<string, number>();
    for (const i of observed) {
      const n = instanceIdParts(i.id)?.release;
      if (n !== undefined) releases.set(i.labels.release, n);
    }
    for (const id of new Set(observed.map((i) => i.labels.release))) {
      if (releases.has(id)) continue;
      const r = await this.store.releases.find(id);
      if (r) releases.set(id, r.number);
    }
    return observed.map((i) => {
      const ps = this.probes.state(i.id);
      const rec = records.get(i.id);
      const ready = ps?.ready === true && !this.stopping.has(i.id);
      return {
        id: i.id,
        release: releases.get(i.labels.release) ?? null,
        releaseId: i.labels.release,
        processType: i.labels.processType,
        state: this.stopping.has(i.id) ? 'stopping' : i.state === 'exited' ? 'crashed' : ready ? 'ready' : i.state,
        ready,
        restarts: rec?.restarts ?? 0,
        lastExitCode: rec?.lastExitCode ?? null,
        startedAt: i.startedAt,
        readyAt: ready && ps?.readySince ? new Date(ps.readySince).toISOString() : undefined,
        endpoint: i.endpoints[0] ? `${i.endpoints[0].host}:${i.endpoints[0].port}` : undefined,
        probes: ps?.probes,
      };
    });
  }
}

/**
 * Job runs and addon servers are instances too, labelled with process type `job` or `addon`: the job and
 * addon controllers', never a service's (a service pass would stop them as orphans).
 */
function isJobRun(i: ObservedInstance): boolean {
  return i.labels.processType === 'job' || i.labels.processType === 'addon';
}

/** A probe has said something about the instance: ready, or at least one failure. */
function hasVerdict(ps: ReturnType<ProbeScheduler['state']>): boolean {
  return !!ps && (ps.ready || ps.unhealthy === true || Object.values(ps.probes).some((p) => p && p.consecutiveFailures > 0));
}

function typeOf(i: ObservedInstance): string {
  return i.labels.processType || 'web';
}
