/**
 * HAProxy's access log → the structured entries the built-in router writes. Each worker writes JSON lines
 * into its ring (see config.ts); the current worker's ring is followed from the admin socket, and an old
 * worker's follower goes on until that worker exits, so the requests it finishes are logged too.
 */
import { followRing, type RingFollower } from './runtime-api.ts';
import { ACCESS_LOG_MARK, ACCESS_LOG_RING, HANDOFF_BACKEND, HANDOFF_TLS_BACKEND } from './config.ts';
import type { AccessLogEntry } from '../table.ts';

export interface SlotLookup {
  /** backend name → route key */
  routeOf(backend: string): string | undefined;
  /** `backend/server` → endpoint id */
  endpointAt(slot: string): string | undefined;
}

export class HaproxyAccessLog {
  private currentWorker = 0;
  private closed = false;
  private readonly followers = new Set<RingFollower>();

  constructor(
    private readonly adminSocket: string,
    private readonly log: (entry: AccessLogEntry) => void,
    private readonly lookup: SlotLookup,
  ) {}

  /** Reads the ring of the worker that became the current one, from now on. */
  follow(pid: number): void {
    if (this.closed || pid === this.currentWorker) return;
    this.currentWorker = pid;
    const follower = followRing(this.adminSocket, ACCESS_LOG_RING, pid, {
      onLine: (line) => this.line(line),
      keep: () => !this.closed && this.currentWorker === pid,
      onEnd: () => this.followers.delete(follower),
    });
    this.followers.add(follower);
  }

  close(): void {
    this.closed = true;
    for (const f of this.followers) f.close();
  }

  /** An access-log line from HAProxy → the same entry the built-in router writes. */
  private line(line: string): void {
    const log = this.log;
    if (!line.startsWith(ACCESS_LOG_MARK)) return;
    let e: { ts: string; client: string; method: string; host: string; path: string; status: number; bytes: number; ms: number; backend: string; server: string; requestId: string };
    try {
      e = JSON.parse(line);
    } catch {
      return;
    }
    // A request an old worker handed to the current one is logged by the current one.
    if (e.backend === HANDOFF_BACKEND || e.backend === HANDOFF_TLS_BACKEND) return;
    const route = this.lookup.routeOf(e.backend);
    const endpoint = route ? this.lookup.endpointAt(`${e.backend}/${e.server}`) : undefined;
    log({
      ts: isoOfHaproxyTime(e.ts),
      client: e.client,
      method: e.method,
      host: e.host,
      path: e.path,
      status: e.status < 0 ? 0 : e.status,
      bytes: e.bytes,
      durationMs: e.ms < 0 ? 0 : e.ms,
      ...(route ? { route } : {}),
      ...(endpoint ? { endpoint } : {}),
      ...(e.requestId && e.requestId !== '-' ? { requestId: e.requestId } : {}),
    });
  }
}

/** HAProxy's `%tr` (`23/Nov/2026:13:50:01.123`, the process's local time, UTC here) as ISO 8601; as is if odd. */
function isoOfHaproxyTime(t: string): string {
  // Consecutive lines mostly share their second: its ISO form is parsed once and reused.
  const dot = t.lastIndexOf('.');
  const second = dot > 0 ? t.slice(0, dot) : t;
  const ms = t.slice(dot + 1);
  if (second !== lastSecond.haproxy) {
    const m = /^(\d+)\/(\w+)\/(\d+):(\d+:\d+:\d+)$/.exec(second);
    const d = m ? new Date(`${m[2]} ${m[1]} ${m[3]} ${m[4]} UTC`) : undefined;
    lastSecond.haproxy = second;
    lastSecond.iso = d && !Number.isNaN(d.getTime()) ? d.toISOString().slice(0, -4) : '';
  }
  return lastSecond.iso && dot > 0 && /^\d{3}$/.test(ms) ? `${lastSecond.iso}${ms}Z` : isoSlow(t);
}

const lastSecond = { haproxy: '', iso: '' };

function isoSlow(t: string): string {
  const m = /^(\d+)\/(\w+)\/(\d+):(\d+:\d+:\d+)\.(\d+)$/.exec(t);
  const d = m ? new Date(`${m[2]} ${m[1]} ${m[3]} ${m[4]}.${m[5]} UTC`) : undefined;
  return d && !Number.isNaN(d.getTime()) ? d.toISOString() : t;
}
