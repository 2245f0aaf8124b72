/**
 * What a release restores. Each release keeps the service spec it was made from (its snapshot); moving a
 * service to an earlier release (a rollback, a CF revision, the automatic return after a failed rollout,
 * a cancelled canary) writes the instance-shaping parts of that snapshot back over the desired spec, as
 * Heroku restores config with code. Without that, the next unrelated change would re-derive a release from
 * the newer settings and silently roll forward what was rolled back.
 *
 * Restored: runtime environment and files, ports (with their security), health checks, plan, command and
 * entrypoint overrides, storage, grace period, process types' commands and sizes, and the build or image.
 * Kept as they are now: everything that does not shape an instance (name, description, tags, instance
 * counts, strategy, build source and settings, autoscaling, load balancing).
 */
import type { DeploymentSpec, ServiceKind, ServiceSpec } from './service.ts';
import type { ReleaseRecord } from './release.ts';

/** The deployment fields a release is made from. */
const DEPLOYMENT_PARTS = ['buildpack', 'docker', 'storage', 'gracePeriodSeconds', 'internal', 'external'] as const;

/** The build a restored spec runs: pinned, so the service stays on it until someone chooses another. */
export interface BuildPin {
  kind: ServiceKind;
  serviceId: string;
  buildId: string;
}

/**
 * Where the restored spec's build or image comes from: the release's build pinned (a combined service pins
 * one of its own builds, a deployment service a build of the service it follows); the snapshot's own
 * source (an image path); or the current one, kept (the move did not change the build: a spec that follows
 * the newest build keeps following it).
 */
export type RestoredSource = BuildPin | 'snapshot' | 'keep';

/**
 * The source a move from one release to another restores: the same build (or image) keeps the spec's own
 * source, so a spec following the newest build goes on following it; another build is pinned; an image
 * comes back from the snapshot. `always` pins the build whatever ran before (a rollback chosen by hand).
 */
export function restoredSource(svc: { kind: ServiceKind; id: string }, from: Pick<ReleaseRecord, 'buildId' | 'image'> | undefined, to: Pick<ReleaseRecord, 'buildId' | 'image'>, always = false): RestoredSource {
  if (!always && from && from.buildId === to.buildId && from.image === to.image) return 'keep';
  return to.buildId ? { kind: svc.kind, serviceId: svc.id, buildId: to.buildId } : 'snapshot';
}

/** The desired spec after returning to a release: `current` with the snapshot's instance-shaping parts. */
export function restoreSpec(current: ServiceSpec, snapshot: ServiceSpec, source: RestoredSource = 'snapshot'): ServiceSpec {
  const next: ServiceSpec = { ...current, billing: { ...current.billing, deploymentPlan: snapshot.billing.deploymentPlan } };
  setOrDelete(next, 'runtimeEnvironment', snapshot.runtimeEnvironment);
  setOrDelete(next, 'runtimeFiles', snapshot.runtimeFiles);
  setOrDelete(next, 'ports', snapshot.ports);
  setOrDelete(next, 'healthChecks', snapshot.healthChecks);
  if (current.deployment || snapshot.deployment) {
    const d: DeploymentSpec = { ...(current.deployment ?? { instances: snapshot.deployment?.instances ?? 1 }) };
    for (const k of DEPLOYMENT_PARTS) {
      if (source === 'keep' && (k === 'internal' || k === 'external')) continue;
      setOrDelete(d, k, snapshot.deployment?.[k]);
    }
    next.deployment = d;
  }
  if (current.processTypes) {
    const types: NonNullable<ServiceSpec['processTypes']> = {};
    for (const [type, now] of Object.entries(current.processTypes)) {
      const then = snapshot.processTypes?.[type];
      const { command: _c, size: _s, ...rest } = now;
      types[type] = { ...rest, ...(then?.command !== undefined ? { command: then.command } : {}), ...(then?.size !== undefined ? { size: then.size } : {}) };
    }
    next.processTypes = types;
  }
  if (typeof source === 'object') pinBuild(next, source);
  return next;
}

/** Pin a build in a spec (see BuildPin); an image the spec named gives way to it. */
export function pinBuild(spec: ServiceSpec, pin: BuildPin): void {
  const d: DeploymentSpec = { ...(spec.deployment ?? { instances: 1 }) };
  delete d.external;
  if (pin.kind === 'combined') d.internal = { id: pin.serviceId, buildId: pin.buildId };
  else d.internal = { ...(d.internal?.id ? { id: d.internal.id } : {}), ...(d.internal?.branch ? { branch: d.internal.branch } : {}), buildId: pin.buildId };
  spec.deployment = d;
}

/** The instance-shaping parts of a spec, comparable with `sameShape`. */
function shapeOf(spec: ServiceSpec): Record<string, unknown> {
  const d = spec.deployment;
  return {
    env: spec.runtimeEnvironment ?? {},
    files: spec.runtimeFiles ?? {},
    ports: spec.ports ?? [],
    healthChecks: spec.healthChecks ?? [],
    plan: spec.billing.deploymentPlan,
    command: { buildpack: d?.buildpack, docker: d?.docker },
    storage: d?.storage,
    gracePeriodSeconds: d?.gracePeriodSeconds,
    source: { internal: d?.internal, external: d?.external },
    processTypes: Object.fromEntries(Object.entries(spec.processTypes ?? {}).map(([t, f]) => [t, { command: f.command, size: f.size }])),
    // Tags choose the secret groups whose variables and files reach the instances.
    tags: [...(spec.tags ?? [])].sort(),
  };
}

/** Whether two specs make the same instances from the same source (nothing that shapes an instance differs). */
export function sameShape(a: ServiceSpec, b: ServiceSpec): boolean {
  return canonical(shapeOf(a)) === canonical(shapeOf(b));
}

/**
 * What a restore changes, in words, for events, status and the CLI: "env (GREETING, HEALTH_STATUS)",
 * "build web-build-1", "health checks" … Variable names only: values may be secrets.
 */
export function describeChanges(before: ServiceSpec, after: ServiceSpec): string[] {
  const a = shapeOf(before);
  const b = shapeOf(after);
  const out: string[] = [];
  const differs = (k: string) => canonical(a[k]) !== canonical(b[k]);
  if (differs('env')) out.push(`env (${changedKeys(before.runtimeEnvironment, after.runtimeEnvironment).join(', ')})`);
  if (differs('files')) out.push(`files (${changedKeys(before.runtimeFiles, after.runtimeFiles).join(', ')})`);
  if (differs('ports')) out.push('ports');
  if (differs('healthChecks')) out.push('health checks');
  if (differs('plan')) out.push(`plan ${after.billing.deploymentPlan}`);
  if (differs('command')) out.push('command');
  if (differs('storage')) out.push('storage');
  if (differs('gracePeriodSeconds')) out.push('grace period');
  if (differs('processTypes')) out.push('process types');
  if (differs('source')) {
    const d = after.deployment;
    if (d?.external) out.push(`image ${d.external.imagePath}`);
    else if (d?.internal?.buildId) out.push(`build ${d.internal.buildId}`);
    else out.push('build source');
  }
  return out;
}

function changedKeys(a: Record<string, unknown> | undefined, b: Record<string, unknown> | undefined): string[] {
  const keys = new Set([...Object.keys(a ?? {}), ...Object.keys(b ?? {})]);
  return [...keys].filter((k) => canonical(a?.[k]) !== canonical(b?.[k])).sort();
}

function setOrDelete<T extends object, K extends keyof T>(target: T, key: K, value: T[K] | undefined): void {
  if (value === undefined) delete target[key];
  else target[key] = structuredClone(value);
}

/** JSON with sorted keys and undefined fields dropped, so equal parts compare equal. */
function canonical(value: unknown): string {
  if (value === undefined) return 'null';
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/**
 * A stand-in snapshot for a release made before releases kept one: the current spec with what the release
 * itself recorded (environment, files, health checks, plan, image). Commands and ports stay as they are.
 */
export function snapshotOfLegacyRelease(current: ServiceSpec, rel: { env: Record<string, string>; files: ServiceSpec['runtimeFiles']; healthChecks: ServiceSpec['healthChecks']; plan: string; image?: string; buildId?: string }): ServiceSpec {
  const snap: ServiceSpec = { ...current, billing: { ...current.billing, deploymentPlan: rel.plan }, runtimeEnvironment: rel.env, runtimeFiles: rel.files ?? {}, healthChecks: rel.healthChecks ?? [] };
  if (rel.image && !rel.buildId) snap.deployment = { ...(current.deployment ?? { instances: 1 }), external: { ...current.deployment?.external, imagePath: rel.image } };
  if (snap.deployment?.external && rel.buildId) delete snap.deployment.external;
  return snap;
}
