/**
 * What the runtime drivers share. The watch every polling driver uses: listeners, a timer that runs only while someone listens, and the
 * last observation of each instance, so a poll emits `started` / `exited` / `removed` once per change.
 */
import type { InstanceEvent, ObservedInstance } from './driver.ts';

export class InstanceWatch {
  private readonly listeners = new Set<(e: InstanceEvent) => void>();
  private readonly known = new Map<string, ObservedInstance>();
  private timer: NodeJS.Timeout | undefined;
  private polling = false;

  constructor(
    private readonly list: () => Promise<ObservedInstance[]>,
    private readonly intervalMs: number,
    private readonly onPollError?: (err: Error) => void,
  ) {}

  subscribe(listener: (event: InstanceEvent) => void): () => void {
    this.listeners.add(listener);
    if (!this.timer) {
      this.timer = setInterval(() => void this.poll(), this.intervalMs);
      this.timer.unref();
    }
    return () => {
      this.listeners.delete(listener);
      if (this.listeners.size === 0 && this.timer) {
        clearInterval(this.timer);
        this.timer = undefined;
      }
    };
  }

  /** Records an observation: `exited` when it exits, `started` when it first runs. */
  observe(obs: ObservedInstance): void {
    const prev = this.known.get(obs.id)?.state;
    this.known.set(obs.id, obs);
    if (prev === obs.state) return;
    if (obs.state === 'exited') this.emit({ type: 'exited', instance: obs });
    else if (obs.state === 'running' && (prev === undefined || prev === 'starting')) this.emit({ type: 'started', instance: obs });
  }

  /** The instance is gone (removed by the driver): `removed`, once. */
  forget(id: string, last?: ObservedInstance): void {
    const prev = this.known.get(id);
    if (this.known.delete(id) && (last ?? prev)) this.emit({ type: 'removed', instance: (last ?? prev)! });
  }

  private emit(e: InstanceEvent): void {
    for (const l of this.listeners) l(e);
  }

  private async poll(): Promise<void> {
    if (this.polling) return;
    this.polling = true;
    try {
      const seen = new Set<string>();
      for (const obs of await this.list()) {
        seen.add(obs.id);
        this.observe(obs);
      }
      for (const id of [...this.known.keys()]) if (!seen.has(id)) this.forget(id);
    } catch (err) {
      this.onPollError?.(err as Error);
    } finally {
      this.polling = false;
    }
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.listeners.clear();
  }
}

/** Concurrent calls for one key share one run of `work`: never two launches of one instance. */
export class SingleFlight<T> {
  private readonly pending = new Map<string, Promise<T>>();

  run(key: string, work: () => Promise<T>): Promise<T> {
    const running = this.pending.get(key);
    if (running) return running;
    const p = work().finally(() => this.pending.delete(key));
    this.pending.set(key, p);
    return p;
  }
}
