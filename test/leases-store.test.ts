/**
 * Leases in the store, on both databases: acquisition, renewal, expiry and takeover with a growing epoch,
 * and the fenced transaction that refuses a stale holder's write (and lets a takeover wait for a write in
 * flight on PostgreSQL). The failover of whole replicas is test/ha-failover.test.ts.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import crypto from 'node:crypto';
import { SUPPORTED_DATABASES, createPgDatabase, openTestStore } from './support/databases.ts';
import { openStore } from '../src/store/store.ts';
import { SecretBox } from '../src/store/secret-box.ts';
import { StaleLeaseError } from '../src/errors/errors.ts';
import { fencedStore, underLease } from '../src/leases/fence.ts';
import { LeaseKeeper } from '../src/leases/lease-keeper.ts';
import { EventsRepo } from '../src/store/events-repo.ts';

for (const dbId of SUPPORTED_DATABASES) {
  describe(`leases on ${dbId}`, () => {
    it('one holder at a time; a takeover after expiry bumps the epoch and fences the old holder out', async () => {
      const { store, cleanup } = await openTestStore(dbId);
      try {
        const a = await store.leases.acquire('services/0', 'node-a', 400);
        assert.deepEqual(a, { name: 'services/0', holder: 'node-a', epoch: 1 });
        assert.equal(await store.leases.acquire('services/0', 'node-b', 400), undefined, 'held and not expired: not taken');
        assert.equal(await store.leases.renew(a!, 400), true);
        // A fenced write by the holder goes through.
        await store.leases.fenced(a!, (trx) => store.withDb(trx).events.append({ projectId: 'p', serviceId: 's', kind: 'rollout', reason: 'Step', message: 'by a at epoch 1' }));
        await sleep(600);
        const b = await store.leases.acquire('services/0', 'node-b', 10_000);
        assert.deepEqual(b, { name: 'services/0', holder: 'node-b', epoch: 2 });
        // The old holder can neither renew nor write, and its check before a side effect is refused.
        assert.equal(await store.leases.renew(a!, 400), false);
        await assert.rejects(store.leases.check(a!), (err: unknown) => err instanceof StaleLeaseError && err.current?.holder === 'node-b' && err.current.epoch === 2);
        await store.leases.check(b!);
        await assert.rejects(
          store.leases.fenced(a!, (trx) => store.withDb(trx).events.append({ projectId: 'p', serviceId: 's', kind: 'rollout', reason: 'Step', message: 'by a at epoch 1, stale' })),
          (err: unknown) => err instanceof StaleLeaseError && err.current?.holder === 'node-b' && err.current.epoch === 2,
        );
        const messages = (await store.events.list('p', 's')).map((e) => e.message);
        assert.ok(messages.includes('by a at epoch 1'));
        assert.ok(!messages.includes('by a at epoch 1, stale'), 'the stale write left no trace');
        // A holder may take its own lease back at once (a restarted replica), with a new epoch.
        const b2 = await store.leases.acquire('services/0', 'node-b', 10_000, ['node-b']);
        assert.equal(b2?.epoch, 3);
        await store.leases.release(b2!);
        const c = await store.leases.acquire('services/0', 'node-c', 10_000);
        assert.equal(c?.epoch, 4, 'a released lease is taken at once');
        const listed = await store.leases.list();
        assert.deepEqual(listed.map((l) => [l.name, l.holder, l.epoch]), [['services/0', 'node-c', 4]]);
        assert.ok(listed[0]!.expiresAt > (await store.leases.now()));
      } finally {
        await cleanup();
      }
    });

    it('checks of one hold asked for at once share one read of the store, and a stale hold is still refused', async () => {
      const { store, cleanup } = await openTestStore(dbId);
      const keeper = new LeaseKeeper(store.leases, { nodeId: 'node-a', ttlMs: 400, renewMs: 10_000, logger: { info() {}, warn() {} } as never, takeOverAtStart: 'own' });
      keeper.register('services/2', { start: () => undefined, stop: () => undefined });
      const reads: string[] = [];
      const check = store.leases.check.bind(store.leases);
      store.leases.check = (lease) => (reads.push(lease.name), check(lease));
      try {
        await keeper.start();
        const held = keeper.held('services/2')!;
        assert.equal(held.holder, 'node-a');
        await Promise.all(Array.from({ length: 8 }, () => keeper.check(held)));
        assert.equal(reads.length, 1, 'eight checks at once: one read');
        await keeper.check(held);
        assert.equal(reads.length, 2, 'a check after the shared one reads again');
        await keeper.stop();
        // Taken over by another holder: a check of the old hold is refused (here by the keeper's own deadline too).
        const b = await store.leases.acquire('services/2', 'node-b', 10_000);
        assert.equal(b?.epoch, held.epoch + 1);
        await assert.rejects(Promise.all([keeper.check(held), keeper.check(held)]), StaleLeaseError);
      } finally {
        await keeper.stop();
        await cleanup();
      }
    });

    it("the controller's store fences each write and refuses a write from a method named as a read", async () => {
      const { store, cleanup } = await openTestStore(dbId);
      // The keeper's part the fenced store uses, straight to the store (its deadline bookkeeping is not under test).
      const keeper = { fenced: (lease, fn) => store.leases.fenced(lease, fn) } as Pick<LeaseKeeper, 'fenced'> as LeaseKeeper;
      const proto = EventsRepo.prototype as unknown as Record<string, unknown>;
      try {
        const fenced = fencedStore(store, keeper);
        const a = (await store.leases.acquire('services/1', 'node-a', 300))!;
        const event = (message: string) => ({ projectId: 'p', serviceId: 's', kind: 'rollout', reason: 'Step', message });
        await underLease(a, () => fenced.events.append(event('a write under the lease')));
        assert.deepEqual((await underLease(a, () => fenced.events.list('p', 's'))).map((e) => e.message), ['a write under the lease'], 'reads run as they are');
        // A method named as a read that writes: refused, not run unfenced, and nothing written.
        proto.getAndNote = async function (this: EventsRepo, message: string) {
          await this.append(event(message));
        };
        await assert.rejects(underLease(a, () => (fenced.events as unknown as { getAndNote(m: string): Promise<void> }).getAndNote('written by a read')), /named as a read made a write \(InsertQueryNode\)/);
        await sleep(450);
        const b = (await store.leases.acquire('services/1', 'node-b', 10_000))!;
        assert.equal(b.epoch, 2);
        await assert.rejects(underLease(a, () => fenced.events.append(event('a stale write'))), StaleLeaseError);
        assert.deepEqual((await store.events.list('p', 's')).map((e) => e.message), ['a write under the lease']);
      } finally {
        delete proto.getAndNote;
        await cleanup();
      }
    });

    if (dbId === 'postgres') {
      it("a replica paused inside its attempt to take another's lease does not stall the holder's renewals", async () => {
        // Its own store: the server ends the paused attempt's connection, which the pool reports.
        const pgdb = await createPgDatabase();
        const ended: string[] = [];
        const store = await openStore({ url: pgdb.url, box: SecretBox.fromKey(crypto.randomBytes(32)), onIdleError: (err) => ended.push(err.message) });
        let release!: () => void;
        const paused = new Promise<void>((r) => (release = r));
        try {
          const held = (await store.leases.acquire('services/2', 'node-b', 10_000))!;
          // node-a's attempt stops right after its upsert, before its commit (a SIGSTOP there): the upsert took
          // nothing, but it locked node-b's row.
          const upserts = new Set<unknown>();
          const stalling = store.withDb(
            store.db.withPlugin({
              transformQuery: (args) => {
                if (args.node.kind === 'RawNode' && args.node.sqlFragments.join('').includes('insert into leases')) upserts.add(args.queryId);
                return args.node;
              },
              transformResult: async (args) => {
                if (upserts.has(args.queryId)) await paused;
                return args.result;
              },
            }),
          );
          const attempt = stalling.leases.acquire('services/2', 'node-a', 600, [], 100).then(
            (lease) => ({ lease }),
            (err: Error) => ({ err }),
          );
          await sleep(100);
          // The holder renews while node-a is paused: it waits for the server to end node-a's transaction
          // (after half of node-a's TTL), not for as long as the pause lasts. Bounded here so that a renewal
          // that would wait forever fails the test rather than hanging it.
          const renewed = await Promise.race([store.leases.renew(held, 10_000), sleep(15_000).then(() => 'still waiting' as const)]);
          assert.equal(renewed, true, 'the holder renewed its lease during the pause');
          release();
          const outcome = await attempt;
          assert.ok('err' in outcome, `the paused attempt failed once resumed (its transaction was ended): ${JSON.stringify(outcome)}`);
          assert.equal((await store.leases.find('services/2'))?.holder, 'node-b');
        } finally {
          release();
          await store.close();
          await pgdb.drop();
        }
      });

      it('a takeover waits for a fenced write in flight, and the old epoch is refused after it', async () => {
        // Its own store: the server ends a paused holder's connection, which the pool reports (as the platform's does).
        const pgdb = await createPgDatabase();
        const ended: string[] = [];
        const store = await openStore({ url: pgdb.url, box: SecretBox.fromKey(crypto.randomBytes(32)), onIdleError: (err) => ended.push(err.message) });
        const cleanup = async () => {
          await store.close();
          await pgdb.drop();
        };
        try {
          const a = (await store.leases.acquire('jobs', 'node-a', 200))!;
          let release!: () => void;
          const inFlight = store.leases.fenced(a, async (trx) => {
            await store.withDb(trx).events.append({ projectId: 'p', serviceId: 's', kind: 'rollout', reason: 'Step', message: 'in flight' });
            await new Promise<void>((r) => (release = r));
          });
          await sleep(400); // expired meanwhile
          let taken = false;
          const takeover = store.leases.acquire('jobs', 'node-b', 10_000).then((l) => ((taken = true), l));
          await sleep(300);
          assert.equal(taken, false, 'the takeover waits for the write holding the lease row');
          release();
          await inFlight;
          assert.equal((await takeover)?.epoch, 2);
          await assert.rejects(store.leases.fenced(a, async () => undefined), StaleLeaseError);
          // A holder paused inside its fenced transaction: the server ends the transaction after its idle
          // timeout, so the takeover goes through instead of waiting for ever; the paused write never lands.
          const c = (await store.leases.acquire('cron', 'node-c', 200))!;
          const paused = store.leases.fenced(c, async (trx) => {
            await store.withDb(trx).events.append({ projectId: 'p', serviceId: 's', kind: 'rollout', reason: 'Step', message: 'paused holder' });
            await sleep(2000);
          }, 300);
          await sleep(400);
          let got: Awaited<ReturnType<typeof store.leases.acquire>>;
          for (;;) {
            got = await store.leases.acquire('cron', 'node-d', 10_000, [], 100).catch(() => undefined);
            if (got) break;
            await sleep(100);
          }
          assert.equal(got.epoch, 2);
          await assert.rejects(paused);
          assert.ok(!(await store.events.list('p', 's')).some((e) => e.message === 'paused holder'));
        } finally {
          await cleanup();
        }
      });
    }
  });
}
