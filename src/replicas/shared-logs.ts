/**
 * Services' output readable from every control-plane replica (docs/high-availability.md). Each replica's
 * log collector follows the instances its own runtime runs; with several replicas those lines also go to
 * the store (batched every `flushMs`), and reads and live streams on any replica come from there: a read
 * filters the stored lines like the archive does, a stream polls for lines written after the last it sent.
 * Lines older than the age limit are deleted from the store every minute.
 */
import type { Logger } from 'pino';
import type { LogLinesRepo, StoredLogLine } from '../store/log-lines-repo.ts';
import { matchesLogQuery, type LogEntry, type LogQuery } from '../observe/logs/log-query.ts';

const PAGE = 2000;
const LOOKBACK = 2000;
/** rows a read looks through at most for its matches (a search over a long history stays bounded) */
const MAX_SCAN = 200_000;

export class SharedLogs {
  private pending: Omit<StoredLogLine, 'id'>[] = [];
  private timers: NodeJS.Timeout[] = [];
  private flushing?: Promise<void>;

  constructor(
    private readonly repo: LogLinesRepo,
    private readonly opts: { maxAgeSeconds: number; logger: Logger; flushMs?: number; pollMs?: number },
  ) {}

  /** Queue a line this replica's collector took; written within `flushMs`. */
  append(e: LogEntry): void {
    this.pending.push({ project: e.project, service: e.service, instance: e.instance, ts: e.ts, stream: e.stream, line: e.line });
    // Bounded while the store is unreachable: the oldest queued lines go first (they are in the local archive).
    if (this.pending.length > 100_000) this.pending.splice(0, this.pending.length - 100_000);
  }

  start(): void {
    this.timers.push(setInterval(() => void this.flush(), this.opts.flushMs ?? 250));
    this.timers.push(setInterval(() => void this.repo.deleteOlderThan(Date.now() - this.opts.maxAgeSeconds * 1000).catch(() => {}), 60_000));
    for (const t of this.timers) t.unref();
  }

  async stop(): Promise<void> {
    for (const t of this.timers) clearInterval(t);
    await this.flush();
  }

  flush(): Promise<void> {
    if (this.flushing) return this.flushing;
    const batch = this.pending;
    if (!batch.length) return Promise.resolve();
    this.pending = [];
    this.flushing = this.repo
      .append(batch)
      .catch((err: Error) => {
        this.pending = batch.concat(this.pending);
        this.opts.logger.warn({ err: err.message, lines: batch.length }, 'log lines not written to the store; retrying');
      })
      .finally(() => (this.flushing = undefined));
    return this.flushing;
  }

  /** The newest `limit` lines of a service that match, oldest first (what LogArchive.search answers). */
  async search(project: string, service: string, q: LogQuery, limit = 200): Promise<LogEntry[]> {
    const sinceMs = Math.max(q.sinceMs ?? 0, Date.now() - this.opts.maxAgeSeconds * 1000);
    const out: LogEntry[] = [];
    let beforeId: number | undefined;
    for (let scanned = 0; out.length < limit && scanned < MAX_SCAN; ) {
      const rows = await this.repo.newestFirst(project, service, { sinceMs, untilMs: q.untilMs, beforeId, limit: PAGE });
      for (const r of rows) {
        const e = entryOf(r);
        if (matchesLogQuery(e, q)) out.push(e);
        if (out.length >= limit) break;
      }
      if (rows.length < PAGE) break;
      scanned += rows.length;
      beforeId = rows[rows.length - 1]!.id;
    }
    return out.sort((a, b) => (a.ts < b.ts ? -1 : a.ts > b.ts ? 1 : 0));
  }

  /**
   * Follows a service's stored lines written from now on: `onLine` gets each, in the order written, until
   * the returned function is called. Returns once the starting point is fixed, so a backlog read after it
   * misses nothing.
   */
  async follow(project: string, service: string, onLine: (e: LogEntry) => void): Promise<() => void> {
    let after = await this.repo.lastId();
    let stopped = false;
    let busy = false;
    // Ids are handed out when a batch is inserted but become visible when it commits, so with several
    // writers a lower id can show up after a higher one: each read looks LOOKBACK ids back and skips the seen.
    const seen = new Set<number>();
    const timer = setInterval(() => {
      if (busy || stopped) return;
      busy = true;
      this.repo
        .after(project, service, Math.max(0, after - LOOKBACK))
        .then((rows) => {
          for (const r of rows) {
            if (seen.has(r.id)) continue;
            seen.add(r.id);
            after = Math.max(after, r.id);
            if (!stopped) onLine(entryOf(r));
          }
          for (const id of seen) if (id <= after - LOOKBACK) seen.delete(id);
        })
        .catch((err: Error) => this.opts.logger.warn({ err: err.message }, 'log stream: store not read; retrying'))
        .finally(() => (busy = false));
    }, this.opts.pollMs ?? 500);
    return () => {
      stopped = true;
      clearInterval(timer);
    };
  }
}

function entryOf(r: StoredLogLine): LogEntry {
  return { ts: r.ts, project: r.project, service: r.service, instance: r.instance, stream: r.stream, line: r.line };
}
