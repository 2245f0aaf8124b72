/**
 * Backups of an addon for every API face: its backup schedules, backups taken now, imports (from a live
 * database, a URL or an uploaded dump), restores, and downloads. Validates before it writes, as the addons
 * service does (whose `backups` this is); the addon controller takes the backups and runs the restores
 * (it is told through `changed`).
 */
import type { Readable } from 'node:stream';
import type { Store } from '../store/store.ts';
import type { AuthService, Principal } from '../services/auth.ts';
import {
  addonKey,
  majorOf,
  scheduleProblems,
  type AddonBackupRecord,
  type AddonBackupSchedule,
  type BackupScheduleSpec,
  type AddonRecord,
  type AddonRestoreRecord,
} from '../domain/addons.ts';
import { randomId } from '../domain/ids.ts';
import { BackupFiles } from './destinations/backup-files.ts';
import { ConflictError, NotFoundError, UnsupportedError, ValidationError, type FieldProblem } from '../errors/errors.ts';
import type { AddonEngine } from './engines/engine.ts';
import { backupFile } from './places.ts';
import { scheduleDump } from './backups.ts';
import { scheduleImport, scheduleUpload, type ImportInput, type UploadInput } from './imports.ts';

/** What backups ask of the addon they belong to, which the addons service answers. */
export interface AddonAccess {
  /** The addon, for a caller who may read it. */
  get(caller: Principal, projectId: string, addonId: string): Promise<AddonRecord>;
  /** The addon, for a caller who may change it; refused (409) while it is being deleted. */
  live(caller: Principal, projectId: string, addonId: string): Promise<AddonRecord>;
  /** The engine of a type this installation runs; refused (400 naming `type`) otherwise. */
  engineFor(type: string): AddonEngine;
}

/** A backup asked for now (Northflank's `backup.addon`). */
export interface BackupInput {
  name?: string;
  backupType?: string;
  compressionType?: string;
  customDestinationId?: string;
  additionalDestinations?: unknown[];
}

export interface AddonBackupsOptions {
  dataDir: string;
  changed(key: string): void;
}

export class AddonBackupsService {
  /** where backups' files are: the data directory, or a backup destination */
  private readonly files: BackupFiles;

  constructor(
    private readonly store: Store,
    private readonly auth: AuthService,
    private readonly addons: AddonAccess,
    private readonly opts: AddonBackupsOptions,
  ) {
    this.files = new BackupFiles(store, opts.dataDir);
  }

  /** Northflank's rules for a set of schedules: valid fields per interval, one per interval and backup type. */
  checkSchedules(schedules: BackupScheduleSpec[], existing: BackupScheduleSpec[], problems: FieldProblem[], unsupported: FieldProblem[], prefix = 'backupSchedules'): void {
    const seen = new Set(existing.map((s) => `${s.scheduling.interval}/${s.backupType}`));
    schedules.forEach((s, i) => {
      const at = prefix === 'backupSchedules' ? `${prefix}.${i}` : prefix;
      problems.push(...scheduleProblems(s, at));
      if ((s as { additionalDestinations?: unknown[] }).additionalDestinations?.length) unsupported.push({ field: `${at}.additionalDestinations`, rule: 'supported', message: 'additional backup destinations are not available here: backups are kept in the data directory' });
      const key = `${s.scheduling.interval}/${s.backupType}`;
      if (seen.has(key)) problems.push({ field: `${at}.scheduling.interval`, rule: 'unique', message: `an addon has one ${s.scheduling.interval} ${s.backupType} schedule at most` });
      seen.add(key);
    });
  }

  /** Every backup destination named by schedules exists (400 naming the schedule's field otherwise). */
  async checkScheduleDestinations(schedules: BackupScheduleSpec[] | undefined, prefix = 'backupSchedules'): Promise<void> {
    const problems: FieldProblem[] = [];
    for (const [i, s] of (schedules ?? []).entries()) {
      const field = prefix ? `${prefix}.${i}.customDestinationId` : 'customDestinationId';
      if (s.customDestinationId && !(await this.store.backupDestinations.find(s.customDestinationId))) problems.push({ field, rule: 'exists', message: `no backup destination '${s.customDestinationId}'` });
    }
    if (problems.length) throw new ValidationError(problems);
  }

  /** A backup destination named by a backup or import exists (400 naming `customDestinationId` otherwise). */
  private async checkDestination(id: string | undefined): Promise<void> {
    if (id !== undefined && !(await this.store.backupDestinations.find(id))) throw ValidationError.one('customDestinationId', 'exists', `no backup destination '${id}'`);
  }

  /** The record with where it is stored. */
  private async located(b: AddonBackupRecord): Promise<AddonBackupRecord> {
    const destinationId = await this.files.destinationOf(b.id);
    return destinationId ? { ...b, destinationId } : b;
  }

  async saveSchedules(projectId: string, addonId: string, schedules: BackupScheduleSpec[]): Promise<AddonBackupSchedule[]> {
    const out: AddonBackupSchedule[] = [];
    for (const s of schedules) {
      const spec: BackupScheduleSpec = { scheduling: s.scheduling, backupType: s.backupType, retentionTime: s.retentionTime, ...(s.compressionType ? { compressionType: s.compressionType } : {}), ...(s.customDestinationId ? { customDestinationId: s.customDestinationId } : {}) };
      out.push(await this.store.addons.createSchedule({ id: randomId('schedule'), projectId, addonId, spec }));
    }
    return out;
  }

  async listSchedules(caller: Principal, projectId: string, addonId: string): Promise<AddonBackupSchedule[]> {
    await this.addons.get(caller, projectId, addonId);
    return this.store.addons.listSchedules(projectId, addonId);
  }

  async createSchedule(caller: Principal, projectId: string, addonId: string, input: BackupScheduleSpec): Promise<AddonBackupSchedule> {
    await this.addons.live(caller, projectId, addonId);
    await this.checkScheduleDestinations([input], '');
    const problems: FieldProblem[] = [];
    const unsupported: FieldProblem[] = [];
    this.checkSchedules([input], (await this.store.addons.listSchedules(projectId, addonId)).map((s) => s.spec), problems, unsupported, '');
    for (const p of problems) p.field = p.field.replace(/^\./, '');
    for (const p of unsupported) p.field = p.field.replace(/^\./, '');
    if (problems.length) throw new ValidationError(problems);
    if (unsupported.length) throw new UnsupportedError(unsupported);
    const [s] = await this.saveSchedules(projectId, addonId, [input]);
    this.opts.changed(addonKey(projectId, addonId));
    return s;
  }

  async deleteSchedule(caller: Principal, projectId: string, addonId: string, scheduleId: string): Promise<void> {
    await this.addons.live(caller, projectId, addonId);
    if (!(await this.store.addons.deleteSchedule(projectId, addonId, scheduleId))) throw new NotFoundError('backup schedule', scheduleId);
  }

  /** Keep a backup a schedule made past its retention time. */
  async retainBackup(caller: Principal, projectId: string, addonId: string, backupId: string): Promise<void> {
    this.auth.authorize(caller, projectId, 'write');
    await this.getBackup(caller, projectId, addonId, backupId);
    await this.store.addons.retainBackup(backupId);
  }

  /** What keeps the addon busy now: a backup or restore scheduled or running, if any. */
  async busy(projectId: string, addonId: string): Promise<'backup' | 'restore' | undefined> {
    if ((await this.store.addons.listRestores(projectId, addonId, { statuses: ['scheduled', 'in-progress'], limit: 1 })).length) return 'restore';
    if ((await this.store.addons.listBackups(projectId, addonId, { limit: 1, statuses: ['scheduled', 'in-progress'] })).length) return 'backup';
    return undefined;
  }

  async backup(caller: Principal, projectId: string, addonId: string, input: BackupInput): Promise<AddonBackupRecord> {
    const a = await this.addons.live(caller, projectId, addonId);
    const unsupported: FieldProblem[] = [];
    if (input.additionalDestinations?.length) unsupported.push({ field: 'additionalDestinations', rule: 'supported', message: 'additional backup destinations are not available here: a backup is stored in one place (customDestinationId, or the data directory)' });
    if (unsupported.length) throw new UnsupportedError(unsupported);
    await this.checkDestination(input.customDestinationId);
    if (a.paused) throw new ConflictError(`addon '${addonId}' is paused: resume it to back it up`);
    const b = await scheduleDump(this.store, a, this.addons.engineFor(a.spec.type), { name: input.name, backupType: input.backupType === 'snapshot' ? 'snapshot' : 'dump', ...(input.customDestinationId ? { destinationId: input.customDestinationId } : {}) });
    this.opts.changed(addonKey(projectId, addonId));
    return b;
  }

  /**
   * Import into the addon (Northflank's `import.addon.backup`): a live database named by `connectionString`,
   * or a dump downloaded from `importUrl`, taken as a backup of this addon and then restored into it. What
   * the import reads is sealed with the backup and dropped once it ran (imports.ts).
   */
  async importBackup(caller: Principal, projectId: string, addonId: string, input: ImportInput): Promise<{ backup: AddonBackupRecord; restore: AddonRestoreRecord }> {
    const a = await this.addons.live(caller, projectId, addonId);
    await this.checkDestination(input.customDestinationId);
    const made = await scheduleImport(this.store, a, this.addons.engineFor(a.spec.type), input);
    this.opts.changed(addonKey(projectId, addonId));
    return made;
  }

  /**
   * Import an uploaded dump (`body`, the request's bytes) into the addon: checked while it is received and
   * refused by field `file` with nothing made, else taken as a backup of this addon and then restored into it.
   */
  async importUpload(caller: Principal, projectId: string, addonId: string, body: Readable, input: UploadInput): Promise<{ backup: AddonBackupRecord; restore: AddonRestoreRecord }> {
    const a = await this.addons.live(caller, projectId, addonId);
    await this.checkDestination(input.customDestinationId);
    const made = await scheduleUpload(this.store, a, this.addons.engineFor(a.spec.type), this.opts.dataDir, body, input);
    this.opts.changed(addonKey(projectId, addonId));
    return made;
  }

  async listBackups(caller: Principal, projectId: string, addonId: string): Promise<AddonBackupRecord[]> {
    await this.addons.get(caller, projectId, addonId);
    return Promise.all((await this.store.addons.listBackups(projectId, addonId, { limit: 1000 })).map((b) => this.located(b)));
  }

  async getBackup(caller: Principal, projectId: string, addonId: string, backupId: string): Promise<AddonBackupRecord> {
    await this.addons.get(caller, projectId, addonId);
    const b = await this.store.addons.findBackup(backupId);
    if (!b || b.projectId !== projectId || b.addonId !== addonId) throw new NotFoundError('backup', backupId);
    return this.located(b);
  }

  async deleteBackup(caller: Principal, projectId: string, addonId: string, backupId: string): Promise<void> {
    this.auth.authorize(caller, projectId, 'write');
    const b = await this.getBackup(caller, projectId, addonId, backupId);
    if (b.status === 'scheduled' || b.status === 'in-progress') throw new ConflictError(`backup '${backupId}' is ${b.status}: delete it once it has finished`);
    const restoring = await this.store.addons.listRestores(projectId, addonId, { backupId, statuses: ['scheduled', 'in-progress'] });
    if (restoring.length) throw new ConflictError(`backup '${backupId}' is being restored: delete it once the restore has finished`);
    // The file first (the object at a destination, which may refuse): the record goes once it is gone.
    await this.files.remove(b);
    await this.store.addons.deleteBackup(backupId);
  }

  /**
   * Restore a backup into the addon. The backup is the addon's own, or another addon's named by
   * `source` (the same type); it must have completed.
   */
  async restore(caller: Principal, projectId: string, addonId: string, backupId: string, source: { projectId?: string; addonId?: string } = {}): Promise<AddonRestoreRecord> {
    const a = await this.addons.live(caller, projectId, addonId);
    const fromProject = source.projectId ?? projectId;
    const fromAddon = source.addonId ?? addonId;
    if (fromProject !== projectId) this.auth.authorize(caller, fromProject, 'read');
    const b = await this.store.addons.findBackup(backupId);
    if (!b || b.projectId !== fromProject || b.addonId !== fromAddon) {
      if (b && b.projectId === fromProject && !source.addonId) throw ValidationError.one('backupId', 'sameAddon', `backup '${backupId}' belongs to addon '${b.addonId}', not '${addonId}': name it with sourceAddonId to restore it here`);
      throw new NotFoundError('backup', backupId);
    }
    if (b.addonType !== a.spec.type) throw ValidationError.one('backupId', 'type', `backup '${backupId}' is of a ${b.addonType} addon; '${addonId}' is ${a.spec.type}`);
    if (b.backupType === 'snapshot' && majorOf(b.addonVersion) !== majorOf(a.spec.version)) throw ValidationError.one('backupId', 'version', `snapshot '${backupId}' holds ${b.addonType} ${b.addonVersion} data files; '${addonId}' runs ${a.spec.version}: restore a dump instead`);
    if (b.status !== 'completed') throw new ConflictError(`backup '${backupId}' is ${b.status}: only a completed backup can be restored`);
    if (a.paused) throw new ConflictError(`addon '${addonId}' is paused: resume it to restore into it`);
    const r = await this.store.addons.createRestore({ projectId, addonId, id: randomId('restore'), backupId });
    this.opts.changed(addonKey(projectId, addonId));
    return r;
  }

  async listRestores(caller: Principal, projectId: string, addonId: string, backupId?: string): Promise<AddonRestoreRecord[]> {
    await this.addons.get(caller, projectId, addonId);
    if (backupId) await this.getBackup(caller, projectId, addonId, backupId).catch(async (err) => {
      // A backup of another addon restored here still lists its restores into this addon.
      if (!(await this.store.addons.findBackup(backupId))) throw err;
    });
    return this.store.addons.listRestores(projectId, addonId, { backupId });
  }

  /** The file of a completed backup, for a download. */
  async backupPath(caller: Principal, projectId: string, addonId: string, backupId: string): Promise<{ path: string; backup: AddonBackupRecord }> {
    const b = await this.getBackup(caller, projectId, addonId, backupId);
    if (b.status !== 'completed') throw new ConflictError(`backup '${backupId}' is ${b.status}: only a completed backup can be downloaded`);
    return { path: backupFile(this.opts.dataDir, projectId, addonId, b.file), backup: b };
  }

  /** A completed backup's bytes, from the data directory or its backup destination, for a download. */
  async openBackup(caller: Principal, projectId: string, addonId: string, backupId: string): Promise<{ backup: AddonBackupRecord; body: Readable; length?: number }> {
    const { backup } = await this.backupPath(caller, projectId, addonId, backupId);
    return { backup, ...(await this.files.open(backup)) };
  }
}
