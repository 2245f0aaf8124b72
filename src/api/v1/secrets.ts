/**
 * The Northflank `/v1` secret group routes (`/v1/projects/{projectId}/secrets…`), shaped so the official
 * client's `create|put|patch|update|get|list|delete.secret`, `get.secretDetails` and the
 * `update|get|delete.secretLink` calls work unchanged; and the runtime environment of services and jobs
 * with what they inherit (`…/runtime-environment?show=this|inherited|all`, `…/runtime-environment/details`).
 * Thin: shapes in, use cases called, `{ data }` out. Values are null for a caller who may not read them.
 */
import { Type, type TProperties } from '@sinclair/typebox';
// The app's type is spelled out here: importing `Api` from app.ts, which registers these routes, would close an import circle.
import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Enum } from './schema/enum.ts';
import { P } from './schema/patterns.ts';
import * as X from './schema/service-parts.ts';
import { GROUP_KINDS, MAX_PRIORITY, MIN_PRIORITY, NF_OBJECT_TYPES, SECRET_TYPES, type SecretGroupRecord } from '../../domain/secret-group.ts';
import type { GroupView, LinkedSecrets, LinkView, SecretGroupInput, SecretGroupsService } from '../../secrets/secret-groups.ts';
import type { EnvironmentDetails, EnvironmentDetailsService } from '../../secrets/environment-details.ts';

const Opt = Type.Optional;
const strict = <T extends TProperties>(props: T) => Type.Object(props, { additionalProperties: false });

const Restrictions = strict({
  restricted: Opt(Type.Boolean({ description: 'Whether the group applies only to the resources in nfObjects and those carrying one of tags.' })),
  nfObjects: Opt(Type.Array(strict({ id: Type.String({ minLength: 1, maxLength: 100, pattern: P.resourceId }), type: Enum(NF_OBJECT_TYPES) }), { maxItems: 1000 })),
  tags: Opt(Type.Array(Type.String({ minLength: 3, maxLength: 100, pattern: P.tag }), { maxItems: 100 })),
  tagMatchCondition: Opt(Enum(['and', 'or'] as const)),
});
const AddonDependency = strict({
  addonId: Type.String({ minLength: 1, maxLength: 100, pattern: P.resourceId }),
  keys: Type.Array(strict({ keyName: Type.String({ minLength: 1, maxLength: 256 }), aliases: Opt(Type.Array(Type.String({ minLength: 1, maxLength: 256 }), { maxItems: 100 })) }), { maxItems: 100 }),
});
const Secrets = strict({
  variables: Opt(Type.Record(Type.String({ maxLength: 256 }), Type.String({ maxLength: 256 * 1024 }), { description: 'Variables (runtime variables or build arguments, per secretType), sealed at rest.' })),
  files: Opt(Type.Record(Type.String({ maxLength: 1024 }), strict({ data: Type.String({ maxLength: 1024 * 1024, description: 'base64 of the contents' }), encoding: Opt(Type.String({ maxLength: 32 })) }), { description: 'Files at absolute paths, sealed at rest.' })),
});
const fields = {
  description: Opt(X.Description),
  tags: Opt(X.Tags),
  type: Opt(Enum(GROUP_KINDS)),
  secretType: Enum(SECRET_TYPES),
  priority: Type.Integer({ minimum: MIN_PRIORITY, maximum: MAX_PRIORITY, description: 'Groups merge by priority: the higher wins.' }),
  restrictions: Opt(Restrictions),
  addonDependencies: Opt(Type.Array(AddonDependency, { maxItems: 100 })),
  externalAddonDependencies: Opt(Type.Array(AddonDependency, { maxItems: 100 })),
  secrets: Opt(Secrets),
  stageId: Opt(X.StageId),
};
const Name = Type.String({ minLength: 3, maxLength: 100, pattern: P.serviceName, description: 'The name of the group; its id derives from it.' });
const CreateSecret = strict({ name: Name, ...fields });
const PatchSecret = strict({ ...fields, secretType: Opt(fields.secretType), priority: Opt(fields.priority) });
const Link = strict({ keys: AddonDependency.properties.keys });
const ProjectParams = Type.Object({ projectId: Type.String({ maxLength: 100 }) });
const SecretParams = Type.Object({ projectId: Type.String({ maxLength: 100 }), secretId: Type.String({ maxLength: 100 }) });
const LinkParams = Type.Object({ projectId: Type.String({ maxLength: 100 }), secretId: Type.String({ maxLength: 100 }), addonId: Type.String({ maxLength: 100 }) });
const ServiceParams = Type.Object({ projectId: Type.String({ maxLength: 100 }), serviceId: Type.String({ maxLength: 100 }) });
const JobParams = Type.Object({ projectId: Type.String({ maxLength: 100 }), jobId: Type.String({ maxLength: 100 }) });
const Show = Type.Object({ show: Opt(Enum(['this', 'inherited', 'all'] as const)) });
const Page = Type.Object({ per_page: Opt(Type.Integer({ minimum: 1, maximum: 100 })), page: Opt(Type.Integer({ minimum: 1 })), cursor: Opt(Type.String({ maxLength: 512 })) });

/** A group's open fields, as every read returns them. */
export function groupSummary(g: SecretGroupRecord): Record<string, unknown> {
  const s = g.spec;
  return {
    id: g.id,
    projectId: g.projectId,
    name: s.name,
    ...(s.description !== undefined ? { description: s.description } : {}),
    tags: s.tags,
    type: s.type,
    secretType: s.secretType,
    priority: s.priority,
    restrictions: s.restrictions,
    addonDependencies: s.addonDependencies,
    externalAddonDependencies: s.externalAddonDependencies,
    ...(s.stageId !== undefined ? { stageId: s.stageId } : {}),
    createdAt: g.createdAt,
    updatedAt: g.updatedAt,
  };
}

/** A group with its values: its own (`this`), those its addon links give (`inherited`), or both (`all`, the group's own winning). */
function groupView(v: GroupView, show: string | undefined, linked: LinkedSecrets[] = []): Record<string, unknown> {
  const fromLinks = Object.assign({}, ...linked.map((l) => l.variables)) as Record<string, string | null>;
  const secrets = show === 'inherited' ? { variables: fromLinks, files: {} } : show === 'this' ? v.values : { ...v.values, variables: { ...fromLinks, ...v.values.variables } };
  return { ...groupSummary(v.record), secrets, ...(v.valuesHidden ? { valuesHidden: true } : {}) };
}

function linkView(l: LinkView): Record<string, unknown> {
  return { secretName: l.group.spec.name, secretId: l.group.id, addonName: l.addon.name, addonId: l.addon.id, addonType: l.addon.type, linked: l.linked, linkedKeys: l.keys, availableKeys: l.availableKeys };
}

function environmentView(d: EnvironmentDetails, show: string | undefined): Record<string, unknown> {
  if (show === 'this') return { runtimeEnvironment: d.own.variables, runtimeFiles: d.own.files };
  if (show === 'inherited') return { runtimeEnvironment: d.inherited.variables, runtimeFiles: d.inherited.files };
  return { runtimeEnvironment: { ...d.inherited.variables, ...d.own.variables }, runtimeFiles: { ...d.inherited.files, ...d.own.files } };
}

const tags = { tags: ['secrets'] };

export function registerV1Secrets(app: FastifyInstance<any, any, any, any, TypeBoxTypeProvider>, deps: { secretGroups: SecretGroupsService; environment: EnvironmentDetailsService }): void {
  const { secretGroups: groups, environment } = deps;

  app.get('/v1/projects/:projectId/secrets', { schema: { ...tags, summary: "List a project's secret groups (no values)", params: ProjectParams, querystring: Page } }, async (req) => {
    const { projectId } = req.params as { projectId: string };
    const q = req.query as { per_page?: number; page?: number; cursor?: string };
    const perPage = q.per_page ?? 50;
    let after = q.cursor ? Buffer.from(q.cursor, 'base64url').toString('utf8') : undefined;
    if (!after && q.page && q.page > 1) after = (await groups.list(req.principal, projectId, { limit: (q.page - 1) * perPage })).at(-1)?.id ?? '\uffff';
    const rows = await groups.list(req.principal, projectId, { after, limit: perPage + 1 });
    const items = rows.slice(0, perPage);
    const hasNextPage = rows.length > perPage;
    return { data: { secrets: items.map(groupSummary) }, pagination: { hasNextPage, ...(hasNextPage ? { cursor: Buffer.from(items.at(-1)!.id).toString('base64url') } : {}), count: items.length } };
  });
  app.post('/v1/projects/:projectId/secrets', { schema: { ...tags, summary: 'Create a secret group (services it applies to get a new release)', params: ProjectParams, body: CreateSecret } }, async (req) => {
    const { projectId } = req.params as { projectId: string };
    return { data: groupView(groups.view(req.principal, await groups.create(req.principal, projectId, req.body as SecretGroupInput)), 'all') };
  });
  app.put('/v1/projects/:projectId/secrets', { schema: { ...tags, summary: 'Create or replace a secret group', params: ProjectParams, body: CreateSecret } }, async (req) => {
    const { projectId } = req.params as { projectId: string };
    return { data: groupView(groups.view(req.principal, await groups.put(req.principal, projectId, req.body as SecretGroupInput)), 'all') };
  });
  app.get('/v1/projects/:projectId/secrets/:secretId', { schema: { ...tags, summary: 'Read a secret group with its values (names only for a viewer)', params: SecretParams, querystring: Show } }, async (req) => {
    const { projectId, secretId } = req.params as { projectId: string; secretId: string };
    const v = await groups.get(req.principal, projectId, secretId);
    const show = (req.query as { show?: string }).show;
    return { data: groupView(v, show, show === 'this' ? [] : await groups.linkedSecrets(req.principal, v.record)) };
  });
  app.get('/v1/projects/:projectId/secrets/:secretId/details', { schema: { ...tags, summary: 'Read a secret group with its linked addons', params: SecretParams } }, async (req) => {
    const { projectId, secretId } = req.params as { projectId: string; secretId: string };
    const v = await groups.get(req.principal, projectId, secretId);
    return { data: { ...groupView(v, 'this'), addonSecrets: await groups.linkedSecrets(req.principal, v.record) } };
  });
  for (const [method, summary] of [['PATCH', 'Update a secret group: the fields given replace the stored ones'], ['POST', 'Update a secret group (as PATCH)']] as const) {
    app.route({
      method,
      url: '/v1/projects/:projectId/secrets/:secretId',
      schema: { ...tags, summary, params: SecretParams, body: PatchSecret },
      handler: async (req) => {
        const { projectId, secretId } = req.params as { projectId: string; secretId: string };
        return { data: groupView(groups.view(req.principal, await groups.change(req.principal, projectId, secretId, (req.body ?? {}) as SecretGroupInput)), 'all') };
      },
    });
  }
  app.delete('/v1/projects/:projectId/secrets/:secretId', { schema: { ...tags, summary: 'Delete a secret group (services it applied to get a new release)', params: SecretParams } }, async (req) => {
    const { projectId, secretId } = req.params as { projectId: string; secretId: string };
    await groups.delete(req.principal, projectId, secretId);
    return { data: {} };
  });
  app.post('/v1/projects/:projectId/secrets/:secretId/addons/:addonId', { schema: { ...tags, summary: 'Link an addon to a secret group', params: LinkParams, body: Link } }, async (req) => {
    const { projectId, secretId, addonId } = req.params as { projectId: string; secretId: string; addonId: string };
    const link = await groups.link(req.principal, projectId, secretId, addonId, (req.body as { keys: { keyName: string; aliases?: string[] }[] }).keys);
    return { data: { keys: link.keys } };
  });
  app.get('/v1/projects/:projectId/secrets/:secretId/addons/:addonId', { schema: { ...tags, summary: "Read a secret group's addon link", params: LinkParams } }, async (req) => {
    const { projectId, secretId, addonId } = req.params as { projectId: string; secretId: string; addonId: string };
    return { data: linkView(await groups.getLink(req.principal, projectId, secretId, addonId)) };
  });
  app.delete('/v1/projects/:projectId/secrets/:secretId/addons/:addonId', { schema: { ...tags, summary: 'Unlink an addon from a secret group', params: LinkParams } }, async (req) => {
    const { projectId, secretId, addonId } = req.params as { projectId: string; secretId: string; addonId: string };
    await groups.unlink(req.principal, projectId, secretId, addonId);
    return { data: {} };
  });

  // What services and jobs run with: their own values over what their groups give.
  app.get('/v1/projects/:projectId/services/:serviceId/runtime-environment', { schema: { tags: ['services'], summary: "Read a service's runtime environment: its own (show=this), inherited from groups (inherited) or both (all)", params: ServiceParams, querystring: Show } }, async (req) => {
    const { projectId, serviceId } = req.params as { projectId: string; serviceId: string };
    return { data: environmentView(await environment.ofService(req.principal, projectId, serviceId), (req.query as { show?: string }).show) };
  });
  app.get('/v1/projects/:projectId/services/:serviceId/runtime-environment/details', { schema: { tags: ['services'], summary: "Where each of a service's runtime variables and files comes from", params: ServiceParams } }, async (req) => {
    const { projectId, serviceId } = req.params as { projectId: string; serviceId: string };
    const d = await environment.ofService(req.principal, projectId, serviceId);
    return { data: { runtimeEnvironment: d.sources.variables, runtimeFiles: d.sources.files } };
  });
  app.get('/v1/projects/:projectId/jobs/:jobId/runtime-environment/details', { schema: { tags: ['jobs'], summary: "Where each of a job's runtime variables and files comes from", params: JobParams } }, async (req) => {
    const { projectId, jobId } = req.params as { projectId: string; jobId: string };
    const d = await environment.ofJob(req.principal, projectId, jobId);
    return { data: { runtimeEnvironment: d.sources.variables, runtimeFiles: d.sources.files } };
  });
}
