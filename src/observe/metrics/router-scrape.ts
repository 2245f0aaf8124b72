/**
 * Per-service traffic numbers from the router's own metrics (vocabulary in src/router/metrics.ts, the same
 * on both data planes): two scrapes of `/metrics` and the `/routes` join → what each service took between them.
 *
 * Counters are per route (`proxy` label). A counter lower than at the previous scrape has restarted (HAProxy
 * restarts its counters when it reloads for a route change), so its delta is its current value, as
 * Prometheus' `increase()` counts it. A route seen for the first time counts from 0 only when it is new
 * since a scrape that already listed routes; at the sampler's first scrape every counter is a baseline
 * (its history before the control plane started is not this interval's).
 *
 * Latency: the built-in router serves a histogram (`slipway_router_request_duration_seconds`), from which the
 * interval's percentiles are interpolated as Prometheus' `histogram_quantile` does. HAProxy 2.6 has no
 * histogram: only the mean total time of the last 1024 requests (`haproxy_backend_total_time_average_seconds`),
 * reported as `latency_avg_seconds`; its percentiles are not made up here: the sampler takes them from the
 * per-request access-log stream instead (sampler.ts `requestPercentiles`, controllers/service/release-traffic.ts).
 */
import type { PromDocument } from './prom-text.ts';

export const STATUS_CLASSES = ['1xx', '2xx', '3xx', '4xx', '5xx'] as const;

export interface RouteCounters {
  requests: number;
  responses: Record<string, number>;
  /** histogram: upper bound → cumulative count (built-in router only) */
  buckets?: Map<number, number>;
  avgTotalSeconds?: number;
  inFlight: number;
}

/** One scrape, reduced to what the sampler needs: per proxy label, and the proxy → service join. */
export interface RouterScrape {
  atMs: number;
  routes: Map<string, RouteCounters>;
  /** proxy → `project/service` */
  owners: Map<string, { projectId: string; serviceId: string }>;
}

export interface ServiceTraffic {
  projectId: string;
  serviceId: string;
  /** requests taken in the interval */
  requests: number;
  /** answers by status class in the interval (1xx … 5xx) */
  responses: Record<string, number>;
  inFlight: number;
  /** interval percentiles in seconds (built-in router's histogram; the sampler fills them for HAProxy), absent when no request ended */
  p50?: number;
  p90?: number;
  p99?: number;
  /** mean total time (HAProxy: of its last 1024 requests; built-in: of the interval) */
  avg?: number;
}

/** The router's metrics reduceScrape reads (of `/metrics`), and of `/routes`: parsePromText's `only`. */
export const SCRAPED_METRICS: ReadonlySet<string> = new Set(['haproxy_backend_http_requests_total', 'haproxy_backend_http_responses_total', 'haproxy_backend_current_sessions', 'haproxy_backend_total_time_average_seconds', 'slipway_router_request_duration_seconds_bucket']);
export const SCRAPED_ROUTES: ReadonlySet<string> = new Set(['slipway_route_info']);

export function reduceScrape(metrics: PromDocument, routes: PromDocument, atMs: number): RouterScrape {
  const byProxy = new Map<string, RouteCounters>();
  const get = (proxy: string) => {
    let c = byProxy.get(proxy);
    if (!c) byProxy.set(proxy, (c = { requests: 0, responses: {}, inFlight: 0 }));
    return c;
  };
  for (const s of metrics.samples) {
    const proxy = s.labels.proxy;
    if (!proxy) continue;
    switch (s.name) {
      case 'haproxy_backend_http_requests_total':
        get(proxy).requests = s.value;
        break;
      case 'haproxy_backend_http_responses_total':
        get(proxy).responses[s.labels.code ?? 'other'] = s.value;
        break;
      case 'haproxy_backend_current_sessions':
        get(proxy).inFlight = s.value;
        break;
      case 'haproxy_backend_total_time_average_seconds':
        get(proxy).avgTotalSeconds = s.value;
        break;
      case 'slipway_router_request_duration_seconds_bucket': {
        const c = get(proxy);
        (c.buckets ??= new Map()).set(s.labels.le === '+Inf' ? Infinity : Number(s.labels.le), s.value);
        break;
      }
    }
  }
  const owners = new Map<string, { projectId: string; serviceId: string }>();
  for (const s of routes.samples) {
    if (s.name === 'slipway_route_info' && s.labels.proxy && s.labels.project && s.labels.service) owners.set(s.labels.proxy, { projectId: s.labels.project, serviceId: s.labels.service });
  }
  return { atMs, routes: byProxy, owners };
}

function increase(now: number, before: number | undefined): number {
  if (before === undefined) return now;
  return now >= before ? now - before : now; // a reset: the counter restarted from 0
}

/**
 * What each service took between `prev` and `cur`. Without `prev` (the first scrape) there is no interval:
 * returns an empty list.
 */
export function trafficBetween(prev: RouterScrape | undefined, cur: RouterScrape): ServiceTraffic[] {
  if (!prev) return [];
  const out = new Map<string, ServiceTraffic & { buckets?: Map<number, number>; avgWeighted: number; avgRequests: number }>();
  for (const [proxy, c] of cur.routes) {
    const owner = cur.owners.get(proxy) ?? prev.owners.get(proxy);
    if (!owner) continue;
    const p = prev.routes.get(proxy);
    const key = `${owner.projectId}/${owner.serviceId}`;
    let t = out.get(key);
    if (!t) out.set(key, (t = { projectId: owner.projectId, serviceId: owner.serviceId, requests: 0, responses: Object.fromEntries(STATUS_CLASSES.map((k) => [k, 0])), inFlight: 0, avgWeighted: 0, avgRequests: 0 }));
    // A reset of the requests counter resets the route's other counters too (one HAProxy reload).
    const reset = p !== undefined && c.requests < p.requests;
    const before = reset ? undefined : p;
    const requests = increase(c.requests, before?.requests);
    t.requests += requests;
    for (const k of STATUS_CLASSES) t.responses[k] += increase(c.responses[k] ?? 0, before?.responses[k]);
    t.inFlight += c.inFlight;
    if (c.avgTotalSeconds !== undefined && requests > 0) {
      t.avgWeighted += c.avgTotalSeconds * requests;
      t.avgRequests += requests;
    }
    if (c.buckets) {
      const merged = (t.buckets ??= new Map());
      for (const [le, v] of c.buckets) merged.set(le, (merged.get(le) ?? 0) + increase(v, before?.buckets?.get(le)));
    }
  }
  return [...out.values()].map(({ buckets, avgWeighted, avgRequests, ...t }) => {
    const res: ServiceTraffic = { ...t };
    if (buckets && buckets.size) {
      const total = buckets.get(Infinity) ?? 0;
      if (total > 0) {
        res.p50 = quantile(0.5, buckets);
        res.p90 = quantile(0.9, buckets);
        res.p99 = quantile(0.99, buckets);
      }
    }
    if (avgRequests > 0) res.avg = avgWeighted / avgRequests;
    return res;
  });
}

/**
 * Prometheus' histogram_quantile: linear interpolation inside the bucket that holds the rank; a rank in the
 * +Inf bucket answers the highest finite bound.
 */
export function quantile(q: number, cumulative: Map<number, number>): number | undefined {
  const bounds = [...cumulative.keys()].sort((a, b) => a - b);
  const total = cumulative.get(Infinity) ?? cumulative.get(bounds[bounds.length - 1]) ?? 0;
  if (total <= 0) return undefined;
  const rank = q * total;
  let prevBound = 0;
  let prevCount = 0;
  for (const b of bounds) {
    const count = cumulative.get(b) ?? 0;
    if (count >= rank) {
      if (b === Infinity) return prevBound;
      if (count === prevCount) return b;
      return prevBound + (b - prevBound) * ((rank - prevCount) / (count - prevCount));
    }
    prevBound = b;
    prevCount = count;
  }
  return prevBound;
}
