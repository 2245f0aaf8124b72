/**
 * The built-in data plane: a Node HTTP/1.1 reverse proxy. Routes by Host to the ready endpoints of a
 * route, keeps connections alive on both sides, streams bodies, retries an idempotent request once on
 * another endpoint when the first refused the connection, passes WebSocket upgrades through, and counts
 * requests in flight per endpoint so a stop can wait for them (draining).
 */
import http from 'node:http';
import http2 from 'node:http2';
import net from 'node:net';
import tls from 'node:tls';
import crypto from 'node:crypto';
import { Pool, type Dispatcher } from 'undici';
import type { AccessLogEntry, Endpoint, Route, Router, RoutingTable } from '../table.ts';
import { Balancer } from './balancer.ts';
import { evaluate, isInternal, type AccessRequest } from '../access.ts';
import { ensureSelfSigned, loadCertificates, pickCertificate, type CertificateSet, type TlsCertificate } from '../tls/certificates.ts';
import { pages } from './pages.ts';
import { RouteMetrics } from './route-metrics.ts';
import { METRICS_CONTENT_TYPE, renderRouteInfo } from '../metrics.ts';
import { TcpPortAllocator, tcpPortsFile, type TcpPortRange } from '../tcp-ports.ts';
import { parseClientHello } from './client-hello.ts';
import { matchesPin } from '../split.ts';

interface CompiledRoute {
  route: Route;
  balancer: Balancer;
  /** a canary with pins: the new release's endpoints, for the requests that carry a pin (see ../split.ts) */
  pinned?: Balancer;
}

/** A `TCP` route's listener; `current` is swapped by each table, connections in progress keep their endpoint. */
interface TcpListener {
  port: number;
  server: net.Server;
  current: CompiledRoute;
}

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade', 'proxy-authorization', 'proxy-authenticate']);
const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'TRACE']);
const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;
/** How long a connection on the TLS port may take to send its ClientHello while passthrough routes exist. */
const CLIENT_HELLO_TIMEOUT_MS = 5000;

export interface NodeRouterOptions {
  host: string;
  port: number;
  /** upstream response-headers timeout */
  upstreamTimeoutMs?: number;
  /** HTTPS port (0 picks a free one); TLS is off when unset. Needs `dataDir` and `domain` for certificates. */
  tlsPort?: number;
  /** Certificates live in `<dataDir>/tls/` (see ../tls/certificates.ts). */
  dataDir?: string;
  /** Base domain: the self-signed certificate is for `*.<domain>` and `<domain>`. */
  domain?: string;
  /** Prometheus text on 127.0.0.1 (0 picks a free port); off when unset. See ../metrics.ts. */
  metricsPort?: number;
  /** Ports for `TCP` routes (see ../tcp-ports.ts; needs `dataDir`); without it TCP routes are not served. */
  tcpPorts?: TcpPortRange;
  logger?: { debug(o: object, m: string): void; warn(o: object, m: string): void };
  /** structured access log: one entry per HTTP request, when set */
  accessLog?: (entry: AccessLogEntry) => void;
}

export class NodeRouter implements Router {
  readonly name = 'builtin';
  private readonly server: http.Server;
  /** HTTPS with ALPN `h2,http/1.1`: HTTP/2 clients get h2, others HTTP/1.1 on the same port. */
  private tlsServer?: http2.Http2SecureServer;
  /**
   * The listener on the TLS port. With no passthrough route it hands every connection to `tlsServer` at
   * once; otherwise it reads the ClientHello's SNI first and pipes a passthrough host's connection, bytes
   * untouched, to the route's endpoints (the app terminates TLS), handing the rest to `tlsServer`.
   */
  private tlsFront?: net.Server;
  /** Hosts of `tlsPassthrough` routes → their route (sharing the HTTP route's balancer). */
  private passthrough = new Map<string, CompiledRoute>();
  /** h2c sessions to the endpoints of `HTTP/2` routes, by origin. */
  private readonly h2Sessions = new Map<string, http2.ClientHttp2Session>();
  private certs?: CertificateSet;
  private certsCheckedAt = 0;
  private selfSignedFile = '';
  private readonly contexts = new Map<string, { pem: string; context: tls.SecureContext }>();
  private routes = new Map<string, CompiledRoute>();
  private readonly inflight = new Map<string, number>();
  /** Keep-alive connection pools to the endpoints of HTTP/1.1 routes, by origin. */
  private readonly pools = new Map<string, Pool>();
  private readonly sockets = new Set<net.Socket>();
  private readonly metrics = new RouteMetrics();
  private metricsServer?: http.Server;
  private table: RoutingTable = { routes: [] };
  private readonly tcpPorts?: TcpPortAllocator;
  private readonly tcp = new Map<string, TcpListener>();
  private tcpDirty = false;
  private tcpLoop?: Promise<void>;
  private started = false;
  private stopping = false;
  /** When the upstream's response headers arrived, for the response-time metric. */
  private readonly headersAt = new WeakMap<object, bigint>();
  /** for the access log: which instance answered a response, with which request id, and how many bytes */
  private readonly answeredBy = new WeakMap<object, { endpoint: string; requestId?: string; bytes: number }>();

  constructor(private readonly opts: NodeRouterOptions) {
    if (opts.tlsPort !== undefined && (!opts.dataDir || !opts.domain)) throw new Error('NodeRouter: tlsPort needs dataDir and domain (for the certificates)');
    this.server = http.createServer({ keepAlive: true }, (req, res) => this.handle(req, res));
    this.serve(this.server);
    if (opts.tcpPorts && opts.dataDir) this.tcpPorts = new TcpPortAllocator(tcpPortsFile(opts.dataDir), opts.tcpPorts, opts.host, opts.logger);
  }

  /** Wires a listening server (plain, or TLS with HTTP/2) to the proxy. */
  private serve(server: http.Server | http2.Http2SecureServer): void {
    if (server instanceof http.Server) server.keepAliveTimeout = 65_000;
    server.on('upgrade', (req: http.IncomingMessage, socket: net.Socket, head: Buffer) => this.upgrade(req, socket, head));
    // The raw TCP socket, for TLS too: destroying it at stop also ends a connection stuck in its handshake.
    server.on('connection', (s: net.Socket) => {
      this.sockets.add(s);
      s.once('close', () => this.sockets.delete(s));
    });
    server.on('clientError', (_err: Error, socket: net.Socket) => {
      if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\n\r\n');
      else socket.destroy();
    });
  }

  async start(): Promise<void> {
    if (this.opts.tlsPort !== undefined) {
      this.selfSignedFile = await ensureSelfSigned(this.opts.dataDir!, this.opts.domain!);
      const initial = this.certificates();
      this.tlsServer = http2.createSecureServer(
        {
          allowHTTP1: true,
          ...this.contextOptions(initial.selfSigned),
          SNICallback: (servername, cb) => {
            try {
              cb(null, this.contextFor(pickCertificate(this.certificates(), servername)));
            } catch (err) {
              cb(err as Error);
            }
          },
        },
        // The compatibility API: an HTTP/2 request reads like an HTTP/1 one (`:authority` instead of Host).
        (req, res) => this.handle(req as unknown as http.IncomingMessage, res as unknown as http.ServerResponse),
      );
      this.serve(this.tlsServer);
      this.tlsFront = net.createServer((s) => this.tlsConnection(s));
      await listen(this.tlsFront, this.opts.tlsPort, this.opts.host);
    }
    await listen(this.server, this.opts.port, this.opts.host);
    if (this.opts.metricsPort !== undefined) {
      this.metricsServer = http.createServer((req, res) => {
        const p = (req.url ?? '/').split('?')[0];
        const body = p === '/metrics' ? this.metrics.render() : p === '/routes' ? renderRouteInfo(this.table.routes) : undefined;
        if (body === undefined || (req.method !== 'GET' && req.method !== 'HEAD')) {
          res.writeHead(404, { 'content-type': 'text/plain' });
          return void res.end('not found: try /metrics or /routes\n');
        }
        res.writeHead(200, { 'content-type': METRICS_CONTENT_TYPE, 'cache-control': 'no-store' });
        res.end(req.method === 'HEAD' ? undefined : body);
      });
      try {
        await listen(this.metricsServer, this.opts.metricsPort, '127.0.0.1');
      } catch (err) {
        // Metrics are for watching traffic; a busy port must not stop the router from carrying it.
        if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err;
        this.opts.logger?.warn({ port: this.opts.metricsPort }, 'router metrics port is in use: metrics are off (set SLIPWAY_ROUTER_METRICS_PORT)');
        this.metricsServer = undefined;
      }
    }
    this.started = true;
    this.kickTcp();
    await this.settled();
  }

  /** Resolves once the TCP listeners match the latest table (HTTP routes apply synchronously in setTable). */
  async settled(): Promise<void> {
    while (this.tcpLoop) await this.tcpLoop;
  }

  tcpPortOf(routeKey: string): number | undefined {
    return this.tcp.get(routeKey)?.port;
  }

  private kickTcp(): void {
    this.tcpDirty = true;
    if (!this.started || this.tcpLoop) return;
    this.tcpLoop = (async () => {
      while (this.tcpDirty && !this.stopping) {
        this.tcpDirty = false;
        try {
          await this.reconcileTcp();
        } catch (err) {
          this.opts.logger?.warn({ err: (err as Error).message }, 'TCP routes not applied');
        }
      }
    })().finally(() => (this.tcpLoop = undefined));
  }

  /** Opens a listener per TCP route on its assigned port, re-points the kept ones, closes the rest. */
  private async reconcileTcp(): Promise<void> {
    const routes = new Map<string, Route>();
    for (const r of this.table.routes) if (r.protocol === 'TCP' && !routes.has(r.key)) routes.set(r.key, r);
    if (routes.size && !this.tcpPorts) this.opts.logger?.warn({ routes: routes.size }, 'TCP routes need tcpPorts and dataDir; not served');
    const ports = this.tcpPorts ? await this.tcpPorts.assign(routes.keys()) : new Map<string, number>();
    for (const [key, l] of this.tcp) {
      if (ports.get(key) === l.port) continue;
      // Stop accepting; connections in progress carry on until either side closes them.
      l.server.close();
      this.tcp.delete(key);
    }
    for (const [key, route] of routes) {
      const port = ports.get(key);
      if (port === undefined) continue;
      const had = this.tcp.get(key);
      const prev = had?.current;
      const same = prev && sameEndpoints(prev.route.endpoints, route.endpoints) && prev.route.loadBalancing?.mode === route.loadBalancing?.mode;
      const current: CompiledRoute = same ? { route, balancer: prev.balancer } : { route, balancer: new Balancer(route.endpoints, route.loadBalancing?.mode ?? 'roundRobin', (id) => this.inFlight(id)) };
      if (had) {
        had.current = current;
        continue;
      }
      const l: TcpListener = { port, current, server: net.createServer() };
      l.server.on('connection', (s) => this.pipeTcp(l.current, s));
      try {
        await listen(l.server, port, this.opts.host);
        this.tcp.set(key, l);
      } catch (err) {
        this.opts.logger?.warn({ route: key, port, err: (err as Error).message }, 'TCP route port not bound');
      }
    }
  }

  /**
   * One client connection: to an endpoint by the route's balancing; a refused connect tries one other.
   * `head`: bytes already read from the client (a passthrough ClientHello), sent first; such a connection
   * is not counted in the route's metrics, which count its HTTP requests.
   */
  private pipeTcp(current: CompiledRoute, client: net.Socket, head?: Buffer): void {
    this.sockets.add(client);
    client.once('close', () => this.sockets.delete(client));
    const { route, balancer } = current;
    if (!head) {
      const end = this.metrics.begin(route.key, 'tcp');
      client.once('close', () => end());
    }
    client.on('error', () => client.destroy());
    if (route.maintenance) return void client.destroy();
    const attempt = (ep: Endpoint | undefined, mayRetry: boolean) => {
      if (!ep || client.destroyed) return void client.destroy();
      this.inflight.set(ep.id, (this.inflight.get(ep.id) ?? 0) + 1);
      let released = false;
      const release = () => {
        if (released) return;
        released = true;
        const n = (this.inflight.get(ep.id) ?? 1) - 1;
        if (n > 0) this.inflight.set(ep.id, n);
        else this.inflight.delete(ep.id);
      };
      const up = net.connect({ host: ep.host, port: ep.port });
      let connected = false;
      up.once('connect', () => {
        connected = true;
        if (head) up.write(head);
        up.pipe(client);
        client.pipe(up);
      });
      up.on('error', (err: NodeJS.ErrnoException) => {
        release();
        if (!connected && mayRetry && err.code === 'ECONNREFUSED') return attempt(balancer.pick(ep.id, client.remoteAddress), false);
        client.destroy();
      });
      up.once('close', () => {
        release();
        if (connected) client.destroy();
      });
      client.once('close', () => up.destroy());
    };
    client.pause();
    attempt(balancer.pick(undefined, client.remoteAddress), true);
  }

  /**
   * A connection on the TLS port. A ClientHello naming a passthrough host goes to that route's endpoints
   * as is (refused in maintenance, with no endpoint, or when the route has access policies, which cannot
   * be checked on encrypted traffic); anything else is terminated here. The socket itself is handed on, so
   * the client's address stays for access policies and X-Forwarded-For. A ClientHello that does not
   * arrive whole within CLIENT_HELLO_TIMEOUT_MS closes the connection.
   */
  private tlsConnection(socket: net.Socket): void {
    const terminate = () => void this.tlsServer!.emit('connection', socket);
    if (this.passthrough.size === 0) return terminate();
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
    let buf: Buffer = Buffer.alloc(0);
    const timer = setTimeout(() => socket.destroy(), CLIENT_HELLO_TIMEOUT_MS);
    socket.once('close', () => clearTimeout(timer));
    const onError = () => socket.destroy();
    const onData = (d: Buffer) => {
      buf = buf.length ? Buffer.concat([buf, d]) : d;
      const hello = parseClientHello(buf);
      if (hello.kind === 'incomplete') return;
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('error', onError);
      socket.pause();
      const compiled = hello.kind === 'hello' && hello.serverName ? this.passthrough.get(hello.serverName) : undefined;
      if (!compiled) {
        // node:tls reads what is already buffered on the socket before its own reads.
        socket.unshift(buf);
        return terminate();
      }
      if (compiled.route.access) return void socket.destroy();
      this.pipeTcp(compiled, socket, buf);
    };
    socket.on('error', onError);
    socket.on('data', onData);
  }

  address(): { httpPort: number; httpsPort?: number; metricsPort?: number } {
    const port = (s?: net.Server) => (s?.address() as net.AddressInfo | null)?.port;
    return {
      httpPort: port(this.server)!,
      ...(this.tlsFront ? { httpsPort: port(this.tlsFront) } : {}),
      ...(this.metricsServer ? { metricsPort: port(this.metricsServer) } : {}),
    };
  }

  /** The certificate set, re-read from disk at most every 2 s, so a new user certificate is served without a restart. */
  private certificates(): CertificateSet {
    if (!this.certs || Date.now() - this.certsCheckedAt > 2000) {
      this.certsCheckedAt = Date.now();
      try {
        this.certs = loadCertificates(this.opts.dataDir!, this.selfSignedFile, (file, err) => this.opts.logger?.warn({ file, err: err.message }, 'TLS certificate ignored'));
      } catch (err) {
        // The self-signed certificate cannot be read (removed under us): keep serving the set last read.
        if (!this.certs) throw err;
        this.opts.logger?.warn({ err: (err as Error).message }, 'TLS certificates not re-read; the last ones stay in use');
      }
    }
    return this.certs;
  }

  private contextOptions(cert: TlsCertificate): tls.SecureContextOptions {
    return { cert: cert.pem, key: cert.pem };
  }

  private contextFor(cert: TlsCertificate): tls.SecureContext {
    const had = this.contexts.get(cert.file);
    if (had?.pem === cert.pem) return had.context;
    const context = tls.createSecureContext(this.contextOptions(cert));
    this.contexts.set(cert.file, { pem: cert.pem, context });
    return context;
  }

  inFlight(endpointId: string): number {
    return this.inflight.get(endpointId) ?? 0;
  }

  /** Requests in flight per endpoint id, every endpoint with any (for a control plane in another process). */
  inFlightCounts(): Map<string, number> {
    return new Map([...this.inflight].filter(([, n]) => n > 0));
  }

  setTable(table: RoutingTable): void {
    this.table = table;
    this.metrics.retain(table.routes.map((r) => r.key));
    this.kickTcp();
    const next = new Map<string, CompiledRoute>();
    const live = new Set<string>();
    for (const route of table.routes) {
      if (route.protocol === 'TCP') {
        for (const e of route.endpoints) live.add(originOf(e));
        continue;
      }
      const prev = this.routes.get(route.hosts[0] ?? '');
      // Keep the balancer's rotation when the endpoint set did not change.
      const same = prev && prev.route.key === route.key && sameEndpoints(prev.route.endpoints, route.endpoints) && prev.route.loadBalancing?.mode === route.loadBalancing?.mode;
      const compiled: CompiledRoute = same ? { route, balancer: prev.balancer } : { route, balancer: new Balancer(route.endpoints, route.loadBalancing?.mode ?? 'roundRobin', (id) => this.inFlight(id)) };
      if (route.canary?.pins?.length) compiled.pinned = pinnedBalancer(route, (id) => this.inFlight(id));
      for (const h of route.hosts) next.set(h, compiled);
      for (const e of route.endpoints) live.add(originOf(e));
    }
    this.routes = next;
    this.passthrough = new Map([...next].filter(([, c]) => c.route.tlsPassthrough === true));
    // Idle keep-alive connections to endpoints that left the table are closed; busy ones finish first.
    for (const [origin, pool] of this.pools) {
      if (live.has(origin)) continue;
      this.pools.delete(origin);
      // close(): idle connections now, busy ones as soon as their request is done; destroy() after 60 s.
      const timer = setTimeout(() => void pool.destroy().catch(() => undefined), 60_000).unref();
      void pool
        .close()
        .catch(() => undefined)
        .finally(() => clearTimeout(timer));
    }
    // h2c sessions to endpoints that left: no new streams; the ones in flight finish first.
    for (const [origin, session] of this.h2Sessions) {
      if (live.has(origin)) continue;
      this.h2Sessions.delete(origin);
      session.close();
    }
  }

  private poolFor(e: Endpoint): Pool {
    const origin = originOf(e);
    let pool = this.pools.get(origin);
    if (!pool) {
      const timeout = this.opts.upstreamTimeoutMs ?? 60_000;
      // One request per connection at a time (no pipelining), as many connections as requests in flight.
      pool = new Pool(`http://${e.host.includes(':') ? `[${e.host}]` : e.host}:${e.port}`, { pipelining: 1, connect: { timeout }, headersTimeout: timeout, bodyTimeout: timeout });
      this.pools.set(origin, pool);
    }
    return pool;
  }

  private lookup(req: http.IncomingMessage): { host: string; compiled?: CompiledRoute } {
    const raw = authorityOf(req);
    const colon = raw.startsWith('[') ? raw.indexOf(']:') + 1 : raw.lastIndexOf(':');
    const host = (colon > 0 ? raw.slice(0, colon) : raw).toLowerCase();
    return { host, compiled: this.routes.get(host) };
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const started = Date.now();
    const { host, compiled } = this.lookup(req);
    const log = this.opts.accessLog;
    if (log) {
      res.once('close', () => {
        const answered = this.answeredBy.get(res);
        log({
          ts: new Date(started).toISOString(),
          client: req.socket.remoteAddress ?? '',
          method: req.method ?? '',
          host,
          path: req.url ?? '',
          status: res.headersSent ? res.statusCode : 0,
          bytes: answered?.bytes ?? (Number(res.getHeader('content-length') ?? 0) || 0),
          durationMs: Date.now() - started,
          ...(compiled ? { route: compiled.route.key } : {}),
          ...(answered ? { endpoint: answered.endpoint, requestId: answered.requestId } : {}),
        });
      });
    }
    if (!compiled) return this.answer(res, 404, pages.notFound(host));
    const end = this.metrics.begin(compiled.route.key, 'http');
    const startedNs = process.hrtime.bigint();
    res.once('close', () => {
      const at = this.headersAt.get(res);
      // An answer cut short before its headers counts as `other`, as HAProxy counts an aborted request.
      end(res.headersSent ? res.statusCode : 0, at === undefined ? undefined : Number(at - startedNs) / 1e9);
    });
    // Access first: a refused request learns nothing about the service, not even that it is in maintenance.
    const decision = compiled.route.access ? evaluate(compiled.route.access, accessRequest(req, compiled.route)) : 'allow';
    if (decision !== 'allow') {
      // The body is not read: close the connection after the answer rather than drain an upload (an
      // HTTP/2 stream is reset by the compatibility API instead; its connection carries on).
      if (hasBody(req) && req.httpVersionMajor < 2) res.setHeader('connection', 'close');
      return decision.status === 401
        ? this.answer(res, 401, pages.unauthorized(), { 'www-authenticate': decision.wwwAuthenticate! })
        : this.answer(res, 403, pages.forbidden());
    }
    if (compiled.route.maintenance) return this.answer(res, 503, pages.maintenance(), { 'retry-after': '30' });
    const key = hashKeyOf(compiled.route, req);
    const pinned = compiled.pinned && matchesPin(compiled.route.canary?.pins, (name) => headerOf(req, name)) ? compiled.pinned.pick(undefined, key) : undefined;
    const ep = pinned ?? compiled.balancer.pick(undefined, key);
    if (!ep) return this.answer(res, 503, pages.noInstance(), { 'retry-after': '5' });
    const headers = this.forwardHeaders(req, host);
    this.forward(req, res, compiled, ep, headers, true, started);
  }

  private forwardHeaders(req: http.IncomingMessage, host: string): http.OutgoingHttpHeaders {
    const out: http.OutgoingHttpHeaders = {};
    const given = req.headers;
    for (const k in given) {
      const v = given[k];
      if (v !== undefined && k.charCodeAt(0) !== 58 /* : */ && !HOP_BY_HOP.has(k)) out[k] = v;
    }
    if (out.host === undefined) out.host = authorityOf(req) || host;
    const client = req.socket.remoteAddress ?? '';
    const prior = req.headers['x-forwarded-for'];
    out['x-forwarded-for'] = prior ? `${prior}, ${client}` : client;
    const secure = isTls(req);
    out['x-forwarded-proto'] = secure ? 'https' : 'http';
    out['x-forwarded-host'] = authorityOf(req) || host;
    out['x-forwarded-port'] = String(req.socket.localPort ?? (secure ? this.address().httpsPort : this.address().httpPort));
    const rid = req.headers['x-request-id'];
    out['x-request-id'] = typeof rid === 'string' && REQUEST_ID.test(rid) ? rid : crypto.randomUUID();
    return out;
  }

  private forward(req: http.IncomingMessage, res: http.ServerResponse, compiled: CompiledRoute, ep: Endpoint, headers: http.OutgoingHttpHeaders, mayRetry: boolean, started: number): void {
    if (compiled.route.protocol === 'HTTP/2') return this.forwardH2(req, res, compiled, ep, headers, mayRetry, started);
    this.inflight.set(ep.id, (this.inflight.get(ep.id) ?? 0) + 1);
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      this.inflight.set(ep.id, (this.inflight.get(ep.id) ?? 1) - 1);
      if (this.inflight.get(ep.id) === 0) this.inflight.delete(ep.id);
    };
    const bodyless = !hasBody(req);
    let clientGone = false;
    let controller: Dispatcher.DispatchController | undefined;
    let paused = false;
    /** for the access log */
    let answered: { endpoint: string; requestId?: string; bytes: number } | undefined;
    const resume = () => {
      paused = false;
      controller?.resume();
    };
    const handler: Dispatcher.DispatchHandler = {
      onRequestStart: (c) => {
        controller = c;
        if (clientGone) c.abort(new Error('client gone'));
      },
      onResponseStart: (_c, statusCode, upstreamHeaders) => {
        // 1xx interim answers are not relayed (Node's server answers `Expect: 100-continue` itself).
        if (statusCode < 200) return;
        this.headersAt.set(res, process.hrtime.bigint());
        if (this.opts.accessLog) {
          answered = { endpoint: ep.id, requestId: typeof headers['x-request-id'] === 'string' ? headers['x-request-id'] : undefined, bytes: 0 };
          this.answeredBy.set(res, answered);
        }
        const out: http.OutgoingHttpHeaders = {};
        for (const k in upstreamHeaders) if (!HOP_BY_HOP.has(k)) out[k] = upstreamHeaders[k];
        res.writeHead(statusCode, out);
      },
      onResponseData: (c, chunk) => {
        if (answered) answered.bytes += chunk.length;
        // Backpressure: a slow client pauses the upstream connection until its buffer drains.
        if (!res.write(chunk) && !paused) {
          paused = true;
          c.pause();
          res.once('drain', resume);
        }
      },
      onResponseEnd: () => {
        finish();
        res.end();
        this.opts.logger?.debug({ method: req.method, host: req.headers.host, path: req.url, status: res.statusCode, endpoint: ep.id, ms: Date.now() - started }, 'access');
      },
      onResponseError: (_c, err: Error & { code?: string }) => {
        finish();
        if (clientGone) return;
        if (res.headersSent) return void res.destroy();
        const refused = err.code === 'ECONNREFUSED' || (!bodySent && (err.code === 'ECONNRESET' || err.code === 'UND_ERR_SOCKET'));
        if (refused && mayRetry && IDEMPOTENT.has(req.method ?? '') && !bodySent) {
          const other = compiled.balancer.pick(ep.id, hashKeyOf(compiled.route, req));
          if (other) return this.forward(req, res, compiled, other, headers, false, started);
        }
        if (err.code === 'UND_ERR_HEADERS_TIMEOUT' || err.code === 'UND_ERR_CONNECT_TIMEOUT') return this.answer(res, 504, pages.timeout());
        this.opts.logger?.warn({ endpoint: ep.id, err: err.code ?? err.message }, 'upstream failed');
        this.answer(res, 502, pages.badGateway());
      },
    };
    res.on('close', () => {
      if (!res.writableFinished) {
        clientGone = true;
        controller?.abort(new Error('client gone'));
      }
      finish();
    });
    // The router answers `Expect: 100-continue` itself; the upstream client refuses the header.
    let upstreamHeaders = headers;
    if (headers.expect !== undefined) {
      upstreamHeaders = { ...headers };
      delete upstreamHeaders.expect;
    }
    // A body is streamed as it arrives, and the request can no longer be retried elsewhere.
    const bodySent = !bodyless;
    this.poolFor(ep).dispatch({ path: req.url ?? '/', method: req.method ?? 'GET', headers: upstreamHeaders as Record<string, string | string[]>, body: bodyless ? null : req }, handler);
  }

  /** h2c session to an endpoint, shared by its requests; a closed or failed one is replaced. */
  private h2SessionFor(ep: Endpoint): http2.ClientHttp2Session {
    const origin = originOf(ep);
    const had = this.h2Sessions.get(origin);
    if (had && !had.closed && !had.destroyed) return had;
    const session = http2.connect(`http://${ep.host.includes(':') ? `[${ep.host}]` : ep.host}:${ep.port}`);
    const forget = () => this.h2Sessions.get(origin) === session && this.h2Sessions.delete(origin);
    session.on('error', forget);
    session.on('close', forget);
    session.on('goaway', forget);
    // An idle session must not keep the process (or a stop) waiting.
    session.unref();
    this.h2Sessions.set(origin, session);
    return session;
  }

  /** An `HTTP/2` route: the request goes to the endpoint as h2c, whatever the client spoke. */
  private forwardH2(req: http.IncomingMessage, res: http.ServerResponse, compiled: CompiledRoute, ep: Endpoint, headers: http.OutgoingHttpHeaders, mayRetry: boolean, started: number): void {
    this.inflight.set(ep.id, (this.inflight.get(ep.id) ?? 0) + 1);
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      const n = (this.inflight.get(ep.id) ?? 1) - 1;
      if (n > 0) this.inflight.set(ep.id, n);
      else this.inflight.delete(ep.id);
    };
    const h2headers: http2.OutgoingHttpHeaders = { ':method': req.method ?? 'GET', ':path': req.url ?? '/', ':scheme': 'http', ':authority': String(headers.host ?? '') };
    for (const [k, v] of Object.entries(headers)) if (k !== 'host' && v !== undefined) h2headers[k] = v;
    const bodyless = !hasBody(req);
    let stream: http2.ClientHttp2Stream;
    try {
      stream = this.h2SessionFor(ep).request(h2headers, { endStream: bodyless });
    } catch (err) {
      finish();
      this.opts.logger?.warn({ endpoint: ep.id, err: (err as Error).message }, 'upstream failed');
      return this.answer(res, 502, pages.badGateway());
    }
    stream.setTimeout(this.opts.upstreamTimeoutMs ?? 60_000, () => stream.close(http2.constants.NGHTTP2_CANCEL));
    let timedOut = false;
    stream.on('timeout', () => (timedOut = true));
    stream.on('response', (uh) => {
      this.headersAt.set(res, process.hrtime.bigint());
      const out: http.OutgoingHttpHeaders = {};
      for (const [k, v] of Object.entries(uh)) if (!k.startsWith(':') && !HOP_BY_HOP.has(k) && v !== undefined) out[k] = v;
      res.writeHead(Number(uh[':status'] ?? 502), out);
      stream.pipe(res);
    });
    let ended = false;
    stream.on('end', () => {
      ended = true;
      finish();
      this.opts.logger?.debug({ method: req.method, path: req.url, endpoint: ep.id, ms: Date.now() - started }, 'access');
    });
    let failed = false;
    stream.on('error', (err: NodeJS.ErrnoException) => {
      failed = true;
      finish();
      if (res.headersSent) return void res.destroy();
      if (err.code === 'ECONNREFUSED' && mayRetry && bodyless && IDEMPOTENT.has(req.method ?? '')) {
        const other = compiled.balancer.pick(ep.id, hashKeyOf(compiled.route, req));
        if (other) return this.forwardH2(req, res, compiled, other, headers, false, started);
      }
      this.opts.logger?.warn({ endpoint: ep.id, err: err.code ?? err.message }, 'upstream failed');
      this.answer(res, 502, pages.badGateway());
    });
    stream.on('close', () => {
      finish();
      if (failed) return;
      if (!res.headersSent) this.answer(res, timedOut ? 504 : 502, timedOut ? pages.timeout() : pages.badGateway());
      // A stream that ended whole may close before the pipe has written its last bytes to the client (seen
      // with HTTP/1.1 clients over TLS): the pipe ends the response then. Only one cut short is cut here too.
      else if (!ended && !res.writableFinished) res.destroy();
    });
    res.on('close', () => {
      if (!res.writableFinished && !stream.closed) stream.close(http2.constants.NGHTTP2_CANCEL);
      finish();
    });
    if (!bodyless) req.pipe(stream);
  }

  private upgrade(req: http.IncomingMessage, socket: net.Socket, head: Buffer): void {
    const { compiled } = this.lookup(req);
    const decision = compiled ? evaluate(compiled.route.access, accessRequest(req, compiled.route)) : 'allow';
    if (decision !== 'allow') {
      const auth = decision.status === 401 ? `www-authenticate: ${decision.wwwAuthenticate}\r\n` : '';
      socket.end(`HTTP/1.1 ${decision.status} ${decision.status === 401 ? 'Unauthorized' : 'Forbidden'}\r\n${auth}connection: close\r\ncontent-length: 0\r\n\r\n`);
      return;
    }
    const ep = compiled && !compiled.route.maintenance ? compiled.balancer.pick(undefined, hashKeyOf(compiled.route, req)) : undefined;
    if (!ep) {
      socket.end(`HTTP/1.1 ${compiled ? 503 : 404} ${compiled ? 'Service Unavailable' : 'Not Found'}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
      return;
    }
    const up = net.connect({ host: ep.host, port: ep.port });
    up.once('connect', () => {
      let head_ = `${req.method} ${req.url} HTTP/1.1\r\n`;
      for (let i = 0; i < req.rawHeaders.length; i += 2) head_ += `${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}\r\n`;
      head_ += `x-forwarded-for: ${req.socket.remoteAddress ?? ''}\r\nx-forwarded-proto: ${isTls(req) ? 'https' : 'http'}\r\n\r\n`;
      up.write(head_);
      if (head.length) up.write(head);
      up.pipe(socket);
      socket.pipe(up);
    });
    const close = () => {
      up.destroy();
      socket.destroy();
    };
    up.on('error', () => {
      if (socket.writable) socket.end('HTTP/1.1 502 Bad Gateway\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
      close();
    });
    socket.on('error', close);
    socket.on('close', () => up.destroy());
    up.on('close', () => socket.destroy());
  }

  private answer(res: http.ServerResponse, status: number, html: string, extra: Record<string, string> = {}): void {
    if (res.headersSent) return void res.destroy();
    res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', 'content-length': Buffer.byteLength(html), 'cache-control': 'no-store', ...extra });
    res.end(html);
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await this.settled();
    const servers: net.Server[] = [this.server, ...(this.tlsFront ? [this.tlsFront] : []), ...[...this.tcp.values()].map((l) => l.server)];
    // Not listening itself (tlsFront hands it the connections): closing it sends GOAWAY to its h2 sessions.
    this.tlsServer?.close(() => undefined);
    const closed = Promise.all(servers.map((s) => new Promise<void>((resolve) => (s.listening ? s.close(() => resolve()) : resolve()))));
    this.server.closeIdleConnections();
    for (const session of this.h2Sessions.values()) session.close();
    const deadline = setTimeout(() => {
      for (const s of this.sockets) s.destroy();
    }, 5000);
    await closed;
    clearTimeout(deadline);
    await Promise.all([...this.pools.values()].map((p) => p.destroy().catch(() => undefined)));
    const metrics = this.metricsServer;
    if (metrics?.listening) {
      const done = new Promise<void>((r) => metrics.close(() => r()));
      metrics.closeAllConnections();
      await done;
    }
  }
}

function listen(server: net.Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

/** The Host header, or an HTTP/2 request's `:authority`. */
function authorityOf(req: http.IncomingMessage): string {
  const h = req.headers.host ?? req.headers[':authority'];
  return typeof h === 'string' ? h : '';
}

function isTls(req: http.IncomingMessage): boolean {
  return (req.socket as tls.TLSSocket).encrypted === true;
}

function hasBody(req: http.IncomingMessage): boolean {
  return req.headers['content-length'] !== undefined ? req.headers['content-length'] !== '0' : req.headers['transfer-encoding'] !== undefined;
}

/** What the access policy looks at; a repeated header counts by its last occurrence, as in HAProxy. */
function accessRequest(req: http.IncomingMessage, route: Route): AccessRequest {
  const headers: Record<string, string> = {};
  for (let i = 0; i < req.rawHeaders.length; i += 2) headers[req.rawHeaders[i].toLowerCase()] = req.rawHeaders[i + 1];
  let url = req.url ?? '/';
  // An absolute-form target (`GET http://host/path`) is matched by its path, as HAProxy's `path` does.
  if (!url.startsWith('/')) url = url.replace(/^[a-z][a-z0-9+.-]*:\/\/[^/?#]*/i, '') || '/';
  const q = url.indexOf('?');
  const ip = req.socket.remoteAddress ?? '';
  return { ip, headers, path: q < 0 ? url : url.slice(0, q), authorization: req.headers.authorization, internal: isInternal(route.internalSources, ip) };
}

/** A request header's (first) value, by lower-case name. */
function headerOf(req: http.IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/** The new release's endpoints of a canary route, at equal weight, for pinned requests. */
function pinnedBalancer(route: Route, inFlight: (id: string) => number): Balancer | undefined {
  const ids = new Set(route.canary?.endpointIds ?? []);
  const eps = route.endpoints.filter((e) => ids.has(e.id)).map((e) => ({ ...e, weight: 1 }));
  return eps.length ? new Balancer(eps, route.loadBalancing?.mode ?? 'roundRobin', inFlight) : undefined;
}

function originOf(e: Endpoint): string {
  return `${e.host}:${e.port}`;
}

function sameEndpoints(a: Endpoint[], b: Endpoint[]): boolean {
  return a.length === b.length && a.every((e, i) => e.id === b[i].id && e.weight === b[i].weight && e.port === b[i].port);
}

/**
 * What a consistent route hashes, as the HAProxy data plane does: the client address (`consistentHash` ip),
 * a header (`customHeader`; `consistentReplicaRouting` header mode, default `x-replica-id`), or the URI
 * (`consistentReplicaRouting` path). Undefined (round robin) for other modes or a missing header.
 */
function hashKeyOf(route: Route, req: http.IncomingMessage): string | undefined {
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
