/**
 * Where a backup's file is. A dump or snapshot is always written under the data directory first
 * (`<data dir>/addons/<p>/<a>/backups/<file>`); a backup placed on a backup destination is then uploaded
 * (`<prefix>/<project>/<addon>/<file>`) and the local copy removed, and is fetched back for a restore
 * (into a temporary file beside where it was written, removed after) or streamed for a download. Removing
 * a backup removes the object too.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import type { Store } from '../../store/store.ts';
import type { AddonBackupRecord } from '../../domain/addons.ts';
import { backupFile } from '../places.ts';
import { S3Client } from './s3-client.ts';

type BackupRef = Pick<AddonBackupRecord, 'id' | 'projectId' | 'addonId' | 'file'>;

/** The object key of a backup at a destination with this prefix. */
export function objectKey(prefix: string, b: Pick<AddonBackupRecord, 'projectId' | 'addonId' | 'file'>): string {
  const p = prefix.replace(/^\/+|\/+$/g, '');
  return `${p ? `${p}/` : ''}${b.projectId}/${b.addonId}/${b.file}`;
}

export class BackupFiles {
  constructor(
    private readonly store: Store,
    private readonly dataDir: string,
  ) {}

  private local(b: BackupRef): string {
    return backupFile(this.dataDir, b.projectId, b.addonId, b.file);
  }

  private async client(destinationId: string): Promise<S3Client> {
    return new S3Client(await this.store.backupDestinations.credentials(destinationId));
  }

  /** Record that a backup (not yet taken) goes to a destination. */
  async place(b: BackupRef, destinationId: string): Promise<void> {
    const d = await this.store.backupDestinations.get(destinationId);
    await this.store.backupDestinations.place({ backupId: b.id, destinationId, objectKey: objectKey(d.prefix, b) });
  }

  /** The destination a backup is placed on, if any. */
  async destinationOf(backupId: string): Promise<string | undefined> {
    return (await this.store.backupDestinations.placement(backupId))?.destinationId;
  }

  /** A finished backup's file is complete at `file`: a placed one is uploaded, then the local copy removed. */
  async stored(b: BackupRef, file: string): Promise<void> {
    const placed = await this.store.backupDestinations.placement(b.id);
    if (!placed) return;
    await (await this.client(placed.destinationId)).putFile(placed.objectKey, file);
    fs.rmSync(file, { force: true });
  }

  /** The backup as a local file for a restore; `cleanup` removes a fetched copy (never the kept local file). */
  async materialize(b: BackupRef): Promise<{ file: string; cleanup(): void }> {
    const placed = await this.store.backupDestinations.placement(b.id);
    if (!placed) return { file: this.local(b), cleanup: () => {} };
    const tmp = `${this.local(b)}.fetched`;
    fs.mkdirSync(path.dirname(tmp), { recursive: true, mode: 0o700 });
    try {
      await (await this.client(placed.destinationId)).getFile(placed.objectKey, tmp);
    } catch (err) {
      fs.rmSync(tmp, { force: true });
      throw err;
    }
    return { file: tmp, cleanup: () => fs.rmSync(tmp, { force: true }) };
  }

  /** The backup's bytes for a download. */
  async open(b: BackupRef): Promise<{ body: Readable; length?: number }> {
    const placed = await this.store.backupDestinations.placement(b.id);
    if (placed) return (await this.client(placed.destinationId)).get(placed.objectKey);
    const file = this.local(b);
    return { body: fs.createReadStream(file), length: fs.statSync(file).size };
  }

  /** Remove the backup's file wherever it is (the object at its destination, the local file). */
  async remove(b: BackupRef): Promise<void> {
    const placed = await this.store.backupDestinations.placement(b.id);
    if (placed) {
      await (await this.client(placed.destinationId)).delete(placed.objectKey);
      await this.store.backupDestinations.unplace(b.id);
    }
    fs.rmSync(this.local(b), { force: true });
  }
}
