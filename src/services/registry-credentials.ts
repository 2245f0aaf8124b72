/**
 * Registry credential use cases for every API face: add, read, list, update, delete. Credentials are
 * account-wide: only an admin token writes them; a project token reads those its project may use.
 * Reads never carry the password.
 */
import type { Store } from '../store/store.ts';
import type { AuthService, Principal } from './auth.ts';
import { idFromName } from '../domain/ids.ts';
import { isUsableBy, type RegistryCredentialRecord, type RegistryCredentialSpec, type RegistryRestrictions, type RegistryScope } from '../domain/registry-credentials.ts';
import { NotFoundError, UnsupportedError, ValidationError, type FieldProblem } from '../errors/errors.ts';

export interface RegistryCredentialInput extends Pick<RegistryCredentialSpec, 'name' | 'provider' | 'registryUrl' | 'aws' | 'gcp' | 'azure' | 'integrationId'> {
  credentials?: { username?: string; password?: string; scope: RegistryScope };
  restrictions?: RegistryRestrictions;
}

export interface RegistryCredentialPatch {
  credentials?: { username?: string; password?: string; scope: RegistryScope };
  restrictions?: RegistryRestrictions;
}

export class RegistryCredentialsService {
  constructor(
    private readonly store: Store,
    private readonly auth: AuthService,
  ) {}

  /** Restricted credentials must name projects that exist. */
  private async checkRestrictions(r: RegistryRestrictions | undefined, problems: FieldProblem[]): Promise<void> {
    for (const [i, p] of (r?.projects ?? []).entries()) {
      if (!(await this.store.projects.find(p))) problems.push({ field: `restrictions.projects.${i}`, rule: 'exists', message: `no project '${p}'` });
    }
  }

  async create(caller: Principal, input: RegistryCredentialInput): Promise<RegistryCredentialRecord> {
    this.auth.authorize(caller, null, 'own');
    if (input.integrationId) throw new UnsupportedError([{ field: 'integrationId', rule: 'supported', message: 'cloud provider integrations are not available here: save a username and password (or token) instead' }]);
    const problems: FieldProblem[] = [];
    if (!input.credentials?.username) problems.push({ field: 'credentials.username', rule: 'required', message: 'a username is needed to pull from the registry' });
    if (input.credentials?.password === undefined || input.credentials.password === '') problems.push({ field: 'credentials.password', rule: 'required', message: 'a password or access token is needed to pull from the registry' });
    if (input.provider === 'custom' && !input.registryUrl) problems.push({ field: 'registryUrl', rule: 'required', message: "a custom registry needs its URL, e.g. 'registry.example.com:5000'" });
    await this.checkRestrictions(input.restrictions, problems);
    if (problems.length) throw new ValidationError(problems);
    const spec: RegistryCredentialSpec = {
      name: input.name,
      provider: input.provider,
      ...(input.registryUrl ? { registryUrl: input.registryUrl } : {}),
      ...(input.aws ? { aws: input.aws } : {}),
      ...(input.gcp ? { gcp: input.gcp } : {}),
      ...(input.azure ? { azure: input.azure } : {}),
      username: input.credentials!.username,
      scope: { pull: input.credentials!.scope.pull ?? true, push: input.credentials!.scope.push ?? false },
      restrictions: { restricted: input.restrictions?.restricted ?? false, ...(input.restrictions?.restricted ? { projects: input.restrictions.projects ?? [] } : {}) },
    };
    return this.store.registryCredentials.create({ id: idFromName(input.name), spec, password: input.credentials!.password });
  }

  /** A credential the caller may read; one its project may not use is as good as absent. */
  async get(caller: Principal, id: string): Promise<RegistryCredentialRecord> {
    const c = await this.store.registryCredentials.get(id);
    if (caller.role !== 'admin' && !(caller.projectId && isUsableBy(c.spec, caller.projectId))) throw new NotFoundError('registry credentials', id);
    return c;
  }

  async list(caller: Principal, page: { after?: string; limit: number }): Promise<RegistryCredentialRecord[]> {
    if (caller.role === 'admin') return this.store.registryCredentials.list(page);
    if (!caller.projectId) return [];
    // Filtered after the page is read: a page may hold fewer than `limit`; the cursor still moves on.
    const rows = await this.store.registryCredentials.list(page);
    return rows.filter((c) => isUsableBy(c.spec, caller.projectId!));
  }

  async update(caller: Principal, id: string, patch: RegistryCredentialPatch): Promise<RegistryCredentialRecord> {
    this.auth.authorize(caller, null, 'own');
    const cur = await this.store.registryCredentials.get(id);
    const problems: FieldProblem[] = [];
    if (patch.credentials?.username === '') problems.push({ field: 'credentials.username', rule: 'minLength', message: 'the username cannot be empty' });
    if (patch.credentials?.password === '') problems.push({ field: 'credentials.password', rule: 'minLength', message: 'the password cannot be empty' });
    await this.checkRestrictions(patch.restrictions, problems);
    if (problems.length) throw new ValidationError(problems);
    const spec: RegistryCredentialSpec = { ...cur.spec };
    if (patch.credentials) {
      if (patch.credentials.username !== undefined) spec.username = patch.credentials.username;
      spec.scope = { pull: patch.credentials.scope.pull ?? cur.spec.scope.pull ?? true, push: patch.credentials.scope.push ?? cur.spec.scope.push ?? false };
    }
    if (patch.restrictions) spec.restrictions = { restricted: patch.restrictions.restricted, ...(patch.restrictions.restricted ? { projects: patch.restrictions.projects ?? [] } : {}) };
    return this.store.registryCredentials.update(id, cur.version, spec, patch.credentials?.password);
  }

  async delete(caller: Principal, id: string): Promise<void> {
    this.auth.authorize(caller, null, 'own');
    await this.store.registryCredentials.delete(id);
  }
}
