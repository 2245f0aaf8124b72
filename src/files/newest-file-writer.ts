/**
 * Keeps a file holding the newest of a series of texts (a saved model, cursors), written off the event loop:
 * a write to a temporary file, then a rename over the file, so a reader sees a whole text, old or new. The
 * rename that replaces a file may wait for the disk (ext4 writes the new data first), which a synchronous
 * write would make the whole process wait for. A text handed over while one is being written waits for it;
 * of those waiting only the newest is written.
 */
import fs from 'node:fs';

export class NewestFileWriter {
  private running?: Promise<void>;
  private next?: string | (() => string);

  constructor(
    private readonly file: string,
    private readonly opts: { mode?: number; onError: (err: Error) => void },
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
      try {
        const text = typeof next === 'function' ? next() : next;
        await fs.promises.writeFile(tmp, text, { mode: this.opts.mode ?? 0o644 });
        await fs.promises.rename(tmp, this.file);
      } catch (err) {
        this.opts.onError(err as Error);
      }
    }
    this.running = undefined;
  }
}
