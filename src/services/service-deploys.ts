/**
 * Deploys and rollouts of a service, shared by every API face: restart, redeploy, roll back, deploy a build
 * or an earlier release with a strategy, continuous deployment on or off, and rollouts watched, continued,
 * canceled or planned; with the release history. The service's desired state is the catalog's
 * (service-catalog.ts): a deploy that changes it writes through the catalog's checks and version-checked write.
 */
import type { Store } from '../store/store.ts';
import type { AuthService, Principal } from './auth.ts';
import type { InstanceObserver, Signals } from './ports.ts';
import type { ReleasesService } from './releases.ts';
import { mergeServiceSpec, type ServiceCatalog, type ServiceDetails } from './service-catalog.ts';
import { serviceKey } from '../domain/ids.ts';
import type { ServiceRecord } from '../domain/service.ts';
import { ConflictError, NotFoundError, ValidationError } from '../errors/errors.ts';
import type { ReleaseRecord } from '../domain/release.ts';
import { releaseIdsOf, type RolloutRecord } from '../store/rollouts-repo.ts';
import { planRollout } from '../domain/rolling.ts';
import { findPlan } from '../domain/plans.ts';
import { describeChanges } from '../domain/release-snapshot.ts';
import { canaryOptions, canaryView, type CanaryAnalysisInput, type CanaryStepInput } from './canary-rollouts.ts';

/** What deploys ask of the catalog: a service's answer, the checks of a spec, and the write of a new one. */
export type DesiredState = Pick<ServiceCatalog, 'details' | 'check' | 'checkReferences' | 'replace'>;

export class ServiceDeploys {
  constructor(
    private readonly store: Store,
    private readonly auth: AuthService,
    private readonly releases: ReleasesService,
    private readonly signals: Signals,
    private readonly observer: InstanceObserver,
    private readonly catalog: DesiredState,
  ) {}

  /** Replace every instance with a fresh one of the same spec, rolled like any release. */
  async restart(caller: Principal, projectId: string, serviceId: string): Promise<ServiceDetails> {
    this.auth.authorize(caller, projectId, 'write');
    const cur = await this.store.services.get(projectId, serviceId);
    if (cur.kind === 'build') throw ValidationError.one('serviceId', 'applicable', 'build services run no instances');
    const rel = await this.releases.restart(cur);
    if (!rel) throw new ConflictError(`service '${serviceId}' has nothing deployed yet`);
    return this.catalog.details(await this.store.services.get(projectId, serviceId));
  }

  /**
   * Redeploy (Aptible): every instance replaced with one of the current spec, all new ones started at once,
   * and the old ones kept running `overlapSeconds` after the last new one is ready.
   */
  async redeploy(caller: Principal, projectId: string, serviceId: string, overlapSeconds = 0): Promise<ServiceDetails> {
    this.auth.authorize(caller, projectId, 'write');
    const cur = await this.store.services.get(projectId, serviceId);
    if (cur.kind === 'build') throw ValidationError.one('serviceId', 'applicable', 'build services run no instances');
    const all = Math.max(1, cur.spec.deployment?.instances ?? 1, ...Object.values(cur.spec.processTypes ?? {}).map((t) => t.quantity));
    const rel = await this.releases.restart(cur, { strategy: 'rolling', options: { maxInFlight: all, ...(overlapSeconds ? { overlapSeconds } : {}) } });
    if (!rel) throw new ConflictError(`service '${serviceId}' has nothing deployed yet`);
    return this.catalog.details(await this.store.services.get(projectId, serviceId));
  }

  /**
   * Roll back to an earlier release (default: the last good one before the current target): the spec that
   * release was made from becomes the desired spec again, its build pinned (see ReleasesService.restoreTo).
   */
  async rollback(caller: Principal, projectId: string, serviceId: string, releaseNumber?: number): Promise<ServiceDetails & { restored: string[] }> {
    this.auth.authorize(caller, projectId, 'write');
    const svc = await this.store.services.get(projectId, serviceId);
    const key = serviceKey(projectId, serviceId);
    const current = svc.targetReleaseId ? await this.store.releases.find(svc.targetReleaseId) : undefined;
    let to: ReleaseRecord | undefined;
    if (releaseNumber !== undefined) {
      to = await this.store.releases.byNumber(key, releaseNumber);
      if (!to) throw ValidationError.one('release', 'exists', `service '${serviceId}' has no release ${releaseNumber}`);
    } else {
      // The newest release that completed a rollout, other than the one targeted now: the last good one.
      const good = (await this.store.rollouts.list(key, 1000)).find((r) => r.status === 'COMPLETED' && r.toReleaseId !== svc.targetReleaseId);
      to = good ? await this.store.releases.find(good.toReleaseId) : undefined;
      if (!to) throw new ConflictError(`service '${serviceId}' has no earlier good release to roll back to`);
    }
    if (to.id === svc.targetReleaseId) throw new ConflictError(`service '${serviceId}' already runs release ${to.number}`);
    const { restored } = await this.releases.restoreTo(svc, to, 'rollback', {});
    await this.store.events.append({ projectId, serviceId, kind: 'release', reason: 'RolledBack', message: `rollback to release ${to.number}${current ? ` from release ${current.number}` : ''}${restored.length ? `; restored ${restored.join(', ')}` : ''}` });
    return { ...(await this.catalog.details(await this.store.services.get(projectId, serviceId))), restored };
  }

  /** A service's newest 50 rollouts, newest first, each with its events. */
  async rollouts(caller: Principal, projectId: string, serviceId: string) {
    this.auth.authorize(caller, projectId, 'read');
    await this.store.services.get(projectId, serviceId);
    return this.views(await this.store.rollouts.list(serviceKey(projectId, serviceId)));
  }

  /**
   * Rollouts as the API shows them: release numbers for release ids and each rollout's events, read in one
   * query each (not a query per rollout, nor every release of the service with its sealed parts opened).
   */
  private async views(list: RolloutRecord[]) {
    const heads = await this.store.releases.heads(releaseIdsOf(list));
    const events = await this.store.rollouts.eventsOf(list.map((r) => r.id));
    return list.map((r) => ({
      id: r.id,
      number: r.number,
      kind: r.kind,
      strategy: r.strategy,
      status: r.status,
      message: r.message,
      fromRelease: r.fromReleaseId ? (heads.get(r.fromReleaseId)?.number ?? null) : null,
      toRelease: heads.get(r.toReleaseId)?.number ?? null,
      deadlineAt: r.deadlineAt,
      ...(r.options.maxInFlight ? { maxInFlight: r.options.maxInFlight } : {}),
      ...(r.options.minReadySeconds !== undefined ? { minReadySeconds: r.options.minReadySeconds } : {}),
      ...canaryView(r),
      createdAt: r.createdAt,
      finishedAt: r.finishedAt,
      events: events.get(r.id) ?? [],
    }));
  }

  /** One rollout as the API shows it, read afresh. */
  private async view(id: string) {
    return (await this.views([await this.store.rollouts.get(id)]))[0]!;
  }

  /**
   * Start a rollout to a release (default: the newest) with an explicit strategy: rolling with
   * `maxInFlight`, recreate, or canary steps that pause for continue/cancel. Supersedes a running one.
   */
  async startRollout(caller: Principal, projectId: string, serviceId: string, input: { release?: number; strategy: 'rolling' | 'recreate' | 'canary'; maxInFlight?: number; minReadySeconds?: number; canarySteps?: CanaryStepInput[]; canaryAnalysis?: CanaryAnalysisInput }) {
    this.auth.authorize(caller, projectId, 'write');
    const svc = await this.store.services.get(projectId, serviceId);
    const key = serviceKey(projectId, serviceId);
    const to = input.release !== undefined ? await this.store.releases.byNumber(key, input.release) : (await this.store.releases.list(key, 1))[0];
    if (!to) throw ValidationError.one('release', 'exists', input.release !== undefined ? `service '${serviceId}' has no release ${input.release}` : `service '${serviceId}' has no release yet`);
    if (input.strategy === 'canary' && !input.canarySteps?.length) throw ValidationError.one('canary.steps', 'required', 'a canary rollout needs at least one step');
    if (input.strategy !== 'canary' && (input.canarySteps || input.canaryAnalysis)) throw ValidationError.one('canary', 'strategy', "canary steps and analysis are only valid with strategy 'canary'");
    const canary = input.strategy === 'canary' ? canaryOptions(svc.spec, input.canarySteps ?? [], input.canaryAnalysis) : {};
    const strategy = input.strategy === 'rolling' ? 'rolling' : input.strategy;
    const { rollout } = await this.releases.restoreTo(svc, to, 'deploy', {
      how: { strategy, options: { ...(input.maxInFlight ? { maxInFlight: input.maxInFlight } : {}), ...(input.minReadySeconds !== undefined ? { minReadySeconds: input.minReadySeconds } : {}), ...canary } },
    });
    return this.view(rollout.id);
  }

  /**
   * Deploy with an explicit strategy (the CF face's deployments): a pinned build of the service itself, an
   * earlier release, or (neither given) the current spec and build again. A paused service is resumed.
   */
  async deploy(caller: Principal, projectId: string, serviceId: string, input: { buildId?: string; release?: number; strategy: 'rolling' | 'canary'; maxInFlight?: number; canarySteps?: { instanceWeight: number }[] }): Promise<RolloutRecord> {
    this.auth.authorize(caller, projectId, 'write');
    let svc = await this.store.services.get(projectId, serviceId);
    if (svc.kind === 'build') throw ValidationError.one('serviceId', 'applicable', 'build services run no instances');
    const how = {
      strategy: input.strategy,
      options: { ...(input.maxInFlight ? { maxInFlight: input.maxInFlight } : {}), ...(input.strategy === 'canary' ? { canarySteps: input.canarySteps?.length ? input.canarySteps : [{ instanceWeight: 1 }] } : {}) },
    };
    let rollout: RolloutRecord | undefined;
    if (input.release !== undefined) {
      const to = await this.store.releases.byNumber(serviceKey(projectId, serviceId), input.release);
      if (!to) throw ValidationError.one('revision', 'exists', `service '${serviceId}' has no release ${input.release}`);
      ({ rollout } = await this.releases.restoreTo(svc, to, 'rollback', { how }));
      svc = await this.store.services.get(projectId, serviceId);
    } else {
      if (input.buildId && svc.spec.deployment?.internal?.buildId !== input.buildId) {
        const spec = mergeServiceSpec(svc.spec, { deployment: { ...(svc.spec.deployment ?? { instances: 1 }), internal: { id: svc.id, buildId: input.buildId } } });
        this.catalog.check(svc.kind, spec);
        await this.catalog.checkReferences(projectId, spec);
        svc = await this.store.services.update(projectId, serviceId, svc.version, spec);
      }
      rollout = await this.releases.deploy(svc, how);
      if (!rollout) throw new ConflictError(`service '${serviceId}' has no successful build to deploy`);
    }
    if (svc.paused) await this.store.services.setStatus(projectId, serviceId, { paused: false });
    this.signals.serviceChanged(serviceKey(projectId, serviceId));
    return rollout;
  }

  /**
   * Continuous deployment: on, the service runs the newest successful build of what it follows (its own
   * builds, or its build service's branch); off, one build is pinned (`deployment.internal.buildId`).
   */
  async continuousDeployment(caller: Principal, projectId: string, serviceId: string): Promise<{ enabled: boolean; buildId: string | null }> {
    this.auth.authorize(caller, projectId, 'read');
    return cdOf(await this.store.services.get(projectId, serviceId));
  }

  async setContinuousDeployment(caller: Principal, projectId: string, serviceId: string, enabled: boolean) {
    this.auth.authorize(caller, projectId, 'write');
    const cur = await this.store.services.get(projectId, serviceId);
    if (cur.kind === 'build') throw ValidationError.one('serviceId', 'applicable', 'a build service deploys nothing: set CD on the services that follow it');
    const d = { ...(cur.spec.deployment ?? { instances: 1 }) };
    if (enabled) {
      if (cur.kind === 'combined') delete d.internal;
      else if (d.internal) d.internal = { id: d.internal.id, ...(d.internal.branch ? { branch: d.internal.branch } : {}) };
    } else {
      const running = cur.targetReleaseId ? (await this.store.releases.find(cur.targetReleaseId))?.buildId : undefined;
      if (cur.kind === 'combined') d.internal = { id: cur.id, ...(running ? { buildId: running } : {}) };
      else if (d.internal && running) d.internal = { ...d.internal, buildId: running };
    }
    await this.catalog.replace(cur, { ...cur.spec, deployment: d });
    return cdOf(await this.store.services.get(projectId, serviceId));
  }

  /** Deploy one successful build by hand: it is pinned, and continuous deployment is off until switched on. */
  async deployBuild(caller: Principal, projectId: string, serviceId: string, buildId: string) {
    this.auth.authorize(caller, projectId, 'write');
    const cur = await this.store.services.get(projectId, serviceId);
    if (cur.kind === 'build') throw ValidationError.one('serviceId', 'applicable', 'build services run no instances');
    const source = cur.kind === 'combined' ? cur.id : cur.spec.deployment?.internal?.id;
    const b = await this.store.builds.find(buildId);
    if (!b || b.projectId !== projectId || b.serviceId !== source || b.status !== 'SUCCESS') {
      throw ValidationError.one('buildId', 'exists', `no successful build '${buildId}' of ${source ? `service '${source}'` : 'a linked build service'}`);
    }
    const d = { ...(cur.spec.deployment ?? { instances: 1 }), internal: { ...(cur.kind === 'deployment' ? cur.spec.deployment?.internal : {}), id: source!, buildId } };
    await this.catalog.replace(cur, { ...cur.spec, deployment: d });
    await this.store.events.append({ projectId, serviceId, kind: 'release', reason: 'ManualDeploy', message: `build ${buildId} deployed by hand; continuous deployment is off` });
    return cdOf(await this.store.services.get(projectId, serviceId));
  }

  /** One rollout; a canary in progress also shows its live split and the per-release metrics of the last minute. */
  async rollout(caller: Principal, projectId: string, serviceId: string, number: number) {
    const rec = await this.numbered(caller, projectId, serviceId, number);
    const r = (await this.views([rec]))[0]!;
    if (rec.status !== 'IN_PROGRESS' || !rec.options.canarySteps || !this.observer.canaryView) return r;
    return { ...r, ...canaryView(rec, this.observer.canaryView(serviceKey(projectId, serviceId))) };
  }

  /** A rollout's events after a given event id, and whether the rollout still runs (for streaming). */
  async rolloutEvents(caller: Principal, projectId: string, serviceId: string, number: number, afterId = 0) {
    const r = await this.numbered(caller, projectId, serviceId, number);
    return { status: r.status, paused: r.paused, events: await this.store.rollouts.events(r.id, afterId) };
  }

  /** Continue a paused canary to its next step (after the last step: to all instances). */
  async continueRollout(caller: Principal, projectId: string, serviceId: string, number: number) {
    this.auth.authorize(caller, projectId, 'write');
    const r = await this.activeRollout(projectId, serviceId, number);
    if (!r.options.canarySteps || !r.paused) throw new ConflictError(`rollout ${number} is not paused at a canary step`);
    await this.store.rollouts.setStep(r.id, { stepIndex: r.stepIndex + 1, paused: false, deadlineAt: this.releases.deadline() });
    const next = r.options.canarySteps[r.stepIndex + 1];
    await this.store.rollouts.event(r.id, next ? `continued to canary step ${r.stepIndex + 2} (${next.trafficPercent !== undefined ? `${next.trafficPercent}% of requests` : `${next.instanceWeight}%`})` : 'continued: rolling out to all instances');
    this.signals.serviceChanged(serviceKey(projectId, serviceId));
    return this.view(r.id);
  }

  /** Cancel a rollout in progress: the service returns to the release it came from. */
  async cancelRollout(caller: Principal, projectId: string, serviceId: string, number: number) {
    this.auth.authorize(caller, projectId, 'write');
    const r = await this.activeRollout(projectId, serviceId, number);
    const svc = await this.store.services.get(projectId, serviceId);
    const from = r.fromReleaseId ? await this.store.releases.find(r.fromReleaseId) : undefined;
    if (!from) throw new ConflictError(`rollout ${number} has no earlier release to return to`);
    await this.store.rollouts.finish(r.id, 'CANCELED', 'canceled by request');
    const canceled = await this.store.releases.find(r.toReleaseId);
    await this.releases.restoreTo(svc, from, 'return', { how: { strategy: 'rolling' }, pinBuild: 'if-moved', from: canceled, message: (words) => `canceled rollout ${number}; ${words}` });
    await this.store.events.append({ projectId, serviceId, kind: 'rollout', reason: 'Canceled', message: `rollout ${number} canceled; returning to release ${from.number}` });
    return this.view(r.id);
  }

  /** A service's rollout by number, for a caller who may read the project; 404 when there is none. */
  private async numbered(caller: Principal, projectId: string, serviceId: string, number: number): Promise<RolloutRecord> {
    this.auth.authorize(caller, projectId, 'read');
    await this.store.services.get(projectId, serviceId);
    const r = await this.store.rollouts.byNumber(serviceKey(projectId, serviceId), number);
    if (!r) throw new NotFoundError('rollout', String(number));
    return r;
  }

  private async activeRollout(projectId: string, serviceId: string, number: number) {
    const r = await this.store.rollouts.byNumber(serviceKey(projectId, serviceId), number);
    if (!r) throw ValidationError.one('rollout', 'exists', `service '${serviceId}' has no rollout ${number}`);
    if (r.status !== 'IN_PROGRESS') throw new ConflictError(`rollout ${number} is ${r.status.toLowerCase()}, not in progress`);
    return r;
  }

  /** A dry run: the steps a rollout to a new release would take now, touching nothing. */
  async planRollout(caller: Principal, projectId: string, serviceId: string, input: { instances?: number; strategy?: string }) {
    this.auth.authorize(caller, projectId, 'read');
    const svc = await this.store.services.get(projectId, serviceId);
    const live = (await this.observer.instancesOf(serviceKey(projectId, serviceId))).filter((i) => i.state !== 'stopping' && i.state !== 'crashed');
    const desired = input.instances ?? svc.spec.deployment?.instances ?? 0;
    const strategy = input.strategy ?? svc.spec.deployment?.strategy?.type ?? 'rollout-steady';
    const memoryMb = findPlan(svc.spec.billing.deploymentPlan)?.memoryMb ?? 0;
    return { strategy, desired, currentInstances: live.length, ...planRollout({ desired, oldCount: live.length, strategy, memoryMb }) };
  }

  /**
   * Releases, newest first, each with what it changed, in words, from the release the service ran when it
   * was made (after a rollback that is not the one numbered before it); null when one of the two was made
   * before releases kept their spec.
   */
  async releaseHistory(caller: Principal, projectId: string, serviceId: string): Promise<(ReleaseRecord & { changes: string[] | null })[]> {
    this.auth.authorize(caller, projectId, 'read');
    await this.store.services.get(projectId, serviceId);
    const key = serviceKey(projectId, serviceId);
    const list = await this.store.releases.list(key);
    const byId = new Map(list.map((r) => [r.id, r]));
    // The first rollout to a release started from the release running when it was made.
    const madeFrom = new Map<string, string | null>();
    for (const r of (await this.store.rollouts.list(key, 1000)).reverse()) if (!madeFrom.has(r.toReleaseId)) madeFrom.set(r.toReleaseId, r.fromReleaseId);
    return list.map((r, i) => {
      const from = madeFrom.get(r.id);
      const prev = from ? byId.get(from) : from === null ? undefined : list[i + 1];
      if (!prev) return { ...r, changes: r.serviceSpec && from === null ? ['first release'] : null };
      if (r.spec.restartedAt) return { ...r, changes: ['restart'] };
      return { ...r, changes: r.serviceSpec && prev.serviceSpec ? releaseChanges(prev, r) : null };
    });
  }
}

/** What a release changed from another, from their specs, its build included (a spec following the newest build names none). */
function releaseChanges(prev: ReleaseRecord, rel: ReleaseRecord): string[] {
  const withBuild = (r: ReleaseRecord) => (r.buildId ? { ...r.serviceSpec!, deployment: { ...(r.serviceSpec!.deployment ?? { instances: 1 }), external: undefined, internal: { buildId: r.buildId } } } : r.serviceSpec!);
  return describeChanges(withBuild(prev), withBuild(rel));
}

function cdOf(svc: ServiceRecord): { enabled: boolean; buildId: string | null } {
  const internal = svc.spec.deployment?.internal;
  if (svc.kind === 'combined') return { enabled: !internal, buildId: internal?.buildId ?? null };
  if (svc.kind === 'build') return { enabled: false, buildId: null };
  const pinned = internal?.buildId ?? (internal?.buildSHA && internal.buildSHA !== 'latest' ? internal.buildSHA : undefined);
  return { enabled: !!internal && !pinned, buildId: internal?.buildId ?? null };
}
