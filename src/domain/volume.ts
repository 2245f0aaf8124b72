/**
 * Volumes: persistent storage a service mounts, as Northflank has it (name, mounts, storage size, access
 * mode). A volume is attached to at most one service, and a service with a volume runs at most one instance
 * and replaces it old-first (the release guide: "it will only start a new container once the original has
 * been terminated"). Pure rules here; storage, controller and use cases live in `src/volumes/`.
 */
import type { FieldProblem } from '../errors/errors.ts';
import type { RollingStep } from './rolling.ts';

export const VOLUME_ACCESS_MODES = ['ReadWriteOnce', 'ReadWriteMany'] as const;
export type VolumeAccessMode = (typeof VOLUME_ACCESS_MODES)[number];

/** Northflank's bounds on a volume's size, in megabytes. */
export const VOLUME_MIN_SIZE_MB = 1;
export const VOLUME_MAX_SIZE_MB = 1_048_576;
/** A service with a volume runs at most this many instances of its routed (`web`) type. */
export const VOLUME_MAX_INSTANCES = 1;
/** The most mounts a volume has. */
export const VOLUME_MAX_MOUNTS = 16;

export interface VolumeMount {
  /** where the volume appears inside the instance, absolute */
  containerMountPath: string;
  /** a directory inside the volume to mount instead of its root, relative */
  volumeMountPath?: string;
}

export interface VolumeSpec {
  name: string;
  tags: string[];
  mounts: VolumeMount[];
  accessMode: VolumeAccessMode;
  storageClassName: string;
  storageSizeMb: number;
}

/**
 * An operation that needs the attached service's instance stopped while it runs: a backup (a consistent
 * snapshot of a stopped volume), a restore (the data replaced by a backup's), a remount (mounts changed, or
 * the volume attached or detached: the instance starts again with the new ones; a detach takes effect once
 * the instance has stopped, so it never runs on without the data it was started with).
 */
export type VolumeOperation =
  | { kind: 'backup'; backupId: string; serviceId: string | null; requestedAt: string }
  | { kind: 'restore'; backupId: string; serviceId: string | null; requestedAt: string }
  | { kind: 'remount'; serviceId: string | null; requestedAt: string; detach?: boolean };

/** `PENDING` until its directory exists (or its source backup is copied in), then `BOUND`. */
export type VolumeStatus = 'PENDING' | 'BOUND';

export interface VolumeRecord {
  projectId: string;
  id: string;
  /** storage identity: a volume deleted and created again under the same id never sees the old data */
  uid: string;
  spec: VolumeSpec;
  attachedServiceId: string | null;
  status: VolumeStatus;
  operation: VolumeOperation | null;
  usageBytes: number | null;
  version: number;
  createdAt: string;
  updatedAt: string;
}

export type BackupStatus = 'pending' | 'in_progress' | 'completed' | 'failed';

export interface VolumeBackupRecord {
  id: string;
  projectId: string;
  volumeId: string;
  name: string;
  description: string | null;
  status: BackupStatus;
  /** the volume's spec when the backup was taken */
  source: { accessMode: VolumeAccessMode; storageSizeMb: number; storageClassName: string };
  sizeBytes: number | null;
  message: string | null;
  createdAt: string;
  updatedAt: string;
}

/** Paths an instance sees from the host read-only or that the platform owns: a volume cannot be mounted there. */
const RESERVED = ['/usr', '/etc', '/bin', '/lib', '/lib64', '/sbin', '/proc', '/dev', '/sys', '/app'];

/** Problems with a volume's mounts, each naming `<prefix>.<i>.<field>`. */
export function mountProblems(mounts: VolumeMount[], prefix = 'mounts'): FieldProblem[] {
  const problems: FieldProblem[] = [];
  const seen = new Set<string>();
  if (mounts.length === 0) problems.push({ field: prefix, rule: 'minItems', message: 'a volume needs at least one mount' });
  mounts.forEach((m, i) => {
    const p = m.containerMountPath;
    const field = `${prefix}.${i}.containerMountPath`;
    if (!p.startsWith('/') || p.split('/').includes('..') || p.split('/').includes('.')) problems.push({ field, rule: 'absolutePath', message: `'${p}' must be an absolute path without '.' or '..'` });
    else if (normal(p) === '/') problems.push({ field, rule: 'notRoot', message: 'a volume cannot be mounted at /' });
    else {
      const clash = RESERVED.find((r) => normal(p) === r || normal(p).startsWith(`${r}/`));
      if (clash) problems.push({ field, rule: 'reservedPath', message: `'${p}' lies under ${clash}, which the platform owns` });
    }
    if (seen.has(normal(p))) problems.push({ field, rule: 'unique', message: `containerMountPaths must be unique: '${p}' is used twice` });
    seen.add(normal(p));
    const sub = m.volumeMountPath;
    if (sub !== undefined && sub !== '' && (sub.split('/').includes('..') || sub.includes('\0'))) problems.push({ field: `${prefix}.${i}.volumeMountPath`, rule: 'relativePath', message: `'${sub}' must be a path inside the volume, without '..'` });
  });
  return problems;
}

function normal(p: string): string {
  const n = p.replace(/\/+/g, '/').replace(/\/$/, '');
  return n === '' ? '/' : n;
}

/** The subdirectory of the volume a mount shows, normalised ('' for its root). */
export function mountSubPath(m: VolumeMount): string {
  return (m.volumeMountPath ?? '').split('/').filter((s) => s && s !== '.').join('/');
}

/** The instance limit of a service with a volume, as a problem naming `field`, or undefined when `instances` keeps it. */
export function volumeInstancesProblem(instances: number, field: string, volumeId: string): FieldProblem | undefined {
  if (instances <= VOLUME_MAX_INSTANCES) return undefined;
  return { field, rule: 'maximum', message: `the service has volume '${volumeId}' attached, so it runs at most ${VOLUME_MAX_INSTANCES} instance (asked for ${instances}): detach the volume to scale out` };
}

/** What a volume's size means here: enforced or not, and how full it is. */
export function volumeNotices(v: VolumeRecord, enforcedBy: string | undefined): string[] {
  const out: string[] = [];
  const sizeBytes = v.spec.storageSizeMb * 1024 * 1024;
  if (!enforcedBy) out.push(`spec.storageSize is not enforced on this runtime: the volume is a directory on the host's filesystem, its usage is measured and shown instead`);
  if (v.usageBytes !== null && v.usageBytes > sizeBytes) out.push(`the volume holds ${mb(v.usageBytes)} MB, over its ${v.spec.storageSizeMb} MB size`);
  return out;
}

/**
 * The rolling step of a service with a volume, which one instance mounts at a time: old-first, and no new
 * instance while the old one is still stopping (its SIGTERM and grace period), or while an operation holds
 * the volume. The reasons land in the rollout's events.
 */
export function volumeStep(step: RollingStep, volume: { volumeId: string; heldFor?: string }, stoppingHere: boolean): RollingStep {
  if (volume.heldFor) return step.stop.length ? { ...step, reason: `stopping the instance for ${volume.heldFor}` } : step.start.length === 0 ? { ...step, reason: `instance stopped for ${volume.heldFor}` } : step;
  if (step.stop.length && step.start.length === 0 && step.reason.startsWith('stopping old instances first')) return { ...step, reason: `stopping the old instance first: the service has volume ${volume.volumeId}, which one instance mounts at a time` };
  if (stoppingHere && step.start.length) return { start: [], stop: step.stop, reason: `waiting for the old instance to terminate before the new one starts (volume ${volume.volumeId})` };
  return step;
}

function mb(bytes: number): string {
  return (bytes / 1024 / 1024).toFixed(1);
}
