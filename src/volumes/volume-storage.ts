/**
 * Where volumes and their backups live on the host, under the data directory:
 *
 *   <data dir>/volumes/<uid>/data         the volume's files (what instances mount)
 *   <data dir>/volumes/<uid>/incoming     a restore being copied in (then swapped for data)
 *   <data dir>/volumes/<uid>/outgoing     the replaced data of a restore, until removed
 *   <data dir>/volume-backups/<id>/       a completed backup (a full copy of data)
 *   <data dir>/volume-backups/<id>.partial  a backup being copied
 *
 * Every step can be interrupted (a kill -9 of the control plane) and run again: a copy goes to a staging
 * name first and is renamed into place whole, so a reader never sees half a backup or half a restore.
 */
import fs from 'node:fs';
import path from 'node:path';

export class VolumeStorage {
  private readonly volumesRoot: string;
  private readonly backupsRoot: string;

  constructor(dataDir: string) {
    this.volumesRoot = path.join(dataDir, 'volumes');
    this.backupsRoot = path.join(dataDir, 'volume-backups');
  }

  /** The host directory holding a volume's files. */
  dataPath(uid: string): string {
    return path.join(this.volumesRoot, safe(uid), 'data');
  }

  /**
   * The host directory a mount shows: the volume's root or a subdirectory of it (created on demand). The
   * volume's contents are the app's: a symbolic link on the way (say `sub -> /`) would have the runtime bind
   * a host directory into the instance, so every component is checked with lstat and a link is refused.
   */
  mountPath(uid: string, subPath: string): string {
    let p = this.dataPath(uid);
    fs.mkdirSync(p, { recursive: true });
    for (const part of subPath.split('/').filter((x) => x && x !== '.')) {
      if (part === '..') throw new Error(`volume mount path '${subPath}' leaves the volume`);
      p = path.join(p, part);
      const st = fs.lstatSync(p, { throwIfNoEntry: false });
      if (!st) fs.mkdirSync(p);
      else if (!st.isDirectory()) throw new Error(`volume mount path '${subPath}' is not a directory inside the volume (a symbolic link or a file is in the way)`);
    }
    return p;
  }

  exists(uid: string): boolean {
    return fs.existsSync(this.dataPath(uid));
  }

  /** Create the volume's directory if missing. Idempotent. */
  ensure(uid: string): void {
    fs.mkdirSync(this.dataPath(uid), { recursive: true });
  }

  /** Remove a volume's files. Idempotent. */
  async remove(uid: string): Promise<void> {
    await fs.promises.rm(path.join(this.volumesRoot, safe(uid)), { recursive: true, force: true });
  }

  /** Copy the volume's files into a backup; resolves with the backup's size in bytes. Run with the volume unused. */
  async snapshot(uid: string, backupId: string): Promise<number> {
    const dest = path.join(this.backupsRoot, safe(backupId));
    const partial = `${dest}.partial`;
    await fs.promises.rm(partial, { recursive: true, force: true });
    await fs.promises.mkdir(this.backupsRoot, { recursive: true });
    this.ensure(uid);
    await copyTree(this.dataPath(uid), partial);
    await fs.promises.rm(dest, { recursive: true, force: true });
    await fs.promises.rename(partial, dest);
    return treeBytes(dest);
  }

  hasBackup(backupId: string): boolean {
    return fs.existsSync(path.join(this.backupsRoot, safe(backupId)));
  }

  /** Replace the volume's files by a backup's. Run with the volume unused. Throws if the backup's files are gone. */
  async restore(uid: string, backupId: string): Promise<void> {
    const src = path.join(this.backupsRoot, safe(backupId));
    if (!fs.existsSync(src)) throw new Error(`the files of backup '${backupId}' are missing`);
    const base = path.join(this.volumesRoot, safe(uid));
    const data = this.dataPath(uid);
    const incoming = path.join(base, 'incoming');
    const outgoing = path.join(base, 'outgoing');
    await fs.promises.mkdir(base, { recursive: true });
    await fs.promises.rm(incoming, { recursive: true, force: true });
    await copyTree(src, incoming);
    await fs.promises.rm(outgoing, { recursive: true, force: true });
    if (fs.existsSync(data)) await fs.promises.rename(data, outgoing);
    await fs.promises.rename(incoming, data);
    await fs.promises.rm(outgoing, { recursive: true, force: true });
  }

  async removeBackup(backupId: string): Promise<void> {
    const dest = path.join(this.backupsRoot, safe(backupId));
    await fs.promises.rm(dest, { recursive: true, force: true });
    await fs.promises.rm(`${dest}.partial`, { recursive: true, force: true });
  }

  /** Bytes the volume's files take (apparent sizes). */
  async usageBytes(uid: string): Promise<number> {
    return treeBytes(this.dataPath(uid));
  }

  /**
   * Remove directories no volume or backup in the store names any more (left by a crash mid-delete, or by a
   * project deleted with its volumes). Only entries untouched for `minAgeMs`: another control plane sharing
   * the store may have created the row after `known*` was read and be filling the directory now.
   */
  async sweep(knownUids: Set<string>, knownBackups: Set<string>, minAgeMs = 10 * 60_000): Promise<string[]> {
    const removed: string[] = [];
    // Whole milliseconds, as Date.now() counts them: a file written within the current millisecond has an mtime
    // up to a millisecond past Date.now(), and is still untouched for 0 ms.
    const old = (p: string) => Date.now() - Math.floor(fs.statSync(p, { throwIfNoEntry: false })?.mtimeMs ?? 0) >= minAgeMs;
    for (const name of listDir(this.volumesRoot)) {
      if (knownUids.has(name) || !old(path.join(this.volumesRoot, name))) continue;
      await fs.promises.rm(path.join(this.volumesRoot, name), { recursive: true, force: true });
      removed.push(`volumes/${name}`);
    }
    for (const name of listDir(this.backupsRoot)) {
      if (knownBackups.has(name.replace(/\.partial$/, '')) || !old(path.join(this.backupsRoot, name))) continue;
      await fs.promises.rm(path.join(this.backupsRoot, name), { recursive: true, force: true });
      removed.push(`volume-backups/${name}`);
    }
    return removed;
  }
}

function safe(name: string): string {
  if (!/^[a-z0-9][a-z0-9-]*$/.test(name)) throw new Error(`invalid storage name '${name}'`);
  return name;
}

function listDir(dir: string): string[] {
  try {
    return fs.readdirSync(dir);
  } catch {
    return [];
  }
}

async function copyTree(src: string, dest: string): Promise<void> {
  await fs.promises.cp(src, dest, { recursive: true, preserveTimestamps: true, verbatimSymlinks: true, errorOnExist: false, force: true });
}

async function treeBytes(dir: string): Promise<number> {
  let total = 0;
  const walk = async (d: string) => {
    let entries: fs.Dirent[];
    try {
      entries = await fs.promises.readdir(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else if (e.isFile()) total += (await fs.promises.lstat(p).catch(() => ({ size: 0 }))).size;
    }
  };
  await walk(dir);
  return total;
}
