/**
 * Volume use cases for every API face: create (empty, or from a backup), read, list, update, delete,
 * attach, detach, back up, restore, and the backups' reads and deletes. Writes check the caller's right and
 * the rules, record the desired state (and the one operation that needs the service's instance stopped),
 * and wake the volume and service controllers; the volume controller does the work.
 */
import type { Store } from '../store/store.ts';
import type { AuthService, Principal } from '../services/auth.ts';
import { idFromName, randomId, serviceKey } from '../domain/ids.ts';
import {
  mountProblems,
  volumeInstancesProblem,
  VOLUME_MAX_SIZE_MB,
  VOLUME_MAX_MOUNTS,
  type VolumeAccessMode,
  type VolumeBackupRecord,
  type VolumeMount,
  type VolumeOperation,
  type VolumeRecord,
  type VolumeSpec,
} from '../domain/volume.ts';
import { ConflictError, UnsupportedError, ValidationError, type FieldProblem } from '../errors/errors.ts';
import type { VolumeStorage } from './volume-storage.ts';

export interface NfObject {
  id: string;
  type: 'service' | 'job';
}

export interface CreateVolumeInput {
  name: string;
  tags?: string[];
  mounts: VolumeMount[];
  spec: { accessMode: VolumeAccessMode; storageClassName?: string; storageSize: number };
  source?: { type: 'volume' | 'backup'; sourceId: string };
  owningObject?: NfObject;
  attachedObjects?: NfObject[];
}

export interface UpdateVolumeInput {
  mounts?: VolumeMount[];
  spec?: { storageSize?: number };
}

export interface VolumeSignals {
  volumeChanged(volumeKey: string): void;
  serviceChanged(serviceKey: string): void;
  /** a volume is gone: the runtime may forget its handles of these mount names (engine volumes) */
  volumeDeleted?(mountNames: string[]): Promise<void>;
}

/** The key of a volume in the volume controller's queue. */
export function volumeKey(projectId: string, volumeId: string): string {
  return `${projectId}/${volumeId}`;
}

export class VolumesService {
  constructor(
    private readonly store: Store,
    private readonly auth: AuthService,
    private readonly storage: VolumeStorage,
    private readonly signals: VolumeSignals,
  ) {}

  private wake(v: VolumeRecord, ...serviceIds: (string | null | undefined)[]): void {
    this.signals.volumeChanged(volumeKey(v.projectId, v.id));
    for (const s of new Set([v.attachedServiceId, ...serviceIds])) if (s) this.signals.serviceChanged(serviceKey(v.projectId, s));
  }

  private busy(v: VolumeRecord): void {
    if (v.operation) throw new ConflictError(`volume '${v.id}' is busy with a ${v.operation.kind} (requested ${v.operation.requestedAt}); retry when it has finished`);
  }

  /** A service the volume may attach to, or a problem naming the request's field. */
  private async checkTarget(projectId: string, target: NfObject, field: string): Promise<void> {
    if (target.type !== 'service') throw new UnsupportedError([{ field: `${field}.type`, rule: 'supported', message: `volumes attach to services here, not to ${target.type}s` }]);
    const svc = await this.store.services.find(projectId, target.id);
    if (!svc) throw ValidationError.one(`${field}.id`, 'exists', `no service '${target.id}' in project '${projectId}'`);
    if (svc.kind === 'build') throw ValidationError.one(`${field}.id`, 'applicable', `service '${target.id}' is a build service: it runs no instances to mount a volume`);
    const other = await this.store.volumes.forService(projectId, target.id);
    if (other) throw new ConflictError(`service '${target.id}' already has volume '${other.id}' attached: a service has at most one volume here`);
    const problem = volumeInstancesProblem(svc.spec.deployment?.instances ?? 0, 'deployment.instances', '(this one)');
    if (problem) throw new ValidationError([{ ...problem, message: `service '${target.id}' runs ${svc.spec.deployment?.instances} instances (deployment.instances); a service with a volume runs at most 1: scale it to 1 first` }]);
  }

  async create(caller: Principal, projectId: string, input: CreateVolumeInput): Promise<VolumeRecord> {
    this.auth.authorize(caller, projectId, 'write');
    await this.store.projects.get(projectId);
    const problems: FieldProblem[] = [...mountProblems(input.mounts)];
    if (input.spec.storageSize < 1 || input.spec.storageSize > VOLUME_MAX_SIZE_MB) problems.push({ field: 'spec.storageSize', rule: 'range', message: `must be between 1 and ${VOLUME_MAX_SIZE_MB} MB` });
    const targets = input.attachedObjects ?? (input.owningObject ? [input.owningObject] : []);
    const targetField = input.attachedObjects ? 'attachedObjects.0' : 'owningObject';
    if (targets.length > 1) problems.push({ field: 'attachedObjects', rule: 'maxItems', message: 'a volume is attached to at most one service' });
    if (problems.length) throw new ValidationError(problems);
    if (input.spec.accessMode !== 'ReadWriteOnce') throw new UnsupportedError([{ field: 'spec.accessMode', rule: 'supported', message: "only 'ReadWriteOnce' is available: one service's one instance mounts the volume" }]);
    if (input.source?.type === 'volume') throw new UnsupportedError([{ field: 'source.type', rule: 'supported', message: "a volume is made from a backup here: back the source volume up, then create with source { type: 'backup' }" }]);
    let backup: VolumeBackupRecord | undefined;
    if (input.source) {
      backup = await this.store.volumes.findProjectBackup(projectId, input.source.sourceId);
      if (!backup) throw ValidationError.one('source.sourceId', 'exists', `no backup '${input.source.sourceId}' in project '${projectId}'`);
      if (backup.status !== 'completed') throw ValidationError.one('source.sourceId', 'completed', `backup '${backup.id}' is ${backup.status}: only a completed backup can be restored`);
    }
    const target = targets[0];
    if (target) await this.checkTarget(projectId, target, targetField);
    const spec: VolumeSpec = { name: input.name, tags: input.tags ?? [], mounts: input.mounts, accessMode: input.spec.accessMode, storageClassName: input.spec.storageClassName ?? 'ssd', storageSizeMb: input.spec.storageSize };
    const now = new Date().toISOString();
    const attached = target?.id ?? null;
    // From a backup: its files are copied in before the attached service's instance may start with it.
    const operation: VolumeOperation | null = backup ? { kind: 'restore', backupId: backup.id, serviceId: attached, requestedAt: now } : attached ? { kind: 'remount', serviceId: attached, requestedAt: now } : null;
    const v = await this.store.volumes.create({ projectId, id: idFromName(input.name), uid: randomId('vol'), spec, attachedServiceId: attached, status: 'PENDING', operation });
    await this.event(v, 'Created', `volume ${v.id} created (${spec.storageSizeMb} MB${backup ? `, from backup ${backup.id}` : ''}${attached ? `, attached to service ${attached}` : ''})`);
    this.wake(v);
    return v;
  }

  async get(caller: Principal, projectId: string, volumeId: string): Promise<VolumeRecord> {
    this.auth.authorize(caller, projectId, 'read');
    return this.store.volumes.get(projectId, volumeId);
  }

  async list(caller: Principal, projectId: string, page: { after?: string; limit: number }): Promise<VolumeRecord[]> {
    this.auth.authorize(caller, projectId, 'read');
    await this.store.projects.get(projectId);
    return this.store.volumes.list(projectId, page);
  }

  /** The volume attached to a service, for the service's views. */
  async forService(caller: Principal, projectId: string, serviceId: string): Promise<VolumeRecord | undefined> {
    this.auth.authorize(caller, projectId, 'read');
    return this.store.volumes.forService(projectId, serviceId);
  }

  async update(caller: Principal, projectId: string, volumeId: string, input: UpdateVolumeInput): Promise<VolumeRecord> {
    this.auth.authorize(caller, projectId, 'write');
    const v = await this.store.volumes.get(projectId, volumeId);
    const problems: FieldProblem[] = input.mounts ? mountProblems(input.mounts) : [];
    const size = input.spec?.storageSize;
    if (size !== undefined && size < v.spec.storageSizeMb) problems.push({ field: 'spec.storageSize', rule: 'increaseOnly', message: `a volume can only grow: it has ${v.spec.storageSizeMb} MB` });
    if (size !== undefined && size > VOLUME_MAX_SIZE_MB) problems.push({ field: 'spec.storageSize', rule: 'maximum', message: `at most ${VOLUME_MAX_SIZE_MB} MB` });
    if (problems.length) throw new ValidationError(problems);
    const spec: VolumeSpec = { ...v.spec, ...(input.mounts ? { mounts: input.mounts } : {}), ...(size !== undefined ? { storageSizeMb: size } : {}) };
    const remount = input.mounts !== undefined && JSON.stringify(input.mounts) !== JSON.stringify(v.spec.mounts) && v.attachedServiceId !== null;
    if (remount) this.busy(v);
    const next = await this.store.volumes.update(v, { spec, ...(remount ? { operation: { kind: 'remount', serviceId: v.attachedServiceId, requestedAt: new Date().toISOString() } } : {}) });
    if (remount) await this.event(next, 'Remount', `mounts of volume ${v.id} changed: service ${v.attachedServiceId}'s instance stops and starts again with them`);
    this.wake(next);
    return next;
  }

  /** Delete a detached volume with its data and backups. */
  async delete(caller: Principal, projectId: string, volumeId: string): Promise<void> {
    this.auth.authorize(caller, projectId, 'write');
    const v = await this.store.volumes.get(projectId, volumeId);
    if (v.attachedServiceId) throw new ConflictError(`volume '${v.id}' is attached to service '${v.attachedServiceId}': detach it first`);
    this.busy(v);
    const backups = await this.store.volumes.listBackups(projectId, volumeId, { limit: 100_000 });
    await this.store.volumes.delete(projectId, volumeId);
    for (const b of backups) await this.store.volumes.deleteBackup(projectId, volumeId, b.id).catch(() => {});
    // The rows go first: files left by a crash here are removed by the controller's sweep.
    await this.storage.remove(v.uid);
    for (const b of backups) await this.storage.removeBackup(b.id);
    // Every mount name ever used: a mount removed by an update left its engine volume too.
    await this.signals.volumeDeleted?.(Array.from({ length: VOLUME_MAX_MOUNTS }, (_, i) => `${v.uid}${i ? `-${i}` : ''}`)).catch(() => {});
    await this.store.events.append({ projectId, serviceId: null, kind: 'volume', reason: 'Deleted', message: `volume ${v.id} deleted with its data and ${backups.length} backup(s)` });
  }

  async attach(caller: Principal, projectId: string, volumeId: string, input: { nfObject?: NfObject; owningObject?: NfObject }): Promise<VolumeRecord> {
    this.auth.authorize(caller, projectId, 'write');
    const target = input.nfObject ?? input.owningObject;
    const field = input.nfObject ? 'nfObject' : 'owningObject';
    if (!target) throw ValidationError.one('nfObject', 'required', 'name the service to attach the volume to: nfObject { id, type: "service" }');
    const v = await this.store.volumes.get(projectId, volumeId);
    if (v.attachedServiceId === target.id) return v;
    if (v.attachedServiceId) throw new ConflictError(`volume '${v.id}' is attached to service '${v.attachedServiceId}': detach it first`);
    this.busy(v);
    await this.checkTarget(projectId, target, field);
    const next = await this.store.volumes.update(v, { attachedServiceId: target.id, operation: { kind: 'remount', serviceId: target.id, requestedAt: new Date().toISOString() } });
    await this.event(next, 'Attached', `volume ${v.id} attached to service ${target.id}: its instance stops and starts again with the volume at ${v.spec.mounts.map((m) => m.containerMountPath).join(', ')}`);
    this.wake(next);
    return next;
  }

  /** Detach: the service's instance stops, then the volume is detached and the instance starts without it. */
  async detach(caller: Principal, projectId: string, volumeId: string, input: { nfObject: NfObject }): Promise<VolumeRecord> {
    this.auth.authorize(caller, projectId, 'write');
    const v = await this.store.volumes.get(projectId, volumeId);
    if (v.attachedServiceId !== input.nfObject.id || input.nfObject.type !== 'service') throw ValidationError.one('nfObject.id', 'attached', `volume '${v.id}' is ${v.attachedServiceId ? `attached to service '${v.attachedServiceId}'` : 'not attached'}, not to ${input.nfObject.type} '${input.nfObject.id}'`);
    this.busy(v);
    const next = await this.store.volumes.update(v, { operation: { kind: 'remount', serviceId: v.attachedServiceId, requestedAt: new Date().toISOString(), detach: true } });
    await this.event(next, 'Detaching', `volume ${v.id} detaches from service ${v.attachedServiceId} once its instance has stopped`);
    this.wake(next);
    return next;
  }

  /** Take a backup: with the attached service's instance stopped (a consistent copy), then started again. */
  async backup(caller: Principal, projectId: string, volumeId: string, input: { name: string; description?: string }): Promise<VolumeBackupRecord> {
    this.auth.authorize(caller, projectId, 'write');
    const v = await this.store.volumes.get(projectId, volumeId);
    this.busy(v);
    // Ids sort by creation time, so listing by id lists oldest first.
    const id = `backup-${Date.now().toString(36).padStart(9, '0')}-${randomId('x').slice(2, 8)}`;
    const b = await this.store.volumes.createBackup({ id, projectId, volumeId, name: input.name, description: input.description, source: { accessMode: v.spec.accessMode, storageSizeMb: v.spec.storageSizeMb, storageClassName: v.spec.storageClassName } });
    try {
      const next = await this.store.volumes.update(v, { operation: { kind: 'backup', backupId: id, serviceId: v.attachedServiceId, requestedAt: new Date().toISOString() } });
      await this.event(next, 'BackupRequested', `backup ${id} of volume ${v.id} requested${v.attachedServiceId ? `: service ${v.attachedServiceId}'s instance stops for a consistent copy and starts again after` : ''}`);
      this.wake(next);
    } catch (err) {
      // Nothing half-made: the backup row goes if its operation could not be recorded.
      await this.store.volumes.deleteBackup(projectId, volumeId, id).catch(() => {});
      throw err;
    }
    return b;
  }

  async listBackups(caller: Principal, projectId: string, volumeId: string, page: { after?: string; limit: number }): Promise<VolumeBackupRecord[]> {
    this.auth.authorize(caller, projectId, 'read');
    await this.store.volumes.get(projectId, volumeId);
    return this.store.volumes.listBackups(projectId, volumeId, page);
  }

  async getBackup(caller: Principal, projectId: string, volumeId: string, backupId: string): Promise<VolumeBackupRecord> {
    this.auth.authorize(caller, projectId, 'read');
    return this.store.volumes.getBackup(projectId, volumeId, backupId);
  }

  async deleteBackup(caller: Principal, projectId: string, volumeId: string, backupId: string): Promise<void> {
    this.auth.authorize(caller, projectId, 'write');
    const b = await this.store.volumes.getBackup(projectId, volumeId, backupId);
    const v = await this.store.volumes.find(projectId, volumeId);
    const op = v?.operation;
    if (op && (op.kind === 'backup' || op.kind === 'restore') && op.backupId === b.id) throw new ConflictError(`backup '${b.id}' is in use by the volume's ${op.kind}; retry when it has finished`);
    await this.store.volumes.deleteBackup(projectId, volumeId, backupId);
    await this.storage.removeBackup(backupId);
  }

  /** Restore a backup into its volume: the instance stops, the data is replaced, the instance starts. */
  async restore(caller: Principal, projectId: string, volumeId: string, backupId: string): Promise<VolumeRecord> {
    this.auth.authorize(caller, projectId, 'write');
    const v = await this.store.volumes.get(projectId, volumeId);
    const b = await this.store.volumes.getBackup(projectId, volumeId, backupId);
    if (b.status !== 'completed') throw ValidationError.one('backupId', 'completed', `backup '${b.id}' is ${b.status}: only a completed backup can be restored`);
    this.busy(v);
    const next = await this.store.volumes.update(v, { operation: { kind: 'restore', backupId: b.id, serviceId: v.attachedServiceId, requestedAt: new Date().toISOString() } });
    await this.event(next, 'RestoreRequested', `restore of backup ${b.id} into volume ${v.id} requested${v.attachedServiceId ? `: service ${v.attachedServiceId}'s instance stops, the data is replaced, and it starts again` : ''}`);
    this.wake(next);
    return next;
  }

  private async event(v: VolumeRecord, reason: string, message: string): Promise<void> {
    await this.store.events.append({ projectId: v.projectId, serviceId: v.attachedServiceId, kind: 'volume', reason, message });
  }
}
