/**
 * Procfile parsing: `type: command` lines, as Heroku reads them. Lines that are not a process type are
 * reported back rather than dropped in silence, so a typo (`web node server.js`) shows up in the build log
 * instead of as a service with no web process.
 */

export const PROCESS_TYPE_PATTERN = /^[a-zA-Z0-9_-]+$/;

export interface ProcfileProblem {
  /** 1-based */
  line: number;
  message: string;
}

export interface Procfile {
  processes: Record<string, string>;
  problems: ProcfileProblem[];
}

export function parseProcfile(text: string): Procfile {
  const processes: Record<string, string> = {};
  const problems: ProcfileProblem[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (!line || line.startsWith('#')) return;
    const colon = line.indexOf(':');
    if (colon < 0) return problems.push({ line: i + 1, message: `not a 'type: command' line` });
    const type = line.slice(0, colon).trim();
    const command = line.slice(colon + 1).trim();
    if (!PROCESS_TYPE_PATTERN.test(type)) return problems.push({ line: i + 1, message: `process type '${type}' must match ${PROCESS_TYPE_PATTERN.source}` });
    if (!command) return problems.push({ line: i + 1, message: `process type '${type}' has no command` });
    if (type in processes) problems.push({ line: i + 1, message: `process type '${type}' is defined again; the last one wins` });
    processes[type] = command;
  });
  return { processes, problems };
}
