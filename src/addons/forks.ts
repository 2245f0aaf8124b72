/**
 * Forks (`source` on `create.addon`): a new addon that starts from another addon's backup. The backup is
 * checked here, before anything is written; the addons service then stores the new addon with a scheduled
 * restore of it, which the controller runs once the new server first answers (docs/addons.md, "Forking").
 */
import type { Store } from '../store/store.ts';
import type { AuthService, Principal } from '../services/auth.ts';
import { majorOf, type AddonBackupRecord, type AddonSpec } from '../domain/addons.ts';
import { ConflictError, ValidationError } from '../errors/errors.ts';

/**
 * The backup a fork (`source` on create) starts from: `{ projectId?, addonId, backupId }` or `{ backupUid }`
 * (a backup's id is its uid here). It must be a completed backup of an addon of the same type (a snapshot:
 * the same major version) that the caller may read. 400 naming the field otherwise; 409 if unfinished.
 */
export async function forkSource(store: Store, auth: AuthService, caller: Principal, projectId: string, source: unknown, spec: AddonSpec): Promise<AddonBackupRecord> {
  const src = (source ?? {}) as { projectId?: unknown; addonId?: unknown; backupId?: unknown; backupUid?: unknown };
  const str = (v: unknown) => (typeof v === 'string' && v.length > 0 && v.length <= 100 ? v : undefined);
  let b: AddonBackupRecord | undefined;
  let field = 'source.backupId';
  if (src.backupUid !== undefined) {
    field = 'source.backupUid';
    const uid = str(src.backupUid);
    if (!uid) throw ValidationError.one(field, 'type', 'backupUid is the id of a backup');
    b = await store.addons.findBackup(uid);
    if (!b) throw ValidationError.one(field, 'exists', `no backup '${uid}'`);
  } else {
    const addonId = str(src.addonId);
    const backupId = str(src.backupId);
    const fromProject = src.projectId === undefined ? projectId : str(src.projectId);
    if (!fromProject) throw ValidationError.one('source.projectId', 'type', 'projectId is the id of a project');
    if (!addonId) throw ValidationError.one('source.addonId', 'required', 'a fork names the addon (addonId) and its backup (backupId), or a backupUid');
    if (!backupId) throw ValidationError.one('source.backupId', 'required', 'a fork names the backup of the addon to start from');
    b = await store.addons.findBackup(backupId);
    if (!b || b.projectId !== fromProject || b.addonId !== addonId) throw ValidationError.one(field, 'exists', `addon '${addonId}' of project '${fromProject}' has no backup '${backupId}'`);
  }
  auth.authorize(caller, b.projectId, 'read');
  if (b.addonType !== spec.type) throw ValidationError.one(field, 'type', `backup '${b.id}' is of a ${b.addonType} addon; the new addon is ${spec.type}`);
  if (b.backupType === 'snapshot' && majorOf(b.addonVersion) !== majorOf(spec.version)) throw ValidationError.one(field, 'version', `snapshot '${b.id}' holds ${b.addonType} ${b.addonVersion} data files; the new addon runs ${spec.version}: fork from a dump instead`);
  if (b.status !== 'completed') throw new ConflictError(`backup '${b.id}' is ${b.status}: only a completed backup can be forked from`);
  return b;
}
