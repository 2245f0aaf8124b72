/** Cloud Foundry apps: combined services that run the droplet pinned as current, with their environment and route. */
import { Type } from '@sinclair/typebox';
import type { Api, ApiDeps } from '../deps.ts';
import type { Principal } from '../../services/auth.ts';
import type { ServiceRecord, ServiceSpec } from '../../domain/service.ts';
import { UnprocessableError, ValidationError } from '../../errors/errors.ts';
import { derivedGuid, idFromName } from '../../domain/ids.ts';
import { APP_PORT, ORG_GUID, appGuid, appView, paginated, ts } from './views.ts';
import { GuidParams, Lifecycle, ListQuery, Metadata, Rel, type ListQ } from './schemas.ts';
import { baseOf, csv, jobView, type CfLookups } from './context.ts';

const EnvVars = Type.Record(Type.String({ minLength: 1, maxLength: 255 }), Type.Union([Type.String(), Type.Number(), Type.Boolean(), Type.Null()]));

export function registerCfApps(app: Api, deps: ApiDeps, cx: CfLookups): void {
  const { auth, catalog, deploys, store } = deps;
  const { allApps, findApp, currentBuildId } = cx;

  // ---- apps -----------------------------------------------------------------------------------------
  app.get('/v3/apps', { schema: { tags: ['cf'], querystring: ListQuery } }, async (req) => {
    const q = req.query as ListQ;
    const names = csv(q.names);
    const spaces = csv(q.space_guids);
    const guids = csv(q.guids);
    const states = csv(q.states);
    const list = (await allApps(req.principal)).filter(
      (s) => (!names || names.has(s.spec.name)) && (!spaces || spaces.has(s.projectId)) && (!guids || guids.has(appGuid(s))) && (!states || states.has(s.paused ? 'STOPPED' : 'STARTED')),
    );
    return paginated(list.map((s) => appView(baseOf(req), s)), q, baseOf(req), '/v3/apps');
  });

  app.post(
    '/v3/apps',
    {
      schema: {
        tags: ['cf'],
        body: Type.Object(
          {
            name: Type.String({ minLength: 1, maxLength: 63, pattern: '^[A-Za-z0-9][A-Za-z0-9-]*$' }),
            relationships: Type.Object({ space: Rel }, { additionalProperties: false }),
            environment_variables: Type.Optional(EnvVars),
            lifecycle: Lifecycle,
            metadata: Metadata,
          },
          { additionalProperties: false },
        ),
      },
    },
    async (req, reply) => {
      const body = req.body as { name: string; relationships: { space: { data: { guid: string } } }; environment_variables?: Record<string, unknown>; lifecycle?: { type: string } };
      if (body.lifecycle && body.lifecycle.type !== 'buildpack') throw ValidationError.one('lifecycle.type', 'supported', `lifecycle '${body.lifecycle.type}' needs the container runtime; this platform stages buildpack apps`);
      const spaceId = body.relationships.space.data.guid;
      if (!(await store.projects.find(spaceId))) throw ValidationError.one('relationships.space', 'exists', 'Invalid space. Ensure that the space exists and you have access to it.');
      const id = idFromName(body.name);
      const spec: ServiceSpec = {
        name: body.name,
        billing: { deploymentPlan: 'nf-compute-20' },
        deployment: { instances: 1, internal: { id } },
        ports: [{ name: 'http', internalPort: APP_PORT, public: true, protocol: 'HTTP' }],
        runtimeEnvironment: envStrings(body.environment_variables ?? {}),
      } as ServiceSpec;
      const created = await catalog.create(req.principal, spaceId, 'combined', spec).catch((err: Error) => {
        if ((err as { code?: string }).code === 'conflict') throw new UnprocessableError(`App with the name '${body.name}' already exists.`);
        throw err;
      });
      await store.services.setStatus(spaceId, id, { paused: true });
      return reply.status(201).send(appView(baseOf(req), { ...created.service, paused: true }));
    },
  );

  app.get('/v3/apps/:guid', { schema: { tags: ['cf'], params: GuidParams } }, async (req) => appView(baseOf(req), await findApp(req.principal, (req.params as { guid: string }).guid)));

  app.patch(
    '/v3/apps/:guid',
    { schema: { tags: ['cf'], params: GuidParams, body: Type.Object({ name: Type.Optional(Type.String({ minLength: 1, maxLength: 63 })), lifecycle: Lifecycle, metadata: Metadata }, { additionalProperties: false }) } },
    async (req) => {
      const svc = await findApp(req.principal, (req.params as { guid: string }).guid);
      const body = req.body as { name?: string; lifecycle?: { type: string } };
      auth.authorize(req.principal, svc.projectId, 'write');
      if (body.name !== undefined && body.name !== svc.spec.name) throw ValidationError.one('name', 'immutable', 'an app keeps its name here: its routes and ids derive from it');
      if (body.lifecycle && body.lifecycle.type !== 'buildpack') throw ValidationError.one('lifecycle.type', 'supported', 'only buildpack apps are staged on this platform');
      return appView(baseOf(req), svc);
    },
  );

  app.delete('/v3/apps/:guid', { schema: { tags: ['cf'], params: GuidParams } }, async (req, reply) => {
    const svc = await findApp(req.principal, (req.params as { guid: string }).guid);
    await catalog.delete(req.principal, svc.projectId, svc.id);
    const job = jobView(baseOf(req), 'app.delete');
    return reply.status(202).header('location', job.links.self.href).send();
  });

  const startApp = async (p: Principal, svc: ServiceRecord) => {
    if (!(await currentBuildId(svc))) throw new UnprocessableError('Assign a droplet before starting this app.');
    await catalog.setPaused(p, svc.projectId, svc.id, false);
  };
  app.post('/v3/apps/:guid/actions/start', { schema: { tags: ['cf'], params: GuidParams } }, async (req) => {
    const svc = await findApp(req.principal, (req.params as { guid: string }).guid);
    await startApp(req.principal, svc);
    return appView(baseOf(req), await store.services.get(svc.projectId, svc.id));
  });
  app.post('/v3/apps/:guid/actions/stop', { schema: { tags: ['cf'], params: GuidParams } }, async (req) => {
    const svc = await findApp(req.principal, (req.params as { guid: string }).guid);
    await catalog.setPaused(req.principal, svc.projectId, svc.id, true);
    return appView(baseOf(req), await store.services.get(svc.projectId, svc.id));
  });
  app.post('/v3/apps/:guid/actions/restart', { schema: { tags: ['cf'], params: GuidParams } }, async (req) => {
    const svc = await findApp(req.principal, (req.params as { guid: string }).guid);
    // A restart rolls new instances in, with no downtime; a stopped app simply starts.
    if (svc.paused) await startApp(req.principal, svc);
    else await deploys.restart(req.principal, svc.projectId, svc.id);
    return appView(baseOf(req), await store.services.get(svc.projectId, svc.id));
  });

  app.get('/v3/apps/:guid/environment_variables', { schema: { tags: ['cf'], params: GuidParams } }, async (req) => {
    const guid = (req.params as { guid: string }).guid;
    const svc = await findApp(req.principal, guid);
    auth.authorize(req.principal, svc.projectId, 'write');
    return { var: svc.spec.runtimeEnvironment ?? {}, links: { self: { href: `${baseOf(req)}/v3/apps/${guid}/environment_variables` }, app: { href: `${baseOf(req)}/v3/apps/${guid}` } } };
  });
  app.patch('/v3/apps/:guid/environment_variables', { schema: { tags: ['cf'], params: GuidParams, body: Type.Object({ var: EnvVars }, { additionalProperties: false }) } }, async (req) => {
    const guid = (req.params as { guid: string }).guid;
    const svc = await findApp(req.principal, guid);
    const env: Record<string, string> = { ...(svc.spec.runtimeEnvironment ?? {}) };
    for (const [k, v] of Object.entries((req.body as { var: Record<string, unknown> }).var)) {
      if (v === null) delete env[k];
      else env[k] = String(v);
    }
    const d = await catalog.patch(req.principal, svc.projectId, svc.id, svc.kind, { runtimeEnvironment: env });
    return { var: d.service.spec.runtimeEnvironment ?? {}, links: { self: { href: `${baseOf(req)}/v3/apps/${guid}/environment_variables` }, app: { href: `${baseOf(req)}/v3/apps/${guid}` } } };
  });
  app.get('/v3/apps/:guid/env', { schema: { tags: ['cf'], params: GuidParams } }, async (req) => {
    const svc = await findApp(req.principal, (req.params as { guid: string }).guid);
    auth.authorize(req.principal, svc.projectId, 'write');
    const host = `${svc.id}.${svc.projectId}.${deps.domain}`;
    return {
      staging_env_json: {},
      running_env_json: {},
      environment_variables: svc.spec.runtimeEnvironment ?? {},
      system_env_json: { VCAP_SERVICES: {} },
      application_env_json: { VCAP_APPLICATION: { application_id: appGuid(svc), application_name: svc.spec.name, application_uris: [host], uris: [host], name: svc.spec.name, space_id: svc.projectId, space_name: svc.projectId, organization_id: ORG_GUID, organization_name: 'default', limits: { fds: 16384 } } },
    };
  });
  app.get('/v3/apps/:guid/routes', { schema: { tags: ['cf'], params: GuidParams } }, async (req) => {
    const svc = await findApp(req.principal, (req.params as { guid: string }).guid);
    const host = `${svc.id}.${svc.projectId}.${deps.domain}`;
    const routeGuid = derivedGuid(`slipway:route:${appGuid(svc)}:${host}`);
    const route = { guid: routeGuid, protocol: 'http', host: svc.id, path: '', port: null, url: host, created_at: ts(svc.createdAt), updated_at: ts(svc.updatedAt), destinations: [{ app: { guid: appGuid(svc), process: { type: 'web' } }, port: APP_PORT, protocol: 'http1' }], relationships: { space: { data: { guid: svc.projectId } }, domain: { data: { guid: null } } }, metadata: { labels: {}, annotations: {} }, links: { self: { href: `${baseOf(req)}/v3/routes/${routeGuid}` } } };
    return paginated([route], req.query as ListQ, baseOf(req), `/v3/apps/${appGuid(svc)}/routes`);
  });
}

function envStrings(vars: Record<string, unknown>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(vars)) if (v !== null) out[k] = String(v);
  return out;
}
