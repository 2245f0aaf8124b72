/**
 * A restart nobody notices: a control plane that has just started knows its instances before it knows
 * whether they are ready (their probes run again), so the first tables it builds route to fewer endpoints
 * than the data plane it adopted is serving. Handing those over would answer 503 until the probes catch up.
 *
 * `holdTables` stands between the controllers and the data plane while the control plane warms up: tables
 * are kept, not handed over, and the data plane goes on serving what it held, until `isWarm(latest)` says
 * the latest table is complete (every running routed instance has a probe verdict, and the ready ones are
 * in the table) or `maxHoldMs` has passed. Then the latest table goes through, and every one after it.
 */
import type { Router, RoutingTable } from './table.ts';

export interface HeldRouter {
  /** the router to hand to the controllers */
  router: Router;
  /** Starts checking `isWarm` (once the controllers have been asked to look at everything). */
  begin(): void;
  /** resolves once tables go through (warm, or the hold timed out) */
  released: Promise<void>;
  /** stops checking (the control plane stops) */
  cancel(): void;
}

export function holdTables(inner: Router, opts: { isWarm(latest: RoutingTable): Promise<boolean>; maxHoldMs: number; pollMs?: number; onRelease?(why: 'warm' | 'timeout'): void }): HeldRouter {
  let held = true;
  let latest: RoutingTable = { routes: [] };
  let latestIds = new Set<string>();
  let cancelled = false;
  let release!: () => void;
  const released = new Promise<void>((r) => (release = r));

  const open = (why: 'warm' | 'timeout') => {
    if (!held) return;
    held = false;
    inner.setTable(latest);
    opts.onRelease?.(why);
    release();
  };
  const watch = async () => {
    const deadline = Date.now() + opts.maxHoldMs;
    while (held && !cancelled) {
      if (Date.now() > deadline) return open('timeout');
      const warm = await opts.isWarm(latest).catch(() => false);
      if (warm && !cancelled) return open('warm');
      await new Promise((r) => setTimeout(r, opts.pollMs ?? 100).unref());
    }
  };
  let begun = false;

  const router: Router = {
    get name() {
      return inner.name;
    },
    start: () => inner.start(),
    setTable(table) {
      latest = table;
      // Only a held table answers inFlight (below); once tables go through, none is indexed (thousands of
      // endpoints, at every change).
      if (held) latestIds = new Set(table.routes.flatMap((r) => r.endpoints.map((e) => e.id)));
      else inner.setTable(table);
    },
    // An endpoint the held table dropped may still be served from the table the data plane holds: it counts
    // as busy until the tables go through, so no stop is taken for drained while the data plane routes to it.
    inFlight(endpointId) {
      const n = inner.inFlight?.(endpointId) ?? 0;
      return held && !latestIds.has(endpointId) ? Math.max(1, n) : n;
    },
    settled: () => (held ? Promise.resolve() : (inner.settled?.() ?? Promise.resolve())),
    address: () => inner.address(),
    tcpPortOf: (key) => inner.tcpPortOf?.(key),
    stop: () => inner.stop(),
    ...(inner.detach ? { detach: () => inner.detach!() } : {}),
  };
  return {
    router,
    released,
    begin() {
      if (begun) return;
      begun = true;
      void watch();
    },
    cancel() {
      cancelled = true;
    },
  };
}
