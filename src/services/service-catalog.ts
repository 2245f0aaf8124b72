/**
 * Service use cases shared by every API face: create, read, replace, patch, delete, scale, pause, resume.
 * Every write checks the caller's right, validates the rules schemas cannot express, stores the spec with a
 * version check, refreshes the target release and wakes the controllers. Deploys and rollouts of a service
 * are service-deploys.ts.
 */
import type { Store } from '../store/store.ts';
import type { AuthService, Principal } from './auth.ts';
import type { BuildTrigger, InstanceObserver, InstanceView, Signals } from './ports.ts';
import type { Refreshed, RefreshReads, ReleasesService } from './releases.ts';
import { checkServiceSpec, noticesFor, type Capabilities } from './service-rules.ts';
import { idFromName, serviceKey } from '../domain/ids.ts';
import type { ServiceKind, ServiceRecord, ServiceSpec } from '../domain/service.ts';
import { ConflictError, UnsupportedError, ValidationError } from '../errors/errors.ts';
import type { ReleaseRecord } from '../domain/release.ts';
import type { BuildRecord } from '../store/builds-repo.ts';
import { isUsableBy } from '../domain/registry-credentials.ts';
import { mergeSpecPatch } from '../domain/spec-patch.ts';
import { builtImageProblem } from '../domain/built-image.ts';
import { volumeInstancesProblem } from '../domain/volume.ts';
import { sameShape } from '../domain/release-snapshot.ts';
import { autoscaledInstances, autoscalePolicy, type AutoscalePolicy } from '../autoscaler/spec.ts';
import type { AutoscaleStatus } from '../autoscaler/status.ts';

export interface ServiceDetails {
  service: ServiceRecord;
  release?: ReleaseRecord;
  lastBuild?: BuildRecord;
  notices: string[];
  /** the autoscaler's last evaluation, when horizontal autoscaling is on */
  autoscaling?: AutoscaleStatus;
}

/** The autoscaler's view of a service (main.ts wires the autoscaler in). */
export interface AutoscaleStatusSource {
  status(svc: ServiceRecord, policy: AutoscalePolicy): AutoscaleStatus;
}

/** PATCH semantics for a service (see mergeSpecPatch); a service without a deployment gets one instance. */
export function mergeServiceSpec(cur: ServiceSpec, patch: Partial<ServiceSpec>): ServiceSpec {
  return mergeSpecPatch(cur, patch, { instances: 1 });
}

export class ServiceCatalog {
  constructor(
    private readonly store: Store,
    private readonly auth: AuthService,
    private readonly releases: ReleasesService,
    private readonly signals: Signals,
    private readonly observer: InstanceObserver,
    private readonly caps: Capabilities,
    private readonly buildTrigger: BuildTrigger,
    private readonly autoscaler?: AutoscaleStatusSource,
  ) {}

  /** The rules schemas cannot express (also asked by ServiceDeploys before it pins a build). */
  check(kind: ServiceKind, spec: ServiceSpec): void {
    const { problems, unsupported } = checkServiceSpec(kind, spec, this.caps);
    if (problems.length) throw new ValidationError(problems);
    if (unsupported.length) throw new UnsupportedError(unsupported);
  }

  /** What a spec names (an image, registry credentials, a build or its service) exists and is the project's to use. */
  async checkReferences(projectId: string, spec: ServiceSpec): Promise<void> {
    const image = spec.deployment?.external?.imagePath;
    const foreign = image ? builtImageProblem('deployment.external.imagePath', image, projectId) : undefined;
    if (foreign) throw new ValidationError([foreign]);
    const credentialId = spec.deployment?.external?.credentials;
    if (credentialId) {
      const c = await this.store.registryCredentials.find(credentialId);
      if (!c || !isUsableBy(c.spec, projectId)) throw ValidationError.one('deployment.external.credentials', 'exists', `no registry credentials '${credentialId}' that project '${projectId}' may use: add them with POST /v1/integrations/registries`);
    }
    const internal = spec.deployment?.internal;
    // A build named without a service is one of the service's own (a combined service's pin): checked as such,
    // so a build that does not exist is refused here rather than leaving the service waiting for it forever.
    const sourceId = internal?.id ?? (internal?.buildId ? idFromName(spec.name) : undefined);
    if (!internal || !sourceId) return;
    if (sourceId === idFromName(spec.name)) {
      // A combined service pinned to one of its own builds (see ReleasesService.resolveSource).
      if (internal.buildId) {
        const b = await this.store.builds.find(internal.buildId);
        if (!b || b.projectId !== projectId || b.serviceId !== sourceId || b.status !== 'SUCCESS') throw ValidationError.one('deployment.internal.buildId', 'exists', `no successful build '${internal.buildId}' of service '${sourceId}'`);
      }
      return;
    }
    // The source service and the pinned build are read at once (two reads, one wait), and checked in order.
    const [ref, b] = await Promise.all([this.store.services.find(projectId, sourceId), internal.buildId ? this.store.builds.find(internal.buildId) : undefined]);
    if (!ref || ref.kind === 'deployment') {
      throw ValidationError.one('deployment.internal.id', 'exists', `no build or combined service '${internal.id}' in project '${projectId}'`);
    }
    if (internal.buildId) {
      if (!b || b.serviceId !== internal.id || b.projectId !== projectId) {
        throw ValidationError.one('deployment.internal.buildId', 'exists', `no build '${internal.buildId}' of service '${internal.id}'`);
      }
    }
  }

  async create(caller: Principal, projectId: string, kind: ServiceKind, spec: ServiceSpec): Promise<ServiceDetails> {
    this.auth.authorize(caller, projectId, 'write');
    await this.store.projects.get(projectId);
    this.check(kind, spec);
    await this.checkReferences(projectId, spec);
    const scaled = kind === 'build' ? undefined : autoscaledInstances(undefined, undefined, spec);
    if (scaled !== undefined) spec = { ...spec, deployment: { ...(spec.deployment ?? { instances: scaled }), instances: scaled } };
    const id = idFromName(spec.name);
    const svc = await this.store.services.create({ projectId, id, kind, spec });
    const { target } = await this.afterWrite(svc);
    if (kind !== 'deployment' && spec.vcsData) await this.buildTrigger.buildBranchHead(projectId, id);
    return this.details(await this.store.services.get(projectId, id), target);
  }

  /** Create or replace (Northflank's PUT): an existing service of the same kind is replaced whole. */
  async put(caller: Principal, projectId: string, kind: ServiceKind, spec: ServiceSpec): Promise<ServiceDetails> {
    this.auth.authorize(caller, projectId, 'write');
    const id = idFromName(spec.name);
    const cur = await this.store.services.find(projectId, id);
    if (!cur) return this.create(caller, projectId, kind, spec);
    if (cur.kind !== kind) throw new ConflictError(`service '${id}' is a ${cur.kind} service, not a ${kind} service`);
    return this.replace(cur, spec);
  }

  /** PATCH through a kind's route: the service must be of that kind. */
  async patch(caller: Principal, projectId: string, serviceId: string, kind: ServiceKind, patch: Partial<ServiceSpec>): Promise<ServiceDetails> {
    return this.change(caller, projectId, serviceId, (cur) => {
      if (cur.kind !== kind) throw new ConflictError(`service '${serviceId}' is a ${cur.kind} service, not a ${kind} service`);
      return patch;
    });
  }

  /**
   * PATCH a service of any kind, the patch made from the very record it is merged into and written over (a
   * version-checked write), so a patch that depends on what is stored (ports that keep their security, a
   * partial source) never merges into a newer record than the one it was made from.
   */
  async change(caller: Principal, projectId: string, serviceId: string, patchOf: (cur: ServiceRecord) => Partial<ServiceSpec> | Promise<Partial<ServiceSpec>>): Promise<ServiceDetails> {
    this.auth.authorize(caller, projectId, 'write');
    const cur = await this.store.services.get(projectId, serviceId);
    return this.replace(cur, mergeServiceSpec(cur.spec, { ...(await patchOf(cur)), name: cur.spec.name }));
  }

  /**
   * Write a whole new spec over `cur` (version-checked) with its checks, release and build; the caller's right
   * was checked before (by a write here, or by ServiceDeploys).
   */
  async replace(cur: ServiceRecord, spec: ServiceSpec, instancesField = 'deployment.instances'): Promise<ServiceDetails> {
    this.check(cur.kind, spec);
    // With horizontal autoscaling on, the autoscaler owns the count: a write keeps it (within new bounds).
    const scaled = cur.kind === 'build' ? undefined : autoscaledInstances(cur.spec.deployment?.instances, cur.spec, spec);
    if (scaled !== undefined && spec.deployment?.instances !== scaled) {
      if (instancesField === 'instances' && autoscalePolicy(cur.spec)) {
        throw ValidationError.one('instances', 'autoscaled', `horizontal autoscaling is on: the autoscaler sets the instance count between autoscaling.horizontal.minReplicas and maxReplicas; change those, or turn autoscaling off`);
      }
      spec = { ...spec, deployment: { ...(spec.deployment ?? { instances: scaled }), instances: scaled } };
    }
    // Both checks read at once; their refusals keep this order.
    for (const check of await Promise.allSettled([this.checkReferences(cur.projectId, spec), this.checkVolumeLimit(cur, spec, instancesField)])) {
      if (check.status === 'rejected') throw check.reason;
    }
    const scaling = (spec.deployment?.instances ?? 0) !== (cur.spec.deployment?.instances ?? 0);
    // A write that may make a release: what the release is made from is read beside the write.
    const shaping = cur.kind !== 'build' && !sameShape(cur.spec, spec);
    const [svc, reads] = await Promise.all([
      this.store.services.update(cur.projectId, cur.id, cur.version, spec, scaling ? { deployStatus: 'IN_PROGRESS', deployReason: 'SCALING' } : undefined),
      shaping ? this.releases.readsFor({ ...cur, spec }) : undefined,
    ]);
    const { target, service } = await this.afterWrite(svc, cur.spec, reads);
    const sourceMoved = JSON.stringify(spec.vcsData ?? null) !== JSON.stringify(cur.spec.vcsData ?? null);
    const building = cur.kind !== 'deployment' && spec.vcsData && sourceMoved;
    if (building) await this.buildTrigger.buildBranchHead(cur.projectId, cur.id);
    // The service as the move to a new release wrote it; read again when nothing moved it, or a build began.
    return this.details(service && !building ? service : await this.store.services.get(cur.projectId, cur.id), target);
  }

  /** A service with a volume runs at most one instance: more is refused, naming the field that asked. */
  private async checkVolumeLimit(cur: ServiceRecord, spec: ServiceSpec, field: string): Promise<void> {
    const instances = spec.deployment?.instances ?? 0;
    // Asking for more than one autoscaled instance (turning autoscaling on, or raising its maximum) is refused
    // with a volume; a write that leaves the maximum as it was passes (the autoscaler keeps one instance).
    const max = autoscalePolicy(spec)?.maxReplicas ?? 0;
    const maxReplicas = max !== (autoscalePolicy(cur.spec)?.maxReplicas ?? 0) ? max : 0;
    if (instances <= 1 && maxReplicas <= 1) return;
    const volume = await this.store.volumes.forService(cur.projectId, cur.id);
    const autoscaled = volume && volumeInstancesProblem(maxReplicas, 'autoscaling.horizontal.maxReplicas', volume.id);
    if (autoscaled) throw new ValidationError([autoscaled]);
    const problem = volume && volumeInstancesProblem(instances, field, volume.id);
    if (problem) throw new ValidationError([problem]);
  }

  /** After a write: the release it makes (or the target it keeps), and the controller told. */
  private async afterWrite(svc: ServiceRecord, previous?: ServiceSpec, reads?: RefreshReads): Promise<Refreshed> {
    const refreshed = await this.releases.refresh(svc, { previous, reads });
    this.signals.serviceChanged(serviceKey(svc.projectId, svc.id));
    return refreshed;
  }

  async get(caller: Principal, projectId: string, serviceId: string): Promise<ServiceDetails> {
    this.auth.authorize(caller, projectId, 'read');
    return this.details(await this.store.services.get(projectId, serviceId));
  }

  /** The service's record alone, without what `details` adds (its release, its last build). */
  async record(caller: Principal, projectId: string, serviceId: string): Promise<ServiceRecord> {
    this.auth.authorize(caller, projectId, 'read');
    return this.store.services.get(projectId, serviceId);
  }

  /** A service's answer; `known` is a release just read or made, used when it is the service's target. */
  async details(svc: ServiceRecord, known?: ReleaseRecord): Promise<ServiceDetails> {
    const release = !svc.targetReleaseId ? undefined : known?.id === svc.targetReleaseId ? known : await this.store.releases.find(svc.targetReleaseId);
    const lastBuild = svc.kind === 'deployment' ? undefined : (await this.store.builds.list(svc.projectId, svc.id, 1))[0];
    const policy = this.autoscaler ? autoscalePolicy(svc.spec) : undefined;
    const autoscaling = policy ? this.autoscaler!.status(svc, policy) : undefined;
    return { service: svc, release, lastBuild, notices: noticesFor(svc.spec, this.caps), ...(autoscaling ? { autoscaling } : {}) };
  }

  async list(caller: Principal, projectId: string, page: { after?: string; limit: number }): Promise<ServiceRecord[]> {
    this.auth.authorize(caller, projectId, 'read');
    await this.store.projects.get(projectId);
    return this.store.services.list(projectId, page);
  }

  async delete(caller: Principal, projectId: string, serviceId: string): Promise<void> {
    this.auth.authorize(caller, projectId, 'write');
    await this.store.services.delete(projectId, serviceId);
    await this.store.jobs.deleteServiceRuns(projectId, serviceId);
    this.signals.serviceChanged(serviceKey(projectId, serviceId));
  }

  async scale(caller: Principal, projectId: string, serviceId: string, input: { instances?: number; deploymentPlan?: string }): Promise<ServiceDetails> {
    this.auth.authorize(caller, projectId, 'write');
    const cur = await this.store.services.get(projectId, serviceId);
    if (cur.kind === 'build') throw ValidationError.one('instances', 'applicable', 'build services run no instances');
    const spec = mergeServiceSpec(cur.spec, {
      ...(input.instances !== undefined ? { deployment: { ...(cur.spec.deployment ?? { instances: 1 }), instances: input.instances } } : {}),
      ...(input.deploymentPlan ? { billing: { ...cur.spec.billing, deploymentPlan: input.deploymentPlan } } : {}),
    });
    return this.replace(cur, spec, 'instances');
  }

  async setPaused(caller: Principal, projectId: string, serviceId: string, paused: boolean): Promise<ServiceDetails> {
    this.auth.authorize(caller, projectId, 'write');
    await this.store.services.get(projectId, serviceId);
    await this.store.services.setStatus(projectId, serviceId, { paused, deployStatus: 'IN_PROGRESS', deployReason: 'SCALING' });
    await this.store.events.append({ projectId, serviceId, kind: 'service', reason: paused ? 'Paused' : 'Resumed', message: paused ? 'service paused: instances stop' : 'service resumed' });
    this.signals.serviceChanged(serviceKey(projectId, serviceId));
    return this.details(await this.store.services.get(projectId, serviceId));
  }

  async instances(caller: Principal, projectId: string, serviceId: string): Promise<InstanceView[]> {
    this.auth.authorize(caller, projectId, 'read');
    await this.store.services.get(projectId, serviceId);
    return this.observer.instancesOf(serviceKey(projectId, serviceId));
  }

  async logs(caller: Principal, projectId: string, serviceId: string, tail: number) {
    this.auth.authorize(caller, projectId, 'read');
    await this.store.services.get(projectId, serviceId);
    return this.observer.logsOf(serviceKey(projectId, serviceId), { tail });
  }
}
