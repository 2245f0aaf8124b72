/** Cloud Foundry spaces: slipway's projects. */
import { Type } from '@sinclair/typebox';
import type { Api, ApiDeps } from '../deps.ts';
import { NotFoundError, ValidationError } from '../../errors/errors.ts';
import { ORG_GUID, paginated, spaceView } from './views.ts';
import { GuidParams, ListQuery, Metadata, Rel, type ListQ } from './schemas.ts';
import { baseOf, csv, jobView, type CfLookups } from './context.ts';

export function registerCfSpaces(app: Api, deps: ApiDeps, cx: CfLookups): void {
  const { projects } = deps;
  const { visibleProjects } = cx;

  // ---- spaces ---------------------------------------------------------------------------------------
  app.get('/v3/spaces', { schema: { tags: ['cf'], querystring: ListQuery } }, async (req) => {
    const q = req.query as ListQ;
    const names = csv(q.names);
    const guids = csv(q.guids);
    const orgs = csv(q.organization_guids);
    const list = (await visibleProjects(req.principal)).filter((p) => (!names || names.has(p.name)) && (!guids || guids.has(p.id)) && (!orgs || orgs.has(ORG_GUID)));
    return paginated(list.map((p) => spaceView(baseOf(req), p)), q, baseOf(req), '/v3/spaces');
  });
  app.get('/v3/spaces/:guid', { schema: { tags: ['cf'], params: GuidParams } }, async (req) => {
    const { guid } = req.params as { guid: string };
    try {
      return spaceView(baseOf(req), await projects.get(req.principal, guid));
    } catch (err) {
      throw err instanceof NotFoundError || (err as { code?: string }).code === 'forbidden' ? new NotFoundError('space', guid) : err;
    }
  });
  app.post(
    '/v3/spaces',
    { schema: { tags: ['cf'], body: Type.Object({ name: Type.String({ minLength: 1, maxLength: 255 }), relationships: Type.Object({ organization: Rel }, { additionalProperties: false }), metadata: Metadata }, { additionalProperties: false }) } },
    async (req, reply) => {
      const body = req.body as { name: string; relationships: { organization: { data: { guid: string } } } };
      if (body.relationships.organization.data.guid !== ORG_GUID) throw ValidationError.one('relationships.organization', 'exists', 'Invalid organization. Ensure the organization exists and you have access to it.');
      const p = await projects.create(req.principal, { name: body.name });
      return reply.status(201).send(spaceView(baseOf(req), p));
    },
  );
  app.delete('/v3/spaces/:guid', { schema: { tags: ['cf'], params: GuidParams } }, async (req, reply) => {
    await projects.delete(req.principal, (req.params as { guid: string }).guid);
    const job = jobView(baseOf(req), 'space.delete');
    return reply.status(202).header('location', job.links.self.href).send();
  });
}
