/**
 * `TCP` routes: a listener per route on the port assigned to it (see ../tcp-ports.ts), each connection
 * piped to one of the route's endpoints; TLS passthrough connections are piped the same way.
 */
import net from 'node:net';
import type { Endpoint, Route, RoutingTable } from '../table.ts';
import { TcpPortAllocator, tcpPortsFile, type TcpPortRange } from '../tcp-ports.ts';
import { Balancer } from './balancer.ts';
import type { RouteMetrics } from './route-metrics.ts';
import type { InFlight } from './in-flight.ts';
import { sameEndpoints, type CompiledRoute } from './routes.ts';
import { listen } from './listen.ts';

/** A `TCP` route's listener; `current` is swapped by each table, connections in progress keep their endpoint. */
interface TcpListener {
  port: number;
  server: net.Server;
  current: CompiledRoute;
}

export interface TcpRoutesOptions {
  host: string;
  dataDir?: string;
  tcpPorts?: TcpPortRange;
  logger?: { warn(o: object, m: string): void };
}

export class TcpRoutes {
  private readonly tcpPorts?: TcpPortAllocator;
  private readonly tcp = new Map<string, TcpListener>();
  private table: RoutingTable = { routes: [] };
  private tcpDirty = false;
  private tcpLoop?: Promise<void>;
  private started = false;
  private stopping = false;

  /** `inflight`: requests (and connections) in flight per endpoint id, shared with the HTTP proxy. */
  constructor(
    private readonly opts: TcpRoutesOptions,
    private readonly inflight: InFlight,
    private readonly sockets: Set<net.Socket>,
    private readonly metrics: RouteMetrics,
  ) {
    if (opts.tcpPorts && opts.dataDir) this.tcpPorts = new TcpPortAllocator(tcpPortsFile(opts.dataDir), opts.tcpPorts, opts.host, opts.logger);
  }

  /** Listeners open from now on, for the latest table. */
  start(): void {
    this.started = true;
    this.kickTcp();
  }

  /** No more listeners are opened or re-pointed. */
  stop(): void {
    this.stopping = true;
  }

  setTable(table: RoutingTable): void {
    this.table = table;
    this.kickTcp();
  }

  /** Resolves once the TCP listeners match the latest table. */
  async settled(): Promise<void> {
    while (this.tcpLoop) await this.tcpLoop;
  }

  portOf(routeKey: string): number | undefined {
    return this.tcp.get(routeKey)?.port;
  }

  servers(): net.Server[] {
    return [...this.tcp.values()].map((l) => l.server);
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
      const current: CompiledRoute = same ? { route, balancer: prev.balancer } : { route, balancer: new Balancer(route.endpoints, route.loadBalancing?.mode ?? 'roundRobin', this.inflight.of) };
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
  pipeTcp(current: CompiledRoute, client: net.Socket, head?: Buffer): void {
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
      const release = this.inflight.begin(ep.id);
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
}
