import type { Kysely } from 'kysely';
import type { Database } from './schema.ts';
import { ConflictError, NotFoundError, VersionConflictError } from '../errors/errors.ts';
import { isUniqueViolation } from './unique-violation.ts';
import type { BackupStatus, VolumeBackupRecord, VolumeOperation, VolumeRecord, VolumeSpec, VolumeStatus } from '../domain/volume.ts';

/**
 * Volumes and their backups. Every change of a volume row is version-checked (VersionConflictError when it
 * moved since it was read); the operation column is set only where none runs and cleared only by the
 * operation it names, so two operations never interleave and a finished one never clears a newer one.
 */
export class VolumesRepo {
  constructor(private readonly db: Kysely<Database>) {}

  private toRecord(row: Database['volumes']): VolumeRecord {
    return {
      projectId: row.project_id,
      id: row.id,
      uid: row.uid,
      spec: JSON.parse(row.spec) as VolumeSpec,
      attachedServiceId: row.attached_service_id,
      status: row.status as VolumeStatus,
      operation: row.operation ? (JSON.parse(row.operation) as VolumeOperation) : null,
      usageBytes: row.usage_bytes === null ? null : Number(row.usage_bytes),
      version: row.version,
      createdAt: row.created_at,
      updatedAt: row.updated_at,
    };
  }

  /** Insert; ConflictError if the id is taken in the project or the service already has a volume. */
  async create(v: { projectId: string; id: string; uid: string; spec: VolumeSpec; attachedServiceId: string | null; status: VolumeStatus; operation: VolumeOperation | null }): Promise<VolumeRecord> {
    const now = new Date().toISOString();
    const row: Database['volumes'] = {
      id: v.id,
      project_id: v.projectId,
      uid: v.uid,
      name: v.spec.name,
      spec: JSON.stringify(v.spec),
      attached_service_id: v.attachedServiceId,
      status: v.status,
      operation: v.operation ? JSON.stringify(v.operation) : null,
      usage_bytes: null,
      version: 1,
      created_at: now,
      updated_at: now,
    };
    try {
      await this.db.insertInto('volumes').values(row).execute();
    } catch (err) {
      if (isUniqueViolation(err)) {
        const taken = await this.find(v.projectId, v.id);
        throw new ConflictError(taken ? `volume '${v.id}' already exists in project '${v.projectId}'` : `service '${v.attachedServiceId}' already has a volume attached`);
      }
      throw err;
    }
    return this.toRecord(row);
  }

  async find(projectId: string, id: string): Promise<VolumeRecord | undefined> {
    const row = await this.db.selectFrom('volumes').selectAll().where('project_id', '=', projectId).where('id', '=', id).executeTakeFirst();
    return row ? this.toRecord(row) : undefined;
  }

  async get(projectId: string, id: string): Promise<VolumeRecord> {
    const v = await this.find(projectId, id);
    if (!v) throw new NotFoundError('volume', id);
    return v;
  }

  /** The volume attached to a service, if any. */
  async forService(projectId: string, serviceId: string): Promise<VolumeRecord | undefined> {
    const row = await this.db.selectFrom('volumes').selectAll().where('project_id', '=', projectId).where('attached_service_id', '=', serviceId).executeTakeFirst();
    return row ? this.toRecord(row) : undefined;
  }

  /** A project's volumes ordered by id, a page after `after`. */
  async list(projectId: string, page: { after?: string; limit: number }): Promise<VolumeRecord[]> {
    let q = this.db.selectFrom('volumes').selectAll().where('project_id', '=', projectId).orderBy('id').limit(page.limit);
    if (page.after) q = q.where('id', '>', page.after);
    return (await q.execute()).map((r) => this.toRecord(r));
  }

  /** Every volume's key and storage uid (resync and the sweep of orphaned directories). */
  async listAll(): Promise<{ projectId: string; id: string; uid: string }[]> {
    return (await this.db.selectFrom('volumes').select(['project_id', 'id', 'uid']).execute()).map((r) => ({ projectId: r.project_id, id: r.id, uid: r.uid }));
  }

  /**
   * Change a volume if its version is still `v.version`: VersionConflictError otherwise, ConflictError when
   * the service it would attach to already has another volume.
   */
  async update(v: VolumeRecord, change: { spec?: VolumeSpec; attachedServiceId?: string | null; status?: VolumeStatus; operation?: VolumeOperation | null }): Promise<VolumeRecord> {
    let res;
    try {
      res = await this.db
        .updateTable('volumes')
        .set({
          ...(change.spec ? { spec: JSON.stringify(change.spec), name: change.spec.name } : {}),
          ...(change.attachedServiceId !== undefined ? { attached_service_id: change.attachedServiceId } : {}),
          ...(change.status ? { status: change.status } : {}),
          ...(change.operation !== undefined ? { operation: change.operation ? JSON.stringify(change.operation) : null } : {}),
          version: v.version + 1,
          updated_at: new Date().toISOString(),
        })
        .where('project_id', '=', v.projectId)
        .where('id', '=', v.id)
        .where('version', '=', v.version)
        .executeTakeFirst();
    } catch (err) {
      if (isUniqueViolation(err)) throw new ConflictError(`service '${change.attachedServiceId}' already has a volume attached`);
      throw err;
    }
    if (Number(res.numUpdatedRows) === 0) {
      await this.get(v.projectId, v.id);
      throw new VersionConflictError(`volume '${v.id}' was modified concurrently; retry`);
    }
    return this.get(v.projectId, v.id);
  }

  /** Record measured usage (not a user change: no version bump). */
  async setUsage(projectId: string, id: string, usageBytes: number): Promise<void> {
    await this.db.updateTable('volumes').set({ usage_bytes: usageBytes }).where('project_id', '=', projectId).where('id', '=', id).execute();
  }

  /** Delete the row; NotFoundError if it is gone. Backups stay (a new volume can be made from them) until deleted. */
  async delete(projectId: string, id: string): Promise<void> {
    const res = await this.db.deleteFrom('volumes').where('project_id', '=', projectId).where('id', '=', id).executeTakeFirst();
    if (Number(res.numDeletedRows) === 0) throw new NotFoundError('volume', id);
  }

  // Backups

  private toBackup(row: Database['volume_backups']): VolumeBackupRecord {
    return {
      id: row.id,
      projectId: row.project_id,
      volumeId: row.volume_id,
      name: row.name,
      description: row.description,
      status: row.status as BackupStatus,
      source: JSON.parse(row.source) as VolumeBackupRecord['source'],
      sizeBytes: row.size_bytes === null ? null : Number(row.size_bytes),
      message: row.message,
      createdAt: row.created_at,
      updatedAt: row.updated_at,
    };
  }

  async createBackup(b: { id: string; projectId: string; volumeId: string; name: string; description?: string; source: VolumeBackupRecord['source'] }): Promise<VolumeBackupRecord> {
    const now = new Date().toISOString();
    const row: Database['volume_backups'] = { id: b.id, project_id: b.projectId, volume_id: b.volumeId, name: b.name, description: b.description ?? null, status: 'pending', source: JSON.stringify(b.source), size_bytes: null, message: null, created_at: now, updated_at: now };
    await this.db.insertInto('volume_backups').values(row).execute();
    return this.toBackup(row);
  }

  async findBackup(projectId: string, volumeId: string, id: string): Promise<VolumeBackupRecord | undefined> {
    const row = await this.db.selectFrom('volume_backups').selectAll().where('id', '=', id).where('project_id', '=', projectId).where('volume_id', '=', volumeId).executeTakeFirst();
    return row ? this.toBackup(row) : undefined;
  }

  async getBackup(projectId: string, volumeId: string, id: string): Promise<VolumeBackupRecord> {
    const b = await this.findBackup(projectId, volumeId, id);
    if (!b) throw new NotFoundError('backup', id);
    return b;
  }

  /** A backup by id within a project, whichever volume it was taken of (a new volume's source). */
  async findProjectBackup(projectId: string, id: string): Promise<VolumeBackupRecord | undefined> {
    const row = await this.db.selectFrom('volume_backups').selectAll().where('id', '=', id).where('project_id', '=', projectId).executeTakeFirst();
    return row ? this.toBackup(row) : undefined;
  }

  /** A volume's backups, newest first by id order of creation (ids sort by time: see VolumesService). */
  async listBackups(projectId: string, volumeId: string, page: { after?: string; limit: number }): Promise<VolumeBackupRecord[]> {
    let q = this.db.selectFrom('volume_backups').selectAll().where('project_id', '=', projectId).where('volume_id', '=', volumeId).orderBy('id').limit(page.limit);
    if (page.after) q = q.where('id', '>', page.after);
    return (await q.execute()).map((r) => this.toBackup(r));
  }

  async allBackupIds(): Promise<string[]> {
    return (await this.db.selectFrom('volume_backups').select('id').execute()).map((r) => r.id);
  }

  async setBackupStatus(id: string, status: BackupStatus, extra: { sizeBytes?: number; message?: string | null } = {}): Promise<void> {
    await this.db
      .updateTable('volume_backups')
      .set({ status, updated_at: new Date().toISOString(), ...(extra.sizeBytes !== undefined ? { size_bytes: extra.sizeBytes } : {}), ...(extra.message !== undefined ? { message: extra.message } : {}) })
      .where('id', '=', id)
      .execute();
  }

  async deleteBackup(projectId: string, volumeId: string, id: string): Promise<void> {
    const res = await this.db.deleteFrom('volume_backups').where('id', '=', id).where('project_id', '=', projectId).where('volume_id', '=', volumeId).executeTakeFirst();
    if (Number(res.numDeletedRows) === 0) throw new NotFoundError('backup', id);
  }
}
