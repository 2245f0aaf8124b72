/**
 * External access to addons (`externalAccessEnabled`): an addon with it on gets a `TCP` route in the routing
 * table, so the router gives it a port of its own from `SLIPWAY_ROUTER_TCP_PORTS` (stable per addon, kept
 * across restarts, see src/router/tcp-ports.ts) and forwards connections there to the addon's primary server
 * as raw TCP. A TLS addon's connections pass through untouched: the server terminates TLS itself.
 *
 * The route follows the addon's row after every controller pass: turning access on or off (a PATCH) only
 * changes the table, never the server. Without access the addon has no route, so the router port refuses.
 */
import type { Store } from '../store/store.ts';
import type { Route } from '../router/table.ts';
import { addonInstanceId, parseAddonKey, type AddonRecord } from '../domain/addons.ts';

/** The part of the route table builder this uses. */
export interface RouteSink {
  setRoutes(key: string, routes: Route[]): void;
}

/** The router port of a `TCP` route, once assigned. */
export interface TcpPorts {
  tcpPortOf?(routeKey: string): number | undefined;
}

/** The port name of an addon's external route (its primary server's port). */
const PORT_NAME = 'primary';

/** The routing-table key of an addon's external route: `addon:` keeps it apart from services' `project/service/port`. */
export function addonRouteKey(projectId: string, addonId: string): string {
  return `${projectId}/addon:${addonId}/${PORT_NAME}`;
}

export class AddonRoutes {
  constructor(
    private readonly store: Store,
    private readonly sink: RouteSink,
    private readonly router: TcpPorts,
    /** the host name clients outside use for the router (the platform's base domain) */
    private readonly externalHost: string,
  ) {}

  /** Brings the addon's route in line with its row (after a controller pass, and on start). */
  async sync(key: string): Promise<void> {
    const { projectId, addonId } = parseAddonKey(key);
    const a = await this.store.addons.find(projectId, addonId);
    this.sink.setRoutes(`addon:${key}`, a ? this.routesOf(a) : []);
  }

  private routesOf(a: AddonRecord): Route[] {
    if (!a.spec.externalAccessEnabled || a.deleting) return [];
    const serving = !a.paused && a.initialized;
    return [
      {
        key: addonRouteKey(a.projectId, a.id),
        hosts: [],
        project: a.projectId,
        service: `addon:${a.id}`,
        portName: PORT_NAME,
        protocol: 'TCP',
        maintenance: a.paused,
        endpoints: serving ? [{ id: addonInstanceId(a.projectId, a.id), host: '127.0.0.1', port: a.port, weight: 1 }] : [],
      },
    ];
  }

  /** Where clients outside reach the addon: the router's host and the route's port; undefined while it has none. */
  external(a: AddonRecord): { host: string; port: number } | undefined {
    if (!a.spec.externalAccessEnabled) return undefined;
    const port = this.router.tcpPortOf?.(addonRouteKey(a.projectId, a.id));
    return port ? { host: this.externalHost, port } : undefined;
  }
}
