/**
 * Keeps a file holding the newest of a series of texts (a saved model, cursors), written off the event loop:
 * a write to a temporary file, then a rename over the file, so a reader sees a whole text, old or new. The
 * rename that replaces a file may wait for the disk (ext4 writes the new data first), which a synchronous
 * write would make the whole process wait for. A text handed over while one is being written waits for it;
 * of those waiting only the newest is written.
 *
 * Making a large text runs on the event loop. With `loopShare`, a writer whose texts keep coming (a large
 * model saved after every change) spends about that share of the loop making them: after a text that took
 * t ms to make, the next one waits t × (1 / loopShare − 1) ms. A small text waits about
 * nothing; the file is then never older than that wait and one write.
 */
import fs from 'node:fs';

export class NewestFileWriter {
  private running?: Promise<void>;
  private next?: string | (() => string);

  constructor(
    private readonly file: string,
    private readonly opts: { mode?: number; onError: (err: Error) => void; loopShare?: number },
  ) {}

  /** `text` may be a function that makes it: called only if this text is the one written (not overtaken). */
  write(text: string | (() => string)): void {
    this.next = text;
    this.running ??= this.drain();
  }

  /** Resolves once the newest text handed over is in the file (or its write failed, which onError heard). */
  async flush(): Promise<void> {
    await this.running;
  }

  private async drain(): Promise<void> {
    const tmp = `${this.file}.${process.pid}.tmp`;
    while (this.next !== undefined) {
      const next = this.next;
      this.next = undefined;
      let spentMs = 0;
      try {
        const t0 = performance.now();
        const text = typeof next === 'function' ? next() : next;
        spentMs = performance.now() - t0;
        await fs.promises.writeFile(tmp, text, { mode: this.opts.mode ?? 0o644 });
        await fs.promises.rename(tmp, this.file);
      } catch (err) {
        this.opts.onError(err as Error);
      }
      const share = this.opts.loopShare;
      if (share && share < 1 && this.next !== undefined) await new Promise((r) => setTimeout(r, spentMs * (1 / share - 1)));
    }
    this.running = undefined;
  }
}
