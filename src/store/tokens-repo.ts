import type { Kysely } from 'kysely';
import type { Database } from './schema.ts';
import { NotFoundError } from '../errors/errors.ts';

export type Role = 'admin' | 'owner' | 'developer' | 'viewer';

export interface TokenRecord {
  id: string;
  name: string;
  role: Role;
  /** null for admin tokens, which span every project */
  projectId: string | null;
  createdAt: string;
  lastUsedAt: string | null;
  revokedAt: string | null;
}

function toRecord(r: Database['tokens']): TokenRecord {
  return { id: r.id, name: r.name, role: r.role as Role, projectId: r.project_id, createdAt: r.created_at, lastUsedAt: r.last_used_at, revokedAt: r.revoked_at };
}

/** API tokens. Only a sha256 of each token is stored; tokens are long random strings, so no slow hash is needed. */
export class TokensRepo {
  constructor(private readonly db: Kysely<Database>) {}

  async create(t: { id: string; name: string; hash: string; role: Role; projectId: string | null }): Promise<TokenRecord> {
    const row: Database['tokens'] = { id: t.id, name: t.name, hash: t.hash, role: t.role, project_id: t.projectId, created_at: new Date().toISOString(), last_used_at: null, revoked_at: null };
    await this.db.insertInto('tokens').values(row).execute();
    return toRecord(row);
  }

  async findActiveByHash(hash: string): Promise<TokenRecord | undefined> {
    const row = await this.db.selectFrom('tokens').selectAll().where('hash', '=', hash).where('revoked_at', 'is', null).executeTakeFirst();
    return row ? toRecord(row) : undefined;
  }

  async findByHash(hash: string): Promise<TokenRecord | undefined> {
    const row = await this.db.selectFrom('tokens').selectAll().where('hash', '=', hash).executeTakeFirst();
    return row ? toRecord(row) : undefined;
  }

  async list(): Promise<TokenRecord[]> {
    return (await this.db.selectFrom('tokens').selectAll().orderBy('created_at').execute()).map(toRecord);
  }

  async countAdmins(): Promise<number> {
    const r = await this.db.selectFrom('tokens').select((eb) => eb.fn.countAll().as('n')).where('role', '=', 'admin').where('revoked_at', 'is', null).executeTakeFirst();
    return Number(r?.n ?? 0);
  }

  async revoke(id: string): Promise<void> {
    const res = await this.db.updateTable('tokens').set({ revoked_at: new Date().toISOString() }).where('id', '=', id).where('revoked_at', 'is', null).executeTakeFirst();
    if (Number(res.numUpdatedRows) === 0) throw new NotFoundError('token', id);
  }

  async touch(id: string): Promise<void> {
    await this.db.updateTable('tokens').set({ last_used_at: new Date().toISOString() }).where('id', '=', id).execute();
  }
}
