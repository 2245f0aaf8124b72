/**
 * Build artifacts every replica can run (docs/high-availability.md). A build writes its artifact into the
 * data directory of the replica that built it (`<data dir>/artifacts/<build id>`); with several replicas the
 * instance may start on another one. So a finished artifact is also packed (tar, gzip) into the store
 * (`blobs`, named `artifact/<build id>`, with its sha256), and a replica that starts an instance of an
 * artifact it does not hold fetches it once into its own artifacts directory, checks the digest, and runs
 * it from there.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import * as tar from 'tar';
import type { BlobsRepo } from '../store/blobs-repo.ts';
import type { InstanceSpec, RuntimeDriver } from '../runtime/driver.ts';

export class SharedArtifacts {
  private readonly fetching = new Map<string, Promise<string>>();

  constructor(
    private readonly blobs: BlobsRepo,
    /** this replica's `<data dir>/artifacts` */
    private readonly artifactsDir: string,
  ) {}

  /** Packs a finished artifact directory into the store under its build id (the directory's name). Idempotent. */
  async upload(artifactDir: string): Promise<void> {
    const chunks: Buffer[] = [];
    await pipeline(tar.c({ gzip: true, cwd: artifactDir, portable: true }, ['.']) as unknown as Readable, async function (src: AsyncIterable<Buffer>) {
      for await (const c of src) chunks.push(c);
    });
    await this.blobs.put(`artifact/${path.basename(artifactDir)}`, Buffer.concat(chunks));
  }

  /**
   * The local directory of an artifact: this replica's own (`<artifacts dir>/<build id>`, where it built it
   * or fetched it before), else fetched from the store on first use (concurrent callers share one fetch).
   * Throws when the store has none.
   */
  async localDir(artifactDir: string): Promise<string> {
    // Another replica's path is never used, even where it happens to be visible (one machine, a shared
    // mount): replicas share nothing but the store, and that replica may remove its copy at any time.
    const id = path.basename(artifactDir);
    const local = path.join(this.artifactsDir, id);
    if (fs.existsSync(local)) return local;
    let p = this.fetching.get(id);
    if (!p) {
      p = this.fetch(id, local).finally(() => this.fetching.delete(id));
      this.fetching.set(id, p);
    }
    return p;
  }

  private async fetch(id: string, local: string): Promise<string> {
    const data = await this.blobs.get(`artifact/${id}`);
    if (!data) throw new Error(`artifact of build ${id} is neither on this replica nor in the store`);
    // Extracted beside its place and renamed into it: a directory at `local` is always complete.
    fs.mkdirSync(this.artifactsDir, { recursive: true });
    const tmp = fs.mkdtempSync(path.join(this.artifactsDir, `.${id}-`));
    try {
      await pipeline(Readable.from([data]), tar.x({ cwd: tmp }) as unknown as NodeJS.WritableStream);
      fs.renameSync(tmp, local);
    } catch (err) {
      fs.rmSync(tmp, { recursive: true, force: true });
      if (fs.existsSync(local)) return local; // another fetch finished first
      throw err;
    }
    return local;
  }

  /** The driver with `start` taking artifacts from the store when this replica lacks them; everything else as is. */
  driver(inner: RuntimeDriver): RuntimeDriver {
    const start: RuntimeDriver['start'] = async (spec: InstanceSpec, opts) => inner.start(spec.artifactDir ? { ...spec, artifactDir: await this.localDir(spec.artifactDir) } : spec, opts);
    return new Proxy(inner, {
      get(target, prop) {
        if (prop === 'start') return start;
        const v = Reflect.get(target, prop);
        return typeof v === 'function' ? v.bind(target) : v;
      },
    });
  }
}
