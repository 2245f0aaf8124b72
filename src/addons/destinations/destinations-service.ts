/**
 * Backup destinations (Northflank's `/v1/backup-destinations`): account-wide S3-compatible buckets that
 * addon backups can be written to. Only an admin token manages or reads them; any caller that may back up
 * an addon may name one (`customDestinationId`). The credentials are checked against the bucket before
 * they are saved (a signed listing of one key), sealed at rest, and never returned: reads show the access
 * key, bucket, region and endpoint, and `[redacted]` for the secret key.
 */
import type { Store } from '../../store/store.ts';
import type { AuthService, Principal } from '../../services/auth.ts';
import type { BackupDestinationCredentials, BackupDestinationRecord } from '../../store/backup-destinations-repo.ts';
import { ConflictError, ValidationError, type FieldProblem } from '../../errors/errors.ts';
import { idFromName } from '../../domain/ids.ts';
import type { AddonBackupRecord } from '../../domain/addons.ts';
import { S3Client, S3Error, endpointUrl } from './s3-client.ts';

export interface BackupDestinationInput {
  name: string;
  description?: string;
  type: string;
  prefix?: string;
  credentials: Partial<BackupDestinationCredentials>;
}

export interface BackupDestinationPatch {
  name?: string;
  description?: string;
  credentials?: Partial<BackupDestinationCredentials>;
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9 _-]{1,62}$/;
const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
const REGION = /^[a-z0-9-]{1,64}$/;

function credentialProblems(c: Partial<BackupDestinationCredentials> | undefined, problems: FieldProblem[]): void {
  if (!c) {
    problems.push({ field: 'credentials', rule: 'required', message: 'the bucket, region, endpoint and keys of the S3 destination' });
    return;
  }
  for (const k of ['accessKey', 'secretKey', 'bucketName', 'region', 'endpoint'] as const) {
    if (typeof c[k] !== 'string' || c[k] === '') problems.push({ field: `credentials.${k}`, rule: 'required', message: `${k} is required` });
  }
  if (c.bucketName && !BUCKET.test(c.bucketName)) problems.push({ field: 'credentials.bucketName', rule: 'pattern', message: 'an S3 bucket name: 3-63 lower-case letters, digits, dots and hyphens' });
  if (c.region && !REGION.test(c.region)) problems.push({ field: 'credentials.region', rule: 'pattern', message: 'a region such as us-east-1' });
  if (c.endpoint) {
    try {
      const u = endpointUrl(c.endpoint);
      if (!['http:', 'https:'].includes(u.protocol) || !u.hostname || u.username || u.password || u.search) throw new Error('bad');
    } catch {
      problems.push({ field: 'credentials.endpoint', rule: 'format', message: 'a host such as s3.us-west-2.amazonaws.com, or an http(s):// URL of an S3-compatible endpoint' });
    }
  }
}

function prefixProblems(prefix: string | undefined, problems: FieldProblem[]): void {
  if (prefix === undefined) return;
  // eslint-disable-next-line no-control-regex -- control characters are what the prefix may not hold
  if (prefix.length > 512 || prefix.split('/').some((s) => s === '.' || s === '..') || /[\\\u0000-\u001f]/.test(prefix)) {
    problems.push({ field: 'prefix', rule: 'format', message: 'a path prefix inside the bucket, without . or .. segments (at most 512 characters)' });
  }
}

export class BackupDestinationsService {
  constructor(
    private readonly store: Store,
    private readonly auth: AuthService,
  ) {}

  /** A signed request to the bucket: refused credentials or an unreachable endpoint are the caller's bad input. */
  private async check(c: BackupDestinationCredentials): Promise<void> {
    try {
      await new S3Client(c).checkBucket();
    } catch (err) {
      if (err instanceof S3Error) {
        const field = err.code === 'NoSuchBucket' ? 'credentials.bucketName' : /AccessKey/.test(err.code) ? 'credentials.accessKey' : err.code === 'SignatureDoesNotMatch' ? 'credentials.secretKey' : 'credentials';
        throw ValidationError.one(field, 'accepted', `the destination refused these credentials: ${err.message}`);
      }
      throw ValidationError.one('credentials.endpoint', 'reachable', (err as Error).message);
    }
  }

  async create(caller: Principal, input: BackupDestinationInput): Promise<BackupDestinationRecord> {
    this.auth.authorize(caller, null, 'own');
    const problems: FieldProblem[] = [];
    if (typeof input.name !== 'string' || !NAME.test(input.name)) problems.push({ field: 'name', rule: 'pattern', message: 'a name of 2-63 letters, digits, spaces, hyphens or underscores, starting with a letter or digit' });
    if (input.type !== 's3') problems.push({ field: 'type', rule: 'enum', message: "the only destination type is 's3'" });
    prefixProblems(input.prefix, problems);
    credentialProblems(input.credentials, problems);
    if (problems.length) throw new ValidationError(problems);
    const id = idFromName(input.name);
    if (await this.store.backupDestinations.find(id)) throw new ConflictError(`backup destination '${id}' already exists`);
    const credentials = input.credentials as BackupDestinationCredentials;
    await this.check(credentials);
    return this.store.backupDestinations.create({ id, name: input.name, ...(input.description !== undefined ? { description: input.description } : {}), prefix: input.prefix ?? '', credentials });
  }

  async list(caller: Principal, page: { after?: string; limit: number }): Promise<BackupDestinationRecord[]> {
    this.auth.authorize(caller, null, 'own');
    return this.store.backupDestinations.list(page);
  }

  async get(caller: Principal, id: string): Promise<BackupDestinationRecord> {
    this.auth.authorize(caller, null, 'own');
    return this.store.backupDestinations.get(id);
  }

  async update(caller: Principal, id: string, patch: BackupDestinationPatch): Promise<BackupDestinationRecord> {
    this.auth.authorize(caller, null, 'own');
    await this.store.backupDestinations.get(id);
    const problems: FieldProblem[] = [];
    if (patch.name !== undefined && !NAME.test(patch.name)) problems.push({ field: 'name', rule: 'pattern', message: 'a name of 2-63 letters, digits, spaces, hyphens or underscores, starting with a letter or digit' });
    if (patch.credentials !== undefined) credentialProblems(patch.credentials, problems);
    if (problems.length) throw new ValidationError(problems);
    if (patch.credentials) await this.check(patch.credentials as BackupDestinationCredentials);
    return this.store.backupDestinations.update(id, { ...patch, credentials: patch.credentials as BackupDestinationCredentials | undefined });
  }

  /** Refused (409) while backups are stored there: delete those first. */
  async delete(caller: Principal, id: string): Promise<void> {
    this.auth.authorize(caller, null, 'own');
    await this.store.backupDestinations.get(id);
    const held = await this.store.backupDestinations.backupsAt(id);
    if (held.length) throw new ConflictError(`backup destination '${id}' holds ${held.length} backup(s) (${held.slice(0, 5).join(', ')}${held.length > 5 ? ', …' : ''}): delete them first`);
    await this.store.backupDestinations.delete(id);
  }

  /** The backups stored at a destination (any project's), newest first. */
  async backups(caller: Principal, id: string): Promise<AddonBackupRecord[]> {
    this.auth.authorize(caller, null, 'own');
    await this.store.backupDestinations.get(id);
    const out: AddonBackupRecord[] = [];
    for (const backupId of await this.store.backupDestinations.backupsAt(id)) {
      const b = await this.store.addons.findBackup(backupId);
      if (b) out.push(b);
    }
    return out;
  }
}
