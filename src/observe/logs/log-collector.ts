/**
 * Follows the output of every service instance the runtime has, and hands each line to the archive and to
 * every subscriber (live streams, log sinks). Subscribers are called synchronously and must not block: a
 * slow one buffers or drops on its own side, so no reader can hold back an app's output.
 *
 * A restarted control plane follows the instances it adopts from the start of their output again; how many
 * lines of each instance were already taken is kept in `<dir>/cursors.json`, so none is archived or shipped
 * twice. Job runs and addon servers are not services: their output is theirs.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import type { ObservedInstance, RuntimeDriver } from '../../runtime/driver.ts';
import type { LogArchive } from './log-archive.ts';
import type { LogEntry } from './log-query.ts';
import { NewestFileWriter } from '../../files/newest-file-writer.ts';

export type LogListener = (e: LogEntry) => void;

/**
 * A runtime event (an instance started or ended) has its instance followed at once; the scan only catches
 * what no event announced, so it can be slow: each scan lists every instance the runtime has.
 */
const SCAN_MS = 1000;
const FLUSH_MS = 100;
const RETENTION_MS = 60_000;

interface Followed {
  abort: AbortController;
  taken: number;
  done: Promise<void>;
}

export class LogCollector {
  private readonly followed = new Map<string, Followed>();
  private readonly listeners = new Set<LogListener>();
  /** lines taken per instance id, as cursors.json has them once saved (followed instances' counts kept current) */
  private cursors: Record<string, number> = {};
  private readonly cursorFile: string;
  private readonly cursorWriter: NewestFileWriter;
  /** a count moved since cursors.json was written: only then is it written again (it holds every instance) */
  private dirty = false;
  private timers: NodeJS.Timeout[] = [];
  private unwatch?: () => void;
  private scanning = false;
  private stopped = false;

  constructor(
    private readonly driver: RuntimeDriver,
    readonly archive: LogArchive,
    private readonly opts: { dir: string; logger: Logger },
  ) {
    this.cursorFile = path.join(opts.dir, 'cursors.json');
    this.cursorWriter = new NewestFileWriter(this.cursorFile, {
      onError: (err) => {
        this.dirty = true; // written again at the next flush
        opts.logger.debug({ err: err.message }, 'log cursors not saved');
      },
    });
    try {
      this.cursors = JSON.parse(fs.readFileSync(this.cursorFile, 'utf8')) as Record<string, number>;
    } catch {
      this.cursors = {};
    }
  }

  /** Every line of every service instance from now on; returns the unsubscribe function. */
  subscribe(listener: LogListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  start(): void {
    this.stopped = false;
    this.timers = [];
    fs.mkdirSync(this.opts.dir, { recursive: true });
    // The periodic scan also forgets the cursors of removed instances. One scan per event would read every
    // instance's state for each instance a rollout starts.
    this.unwatch = this.driver.watch((e) => {
      if (e.type !== 'removed' && !this.stopped && isServiceInstance(e.instance) && !this.followed.has(e.instance.id)) this.follow(e.instance);
    });
    this.timers.push(setInterval(() => void this.scan(), SCAN_MS));
    this.timers.push(
      setInterval(() => {
        this.archive.flush();
        this.saveCursors();
      }, FLUSH_MS),
    );
    const retain = () => {
      try {
        this.archive.enforceRetention();
      } catch (err) {
        this.opts.logger.warn({ err: (err as Error).message }, 'log retention pass failed');
      }
    };
    retain();
    this.timers.push(setInterval(retain, RETENTION_MS));
    for (const t of this.timers) t.unref();
    void this.scan();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.unwatch?.();
    for (const t of this.timers) clearInterval(t);
    for (const f of this.followed.values()) f.abort.abort();
    await Promise.all([...this.followed.values()].map((f) => f.done));
    this.archive.flush();
    this.saveCursors();
    await this.cursorWriter.flush();
    // A later start (this replica taking the log lease back) follows every instance again from its cursor.
    this.followed.clear();
  }

  private saveCursors(): void {
    if (!this.dirty) return;
    this.dirty = false;
    this.cursorWriter.write(JSON.stringify(this.cursors));
  }

  private async scan(): Promise<void> {
    if (this.scanning || this.stopped) return;
    this.scanning = true;
    try {
      const all = await this.driver.list();
      for (const inst of all) {
        if (!isServiceInstance(inst) || this.followed.has(inst.id)) continue;
        this.follow(inst);
      }
      // Forget cursors of instances the runtime no longer knows and that are not followed.
      const known = new Set(all.map((i) => i.id));
      for (const id of Object.keys(this.cursors)) {
        if (known.has(id) || this.followed.has(id)) continue;
        delete this.cursors[id];
        this.dirty = true;
      }
    } catch (err) {
      this.opts.logger.debug({ err: (err as Error).message }, 'log scan failed');
    } finally {
      this.scanning = false;
    }
  }

  private follow(inst: ObservedInstance): void {
    const abort = new AbortController();
    const f: Followed = { abort, taken: 0, done: Promise.resolve() };
    const skip = this.cursors[inst.id] ?? 0;
    const { project, service } = inst.labels;
    let seen = 0;
    const take = (l: { ts: string; stream: 'stdout' | 'stderr'; line: string }) => {
      seen++;
      if (seen <= Math.max(skip, f.taken)) return;
      f.taken = seen;
      this.cursors[inst.id] = seen;
      this.dirty = true;
      this.emit({ ts: l.ts, project, service, instance: inst.id, stream: l.stream, line: l.line });
    };
    this.followed.set(inst.id, f);
    f.done = (async () => {
      try {
        for await (const l of this.driver.logs(inst.id, { follow: true, signal: abort.signal })) {
          take(l);
          if (abort.signal.aborted) break;
        }
        // The follow ends when the instance's live output is gone (it exited and was removed): its last
        // lines may have been written after the last read, so the kept output is read once more.
        if (!abort.signal.aborted) {
          seen = 0;
          for await (const l of this.driver.logs(inst.id, {})) take(l);
        }
      } catch (err) {
        this.opts.logger.debug({ instance: inst.id, err: (err as Error).message }, 'log follow ended');
      } finally {
        if (!abort.signal.aborted) {
          // Followed to the end, or not begun (a just-started instance may have written no output file yet):
          // the count is kept, so the next scan follows it again from there if the runtime still lists it.
          const kept = Math.max(this.cursors[inst.id] ?? 0, f.taken);
          if (this.cursors[inst.id] !== kept) this.dirty = true;
          this.cursors[inst.id] = kept;
          setTimeout(() => {
            if (this.followed.get(inst.id) === f) this.followed.delete(inst.id);
          }, 500).unref();
        }
      }
    })();
  }

  private emit(e: LogEntry): void {
    this.archive.append(e);
    for (const l of this.listeners) {
      try {
        l(e);
      } catch (err) {
        this.opts.logger.warn({ err: (err as Error).message }, 'log listener failed');
      }
    }
  }
}

function isServiceInstance(i: ObservedInstance): boolean {
  return i.labels.processType !== 'job' && i.labels.processType !== 'addon' && !!i.labels.project && !!i.labels.service;
}
