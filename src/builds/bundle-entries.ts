/**
 * The rules a source bundle's entries must follow before anything is written to disk, and whether its single
 * top-level directory (as in GitHub and `git archive --prefix` tarballs) is stripped.
 *
 * Allowed: regular files, directories, symlinks whose target stays inside the tree, and hard links to a file
 * that came earlier in the same archive. Refused: absolute paths, `..` segments, device files and FIFOs,
 * symlinks that leave the tree, and entries placed beneath a symlink (the classic write-through-a-link
 * escape). Symlink targets are checked here by their text; the extractor checks the real resolution after
 * writing, which also catches chains of links that are each harmless on their own.
 */
import path from 'node:path';

export interface BundleEntry {
  /** as written in the archive */
  path: string;
  /** node-tar's entry type name: File, Directory, SymbolicLink, Link, CharacterDevice, ... */
  type: string;
  linkpath?: string;
}

export interface BundlePlan {
  /** leading path segments to drop when extracting */
  strip: 0 | 1;
  /** one line per refused entry, in archive order */
  problems: string[];
}

const FILE_TYPES = new Set(['File', 'OldFile', 'ContiguousFile']);
const ALLOWED_TYPES = new Set([...FILE_TYPES, 'Directory', 'SymbolicLink', 'Link']);

/** Splits an archive path into segments without `.` and empty parts; undefined when it is absolute or climbs with `..`. */
function segments(p: string): string[] | undefined {
  if (p.startsWith('/') || /^[A-Za-z]:/.test(p)) return undefined;
  const parts = p.split('/').filter((s) => s !== '' && s !== '.');
  return parts.includes('..') ? undefined : parts;
}

export function planBundle(entries: BundleEntry[]): BundlePlan {
  const problems: string[] = [];
  const parsed: { entry: BundleEntry; parts: string[] }[] = [];
  for (const entry of entries) {
    const parts = segments(entry.path);
    if (!parts) problems.push(`'${entry.path}': absolute or climbing (..) paths are not allowed`);
    else if (!ALLOWED_TYPES.has(entry.type)) problems.push(`'${entry.path}': a ${entry.type} entry is not allowed, only files, directories and links inside the tree`);
    else if (parts.length > 0) parsed.push({ entry, parts });
  }

  const tops = new Set(parsed.map((e) => e.parts[0]));
  const [top] = tops;
  const strip = tops.size === 1 && parsed.every((e) => e.parts.length > 1 || e.entry.type === 'Directory') && parsed.some((e) => e.parts.length > 1) ? 1 : 0;
  const rel = (parts: string[]) => parts.slice(strip).join('/');

  const symlinks = new Set(parsed.filter((e) => e.entry.type === 'SymbolicLink').map((e) => rel(e.parts)));
  const files = new Set<string>();
  for (const { entry, parts } of parsed) {
    const at = rel(parts);
    if (!at) continue;
    for (let i = 1; i < parts.length - strip; i++) {
      const parent = parts.slice(strip, strip + i).join('/');
      if (symlinks.has(parent)) problems.push(`'${entry.path}': lies beneath the symlink '${parent}'`);
    }
    if (entry.type === 'SymbolicLink') {
      const target = entry.linkpath ?? '';
      const resolved = path.posix.normalize(path.posix.join(path.posix.dirname(at), target));
      if (!target || target.startsWith('/') || resolved === '..' || resolved.startsWith('../')) problems.push(`'${entry.path}': symlink to '${target}' points outside the source tree`);
    } else if (entry.type === 'Link') {
      const target = segments(entry.linkpath ?? '');
      const inTree = target && target.length > strip && (!strip || target[0] === top);
      if (!inTree || !files.has(rel(target))) problems.push(`'${entry.path}': hard link to '${entry.linkpath}' does not name an earlier file of the bundle`);
      else files.add(at);
    } else if (FILE_TYPES.has(entry.type)) {
      files.add(at);
    }
  }
  return { strip, problems };
}
