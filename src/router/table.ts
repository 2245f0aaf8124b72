/**
 * The routing table: what the controllers hand the router. Built outside request handling and swapped
 * whole (`Router.setTable`), so the hot path only reads an immutable snapshot.
 */
import type { RouteAccess } from './access.ts';
import type { RouteCanary } from './split.ts';

export interface Endpoint {
  /** Instance id, for logs and draining. */
  id: string;
  host: string;
  port: number;
  /** Relative weight (default 1); 0 means drain: no new requests. */
  weight: number;
}

export type LoadBalancingMode = 'roundRobin' | 'leastConnection' | 'consistentHash' | 'consistentReplicaRouting';

export interface Route {
  /** Stable key, e.g. `project/service/portName`. */
  key: string;
  /** Lower-case host names (no port) this route answers. */
  hosts: string[];
  project: string;
  service: string;
  portName: string;
  protocol: 'HTTP' | 'HTTP/2' | 'TCP' | 'UDP';
  /** Ready endpoints only. Empty with `maintenance` false → 503 "no instance ready". */
  endpoints: Endpoint[];
  /** Scale 0 / paused: answer 503 with the maintenance page. */
  maintenance: boolean;
  /** Access policies (basic auth, IP, headers, per path); none: every request passes. See access.ts. */
  access?: RouteAccess;
  /**
   * Client addresses that are internal traffic for `access` (its internal-traffic flags): the addresses of
   * the project's running instances, where the runtime gives each one of its own. Set only when `access`
   * uses them (`usesInternal`).
   */
  internalSources?: string[];
  loadBalancing?: { mode: LoadBalancingMode; consistentHash?: { mode: 'ip' | 'customHeader'; header?: string }; consistentReplicaRouting?: { mode: 'path' | 'header' } };
  /**
   * `TCP` routes only: the router port that forwards to the endpoints. Controllers leave it unset; the
   * router assigns one from its range, stable per route key (see `Router.tcpPortOf`). `hosts` is empty.
   */
  tcpPort?: number;
  /**
   * `HTTP`/`HTTP/2` routes only: TLS passthrough (`advancedOptions.enableTlsPassthrough`). A connection on
   * the router's TLS port whose SNI names one of `hosts` goes to the endpoints untouched (TCP, the app
   * terminates TLS with its own certificate); HTTP access policies cannot be checked on it, so a route
   * with `access` refuses such connections. Plain-port requests are proxied as for any HTTP route.
   */
  tlsPassthrough?: boolean;
  /**
   * A canary's traffic split (see split.ts): the endpoints' weights already carry the share; the router
   * reads this for the pins (requests that always reach `endpointIds`) and to report the split.
   */
  canary?: RouteCanary;
  /**
   * The lease (and its epoch) of the controller pass that set this route, when controllers run under leases
   * (docs/high-availability.md): where control-plane replicas publish tables for the same route, the newest
   * epoch's route wins and an older epoch's (a replica that lost the lease) is refused. Data planes ignore it.
   */
  fence?: { lease: string; epoch: number };
}

/**
 * The JSON of `o`, kept by object in `cache`: a table handed over again holds the same objects for what did not
 * change, so writing it serializes only what did (megabytes at thousands of routes). An object changed in
 * place must be deleted from the cache.
 */
export function cachedJson(cache: WeakMap<object, string>, o: object): string {
  let j = cache.get(o);
  if (j === undefined) cache.set(o, (j = JSON.stringify(o)));
  return j;
}

export interface RoutingTable {
  routes: Route[];
}

/** A data plane (built-in Node proxy, HAProxy). */
export interface Router {
  readonly name: string;
  /** Begin listening. Resolves when the ports are bound. */
  start(): Promise<void>;
  /**
   * Replace the whole table. Endpoints missing from the new table stop receiving new requests at once;
   * requests already in flight to them finish (drain). Cheap to call with an unchanged table.
   */
  setTable(table: RoutingTable): void;
  /** Requests currently in flight to an endpoint (by endpoint id); lets a stop wait until it is drained. */
  inFlight?(endpointId: string): number;
  /**
   * Resolves once the data plane serves the latest table (HAProxy applies changes asynchronously). A
   * controller awaits it before it reports an instance routed or stops an old one.
   */
  settled?(): Promise<void>;
  /**
   * The ports actually bound (useful with port 0 in tests); `httpsPort` only when TLS is on, `metricsPort`
   * (Prometheus text on 127.0.0.1, `/metrics` and `/routes`) only when metrics are on.
   */
  address(): { httpPort: number; httpsPort?: number; metricsPort?: number };
  /**
   * The router port of a `TCP` route in the table (by route key), once assigned; undefined for any other
   * route or before the assignment. Stable across restarts on the same data directory. Callers that need
   * the port bound await `settled()` first.
   */
  tcpPortOf?(routeKey: string): number | undefined;
  /** Stop accepting, let in-flight requests finish (bounded), close. */
  stop(): Promise<void>;
  /**
   * Let go of a data plane that runs in a process of its own and leave it serving the table it holds: the
   * next `start()` on the same data directory adopts it. Absent where the data plane cannot outlive the
   * control plane.
   */
  detach?(): Promise<void>;
}

/** One structured access-log entry, the same from either data plane. */
export interface AccessLogEntry {
  ts: string;
  client: string;
  method: string;
  host: string;
  path: string;
  /** 0 when the request ended before an answer */
  status: number;
  bytes: number;
  durationMs: number;
  /** the route's key (`project/service/port`); absent for an unknown host */
  route?: string;
  /** the instance that answered, if any */
  endpoint?: string;
  requestId?: string;
}
