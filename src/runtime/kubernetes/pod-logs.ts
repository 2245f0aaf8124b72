/**
 * Instance output from the pod log API (`GET …/pods/<id>/log?timestamps=true`), and the output of stopped
 * instances kept after their Pod is gone (`<stateDir>/logs/<id>.log`, JSON lines as on the other runtimes),
 * since a deleted Pod's log goes with it.
 *
 * The log API merges the container's stdout and stderr into one stream (splitting them is an alpha feature of
 * recent Kubernetes releases): every line is reported as `stdout`.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { LogLine } from '../driver.ts';
import { parseLogLines } from '../log-lines.ts';
import { CONTAINER } from './pod-manifest.ts';
import type { Cluster } from './cluster.ts';

/** `2026-01-02T03:04:05.123456789Z text` → a LogLine (timestamps cut to milliseconds). */
export function parseTimestamped(instanceId: string, raw: string): LogLine | undefined {
  const sp = raw.indexOf(' ');
  const ts = sp > 0 ? raw.slice(0, sp) : raw;
  const ms = Date.parse(ts.replace(/(\.\d{3})\d*/, '$1'));
  if (Number.isNaN(ms)) return undefined;
  return { instanceId, ts: new Date(ms).toISOString(), stream: 'stdout', line: sp > 0 ? raw.slice(sp + 1) : '' };
}

function logPath(namespace: string, id: string, q: Record<string, string>): string {
  const query = new URLSearchParams({ container: CONTAINER, timestamps: 'true', ...q });
  return `/api/v1/namespaces/${encodeURIComponent(namespace)}/pods/${encodeURIComponent(id)}/log?${query}`;
}

/** The lines of a response as they arrive. */
async function* linesOf(instanceId: string, body: AsyncIterable<Buffer | string>): AsyncIterable<LogLine> {
  let rest = '';
  for await (const chunk of body) {
    rest += chunk.toString();
    let nl: number;
    while ((nl = rest.indexOf('\n')) >= 0) {
      const l = parseTimestamped(instanceId, rest.slice(0, nl));
      rest = rest.slice(nl + 1);
      if (l) yield l;
    }
  }
  const last = rest && parseTimestamped(instanceId, rest);
  if (last) yield last;
}

export class PodLogs {
  constructor(
    private readonly cluster: Cluster,
    private readonly dir: string,
  ) {
    fs.mkdirSync(dir, { recursive: true });
  }

  private file(id: string): string {
    return path.join(this.dir, `${id}.log`);
  }

  /** The kept output of a removed instance, the last `tail` lines. */
  kept(id: string, tail?: number): LogLine[] {
    let text = '';
    try {
      text = fs.readFileSync(this.file(id), 'utf8');
    } catch {
      return [];
    }
    const lines = parseLogLines(id, text);
    return tail === undefined ? lines : lines.slice(-tail);
  }

  hasKept(id: string): boolean {
    return fs.existsSync(this.file(id));
  }

  /** Lines from the API: the last `tail`, then (with follow) new ones until the container ends or `signal` aborts. */
  async *read(namespace: string, id: string, opts: { tail?: number; follow?: boolean; signal?: AbortSignal }): AsyncIterable<LogLine> {
    const res = await this.cluster.stream(logPath(namespace, id, { ...(opts.tail !== undefined ? { tailLines: String(opts.tail) } : {}), ...(opts.follow ? { follow: 'true' } : {}) }), opts.signal);
    try {
      yield* linesOf(id, res);
    } catch (err) {
      if (!opts.signal?.aborted) throw err;
    } finally {
      res.destroy();
    }
  }

  /**
   * Starts keeping an instance's output before its Pod is deleted: follows the log from its first line and
   * writes every line to the kept file until the container ends. Resolves, once the stream is open, with
   * `ended`, a promise of its end (so the caller can delete the Pod and then wait for the last lines). The
   * promise is wrapped: an async function returning a bare promise would wait for it.
   */
  async keep(namespace: string, id: string): Promise<{ ended: Promise<void> }> {
    const ctl = new AbortController();
    let res;
    try {
      res = await this.cluster.stream(logPath(namespace, id, { follow: 'true' }), ctl.signal);
    } catch {
      return { ended: Promise.resolve() };
    }
    const out = fs.createWriteStream(this.file(id), { flags: 'w' });
    const done = (async () => {
      try {
        for await (const l of linesOf(id, res)) out.write(`${JSON.stringify({ ts: l.ts, stream: l.stream, line: l.line })}\n`);
      } catch {
        // The Pod went while the stream was open: what arrived is kept.
      } finally {
        await new Promise<void>((r) => out.end(r));
      }
    })();
    // A follow that never ends (a node that lost the container) is cut after a while.
    const timer = setTimeout(() => ctl.abort(), 10 * 60_000);
    timer.unref();
    return { ended: done.finally(() => clearTimeout(timer)) };
  }

  /** Keeps what the API has of an exited instance's output (no follow). */
  async keepNow(namespace: string, id: string): Promise<void> {
    try {
      const lines: string[] = [];
      for await (const l of this.read(namespace, id, {})) lines.push(JSON.stringify({ ts: l.ts, stream: l.stream, line: l.line }));
      fs.writeFileSync(this.file(id), lines.map((l) => `${l}\n`).join(''));
    } catch {
      // No log left to keep.
    }
  }
}
