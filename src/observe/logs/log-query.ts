/**
 * What a log read or stream asks for, and the rules for its text forms: `since`/`until` take an RFC 3339
 * time or a duration back from now (`90s`, `15m`, `2h`, `7d`); `search` is a case-insensitive substring of
 * the line; `instance` an instance id (or its unique suffix, e.g. the ordinal and hash `1-ab12cd`).
 */
export interface LogEntry {
  ts: string;
  project: string;
  service: string;
  instance: string;
  stream: 'stdout' | 'stderr';
  line: string;
}

export interface LogQuery {
  search?: string;
  sinceMs?: number;
  untilMs?: number;
  instance?: string;
}

const DURATION = /^(\d+)(s|m|h|d)$/;
const UNIT_MS = { s: 1000, m: 60_000, h: 3600_000, d: 86_400_000 } as const;

/** A time given as RFC 3339 or as a duration back from `nowMs`; undefined when it is neither. */
export function parseLogTime(text: string, nowMs: number): number | undefined {
  const d = DURATION.exec(text.trim());
  if (d) return nowMs - Number(d[1]) * UNIT_MS[d[2] as keyof typeof UNIT_MS];
  if (!/^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/.test(text.trim())) return undefined;
  const ms = Date.parse(text.trim());
  return Number.isNaN(ms) ? undefined : ms;
}

export function matchesLogQuery(e: LogEntry, q: LogQuery): boolean {
  if (q.instance && e.instance !== q.instance && !e.instance.endsWith(`-${q.instance}`)) return false;
  const t = Date.parse(e.ts);
  if (q.sinceMs !== undefined && t < q.sinceMs) return false;
  if (q.untilMs !== undefined && t > q.untilMs) return false;
  if (q.search && !e.line.toLowerCase().includes(q.search.toLowerCase())) return false;
  return true;
}
