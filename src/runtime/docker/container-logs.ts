/**
 * A container's output for the docker runtime: read from the engine (its multiplexed frames, with the
 * engine's timestamps), followed while it runs, and kept under `<stateDir>/logs/<id>.log` (JSON lines)
 * when the container is removed, so logs outlive a stop as they do on the process runtime.
 */
import fs from 'node:fs';
import path from 'node:path';
import type Docker from 'dockerode';
import type { LogLine } from '../driver.ts';
import { FrameDecoder } from './frames.ts';
import { parseLogLines } from '../log-lines.ts';

const statusOf = (err: unknown): number | undefined => (err as { statusCode?: number })?.statusCode;

/** Split `2024-01-01T00:00:00.123456789Z text` (the engine's timestamps=true format). */
function splitTimestamp(line: string): { ts: string; line: string } {
  const sp = line.indexOf(' ');
  const ts = sp > 0 ? line.slice(0, sp) : '';
  if (ts && !Number.isNaN(Date.parse(ts))) return { ts: new Date(Date.parse(ts)).toISOString(), line: line.slice(sp + 1) };
  return { ts: new Date().toISOString(), line };
}

export class ContainerLogs {
  constructor(
    private readonly docker: Docker,
    private readonly logsDir: string,
  ) {}

  /** Append a container's whole output to its kept log, so `logs` still answers once it is removed. */
  async keep(id: string): Promise<void> {
    const lines = await this.read(id, undefined);
    if (!lines) return;
    fs.appendFileSync(path.join(this.logsDir, `${id}.log`), lines.map((l) => JSON.stringify({ ts: l.ts, stream: l.stream, line: l.line }) + '\n').join(''));
  }

  private async read(id: string, tail: number | undefined): Promise<LogLine[] | undefined> {
    let buf: Buffer;
    try {
      buf = (await this.docker.getContainer(id).logs({ stdout: true, stderr: true, timestamps: true, follow: false, ...(tail !== undefined ? { tail } : {}) })) as unknown as Buffer;
    } catch (err) {
      if (statusOf(err) === 404) return undefined;
      throw err;
    }
    const dec = new FrameDecoder();
    const raw = [...dec.lines(Buffer.isBuffer(buf) ? buf : Buffer.from(String(buf))), ...dec.flush()];
    const lines = raw.map((r) => ({ instanceId: id, stream: r.stream, ...splitTimestamp(r.line) }));
    // The engine sends frames in the order it logged them (timestamps may have only a second's resolution).
    return lines;
  }

  /** An instance's output: the engine's while the container exists, then what `keep` saved. */
  async *logs(id: string, opts: { tail?: number; follow?: boolean; signal?: AbortSignal } = {}): AsyncIterable<LogLine> {
    if (opts.follow && !opts.signal?.aborted) {
      // One request: the engine sends the tail, then follows until the container stops.
      let stream: NodeJS.ReadableStream | undefined;
      try {
        stream = (await this.docker.getContainer(id).logs({ stdout: true, stderr: true, timestamps: true, follow: true, ...(opts.tail !== undefined ? { tail: opts.tail } : {}) })) as NodeJS.ReadableStream;
      } catch (err) {
        if (statusOf(err) !== 404) throw err;
      }
      if (stream) {
        const s = stream;
        const onAbort = () => (s as unknown as { destroy?: () => void }).destroy?.();
        opts.signal?.addEventListener('abort', onAbort, { once: true });
        const dec = new FrameDecoder();
        let last: LogLine | undefined;
        try {
          for await (const chunk of s as AsyncIterable<Buffer>) {
            for (const r of dec.lines(chunk)) yield (last = { instanceId: id, stream: r.stream, ...splitTimestamp(r.line) });
          }
          for (const r of dec.flush()) yield (last = { instanceId: id, stream: r.stream, ...splitTimestamp(r.line) });
        } catch (err) {
          if (!opts.signal?.aborted) throw err;
        } finally {
          opts.signal?.removeEventListener('abort', onAbort);
          onAbort();
        }
        if (opts.signal?.aborted) return;
        // The stream ended with the container; Podman may end it before the last lines: read what it missed.
        const all = (await this.read(id, undefined)) ?? [];
        let from = last ? all.length : 0;
        for (let i = all.length - 1; last && i >= 0; i--) {
          if (all[i].line === last.line && all[i].stream === last.stream && all[i].ts === last.ts) {
            from = i + 1;
            break;
          }
        }
        yield* all.slice(from);
        return;
      }
    }
    const lines = await this.read(id, opts.tail);
    if (lines) {
      yield* lines;
      return;
    }
    const kept = path.join(this.logsDir, `${id}.log`);
    if (!fs.existsSync(kept)) return;
    const all = parseLogLines(id, fs.readFileSync(kept, 'utf8'));
    yield* opts.tail !== undefined ? all.slice(-opts.tail) : all;
  }
}
