/**
 * The volume controller: one pass per volume key provisions its directory, runs the one pending operation
 * (backup, restore, remount, detach) once the attached service's instance has stopped, and measures usage.
 *
 * Order that matters: the operation is written to the store first (the service controller then holds the
 * service at zero `web` instances), and the copy starts only when the runtime shows no instance of the
 * service left. An instance seen again after the copy means a service pass started one meanwhile: the copy
 * is not trusted and runs again on the next pass. The operation is cleared last, so a control plane killed
 * at any point runs it again on restart (every step of VolumeStorage can be repeated).
 *
 * Consistency: backups are taken with the instance STOPPED (not frozen): the app has had its SIGTERM and
 * grace period, so what it flushed on the way down is in the copy.
 */
import type { Store } from '../store/store.ts';
import { instancesOfService, type RuntimeDriver } from '../runtime/driver.ts';
import type { PassResult } from '../controllers/queue.ts';
import type { VolumeRecord } from '../domain/volume.ts';
import { serviceKey } from '../domain/ids.ts';
import type { VolumeStorage } from './volume-storage.ts';

export interface VolumeControllerLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export class VolumeController {
  /** the wait already recorded per volume key, so a long wait is one event */
  private readonly waitingSince = new Map<string, string>();

  constructor(
    private readonly store: Store,
    private readonly driver: RuntimeDriver,
    private readonly storage: VolumeStorage,
    private readonly opts: { logger: VolumeControllerLogger; serviceChanged: (key: string) => void },
  ) {}

  async reconcile(key: string): Promise<PassResult> {
    const i = key.indexOf('/');
    const projectId = key.slice(0, i);
    const volumeId = key.slice(i + 1);
    let v = await this.store.volumes.find(projectId, volumeId);
    if (!v) return undefined;

    // A service deleted with the volume attached: the volume stays, detached.
    if (v.attachedServiceId && !(await this.store.services.find(projectId, v.attachedServiceId))) {
      const op = v.operation;
      v = await this.store.volumes.update(v, { attachedServiceId: null, operation: op && op.kind !== 'remount' ? { ...op, serviceId: null } : null });
      await this.event(v, null, 'Detached', `volume ${v.id} detached: its service was deleted`);
    }
    if (v.status === 'PENDING' && v.operation?.kind !== 'restore') {
      this.storage.ensure(v.uid);
      v = await this.store.volumes.update(v, { status: 'BOUND' });
    }

    const op = v.operation;
    if (op) {
      if (op.serviceId && (await this.liveInstances(projectId, op.serviceId)).length > 0) {
        // The service controller stops the instance (it sees the operation); wait for the runtime to say so.
        this.opts.serviceChanged(serviceKey(projectId, op.serviceId));
        if (this.waitingSince.get(key) !== op.requestedAt) {
          this.waitingSince.set(key, op.requestedAt);
          await this.event(v, op.serviceId, 'Stopping', `volume ${v.id}: stopping service ${op.serviceId}'s instance before the ${op.kind}`);
        }
        return { againInMs: 200 };
      }
      this.waitingSince.delete(key);
      const done = await this.perform(v);
      if (!done) return { againInMs: 200 };
      if (op.serviceId && (await this.liveInstances(projectId, op.serviceId)).length > 0) {
        this.opts.logger.warn({ volume: key }, 'an instance started during a volume operation; running it again');
        return { againInMs: 200 };
      }
      const fresh = await this.store.volumes.get(projectId, volumeId);
      if (JSON.stringify(fresh.operation) === JSON.stringify(op)) {
        v = await this.store.volumes.update(fresh, { operation: null, status: 'BOUND', ...(op.kind === 'remount' && op.detach ? { attachedServiceId: null } : {}) });
        if (op.kind === 'remount' && op.detach) await this.event(v, op.serviceId, 'Detached', `volume ${v.id} detached from service ${op.serviceId}; its instance starts again without it`);
      }
      if (op.serviceId) this.opts.serviceChanged(serviceKey(projectId, op.serviceId));
    }

    const usage = await this.storage.usageBytes(v.uid);
    if (usage !== v.usageBytes) await this.store.volumes.setUsage(projectId, volumeId, usage);
    return undefined;
  }

  /** Run the volume's operation with its instance stopped. False when it must run again later. */
  private async perform(v: VolumeRecord): Promise<boolean> {
    const op = v.operation!;
    const serviceId = op.serviceId;
    try {
      if (op.kind === 'backup') {
        const b = await this.store.volumes.findBackup(v.projectId, v.id, op.backupId);
        if (!b) return true; // deleted meanwhile: nothing to take
        await this.store.volumes.setBackupStatus(b.id, 'in_progress');
        await this.event(v, serviceId, 'BackingUp', `backup ${b.id} of volume ${v.id}: copying the data${serviceId ? ` with service ${serviceId}'s instance stopped` : ''}`);
        const bytes = await this.storage.snapshot(v.uid, b.id);
        await this.store.volumes.setBackupStatus(b.id, 'completed', { sizeBytes: bytes, message: null });
        await this.event(v, serviceId, 'BackedUp', `backup ${b.id} of volume ${v.id} completed (${bytes} bytes)${serviceId ? `; service ${serviceId}'s instance starts again` : ''}`);
      } else if (op.kind === 'restore') {
        await this.event(v, serviceId, 'Restoring', `volume ${v.id}: replacing the data by backup ${op.backupId}${serviceId ? ` with service ${serviceId}'s instance stopped` : ''}`);
        await this.storage.restore(v.uid, op.backupId);
        await this.event(v, serviceId, 'Restored', `volume ${v.id} restored from backup ${op.backupId}${serviceId ? `; service ${serviceId}'s instance starts again` : ''}`);
      } else {
        this.storage.ensure(v.uid);
      }
      return true;
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      this.opts.logger.error({ volume: `${v.projectId}/${v.id}`, op: op.kind, err: message }, 'volume operation failed');
      if (op.kind === 'backup') await this.store.volumes.setBackupStatus(op.backupId, 'failed', { message });
      await this.event(v, serviceId, 'Failed', `volume ${v.id}: the ${op.kind} failed: ${message}${serviceId ? `; service ${serviceId}'s instance starts again` : ''}`);
      // A failed operation is not retried (its cause would repeat); the service gets its instance back.
      return true;
    }
  }

  /** Instances of the service that mount its volume (the routed `web` type) and have not exited. */
  private async liveInstances(projectId: string, serviceId: string): Promise<string[]> {
    return (await instancesOfService(this.driver, projectId, serviceId)).filter((i) => (i.labels.processType || 'web') === 'web' && i.state !== 'exited').map((i) => i.id);
  }

  private async event(v: VolumeRecord, serviceId: string | null, reason: string, message: string): Promise<void> {
    await this.store.events.append({ projectId: v.projectId, serviceId: serviceId ?? v.attachedServiceId, kind: 'volume', reason, message });
  }

  /** Every volume key (the resync). */
  async resyncKeys(): Promise<string[]> {
    const all = await this.store.volumes.listAll();
    return all.map((v) => `${v.projectId}/${v.id}`);
  }

  private lastSweepAt = 0;

  /** Sweep orphaned files, at most every five minutes (the resync calls it). */
  async sweepNow(force = false): Promise<void> {
    if (!force && Date.now() - this.lastSweepAt < 5 * 60_000) return;
    this.lastSweepAt = Date.now();
    // Housekeeping: a failure is logged and tried again at the next sweep, never fatal to the resync.
    await this.sweep().catch((err: Error) => this.opts.logger.warn({ err: err.message }, 'sweeping orphaned volume files failed'));
  }

  private async sweep(): Promise<void> {
    const all = await this.store.volumes.listAll();
    const removed = await this.storage.sweep(new Set(all.map((v) => v.uid)), new Set(await this.store.volumes.allBackupIds()));
    if (removed.length) this.opts.logger.info({ removed }, 'removed volume files no volume or backup names');
  }
}
