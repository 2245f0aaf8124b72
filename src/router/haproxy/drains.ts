/**
 * Draining and requests in flight. A removed endpoint's slot is set to `drain` (no new requests, in-flight ones
 * finish) and is freed (`maint`) once a count from `show stat` taken after its drain began shows nothing in
 * flight on it. The same counts answer how many requests an endpoint has in flight (`inFlight`), which callers
 * wait on before stopping an instance.
 */
import type { RoutingTable } from '../table.ts';
import { SERVER_PREFIX } from './config.ts';
import { EndpointIndex, TableEndpoints } from './endpoint-index.ts';
import type { HaproxyMaster } from './master.ts';
import { FREE_SLOT, type Backend } from './slots.ts';

export interface Draining {
  endpointId: string;
  /** Stats fetched after this epoch see the slot in drain; earlier ones may not. */
  sinceEpoch: number;
}

/** Backends replaced since the index was last brought up to date, past which it looks at all of them. */
const MAX_PENDING_REINDEX = 1024;
const STATS_INTERVAL_MS = 100;
const WATCH_MS = 5000;

export interface DrainsOptions {
  master: HaproxyMaster;
  /** HAProxy was started or adopted (counts are read only then). */
  started(): boolean;
  /** Starts a pass of the serial loop (a slot whose drain is over is freed by one). */
  kick(): void;
  logger?: { debug(o: object, m: string): void };
}

export class Drains {
  /** Slots (`backend/server`) draining an endpoint that left the table, including backends already removed. */
  readonly draining = new Map<string, Draining>();
  /** where each endpoint is (see reindex) */
  private readonly index = new EndpointIndex();
  /** the index is behind the slots: all of them, or those of the backends listed and the restated ones (see reindex) */
  private indexStale: 'all' | Backend[] | false = false;
  /** The endpoints of the latest table, brought to it when asked (inFlight) */
  private readonly desiredEndpoints = new TableEndpoints();
  private load = new Map<string, number>();
  /** counts fetched so far (a drain beginning now is confirmed by a count fetched after it) */
  fetchEpoch = 0;
  private loadEpoch = 0;
  private loadAt = 0;
  private statsFetch?: Promise<void>;
  /** backends whose counts were asked for (inFlight), by when: read with the draining ones for a while */
  private readonly watched = new Map<string, number>();
  private statsTimer?: NodeJS.Timeout;

  constructor(private readonly opts: DrainsOptions) {}

  /**
   * Requests in flight to an endpoint, from HAProxy's `show stat` (current plus queued sessions on its
   * slots, summed over the current worker and old ones still finishing after a reload). The count is a
   * cache refreshed every 100 ms while anything drains, and on demand; it reads only the backends of
   * draining slots and of endpoints asked about in the last few seconds (the first answer for another
   * endpoint may be 0). An endpoint that left the table
   * counts at least 1 until a count taken after its slot entered drain says otherwise, so a caller waiting
   * for 0 never stops an instance that HAProxy may still send a request to.
   * `applied` is what HAProxy holds now, `desired` the latest table handed over.
   */
  inFlight(endpointId: string, applied: Map<string, Backend>, desired: RoutingTable): number {
    if (Date.now() - this.loadAt > STATS_INTERVAL_MS) void this.refreshLoad();
    if (this.indexStale === 'all') this.index.sync(applied.values());
    else if (this.indexStale) this.index.syncChanged(this.indexStale);
    this.indexStale = false;
    // Its slots, and those draining it in backends already gone.
    const locs = new Set(this.index.locationsOf(endpointId));
    let drainUnconfirmed = false;
    for (const [loc, d] of this.draining) {
      if (d.endpointId !== endpointId) continue;
      locs.add(loc);
      if (this.loadEpoch <= d.sinceEpoch) drainUnconfirmed = true;
    }
    let n = 0;
    for (const loc of locs) {
      n += this.load.get(loc) ?? 0;
      this.watched.set(loc.slice(0, loc.indexOf('/')), Date.now());
    }
    this.desiredEndpoints.update(desired);
    const removalPending = this.index.isActive(endpointId) && !this.desiredEndpoints.has(endpointId);
    return removalPending || drainUnconfirmed ? Math.max(n, 1) : n;
  }

  /**
   * Frees the slots whose drain is over: a count taken after the drain began shows nothing in flight.
   * `applied` is what HAProxy holds now; `stateJson` the saved model's JSON by object (a freed slot's backend is rendered again).
   */
  async releaseDrained(applied: Map<string, Backend>, stateJson: WeakMap<object, string>): Promise<boolean> {
    const cmds: string[] = [];
    const draining = this.draining.size;
    let byName: Map<string, Backend> | undefined;
    for (const [loc, d] of this.draining) {
      if (this.loadEpoch <= d.sinceEpoch || (this.load.get(loc) ?? 0) > 0) continue;
      this.draining.delete(loc);
      const [beName, server] = loc.split('/');
      byName ??= new Map([...applied.values()].map((x) => [x.name, x]));
      const b = byName.get(beName);
      const i = Number(server.slice(SERVER_PREFIX.length)) - 1;
      const slot = b?.slots[i];
      if (!b || !slot?.removed || slot.endpoint?.id !== d.endpointId) continue;
      cmds.push(`set server ${loc} state maint`);
      b.slots[i] = { ...FREE_SLOT, addr: slot.addr, port: slot.port, weight: slot.weight };
      stateJson.delete(b);
      this.index.restated(b);
    }
    await this.opts.master.runtime(cmds);
    if (cmds.length === 0 && this.draining.size === draining) return false;
    this.reindex([]);
    return true;
  }

  /**
   * Frees the slots whose drain a count taken now shows over (see releaseDrained), without waiting for the
   * next count on the timer: for a pass that needs those slots.
   */
  async releaseDrainedNow(applied: Map<string, Backend>, stateJson: WeakMap<object, string>): Promise<boolean> {
    await this.refreshLoad();
    return this.releaseDrained(applied, stateJson);
  }

  /** A slot begins to drain its endpoint now: it is freed once a count fetched after this shows it idle. */
  begin(loc: string, endpointId: string): void {
    this.draining.set(loc, { endpointId, sinceEpoch: this.fetchEpoch });
  }

  /**
   * The slots changed: the index of endpoints to slots is brought up to date when next asked (inFlight), once
   * for any number of changes in between, recounting only the backends that changed (endpoint-index.ts).
   * `replaced`: the only backends that are new since the last pass (an endpoints-only pass; none when only
   * slots were freed in place); without it every backend HAProxy holds is looked at.
   */
  reindex(replaced?: Backend[]): void {
    if (!replaced) this.indexStale = 'all';
    else if (this.indexStale !== 'all') {
      const pending = this.indexStale ? this.indexStale.concat(replaced) : replaced.slice();
      // Nothing asked for a while: past this many, one look at every backend costs less than the list.
      this.indexStale = pending.length > MAX_PENDING_REINDEX ? 'all' : pending;
    }
    if (this.draining.size > 0 && !this.statsTimer) {
      this.statsTimer = setInterval(() => void this.refreshLoad().then(() => this.draining.size > 0 && this.opts.kick()), STATS_INTERVAL_MS);
      this.statsTimer.unref();
    } else if (this.draining.size === 0 && this.statsTimer) {
      clearInterval(this.statsTimer);
      this.statsTimer = undefined;
    }
  }

  /** Counts are no longer refreshed on a timer. */
  stopTimer(): void {
    clearInterval(this.statsTimer);
  }

  /** Counts in-flight requests per slot across every worker (old ones still finish after a reload). */
  private refreshLoad(): Promise<void> {
    if (this.statsFetch || !this.opts.started()) return this.statsFetch ?? Promise.resolve();
    const epoch = ++this.fetchEpoch;
    this.statsFetch = (async () => {
      // Only the backends of draining slots and of endpoints asked about lately are read (under any name they had).
      const backends = new Set([...this.draining.keys()].map((loc) => loc.slice(0, loc.indexOf('/'))));
      for (const [b, at] of this.watched) if (Date.now() - at < WATCH_MS) backends.add(b);
      else this.watched.delete(b);
      this.load = backends.size ? await this.opts.master.serverLoad([...backends]) : new Map();
      this.loadEpoch = epoch;
      this.loadAt = Date.now();
    })()
      .catch((err) => this.opts.logger?.debug({ err: (err as Error).message }, 'haproxy stats not read'))
      .finally(() => (this.statsFetch = undefined));
    return this.statsFetch;
  }
}
