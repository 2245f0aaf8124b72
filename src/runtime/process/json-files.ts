/**
 * The small JSON files an instance directory holds, read for every look at an instance (each service pass
 * and the watch look at every instance of theirs). A file is parsed again only when it has changed: a
 * stat (a fifth of a read and parse) says whether it is the same file as last time.
 */
import fs from 'node:fs';
import path from 'node:path';

/** Parsed JSON of a file; undefined if it is absent or not whole JSON (being written). */
export function readJson<T>(file: string): T | undefined {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as T;
  } catch {
    return undefined;
  }
}

/**
 * A file is taken to be unchanged while its inode, size and change time are. File systems stamp times from a
 * coarse clock (a tick of a few milliseconds), so a write within the same tick as the one read could keep
 * the stamp: a file read less than this long after its change time is read again next time.
 */
const RACY_MS = 50;

interface Kept {
  ino: number;
  size: number;
  ctimeMs: number;
  /** when the stat before the read was taken */
  statAt: number;
  value: unknown;
}

/**
 * Keeps each file's parsed value with the identity it had when read (see RACY_MS), by directory. Values are
 * frozen (their top level and the objects in it): every reader shares them. Files written by rename (a new
 * inode) or created once are what it is for; a file rewritten in place within RACY_MS of a read is read again
 * too. A file that is absent costs one stat that finds nothing (a fifth of a read that throws).
 */
export class JsonFiles {
  private readonly kept = new Map<string, Map<string, Kept>>();

  constructor(private readonly stat: (file: string) => Pick<fs.Stats, 'ino' | 'size' | 'ctimeMs'> | undefined = (file) => fs.statSync(file, { throwIfNoEntry: false })) {}

  /** The file's JSON object; undefined if it is absent, or not a whole JSON object (being written). */
  read<T extends object>(file: string): T | undefined {
    const dir = path.dirname(file);
    const name = path.basename(file);
    const inDir = this.kept.get(dir);
    const statAt = Date.now();
    const st = this.stat(file);
    if (!st) {
      inDir?.delete(name);
      return undefined;
    }
    const k = inDir?.get(name);
    if (k && k.ino === st.ino && k.size === st.size && k.ctimeMs === st.ctimeMs && k.statAt - st.ctimeMs > RACY_MS) return k.value as T;
    const value = readJson<T>(file);
    if (!value || typeof value !== 'object') {
      inDir?.delete(name);
      return undefined;
    }
    for (const v of Object.values(value)) if (v && typeof v === 'object') Object.freeze(v);
    Object.freeze(value);
    const kept = inDir ?? new Map<string, Kept>();
    kept.set(name, { ino: st.ino, size: st.size, ctimeMs: st.ctimeMs, statAt, value });
    this.kept.set(dir, kept);
    return value;
  }

  /** Drops what is kept of the files in a directory (removed with its instance). */
  forgetDir(dir: string): void {
    this.kept.delete(dir);
  }

  /** Drops what is kept of files in any directory but these. */
  retainDirs(dirs: ReadonlySet<string>): void {
    for (const dir of this.kept.keys()) if (!dirs.has(dir)) this.kept.delete(dir);
  }
}
