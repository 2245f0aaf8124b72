/**
 * A keyed work queue after controller-runtime's: keys are de-duplicated; one key never runs in two
 * workers at once; a key added while it runs runs again afterwards; a failed pass is retried with capped
 * exponential back-off; a pass may ask to run again after a delay. Passes are contained: an exception is
 * logged and requeued, never fatal to the loop.
 *
 * A periodic resync adds every key in the background lane: a key with something to do (an event, a pass
 * asking to run again) is taken before them, so a rollout's next step does not queue behind a thousand idle
 * services; one take in four goes to the background lane while it has keys, so a resync always progresses.
 * At most `backgroundConcurrency` background passes run at once: a resync of a thousand idle keys then
 * spreads out instead of filling every worker (and, on PostgreSQL, the connection pool the API shares).
 *
 * Delayed adds share one timer: a min-heap of (due time, key) with the key's current due time in a map (an
 * entry whose time is no longer the key's is stale and skipped), so thousands of keys waiting cost one timer,
 * not one each.
 *
 * Every pass begins on a turn of the event loop of its own, so I/O (API requests) is served between passes
 * even where a pass never waits on I/O.
 */
import { setImmediate as nextTurn } from 'node:timers/promises';

export type PassResult = void | { againInMs: number };

export interface QueueLogger {
  error(obj: object, msg: string): void;
}

export class WorkQueue {
  /** keys waiting, and in which lane */
  private readonly pending = new Map<string, 'now' | 'background'>();
  private readonly order = new Fifo();
  private readonly background = new Fifo();
  private takes = 0;
  private readonly running = new Set<string>();
  /** keys running a pass taken from the background lane */
  private readonly runningBackground = new Set<string>();
  private readonly dirty = new Set<string>();
  /** key → when its delayed add is due (epoch ms) */
  private readonly due = new Map<string, number>();
  private readonly heap: { at: number; key: string }[] = [];
  private timer?: NodeJS.Timeout;
  private timerAt = Infinity;
  private readonly failures = new Map<string, number>();
  private active = 0;
  private stopped = false;
  private idleWaiters: (() => void)[] = [];

  constructor(
    private readonly name: string,
    /** a pass over `key`; `lane` says whether it was asked for (an event, a delay) or is a resync's */
    private readonly pass: (key: string, lane: 'now' | 'background') => Promise<PassResult>,
    private readonly opts: { concurrency: number; logger: QueueLogger; maxBackoffMs?: number; backgroundConcurrency?: number },
  ) {}

  add(key: string): void {
    if (this.stopped) return;
    if (this.running.has(key)) {
      this.dirty.add(key);
      return;
    }
    const lane = this.pending.get(key);
    if (lane === 'now') return;
    // A background key becomes urgent: queued again in the first lane (its background entry is skipped).
    this.pending.set(key, 'now');
    this.order.push(key);
    this.pump();
  }

  /** Add in the background lane (a resync): taken after urgent keys; a key already waiting or running is left as it is. */
  addBackground(key: string): void {
    if (this.stopped || this.running.has(key) || this.pending.has(key)) return;
    this.pending.set(key, 'background');
    this.background.push(key);
    this.pump();
  }

  /** The next key to run and its lane: urgent ones first, with one take in four for the background lane. */
  private take(): { key: string; lane: 'now' | 'background' } | undefined {
    const mayBackground = this.runningBackground.size < (this.opts.backgroundConcurrency ?? Infinity);
    const preferBackground = mayBackground && ++this.takes % 4 === 0;
    const from = (q: Fifo, lane: 'now' | 'background') => {
      for (let k = q.shift(); k !== undefined; k = q.shift()) if (this.pending.get(k) === lane) return { key: k, lane };
      return undefined;
    };
    if (preferBackground) return from(this.background, 'background') ?? from(this.order, 'now');
    return from(this.order, 'now') ?? (mayBackground ? from(this.background, 'background') : undefined);
  }

  /** Add after a delay; an earlier scheduled add for the key is kept if it fires sooner. */
  addAfter(key: string, ms: number): void {
    if (this.stopped) return;
    const at = Date.now() + Math.max(0, ms);
    const had = this.due.get(key);
    if (had !== undefined && had <= at) return;
    this.due.set(key, at);
    heapPush(this.heap, { at, key });
    this.arm();
  }

  /** The one timer, set for the soonest due time. */
  private arm(): void {
    const next = this.heap[0]?.at ?? Infinity;
    if (next >= this.timerAt) return;
    clearTimeout(this.timer);
    this.timerAt = next;
    this.timer = setTimeout(() => this.fire(), Math.max(0, next - Date.now()));
    this.timer.unref();
  }

  private fire(): void {
    this.timer = undefined;
    this.timerAt = Infinity;
    const now = Date.now();
    while (this.heap.length && this.heap[0].at <= now) {
      const { at, key } = heapPop(this.heap)!;
      if (this.due.get(key) !== at) continue; // superseded by a sooner add
      this.due.delete(key);
      this.add(key);
    }
    if (!this.stopped) this.arm();
  }

  private pump(): void {
    while (!this.stopped && this.active < this.opts.concurrency) {
      const next = this.take();
      if (next === undefined) break;
      const { key, lane } = next;
      this.pending.delete(key);
      this.running.add(key);
      if (lane === 'background') this.runningBackground.add(key);
      this.active++;
      void this.run(key, lane);
    }
  }

  private async run(key: string, lane: 'now' | 'background'): Promise<void> {
    let result: PassResult;
    try {
      // Each pass begins on a turn of the event loop of its own. On SQLite a pass may never wait on I/O, and
      // the next pass, begun when one ends, would then run in the same turn: a resync of a thousand keys held
      // the loop (and every API request) for 100-150 ms.
      await nextTurn();
      result = await this.pass(key, lane);
      this.failures.delete(key);
    } catch (err) {
      const n = (this.failures.get(key) ?? 0) + 1;
      this.failures.set(key, n);
      const delay = Math.min(this.opts.maxBackoffMs ?? 30_000, 100 * 2 ** Math.min(n, 12));
      this.opts.logger.error({ err, queue: this.name, key, attempt: n, retryInMs: delay }, 'controller pass failed');
      result = { againInMs: delay };
    }
    this.running.delete(key);
    this.runningBackground.delete(key);
    this.active--;
    if (this.dirty.delete(key)) this.add(key);
    else if (result && result.againInMs >= 0) this.addAfter(key, result.againInMs);
    this.pump();
    if (this.active === 0 && this.pending.size === 0) {
      for (const w of this.idleWaiters.splice(0)) w();
    }
  }

  /** Stop taking keys and wait for running passes to end. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.due.clear();
    this.heap.length = 0;
    this.order.clear();
    this.background.clear();
    this.pending.clear();
    if (this.active > 0) await new Promise<void>((r) => this.idleWaiters.push(r));
  }
}

/** Binary min-heap on `at` (push and pop in O(log n)). */
function heapPush(h: { at: number; key: string }[], x: { at: number; key: string }): void {
  h.push(x);
  let i = h.length - 1;
  while (i > 0) {
    const p = (i - 1) >> 1;
    if (h[p].at <= h[i].at) break;
    [h[p], h[i]] = [h[i], h[p]];
    i = p;
  }
}

function heapPop(h: { at: number; key: string }[]): { at: number; key: string } | undefined {
  const top = h[0];
  const last = h.pop();
  if (!h.length || !last) return top;
  h[0] = last;
  let i = 0;
  for (;;) {
    const l = 2 * i + 1;
    const r = l + 1;
    let m = i;
    if (l < h.length && h[l].at < h[m].at) m = l;
    if (r < h.length && h[r].at < h[m].at) m = r;
    if (m === i) return top;
    [h[m], h[i]] = [h[i], h[m]];
    i = m;
  }
}

/** A FIFO of keys with O(1) shift (taken entries are dropped in bulk). */
class Fifo {
  private items: string[] = [];
  private head = 0;

  push(key: string): void {
    this.items.push(key);
  }

  shift(): string | undefined {
    if (this.head >= this.items.length) return undefined;
    const key = this.items[this.head++];
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return key;
  }

  clear(): void {
    this.items = [];
    this.head = 0;
  }
}
