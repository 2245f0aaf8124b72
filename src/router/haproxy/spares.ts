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
import type { HaproxyPorts } from './router-options.ts';
import { cliArg } from './runtime-api.ts';

export const SPARE_PREFIX = 'be_spare_';
const MIN_SPARES = 16;
const MAX_SPARES = 512;
const SPARE_BALANCE = 'balance roundrobin';
/** A reload names routes on spares this long after the last one was taken (see scheduleTidy), */
const TIDY_AFTER_MS = 2000;
/** or this long after the first, when routes keep coming. */
const TIDY_AT_MOST_MS = 15_000;

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

export interface SparePoolOptions {
  slotsPerBackend: number;
  /** the ports HAProxy listens on (routes on spares are renamed only with router metrics on) */
  ports: HaproxyPorts;
  /** the loaded configuration serves `/routes` (router metrics on and routes.prom small enough) */
  routeInfoServed(): boolean;
  /** Starts a pass of the serial loop (the one that reloads when a tidy is due). */
  kick(): void;
}

/** The running worker's idle spares, the names of the next ones, and the reload that renames routes on spares. */
export class SparePool {
  /** Idle spare backends the running worker declares, and the last spare number used. */
  spares: string[] = [];
  spareSeq = 0;
  /** A reload to write routes on spares under their own names is due (see scheduleTidy). */
  tidyDue = false;
  private tidyTimer?: NodeJS.Timeout;
  private tidySince = 0;

  constructor(private readonly opts: SparePoolOptions) {}

  /**
   * Gives each new route that fits a spare one of the running worker's idle spares; returns their names.
   * `applied` is what HAProxy holds now, by route key.
   */
  takeSpares(backends: Backend[], hosts: Map<string, string>, applied: Map<string, Backend>): Set<string> {
    const taken = new Set<string>();
    // While HAProxy serves `/routes` (a file it reads when it loads, see ROUTE_INFO_MAX_BYTES) a new route
    // reloads, so that `/routes` names it once it is served; past that size spares carry new routes.
    if (this.opts.routeInfoServed()) return taken;
    const renamed = new Map<string, string>();
    let free = 0;
    for (const b of backends) {
      if (applied.has(b.key) || !fitsSpare(b, this.opts.slotsPerBackend)) continue;
      if (free >= this.spares.length) break;
      renamed.set(b.name, this.spares[free]);
      b.name = this.spares[free++];
      taken.add(b.name);
    }
    if (renamed.size) for (const [h, be] of hosts) if (renamed.has(be)) hosts.set(h, renamed.get(be)!);
    return taken;
  }

  /** Names for the spares of the next configuration: never used before by this HAProxy. */
  newSpares(routeBackends: number): string[] {
    return Array.from({ length: spareCount(routeBackends) }, () => `${SPARE_PREFIX}${++this.spareSeq}`);
  }

  /** A reload declared `spares`: every route is under its own name again. */
  reloaded(spares: string[]): void {
    this.spares = spares;
    this.tidyDue = false;
    clearTimeout(this.tidyTimer);
    this.tidyTimer = undefined;
  }

  /** New routes took the spares `taken` without a reload. */
  taken(taken: Set<string>): void {
    this.spares = this.spares.filter((n) => !taken.has(n));
    this.scheduleTidy();
  }

  /** No tidy reload is asked for any more. */
  stopTimer(): void {
    clearTimeout(this.tidyTimer);
  }

  /**
   * With router metrics on, routes on spares are written under their own names (their metrics' `proxy`
   * label) by a reload a little after the last one was taken; without, their names are seen nowhere.
   */
  private scheduleTidy(): void {
    if (this.opts.ports.metricsPort === undefined) return;
    // Put off while routes keep coming, but not for long.
    if (this.tidyTimer && Date.now() - this.tidySince > TIDY_AT_MOST_MS) return;
    if (!this.tidyTimer) this.tidySince = Date.now();
    clearTimeout(this.tidyTimer);
    this.tidyTimer = setTimeout(() => {
      this.tidyTimer = undefined;
      this.tidyDue = true;
      this.opts.kick();
    }, TIDY_AFTER_MS);
    this.tidyTimer.unref();
  }
}
