/**
 * Tokens and rights. A token is a random bearer secret; only its sha256 is stored. Admin tokens span every
 * project; project tokens carry one role in one project: viewer (read), developer (read + deploy/write),
 * owner (developer + delete the project and manage its tokens).
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Store } from '../store/store.ts';
import type { Role, TokenRecord } from '../store/tokens-repo.ts';
import { ForbiddenError, NotFoundError, UnauthorizedError, ValidationError } from '../errors/errors.ts';
import { randomId } from '../domain/ids.ts';

export type Need = 'read' | 'write' | 'own';

export interface Principal {
  tokenId: string;
  role: Role;
  projectId: string | null;
}

const RANK: Record<Role, number> = { viewer: 1, developer: 2, owner: 3, admin: 4 };
const NEED_RANK: Record<Need, number> = { read: 1, write: 2, own: 3 };

export function hashToken(token: string): string {
  return crypto.createHash('sha256').update(token).digest('hex');
}

export function generateToken(): string {
  return `slw_${crypto.randomBytes(24).toString('base64url')}`;
}

export class AuthService {
  constructor(private readonly store: Store) {}

  /**
   * First start: adopt SLIPWAY_ADMIN_TOKEN if given, else generate one, write it to `<dataDir>/admin-token`
   * (0600) and return it so the caller prints it once. Later starts do nothing unless the configured token
   * is new, in which case it is added.
   */
  async bootstrapAdmin(dataDir: string, configured?: string): Promise<{ generated?: string }> {
    if (configured) {
      const hash = hashToken(configured);
      if (!(await this.store.tokens.findByHash(hash))) {
        await this.store.tokens.create({ id: randomId('tok'), name: 'admin (SLIPWAY_ADMIN_TOKEN)', hash, role: 'admin', projectId: null });
      }
      return {};
    }
    if ((await this.store.tokens.countAdmins()) > 0) return {};
    const token = generateToken();
    await this.store.tokens.create({ id: randomId('tok'), name: 'admin (generated)', hash: hashToken(token), role: 'admin', projectId: null });
    fs.mkdirSync(dataDir, { recursive: true });
    fs.writeFileSync(path.join(dataDir, 'admin-token'), token + '\n', { mode: 0o600 });
    return { generated: token };
  }

  /** A bearer token; with `basic`, also HTTP Basic with the token as the password (git over HTTP). */
  async authenticate(header: string | undefined, opts: { basic?: boolean } = {}): Promise<Principal> {
    let token = header ? /^Bearer\s+(\S+)\s*$/i.exec(header)?.[1] : undefined;
    if (!token && opts.basic && header) {
      const b = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header);
      const decoded = b ? Buffer.from(b[1], 'base64').toString('utf8') : '';
      token = decoded.includes(':') ? decoded.slice(decoded.indexOf(':') + 1) : undefined;
    }
    if (!token) throw new UnauthorizedError(opts.basic ? 'missing credentials: use your API token as the password' : 'missing bearer token: send Authorization: Bearer <token>');
    const rec = await this.store.tokens.findActiveByHash(hashToken(token));
    if (!rec) throw new UnauthorizedError('invalid or revoked token');
    return { tokenId: rec.id, role: rec.role, projectId: rec.projectId };
  }

  /** Throws ForbiddenError unless the principal has `need` on the project (or platform-wide if projectId is null). */
  authorize(p: Principal, projectId: string | null, need: Need): void {
    if (p.role === 'admin') return;
    if (projectId === null || p.projectId !== projectId) throw new ForbiddenError(projectId ? `token has no access to project '${projectId}'` : 'this operation needs an admin token');
    if (RANK[p.role] < NEED_RANK[need]) throw new ForbiddenError(`role '${p.role}' cannot ${need === 'read' ? 'read' : need === 'write' ? 'change' : 'administer'} project '${projectId}'`);
  }

  /** Projects a principal may see, or undefined for all. */
  visibleProjects(p: Principal): string[] | undefined {
    return p.role === 'admin' ? undefined : p.projectId ? [p.projectId] : [];
  }

  async createToken(caller: Principal, input: { name: string; role: Role; projectId?: string }): Promise<{ token: string; record: TokenRecord }> {
    if (input.role === 'admin') {
      if (input.projectId) throw ValidationError.one('projectId', 'absent', 'an admin token spans every project: omit projectId');
      this.authorize(caller, null, 'own');
    } else {
      if (!input.projectId) throw ValidationError.one('projectId', 'required', `a ${input.role} token needs a projectId`);
      this.authorize(caller, input.projectId, 'own');
      await this.store.projects.get(input.projectId);
    }
    const token = generateToken();
    const record = await this.store.tokens.create({ id: randomId('tok'), name: input.name, hash: hashToken(token), role: input.role, projectId: input.projectId ?? null });
    return { token, record };
  }

  async listTokens(caller: Principal): Promise<TokenRecord[]> {
    const all = await this.store.tokens.list();
    if (caller.role === 'admin') return all;
    if (caller.role !== 'owner') throw new ForbiddenError(`role '${caller.role}' cannot list tokens`);
    return all.filter((t) => t.projectId === caller.projectId);
  }

  async revokeToken(caller: Principal, id: string): Promise<void> {
    const rec = (await this.store.tokens.list()).find((t) => t.id === id);
    if (!rec) throw new NotFoundError('token', id);
    if (rec.role === 'admin' || rec.projectId === null) this.authorize(caller, null, 'own');
    else this.authorize(caller, rec.projectId, 'own');
    await this.store.tokens.revoke(id);
  }
}
