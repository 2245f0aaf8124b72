/**
 * The router's own per-release metrics, for canary analysis and for `GET …/rollouts/{n}`: every access-log
 * entry either data plane reports (HAProxy's ring, the built-in router's socket; see router/table.ts
 * AccessLogEntry) names its route and the instance that answered, and an instance id names its release
 * (`…-r<number>-<ordinal>-<hash>`, domain/release.ts). Samples are kept per service for a bounded time and
 * count, and summed per release over any window: requests, 5xx answers, p50 and p99 of the request time.
 * The metrics sampler reads the service-wide percentiles of each sampling interval from here too (`latency`):
 * HAProxy's exporter has no histogram, so this stream is where the HAProxy plane's percentiles come from.
 */
import type { AccessLogEntry } from '../../router/table.ts';

/** How long and how many samples a service keeps: enough for any analysis interval (max 600 s). */
const KEEP_MS = 15 * 60_000;
const KEEP_SAMPLES = 200_000;
/**
 * Past either bound, samples are dropped in batches, once this many more came or this much older the oldest
 * is: dropping one at a time moved the whole list on every request (a busy service's every request cost the
 * control plane ~0.6 ms once it had KEEP_SAMPLES).
 */
const TRIM_SAMPLES = 20_000;
const TRIM_MS = 60_000;
/** Instance ids whose release number is remembered (cleared when full). */
const RELEASES_KEPT = 10_000;

interface Sample {
  at: number;
  release: number;
  status: number;
  ms: number;
}

export interface ReleaseWindow {
  release: number;
  requests: number;
  errors: number;
  /** 5xx share, percent */
  errorRate: number;
  latencyP50Ms: number | null;
  latencyP99Ms: number | null;
}

export interface ServiceLatency {
  requests: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
}

export class ReleaseTraffic {
  private readonly byService = new Map<string, Sample[]>();

  /** Release numbers of the instance ids seen lately, -1 for an id that names none (parsed once, not on each request). */
  private readonly releaseOf = new Map<string, number>();

  /** One request (an access-log entry); requests with no route or no answering instance (a 404, a maintenance page) are skipped. */
  record(e: Pick<AccessLogEntry, 'route' | 'endpoint' | 'status' | 'durationMs'>, now = Date.now()): void {
    if (!e.route || !e.endpoint) return;
    let release = this.releaseOf.get(e.endpoint);
    if (release === undefined) {
      const m = /-r(\d+)-\d+-[0-9a-f]+$/.exec(e.endpoint);
      if (this.releaseOf.size >= RELEASES_KEPT) this.releaseOf.clear();
      this.releaseOf.set(e.endpoint, (release = m ? Number(m[1]) : -1));
    }
    if (release < 0) return;
    const slash = e.route.lastIndexOf('/');
    if (slash < 0) return;
    const key = e.route.slice(0, slash);
    let list = this.byService.get(key);
    if (!list) this.byService.set(key, (list = []));
    list.push({ at: now, release, status: e.status, ms: e.durationMs });
    if (list.length > KEEP_SAMPLES + TRIM_SAMPLES || now - list[0].at > KEEP_MS + TRIM_MS) {
      const from = list.findIndex((s) => now - s.at <= KEEP_MS);
      list.splice(0, Math.max(from < 0 ? list.length : from, list.length - KEEP_SAMPLES));
    }
  }

  /** Per-release sums of the requests answered in [fromMs, toMs), by release number. */
  window(serviceKey: string, fromMs: number, toMs = Date.now()): Map<number, ReleaseWindow> {
    const byRelease = new Map<number, number[]>();
    const errors = new Map<number, number>();
    for (const s of this.byService.get(serviceKey) ?? []) {
      if (s.at < fromMs || s.at >= toMs) continue;
      let times = byRelease.get(s.release);
      if (!times) byRelease.set(s.release, (times = []));
      times.push(s.ms);
      if (s.status >= 500 && s.status < 600) errors.set(s.release, (errors.get(s.release) ?? 0) + 1);
    }
    const out = new Map<number, ReleaseWindow>();
    for (const [release, times] of byRelease) {
      times.sort((a, b) => a - b);
      const e = errors.get(release) ?? 0;
      out.set(release, { release, requests: times.length, errors: e, errorRate: round((100 * e) / times.length), latencyP50Ms: quantile(times, 0.5), latencyP99Ms: quantile(times, 0.99) });
    }
    return out;
  }

  /**
   * Nearest-rank p50/p90/p99 of the request time (ms) of every request the service answered in [fromMs, toMs),
   * whatever its release; undefined when none ended in the window.
   */
  latency(serviceKey: string, fromMs: number, toMs = Date.now()): ServiceLatency | undefined {
    const times: number[] = [];
    for (const s of this.byService.get(serviceKey) ?? []) if (s.at >= fromMs && s.at < toMs) times.push(s.ms);
    if (!times.length) return undefined;
    times.sort((a, b) => a - b);
    return { requests: times.length, p50Ms: quantile(times, 0.5)!, p90Ms: quantile(times, 0.9)!, p99Ms: quantile(times, 0.99)! };
  }

  forget(serviceKey: string): void {
    this.byService.delete(serviceKey);
  }
}

/** Nearest-rank quantile of sorted values. */
function quantile(sorted: number[], q: number): number | null {
  if (!sorted.length) return null;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}

function round(x: number): number {
  return Math.round(x * 1000) / 1000;
}
