/**
 * A keyed work queue after controller-runtime's: keys are de-duplicated; one key never runs in two
 * workers at once; a key added while it runs runs again afterwards; a failed pass is retried with capped
 * exponential back-off; a pass may ask to run again after a delay. Passes are contained: an exception is
 * logged and requeued, never fatal to the loop.
 */

export type PassResult = void | { againInMs: number };

export interface QueueLogger {
  error(obj: object, msg: string): void;
}

export class WorkQueue {
  private readonly pending = new Set<string>();
  private readonly order: string[] = [];
  private readonly running = new Set<string>();
  private readonly dirty = new Set<string>();
  private readonly timers = new Map<string, { timer: NodeJS.Timeout; dueAt: number }>();
  private readonly failures = new Map<string, number>();
  private active = 0;
  private stopped = false;
  private idleWaiters: (() => void)[] = [];

  constructor(
    private readonly name: string,
    private readonly pass: (key: string) => Promise<PassResult>,
    private readonly opts: { concurrency: number; logger: QueueLogger; maxBackoffMs?: number },
  ) {}

  add(key: string): void {
    if (this.stopped) return;
    if (this.running.has(key)) {
      this.dirty.add(key);
      return;
    }
    if (this.pending.has(key)) return;
    this.pending.add(key);
    this.order.push(key);
    this.pump();
  }

  /** Add after a delay; of two scheduled adds for one key the sooner wins (a later one would delay a wake-up asked for). */
  addAfter(key: string, ms: number): void {
    if (this.stopped) return;
    const dueAt = Date.now() + ms;
    const existing = this.timers.get(key);
    if (existing && existing.dueAt <= dueAt) return;
    if (existing) clearTimeout(existing.timer);
    const timer = setTimeout(() => {
      this.timers.delete(key);
      this.add(key);
    }, ms);
    timer.unref();
    this.timers.set(key, { timer, dueAt });
  }

  private pump(): void {
    while (!this.stopped && this.active < this.opts.concurrency && this.order.length > 0) {
      const key = this.order.shift()!;
      this.pending.delete(key);
      this.running.add(key);
      this.active++;
      void this.run(key);
    }
  }

  private async run(key: string): Promise<void> {
    let result: PassResult;
    try {
      result = await this.pass(key);
      this.failures.delete(key);
    } catch (err) {
      const n = (this.failures.get(key) ?? 0) + 1;
      this.failures.set(key, n);
      const delay = Math.min(this.opts.maxBackoffMs ?? 30_000, 100 * 2 ** Math.min(n, 12));
      this.opts.logger.error({ err, queue: this.name, key, attempt: n, retryInMs: delay }, 'controller pass failed');
      result = { againInMs: delay };
    }
    this.running.delete(key);
    this.active--;
    if (this.dirty.delete(key)) this.add(key);
    else if (result && result.againInMs >= 0) this.addAfter(key, result.againInMs);
    this.pump();
    if (this.active === 0 && this.order.length === 0) {
      for (const w of this.idleWaiters.splice(0)) w();
    }
  }

  /** Stop taking keys and wait for running passes to end. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.timers.values()) clearTimeout(t.timer);
    this.timers.clear();
    this.order.length = 0;
    this.pending.clear();
    if (this.active > 0) await new Promise<void>((r) => this.idleWaiters.push(r));
  }
}
