/**
 * The Northflank `/v1` registry credential routes (`/v1/integrations/registries`), shaped as Northflank's
 * public API so `@northflank/js-client`'s `add|get|list|update|delete.registryCredentials` work unchanged.
 * Thin: shapes in, `RegistryCredentialsService` calls, `{ data }` out. No read carries the password.
 */
import { Type, type TProperties } from '@sinclair/typebox';
import type { Api, ApiDeps } from '../deps.ts';
import { Enum } from './schema/enum.ts';
import { REGISTRY_PROVIDERS, type RegistryCredentialRecord } from '../../domain/registry-credentials.ts';
import { RegistryCredentialsService, type RegistryCredentialInput, type RegistryCredentialPatch } from '../../services/registry-credentials.ts';
import { paginate, type PageQuery } from './pagination.ts';

const Opt = Type.Optional;
const strict = <T extends TProperties>(props: T) => Type.Object(props, { additionalProperties: false });

const Scope = strict({
  pull: Opt(Type.Boolean({ description: 'Whether the credentials can pull images.' })),
  push: Opt(Type.Boolean({ description: 'Whether the credentials can push images.' })),
});
const Credentials = strict({
  username: Opt(Type.String({ maxLength: 256, description: 'Username for the docker registry.' })),
  password: Opt(Type.String({ maxLength: 8192, description: 'Password (or access token) for the docker registry. Never returned.' })),
  scope: Scope,
});
const Restrictions = strict({
  restricted: Type.Boolean({ description: 'Whether access to this credential is restricted.' }),
  projects: Opt(Type.Array(Type.String({ maxLength: 100 }), { maxItems: 1000, description: 'List of projects that have access to this credential.' })),
});
const Timestamps = { updatedAt: Opt(Type.String({ maxLength: 64 })), createdAt: Opt(Type.String({ maxLength: 64 })) };
const AddRegistry = strict({
  name: Type.String({ minLength: 3, maxLength: 39, pattern: String.raw`^[a-zA-Z]((-|\s)?[a-zA-Z0-9]+((-|\s)[a-zA-Z0-9]+)*)?$`, description: 'The name of the docker credentials.' }),
  provider: Enum(REGISTRY_PROVIDERS, { description: 'The provider of the docker registry.' }),
  registryUrl: Opt(Type.String({ minLength: 1, maxLength: 512, pattern: String.raw`^\S+$`, description: 'The URL of the docker registry.' })),
  aws: Opt(strict({ region: Opt(Type.String({ maxLength: 100 })) })),
  gcp: Opt(strict({ projectId: Opt(Type.String({ maxLength: 100 })) })),
  azure: Opt(strict({ resourceGroup: Opt(Type.String({ maxLength: 100 })) })),
  integrationId: Opt(Type.String({ maxLength: 100, pattern: String.raw`^((org|team)\/)?[a-zA-Z](-?[a-zA-Z0-9]+(-[a-zA-Z0-9]+)*)?$` })),
  credentials: Opt(Credentials),
  restrictions: Opt(Restrictions),
  ...Timestamps,
});
const UpdateRegistry = strict({ credentials: Opt(Credentials), restrictions: Opt(Restrictions), ...Timestamps });
const CredentialParams = Type.Object({ credentialId: Type.String({ maxLength: 100 }) });
const Page = Type.Object({ per_page: Opt(Type.Integer({ minimum: 1, maximum: 100 })), page: Opt(Type.Integer({ minimum: 1 })), cursor: Opt(Type.String({ maxLength: 512 })) });

/** The Northflank view of a saved credential: everything but the password. */
export function registryView(c: RegistryCredentialRecord): Record<string, unknown> {
  const s = c.spec;
  return {
    id: c.id,
    name: s.name,
    provider: s.provider,
    ...(s.registryUrl ? { registryUrl: s.registryUrl } : {}),
    ...(s.aws ? { aws: s.aws } : {}),
    ...(s.gcp ? { gcp: s.gcp } : {}),
    ...(s.azure ? { azure: s.azure } : {}),
    credentials: { ...(s.username ? { username: s.username } : {}), scope: s.scope },
    restrictions: s.restrictions,
    createdAt: c.createdAt,
    updatedAt: c.updatedAt,
  };
}

const tags = { tags: ['integrations'] };

export function registerV1Registries(app: Api, deps: ApiDeps): void {
  const registries = new RegistryCredentialsService(deps.store, deps.auth);

  app.get('/v1/integrations/registries', { schema: { ...tags, summary: 'List registry credentials (no secrets)', querystring: Page } }, async (req) => {
    const { items, pagination } = await paginate(req.query as PageQuery, (after, limit) => registries.list(req.principal, { after, limit }));
    return {
      data: { credentials: items.map(registryView) },
      pagination,
    };
  });
  app.post('/v1/integrations/registries', { schema: { ...tags, summary: 'Add registry credentials', body: AddRegistry } }, async (req) => ({
    data: registryView(await registries.create(req.principal, req.body as RegistryCredentialInput)),
  }));
  app.get('/v1/integrations/registries/:credentialId', { schema: { ...tags, summary: 'Get registry credentials (no secrets)', params: CredentialParams } }, async (req) => {
    const { credentialId } = req.params as { credentialId: string };
    return { data: registryView(await registries.get(req.principal, credentialId)) };
  });
  app.patch('/v1/integrations/registries/:credentialId', { schema: { ...tags, summary: 'Update registry credentials', params: CredentialParams, body: UpdateRegistry } }, async (req) => {
    const { credentialId } = req.params as { credentialId: string };
    return { data: registryView(await registries.update(req.principal, credentialId, req.body as RegistryCredentialPatch)) };
  });
  app.delete('/v1/integrations/registries/:credentialId', { schema: { ...tags, summary: 'Delete registry credentials', params: CredentialParams } }, async (req) => {
    const { credentialId } = req.params as { credentialId: string };
    await registries.delete(req.principal, credentialId);
    return { data: {} };
  });
}
