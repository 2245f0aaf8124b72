/**
 * Reading and streaming a service's output: search by text, time range and instance over the archive, and
 * a live stream that starts with the newest matching lines and goes on with every new one.
 */
import type { Store } from '../../store/store.ts';
import type { AuthService, Principal } from '../../services/auth.ts';
import { ValidationError } from '../../errors/errors.ts';
import type { LogCollector } from './log-collector.ts';
import type { SharedLogs } from '../../replicas/shared-logs.ts';
import { matchesLogQuery, parseLogTime, type LogEntry, type LogQuery } from './log-query.ts';

export interface LogReadRequest {
  tail?: number;
  search?: string;
  since?: string;
  until?: string;
  instance?: string;
}

/** A line as the native routes answer it. */
export interface LogLineView {
  instance: string;
  ts: string;
  stream: string;
  line: string;
}

export const lineView = (e: LogEntry): LogLineView => ({ instance: e.instance, ts: e.ts, stream: e.stream, line: e.line });

export class LogsService {
  constructor(
    private readonly store: Store,
    private readonly auth: AuthService,
    private readonly collector: LogCollector,
    /** with several control-plane replicas: every replica's lines, read from the store */
    private readonly shared?: SharedLogs,
  ) {}

  /** The query a request asks for; a 400 naming `since` or `until` when a time is neither RFC 3339 nor a duration. */
  queryOf(r: LogReadRequest, nowMs = Date.now()): LogQuery {
    const q: LogQuery = {};
    const time = (field: 'since' | 'until') => {
      const text = r[field];
      if (text === undefined) return undefined;
      const ms = parseLogTime(text, nowMs);
      if (ms === undefined) throw ValidationError.one(field, 'format', `'${text}' is neither an RFC 3339 time (2026-12-06T10:00:00Z) nor a duration back from now (90s, 15m, 2h, 7d)`);
      return ms;
    };
    q.sinceMs = time('since');
    q.untilMs = time('until');
    if (q.sinceMs !== undefined && q.untilMs !== undefined && q.untilMs < q.sinceMs) throw ValidationError.one('until', 'order', 'until is before since');
    if (r.search) q.search = r.search;
    if (r.instance) q.instance = r.instance;
    return q;
  }

  private async check(caller: Principal, projectId: string, serviceId: string): Promise<void> {
    this.auth.authorize(caller, projectId, 'read');
    await this.store.services.get(projectId, serviceId);
  }

  /** The newest `tail` lines (default 200) that match, oldest first. */
  async read(caller: Principal, projectId: string, serviceId: string, r: LogReadRequest): Promise<LogLineView[]> {
    const q = this.queryOf(r);
    await this.check(caller, projectId, serviceId);
    if (this.shared) return (await this.shared.search(projectId, serviceId, q, r.tail ?? 200)).map(lineView);
    return this.collector.archive.search(projectId, serviceId, q, r.tail ?? 200).map(lineView);
  }

  /**
   * Follow a service's output: `onLine` gets the newest `tail` matching lines, then every new matching line
   * as it is written, until the returned function is called. Lines that arrive while the backlog is read are
   * held and passed on after it, each once.
   */
  async follow(caller: Principal, projectId: string, serviceId: string, r: LogReadRequest, onLine: (l: LogLineView) => void): Promise<() => void> {
    const q = this.queryOf(r);
    await this.check(caller, projectId, serviceId);
    // A stream has no end of its range: `until` would end it, so it is refused rather than ignored.
    if (q.untilMs !== undefined) throw ValidationError.one('until', 'applicable', 'a live stream has no end: leave out until, or read the range without streaming');
    let held: LogEntry[] | undefined = [];
    const take = (e: LogEntry) => {
      if (e.project !== projectId || e.service !== serviceId || !matchesLogQuery(e, q)) return;
      if (held) held.push(e);
      else onLine(lineView(e));
    };
    const unsubscribe = this.shared ? await this.shared.follow(projectId, serviceId, take) : this.collector.subscribe(take);
    const backlog = this.shared ? await this.shared.search(projectId, serviceId, q, r.tail ?? 100) : this.collector.archive.search(projectId, serviceId, q, r.tail ?? 100);
    const key = (e: LogEntry) => `${e.instance}\0${e.ts}\0${e.stream}\0${e.line}`;
    const sent = new Set(backlog.map(key));
    for (const e of backlog) onLine(lineView(e));
    for (const e of held) if (!sent.has(key(e))) onLine(lineView(e));
    held = undefined;
    return unsubscribe;
  }
}
