/** Scheduling a dump backup of an addon: the one place a backup record is made (by a request or a schedule). */
import type { Store } from '../store/store.ts';
import { randomId } from '../domain/ids.ts';
import type { AddonBackupRecord, AddonRecord } from '../domain/addons.ts';
import type { AddonEngine } from './engines/engine.ts';

export function scheduleDump(store: Store, a: AddonRecord, engine: AddonEngine, opts: { name?: string; scheduleId?: string; expiresAt?: string } = {}): Promise<AddonBackupRecord> {
  const id = randomId('backup');
  return store.addons.createBackup({
    projectId: a.projectId,
    addonId: a.id,
    id,
    name: opts.name ?? `Backup ${new Date().toISOString().replace('T', ' ').slice(0, 19)}`,
    backupType: 'dump',
    status: 'scheduled',
    file: `${id}.${engine.dumpExtension}`,
    addonType: a.spec.type,
    addonVersion: a.spec.version,
    sourceType: 'sameAddon',
    ...(opts.scheduleId ? { scheduleId: opts.scheduleId } : {}),
    ...(opts.expiresAt ? { expiresAt: opts.expiresAt } : {}),
  });
}
