/**
 * Per-route counters of the built-in router, rendered under HAProxy's exporter names (see ../metrics.ts)
 * plus a latency histogram. Updated on the hot path with plain arithmetic; rendered only when scraped.
 */
import { escapeLabel, proxyName } from '../metrics.ts';

/** Histogram bucket bounds, in seconds. */
const BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
/** HAProxy averages its time metrics over the last 1024 requests; so do we. */
const WINDOW = 1024;
const CLASSES = ['1xx', '2xx', '3xx', '4xx', '5xx', 'other'] as const;

class RouteCounters {
  readonly proxy: string;
  requests = 0;
  sessions = 0;
  current = 0;
  readonly responses = [0, 0, 0, 0, 0, 0];
  readonly buckets = new Array<number>(BUCKETS.length).fill(0);
  durationSum = 0;
  durationCount = 0;
  private readonly responseTimes = new Float64Array(WINDOW);
  private readonly totalTimes = new Float64Array(WINDOW);
  private samples = 0;

  constructor(routeKey: string) {
    this.proxy = proxyName(routeKey);
  }

  record(status: number, responseSeconds: number, totalSeconds: number): void {
    const c = Math.floor(status / 100);
    this.responses[c >= 1 && c <= 5 ? c - 1 : 5]++;
    const i = this.samples++ % WINDOW;
    this.responseTimes[i] = responseSeconds;
    this.totalTimes[i] = totalSeconds;
    this.durationSum += totalSeconds;
    this.durationCount++;
    for (let b = 0; b < BUCKETS.length; b++) if (totalSeconds <= BUCKETS[b]) this.buckets[b]++;
  }

  average(which: 'response' | 'total'): number {
    const n = Math.min(this.samples, WINDOW);
    if (n === 0) return 0;
    const a = which === 'response' ? this.responseTimes : this.totalTimes;
    let sum = 0;
    for (let i = 0; i < n; i++) sum += a[i];
    return sum / n;
  }
}

export class RouteMetrics {
  private byRoute = new Map<string, RouteCounters>();

  /** Keeps the counters of the routes still in the table (by key), starts new ones, drops the rest. */
  retain(routeKeys: Iterable<string>): void {
    const next = new Map<string, RouteCounters>();
    for (const k of routeKeys) next.set(k, this.byRoute.get(k) ?? next.get(k) ?? new RouteCounters(k));
    this.byRoute = next;
  }

  /**
   * A request (HTTP) or connection (TCP) taken by a route. The returned function ends it: with the status
   * and the time to the response headers for HTTP, with nothing for TCP. Calling it twice counts once.
   */
  begin(routeKey: string, kind: 'http' | 'tcp'): (status?: number, responseSeconds?: number) => void {
    const c = this.byRoute.get(routeKey);
    if (!c) return () => undefined;
    const started = process.hrtime.bigint();
    c.sessions++;
    c.current++;
    if (kind === 'http') c.requests++;
    let ended = false;
    return (status, responseSeconds) => {
      if (ended) return;
      ended = true;
      c.current--;
      if (kind === 'http') {
        const total = Number(process.hrtime.bigint() - started) / 1e9;
        c.record(status ?? 0, responseSeconds ?? total, total);
      }
    };
  }

  render(): string {
    const out: string[] = [];
    const family = (name: string, type: string, help: string, sample: (c: RouteCounters, p: string) => string[]) => {
      out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
      for (const c of this.byRoute.values()) out.push(...sample(c, `proxy="${escapeLabel(c.proxy)}"`));
    };
    family('haproxy_backend_current_sessions', 'gauge', 'Number of current sessions (requests or TCP connections in flight).', (c, p) => [`haproxy_backend_current_sessions{${p}} ${c.current}`]);
    family('haproxy_backend_sessions_total', 'counter', 'Total number of sessions.', (c, p) => [`haproxy_backend_sessions_total{${p}} ${c.sessions}`]);
    family('haproxy_backend_http_requests_total', 'counter', 'Total number of HTTP requests received.', (c, p) => [`haproxy_backend_http_requests_total{${p}} ${c.requests}`]);
    family('haproxy_backend_http_responses_total', 'counter', 'Total number of HTTP responses.', (c, p) => CLASSES.map((k, i) => `haproxy_backend_http_responses_total{${p},code="${k}"} ${c.responses[i]}`));
    family('haproxy_backend_response_time_average_seconds', 'gauge', 'Avg. response time for last 1024 successful connections.', (c, p) => [`haproxy_backend_response_time_average_seconds{${p}} ${c.average('response').toFixed(6)}`]);
    family('haproxy_backend_total_time_average_seconds', 'gauge', 'Avg. total time for last 1024 successful connections.', (c, p) => [`haproxy_backend_total_time_average_seconds{${p}} ${c.average('total').toFixed(6)}`]);
    family('slipway_router_request_duration_seconds', 'histogram', 'Time from the request to the end of the response.', (c, p) => [
      ...BUCKETS.map((le, b) => `slipway_router_request_duration_seconds_bucket{${p},le="${le}"} ${c.buckets[b]}`),
      `slipway_router_request_duration_seconds_bucket{${p},le="+Inf"} ${c.durationCount}`,
      `slipway_router_request_duration_seconds_sum{${p}} ${c.durationSum.toFixed(6)}`,
      `slipway_router_request_duration_seconds_count{${p}} ${c.durationCount}`,
    ]);
    return `${out.join('\n')}\n`;
  }
}
