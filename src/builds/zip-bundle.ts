/**
 * Zip uploads (Cloud Foundry's package `bits`) become the same .tar.gz source bundle every build reads.
 * The zip is checked by the bundle rules before anything is written (paths, entry kinds, size and count
 * limits from the central directory, so a zip bomb costs nothing on disk), unpacked into a private
 * directory and packed again; the bundle extractor then applies its own checks once more.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import yauzl from 'yauzl';
import * as tar from 'tar';
import { AppError, PayloadTooLargeError, ValidationError } from '../errors/errors.ts';
import { planBundle, type BundleEntry } from './bundle-entries.ts';
import { DEFAULT_MAX_BUNDLE_BYTES, DEFAULT_MAX_BUNDLE_FILES } from './bundle-source.ts';

const S_IFMT = 0o170000;
const S_IFLNK = 0o120000;

interface ZipItem {
  entry: yauzl.Entry;
  path: string;
  type: 'File' | 'Directory' | 'SymbolicLink';
  mode: number;
}

function openZip(buf: Buffer): Promise<yauzl.ZipFile> {
  return new Promise((resolve, reject) => yauzl.fromBuffer(buf, { lazyEntries: true, decodeStrings: true, validateEntrySizes: true, strictFileNames: true }, (err, zip) => (err ? reject(err) : resolve(zip))));
}

function readAll(zip: yauzl.ZipFile, limits: { maxBytes: number; maxFiles: number }): Promise<ZipItem[]> {
  return new Promise((resolve, reject) => {
    const items: ZipItem[] = [];
    let bytes = 0;
    zip.on('entry', (entry: yauzl.Entry) => {
      const unixMode = (entry.externalFileAttributes >>> 16) & 0xffff;
      const isDir = entry.fileName.endsWith('/');
      const type = isDir ? 'Directory' : (unixMode & S_IFMT) === S_IFLNK ? 'SymbolicLink' : 'File';
      items.push({ entry, path: entry.fileName, type, mode: unixMode & 0o777 });
      bytes += entry.uncompressedSize;
      if (items.length > limits.maxFiles) return reject(new PayloadTooLargeError(`the zip has more than ${limits.maxFiles} entries`));
      if (bytes > limits.maxBytes) return reject(new PayloadTooLargeError(`the zip unpacks to more than ${limits.maxBytes} bytes`));
      zip.readEntry();
    });
    zip.on('end', () => resolve(items));
    zip.on('error', reject);
    zip.readEntry();
  });
}

function entryBytes(zip: yauzl.ZipFile, entry: yauzl.Entry): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    zip.openReadStream(entry, (err, stream) => {
      if (err) return reject(err);
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => resolve(Buffer.concat(chunks)));
      stream.on('error', reject);
    }),
  );
}

/** Converts a zip archive to a .tar.gz bundle. Throws ValidationError (field `bits`) for an unsafe or unreadable zip. */
export async function zipToTarGz(zipBytes: Buffer, opts: { maxBytes?: number; maxFiles?: number } = {}): Promise<Buffer> {
  const limits = { maxBytes: opts.maxBytes ?? DEFAULT_MAX_BUNDLE_BYTES, maxFiles: opts.maxFiles ?? DEFAULT_MAX_BUNDLE_FILES };
  if (zipBytes.length < 4 || zipBytes.readUInt32LE(0) !== 0x04034b50) throw ValidationError.one('bits', 'zip', 'the package bits must be a zip archive');
  let zip: yauzl.ZipFile;
  let items: ZipItem[];
  try {
    zip = await openZip(zipBytes);
    items = await readAll(zip, limits);
  } catch (err) {
    throw err instanceof AppError ? err : ValidationError.one('bits', 'zip', `not a readable zip archive: ${(err as Error).message}`);
  }
  if (!items.some((i) => i.type !== 'Directory')) throw ValidationError.one('bits', 'nonEmpty', 'the zip holds no files');
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'slipway-zip-'));
  try {
    const withLinks: BundleEntry[] = [];
    const contents = new Map<ZipItem, Buffer>();
    for (const item of items) {
      if (item.type === 'Directory') {
        withLinks.push({ path: item.path, type: 'Directory' });
        continue;
      }
      const data = await entryBytes(zip, item.entry);
      contents.set(item, data);
      withLinks.push({ path: item.path, type: item.type, linkpath: item.type === 'SymbolicLink' ? data.toString('utf8') : undefined });
    }
    const plan = planBundle(withLinks);
    if (plan.problems.length) throw ValidationError.one('bits', 'safeEntries', `refused zip: ${plan.problems.slice(0, 5).join('; ')}`);
    const root = path.join(work, 'src');
    fs.mkdirSync(root);
    for (const item of items) {
      const target = path.join(root, item.path);
      if (item.type === 'Directory') {
        fs.mkdirSync(target, { recursive: true });
        continue;
      }
      fs.mkdirSync(path.dirname(target), { recursive: true });
      const data = contents.get(item)!;
      if (item.type === 'SymbolicLink') fs.symlinkSync(data.toString('utf8'), target);
      else fs.writeFileSync(target, data, { mode: item.mode & 0o111 ? 0o755 : 0o644 });
    }
    const out = path.join(work, 'bundle.tar.gz');
    await tar.c({ gzip: true, cwd: root, file: out, portable: true }, fs.readdirSync(root));
    return fs.readFileSync(out);
  } catch (err) {
    throw err instanceof AppError ? err : ValidationError.one('bits', 'zip', `cannot unpack the zip: ${(err as Error).message}`);
  } finally {
    zip.close();
    fs.rmSync(work, { recursive: true, force: true });
  }
}
