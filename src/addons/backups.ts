/** Scheduling a backup of an addon (a dump, or a snapshot): the one place a backup record is made (by a request or a schedule). */
import type { Store } from '../store/store.ts';
import { randomId } from '../domain/ids.ts';
import type { AddonBackupRecord, AddonRecord } from '../domain/addons.ts';
import type { AddonEngine } from './engines/engine.ts';

/** File extension of a snapshot: a gzipped tar of the stopped server's data directory. */
export const SNAPSHOT_EXTENSION = 'tar.gz';

export function scheduleDump(store: Store, a: AddonRecord, engine: AddonEngine, opts: { name?: string; scheduleId?: string; expiresAt?: string; backupType?: 'dump' | 'snapshot'; sourceType?: AddonBackupRecord['sourceType'] } = {}): Promise<AddonBackupRecord> {
  const id = randomId('backup');
  const backupType = opts.backupType ?? 'dump';
  return store.addons.createBackup({
    projectId: a.projectId,
    addonId: a.id,
    id,
    name: opts.name ?? `Backup ${new Date().toISOString().replace('T', ' ').slice(0, 19)}`,
    backupType,
    status: 'scheduled',
    file: `${id}.${backupType === 'snapshot' ? SNAPSHOT_EXTENSION : engine.dumpExtension}`,
    addonType: a.spec.type,
    addonVersion: a.spec.version,
    sourceType: opts.sourceType ?? 'sameAddon',
    ...(opts.scheduleId ? { scheduleId: opts.scheduleId } : {}),
    ...(opts.expiresAt ? { expiresAt: opts.expiresAt } : {}),
  });
}
