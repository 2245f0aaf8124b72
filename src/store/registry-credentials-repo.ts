import type { Kysely } from 'kysely';
import type { Database } from './schema.ts';
import type { SecretBox } from './secret-box.ts';
import { ConflictError, NotFoundError, VersionConflictError } from '../errors/errors.ts';
import { isUniqueViolation } from './unique-violation.ts';
import { isUsableBy, serverAddressFor, type RegistryAuth, type RegistryCredentialRecord, type RegistryCredentialSpec } from '../domain/registry-credentials.ts';

interface Secret {
  password?: string;
}

/**
 * Saved registry credentials. The password is sealed with the SecretBox and read back in plain text only
 * by `password()`, which the controllers call when the runtime pulls; every other read returns the open
 * fields and whether a password is saved.
 */
export class RegistryCredentialsRepo {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly box: SecretBox,
  ) {}

  private toRecord(row: Database['registry_credentials']): RegistryCredentialRecord {
    return {
      id: row.id,
      spec: JSON.parse(row.spec) as RegistryCredentialSpec,
      hasPassword: this.box.open<Secret>(row.secret)?.password !== undefined,
      version: row.version,
      createdAt: row.created_at,
      updatedAt: row.updated_at,
    };
  }

  /** Insert; ConflictError if the id is taken. */
  async create(c: { id: string; spec: RegistryCredentialSpec; password?: string }): Promise<RegistryCredentialRecord> {
    const now = new Date().toISOString();
    const row: Database['registry_credentials'] = { id: c.id, name: c.spec.name, spec: JSON.stringify(c.spec), secret: this.box.seal({ password: c.password }), version: 1, created_at: now, updated_at: now };
    try {
      await this.db.insertInto('registry_credentials').values(row).execute();
    } catch (err) {
      if (isUniqueViolation(err)) throw new ConflictError(`registry credentials '${c.id}' already exist`);
      throw err;
    }
    return this.toRecord(row);
  }

  async find(id: string): Promise<RegistryCredentialRecord | undefined> {
    const row = await this.db.selectFrom('registry_credentials').selectAll().where('id', '=', id).executeTakeFirst();
    return row ? this.toRecord(row) : undefined;
  }

  async get(id: string): Promise<RegistryCredentialRecord> {
    const c = await this.find(id);
    if (!c) throw new NotFoundError('registry credentials', id);
    return c;
  }

  /** Page through credentials ordered by id. */
  async list(opts: { after?: string; limit: number }): Promise<RegistryCredentialRecord[]> {
    let q = this.db.selectFrom('registry_credentials').selectAll().orderBy('id').limit(opts.limit);
    if (opts.after) q = q.where('id', '>', opts.after);
    return (await q.execute()).map((r) => this.toRecord(r));
  }

  /**
   * Replace the open fields, and the password when one is given (undefined keeps the saved one), if the
   * version is still `expectedVersion`; VersionConflictError otherwise.
   */
  async update(id: string, expectedVersion: number, spec: RegistryCredentialSpec, password: string | undefined): Promise<RegistryCredentialRecord> {
    const res = await this.db
      .updateTable('registry_credentials')
      .set({ name: spec.name, spec: JSON.stringify(spec), version: expectedVersion + 1, updated_at: new Date().toISOString(), ...(password !== undefined ? { secret: this.box.seal({ password }) } : {}) })
      .where('id', '=', id)
      .where('version', '=', expectedVersion)
      .executeTakeFirst();
    if (Number(res.numUpdatedRows) === 0) {
      await this.get(id);
      throw new VersionConflictError(`registry credentials '${id}' were modified concurrently; retry`);
    }
    return this.get(id);
  }

  async delete(id: string): Promise<void> {
    const res = await this.db.deleteFrom('registry_credentials').where('id', '=', id).executeTakeFirst();
    if (Number(res.numDeletedRows) === 0) throw new NotFoundError('registry credentials', id);
  }

  /** The saved password in plain text, for a pull only; undefined if the credential or its password is missing. */
  async password(id: string): Promise<string | undefined> {
    const row = await this.db.selectFrom('registry_credentials').select('secret').where('id', '=', id).executeTakeFirst();
    return row ? this.box.open<Secret>(row.secret)?.password : undefined;
  }

  /**
   * What a pull of `image` for `projectId` authenticates with: the username, the plain password and the
   * server address. Throws (NotFoundError, or an Error saying why) when the credential is gone, restricted
   * away from the project, or has no username or password; the message never carries the password.
   */
  async authFor(id: string, projectId: string, image: string): Promise<RegistryAuth> {
    const c = await this.get(id);
    if (!isUsableBy(c.spec, projectId)) throw new Error(`registry credentials '${id}' are restricted to other projects than '${projectId}'`);
    const password = await this.password(id);
    if (!c.spec.username || password === undefined) throw new Error(`registry credentials '${id}' have no username and password`);
    return { username: c.spec.username, password, serveraddress: serverAddressFor(c.spec, image) };
  }
}
