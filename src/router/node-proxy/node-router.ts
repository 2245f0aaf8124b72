/**
 * The built-in data plane: a Node HTTP/1.1 reverse proxy. Routes by Host to the ready endpoints of a
 * route, keeps connections alive on both sides, streams bodies, retries an idempotent request once on
 * another endpoint when the first refused the connection, passes WebSocket upgrades through, and counts
 * requests in flight per endpoint so a stop can wait for them (draining).
 */
import http from 'node:http';
import type http2 from 'node:http2';
import net from 'node:net';
import type { AccessLogEntry, Router, RoutingTable } from '../table.ts';
import { RouteMetrics } from './route-metrics.ts';
import { METRICS_CONTENT_TYPE, renderRouteInfo } from '../metrics.ts';
import type { TcpPortRange } from '../tcp-ports.ts';
import { compileRoutes, lookup, type CompiledRoute } from './routes.ts';
import { HttpProxy } from './http-proxy.ts';
import { TcpRoutes } from './tcp-routes.ts';
import { Certificates, createTlsServer, tlsConnection } from './tls-front.ts';
import { proxyUpgrade } from './websocket.ts';
import { listen } from './listen.ts';
import { InFlight } from './in-flight.ts';

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
  /** Requests (and TCP connections) in flight per endpoint id. */
  private readonly inflight = new InFlight();
  private readonly sockets = new Set<net.Socket>();
  private readonly metrics = new RouteMetrics();
  private metricsServer?: http.Server;
  private table: RoutingTable = { routes: [] };
  /** HTTP requests: routes by host, forwarding to endpoints. */
  private readonly proxy: HttpProxy;
  private readonly tcp: TcpRoutes;

  constructor(private readonly opts: NodeRouterOptions) {
    if (opts.tlsPort !== undefined && (!opts.dataDir || !opts.domain)) throw new Error('NodeRouter: tlsPort needs dataDir and domain (for the certificates)');
    const proxy = (this.proxy = new HttpProxy(opts, this.inflight, this.metrics, this));
    this.server = http.createServer({ keepAlive: true }, (req, res) => proxy.handle(req, res));
    this.serve(this.server);
    this.tcp = new TcpRoutes(opts, this.inflight, this.sockets, this.metrics);
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
      const certs = await Certificates.load(this.opts, this.opts.domain!);
      this.tlsServer = createTlsServer(certs, this.proxy);
      this.serve(this.tlsServer);
      this.tlsFront = net.createServer((s) => tlsConnection(s, this.tlsServer!, this.passthrough, this.sockets, this.tcp));
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
    this.tcp.start();
    await this.settled();
  }

  /** Resolves once the TCP listeners match the latest table (HTTP routes apply synchronously in setTable). */
  async settled(): Promise<void> {
    await this.tcp.settled();
  }

  tcpPortOf(routeKey: string): number | undefined {
    return this.tcp.portOf(routeKey);
  }

  address(): { httpPort: number; httpsPort?: number; metricsPort?: number } {
    const port = (s?: net.Server) => (s?.address() as net.AddressInfo | null)?.port;
    return {
      httpPort: port(this.server)!,
      ...(this.tlsFront ? { httpsPort: port(this.tlsFront) } : {}),
      ...(this.metricsServer ? { metricsPort: port(this.metricsServer) } : {}),
    };
  }

  inFlight(endpointId: string): number {
    return this.inflight.of(endpointId);
  }

  /** Requests in flight per endpoint id, every endpoint with any (for a control plane in another process). */
  inFlightCounts(): Map<string, number> {
    return this.inflight.all();
  }

  setTable(table: RoutingTable): void {
    this.table = table;
    this.metrics.retain(table.routes.map((r) => r.key));
    this.tcp.setTable(table);
    const { routes, live } = compileRoutes(table.routes, this.proxy.routes, this.inflight.of);
    this.proxy.routes = routes;
    this.passthrough = new Map([...routes].filter(([, c]) => c.route.tlsPassthrough === true));
    this.proxy.retain(live);
  }

  private upgrade(req: http.IncomingMessage, socket: net.Socket, head: Buffer): void {
    proxyUpgrade(req, socket, head, lookup(this.proxy.routes, req).compiled);
  }

  async stop(): Promise<void> {
    this.tcp.stop();
    await this.settled();
    const servers: net.Server[] = [this.server, ...(this.tlsFront ? [this.tlsFront] : []), ...this.tcp.servers()];
    // Not listening itself (tlsFront hands it the connections): closing it sends GOAWAY to its h2 sessions.
    this.tlsServer?.close(() => undefined);
    const closed = Promise.all(servers.map((s) => new Promise<void>((resolve) => (s.listening ? s.close(() => resolve()) : resolve()))));
    this.server.closeIdleConnections();
    this.proxy.closeSessions();
    const deadline = setTimeout(() => {
      for (const s of this.sockets) s.destroy();
    }, 5000);
    await closed;
    clearTimeout(deadline);
    await this.proxy.destroyPools();
    const metrics = this.metricsServer;
    if (metrics?.listening) {
      const done = new Promise<void>((r) => metrics.close(() => r()));
      metrics.closeAllConnections();
      await done;
    }
  }
}
