/**
 * Where each endpoint is in HAProxy: its slots (`backend/server`) and whether one of them still routes to it
 * (not removed). Kept by backend: a backend object stands for the same slots until the router replaces it
 * (or says it changed it in place, `restated`), so bringing the index up to date after a change recounts
 * only the backends that changed, not the ten thousand servers of every other one.
 */
import { SERVER_PREFIX } from './config.ts';
import type { Backend } from './slots.ts';
import type { Route, RoutingTable } from '../table.ts';

interface Entry {
  id: string;
  loc: string;
  active: boolean;
}

export class EndpointIndex {
  private readonly counted = new Map<Backend, Entry[]>();
  /** the backend counted for each route key */
  private byKey = new Map<string, Backend>();
  private readonly locations = new Map<string, string[]>();
  private readonly activeCount = new Map<string, number>();
  private readonly changedInPlace = new Set<Backend>();

  /** The backend's slots changed without a new object: it is counted again at the next sync. */
  restated(b: Backend): void {
    this.changedInPlace.add(b);
  }

  /** Brings the index to `backends` (what HAProxy holds now). */
  sync(backends: Iterable<Backend>): void {
    const current = new Set(backends);
    for (const b of [...this.counted.keys()]) if (!current.has(b) || this.changedInPlace.has(b)) this.uncount(b);
    this.byKey = new Map();
    for (const b of current) {
      if (!this.counted.has(b)) this.count(b);
      this.byKey.set(b.key, b);
    }
    this.changedInPlace.clear();
  }

  /**
   * Brings the index to what HAProxy holds when only `replaced` (backends that took the place of the ones
   * counted under their keys) and the backends restated since the last sync changed: it costs what changed.
   */
  syncChanged(replaced: Iterable<Backend>): void {
    for (const b of replaced) {
      const old = this.byKey.get(b.key);
      if (old === b) continue;
      if (old) this.uncount(old);
      this.count(b);
      this.byKey.set(b.key, b);
    }
    for (const b of this.changedInPlace) {
      if (!this.counted.has(b)) continue;
      this.uncount(b);
      this.count(b);
    }
    this.changedInPlace.clear();
  }

  /** The slots the endpoint has, removed ones included. */
  locationsOf(endpointId: string): readonly string[] {
    return this.locations.get(endpointId) ?? [];
  }

  /** Whether a slot still routes to the endpoint. */
  isActive(endpointId: string): boolean {
    return this.activeCount.has(endpointId);
  }

  private count(b: Backend): void {
    const entries: Entry[] = [];
    for (let i = 0; i < b.slots.length; i++) {
      const s = b.slots[i]!;
      if (!s.endpoint) continue;
      const e = { id: s.endpoint.id, loc: `${b.name}/${SERVER_PREFIX}${i + 1}`, active: !s.removed };
      entries.push(e);
      const locs = this.locations.get(e.id);
      if (locs) locs.push(e.loc);
      else this.locations.set(e.id, [e.loc]);
      if (e.active) this.activeCount.set(e.id, (this.activeCount.get(e.id) ?? 0) + 1);
    }
    this.counted.set(b, entries);
  }

  private uncount(b: Backend): void {
    for (const e of this.counted.get(b) ?? []) {
      const locs = this.locations.get(e.id);
      const at = locs?.indexOf(e.loc) ?? -1;
      if (locs && at >= 0) locs.splice(at, 1);
      if (locs && !locs.length) this.locations.delete(e.id);
      if (e.active) {
        const n = (this.activeCount.get(e.id) ?? 1) - 1;
        if (n > 0) this.activeCount.set(e.id, n);
        else this.activeCount.delete(e.id);
      }
    }
    this.counted.delete(b);
  }
}

/**
 * The endpoints a routing table names, kept route by route: a route object seen in the last table costs one
 * comparison, so bringing it to a new table of ten thousand endpoints where one route changed recounts that
 * route only.
 */
export class TableEndpoints {
  private byKey = new Map<string, Route>();
  private readonly counts = new Map<string, number>();
  /** the last table had a key twice and was counted whole: the next one starts afresh */
  private whole = false;
  private counted?: RoutingTable;
  /** the routes of the table counted last, as they were then */
  private countedRoutes: Route[] = [];

  /** Brings the set to `table`'s endpoints (nothing to do for the table counted last). */
  update(table: RoutingTable): void {
    if (table === this.counted) return;
    this.counted = table;
    const last = this.countedRoutes;
    this.countedRoutes = table.routes.slice();
    if (!this.whole && this.sameKeys(last, table.routes)) {
      // The same keys in the same order (a table whose routes' endpoints moved): only the routes replaced count.
      for (let i = 0; i < last.length; i++) {
        const r = table.routes[i]!;
        if (r === last[i]) continue;
        this.count(last[i]!, -1);
        this.count(r, 1);
        this.byKey.set(r.key, r);
      }
      return;
    }
    if (this.whole) {
      this.byKey = new Map();
      this.counts.clear();
      this.whole = false;
    }
    const keys = new Set<string>();
    for (const r of table.routes) {
      if (keys.has(r.key)) return this.rebuild(table); // a key twice: counted whole, as no route stands for it alone
      keys.add(r.key);
      const had = this.byKey.get(r.key);
      if (had === r) continue;
      if (had) this.count(had, -1);
      this.count(r, 1);
      this.byKey.set(r.key, r);
    }
    if (this.byKey.size === keys.size) return;
    for (const [key, r] of this.byKey) {
      if (keys.has(key)) continue;
      this.count(r, -1);
      this.byKey.delete(key);
    }
  }

  /** Whether `routes` has the keys of `last` in the same order, each route of `last` the one counted for its key. */
  private sameKeys(last: Route[], routes: Route[]): boolean {
    if (last.length !== routes.length || this.byKey.size !== last.length) return false;
    for (let i = 0; i < last.length; i++) {
      const was = last[i]!;
      if (routes[i] !== was && (routes[i]!.key !== was.key || this.byKey.get(was.key) !== was)) return false;
    }
    return true;
  }

  has(endpointId: string): boolean {
    return this.counts.has(endpointId);
  }

  private rebuild(table: RoutingTable): void {
    this.byKey = new Map();
    this.counts.clear();
    for (const r of table.routes) this.count(r, 1);
    this.whole = true;
  }

  private count(r: Route, by: 1 | -1): void {
    for (const e of r.endpoints) {
      const n = (this.counts.get(e.id) ?? 0) + by;
      if (n > 0) this.counts.set(e.id, n);
      else this.counts.delete(e.id);
    }
  }
}
