/**
 * The kept output of every service, searchable and bounded. One directory per service, of segment files
 * named by the time of their first line and holding one JSON object per line:
 *
 *   <dir>/<project>/<service>/<firstMs>.jsonl   { ts, instance, stream, line }
 *
 * A segment is closed when it reaches `segmentBytes` or is an hour old, so retention can drop whole files:
 * by age (a segment last written, or whose successor began, before the cutoff holds nothing newer) and by size (the
 * oldest segments go first until the service's total is under `maxBytes`). Reads also filter by the cutoff,
 * so what retention keeps a moment longer is never served.
 */
import fs from 'node:fs';
import path from 'node:path';
import { matchesLogQuery, type LogEntry, type LogQuery } from './log-query.ts';

export interface LogRetention {
  maxAgeSeconds: number;
  /** per service */
  maxBytes: number;
}

const SEGMENT_MAX_AGE_MS = 3600_000;

interface OpenSegment {
  file: string;
  startMs: number;
  bytes: number;
  pending: string[];
}

export class LogArchive {
  private readonly open = new Map<string, OpenSegment>();
  private readonly segmentBytes: number;

  constructor(
    private readonly dir: string,
    private readonly retention: LogRetention,
  ) {
    fs.mkdirSync(dir, { recursive: true });
    this.segmentBytes = Math.max(4096, Math.min(16 * 1024 * 1024, Math.floor(retention.maxBytes / 4)));
  }

  private serviceDir(project: string, service: string): string {
    return path.join(this.dir, project, service);
  }

  /** Queue a line for its service's open segment; written by flush(). */
  append(e: LogEntry): void {
    const key = `${e.project}/${e.service}`;
    let seg = this.open.get(key);
    const now = Date.now();
    if (!seg || seg.bytes >= this.segmentBytes || now - seg.startMs >= SEGMENT_MAX_AGE_MS) {
      if (seg) this.flushSegment(seg);
      const dir = this.serviceDir(e.project, e.service);
      fs.mkdirSync(dir, { recursive: true });
      // Strictly increasing names: two segments opened in the same millisecond must not share a file.
      let startMs = Math.max(now, seg ? seg.startMs + 1 : 0);
      while (fs.existsSync(path.join(dir, `${startMs}.jsonl`))) startMs++;
      seg = { file: path.join(dir, `${startMs}.jsonl`), startMs, bytes: 0, pending: [] };
      this.open.set(key, seg);
    }
    const text = `${JSON.stringify({ ts: e.ts, instance: e.instance, stream: e.stream, line: e.line })}\n`;
    seg.pending.push(text);
    seg.bytes += Buffer.byteLength(text);
  }

  /** Write every queued line. */
  flush(): void {
    for (const seg of this.open.values()) this.flushSegment(seg);
  }

  private flushSegment(seg: OpenSegment): void {
    if (!seg.pending.length) return;
    const text = seg.pending.join('');
    seg.pending = [];
    try {
      fs.appendFileSync(seg.file, text);
    } catch {
      // the service's directory was removed (service deleted): its lines go with it
    }
  }

  private segments(project: string, service: string): { file: string; startMs: number; bytes: number; writtenMs: number }[] {
    const dir = this.serviceDir(project, service);
    let names: string[];
    try {
      names = fs.readdirSync(dir);
    } catch {
      return [];
    }
    return names
      .filter((n) => /^\d+\.jsonl$/.test(n))
      .map((n) => {
        const file = path.join(dir, n);
        let bytes = 0;
        let writtenMs = Infinity;
        try {
          const st = fs.statSync(file);
          bytes = st.size;
          writtenMs = st.mtimeMs;
        } catch {}
        return { file, startMs: Number(n.slice(0, -6)), bytes, writtenMs };
      })
      .sort((a, b) => a.startMs - b.startMs);
  }

  /**
   * The lines of a service that match the query, oldest first; with `limit`, the newest `limit` of them.
   * Reads only the segments that can hold lines of the time range.
   */
  search(project: string, service: string, q: LogQuery, limit?: number): LogEntry[] {
    this.flush();
    const cutoffMs = Date.now() - this.retention.maxAgeSeconds * 1000;
    const sinceMs = Math.max(q.sinceMs ?? 0, cutoffMs);
    const segs = this.segments(project, service);
    const out: LogEntry[] = [];
    for (let i = 0; i < segs.length; i++) {
      const endMs = segs[i + 1]?.startMs ?? Infinity;
      // A line is archived after it was written, so every line of a segment is older than the next
      // segment's start; a segment's own start says nothing of its lines' times (adopted output comes late).
      if (endMs < sinceMs) continue;
      let text: string;
      try {
        text = fs.readFileSync(segs[i].file, 'utf8');
      } catch {
        continue;
      }
      for (const raw of text.split('\n')) {
        if (!raw) continue;
        let o: { ts: string; instance: string; stream: 'stdout' | 'stderr'; line: string };
        try {
          o = JSON.parse(raw);
        } catch {
          continue;
        }
        const e: LogEntry = { project, service, ...o };
        if (Date.parse(e.ts) < sinceMs) continue;
        if (matchesLogQuery(e, q)) out.push(e);
      }
    }
    out.sort((a, b) => (a.ts < b.ts ? -1 : a.ts > b.ts ? 1 : 0));
    return limit !== undefined ? out.slice(-limit) : out;
  }

  /** Apply retention to every service: drop segments older than the age limit, then the oldest over the size limit. */
  enforceRetention(): { removedFiles: number } {
    this.flush();
    let removedFiles = 0;
    const cutoffMs = Date.now() - this.retention.maxAgeSeconds * 1000;
    for (const project of safeList(this.dir)) {
      for (const service of safeList(path.join(this.dir, project))) {
        const segs = this.segments(project, service);
        const openFile = this.open.get(`${project}/${service}`)?.file;
        let total = segs.reduce((n, s) => n + s.bytes, 0);
        for (let i = 0; i < segs.length; i++) {
          const s = segs[i];
          // Nothing in a segment is newer than its last write, nor than the next segment's start.
          const endMs = Math.min(segs[i + 1]?.startMs ?? Infinity, s.writtenMs);
          const tooOld = endMs < cutoffMs;
          const tooBig = total > this.retention.maxBytes && i < segs.length - 1;
          if (!tooOld && !tooBig) continue;
          if (s.file === openFile) this.open.delete(`${project}/${service}`);
          fs.rmSync(s.file, { force: true });
          total -= s.bytes;
          removedFiles++;
        }
      }
    }
    return { removedFiles };
  }

  /** Bytes kept for a service (documented as what the size limit bounds). */
  sizeOf(project: string, service: string): number {
    this.flush();
    return this.segments(project, service).reduce((n, s) => n + s.bytes, 0);
  }
}

function safeList(dir: string): string[] {
  try {
    return fs.readdirSync(dir, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name);
  } catch {
    return [];
  }
}
