/**
 * The Northflank `/v1/tags` routes (account-level resource tags), shaped so the official client's
 * `add|get|list|put|patch|delete.tag` work unchanged (the client's `put.tag` sends PUT /v1/tags, by name). Thin: shapes in, TagsService called, `{ data }` out.
 */
import { Type, type TProperties } from '@sinclair/typebox';
// The app's type is spelled out here: importing `Api` from app.ts, which registers these routes, would close an import circle.
import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Enum } from './schema/enum.ts';
import { P } from './schema/patterns.ts';
import type { TagsService } from '../../tags/tags-service.ts';
import type { TagRecord, TagSpec } from '../../store/tags-repo.ts';
import { idFromName } from '../../domain/ids.ts';

const Opt = Type.Optional;
const strict = <T extends TProperties>(props: T) => Type.Object(props, { additionalProperties: false });

const NodeAffinity = strict({
  preference: Opt(Type.Boolean()),
  weight: Opt(Type.Integer({ minimum: 1, maximum: 100 })),
  matchExpressions: Type.Array(strict({ key: Type.String({ minLength: 1, maxLength: 256 }), operator: Enum(['In', 'NotIn'] as const), values: Type.Array(Type.String({ maxLength: 256 }), { maxItems: 100 }) }), { maxItems: 20 }),
});
const fields = {
  useSpotNodes: Opt(Type.Boolean()),
  useOnDemandNodes: Opt(Type.Boolean()),
  nodeAffinities: Opt(Type.Array(NodeAffinity, { maxItems: 20 })),
  color: Opt(Type.String({ maxLength: 32, pattern: String.raw`^#?[A-Za-z0-9]+$` })),
  description: Opt(Type.String({ maxLength: 200 })),
};
const TagName = Type.String({ minLength: 3, maxLength: 100, pattern: P.tag, description: 'The tag as resources carry it in `tags`.' });
const AddTag = strict({ ...fields, name: TagName });
const PatchTag = strict(fields);
const TagParams = Type.Object({ resourceTagId: Type.String({ maxLength: 100 }) });
const Page = Type.Object({ per_page: Opt(Type.Integer({ minimum: 1, maximum: 100 })), page: Opt(Type.Integer({ minimum: 1 })), cursor: Opt(Type.String({ maxLength: 512 })) });

export function tagView(t: TagRecord): Record<string, unknown> {
  return { ...t.spec, id: t.id, createdAt: t.createdAt };
}

const tags = { tags: ['tags'] };

export function registerV1Tags(app: FastifyInstance<any, any, any, any, TypeBoxTypeProvider>, deps: { tags: TagsService }): void {
  const svc = deps.tags;
  app.get('/v1/tags', { schema: { ...tags, summary: 'List resource tags', querystring: Page } }, async (req) => {
    const q = req.query as { per_page?: number; page?: number; cursor?: string };
    const perPage = q.per_page ?? 50;
    let after = q.cursor ? Buffer.from(q.cursor, 'base64url').toString('utf8') : undefined;
    if (!after && q.page && q.page > 1) after = (await svc.list(req.principal, { limit: (q.page - 1) * perPage })).at(-1)?.id ?? '\uffff';
    const rows = await svc.list(req.principal, { after, limit: perPage + 1 });
    const items = rows.slice(0, perPage);
    const hasNextPage = rows.length > perPage;
    return { data: { tags: items.map(tagView) }, pagination: { hasNextPage, ...(hasNextPage ? { cursor: Buffer.from(items.at(-1)!.id).toString('base64url') } : {}), count: items.length } };
  });
  app.post('/v1/tags', { schema: { ...tags, summary: 'Add a resource tag (admin)', body: AddTag } }, async (req) => ({ data: tagView(await svc.add(req.principal, req.body as TagSpec)) }));
  app.put('/v1/tags', { schema: { ...tags, summary: 'Create or replace a resource tag by name (admin)', body: AddTag } }, async (req) => ({
    data: tagView(await svc.put(req.principal, idFromName((req.body as TagSpec).name), req.body as TagSpec)),
  }));
  app.get('/v1/tags/:resourceTagId', { schema: { ...tags, summary: 'Read a resource tag', params: TagParams } }, async (req) => {
    const { resourceTagId } = req.params as { resourceTagId: string };
    return { data: tagView(await svc.get(req.principal, resourceTagId)) };
  });
  app.put('/v1/tags/:resourceTagId', { schema: { ...tags, summary: 'Create or replace a resource tag (admin)', params: TagParams, body: AddTag } }, async (req) => {
    const { resourceTagId } = req.params as { resourceTagId: string };
    return { data: tagView(await svc.put(req.principal, resourceTagId, req.body as TagSpec)) };
  });
  app.patch('/v1/tags/:resourceTagId', { schema: { ...tags, summary: 'Change a resource tag (admin)', params: TagParams, body: PatchTag } }, async (req) => {
    const { resourceTagId } = req.params as { resourceTagId: string };
    return { data: tagView(await svc.patch(req.principal, resourceTagId, (req.body ?? {}) as Partial<TagSpec>)) };
  });
  app.delete('/v1/tags/:resourceTagId', { schema: { ...tags, summary: 'Delete a resource tag (admin); resources keep carrying its name', params: TagParams } }, async (req) => {
    const { resourceTagId } = req.params as { resourceTagId: string };
    await svc.delete(req.principal, resourceTagId);
    return { data: {} };
  });
}
