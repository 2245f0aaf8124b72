/**
 * The routing table as the proxy serves it: each HTTP route compiled with its balancer, by host, and the
 * lookup of a request's route by its Host.
 */
import type http from 'node:http';
import type { Endpoint, Route } from '../table.ts';
import { Balancer } from './balancer.ts';
import { authorityOf } from './request.ts';

export interface CompiledRoute {
  route: Route;
  balancer: Balancer;
  /** a canary with pins: the new release's endpoints, for the requests that carry a pin (see ../split.ts) */
  pinned?: Balancer;
}

/**
 * The HTTP routes of a table by host, and the origins of every endpoint in it (TCP routes' too). `prev`:
 * the routes of the table before, whose balancers are kept where nothing changed.
 */
export function compileRoutes(routes: Route[], prev: Map<string, CompiledRoute>, inFlight: (id: string) => number): { routes: Map<string, CompiledRoute>; live: Set<string> } {
  const next = new Map<string, CompiledRoute>();
  const live = new Set<string>();
  for (const route of routes) {
    if (route.protocol === 'TCP') {
      for (const e of route.endpoints) live.add(originOf(e));
      continue;
    }
    const had = prev.get(route.hosts[0] ?? '');
    // Keep the balancer's rotation when the endpoint set did not change.
    const same = had && had.route.key === route.key && sameEndpoints(had.route.endpoints, route.endpoints) && had.route.loadBalancing?.mode === route.loadBalancing?.mode;
    const compiled: CompiledRoute = same ? { route, balancer: had.balancer } : { route, balancer: new Balancer(route.endpoints, route.loadBalancing?.mode ?? 'roundRobin', inFlight) };
    if (route.canary?.pins?.length) compiled.pinned = pinnedBalancer(route, inFlight);
    for (const h of route.hosts) next.set(h, compiled);
    for (const e of route.endpoints) live.add(originOf(e));
  }
  return { routes: next, live };
}

/** A request's host (lower case, without the port) and its route, if any. */
export function lookup(routes: Map<string, CompiledRoute>, req: http.IncomingMessage): { host: string; compiled?: CompiledRoute } {
  const raw = authorityOf(req);
  const colon = raw.startsWith('[') ? raw.indexOf(']:') + 1 : raw.lastIndexOf(':');
  const host = (colon > 0 ? raw.slice(0, colon) : raw).toLowerCase();
  return { host, compiled: routes.get(host) };
}

/** The new release's endpoints of a canary route, at equal weight, for pinned requests. */
function pinnedBalancer(route: Route, inFlight: (id: string) => number): Balancer | undefined {
  const ids = new Set(route.canary?.endpointIds ?? []);
  const eps = route.endpoints.filter((e) => ids.has(e.id)).map((e) => ({ ...e, weight: 1 }));
  return eps.length ? new Balancer(eps, route.loadBalancing?.mode ?? 'roundRobin', inFlight) : undefined;
}

export function originOf(e: Endpoint): string {
  return `${e.host}:${e.port}`;
}

export function sameEndpoints(a: Endpoint[], b: Endpoint[]): boolean {
  return a.length === b.length && a.every((e, i) => e.id === b[i].id && e.weight === b[i].weight && e.port === b[i].port);
}

/**
 * What a consistent route hashes, as the HAProxy data plane does: the client address (`consistentHash` ip),
 * a header (`customHeader`; `consistentReplicaRouting` header mode, default `x-replica-id`), or the URI
 * (`consistentReplicaRouting` path). Undefined (round robin) for other modes or a missing header.
 */
export function hashKeyOf(route: Route, req: http.IncomingMessage): string | undefined {
  const lb = route.loadBalancing;
  const header = (name: string | undefined) => {
    const v = name ? req.headers[name.toLowerCase()] : undefined;
    return Array.isArray(v) ? v[0] : v;
  };
  switch (lb?.mode) {
    case 'consistentHash':
      return lb.consistentHash?.mode === 'customHeader' && lb.consistentHash.header ? header(lb.consistentHash.header) : (req.socket.remoteAddress ?? '');
    case 'consistentReplicaRouting':
      return lb.consistentReplicaRouting?.mode === 'header' ? header(lb.consistentHash?.header ?? 'x-replica-id') : (req.url ?? '/');
    default:
      return undefined;
  }
}
