/**
 * A pass that moves endpoints only. Under a stream of rollouts nearly every table handed over differs from
 * the last one reconciled in a few routes' endpoints and nothing else: such a pass is planned from those
 * routes alone, so that it costs what changed and not the table (a walk over the routes comparing objects,
 * where the whole structure, its host map and its plan walk every route). Anything else (a route added,
 * removed or reordered, new hosts, a TCP or passthrough route, a backend that would be declared otherwise)
 * takes the whole pass.
 */
import type { Route, RoutingTable } from '../table.ts';
import type { Backend } from './slots.ts';
import { sameBackendSpec } from './spares.ts';

/** The table the last pass reconciled, and whether its route keys are unique (a key twice: the first wins). */
export interface Reconciled {
  table: RoutingTable;
  uniqueKeys: boolean;
}

export function uniqueKeys(table: RoutingTable): boolean {
  return new Set(table.routes.map((r) => r.key)).size === table.routes.length;
}

/**
 * The backends of the routes that changed from `last` to `table` when only their endpoints (and weights, and
 * canary share) changed: each as the whole pass would make it (`structure`, with the names HAProxy holds),
 * declared as HAProxy declares it now. Undefined when the pass needs the whole table.
 */
export function endpointOnlyBackends(last: Reconciled, table: RoutingTable, applied: Map<string, Backend>, structure: (changed: RoutingTable) => Backend[]): Backend[] | undefined {
  if (!last.uniqueKeys || last.table.routes.length !== table.routes.length) return undefined;
  const changed: Route[] = [];
  for (let i = 0; i < table.routes.length; i++) {
    const route = table.routes[i]!;
    const was = last.table.routes[i]!;
    if (route === was) continue;
    if (route.key !== was.key || !plainHttp(route) || !plainHttp(was) || applied.get(route.key)?.route !== was || !sameList(route.hosts, was.hosts)) return undefined;
    changed.push(route);
  }
  if (!changed.length) return [];
  const backends = structure({ routes: changed });
  for (const b of backends) {
    const prev = applied.get(b.key);
    if (!prev || !sameBackendSpec(prev, b)) return undefined;
  }
  return backends;
}

/** An HTTP route with no TLS passthrough: one backend, keyed by the route. */
function plainHttp(r: Route): boolean {
  return r.protocol !== 'TCP' && r.tlsPassthrough !== true;
}

function sameList(a: string[], b: string[]): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
