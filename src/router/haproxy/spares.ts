/**
 * Spare backends: a new route is served without a reload.
 *
 * Every configuration declares, besides one backend per route, a block of idle backends (`be_spare_<n>`):
 * plain HTTP, round robin, no access rules, every server slot free. A new route that needs nothing more (the
 * common case: an HTTP service with a handful of instances) takes one of them in the running worker through
 * the Runtime API: its slots take the endpoints (`set server`), `routes.map` names the route for the access
 * log, and `hosts.map` sends its hosts there (`add map`), last, so no request meets it before its servers are
 * up. While router metrics serve `/routes` (a file HAProxy reads when it loads: small tables only) new routes
 * reload instead, so that `/routes` names them once they are served. Only what the spares cannot hold (another load-balancing mode, access rules, a canary's pins, TCP, more
 * slots, a route going away) reloads; a reload also runs when the block is used up, and it then declares a
 * larger one (as many spares as routes, bounded), so filling a platform reloads a logarithmic number of times.
 *
 * A spare's name is temporary: every reload writes each route's backend under its own name
 * (`proxyName(routeKey)`, the `proxy` label its metrics are joined on) and declares fresh spares. Spare names
 * are never declared twice, so an old worker still finishing requests on a spare's slots is never mistaken
 * for a later route. With router metrics on, a reload follows a burst of new routes by a few seconds for the
 * labels (and `/routes`) to name them.
 */
import type { Backend, Slot } from './slots.ts';
import type { BackendSpec } from './config.ts';
import { cliArg } from './runtime-api.ts';

export const SPARE_PREFIX = 'be_spare_';
const MIN_SPARES = 16;
const MAX_SPARES = 512;
const SPARE_BALANCE = 'balance roundrobin';

/** How many spares a configuration with this many route backends declares. */
export function spareCount(routeBackends: number): number {
  return Math.max(MIN_SPARES, Math.min(MAX_SPARES, routeBackends));
}

/** An idle spare backend as the configuration declares it. */
export function spareSpec(name: string, slotCount: number): BackendSpec & { key: string; slots: Slot[] } {
  return { key: '-', name, mode: 'http', balance: [SPARE_BALANCE], maintenance: false, slotCount, slots: [], access: { userlists: [], rules: [] } };
}

/** Whether a new route's backend is exactly what an idle spare with `slotCount` slots already is. */
export function fitsSpare(b: Backend, slotCount: number): boolean {
  return (
    b.mode === 'http' &&
    b.tcpPort === undefined &&
    !b.passthrough &&
    !b.serverProto &&
    !b.maintenance &&
    !b.pins &&
    !b.internal &&
    b.slotCount === slotCount &&
    b.slots.length <= slotCount &&
    b.balance.length === 1 &&
    b.balance[0] === SPARE_BALANCE &&
    b.access.rules.length === 0 &&
    b.access.userlists.length === 0
  );
}

/** Whether two models of one route's backend declare it alike (same name, same configuration text but for its slots). */
export function sameBackendSpec(x: Backend, y: Backend): boolean {
  return (
    x.name === y.name &&
    x.mode === y.mode &&
    x.tcpPort === y.tcpPort &&
    x.passthrough === y.passthrough &&
    x.serverProto === y.serverProto &&
    x.maintenance === y.maintenance &&
    x.slotCount === y.slotCount &&
    x.balance.join('\n') === y.balance.join('\n') &&
    JSON.stringify(x.access) === JSON.stringify(y.access) &&
    JSON.stringify(x.pins ?? null) === JSON.stringify(y.pins ?? null)
  );
}

/**
 * Whether the running worker declares every backend `next` needs as it needs it: routes it holds unchanged in
 * their configuration, and new routes on the spares `taken` for them. A route gone is a reload (its backend
 * leaves the configuration).
 */
export function servedWithoutReload(applied: Map<string, Backend>, next: Map<string, Backend>, taken: Set<string>): boolean {
  for (const key of applied.keys()) if (!next.has(key)) return false;
  for (const [key, b] of next) {
    const prev = applied.get(key);
    if (prev === b) continue;
    if (prev ? !sameBackendSpec(prev, b) : !taken.has(b.name)) return false;
  }
  return true;
}

/**
 * Runtime API commands that bring the running worker's host map from `had` to `want` (map keys are
 * mappable host names, see config.ts's isMappableHost; values are backend names).
 */
export function hostMapCommands(file: string, had: Map<string, string>, want: Map<string, string>): string[] {
  const cmds: string[] = [];
  for (const [h, be] of want) {
    const was = had.get(h);
    if (was === be) continue;
    cmds.push(`${was === undefined ? 'add' : 'set'} map ${cliArg(file)} ${h} ${be}`);
  }
  for (const h of had.keys()) if (!want.has(h)) cmds.push(`del map ${cliArg(file)} ${h}`);
  return cmds;
}

/** The Runtime API command that names a spare's route in `routes.map` (for the access log). */
export function routeMapCommand(file: string, backend: string, routeKey: string): string {
  return `set map ${cliArg(file)} ${backend} ${JSON.stringify(routeKey).slice(1, -1).replace(/[\\ ;]/g, (c) => `\\${c}`)}`;
}
