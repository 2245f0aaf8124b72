/**
 * Account-level resource tags (Northflank's `/v1/tags`): the names services and jobs carry in `tags`, and
 * that secret groups restrict themselves to. Any token reads them; only an admin token changes them, as
 * they span every project. Tags are labels: services and jobs carry a tag's name, and renaming or
 * deleting the tag record leaves what resources carry as it is.
 */
import type { Store } from '../store/store.ts';
import type { AuthService, Principal } from '../services/auth.ts';
import type { TagRecord, TagSpec } from '../store/tags-repo.ts';
import { idFromName, RESOURCE_ID_PATTERN } from '../domain/ids.ts';
import { ValidationError } from '../errors/errors.ts';

export class TagsService {
  constructor(
    private readonly store: Store,
    private readonly auth: AuthService,
  ) {}

  async list(_caller: Principal, page: { after?: string; limit: number }): Promise<TagRecord[]> {
    return this.store.tags.list(page);
  }

  async get(_caller: Principal, id: string): Promise<TagRecord> {
    return this.store.tags.get(id);
  }

  async add(caller: Principal, spec: TagSpec): Promise<TagRecord> {
    this.auth.authorize(caller, null, 'own');
    const id = idFromName(spec.name);
    if (await this.store.tags.find(id)) throw ValidationError.one('name', 'unique', `a tag named '${spec.name}' already exists`);
    return this.store.tags.create(id, spec);
  }

  /** Create or replace the tag with this id (Northflank's PUT /v1/tags/{id}). */
  async put(caller: Principal, id: string, spec: TagSpec): Promise<TagRecord> {
    this.auth.authorize(caller, null, 'own');
    if (!RESOURCE_ID_PATTERN.test(id)) throw ValidationError.one('resourceTagId', 'pattern', 'lower-case letters, digits and single hyphens, starting with a letter');
    if (await this.store.tags.find(id)) return this.store.tags.update(id, spec);
    return this.store.tags.create(id, spec);
  }

  async patch(caller: Principal, id: string, patch: Partial<TagSpec>): Promise<TagRecord> {
    this.auth.authorize(caller, null, 'own');
    const cur = await this.store.tags.get(id);
    const given = Object.fromEntries(Object.entries(patch).filter(([, v]) => v !== undefined));
    return this.store.tags.update(id, { ...cur.spec, ...given });
  }

  async delete(caller: Principal, id: string): Promise<void> {
    this.auth.authorize(caller, null, 'own');
    await this.store.tags.delete(id);
  }
}
