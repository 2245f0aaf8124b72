/**
 * Router metrics, one vocabulary for both data planes, in the Prometheus text format on a local port
 * (`SLIPWAY_ROUTER_METRICS_PORT`, bound on 127.0.0.1):
 *
 * - `GET /metrics`: per-route counters. HAProxy serves them with its own exporter
 *   (`http-request use-service prometheus-exporter`); the built-in router writes the subset of the same
 *   names slipway reads, so one query works on either plane:
 *   ```
 *   haproxy_backend_http_requests_total{proxy}            counter   requests that reached the route
 *   haproxy_backend_http_responses_total{proxy,code}      counter   answers by class: 1xx 2xx 3xx 4xx 5xx other
 *   haproxy_backend_current_sessions{proxy}               gauge     requests (HTTP) or connections (TCP) in flight
 *   haproxy_backend_sessions_total{proxy}                 counter   requests (HTTP) or connections (TCP) taken
 *   haproxy_backend_response_time_average_seconds{proxy}  gauge     time to response headers, mean of the last 1024
 *   haproxy_backend_total_time_average_seconds{proxy}     gauge     whole request time, mean of the last 1024
 *   slipway_router_request_duration_seconds{proxy}        histogram built-in router only (HAProxy 2.6 has none)
 *   ```
 *   Answers the router gives itself (401, 403, 503 maintenance or no instance) count as that route's.
 *   HAProxy's counters restart from 0 when it reloads (a route added or changed), so read them with
 *   `rate()`/`increase()`, which handle resets.
 * - `GET /routes`: `slipway_route_info{proxy,route,project,service,port,protocol} 1` per route, the join
 *   from the `proxy` label (HAProxy's backend name, `proxyName(routeKey)`) to the service:
 *   `sum by (service) (rate(haproxy_backend_http_requests_total[1m]) * on(proxy) group_left(service) slipway_route_info)`.
 */
import crypto from 'node:crypto';
import type { Route } from './table.ts';

export const METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/**
 * The `proxy` label of a route's metrics, which is also HAProxy's backend name: readable, limited to
 * HAProxy's name alphabet, made unique by a hash suffix of the route key.
 */
export function proxyName(routeKey: string): string {
  const readable = routeKey.replace(/[^A-Za-z0-9_.-]+/g, '_').slice(0, 48);
  const hash = crypto.createHash('sha256').update(routeKey).digest('hex').slice(0, 8);
  return `be_${readable}_${hash}`;
}

export function escapeLabel(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

/** The `/routes` document: one info sample per route key (the first route of a key wins, as in routing). */
export function renderRouteInfo(routes: Route[]): string {
  const seen = new Set<string>();
  const lines = ['# HELP slipway_route_info Route behind a proxy label: join router metrics to services with on(proxy).', '# TYPE slipway_route_info gauge'];
  for (const r of routes) {
    if (seen.has(r.key)) continue;
    seen.add(r.key);
    const labels = { proxy: proxyName(r.key), route: r.key, project: r.project, service: r.service, port: r.portName, protocol: r.protocol };
    lines.push(`slipway_route_info{${Object.entries(labels).map(([k, v]) => `${k}="${escapeLabel(v)}"`).join(',')}} 1`);
  }
  return `${lines.join('\n')}\n`;
}
