/** Scheduling a backup of an addon (a dump, or a snapshot): the one place a backup record is made (by a request or a schedule). */
import type { Store } from '../store/store.ts';
import { randomId } from '../domain/ids.ts';
import type { AddonBackupRecord, AddonRecord } from '../domain/addons.ts';
import type { AddonEngine } from './engines/engine.ts';
import { objectKey } from './destinations/backup-files.ts';

/** File extension of a snapshot: a gzipped tar of the stopped server's data directory. */
export const SNAPSHOT_EXTENSION = 'tar.gz';

export async function scheduleDump(store: Store, a: AddonRecord, engine: AddonEngine, opts: { id?: string; name?: string; scheduleId?: string; expiresAt?: string; backupType?: 'dump' | 'snapshot'; sourceType?: AddonBackupRecord['sourceType']; destinationId?: string } = {}): Promise<AddonBackupRecord> {
  const id = opts.id ?? randomId('backup');
  const backupType = opts.backupType ?? 'dump';
  const file = `${id}.${backupType === 'snapshot' ? SNAPSHOT_EXTENSION : engine.dumpExtension}`;
  // Placed before the record exists: the controller never sees the backup without its destination.
  if (opts.destinationId) {
    const d = await store.backupDestinations.get(opts.destinationId);
    await store.backupDestinations.place({ backupId: id, destinationId: d.id, objectKey: objectKey(d.prefix, { projectId: a.projectId, addonId: a.id, file }) });
  }
  const b = await store.addons.createBackup({
    projectId: a.projectId,
    addonId: a.id,
    id,
    name: opts.name ?? `Backup ${new Date().toISOString().replace('T', ' ').slice(0, 19)}`,
    backupType,
    status: 'scheduled',
    file,
    addonType: a.spec.type,
    addonVersion: a.spec.version,
    sourceType: opts.sourceType ?? 'sameAddon',
    ...(opts.scheduleId ? { scheduleId: opts.scheduleId } : {}),
    ...(opts.expiresAt ? { expiresAt: opts.expiresAt } : {}),
  });
  return opts.destinationId ? { ...b, destinationId: opts.destinationId } : b;
}
