/**
 * Keeps each service's target release equal to what its spec and its build describe, and opens a rollout
 * for every move. Called after every desired-state write and every finished build; idempotent: a spec
 * whose instance-shaping fields did not change produces no release. Every release keeps the spec it was
 * made from, and a move to an earlier release writes that spec back (`restoreTo`), so the desired spec
 * always describes the target: a later change starts from what runs, never from what was rolled back.
 */
import type { Store } from '../store/store.ts';
import type { ServiceRecord, ServiceSpec } from '../domain/service.ts';
import type { BuildRecord } from '../store/builds-repo.ts';
import type { RolloutKind, RolloutOptions, RolloutRecord } from '../store/rollouts-repo.ts';
import { deriveReleaseSpec, hashReleaseSpec, type ReleaseRecord, type ReleaseSpec } from '../domain/release.ts';
import { describeChanges, restoreSpec, restoredSource, sameShape, snapshotOfLegacyRelease } from '../domain/release-snapshot.ts';
import { serviceKey } from '../domain/ids.ts';
import type { InheritedSource, Signals } from './ports.ts';

export interface ReleaseSource {
  buildId?: string;
  artifactDir?: string;
  processes?: Record<string, string>;
  image?: string;
}

function withoutRestart(spec: ReleaseSpec): ReleaseSpec {
  const { restartedAt: _r, ...rest } = spec;
  return rest;
}

/** What a refresh leaves: the target release (none while waiting for a build), and the service when it moved it. */
export interface Refreshed {
  target?: ReleaseRecord;
  service?: ServiceRecord;
}

/** A move to a release: its rollout, and the service as the move left it. */
export interface Moved {
  rollout: RolloutRecord;
  service?: ServiceRecord;
}

/** What `refresh` reads besides the service (see `readsFor`). */
export interface RefreshReads {
  target: ReleaseRecord | undefined;
  source: ReleaseSource | undefined;
  inherited: Awaited<ReturnType<InheritedSource['forRelease']>> | undefined;
}

export class ReleasesService {
  constructor(
    private readonly store: Store,
    private readonly signals: Signals,
    private readonly opts: { progressDeadlineSeconds: number },
    /** what the service inherits from secret groups; none when absent */
    private readonly inherited?: InheritedSource,
  ) {}

  /** The build a service should run, or undefined while there is none yet. */
  async resolveSource(svc: Pick<ServiceRecord, 'kind' | 'projectId' | 'id' | 'spec'>): Promise<ReleaseSource | undefined> {
    if (svc.kind === 'combined') {
      // A combined service runs its newest successful build, unless its `deployment.internal` pins one of its
      // own builds (the CF face's current droplet): then it runs that build, and nothing until one is pinned.
      const pin = svc.spec.deployment?.internal;
      if (pin) {
        if (!pin.buildId) return undefined;
        const b = await this.store.builds.find(pin.buildId);
        return b && b.status === 'SUCCESS' && b.projectId === svc.projectId && b.serviceId === svc.id ? fromBuild(b) : undefined;
      }
      const b = (await this.store.builds.list(svc.projectId, svc.id, 100)).find((x) => x.status === 'SUCCESS');
      return b ? fromBuild(b) : undefined;
    }
    const d = svc.spec.deployment;
    if (d?.external) return { image: d.external.imagePath };
    const internal = d?.internal;
    if (!internal?.id) return undefined;
    if (internal.buildId) {
      const b = await this.store.builds.find(internal.buildId);
      return b && b.status === 'SUCCESS' && b.projectId === svc.projectId && b.serviceId === internal.id ? fromBuild(b) : undefined;
    }
    if (internal.buildSHA && internal.buildSHA !== 'latest') {
      const b = await this.store.builds.findSuccessful(svc.projectId, internal.id, internal.buildSHA);
      return b ? fromBuild(b) : undefined;
    }
    const builds = await this.store.builds.list(svc.projectId, internal.id, 100);
    const b = builds.find((x) => x.status === 'SUCCESS' && (!internal.branch || x.branch === internal.branch));
    return b ? fromBuild(b) : undefined;
  }

  /**
   * Make a new release if what the spec, its source and its secret groups describe differs from the target.
   * Returns the target (none while waiting for a build), and the service as it left it when it made a release.
   * `previous` is the spec before a write: a write that changed nothing shaping an instance (a description, an
   * instance count) makes no release, whatever runs. `cause` names what changed when it is not the service
   * itself (a secret group). `reads`: what `readsFor` read beside the write, instead of reading it here.
   */
  async refresh(svc: ServiceRecord, opts: { previous?: ServiceSpec; cause?: string; reads?: RefreshReads } = {}): Promise<Refreshed> {
    if (svc.kind === 'build') return {};
    const key = serviceKey(svc.projectId, svc.id);
    if (!opts.reads && opts.previous && sameShape(opts.previous, svc.spec)) {
      const target = svc.targetReleaseId ? await this.store.releases.find(svc.targetReleaseId) : undefined;
      if (target) return { target };
    }
    const { source, inherited, ...read } = opts.reads ?? (await this.readsFor(svc));
    // Reads made beside the write saw the target before it: one that moved meanwhile (another write's
    // release) is read again.
    const target = read.target?.id === svc.targetReleaseId ? read.target : svc.targetReleaseId ? await this.store.releases.find(svc.targetReleaseId) : undefined;
    if (!source) {
      this.signals.serviceChanged(key);
      return {};
    }
    const spec = deriveReleaseSpec(svc.spec, source, inherited);
    // Compared with the target, not the newest release: after a rollback the spec describes the target.
    if (target && hashReleaseSpec(withoutRestart(target.spec)) === hashReleaseSpec(spec)) return { target };
    const made = await this.release(svc, spec, 'deploy', `release {n} created${opts.cause ? ` (${opts.cause})` : ''}`, undefined, { cause: opts.cause });
    return { target: made.release, service: made.service };
  }

  /**
   * What a refresh reads besides the service (its target release, its source, what its secret groups give),
   * read at once: three reads, one wait. Made from the spec about to be written, they can be read beside that
   * write (the target and the source do not change with it) and handed to `refresh`.
   */
  async readsFor(svc: Pick<ServiceRecord, 'kind' | 'projectId' | 'id' | 'spec' | 'targetReleaseId'>): Promise<RefreshReads> {
    const [target, source, inherited] = await Promise.all([
      svc.targetReleaseId ? this.store.releases.find(svc.targetReleaseId) : undefined,
      this.resolveSource(svc),
      this.inherited?.forRelease(svc),
    ]);
    return { target, source, inherited };
  }

  /** Whether the service's spec and source describe this release now (nothing to restore to move there). */
  async describes(svc: ServiceRecord, rel: ReleaseRecord): Promise<boolean> {
    const source = await this.resolveSource(svc);
    return !!source && hashReleaseSpec(deriveReleaseSpec(svc.spec, source, await this.inherited?.forRelease(svc))) === hashReleaseSpec(withoutRestart(rel.spec));
  }

  /**
   * Move the service to a chosen release (a rollback, a CF revision, a canary's return) and make the spec
   * that release was made from the desired spec again, its build pinned (a build chosen by rollback stays
   * chosen, like one deployed by hand, until continuous deployment is switched on). `pinBuild: 'if-moved'` pins only
   * when the release runs another build than `from` (a cancelled canary of a config change leaves
   * continuous deployment on). Returns the rollout and what the spec got back, in words.
   */
  async restoreTo(svc: ServiceRecord, rel: ReleaseRecord, kind: RolloutKind, opts: { how?: { strategy: string; options?: RolloutOptions }; pinBuild?: 'always' | 'if-moved'; from?: ReleaseRecord; message?: (restored: string) => string } = {}): Promise<{ rollout: RolloutRecord; restored: string[] }> {
    let restored: string[] = [];
    let current = svc;
    if (!(await this.describes(svc, rel))) {
      const snapshot = rel.serviceSpec ?? snapshotOfLegacyRelease(svc.spec, rel.spec);
      const next = restoreSpec(svc.spec, snapshot, restoredSource(svc, opts.from, rel, opts.pinBuild !== 'if-moved'));
      restored = describeChanges(svc.spec, next);
      // Version-checked: a concurrent edit makes this fail as a conflict rather than be overwritten.
      if (restored.length) current = await this.store.services.update(svc.projectId, svc.id, svc.version, next);
    }
    const words = restored.length ? `restored release ${rel.number}: ${restored.join(', ')}` : `release ${rel.number}'s spec is already the desired one`;
    const { rollout } = await this.moveTo(current, rel, kind, opts.message ? opts.message(words) : words, opts.how);
    return { rollout, restored };
  }

  /**
   * Deploy what the spec and source describe now, with an explicit strategy, even when nothing changed
   * (then as a restart of the target: new instances of the same release spec). Undefined without a source.
   */
  async deploy(svc: ServiceRecord, how: { strategy: string; options?: RolloutOptions }): Promise<RolloutRecord | undefined> {
    const source = await this.resolveSource(svc);
    if (!source) return undefined;
    const spec = deriveReleaseSpec(svc.spec, source, await this.inherited?.forRelease(svc));
    const target = svc.targetReleaseId ? await this.store.releases.find(svc.targetReleaseId) : undefined;
    const same = target && hashReleaseSpec(withoutRestart(target.spec)) === hashReleaseSpec(spec);
    const next = same ? { ...spec, restartedAt: new Date().toISOString() } : spec;
    const key = serviceKey(svc.projectId, svc.id);
    const rel = await this.store.releases.append(key, next, hashReleaseSpec(next), { prefix: `${svc.projectId}--${svc.id}--r` }, svc.spec);
    await this.store.events.append({ projectId: svc.projectId, serviceId: svc.id, kind: 'release', reason: 'Created', message: `release ${rel.number} created${same ? ` (redeploy of release ${target.number})` : ''}` });
    return (await this.moveTo(svc, rel, same ? 'restart' : 'deploy', undefined, how)).rollout;
  }

  /** Restart: the running release again, as a new release, rolled like any other. */
  async restart(svc: ServiceRecord, how?: { strategy: string; options?: RolloutOptions }): Promise<ReleaseRecord | undefined> {
    const target = svc.targetReleaseId ? await this.store.releases.find(svc.targetReleaseId) : undefined;
    if (!target) return undefined;
    return (await this.release(svc, { ...target.spec, restartedAt: new Date().toISOString() }, 'restart', `release {n} created (restart of release ${target.number})`, how, { snapshot: target.serviceSpec })).release;
  }

  /** A new release and the move to it: the release, and the service as the move left it. */
  private async release(svc: ServiceRecord, spec: ReleaseSpec, kind: RolloutKind, message: string, how?: { strategy: string; options?: RolloutOptions }, extra: { snapshot?: ServiceSpec; cause?: string } = {}): Promise<{ release: ReleaseRecord; service?: ServiceRecord }> {
    const key = serviceKey(svc.projectId, svc.id);
    const rel = await this.store.releases.append(key, spec, hashReleaseSpec(spec), { prefix: `${svc.projectId}--${svc.id}--r` }, extra.snapshot ?? svc.spec);
    const [{ service }] = await Promise.all([
      this.moveTo(svc, rel, kind, extra.cause, how),
      this.store.events.append({ projectId: svc.projectId, serviceId: svc.id, kind: 'release', reason: 'Created', message: message.replace('{n}', String(rel.number)) }),
    ]);
    return { release: rel, service };
  }

  /** Point the service at a release and open the rollout that takes it there. */
  async moveTo(svc: ServiceRecord, rel: ReleaseRecord, kind: RolloutKind, message?: string, how?: { strategy: string; options?: RolloutOptions }): Promise<Moved> {
    const key = serviceKey(svc.projectId, svc.id);
    // The rollout exists before the service points at its release: a pass that sees the new target always
    // finds the rollout that says how to move there (a canary's step, a max-in-flight), never a default.
    const rollout = await this.store.rollouts.begin({
      serviceKey: key,
      fromReleaseId: svc.targetReleaseId,
      toReleaseId: rel.id,
      kind,
      strategy: how?.strategy ?? svc.spec.deployment?.strategy?.type ?? 'rollout-steady',
      options: how?.options,
      deadlineAt: this.deadline(),
    });
    const [service] = await Promise.all([
      this.store.services.setStatus(svc.projectId, svc.id, { targetReleaseId: rel.id, deployStatus: 'IN_PROGRESS', deployReason: 'DEPLOYING', deployMessage: message ?? null }),
      this.store.rollouts.event(rollout.id, `${kind} to release ${rel.number} started (${rollout.strategy})${message ? `: ${message}` : ''}`),
    ]);
    this.signals.serviceChanged(key);
    return { rollout, service };
  }

  deadline(): string {
    return new Date(Date.now() + this.opts.progressDeadlineSeconds * 1000).toISOString();
  }

  /** After a build finishes: refresh the combined service itself and every deployment service that follows it. */
  async onBuildFinished(build: BuildRecord): Promise<void> {
    if (build.status !== 'SUCCESS') return;
    const services = await this.store.services.list(build.projectId, { limit: 10_000 });
    for (const svc of services) {
      const follows = (svc.kind === 'combined' && svc.id === build.serviceId) || (svc.kind === 'deployment' && svc.spec.deployment?.internal?.id === build.serviceId);
      if (follows) await this.refresh(svc);
    }
  }
}

function fromBuild(b: BuildRecord): ReleaseSource {
  // A Dockerfile build carries an image instead of an artifact: its releases run that image.
  return { buildId: b.id, artifactDir: b.artifactDir ?? undefined, processes: b.processes ?? undefined, ...(b.image ? { image: b.image } : {}) };
}
