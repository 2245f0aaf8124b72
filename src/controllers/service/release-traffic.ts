/**
 * The router's own per-release metrics, for canary analysis and for `GET …/rollouts/{n}`: every access-log
 * entry either data plane reports (HAProxy's ring, the built-in router's socket; see router/table.ts
 * AccessLogEntry) names its route and the instance that answered, and an instance id names its release
 * (`…-r<number>-<ordinal>-<hash>`, domain/release.ts). Samples are kept per service for a bounded time and
 * count, and summed per release over any window: requests, 5xx answers, p50 and p99 of the request time.
 * The metrics sampler reads the service-wide percentiles of each sampling interval from here too (`latency`):
 * HAProxy's exporter has no histogram, so this stream is where the HAProxy plane's percentiles come from.
 */
import { instanceIdParts } from '../../domain/release.ts';
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
/** Instance ids whose release number is remembered (cleared when full); route keys likewise. */
const RELEASES_KEPT = 10_000;
/** Samples per block of a service's columns: the first block of a service holds the fewest, each next one twice as many, up to the most. */
const FIRST_BLOCK = 64;
const BLOCK = 4096;

/**
 * A service's samples, oldest first, in columns (no object per request: a busy service holds KEEP_SAMPLES of
 * them, and as many objects kept the garbage collector busy): blocks of typed arrays, appended at the end and
 * dropped from the front; `head` samples of the first block are already dropped. Blocks grow from
 * FIRST_BLOCK to BLOCK samples, so that a service with little traffic holds little.
 */
class Samples {
  readonly at: Float64Array[] = [];
  readonly release: Int32Array[] = [];
  readonly status: Uint16Array[] = [];
  readonly ms: Float64Array[] = [];
  head = 0;
  /** samples in the last block */
  tail = 0;
  length = 0;

  push(at: number, release: number, status: number, ms: number): void {
    let b = this.at.length - 1;
    if (b < 0 || this.tail === this.at[b].length) {
      const size = b < 0 ? FIRST_BLOCK : Math.min(BLOCK, 2 * this.at[b].length);
      this.at.push(new Float64Array(size));
      this.release.push(new Int32Array(size));
      this.status.push(new Uint16Array(size));
      this.ms.push(new Float64Array(size));
      this.tail = 0;
      b++;
    }
    this.at[b][this.tail] = at;
    this.release[b][this.tail] = release;
    this.status[b][this.tail] = status;
    this.ms[b][this.tail] = ms;
    this.tail++;
    this.length++;
  }

  oldestAt(): number {
    return this.at[0][this.head];
  }

  /** Where block `b`'s samples end. */
  private end(b: number): number {
    return b === this.at.length - 1 ? this.tail : this.at[b].length;
  }

  /** Position of the oldest sample with `keep(at)`, counted from the oldest kept; `length` when none. */
  findFirst(keep: (at: number) => boolean): number {
    let i = 0;
    for (let b = 0; b < this.at.length; b++) {
      const col = this.at[b];
      for (let j = b === 0 ? this.head : 0, end = this.end(b); j < end; j++, i++) if (keep(col[j])) return i;
    }
    return i;
  }

  /** Drops the `n` oldest samples, and with them every block they emptied. */
  drop(n: number): void {
    if (n <= 0) return;
    if (n >= this.length) {
      for (const col of [this.at, this.release, this.status, this.ms]) col.length = 0;
      this.head = this.tail = this.length = 0;
      return;
    }
    this.length -= n;
    // Some samples stay, so the last block does: only blocks before it are emptied.
    for (let left = this.end(0) - this.head; n >= left; left = this.end(0) - this.head) {
      n -= left;
      for (const col of [this.at, this.release, this.status, this.ms]) col.shift();
      this.head = 0;
    }
    this.head += n;
  }

  /** Calls `each` with the block index and sample index of every sample whose time is in [fromMs, toMs). */
  forEachIn(fromMs: number, toMs: number, each: (b: number, j: number) => void): void {
    for (let b = 0; b < this.at.length; b++) {
      const col = this.at[b];
      for (let j = b === 0 ? this.head : 0, end = this.end(b); j < end; j++) if (col[j] >= fromMs && col[j] < toMs) each(b, j);
    }
  }
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
  private readonly byService = new Map<string, Samples>();

  /** Release numbers of the instance ids seen lately, -1 for an id that names none (parsed once, not on each request). */
  private readonly releaseOf = new Map<string, number>();
  /** The service key of the route keys seen lately, null for a key that names none. */
  private readonly serviceOf = new Map<string, string | null>();

  /** One request (an access-log entry); requests with no route or no answering instance (a 404, a maintenance page) are skipped. */
  record(e: Pick<AccessLogEntry, 'route' | 'endpoint' | 'status' | 'durationMs'>, now = Date.now()): void {
    if (e.route && e.endpoint) this.recordFields(e.route, e.endpoint, e.status, e.durationMs, now);
  }

  /** As record, the entry's fields given one by one (HAProxy's lines are read so, with no object per request). */
  recordFields(route: string, endpoint: string, status: number, durationMs: number, now = Date.now()): void {
    if (!route || !endpoint) return;
    let release = this.releaseOf.get(endpoint);
    if (release === undefined) {
      if (this.releaseOf.size >= RELEASES_KEPT) this.releaseOf.clear();
      this.releaseOf.set(endpoint, (release = instanceIdParts(endpoint)?.release ?? -1));
    }
    if (release < 0) return;
    let key = this.serviceOf.get(route);
    if (key === undefined) {
      const slash = route.lastIndexOf('/');
      if (this.serviceOf.size >= RELEASES_KEPT) this.serviceOf.clear();
      this.serviceOf.set(route, (key = slash < 0 ? null : route.slice(0, slash)));
    }
    if (key === null) return;
    let samples = this.byService.get(key);
    if (!samples) this.byService.set(key, (samples = new Samples()));
    samples.push(now, release, status, durationMs);
    if (samples.length > KEEP_SAMPLES + TRIM_SAMPLES || now - samples.oldestAt() > KEEP_MS + TRIM_MS) {
      const from = samples.findFirst((at) => now - at <= KEEP_MS);
      samples.drop(Math.max(from, samples.length - KEEP_SAMPLES));
    }
  }

  /** Per-release sums of the requests answered in [fromMs, toMs), by release number. */
  window(serviceKey: string, fromMs: number, toMs = Date.now()): Map<number, ReleaseWindow> {
    const byRelease = new Map<number, number[]>();
    const errors = new Map<number, number>();
    const s = this.byService.get(serviceKey);
    s?.forEachIn(fromMs, toMs, (b, j) => {
      const release = s.release[b][j];
      let times = byRelease.get(release);
      if (!times) byRelease.set(release, (times = []));
      times.push(s.ms[b][j]);
      const status = s.status[b][j];
      if (status >= 500 && status < 600) errors.set(release, (errors.get(release) ?? 0) + 1);
    });
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
    const s = this.byService.get(serviceKey);
    s?.forEachIn(fromMs, toMs, (b, j) => times.push(s.ms[b][j]));
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
