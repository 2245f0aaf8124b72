/**
 * Leases in the store: acquire, renew, release, list, and the fenced transaction every guarded write runs
 * in. Each statement is one conditional write judged on the database's clock, so replicas on different
 * machines never compare their own clocks. See docs/high-availability.md.
 */
import { sql, type Kysely, type Transaction } from 'kysely';
import type { Database } from './schema.ts';
import type { DialectName } from './dialect/name.ts';
import { StaleLeaseError } from '../errors/errors.ts';

export interface LeaseRecord {
  name: string;
  holder: string;
  epoch: number;
  /** milliseconds since the epoch, database clock */
  expiresAt: number;
  acquiredAt: number;
  renewedAt: number;
}

/** A lease as held by this replica: the epoch its writes carry. */
export interface HeldLease {
  name: string;
  holder: string;
  epoch: number;
}

function toRecord(r: Database['leases']): LeaseRecord {
  return { name: r.name, holder: r.holder, epoch: Number(r.epoch), expiresAt: Number(r.expires_at), acquiredAt: Number(r.acquired_at), renewedAt: Number(r.renewed_at) };
}

export class LeasesRepo {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly dialect: DialectName,
  ) {}

  /** The database's clock in milliseconds, as an SQL expression. */
  private nowMs() {
    return this.dialect === 'postgres' ? sql<number>`(extract(epoch from clock_timestamp()) * 1000)::bigint` : sql<number>`cast((julianday('now') - 2440587.5) * 86400000 as integer)`;
  }

  /** The database's clock now (milliseconds). */
  async now(): Promise<number> {
    const r = await sql<{ now: number }>`select ${this.nowMs()} as now`.execute(this.db);
    return Number(r.rows[0]!.now);
  }

  /**
   * Take the lease if it is free, expired, or (with `takeOver`) held by one of the named holders; the epoch
   * grows by one on every acquisition, so whatever an earlier holder still sends is refused. Returns the
   * lease now held, or undefined when another holder keeps it.
   */
  async acquire(name: string, holder: string, ttlMs: number, takeOver: string[] = [], lockTimeoutMs?: number): Promise<HeldLease | undefined> {
    // The row may be locked by a fenced write of the holder; one that stays locked (a holder paused inside
    // its transaction) must not hold this replica's whole lease round: give up after lockTimeoutMs, retry later.
    // The upsert locks the row even when it takes nothing (ON CONFLICT DO UPDATE locks the conflicting row
    // whatever its WHERE says), so this transaction holds the holder's row until it commits: if this replica
    // is paused before the commit, the server ends the transaction after half the TTL (as a fenced write's),
    // or the holder's renewals would wait on it for as long as the pause lasts.
    if (this.dialect === 'postgres' && lockTimeoutMs) {
      return this.db.transaction().execute(async (trx) => {
        const ms = (n: number) => `${Math.max(1, Math.round(n))}ms`;
        await sql`select set_config('lock_timeout', ${ms(lockTimeoutMs)}, true), set_config('idle_in_transaction_session_timeout', ${ms(ttlMs / 2)}, true)`.execute(trx);
        return new LeasesRepo(trx, this.dialect).acquire(name, holder, ttlMs, takeOver);
      });
    }
    const now = this.nowMs();
    const ttl = Math.round(ttlMs);
    const takeable = takeOver.length ? sql`(leases.expires_at < ${now} or leases.holder in (${sql.join(takeOver)}))` : sql`leases.expires_at < ${now}`;
    const r = await sql<{ epoch: number; holder: string }>`
      insert into leases (name, holder, epoch, expires_at, acquired_at, renewed_at)
      values (${name}, ${holder}, 1, ${now} + ${ttl}, ${now}, ${now})
      on conflict (name) do update set holder = excluded.holder, epoch = leases.epoch + 1, expires_at = excluded.expires_at,
        acquired_at = excluded.acquired_at, renewed_at = excluded.renewed_at
      where ${takeable}
      returning epoch, holder`.execute(this.db);
    const row = r.rows[0];
    return row && row.holder === holder ? { name, holder, epoch: Number(row.epoch) } : undefined;
  }

  /** Extend a held lease; false when it is no longer ours at this epoch (taken over). */
  async renew(lease: HeldLease, ttlMs: number): Promise<boolean> {
    const now = this.nowMs();
    const res = await this.db
      .updateTable('leases')
      .set({ expires_at: sql`${now} + ${Math.round(ttlMs)}`, renewed_at: now })
      .where('name', '=', lease.name)
      .where('holder', '=', lease.holder)
      .where('epoch', '=', lease.epoch)
      .executeTakeFirst();
    return Number(res.numUpdatedRows) === 1;
  }

  /** Give a lease up at once (a clean stop), so another replica takes it without waiting for the expiry. */
  async release(lease: HeldLease): Promise<void> {
    await this.db.updateTable('leases').set({ expires_at: 0 }).where('name', '=', lease.name).where('holder', '=', lease.holder).where('epoch', '=', lease.epoch).execute();
  }

  async list(): Promise<LeaseRecord[]> {
    return (await this.db.selectFrom('leases').selectAll().orderBy('name').execute()).map(toRecord);
  }

  async find(name: string): Promise<LeaseRecord | undefined> {
    const r = await this.db.selectFrom('leases').selectAll().where('name', '=', name).executeTakeFirst();
    return r && toRecord(r);
  }

  /**
   * Refuses (StaleLeaseError) unless the lease is held at this epoch now: one read, for a check before a side
   * effect outside the store. A transaction around it would hold the row only until its own commit, so it
   * would promise nothing more.
   */
  async check(lease: HeldLease): Promise<void> {
    const row = await this.db.selectFrom('leases').select(['holder', 'epoch']).where('name', '=', lease.name).executeTakeFirst();
    if (!row || row.holder !== lease.holder || Number(row.epoch) !== lease.epoch) {
      throw new StaleLeaseError(lease.name, lease.epoch, row ? { holder: row.holder, epoch: Number(row.epoch) } : undefined);
    }
  }

  /**
   * Run `fn` in a transaction that first checks the lease is still held at this epoch, holding the lease's row
   * (FOR SHARE on PostgreSQL; SQLite has one writer) until it commits: a takeover waits for the write to
   * commit, and a write after a takeover is refused with StaleLeaseError before anything else runs.
   */
  async fenced<T>(lease: HeldLease, fn: (trx: Transaction<Database>) => Promise<T>, idleTimeoutMs?: number): Promise<T> {
    return this.db.transaction().execute(async (trx) => {
      // A holder paused inside this transaction (SIGSTOP, a frozen machine) would keep the lease row locked and
      // block every takeover: the server ends such a transaction (and its connection) after idleTimeoutMs.
      // The timeout is set by the statement that reads the lease (one round trip, not two): with no row there
      // is nothing to hold, and the transaction ends at once.
      let q = trx.selectFrom('leases').select(['holder', 'epoch']).where('name', '=', lease.name);
      if (this.dialect === 'postgres') {
        if (idleTimeoutMs) q = q.select(sql<string>`set_config('idle_in_transaction_session_timeout', ${`${Math.max(1, Math.round(idleTimeoutMs))}ms`}, true)`.as('idle_timeout'));
        q = q.forShare();
      }
      const row = await q.executeTakeFirst();
      if (!row || row.holder !== lease.holder || Number(row.epoch) !== lease.epoch) {
        throw new StaleLeaseError(lease.name, lease.epoch, row ? { holder: row.holder, epoch: Number(row.epoch) } : undefined);
      }
      return fn(trx);
    });
  }
}
