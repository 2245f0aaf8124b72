/**
 * Backups and restores of an addon, run by the addon controller inside its pass once the server answers:
 * schedules make backups and remove expired ones, then scheduled backups are taken and scheduled restores
 * run, oldest first. A dump is made from the running server; a snapshot stops the server to archive its
 * data directory, and restoring one swaps that directory while the server is stopped.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Store } from '../store/store.ts';
import { addonKey, lastSlot, type AddonLogin, type AddonRecord } from '../domain/addons.ts';
import type { AddonEngine, EngineContext } from './engines/engine.ts';
import type { ServerUser } from './server-user.ts';
import { scheduleDump } from './backups.ts';
import type { BackupFiles } from './destinations/backup-files.ts';
import { downloadDump, uploadedFile } from './imports.ts';
import { run } from './engines/run.ts';
import { backupFile } from './places.ts';

/** What backups and restores ask of the addon's server, which the addon controller runs. */
export interface AddonServer {
  context(a: AddonRecord): Promise<EngineContext>;
  setStatus(a: AddonRecord, status: AddonRecord['status']): Promise<void>;
  /** Stop the primary, killed once the grace period is over. */
  stop(a: AddonRecord): Promise<void>;
  /** Start the primary and wait until it answers; `formerLogin`: the login restored data files may know instead of today's. */
  startAndWait(a: AddonRecord, engine: AddonEngine, formerLogin?: AddonLogin): Promise<void>;
  /** Stop every read replica and drop its data. */
  dropReplicas(a: AddonRecord): Promise<void>;
}

export interface AddonBackupRunnerOptions {
  dataDir: string;
  user: ServerUser;
  logger: { info(o: object, m: string): void; warn(o: object, m: string): void };
}

export class AddonBackupRunner {
  constructor(
    private readonly store: Store,
    /** where backups' files are: the data directory, or a backup destination */
    private readonly files: BackupFiles,
    private readonly server: AddonServer,
    private readonly opts: AddonBackupRunnerOptions,
  ) {}

  /** One pass's backup work, in this order: the schedules, the scheduled backups, the scheduled restores. */
  async run(a: AddonRecord, engine: AddonEngine): Promise<void> {
    await this.runSchedules(a, engine);
    await this.runBackups(a, engine);
    await this.runRestores(a, engine);
  }

  /**
   * Schedules: a slot that passed since the last one taken makes one backup (the slot is claimed with a
   * conditional update, so it never makes two); scheduled backups past their retention are removed unless
   * retained. Slots missed while the addon was paused or the control plane down yield one backup, not many.
   */
  private async runSchedules(a: AddonRecord, engine: AddonEngine): Promise<void> {
    const now = new Date();
    for (const s of await this.store.addons.listSchedules(a.projectId, a.id)) {
      const slot = lastSlot(s.spec, new Date(s.lastRunAt), now);
      if (!slot || !(await this.store.addons.claimSlot(s.id, s.lastRunAt, slot.toISOString()))) continue;
      const expiresAt = new Date(slot.getTime() + s.spec.retentionTime * 86_400_000).toISOString();
      await scheduleDump(this.store, a, engine, { name: `Scheduled ${s.spec.scheduling.interval} backup ${slot.toISOString().slice(0, 16).replace('T', ' ')}`, scheduleId: s.id, expiresAt, backupType: s.spec.backupType, ...(s.spec.customDestinationId ? { destinationId: s.spec.customDestinationId } : {}) });
    }
    for (const b of await this.store.addons.expiredBackups(a.projectId, a.id, now.toISOString())) {
      try {
        await this.files.remove(b);
      } catch (err) {
        this.opts.logger.warn({ addon: addonKey(a.projectId, a.id), backup: b.id, err: (err as Error).message }, 'expired backup could not be removed from its destination; retrying on the next pass');
        continue;
      }
      await this.store.addons.deleteBackup(b.id);
      this.opts.logger.info({ addon: addonKey(a.projectId, a.id), backup: b.id }, 'scheduled backup expired and removed');
    }
  }

  private async runBackups(a: AddonRecord, engine: AddonEngine): Promise<void> {
    const pending = (await this.store.addons.listBackups(a.projectId, a.id, { limit: 100, statuses: ['scheduled'] })).reverse();
    for (const b of pending) {
      const file = backupFile(this.opts.dataDir, a.projectId, a.id, b.file);
      fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
      await this.store.addons.setBackupStatus(b.id, 'in-progress');
      const partial = `${file}.partial`;
      try {
        if (b.backupType === 'snapshot') await this.snapshot(a, engine, b.id, partial);
        else if (b.sourceType === 'liveInstance') {
          const source = (await this.store.addons.backupSecrets(b.id))?.connectionString;
          if (!source) throw new Error('the import lost its connection string');
          await engine.dumpFrom(new URL(source), partial);
          // The connection string was needed for this one dump only.
          await this.store.addons.setBackupSecrets(b.id, null);
        } else if (b.sourceType === 'externalDump') {
          const source = (await this.store.addons.backupSecrets(b.id))?.importUrl;
          if (!source) throw new Error('the import lost its URL');
          await downloadDump(new URL(source), a.spec.type, partial, a.spec.billing.storage * 1048576);
          await this.store.addons.setBackupSecrets(b.id, null);
        } else if (b.sourceType === 'fileUpload') {
          // Received, unpacked and checked by the request that made the backup (imports.ts receiveDump).
          if (!fs.existsSync(uploadedFile(file))) throw new Error('the uploaded file is gone');
          fs.renameSync(uploadedFile(file), partial);
        } else await engine.dump(await this.server.context(a), partial);
        fs.renameSync(partial, file);
        const sizeBytes = fs.statSync(file).size;
        // A backup placed on a backup destination is complete once it is there (the local copy goes).
        await this.files.stored(b, file);
        await this.store.addons.finishBackup(b.id, { status: 'completed', sizeBytes });
        this.opts.logger.info({ addon: addonKey(a.projectId, a.id), backup: b.id }, 'addon backup completed');
      } catch (err) {
        fs.rmSync(partial, { force: true });
        fs.rmSync(file, { force: true });
        fs.rmSync(uploadedFile(file), { force: true });
        await this.store.addons.finishBackup(b.id, { status: 'failed', error: (err as Error).message.slice(0, 1000) });
        if (b.sourceType !== 'sameAddon') await this.store.addons.setBackupSecrets(b.id, null);
        this.opts.logger.warn({ addon: addonKey(a.projectId, a.id), backup: b.id, err: (err as Error).message }, 'addon backup failed');
        // An event, so alerts (trigger:addon-backup:failure) see it; the addon is named in the message.
        await this.store.events.append({ projectId: a.projectId, serviceId: null, kind: 'backup', reason: 'Failed', message: `addon ${a.id}: backup ${b.id} failed: ${(err as Error).message.slice(0, 300)}` });
      }
    }
  }

  /**
   * A snapshot: the server stopped (so its files are consistent), its data directory archived, the server
   * started again. The server's password of this moment is sealed with the backup: a restore reconnects
   * with it (PostgreSQL keeps its password in its data files).
   */
  private async snapshot(a: AddonRecord, engine: AddonEngine, backupId: string, file: string): Promise<void> {
    const ctx = await this.server.context(a);
    await this.server.setStatus(a, 'backup');
    await this.server.stop(a);
    try {
      await run('/usr/bin/tar', ['-czf', file, '-C', ctx.dataDir, '.'], { timeoutMs: 60 * 60_000 });
      await this.store.addons.setBackupSecrets(backupId, { username: ctx.secrets.username, password: ctx.secrets.password });
    } finally {
      await this.server.startAndWait(a, engine);
      await this.store.addons.mutate(a.projectId, a.id, () => ({ status: 'running', statusMessage: undefined }));
    }
  }

  /**
   * A snapshot restore: the archive is checked and unpacked beside the live data directory first; then, with
   * the server stopped, the directories are swapped and the server started on the restored files. If it
   * does not come up, the old directory is swapped back and started.
   */
  private async restoreSnapshot(a: AddonRecord, engine: AddonEngine, file: string, snapshotLogin: AddonLogin | undefined): Promise<void> {
    const ctx = await this.server.context(a);
    const live = ctx.dataDir;
    const next = `${live}.restore`;
    const prev = `${live}.replaced`;
    fs.rmSync(next, { recursive: true, force: true });
    fs.rmSync(prev, { recursive: true, force: true });
    fs.mkdirSync(next, { mode: 0o700 });
    try {
      await run('/usr/bin/tar', ['-xzf', file, '-C', next, '--no-same-permissions'], { timeoutMs: 60 * 60_000 });
      if (this.opts.user.drop) await run('/usr/bin/chown', ['-R', `${this.opts.user.uid}:${this.opts.user.gid}`, next]);
    } catch (err) {
      fs.rmSync(next, { recursive: true, force: true });
      throw err;
    }
    await this.server.dropReplicas(a);
    await this.server.stop(a);
    fs.renameSync(live, prev);
    fs.renameSync(next, live);
    try {
      await this.server.startAndWait(a, engine, snapshotLogin);
    } catch (err) {
      await this.server.stop(a);
      fs.rmSync(live, { recursive: true, force: true });
      fs.renameSync(prev, live);
      await this.server.startAndWait(a, engine);
      throw err;
    }
    fs.rmSync(prev, { recursive: true, force: true });
  }

  /** The login a snapshot's data files knew (its user, or the addon's user for one taken before rotations changed users). */
  private async snapshotLogin(backupId: string, a: AddonRecord): Promise<AddonLogin | undefined> {
    const sealed = await this.store.addons.backupSecrets(backupId);
    if (!sealed?.password) return undefined;
    return { username: sealed.username ?? (await this.store.addons.secrets(a.projectId, a.id)).username, password: sealed.password };
  }

  private async runRestores(a: AddonRecord, engine: AddonEngine): Promise<void> {
    const pending = (await this.store.addons.listRestores(a.projectId, a.id, { statuses: ['scheduled'] })).reverse();
    for (const r of pending) {
      const backup = await this.store.addons.findBackup(r.backupId);
      if (!backup || backup.status !== 'completed') {
        await this.store.addons.setRestoreStatus(r.id, 'failed', `backup '${r.backupId}' is not a completed backup`);
        continue;
      }
      await this.store.addons.setRestoreStatus(r.id, 'in-progress');
      await this.server.setStatus(a, 'restore');
      const server = { stop: () => this.server.stop(a), start: () => this.server.startAndWait(a, engine) };
      let fetched: { file: string; cleanup(): void } | undefined;
      try {
        // From its backup destination, a backup is fetched to a temporary file first.
        fetched = await this.files.materialize(backup);
        const file = fetched.file;
        if (backup.backupType === 'snapshot') await this.restoreSnapshot(a, engine, file, await this.snapshotLogin(backup.id, a));
        else await engine.restore(await this.server.context(a), file, server);
        await this.store.addons.setRestoreStatus(r.id, 'completed');
        this.opts.logger.info({ addon: addonKey(a.projectId, a.id), restore: r.id, backup: backup.id }, 'addon restore completed');
      } catch (err) {
        await this.store.addons.setRestoreStatus(r.id, 'failed', (err as Error).message.slice(0, 1000));
        this.opts.logger.warn({ addon: addonKey(a.projectId, a.id), restore: r.id, err: (err as Error).message }, 'addon restore failed; the data is as it was');
      } finally {
        fetched?.cleanup();
      }
      await this.store.addons.mutate(a.projectId, a.id, () => ({ status: 'running', statusMessage: undefined }));
    }
  }
}
