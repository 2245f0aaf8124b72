/**
 * Addons, their backups and their restores. An addon's connection secrets are sealed with the SecretBox and
 * read back in plain text only by `secrets()`; every other read returns the open record.
 */
import type { Kysely } from 'kysely';
import type { Database } from './schema.ts';
import type { SecretBox } from './secret-box.ts';
import { ConflictError, NotFoundError, VersionConflictError } from '../errors/errors.ts';
import { isUniqueViolation } from './unique-violation.ts';
import type { AddonBackupRecord, AddonBackupSchedule, AddonJobStatus, BackupScheduleSpec, AddonRecord, AddonRestoreRecord, AddonSecrets, AddonSpec, AddonStatus, AddonType } from '../domain/addons.ts';

type AddonRow = Database['addons'];
type BackupRow = Database['addon_backups'];
type RestoreRow = Database['addon_restores'];

/** The fields a writer may change; the rest (ids, timestamps, version) the repository keeps. */
export type AddonChange = Partial<Pick<AddonRecord, 'spec' | 'status' | 'statusMessage' | 'port' | 'replicaPorts' | 'paused' | 'generation' | 'initialized' | 'deleting'>>;

export class AddonsRepo {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly box: SecretBox,
  ) {}

  private toRecord(r: AddonRow): AddonRecord {
    return {
      projectId: r.project_id,
      id: r.id,
      spec: JSON.parse(r.spec) as AddonSpec,
      status: r.status as AddonStatus,
      ...(r.status_message ? { statusMessage: r.status_message } : {}),
      port: r.port,
      replicaPorts: JSON.parse(r.replica_ports) as number[],
      paused: r.paused === 1,
      generation: r.generation,
      initialized: r.initialized === 1,
      deleting: r.deleting === 1,
      version: r.version,
      createdAt: r.created_at,
      updatedAt: r.updated_at,
    };
  }

  /** Insert; ConflictError if the project already has an addon with this id. */
  async create(a: { projectId: string; id: string; spec: AddonSpec; secrets: AddonSecrets; port: number }): Promise<AddonRecord> {
    const now = new Date().toISOString();
    const row: AddonRow = {
      project_id: a.projectId,
      id: a.id,
      name: a.spec.name,
      type: a.spec.type,
      spec: JSON.stringify(a.spec),
      secrets: this.box.seal(a.secrets),
      status: 'preDeployment',
      status_message: null,
      port: a.port,
      replica_ports: '[]',
      paused: 0,
      generation: 1,
      initialized: 0,
      deleting: 0,
      version: 1,
      created_at: now,
      updated_at: now,
    };
    try {
      await this.db.insertInto('addons').values(row).execute();
    } catch (err) {
      if (isUniqueViolation(err)) throw new ConflictError(`addon '${a.id}' already exists in project '${a.projectId}'`);
      throw err;
    }
    return this.toRecord(row);
  }

  async find(projectId: string, id: string): Promise<AddonRecord | undefined> {
    const row = await this.db.selectFrom('addons').selectAll().where('project_id', '=', projectId).where('id', '=', id).executeTakeFirst();
    return row ? this.toRecord(row) : undefined;
  }

  async get(projectId: string, id: string): Promise<AddonRecord> {
    const a = await this.find(projectId, id);
    if (!a) throw new NotFoundError('addon', id);
    return a;
  }

  /** Page through a project's addons ordered by id. */
  async list(projectId: string, opts: { after?: string; limit: number }): Promise<AddonRecord[]> {
    let q = this.db.selectFrom('addons').selectAll().where('project_id', '=', projectId).orderBy('id').limit(opts.limit);
    if (opts.after) q = q.where('id', '>', opts.after);
    return (await q.execute()).map((r) => this.toRecord(r));
  }

  /** Every addon's key, for the controller's resync. */
  async listKeys(): Promise<{ projectId: string; id: string }[]> {
    return (await this.db.selectFrom('addons').select(['project_id', 'id']).execute()).map((r) => ({ projectId: r.project_id, id: r.id }));
  }

  /** Every port an addon holds, so a new addon takes another. */
  async ports(): Promise<number[]> {
    return (await this.db.selectFrom('addons').select(['port', 'replica_ports']).execute()).flatMap((r) => [r.port, ...(JSON.parse(r.replica_ports) as number[])]);
  }

  /**
   * Apply `change` if the version is still `expectedVersion`; VersionConflictError otherwise (NotFoundError
   * if the addon is gone).
   */
  async update(projectId: string, id: string, expectedVersion: number, change: AddonChange): Promise<AddonRecord> {
    const set: Partial<AddonRow> = { version: expectedVersion + 1, updated_at: new Date().toISOString() };
    if (change.spec) Object.assign(set, { spec: JSON.stringify(change.spec), name: change.spec.name });
    if (change.status !== undefined) set.status = change.status;
    if ('statusMessage' in change) set.status_message = change.statusMessage ?? null;
    if (change.port !== undefined) set.port = change.port;
    if (change.replicaPorts !== undefined) set.replica_ports = JSON.stringify(change.replicaPorts);
    if (change.paused !== undefined) set.paused = change.paused ? 1 : 0;
    if (change.generation !== undefined) set.generation = change.generation;
    if (change.initialized !== undefined) set.initialized = change.initialized ? 1 : 0;
    if (change.deleting !== undefined) set.deleting = change.deleting ? 1 : 0;
    const res = await this.db.updateTable('addons').set(set).where('project_id', '=', projectId).where('id', '=', id).where('version', '=', expectedVersion).executeTakeFirst();
    if (Number(res.numUpdatedRows) === 0) {
      await this.get(projectId, id);
      throw new VersionConflictError(`addon '${id}' was modified concurrently; retry`);
    }
    return this.get(projectId, id);
  }

  /** Read, change, write, retrying lost races: for writers whose change does not depend on a stale read. */
  async mutate(projectId: string, id: string, change: (cur: AddonRecord) => AddonChange): Promise<AddonRecord> {
    for (let attempt = 0; ; attempt++) {
      const cur = await this.get(projectId, id);
      try {
        return await this.update(projectId, id, cur.version, change(cur));
      } catch (err) {
        if (!(err instanceof VersionConflictError) || attempt >= 20) throw err;
      }
    }
  }

  async secrets(projectId: string, id: string): Promise<AddonSecrets> {
    const row = await this.db.selectFrom('addons').select('secrets').where('project_id', '=', projectId).where('id', '=', id).executeTakeFirst();
    if (!row) throw new NotFoundError('addon', id);
    return this.box.open<AddonSecrets>(row.secrets);
  }

  async setSecrets(projectId: string, id: string, secrets: AddonSecrets): Promise<void> {
    await this.db.updateTable('addons').set({ secrets: this.box.seal(secrets), updated_at: new Date().toISOString() }).where('project_id', '=', projectId).where('id', '=', id).execute();
  }

  /** Remove the addon row with its backup and restore records. */
  async delete(projectId: string, id: string): Promise<void> {
    await this.db.transaction().execute(async (tx) => {
      await tx.deleteFrom('addon_restores').where('project_id', '=', projectId).where('addon_id', '=', id).execute();
      await tx.deleteFrom('addon_backups').where('project_id', '=', projectId).where('addon_id', '=', id).execute();
      await tx.deleteFrom('addon_backup_schedules').where('project_id', '=', projectId).where('addon_id', '=', id).execute();
      await tx.deleteFrom('addons').where('project_id', '=', projectId).where('id', '=', id).execute();
    });
  }

  // Backups

  private toBackup(r: BackupRow): AddonBackupRecord {
    return {
      projectId: r.project_id,
      addonId: r.addon_id,
      id: r.id,
      name: r.name,
      backupType: r.backup_type as AddonBackupRecord['backupType'],
      status: r.status as AddonJobStatus,
      file: r.file,
      sizeBytes: r.size_bytes,
      addonType: r.addon_type as AddonType,
      addonVersion: r.addon_version,
      sourceType: r.source_type as AddonBackupRecord['sourceType'],
      ...(r.schedule_id ? { scheduleId: r.schedule_id } : {}),
      ...(r.expires_at ? { expiresAt: r.expires_at } : {}),
      ...(r.retained ? { retained: true } : {}),
      ...(r.error ? { error: r.error } : {}),
      createdAt: r.created_at,
      ...(r.completed_at ? { completedAt: r.completed_at } : {}),
    };
  }

  async createBackup(b: Omit<AddonBackupRecord, 'createdAt' | 'completedAt' | 'error' | 'sizeBytes' | 'retained'>): Promise<AddonBackupRecord> {
    const row: BackupRow = {
      id: b.id,
      project_id: b.projectId,
      addon_id: b.addonId,
      name: b.name,
      backup_type: b.backupType,
      status: b.status,
      file: b.file,
      size_bytes: 0,
      addon_type: b.addonType,
      addon_version: b.addonVersion,
      source_type: b.sourceType,
      schedule_id: b.scheduleId ?? null,
      expires_at: b.expiresAt ?? null,
      retained: 0,
      secrets: null,
      error: null,
      created_at: new Date().toISOString(),
      completed_at: null,
    };
    await this.db.insertInto('addon_backups').values(row).execute();
    return this.toBackup(row);
  }

  async findBackup(id: string): Promise<AddonBackupRecord | undefined> {
    const row = await this.db.selectFrom('addon_backups').selectAll().where('id', '=', id).executeTakeFirst();
    return row ? this.toBackup(row) : undefined;
  }

  /** A page of an addon's backups, newest first (`after` is the last id of the previous page). */
  async listBackups(projectId: string, addonId: string, opts: { limit: number; statuses?: AddonJobStatus[] } = { limit: 1000 }): Promise<AddonBackupRecord[]> {
    let q = this.db.selectFrom('addon_backups').selectAll().where('project_id', '=', projectId).where('addon_id', '=', addonId).orderBy('created_at', 'desc').orderBy('id', 'desc').limit(opts.limit);
    if (opts.statuses) q = q.where('status', 'in', opts.statuses);
    return (await q.execute()).map((r) => this.toBackup(r));
  }

  async finishBackup(id: string, outcome: { status: AddonJobStatus; sizeBytes?: number; error?: string }): Promise<void> {
    await this.db
      .updateTable('addon_backups')
      .set({ status: outcome.status, size_bytes: outcome.sizeBytes ?? 0, error: outcome.error ?? null, completed_at: new Date().toISOString() })
      .where('id', '=', id)
      .execute();
  }

  async setBackupStatus(id: string, status: AddonJobStatus): Promise<void> {
    await this.db.updateTable('addon_backups').set({ status }).where('id', '=', id).execute();
  }

  /** Seal the server's password of a snapshot's moment with it. */
  async setBackupPassword(id: string, password: string): Promise<void> {
    await this.setBackupSecrets(id, { password });
  }

  async backupPassword(id: string): Promise<string | undefined> {
    return (await this.backupSecrets(id))?.password;
  }

  /** A backup's sealed extras: a snapshot's password, or an import's connection string (until it ran). */
  async setBackupSecrets(id: string, secrets: { username?: string; password?: string; connectionString?: string; importUrl?: string } | null): Promise<void> {
    await this.db.updateTable('addon_backups').set({ secrets: secrets ? this.box.seal(secrets) : null }).where('id', '=', id).execute();
  }

  async backupSecrets(id: string): Promise<{ username?: string; password?: string; connectionString?: string; importUrl?: string } | undefined> {
    const row = await this.db.selectFrom('addon_backups').select('secrets').where('id', '=', id).executeTakeFirst();
    return row?.secrets ? this.box.open<{ username?: string; password?: string; connectionString?: string; importUrl?: string }>(row.secrets) : undefined;
  }

  /** Keep a scheduled backup past its expiry. */
  async retainBackup(id: string): Promise<void> {
    await this.db.updateTable('addon_backups').set({ retained: 1 }).where('id', '=', id).execute();
  }

  /** Finished backups whose expiry has passed and that were not retained. */
  async expiredBackups(projectId: string, addonId: string, now: string): Promise<AddonBackupRecord[]> {
    const rows = await this.db
      .selectFrom('addon_backups')
      .selectAll()
      .where('project_id', '=', projectId)
      .where('addon_id', '=', addonId)
      .where('retained', '=', 0)
      .where('expires_at', 'is not', null)
      .where('expires_at', '<', now)
      .where('status', 'in', ['completed', 'failed', 'aborted'])
      .execute();
    return rows.map((r) => this.toBackup(r));
  }

  async deleteBackup(id: string): Promise<void> {
    await this.db.deleteFrom('addon_backups').where('id', '=', id).execute();
  }

  // Backup schedules

  private toSchedule(r: Database['addon_backup_schedules']): AddonBackupSchedule {
    return { id: r.id, projectId: r.project_id, addonId: r.addon_id, spec: JSON.parse(r.spec) as BackupScheduleSpec, lastRunAt: r.last_run_at, createdAt: r.created_at };
  }

  async createSchedule(s: { id: string; projectId: string; addonId: string; spec: BackupScheduleSpec }): Promise<AddonBackupSchedule> {
    const now = new Date().toISOString();
    const row = { id: s.id, project_id: s.projectId, addon_id: s.addonId, spec: JSON.stringify(s.spec), last_run_at: now, created_at: now };
    await this.db.insertInto('addon_backup_schedules').values(row).execute();
    return this.toSchedule(row);
  }

  async listSchedules(projectId: string, addonId: string): Promise<AddonBackupSchedule[]> {
    const rows = await this.db.selectFrom('addon_backup_schedules').selectAll().where('project_id', '=', projectId).where('addon_id', '=', addonId).orderBy('created_at').orderBy('id').execute();
    return rows.map((r) => this.toSchedule(r));
  }

  /** Claim a slot: true only for the one caller that moved `last_run_at` from `from` to `to`. */
  async claimSlot(id: string, from: string, to: string): Promise<boolean> {
    const res = await this.db.updateTable('addon_backup_schedules').set({ last_run_at: to }).where('id', '=', id).where('last_run_at', '=', from).executeTakeFirst();
    return Number(res.numUpdatedRows) === 1;
  }

  async deleteSchedule(projectId: string, addonId: string, id: string): Promise<boolean> {
    const res = await this.db.deleteFrom('addon_backup_schedules').where('project_id', '=', projectId).where('addon_id', '=', addonId).where('id', '=', id).executeTakeFirst();
    return Number(res.numDeletedRows) === 1;
  }

  async deleteSchedules(projectId: string, addonId: string): Promise<void> {
    await this.db.deleteFrom('addon_backup_schedules').where('project_id', '=', projectId).where('addon_id', '=', addonId).execute();
  }

  // Restores

  private toRestore(r: RestoreRow): AddonRestoreRecord {
    return {
      projectId: r.project_id,
      addonId: r.addon_id,
      id: r.id,
      backupId: r.backup_id,
      status: r.status as AddonJobStatus,
      ...(r.error ? { error: r.error } : {}),
      createdAt: r.created_at,
      ...(r.completed_at ? { completedAt: r.completed_at } : {}),
    };
  }

  async createRestore(r: { projectId: string; addonId: string; id: string; backupId: string }): Promise<AddonRestoreRecord> {
    const row: RestoreRow = { id: r.id, project_id: r.projectId, addon_id: r.addonId, backup_id: r.backupId, status: 'scheduled', error: null, created_at: new Date().toISOString(), completed_at: null };
    await this.db.insertInto('addon_restores').values(row).execute();
    return this.toRestore(row);
  }

  /** An addon's restores, newest first; optionally of one backup, or only those in the given statuses. */
  async listRestores(projectId: string, addonId: string, opts: { backupId?: string; statuses?: AddonJobStatus[]; limit?: number } = {}): Promise<AddonRestoreRecord[]> {
    let q = this.db.selectFrom('addon_restores').selectAll().where('project_id', '=', projectId).where('addon_id', '=', addonId).orderBy('created_at', 'desc').orderBy('id', 'desc').limit(opts.limit ?? 1000);
    if (opts.backupId) q = q.where('backup_id', '=', opts.backupId);
    if (opts.statuses) q = q.where('status', 'in', opts.statuses);
    return (await q.execute()).map((r) => this.toRestore(r));
  }

  async setRestoreStatus(id: string, status: AddonJobStatus, error?: string): Promise<void> {
    const done = status === 'completed' || status === 'failed' || status === 'aborted';
    await this.db
      .updateTable('addon_restores')
      .set({ status, error: error ?? null, ...(done ? { completed_at: new Date().toISOString() } : {}) })
      .where('id', '=', id)
      .execute();
  }
}
