/**
 * Keeps each service's target release equal to what its spec and its newest usable build describe, and
 * opens a rollout for every move. Called after every desired-state write and every finished build;
 * idempotent: a spec whose instance-shaping fields did not change produces no release. The comparison is
 * with the newest release, not the target, so a rolled-back service stays rolled back until its spec or
 * build really changes.
 */
import type { Store } from '../store/store.ts';
import type { ServiceRecord } from '../domain/service.ts';
import type { BuildRecord } from '../store/builds-repo.ts';
import type { RolloutKind, RolloutOptions, RolloutRecord } from '../store/rollouts-repo.ts';
import { deriveReleaseSpec, hashReleaseSpec, type ReleaseRecord, type ReleaseSpec } from '../domain/release.ts';
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

export class ReleasesService {
  constructor(
    private readonly store: Store,
    private readonly signals: Signals,
    private readonly opts: { progressDeadlineSeconds: number },
    /** what the service inherits from secret groups; none when absent */
    private readonly inherited?: InheritedSource,
  ) {}

  /** The build a service should run, or undefined while there is none yet. */
  async resolveSource(svc: ServiceRecord): Promise<ReleaseSource | undefined> {
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

  /** Make a new release if the spec or build changed. Returns the target, or undefined while waiting for a build. */
  async refresh(svc: ServiceRecord, cause?: string): Promise<ReleaseRecord | undefined> {
    if (svc.kind === 'build') return undefined;
    const key = serviceKey(svc.projectId, svc.id);
    const source = await this.resolveSource(svc);
    if (!source) {
      this.signals.serviceChanged(key);
      return undefined;
    }
    const spec = deriveReleaseSpec(svc.spec, source, await this.inherited?.forRelease(svc));
    const hash = hashReleaseSpec(spec);
    const newest = (await this.store.releases.list(key, 1))[0];
    if (newest && hashReleaseSpec(withoutRestart(newest.spec)) === hash) {
      return svc.targetReleaseId ? this.store.releases.find(svc.targetReleaseId) : newest;
    }
    return this.release(svc, spec, 'deploy', `release {n} created${cause ? ` (${cause})` : ''}`, undefined, cause);
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
    const rel = await this.store.releases.append(key, next, hashReleaseSpec(next), { id: (n) => `${svc.projectId}--${svc.id}--r${n}` });
    await this.store.events.append({ projectId: svc.projectId, serviceId: svc.id, kind: 'release', reason: 'Created', message: `release ${rel.number} created${same ? ` (redeploy of release ${target.number})` : ''}` });
    return this.moveTo(svc, rel, same ? 'restart' : 'deploy', undefined, how);
  }

  /** Restart: the running release again, as a new release, rolled like any other. */
  async restart(svc: ServiceRecord, how?: { strategy: string; options?: RolloutOptions }): Promise<ReleaseRecord | undefined> {
    const target = svc.targetReleaseId ? await this.store.releases.find(svc.targetReleaseId) : undefined;
    if (!target) return undefined;
    return this.release(svc, { ...target.spec, restartedAt: new Date().toISOString() }, 'restart', `release {n} created (restart of release ${target.number})`, how);
  }

  private async release(svc: ServiceRecord, spec: ReleaseSpec, kind: RolloutKind, message: string, how?: { strategy: string; options?: RolloutOptions }, cause?: string): Promise<ReleaseRecord> {
    const key = serviceKey(svc.projectId, svc.id);
    const rel = await this.store.releases.append(key, spec, hashReleaseSpec(spec), { id: (n) => `${svc.projectId}--${svc.id}--r${n}` });
    await this.moveTo(svc, rel, kind, cause, how);
    await this.store.events.append({ projectId: svc.projectId, serviceId: svc.id, kind: 'release', reason: 'Created', message: message.replace('{n}', String(rel.number)) });
    return rel;
  }

  /** Point the service at a release and open the rollout that takes it there. */
  async moveTo(svc: ServiceRecord, rel: ReleaseRecord, kind: RolloutKind, message?: string, how?: { strategy: string; options?: RolloutOptions }): Promise<RolloutRecord> {
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
    await this.store.services.setStatus(svc.projectId, svc.id, { targetReleaseId: rel.id, deployStatus: 'IN_PROGRESS', deployReason: 'DEPLOYING', deployMessage: message ?? null });
    await this.store.rollouts.event(rollout.id, `${kind} to release ${rel.number} started (${rollout.strategy})${message ? `: ${message}` : ''}`);
    this.signals.serviceChanged(key);
    return rollout;
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
