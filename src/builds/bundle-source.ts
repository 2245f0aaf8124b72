/**
 * Source from an uploaded .tar.gz bundle, extracted defensively in two passes over the same bytes: the
 * first reads only headers, stops as soon as a size or count limit is crossed (so a gzip bomb costs
 * nothing on disk), and checks every entry against the rules in bundle-entries.ts; only a bundle that
 * passes is written. After writing, every symlink is resolved for real and must stay inside the tree.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Writable } from 'node:stream';
import * as tar from 'tar';
import { AppError, PayloadTooLargeError, ValidationError } from '../errors/errors.ts';
import { planBundle, type BundleEntry } from './bundle-entries.ts';

export const DEFAULT_MAX_BUNDLE_BYTES = 1024 * 1024 * 1024;
export const DEFAULT_MAX_BUNDLE_FILES = 100_000;

const FILE_TYPES = new Set(['File', 'OldFile', 'ContiguousFile']);

export interface ExtractBundleOptions {
  /** the .tar.gz itself, or a path to it */
  source: Buffer | string;
  /** created if missing; must be empty if it exists */
  dest: string;
  /** total unpacked bytes of regular files */
  maxBytes?: number;
  /** entries of any kind */
  maxFiles?: number;
}

/**
 * Unpacks the bundle into `dest` and returns the sha256 of the bundle's bytes, which keys its build.
 * Throws ValidationError (field `bundle`) for anything that is not a safe .tar.gz, PayloadTooLargeError
 * past a limit; on any failure `dest` is left empty or absent.
 */
export async function extractBundle(opts: ExtractBundleOptions): Promise<{ sha256: string }> {
  const maxBytes = opts.maxBytes ?? DEFAULT_MAX_BUNDLE_BYTES;
  const maxFiles = opts.maxFiles ?? DEFAULT_MAX_BUNDLE_FILES;
  if (!isGzip(opts.source)) throw ValidationError.one('bundle', 'gzip', 'the source bundle must be a gzip-compressed tar archive (.tar.gz)');

  const hash = crypto.createHash('sha256');
  const entries: BundleEntry[] = [];
  let bytes = 0;
  const parser = new tar.Parser({
    strict: true,
    onReadEntry: (entry) => {
      entries.push({ path: entry.path, type: entry.type, linkpath: entry.linkpath });
      if (FILE_TYPES.has(entry.type)) bytes += entry.size ?? 0;
      if (entries.length > maxFiles) parser.abort(new PayloadTooLargeError(`the source bundle has more than ${maxFiles} entries`));
      else if (bytes > maxBytes) parser.abort(new PayloadTooLargeError(`the source bundle unpacks to more than ${maxBytes} bytes`));
      entry.resume();
    },
  });
  await feed(opts.source, parser, hash).catch((err: unknown) => {
    throw err instanceof AppError ? err : ValidationError.one('bundle', 'format', `not a readable .tar.gz: ${(err as Error).message}`);
  });

  const plan = planBundle(entries);
  if (plan.problems.length) {
    const more = plan.problems.length > 5 ? ` (and ${plan.problems.length - 5} more)` : '';
    throw ValidationError.one('bundle', 'safeEntries', `refused source bundle: ${plan.problems.slice(0, 5).join('; ')}${more}`);
  }

  const created = !fs.existsSync(opts.dest);
  if (!created && fs.readdirSync(opts.dest).length > 0) throw ValidationError.one('dest', 'empty', `${opts.dest} is not empty`);
  fs.mkdirSync(opts.dest, { recursive: true });
  try {
    await feed(opts.source, unpacker(opts.dest, plan.strip, { maxBytes, maxFiles }));
    checkSymlinksStayInside(opts.dest);
  } catch (err) {
    if (created) fs.rmSync(opts.dest, { recursive: true, force: true });
    else for (const f of fs.readdirSync(opts.dest)) fs.rmSync(path.join(opts.dest, f), { recursive: true, force: true });
    throw err instanceof AppError ? err : ValidationError.one('bundle', 'format', `cannot extract the source bundle: ${(err as Error).message}`);
  }
  return { sha256: hash.digest('hex') };
}

function isGzip(source: Buffer | string): boolean {
  let head = source;
  if (typeof source === 'string') {
    const fd = fs.openSync(source, 'r');
    try {
      head = Buffer.alloc(2);
      fs.readSync(fd, head, 0, 2, 0);
    } finally {
      fs.closeSync(fd);
    }
  }
  return head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b;
}

/** Streams the bundle into a tar parser (optionally hashing it), resolving when the parser is done. */
function feed(source: Buffer | string, sink: tar.Parser, hash?: crypto.Hash): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    let settled = false;
    const done = (err?: unknown) => {
      if (settled) return;
      settled = true;
      if (err) reject(err);
      else resolve();
    };
    sink.on('error', (err: unknown) => {
      stream?.destroy();
      done(err);
    });
    // Unpack signals completion with 'close' once every file is flushed; a Parser with 'end'.
    sink.on(sink instanceof tar.Unpack ? 'close' : 'end', () => done());
    let stream: fs.ReadStream | undefined;
    if (typeof source === 'string') {
      stream = fs.createReadStream(source);
      const tap = new Writable({
        write(chunk: Buffer, _enc, cb) {
          hash?.update(chunk);
          if (sink.write(chunk)) cb();
          else sink.once('drain', () => cb());
        },
        final(cb) {
          sink.end();
          cb();
        },
      });
      pipeline(stream, tap).catch(done);
    } else {
      hash?.update(source);
      sink.end(source);
    }
  });
}

/** The writing pass; it recounts as it goes, so a file that changed since the first pass cannot sneak past the limits. */
function unpacker(dest: string, strip: number, limits: { maxBytes: number; maxFiles: number }): tar.Unpack {
  let files = 0;
  let bytes = 0;
  const unpack: tar.Unpack = new tar.Unpack({
    cwd: dest,
    strip,
    strict: true,
    preservePaths: false,
    // Running as root, node-tar would otherwise hand files to whatever uid the archive names.
    preserveOwner: false,
    filter: (_p, e) => {
      const entry = e as tar.ReadEntry;
      files++;
      if (FILE_TYPES.has(entry.type)) bytes += entry.size ?? 0;
      if (files > limits.maxFiles || bytes > limits.maxBytes) {
        unpack.abort(new PayloadTooLargeError('the source bundle changed while it was being extracted'));
        return false;
      }
      // No setuid/setgid/sticky bits, and always owner-writable so the build can work in the tree and clean it up.
      if (typeof entry.mode === 'number') entry.mode = (entry.mode & 0o777) | (entry.type === 'Directory' ? 0o700 : 0o600);
      return true;
    },
  });
  return unpack;
}

function checkSymlinksStayInside(root: string): void {
  const realRoot = fs.realpathSync.native(root);
  for (const d of fs.readdirSync(root, { recursive: true, withFileTypes: true })) {
    if (!d.isSymbolicLink()) continue;
    const link = path.join(d.parentPath ?? d.path, d.name);
    let real: string;
    // The native realpath(3): node's own implementation applies a target's `..` by text, not through the links.
    try {
      real = fs.realpathSync.native(link);
    } catch (err) {
      // A dangling link passed the text check and has no real target to escape to.
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw ValidationError.one('bundle', 'safeEntries', `refused source bundle: symlink '${path.relative(root, link)}' cannot be resolved (${(err as NodeJS.ErrnoException).code})`);
    }
    if (real !== realRoot && !real.startsWith(realRoot + path.sep)) {
      throw ValidationError.one('bundle', 'safeEntries', `refused source bundle: symlink '${path.relative(root, link)}' resolves outside the source tree`);
    }
  }
}
