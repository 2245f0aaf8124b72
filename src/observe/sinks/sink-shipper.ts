/**
 * One log sink's delivery: a bounded buffer of lines and a loop that sends them in batches, in order.
 * `offer` never waits (the collector calls it for every line of every app): when the buffer is full the
 * oldest line is dropped and counted. A failed send keeps the batch and retries it with back-off (250 ms
 * doubling to 5 s), forever while there is something to send: a receiver that comes back gets every line
 * the buffer held. A paused sink takes no lines.
 */
import type { LogEntry } from '../logs/log-query.ts';
import type { LogSinkRecord } from '../../store/log-sinks-repo.ts';
import { batchLimits, sinkRequest } from './sink-formats.ts';

const SEND_TIMEOUT_MS = 10_000;
const BACKOFF_MIN_MS = 250;
const BACKOFF_MAX_MS = 5000;

export interface SinkDelivery {
  sentLines: number;
  droppedLines: number;
  bufferedLines: number;
  lastError: string | null;
  lastSentAt: string | null;
  failingSince: string | null;
}

export class SinkShipper {
  private buf: LogEntry[] = [];
  private head = 0;
  private sent: number;
  private dropped: number;
  private lastError: string | null = null;
  private lastSentAt: string | null = null;
  private failingSince: string | null = null;
  private wake?: () => void;
  private stopped = false;
  private loop?: Promise<void>;
  private inFlight?: AbortController;

  constructor(
    private rec: LogSinkRecord,
    private readonly capacity: number,
  ) {
    this.sent = rec.stats.sentLines;
    this.dropped = rec.stats.droppedLines;
  }

  get id(): string {
    return this.rec.id;
  }

  /** New settings (or pause state) take effect with the next batch. */
  update(rec: LogSinkRecord): void {
    this.rec = rec;
    this.wake?.();
  }

  private get size(): number {
    return this.buf.length - this.head;
  }

  offer(e: LogEntry): void {
    if (this.rec.paused || this.stopped) return;
    if (this.rec.spec.restricted && !this.rec.spec.projects.includes(e.project)) return;
    if (this.size >= this.capacity) {
      this.head++;
      this.dropped++;
    }
    this.buf.push(e);
    if (this.head > 4096 && this.head * 2 > this.buf.length) {
      this.buf = this.buf.slice(this.head);
      this.head = 0;
    }
    this.wake?.();
  }

  status(): 'paused' | 'running' | 'failing' {
    return this.rec.paused ? 'paused' : this.failingSince ? 'failing' : 'running';
  }

  delivery(): SinkDelivery {
    return { sentLines: this.sent, droppedLines: this.dropped, bufferedLines: this.size, lastError: this.lastError, lastSentAt: this.lastSentAt, failingSince: this.failingSince };
  }

  stats(): { sentLines: number; droppedLines: number } {
    return { sentLines: this.sent, droppedLines: this.dropped };
  }

  start(): void {
    this.loop ??= this.run();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.inFlight?.abort();
    this.wake?.();
    await this.loop;
  }

  private idle(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(done, ms);
      function done() {
        clearTimeout(t);
        resolve();
      }
      this.wake = done;
    });
  }

  private async run(): Promise<void> {
    let backoff = BACKOFF_MIN_MS;
    while (!this.stopped) {
      if (this.rec.paused || this.size === 0) {
        await this.idle(1000);
        continue;
      }
      const { maxEvents, maxBytes } = batchLimits(this.rec.sinkType, this.rec.sinkData);
      const batch: LogEntry[] = [];
      let bytes = 0;
      for (let i = this.head; i < this.buf.length && batch.length < maxEvents; i++) {
        bytes += this.buf[i].line.length + 200;
        if (batch.length && bytes > maxBytes) break;
        batch.push(this.buf[i]);
      }
      const req = sinkRequest(this.rec.sinkType, this.rec.sinkData, batch);
      this.inFlight = new AbortController();
      const timer = setTimeout(() => this.inFlight?.abort(), SEND_TIMEOUT_MS);
      let error: string | null = null;
      try {
        const res = await fetch(req.url, { method: 'POST', headers: req.headers, body: req.body, signal: this.inFlight.signal });
        await res.arrayBuffer().catch(() => undefined);
        if (!res.ok) error = `the receiver answered HTTP ${res.status}`;
      } catch (err) {
        const cause = (err as { cause?: { code?: string; message?: string } }).cause;
        error = `could not reach the receiver: ${cause?.code ?? cause?.message ?? (err as Error).message}`;
      } finally {
        clearTimeout(timer);
      }
      if (!error) {
        // Lines dropped while the batch was in flight moved the head past some of it: remove what is left of it.
        let k = batch.indexOf(this.buf[this.head]);
        while (k >= 0 && k < batch.length && this.head < this.buf.length && this.buf[this.head] === batch[k]) {
          this.head++;
          k++;
        }
        this.sent += batch.length;
        this.lastSentAt = new Date().toISOString();
        this.failingSince = null;
        this.lastError = null;
        backoff = BACKOFF_MIN_MS;
        continue;
      }
      if (this.stopped) break;
      this.lastError = error;
      this.failingSince ??= new Date().toISOString();
      await this.idle(backoff);
      backoff = Math.min(BACKOFF_MAX_MS, backoff * 2);
    }
  }
}
