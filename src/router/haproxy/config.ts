/**
 * Renders HAProxy's configuration, host map and page files from the router's model. Pure functions: the
 * router decides what to write and when to reload.
 *
 * Shape of the generated configuration:
 * ```
 * frontend slipway        bind host:port; X-Forwarded-*, X-Request-Id; Host → backend through hosts.map
 *   └─ default_backend    slipway_not_found (404 page naming the host)
 * frontend slipway_metrics  127.0.0.1:<metrics port>: /metrics (prometheus-exporter), /routes (routes.prom)
 * frontend tcp_<backend>  `TCP` routes: `mode tcp` on the route's port → its backend (also `mode tcp`)
 * frontend slipway_tls    only while a route has TLS passthrough: `mode tcp` on the TLS port; the ClientHello's
 *                         SNI picks a passthrough backend through sni.map (`be_<…>_tls`, `mode tcp`, the app
 *                         terminates TLS), else slipway_tls_terminate, which hands the connection with a PROXY
 *                         v2 header (client address kept) to the TLS bind of `slipway` on a unix socket.
 * backend slipway_handoff[_tls]  a soft-stopping worker's way to the current one (unix binds of `slipway`)
 * backend be_<key>_<hash> one per route; balance per load-balancing mode; maintenance / "no instance" 503;
 *                         servers s1…sN: the slots, each with the address, weight and state it holds
 *                         when the configuration is written (a free slot is `disabled` at 127.0.0.1:1).
 * ```
 * Endpoint changes never wait for this text: the slots take them through the Runtime API. A reload writes
 * the slots as they are then, so a new worker starts with its servers up; restoring them from a state file
 * instead left a new worker answering its first requests as if it had no server (bench and conformance:
 * 503s on other routes during a reload).
 */
import path from 'node:path';
import type { Route } from '../table.ts';
import { pages } from '../node-proxy/pages.ts';
import { WWW_AUTHENTICATE, usesInternal, type AccessCheck, type RouteAccess } from '../access.ts';
import { METRICS_CONTENT_TYPE, proxyName } from '../metrics.ts';
import { ACCESS_LOG_LINE_BYTES, ACCESS_LOG_REQUEST_RULES, ACCESS_LOG_RESPONSE_RULE, ACCESS_LOG_RING, ACCESS_LOG_RING_BYTES, ACCESS_LOG_SILENT_RULE, accessLogFormat } from './access-log-format.ts';

export const NOT_FOUND_BACKEND = 'slipway_not_found';
/** A soft-stopping worker's route to the current one, for plain requests on its old connections. */
export const HANDOFF_BACKEND = 'slipway_handoff';
/** The same for requests that came over TLS (the old worker has decrypted them): the current worker takes
 * them on a bind of this name and forwards them as HTTPS requests (`X-Forwarded-Proto: https`). */
export const HANDOFF_TLS_BACKEND = 'slipway_handoff_tls';
const HANDOFF_TLS_BIND = 'handoff-tls';
export const TLS_TERMINATE_BACKEND = 'slipway_tls_terminate';
/** How long the TLS port waits for a whole ClientHello while routing by SNI; then the connection is closed. */
const CLIENT_HELLO_WAIT = '5s';
export const SERVER_PREFIX = 's';
/** Address of a free slot: never dialled, since a free slot is always in maintenance. */
export const FREE_ADDR = '127.0.0.1';
export const FREE_PORT = 1;
/** Header hashed by consistentReplicaRouting in header mode when the route names none. */
export const DEFAULT_REPLICA_HEADER = 'x-replica-id';

export interface BackendSpec {
  name: string;
  /** `tcp`: a `TCP` route, with its own `mode tcp` frontend on `tcpPort` and no HTTP rules. */
  mode: 'http' | 'tcp';
  tcpPort?: number;
  /** A `mode tcp` backend for a TLS passthrough route's hosts, chosen by SNI in `slipway_tls` (no frontend of its own). */
  passthrough?: boolean;
  /** `h2`: the servers speak HTTP/2 in clear text (h2c), for `HTTP/2` routes. */
  serverProto?: 'h2';
  /** Slot i is server `s<i+1>`, as it is now; slots past the end (up to slotCount) are free. */
  slots?: SlotSpec[];
  /** `balance …` and `hash-type …` lines */
  balance: string[];
  /**
   * A canary's pins (see ../split.ts): the requests matching one of `conditions` (HAProxy ACL criteria, ORed)
   * go to the first usable of `servers` (the new release's slots). Part of the structure: a change reloads.
   */
  pins?: { conditions: string[]; servers: string[] };
  maintenance: boolean;
  slotCount: number;
  /** Access rules compiled by `accessRules`: `userlist` sections and the backend's ACL and rule lines. */
  access: AccessRules;
}

/** A server slot: an endpoint's address, weight and admin state, or the free placeholder in maintenance. */
export interface SlotSpec {
  addr: string;
  port: number;
  weight: number;
  state: 'ready' | 'drain' | 'maint';
}

/** A slot that carries no endpoint. */
export const FREE_SLOT: SlotSpec = { addr: FREE_ADDR, port: FREE_PORT, weight: 1, state: 'maint' };

export interface AccessRules {
  userlists: string[];
  rules: string[];
}

export interface ConfigSpec {
  /** `<dataDir>/router`, holding every file named here */
  dir: string;
  bindHost: string;
  port: number;
  backends: BackendSpec[];
  /**
   * HTTPS: the port and the crt-list file naming the certificates (see renderCrtList). `passthrough`: some
   * route has TLS passthrough, so the port is bound by the SNI-routing `slipway_tls` frontend (sni.map).
   */
  tls?: { port: number; passthrough?: boolean };
  /** Prometheus exporter on 127.0.0.1 (see ../metrics.ts); `routes.prom` is served at /routes. */
  metrics?: { port: number; /** serve routes.prom at /routes (false: it is too large for HAProxy to return, see ROUTE_INFO_MAX_BYTES) */ routeInfo?: boolean };
  /** Bound on a soft stop after a reload: old workers close what is left after this. */
  hardStopAfterSeconds: number;
  /** one JSON line per HTTP request into the ring ACCESS_LOG_RING, read back by the router (access-log-format.ts) */
  accessLog?: boolean;
}

export interface RouterFiles {
  config: string;
  hostsMap: string;
  /** backend → route key, for the access log (access-log-format.ts) */
  routesMap: string;
  /** `backend/slot` → endpoint id, for the access log */
  endpointsMap: string;
  adminSocket: string;
  masterSocket: string;
  pidFile: string;
  /** The router's model of what HAProxy holds, written after every change: a restarted control plane adopts HAProxy with it. */
  stateFile: string;
  /** HAProxy's own messages (stdout and stderr of the master and its workers), which outlive the control plane. */
  logFile: string;
  pagesDir: string;
  crtList: string;
  /** SNI name → passthrough backend, for `slipway_tls` */
  sniMap: string;
  /** the TLS-terminating bind of `slipway` while `slipway_tls` holds the TLS port */
  tlsSocket: string;
  /** `slipway_route_info` samples (see ../metrics.ts), served at /routes on the metrics port. */
  routeInfo: string;
  /** the plain-HTTP bind of `slipway` that old workers hand requests to (HANDOFF_BACKEND) */
  handoffSocket: string;
  /** the bind that old workers hand decrypted TLS requests to (HANDOFF_TLS_BACKEND) */
  handoffTlsSocket: string;
  /** `<backend>.acl` per route whose access policies look at internal traffic: its internal sources */
  internalDir: string;
}

/**
 * HAProxy returns a file only if it fits one buffer (`tune.bufsize`, 16 KB by default, less the headers); a
 * configuration naming a larger one is refused, so `/routes` is served only while routes.prom fits (about
 * 150 routes). Past that `/routes` answers 503 and the control plane maps backends to services itself.
 */
export const ROUTE_INFO_MAX_BYTES = 15_000;

export function routerFiles(dir: string): RouterFiles {
  return {
    config: path.join(dir, 'haproxy.cfg'),
    hostsMap: path.join(dir, 'hosts.map'),
    routesMap: path.join(dir, 'routes.map'),
    endpointsMap: path.join(dir, 'endpoints.map'),
    adminSocket: path.join(dir, 'admin.sock'),
    masterSocket: path.join(dir, 'master.sock'),
    pidFile: path.join(dir, 'haproxy.pid'),
    stateFile: path.join(dir, 'router-state.json'),
    logFile: path.join(dir, 'haproxy.log'),
    pagesDir: path.join(dir, 'pages'),
    crtList: path.join(dir, 'crt-list.txt'),
    sniMap: path.join(dir, 'sni.map'),
    tlsSocket: path.join(dir, 'tls.sock'),
    routeInfo: path.join(dir, 'routes.prom'),
    handoffSocket: path.join(dir, 'handoff.sock'),
    handoffTlsSocket: path.join(dir, 'handoff-tls.sock'),
    internalDir: path.join(dir, 'internal'),
  };
}

/**
 * Backend name for a route key: readable, limited to HAProxy's name alphabet, unique by a hash suffix. It
 * is the `proxy` label of the route's metrics on both planes, hence defined in ../metrics.ts.
 */
export const backendName = proxyName;

const HEADER_NAME = /^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,128}$/;

/**
 * HAProxy balance lines for a route's load-balancing settings (round robin when unset or unusable). A `tcp`
 * backend has no header or URI to hash: its consistent modes hash the client address.
 */
export function balanceFor(lb: Route['loadBalancing'], mode: 'http' | 'tcp' = 'http'): string[] {
  const consistent = 'hash-type consistent';
  if (mode === 'tcp' && (lb?.mode === 'consistentHash' || lb?.mode === 'consistentReplicaRouting')) return ['balance source', consistent];
  switch (lb?.mode) {
    case 'leastConnection':
      return ['balance leastconn'];
    case 'consistentHash': {
      const header = lb.consistentHash?.header;
      if (lb.consistentHash?.mode === 'customHeader' && header && HEADER_NAME.test(header)) return [`balance hdr(${header.toLowerCase()})`, consistent];
      return ['balance source', consistent];
    }
    case 'consistentReplicaRouting': {
      if (lb.consistentReplicaRouting?.mode === 'header') {
        const header = lb.consistentHash?.header && HEADER_NAME.test(lb.consistentHash.header) ? lb.consistentHash.header : DEFAULT_REPLICA_HEADER;
        return [`balance hdr(${header.toLowerCase()})`, consistent];
      }
      return ['balance uri', consistent];
    }
    default:
      return ['balance roundrobin'];
  }
}

/** Host names HAProxy can hold in a map file key (no spaces or control characters). */
export function isMappableHost(host: string): boolean {
  return /^[a-z0-9._*-]{1,253}$/.test(host) || /^\[[0-9a-f:.]+\]$/.test(host);
}

export function renderHostsMap(hosts: Map<string, string>): string {
  return [...hosts].map(([host, backend]) => `${host} ${backend}\n`).join('');
}

const HOST_MARK = '\u0000HOST\u0000';
const HTML = '"text/html; charset=utf-8"';

/** Files under pagesDir: bodies for `http-request return` and full responses for `errorfile`. */
export function renderPages(): Record<string, string> {
  const notFound = pages.notFound(HOST_MARK);
  if (notFound.includes('%')) throw new Error('the 404 page must not contain "%": it is a log-format template for HAProxy');
  const errorResponse = (status: string, body: string, extra = '') =>
    `HTTP/1.1 ${status}\r\ncontent-type: text/html; charset=utf-8\r\ncache-control: no-store\r\n${extra}content-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
  return {
    // The host is spliced in by HAProxy only when it is plain (see the rule's ACL), so no escaping is needed.
    'not-found.lf': notFound.replace(HOST_MARK, '%[var(txn.host)]'),
    'not-found.html': pages.notFound('this host').replace('<code>this host</code>', 'this host'),
    'no-instance.html': pages.noInstance(),
    'forbidden.html': pages.forbidden(),
    'unauthorized.html': pages.unauthorized(),
    'maintenance.html': pages.maintenance(),
    '502.http': errorResponse('502 Bad Gateway', pages.badGateway()),
    '503.http': errorResponse('503 Service Unavailable', pages.noInstance(), 'retry-after: 5\r\n'),
    '504.http': errorResponse('504 Gateway Timeout', pages.timeout()),
  };
}

/** The request's host, lower-cased and without its port: the host map's key. */
const HOST_SAMPLE = 'req.hdr(host),lower,field(1,:)';

function q(s: string): string {
  return `"${s.replace(/(["\\$])/g, '\\$1')}"`;
}

export function renderConfig(spec: ConfigSpec): string {
  const f = routerFiles(spec.dir);
  const page = (name: string) => q(path.join(f.pagesDir, name));
  const lines: string[] = [];
  const add = (...l: string[]) => lines.push(...l);
  add(
    '# Generated by slipway (HaproxyRouter); rewritten on every structural change.',
    'global',
    `  stats socket ${q(f.adminSocket)} mode 600 level admin expose-fd listeners`,
    '  stats timeout 10s',
    `  hard-stop-after ${spec.hardStopAfterSeconds}s`,
    ...(spec.accessLog ? [`  log ring@${ACCESS_LOG_RING} format raw local0 info`] : []),
    '',
    ...(spec.accessLog ? [`ring ${ACCESS_LOG_RING}`, '  format raw', `  size ${ACCESS_LOG_RING_BYTES}`, `  maxlen ${ACCESS_LOG_LINE_BYTES}`, ''] : []),
    'defaults',
    '  mode http',
    // No `option http-server-close`: keep-alive to clients, pooled keep-alive connections to servers.
    '  http-reuse safe',
    '  timeout connect 5s',
    '  timeout client 60s',
    '  timeout server 60s',
    '  timeout http-request 10s',
    '  timeout http-keep-alive 65s',
    '  timeout tunnel 1h',
    '  timeout client-fin 5s',
    // On a reload the old worker soft-stops. Without this it closes its idle keep-alive connections at once,
    // racing a client that is sending its next request on one (a request lost for every service, not only
    // the one that changed); with it, it answers that next request and only then closes, with
    // `connection: close`. hard-stop-after bounds how long an old worker waits for it.
    '  option idle-close-on-response',
    // A refused connection (an instance that just went away) is retried on another server (`redispatch 1`:
    // at every retry). The request has not been sent then, so any method may be retried. No L7 retry
    // (`empty-response` and the like): HAProxy would copy every request's buffer to be able to resend it,
    // the largest per-request cost this configuration had (bench/router.ts), for a case draining prevents.
    '  retries 2',
    '  retry-on conn-failure',
    '  option redispatch 1',
    `  errorfile 502 ${page('502.http')}`,
    `  errorfile 503 ${page('503.http')}`,
    `  errorfile 504 ${page('504.http')}`,
    '',
    'frontend slipway',
    `  bind ${spec.bindHost}:${spec.port}`,
    // Requests handed over by a soft-stopping worker (see HANDOFF_BACKEND), with their client's address and
    // port (PROXY v2): plain ones, and those that reached the old worker over TLS.
    `  bind unix@${f.handoffSocket} mode 600 accept-proxy`,
    `  bind unix@${f.handoffTlsSocket} mode 600 accept-proxy name ${HANDOFF_TLS_BIND}`,
    // ALPN h2 first: HTTP/2 clients get h2 on every route; HTTP/2 routes also speak h2c to their servers.
    ...(spec.tls ? [`  bind ${spec.tls.passthrough ? `unix@${f.tlsSocket} mode 600 accept-proxy` : `${spec.bindHost}:${spec.tls.port}`} ssl crt-list ${q(f.crtList)} alpn h2,http/1.1`] : []),
    ...(spec.accessLog ? ['  log global', `  log-format '${accessLogFormat(f)}'`] : []),
    // Every rule here runs on every request: keep them few and cheap (bench/router.ts measures them).
    // The host is kept for the access log, which is written after the request has left; the not-found
    // backend sets it itself.
    ...(spec.accessLog ? [`  http-request set-var(txn.host) ${HOST_SAMPLE}`] : []),
    // Keep a sane request id from the client (as the built-in router does), else give one.
    '  http-request set-header X-Request-Id %[uuid()] unless { req.hdr_cnt(x-request-id) eq 1 } { req.hdr(x-request-id) -m reg ^[A-Za-z0-9._:-]{1,128}$ }',
    ...(spec.accessLog ? ACCESS_LOG_REQUEST_RULES.map((r) => `  ${r}`) : []),
    // A TLS request handed over keeps the `https` the old worker set.
    `  http-request set-header X-Forwarded-Proto %[ssl_fc,iif(https,http)] unless { so_name ${HANDOFF_TLS_BIND} }`,
    '  http-request set-header X-Forwarded-Host %[req.hdr(host)]',
    '  http-request set-header X-Forwarded-Port %[dst_port]',
    // After a reload the old worker serves the next request on each of its idle connections (see
    // idle-close-on-response), and the requests of streams still open: each goes on to the current worker,
    // so it meets today's routes and endpoints, not the old worker's (whose servers the Runtime API can no
    // longer change: a stopping worker's proxies refuse `set server`).
    `  use_backend %[ssl_fc,iif(${HANDOFF_TLS_BACKEND},${HANDOFF_BACKEND})] if { stopping }`,
    `  use_backend %[${HOST_SAMPLE},map(${f.hostsMap})]`,
    `  default_backend ${NOT_FOUND_BACKEND}`,
    '',
    ...(spec.metrics
      ? [
          // Local only; reloads keep the port (the new worker takes the listener over).
          'frontend slipway_metrics',
          `  bind 127.0.0.1:${spec.metrics.port}`,
          '  no log',
          '  http-request use-service prometheus-exporter if { path /metrics }',
          ...(spec.metrics.routeInfo === false
            ? [`  http-request return status 503 content-type text/plain string ${q('route info is too large for the router to serve; the control plane reads it from its own table')} if { path /routes }`]
            : [`  http-request return status 200 content-type ${q(METRICS_CONTENT_TYPE)} hdr cache-control no-store file ${q(f.routeInfo)} if { path /routes }`]),
          `  http-request return status 404 content-type text/plain string ${q('not found: try /metrics or /routes')}`,
          '',
        ]
      : []),
    ...(spec.tls?.passthrough
      ? [
          'frontend slipway_tls',
          '  mode tcp',
          `  bind ${spec.bindHost}:${spec.tls.port}`,
          `  tcp-request inspect-delay ${CLIENT_HELLO_WAIT}`,
          '  tcp-request content accept if { req.ssl_hello_type 1 }',
          // Not a ClientHello, or not a whole one in time: closed, as a failed handshake would be.
          '  tcp-request content reject',
          `  use_backend %[req.ssl_sni,lower,map(${f.sniMap})]`,
          `  default_backend ${TLS_TERMINATE_BACKEND}`,
          '',
          `backend ${TLS_TERMINATE_BACKEND}`,
          '  mode tcp',
          '  retry-on conn-failure',
          `  server terminate unix@${f.tlsSocket} send-proxy-v2`,
          '',
        ]
      : []),
    `backend ${HANDOFF_BACKEND}`,
    ...(spec.accessLog ? [`  ${ACCESS_LOG_SILENT_RULE}`] : []),
    `  server current unix@${f.handoffSocket} send-proxy-v2`,
    '',
    `backend ${HANDOFF_TLS_BACKEND}`,
    ...(spec.accessLog ? [`  ${ACCESS_LOG_SILENT_RULE}`] : []),
    `  server current unix@${f.handoffTlsSocket} send-proxy-v2`,
    '',
    `backend ${NOT_FOUND_BACKEND}`,
    `  http-request set-var(txn.host) ${HOST_SAMPLE}`,
    `  http-request return status 404 content-type ${HTML} hdr cache-control no-store lf-file ${page('not-found.lf')} if { var(txn.host) -m reg ^[a-z0-9._-]*$ }`,
    `  http-request return status 404 content-type ${HTML} hdr cache-control no-store file ${page('not-found.html')}`,
  );
  for (const b of spec.backends) if (b.access.userlists.length) add('', ...b.access.userlists);
  for (const b of spec.backends) {
    if (b.mode === 'tcp') {
      if (!b.passthrough) add('', `frontend tcp_${b.name}`, '  mode tcp', `  bind ${spec.bindHost}:${b.tcpPort}`, `  default_backend ${b.name}`);
      add(
        '',
        `backend ${b.name}`,
        '  mode tcp',
        // Only a refused connection is retried (elsewhere, by redispatch): L7 retries need HTTP.
        '  retry-on conn-failure',
        ...b.balance.map((l) => `  ${l}`),
        // Maintenance: the connection is closed at once, as the built-in router does.
        ...(b.maintenance ? ['  tcp-request content reject'] : []),
        ...serverLines(b),
      );
      continue;
    }
    // X-Forwarded-For is added where a request leaves for its route, not in the frontend: a request that an
    // old worker hands to the current one (HANDOFF_BACKEND) gets it there once, not twice.
    add('', `backend ${b.name}`, '  option forwardfor', ...b.balance.map((l) => `  ${l}`), ...(spec.accessLog ? [`  ${ACCESS_LOG_RESPONSE_RULE}`] : []));
    // Access first: a refused request learns nothing about the service, not even that it is in maintenance.
    add(...b.access.rules.map((l) => `  ${l}`));
    if (b.maintenance) add(`  http-request return status 503 content-type ${HTML} hdr cache-control no-store hdr retry-after 30 file ${page('maintenance.html')}`);
    // nbsrv counts usable servers: slots in maintenance or drain do not count.
    else add(`  http-request return status 503 content-type ${HTML} hdr cache-control no-store hdr retry-after 5 file ${page('no-instance.html')} if { nbsrv eq 0 } !{ stopping }`);
    if (b.pins?.servers.length) add(...b.pins.conditions.map((c) => `  acl canary_pin ${c}`), ...b.pins.servers.map((srv) => `  use-server ${srv} if canary_pin`));
    add(...serverLines(b));
  }
  return `${lines.join('\n')}\n`;
}

/**
 * A backend's slots as `server` lines. A slot that is not ready (free, draining, in maintenance) is
 * `disabled` but keeps its address: a later `set server … state ready` must find the endpoint, not the
 * placeholder. A draining slot's requests are the old worker's; the new one sends it none.
 */
function serverLines(b: BackendSpec): string[] {
  const proto = b.serverProto ? ` proto ${b.serverProto}` : '';
  const out: string[] = [];
  for (let i = 0; i < b.slotCount; i++) {
    const s = b.slots?.[i] ?? FREE_SLOT;
    const addr = s.addr.includes(':') ? `[${s.addr}]` : s.addr;
    out.push(`  server ${SERVER_PREFIX}${i + 1} ${addr}:${s.port} weight ${s.weight}${s.state === 'ready' ? '' : ' disabled'}${proto}`);
  }
  return out;
}

/**
 * HAProxy's crt-list: one certificate per line with the SNI names it answers for. The first line is the
 * default certificate (no SNI, or a name nothing covers): the self-signed one, indexed only for its names
 * no user certificate claims, so a user's `*.<domain>` certificate replaces it. Names are given explicitly
 * (the ones the built-in router reads from the certificate), so both planes choose alike.
 */
export function renderCrtList(selfSigned: { file: string; unclaimed: string[] }, user: { file: string; names: string[] }[]): string {
  const line = (file: string, names: string[]) => `${file} ${names.length ? names.join(' ') : 'slipway.invalid'}\n`;
  return line(selfSigned.file, selfSigned.unclaimed) + user.map((c) => line(c.file, c.names.filter((n) => /^[a-z0-9*._-]+$/.test(n)))).join('');
}

const ADDRESSES_PER_LINE = 32;
/**
 * IPv6 clients HAProxy would also match against IPv4 patterns (its `v6tov4` maps IPv4-compatible `::/96`
 * and 6to4 `2002::/16` addresses to IPv4, so `::1` falls in `0.0.0.0/0`); the built-in router treats them
 * as IPv6 only, so IPv4 patterns are guarded with this ACL. IPv4-mapped `::ffff:0:0/96` is not in it: those
 * are IPv4 clients on a dual-stack socket, IPv4 on both planes.
 */
const NOT_IPV4_ACL = 'slipway_not_ipv4';
const INTERNAL_ACL = 'slipway_internal';

/**
 * Compiles a route's access model (see ../access.ts for the semantics, which these lines must keep) into
 * `userlist` sections and backend lines. Each policy is a *unit* with a condition saying when it applies:
 * ```
 * http-request set-var(txn.slipway_path) int(i) if !{ var(txn.slipway_path) -m found } { path -m beg "/x" }
 *                                      one line per path rule, highest priority first: the first match wins
 * acl slipway_u<u>_c<k>…  …            the ACLs of each check (addresses split IPv4 / IPv6, one per header rule)
 * http-request set-var(txn.slipway_u<u>_c<k>) bool(1) if <unit> <acls> || <unit> <acls>   check k passes
 * http-request return status 403 …     if <unit> <denied>                       DENY addresses
 * http-request return status 403 …     if <unit> !<check passed>                each `all` check but credentials
 * http-request return status 401|403 … if <unit> !<one of the `any` checks passed>
 * http-request return status 401 …     if <unit> !<credentials passed>          `all` credentials
 * ```
 * Unit 0 is the port's policy (for paths no rule matches); the others are the protected path rules.
 */
export function accessRules(backend: string, access: RouteAccess | undefined, pagesDir: string, internalFile: string): AccessRules {
  const userlists: string[] = [];
  const rules: string[] = [];
  if (!access) return { userlists, rules };
  // Internal traffic: the client is one of the addresses in the route's file (exact addresses, kept current
  // through the Runtime API's `add acl` / `del acl`). HAProxy also matches an IPv4-compatible `::a.b.c.d`
  // client against `a.b.c.d`; the built-in router does not, a difference only such deprecated addresses see.
  const internal = usesInternal(access);
  if (internal) rules.push(`acl ${INTERNAL_ACL} src -f ${q(internalFile)}`);
  const page = (name: string) => q(path.join(pagesDir, name));
  const forbid = `http-request return status 403 content-type ${HTML} hdr cache-control no-store file ${page('forbidden.html')}`;
  const challenge = `http-request return status 401 content-type ${HTML} hdr cache-control no-store hdr www-authenticate ${q(WWW_AUTHENTICATE)} file ${page('unauthorized.html')}`;
  const when = (...terms: string[]) => {
    const t = terms.filter(Boolean);
    return t.length ? ` if ${t.join(' ')}` : '';
  };
  /** A condition in disjunctive form (a list of ANDed term lists), each branch under the unit's condition. */
  const anyOf = (cond: string, dnf: string[][]) => dnf.map((conj) => [cond, ...conj].filter(Boolean).join(' ')).join(' || ');
  let guarded = false;
  /** ACLs for an address list; the disjunctive condition of "the client is in it". */
  const addressAcls = (acl: string, cidrs: string[]): string[][] => {
    const dnf: string[][] = [];
    for (const [family, list] of [
      ['6', cidrs.filter((c) => c.includes(':'))],
      ['4', cidrs.filter((c) => !c.includes(':'))],
    ] as const) {
      if (!list.length) continue;
      for (let i = 0; i < list.length; i += ADDRESSES_PER_LINE) rules.push(`acl ${acl}_${family} src ${list.slice(i, i + ADDRESSES_PER_LINE).join(' ')}`);
      if (family === '4' && !guarded) {
        rules.push(`acl ${NOT_IPV4_ACL} src ::/96 2002::/16`);
        guarded = true;
      }
      dnf.push(family === '4' ? [`${acl}_4`, `!${NOT_IPV4_ACL}`] : [`${acl}_6`]);
    }
    return dnf;
  };

  const PATH_VAR = 'txn.slipway_path';
  const units: { cond: string; policy: RouteAccess['policy'] }[] = [];
  if (access.paths.length) {
    access.paths.forEach((r, i) => {
      const fetch = r.match === 'prefix' ? 'path -m beg' : r.match === 'exact' ? 'path -m str' : 'path -m reg';
      rules.push(`http-request set-var(${PATH_VAR}) int(${i})${when(`!{ var(${PATH_VAR}) -m found }`, `{ ${fetch} ${q(r.path)} }`)}`);
    });
    units.push({ cond: `!{ var(${PATH_VAR}) -m found }`, policy: access.policy });
    access.paths.forEach((r, i) => {
      if (r.protected) units.push({ cond: `{ var(${PATH_VAR}) -m int ${i} }`, policy: r.policy });
    });
  } else {
    units.push({ cond: '', policy: access.policy });
  }
  // Internal traffic skipping every policy: no unit applies to it.
  if (internal && access.skipInternal) for (const u of units) u.cond = [u.cond, `!${INTERNAL_ACL}`].filter(Boolean).join(' ');

  units.forEach(({ cond, policy }, u) => {
    const id = `slipway_u${u}`;
    if (policy.deny.length) {
      const denied = addressAcls(`${id}_deny`, policy.deny);
      for (const conj of denied) rules.push(`${forbid}${when(cond, ...conj)}`);
    }
    /** The variable set when a check passes (none for a check that never passes). */
    const passed = new Map<AccessCheck, string>();
    [...policy.all, ...policy.any].forEach((c, k) => {
      const acl = `${id}_c${k}`;
      let dnf: string[][] = [];
      switch (c.kind) {
        case 'ip':
          dnf = addressAcls(acl, c.allow);
          break;
        case 'credentials': {
          const list = `${backend}_${acl}`;
          const seen = new Set<string>();
          // The first of two users with the same name wins, as in the built-in router.
          const users = c.users.filter((x) => !seen.has(x.username) && seen.add(x.username));
          userlists.push(`userlist ${list}`, ...users.map((x) => `  user ${x.username} password ${x.passwordHash}`));
          rules.push(`acl ${acl} http_auth(${list})`);
          dnf = [[acl]];
          break;
        }
        case 'headers':
          dnf = [
            c.rules.map((h, j) => {
              rules.push(`acl ${acl}_${j} req.fhdr(${h.name},-1) -m reg ${q(h.pattern)}`);
              return `${acl}_${j}`;
            }),
          ];
          break;
        case 'internal':
          if (internal) dnf = [[INTERNAL_ACL]];
          break;
        case 'never':
          break;
      }
      if (dnf.length) {
        // Evaluated once per request: an `http_auth` check costs a SHA-512 crypt.
        rules.push(`http-request set-var(txn.${acl}) bool(1) if ${anyOf(cond, dnf)}`);
        passed.set(c, `{ var(txn.${acl}) -m found }`);
      }
    });
    const failed = (c: AccessCheck) => (passed.has(c) ? `!${passed.get(c)}` : '');
    for (const c of policy.all) if (c.kind !== 'credentials') rules.push(`${forbid}${when(cond, failed(c))}`);
    if (policy.any.length) {
      const refuse = policy.any.some((c) => c.kind === 'credentials') ? challenge : forbid;
      rules.push(`${refuse}${when(cond, ...policy.any.map(failed))}`);
    }
    for (const c of policy.all) if (c.kind === 'credentials') rules.push(`${challenge}${when(cond, failed(c))}`);
  });
  return { userlists, rules };
}
