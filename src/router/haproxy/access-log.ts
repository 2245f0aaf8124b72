/**
 * HAProxy's access log, followed from each worker's ring (see access-log-format.ts for the lines). The
 * current worker's ring is followed from the admin socket, and an old worker's follower goes on until that
 * worker exits, so the requests it finishes are logged too. The rings are read as HAProxy writes to the
 * socket (a pause between reads let the per-request stream lag seconds behind a burst: HAProxy hands over one
 * buffer at a time, so every read looked small), and what one read brings is handed on as one chunk of lines, as
 * HAProxy wrote them; only the per-request fields of canary analysis are picked out, when someone wants them.
 */
import { followRing, type RingFollower } from './runtime-api.ts';
import { ACCESS_LOG_MARK, ACCESS_LOG_RING, scanLines, type OnRequest } from './access-log-format.ts';

export interface AccessLogOutputs {
  /** Whole access-log lines (JSON, one per request, newline-terminated), many per call; the buffer is the callee's. */
  lines?: (chunk: Buffer) => void;
  /** Route, answering instance, status and time of each request that reached an instance (see RequestSample). */
  requests?: OnRequest;
}


export class HaproxyAccessLog {
  private currentWorker = 0;
  private closed = false;
  private readonly followers = new Set<RingFollower>();

  constructor(
    private readonly adminSocket: string,
    private readonly outputs: AccessLogOutputs,
  ) {}

  /** Reads the ring of the worker that became the current one, from now on. */
  follow(pid: number): void {
    if (this.closed || pid === this.currentWorker) return;
    this.currentWorker = pid;
    const follower = followRing(this.adminSocket, ACCESS_LOG_RING, pid, {
      mark: ACCESS_LOG_MARK,
      onLines: (chunk) => this.chunk(chunk),
      keep: () => !this.closed && this.currentWorker === pid,
      onEnd: () => this.followers.delete(follower),
    });
    this.followers.add(follower);
  }

  close(): void {
    this.closed = true;
    for (const f of this.followers) f.close();
  }

  private chunk(chunk: Buffer): void {
    const { lines, requests } = this.outputs;
    // The lines are ASCII (HAProxy's json converter escapes the rest): latin1 decodes them fastest.
    const text = chunk.toString('latin1');
    // A worker also logs its own notices (a proxy stopping) into the ring: those lines are left out.
    const kept = scanLines(text, requests);
    // The read buffer is the follower's, used again for the next read: what is handed on is a copy.
    if (lines) lines(kept === text ? Buffer.from(chunk) : Buffer.from(kept, 'latin1'));
  }
}
