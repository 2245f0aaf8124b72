/**
 * Which command starts each process type of a Node app, in Heroku's order: the Procfile, else
 * `scripts.start`, else `node <main>` (or `server.js`, `index.js`).
 *
 * Commands are shell text the runtime runs with `sh -c` in the artifact directory, with
 * `<artifact>/node_modules/.bin` on its PATH. The start script's text is used as is rather than `npm start`,
 * so the app is the shell's direct child (or, for a single command, the shell itself via exec) and gets
 * SIGTERM, instead of npm swallowing it.
 */
import path from 'node:path';
import { parseProcfile } from './procfile.ts';

export interface PackageManifest {
  main?: unknown;
  scripts?: Record<string, unknown>;
  engines?: Record<string, unknown>;
}

export interface ResolvedProcesses {
  processes: Record<string, string>;
  /** Where `web` came from, or why there is none; and any Procfile lines that were ignored. */
  notes: string[];
}

/** `hasFile` answers for a path relative to the app directory, so this stays free of I/O. */
export function resolveProcesses(input: { procfile?: string; pkg?: PackageManifest; hasFile: (relPath: string) => boolean }): ResolvedProcesses {
  const notes: string[] = [];
  let processes: Record<string, string> = {};
  if (input.procfile !== undefined) {
    const parsed = parseProcfile(input.procfile);
    processes = parsed.processes;
    for (const p of parsed.problems) notes.push(`Procfile line ${p.line} ignored: ${p.message}`);
    if (processes.web) notes.push('web process from the Procfile');
  }
  if (processes.web || !input.pkg) {
    if (!processes.web) notes.push('no web process: the Procfile has no web line and there is no package.json');
    return { processes, notes };
  }
  const start = input.pkg.scripts?.start;
  if (typeof start === 'string' && start.trim()) {
    notes.push('web process from scripts.start');
    return { processes: { ...processes, web: start.trim() }, notes };
  }
  const entry = [mainEntry(input.pkg.main, input.hasFile), 'server.js', 'index.js'].find((f) => f !== undefined && input.hasFile(f));
  if (entry) {
    notes.push(`web process runs ${entry}`);
    return { processes: { ...processes, web: `node ${shellQuote(entry)}` }, notes };
  }
  notes.push('no web process: no Procfile web line, no scripts.start, and no main, server.js or index.js');
  return { processes, notes };
}

/** `main` as node would resolve it, if it names a file inside the app. */
function mainEntry(main: unknown, hasFile: (relPath: string) => boolean): string | undefined {
  if (typeof main !== 'string' || !main.trim()) return undefined;
  const rel = path.posix.normalize(main.trim());
  if (path.posix.isAbsolute(rel) || rel === '..' || rel.startsWith('../')) return undefined;
  return [rel, `${rel}.js`, `${rel}/index.js`].find((f) => hasFile(f));
}

/** Quotes a file name for `sh -c`: it comes from package.json or the source tree, never trusted as shell text. */
export function shellQuote(word: string): string {
  if (/^[A-Za-z0-9_./@%+=:,-]+$/.test(word)) return word;
  return `'${word.replaceAll("'", `'\\''`)}'`;
}
