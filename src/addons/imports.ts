/**
 * Imports (Northflank's `import.addon.backup`): from a live database (`connectionString`, dumped by the
 * addon controller with the type's dump tool) or from a URL (`importUrl`). Either is scheduled as a backup of
 * the addon, with what it reads sealed with the backup until it ran, and a restore of it (`scheduleImport`).
 * A URL is checked first (a 400 naming `importUrl`); the addon controller then downloads it (`downloadDump`),
 * gunzips it when it is gzipped (Northflank's imports are `.gz` files; a plain dump is taken too), and checks
 * it is a dump of the addon's type before it is stored as a backup and restored. A download that fails (no
 * answer, an HTTP error, another format, larger than the addon's storage) fails the backup with the reason.
 * An uploaded dump (`scheduleUpload`, the body of `POST …/import/upload`) is received, gunzipped and checked
 * the same way while the request is open, so a bad one is refused (400/413 naming `file`) before anything
 * is made; the controller then only moves the checked file into place as the backup.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import zlib from 'node:zlib';
import type { Store } from '../store/store.ts';
import { IMPORT_SCHEMES, type AddonBackupRecord, type AddonRecord, type AddonRestoreRecord, type AddonType } from '../domain/addons.ts';
import { randomId } from '../domain/ids.ts';
import { BadRequestError, ConflictError, PayloadTooLargeError, UnsupportedError, ValidationError, type FieldProblem } from '../errors/errors.ts';
import type { AddonEngine } from './engines/engine.ts';
import { scheduleDump } from './backups.ts';
import { backupFile } from './places.ts';

export interface ImportInput {
  name?: string;
  connectionString?: string;
  importUrl?: string;
  importAllDatabases?: boolean;
  customDestinationId?: string;
}

/**
 * Check an import request and schedule it: a backup of the addon (source `liveInstance` for a connection
 * string, `externalDump` for a URL) and its restore. Refused with the field named, nothing made.
 */
export async function scheduleImport(store: Store, a: AddonRecord, engine: AddonEngine, input: ImportInput): Promise<{ backup: AddonBackupRecord; restore: AddonRestoreRecord }> {
  const unsupported: FieldProblem[] = [];
  if (input.importAllDatabases) unsupported.push({ field: 'importAllDatabases', rule: 'supported', message: 'only the database the connection string names is imported here' });
  if (unsupported.length) throw new UnsupportedError(unsupported);
  if (input.importUrl !== undefined && input.connectionString !== undefined) throw ValidationError.one('importUrl', 'oneOf', 'give either importUrl (a dump to download) or connectionString (a live database), not both');
  let sealed: { connectionString: string } | { importUrl: string };
  if (input.importUrl !== undefined) sealed = { importUrl: checkImportUrl(input.importUrl).href };
  else {
    if (!input.connectionString) throw ValidationError.one('connectionString', 'required', 'the connection string of the database to import, or importUrl: a URL of a dump');
    let url: URL;
    try {
      url = new URL(input.connectionString);
    } catch {
      throw ValidationError.one('connectionString', 'format', 'not a URL: e.g. postgresql://user:password@host:5432/database');
    }
    if (!IMPORT_SCHEMES[a.spec.type].includes(url.protocol) || !url.hostname) throw ValidationError.one('connectionString', 'scheme', `a ${a.spec.type} addon imports from ${IMPORT_SCHEMES[a.spec.type].map((s) => `${s}//`).join(' or ')} URLs with a host`);
    sealed = { connectionString: input.connectionString };
  }
  if (a.paused) throw new ConflictError(`addon '${a.id}' is paused: resume it to import into it`);
  const name = input.name ?? `Import ${new Date().toISOString().slice(0, 19).replace('T', ' ')}`;
  const backup = await scheduleDump(store, a, engine, { name, sourceType: 'importUrl' in sealed ? 'externalDump' : 'liveInstance', ...(input.customDestinationId ? { destinationId: input.customDestinationId } : {}) });
  await store.addons.setBackupSecrets(backup.id, sealed);
  const restore = await store.addons.createRestore({ projectId: a.projectId, addonId: a.id, id: randomId('restore'), backupId: backup.id });
  return { backup, restore };
}

/** What a dump of each type starts with, as the restore reads it. */
const FORMATS: Record<AddonType, { name: string; test(head: Buffer): boolean }> = {
  postgresql: { name: "a PostgreSQL custom-format dump (pg_dump -Fc, starting 'PGDMP')", test: (h) => h.subarray(0, 5).toString('latin1') === 'PGDMP' },
  redis: { name: "a Redis RDB file (starting 'REDIS')", test: (h) => h.subarray(0, 5).toString('latin1') === 'REDIS' },
  mysql: {
    name: 'a MySQL/MariaDB SQL dump (text, e.g. from mysqldump or mariadb-dump)',
    // SQL text: no NUL byte in its head, and it opens with a comment or a statement.
    test: (h) => !h.includes(0) && /^\s*(--|\/\*|#|SET\s|CREATE\s|DROP\s|INSERT\s|USE\s|LOCK\s|START\s|BEGIN)/i.test(h.subarray(0, 256).toString('utf8')),
  },
};

/** The URL of an import, checked: http(s) with a host, no longer than the schema allows. ValidationError naming `importUrl`. */
export function checkImportUrl(raw: string): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw ValidationError.one('importUrl', 'format', 'not a URL: e.g. https://example.com/backup.dump.gz');
  }
  if ((url.protocol !== 'http:' && url.protocol !== 'https:') || !url.hostname) throw ValidationError.one('importUrl', 'scheme', `an import is downloaded over http:// or https:// from a host, not '${url.protocol}'`);
  return url;
}

const GZIP = Buffer.from([0x1f, 0x8b]);

async function head(file: string, n: number): Promise<Buffer> {
  const fd = await fs.promises.open(file, 'r');
  try {
    const buf = Buffer.alloc(n);
    const { bytesRead } = await fd.read(buf, 0, n, 0);
    return buf.subarray(0, bytesRead);
  } finally {
    await fd.close();
  }
}

/** Why a dump was not taken: too large, a broken gzip stream, or not a dump of the addon's type. */
class DumpProblem extends Error {
  constructor(
    readonly rule: 'maxSize' | 'gzip' | 'format',
    message: string,
  ) {
    super(message);
  }
}

/** Passes bytes through, failing once more than `limit` went by. */
function capped(limit: number, what: string): Transform {
  let seen = 0;
  return new Transform({
    transform(chunk: Buffer, _enc, done) {
      seen += chunk.length;
      if (seen > limit) done(new DumpProblem('maxSize', `${what} is larger than the addon's storage (${Math.round(limit / 1048576)} MB)`));
      else done(null, chunk);
    },
  });
}

/**
 * `raw` (as received) into `file`: gunzipped when gzipped, at most `limitBytes` unpacked, and checked to be a
 * dump of `type`. Throws DumpProblem; `raw` is gone either way, `file` is left only on success.
 */
async function unpackDump(raw: string, type: AddonType, file: string, limitBytes: number): Promise<void> {
  try {
    if ((await head(raw, 2)).equals(GZIP)) {
      try {
        await pipeline(fs.createReadStream(raw), zlib.createGunzip(), capped(limitBytes, 'the unpacked dump'), fs.createWriteStream(file, { mode: 0o600 }));
      } catch (err) {
        if (err instanceof DumpProblem) throw err;
        throw new DumpProblem('gzip', `not a readable gzip file: ${(err as Error).message}`);
      }
    } else fs.renameSync(raw, file);
    const format = FORMATS[type];
    if (!format.test(await head(file, 4096))) throw new DumpProblem('format', `not ${format.name}, gzipped or not`);
  } catch (err) {
    fs.rmSync(file, { force: true });
    throw err;
  } finally {
    fs.rmSync(raw, { force: true });
  }
}

/**
 * Download `url` into `file` as a dump of `type`: gunzipped when gzipped, at most `limitBytes` either way.
 * Throws an Error whose message says what went wrong (for the failed backup); `file` is then absent.
 */
export async function downloadDump(url: URL, type: AddonType, file: string, limitBytes: number, timeoutMs = 60 * 60_000): Promise<void> {
  const raw = `${file}.download`;
  const where = `${url.protocol}//${url.host}`;
  try {
    let res: Response;
    try {
      res = await fetch(url, { redirect: 'follow', signal: AbortSignal.timeout(timeoutMs) });
    } catch (err) {
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      throw new Error(`the download from ${where} failed: ${cause?.code ?? cause?.message ?? (err as Error).message}`);
    }
    if (!res.ok || !res.body) {
      await res.body?.cancel().catch(() => {});
      throw new Error(`the download from ${where} failed: HTTP ${res.status}${res.statusText ? ` ${res.statusText}` : ''}`);
    }
    try {
      await pipeline(Readable.fromWeb(res.body as never), capped(limitBytes, 'the download'), fs.createWriteStream(raw, { mode: 0o600 }));
    } catch (err) {
      throw new Error(`the download from ${where} broke off: ${(err as Error).message}`);
    }
    try {
      await unpackDump(raw, type, file, limitBytes);
    } catch (err) {
      const problem = err as DumpProblem;
      throw new Error(problem.rule === 'maxSize' ? `the download from ${where}: ${problem.message}` : `the download from ${where} is ${problem.message}`);
    }
  } catch (err) {
    fs.rmSync(raw, { force: true });
    fs.rmSync(file, { force: true });
    throw err;
  }
}

/** The file an uploaded dump waits in, checked, until the controller makes it the backup `file`. */
export function uploadedFile(file: string): string {
  return `${file}.upload`;
}

/**
 * Receive an uploaded dump (the request body) into `file`: at most `limitBytes` as sent and unpacked,
 * gunzipped when gzipped, and a dump of `type`. Refused by field `file`: PayloadTooLargeError (413) when too
 * large, ValidationError (400) for a broken gzip stream or another format; `file` is then absent.
 */
export async function receiveDump(body: Readable, type: AddonType, file: string, limitBytes: number): Promise<void> {
  const raw = `${file}.receiving`;
  try {
    await pipeline(body, capped(limitBytes, 'the upload'), fs.createWriteStream(raw, { mode: 0o600 }));
    await unpackDump(raw, type, file, limitBytes);
  } catch (err) {
    fs.rmSync(raw, { force: true });
    fs.rmSync(file, { force: true });
    if (!(err instanceof DumpProblem)) throw new BadRequestError(`the upload broke off: ${(err as Error).message}`);
    const problem = { field: 'file', rule: err.rule, message: err.rule === 'maxSize' ? err.message : `the uploaded file is ${err.message}` };
    if (err.rule === 'maxSize') throw new PayloadTooLargeError(`${problem.field}: ${problem.message}`, [problem]);
    throw new ValidationError([problem]);
  }
}

export interface UploadInput {
  name?: string;
  customDestinationId?: string;
  /** the request's Content-Length, when it gave one: a larger upload is refused before it is read */
  contentLength?: number;
}

/**
 * Import an uploaded dump (`POST …/import/upload`): the body is received and checked first (receiveDump),
 * then a backup of the addon (source `fileUpload`) and its restore are made. Nothing is made, and nothing
 * stays on disk, when the upload is refused; the addon's data is untouched until the restore swaps it.
 */
export async function scheduleUpload(store: Store, a: AddonRecord, engine: AddonEngine, dataDir: string, body: Readable, input: UploadInput): Promise<{ backup: AddonBackupRecord; restore: AddonRestoreRecord }> {
  if (a.paused) throw new ConflictError(`addon '${a.id}' is paused: resume it to import into it`);
  const limitBytes = a.spec.billing.storage * 1048576;
  if (input.contentLength !== undefined && input.contentLength > limitBytes) {
    const problem = { field: 'file', rule: 'maxSize', message: `the uploaded file (${input.contentLength} bytes) is larger than the addon's storage (${a.spec.billing.storage} MB)` };
    throw new PayloadTooLargeError(`${problem.field}: ${problem.message}`, [problem]);
  }
  const id = randomId('backup');
  const staged = uploadedFile(backupFile(dataDir, a.projectId, a.id, `${id}.${engine.dumpExtension}`));
  fs.mkdirSync(path.dirname(staged), { recursive: true, mode: 0o700 });
  await receiveDump(body, a.spec.type, staged, limitBytes);
  let backup: AddonBackupRecord | undefined;
  try {
    const name = input.name ?? `Upload ${new Date().toISOString().slice(0, 19).replace('T', ' ')}`;
    backup = await scheduleDump(store, a, engine, { id, name, sourceType: 'fileUpload', ...(input.customDestinationId ? { destinationId: input.customDestinationId } : {}) });
    const restore = await store.addons.createRestore({ projectId: a.projectId, addonId: a.id, id: randomId('restore'), backupId: backup.id });
    return { backup, restore };
  } catch (err) {
    fs.rmSync(staged, { force: true });
    if (backup) await store.addons.deleteBackup(backup.id).catch(() => {});
    throw err;
  }
}
