/**
 * The lease keeper: each control-plane replica runs one. It acquires every lease it can (a controller, a
 * shard of a controller's keys, or a singleton), renews the ones it holds every `renewMs`, and hands each
 * lease's work its start and stop: the work runs only while the lease is held here.
 *
 * A lease is lost when a renewal finds it taken over, when a write made under it is refused as stale, or
 * when this replica's own monotonic clock says the last successful renewal is older than the TTL (less a
 * margin): a replica that was paused (SIGSTOP, a long GC, a frozen VM) or cut off from the database stops
 * its work before another replica can take the lease over. See docs/high-availability.md.
 */
import { performance } from 'node:perf_hooks';
import type { Transaction } from 'kysely';
import type { Database } from '../store/schema.ts';
import type { HeldLease, LeaseRecord, LeasesRepo } from '../store/leases-repo.ts';
import { StaleLeaseError } from '../errors/errors.ts';

/** The reason a work's `stop` is given when its replica itself stops (not a lease lost to another). */
export const REPLICA_STOPPING = 'this replica is stopping';

export interface LeaseLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

/** What runs under a lease: started when this replica acquires it, stopped at once when it loses it. */
export interface LeaseWork {
  start(lease: HeldLease): void | Promise<void>;
  stop(why: string): void | Promise<void>;
}

interface Entry {
  name: string;
  work: LeaseWork;
  held?: HeldLease;
  /** performance.now() after which this replica no longer trusts its hold */
  validUntil: number;
  /** start/stop of the work, one at a time */
  chain: Promise<void>;
  acquiredAt?: number;
}

export interface LeaseKeeperOptions {
  nodeId: string;
  ttlMs: number;
  renewMs: number;
  logger: LeaseLogger;
  /**
   * Holders whose leases may be taken over at once by the first round, without waiting for them to expire:
   * this node's own id (a restart of the same replica), or every holder on the single-replica SQLite store.
   */
  takeOverAtStart: 'own' | 'all';
}

/** This replica's trust in a hold ends this long before the lease's expiry on the database clock. */
const SAFETY_FRACTION = 0.2;

export class LeaseKeeper {
  private readonly entries = new Map<string, Entry>();
  /** store checks in flight, by hold (see check) */
  private readonly checking = new Map<string, Promise<void>>();
  private timer?: NodeJS.Timeout;
  private watchdog?: NodeJS.Timeout;
  private ticking?: Promise<void>;
  private stopped = false;
  private refusedWrites = 0;
  private lastRefusal?: { lease: string; epoch: number; at: string; message: string };

  constructor(
    private readonly repo: LeasesRepo,
    readonly opts: LeaseKeeperOptions,
  ) {}

  get nodeId(): string {
    return this.opts.nodeId;
  }

  register(name: string, work: LeaseWork): void {
    if (this.entries.has(name)) throw new Error(`lease '${name}' registered twice`);
    this.entries.set(name, { name, work, validUntil: 0, chain: Promise.resolve() });
  }

  /** A first round (acquiring what is free, and taking over this node's own leases), then the renew loop. */
  async start(): Promise<void> {
    await this.round(true);
    this.timer = setInterval(() => void this.tick(), this.opts.renewMs);
    this.timer.unref();
    this.watchdog = setInterval(() => this.checkDeadlines(), Math.max(50, Math.min(250, this.opts.renewMs / 4)));
    this.watchdog.unref();
  }

  /** The lease if this replica holds it now (and trusts its hold); a hold past its deadline is given up here. */
  held(name: string): HeldLease | undefined {
    const e = this.entries.get(name);
    if (!e?.held) return undefined;
    if (performance.now() > e.validUntil) {
      this.lose(e, 'renewal overdue: this replica was paused or cut off from the store for longer than the lease allows');
      return undefined;
    }
    return e.held;
  }

  /** Whether `lease` (a hold taken earlier) is still the current hold at the same epoch. */
  current(lease: HeldLease): boolean {
    const now = this.held(lease.name);
    return !!now && now.epoch === lease.epoch;
  }

  /** A write refused as stale: counted, logged, and the lease's work stopped at once. */
  refused(err: StaleLeaseError): void {
    this.refusedWrites++;
    this.lastRefusal = { lease: err.lease, epoch: err.epoch, at: new Date().toISOString(), message: err.message };
    this.opts.logger.warn({ lease: err.lease, epoch: err.epoch, current: err.current }, `${err.message}; giving the work up`);
    const e = this.entries.get(err.lease);
    if (e?.held && e.held.epoch === err.epoch) this.lose(e, 'a write under it was refused as stale');
  }

  /** Run `fn` in a transaction fenced by `lease`; a stale lease's write is refused, counted, and its work stopped. */
  fenced<T>(lease: HeldLease, fn: (trx: Transaction<Database>) => Promise<T>): Promise<T> {
    return this.refusing(lease, () => this.repo.fenced(lease, fn, this.opts.ttlMs / 2));
  }

  /**
   * Refuses unless `lease` is held at its epoch in the store now (a check before a side effect outside it).
   * Checks of one hold asked for while one is in flight share its read: a read begun a moment earlier proves
   * as much, since no other replica can take the lease before this one's own deadline (`current`) runs out,
   * and the caller (`guard`) looks at that deadline after the check. Many passes under one lease at once then
   * cost one round trip to the store, not one each.
   */
  check(lease: HeldLease): Promise<void> {
    const key = `${lease.name}\n${lease.holder}\n${lease.epoch}`;
    // A hold past its deadline here is refused at once (refusing), never handed a read still in flight.
    const shared = this.current(lease) ? this.checking.get(key) : undefined;
    if (shared) return shared;
    const read = this.refusing(lease, () => this.repo.check(lease)).finally(() => this.checking.delete(key));
    this.checking.set(key, read);
    return read;
  }

  /** Runs `op` unless the lease has run out here; a stale lease found either way is counted and its work stopped. */
  private async refusing<T>(lease: HeldLease, op: () => Promise<T>): Promise<T> {
    if (!this.current(lease)) {
      const err = new StaleLeaseError(lease.name, lease.epoch);
      this.refused(err);
      throw err;
    }
    try {
      return await op();
    } catch (err) {
      if (err instanceof StaleLeaseError) this.refused(err);
      throw err;
    }
  }

  /** Every lease in the store, and what this replica knows of its own. */
  async list(): Promise<{ now: number; leases: LeaseRecord[] }> {
    const [now, leases] = await Promise.all([this.repo.now(), this.repo.list()]);
    return { now, leases };
  }

  local(): { nodeId: string; held: { name: string; epoch: number }[]; refusedWrites: number; lastRefusal?: { lease: string; epoch: number; at: string; message: string } } {
    const held = [...this.entries.values()].filter((e) => e.held).map((e) => ({ name: e.name, epoch: e.held!.epoch }));
    return { nodeId: this.opts.nodeId, held, refusedWrites: this.refusedWrites, ...(this.lastRefusal ? { lastRefusal: this.lastRefusal } : {}) };
  }

  /**
   * Stop every work and release every held lease, so other replicas take them over without waiting. Each
   * work's `stop` is told why: REPLICA_STOPPING.
   */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    if (this.watchdog) clearInterval(this.watchdog);
    await this.ticking;
    for (const e of this.entries.values()) {
      const lease = e.held;
      if (!lease) continue;
      this.lose(e, REPLICA_STOPPING);
      await e.chain;
      await this.repo.release(lease).catch((err: Error) => this.opts.logger.warn({ lease: e.name, err: err.message }, 'lease not released; it expires by itself'));
    }
  }

  private tick(): void {
    if (this.ticking || this.stopped) return;
    this.ticking = this.round(false)
      .catch((err: Error) => this.opts.logger.error({ err: err.message }, 'lease round failed'))
      .finally(() => (this.ticking = undefined));
  }

  private checkDeadlines(): void {
    for (const e of this.entries.values()) if (e.held) this.held(e.name);
  }

  private async round(first: boolean): Promise<void> {
    // Renewals first: an acquisition that waits on a locked row must not make a held lease overdue.
    const entries = [...this.entries.values()];
    for (const e of [...entries.filter((x) => x.held), ...entries.filter((x) => !x.held)]) {
      if (this.stopped) return;
      const t0 = performance.now();
      try {
        if (e.held) {
          const lease = e.held;
          const ok = await this.repo.renew(lease, this.opts.ttlMs);
          if (e.held !== lease) continue; // lost meanwhile
          if (ok) e.validUntil = t0 + this.opts.ttlMs * (1 - SAFETY_FRACTION);
          else this.lose(e, 'taken over by another replica');
        } else {
          const takeOver = first ? (this.opts.takeOverAtStart === 'all' ? await this.allHolders() : [this.opts.nodeId]) : [];
          const lease = await this.repo.acquire(e.name, this.opts.nodeId, this.opts.ttlMs, takeOver, this.opts.renewMs);
          if (!lease || this.stopped) continue;
          e.held = lease;
          e.validUntil = t0 + this.opts.ttlMs * (1 - SAFETY_FRACTION);
          e.acquiredAt = Date.now();
          this.opts.logger.info({ lease: e.name, epoch: lease.epoch, node: this.opts.nodeId }, 'lease acquired');
          e.chain = e.chain.then(async () => {
            if (e.held !== lease) return;
            try {
              await e.work.start(lease);
            } catch (err) {
              this.opts.logger.error({ lease: e.name, err: (err as Error).message }, 'work under a lease failed to start');
            }
          });
          if (first) await e.chain;
        }
      } catch (err) {
        // The store is unreachable: a held lease stays trusted until its deadline, then is given up.
        this.opts.logger.warn({ lease: e.name, err: (err as Error).message }, 'lease renewal or acquisition failed');
      }
    }
  }

  private async allHolders(): Promise<string[]> {
    return [...new Set((await this.repo.list()).map((l) => l.holder))];
  }

  private lose(e: Entry, why: string): void {
    const lease = e.held;
    if (!lease) return;
    e.held = undefined;
    e.validUntil = 0;
    this.opts.logger.warn({ lease: e.name, epoch: lease.epoch, node: this.opts.nodeId, why }, 'lease lost; its work stops');
    e.chain = e.chain.then(async () => {
      try {
        await e.work.stop(why);
      } catch (err) {
        this.opts.logger.error({ lease: e.name, err: (err as Error).message }, 'work under a lost lease failed to stop');
      }
    });
  }
}
