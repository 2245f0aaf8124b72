/**
 * The Docker Engine's multiplexed stream (logs and exec of a container without a TTY): frames of an 8-byte
 * header (stream type, 3 zero bytes, big-endian payload length) and the payload. This turns chunks into
 * complete lines per stream, whatever the chunk boundaries.
 */

export type StreamName = 'stdout' | 'stderr';

export class FrameDecoder {
  private pending: Buffer = Buffer.alloc(0);
  private readonly partial: Record<StreamName, string> = { stdout: '', stderr: '' };

  /** Feed a chunk; returns the payloads it completed, in order. */
  frames(chunk: Buffer): { stream: StreamName; data: Buffer }[] {
    this.pending = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    const out: { stream: StreamName; data: Buffer }[] = [];
    while (this.pending.length >= 8) {
      const size = this.pending.readUInt32BE(4);
      if (this.pending.length < 8 + size) break;
      const type = this.pending[0];
      out.push({ stream: type === 2 ? 'stderr' : 'stdout', data: this.pending.subarray(8, 8 + size) });
      this.pending = this.pending.subarray(8 + size);
    }
    return out;
  }

  /** Feed a chunk; returns the complete lines it finished (without the newline). */
  lines(chunk: Buffer): { stream: StreamName; line: string }[] {
    const out: { stream: StreamName; line: string }[] = [];
    for (const f of this.frames(chunk)) {
      const text = this.partial[f.stream] + f.data.toString('utf8');
      const parts = text.split('\n');
      this.partial[f.stream] = parts.pop() ?? '';
      for (const line of parts) out.push({ stream: f.stream, line });
    }
    return out;
  }

  /** Lines left without a final newline once the stream ended. */
  flush(): { stream: StreamName; line: string }[] {
    const out: { stream: StreamName; line: string }[] = [];
    for (const stream of ['stdout', 'stderr'] as const) {
      if (this.partial[stream]) out.push({ stream, line: this.partial[stream] });
      this.partial[stream] = '';
    }
    return out;
  }
}
