/**
 * The serial loop every change to HAProxy goes through: one pass at a time, always converging on the latest
 * table (a pass asked for while one runs makes one more pass after it, however many were asked for). A pass
 * that fails is tried again after a moment; `settled()` tells a caller when the table it handed over is served.
 */

export interface SerialLoopOptions {
  /** One pass: brings HAProxy to the latest table; throws when the change was not applied. */
  pass(): Promise<void>;
  /** The router is stopping: no pass begins any more. */
  stopping(): boolean;
  logger?: { warn(o: object, m: string): void };
}

export class SerialLoop {
  private dirty = false;
  private loop?: Promise<void>;
  /** tables handed to setTable so far, and how many of them HAProxy serves (a pass serves all handed before it began) */
  private handedGen = 0;
  private servedGen = 0;
  /** settled() callers waiting for the next pass to end */
  private passWaiters: (() => void)[] = [];
  /** Set while a failed pass waits to be tried again: the table handed over is not served yet. */
  private retryTimer?: NodeJS.Timeout;

  constructor(private readonly opts: SerialLoopOptions) {}

  /** A table was handed over (setTable). */
  tableHanded(): void {
    this.handedGen++;
  }

  kick(): void {
    this.dirty = true;
    if (!this.loop) this.loop = this.run().finally(() => (this.loop = undefined));
  }

  /**
   * Resolves when the table handed over before the call is served: at once when a pass that began after it
   * has ended, else when the serial loop has nothing left to do (tests and start use it). A caller does not
   * wait for tables other controllers hand over after it, so one busy service cannot hold every other
   * service's pass. A pass that failed is retried first, so a change is never reported applied while it is not.
   */
  async settled(): Promise<void> {
    const want = this.handedGen;
    for (;;) {
      if (want > 0 && this.servedGen >= want) return;
      if (this.loop) {
        const loop = this.loop;
        await new Promise<void>((resolve) => {
          this.passWaiters.push(resolve);
          void loop.then(resolve, resolve);
        });
      } else if (this.retryTimer && !this.opts.stopping()) await sleep(20);
      else return;
    }
  }

  /** A failed pass is not tried again. */
  cancelRetry(): void {
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
  }

  /** The pass under way, if any, settled either way (undefined when none runs). */
  idle(): Promise<void> | undefined {
    return this.loop?.catch(() => undefined);
  }

  private async run(): Promise<void> {
    while (this.dirty && !this.opts.stopping()) {
      this.dirty = false;
      const gen = this.handedGen;
      try {
        await this.opts.pass();
        this.servedGen = gen;
        for (const w of this.passWaiters.splice(0)) w();
      } catch (err) {
        this.opts.logger?.warn({ err: (err as Error).message }, 'haproxy router: change not applied; retrying');
        clearTimeout(this.retryTimer);
        this.retryTimer = setTimeout(() => {
          this.retryTimer = undefined;
          this.kick();
        }, 500);
        this.retryTimer.unref();
        return;
      }
    }
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
