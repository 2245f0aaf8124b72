/**
 * The Cloud Foundry `/v3` face: one default organization, spaces (projects), apps (combined services that
 * run the droplet pinned as current), packages of `bits`, builds and droplets, the web process, deployments
 * (rollouts) and revisions (releases). A thin translation onto the same services layer as `/v1`.
 */
import crypto from 'node:crypto';
import { Type, type TSchema } from '@sinclair/typebox';
import multipart from '@fastify/multipart';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Api, ApiDeps } from '../deps.ts';
import type { Principal } from '../../services/auth.ts';
import type { ServiceRecord, ServiceSpec, HealthCheckSpec } from '../../domain/service.ts';
import type { BuildRecord } from '../../store/builds-repo.ts';
import type { RolloutRecord } from '../../store/rollouts-repo.ts';
import { NotFoundError, PayloadTooLargeError, UnprocessableError, ValidationError, BadRequestError } from '../../errors/errors.ts';
import { derivedGuid, idFromName, serviceKey } from '../../domain/ids.ts';
import { PLANS } from '../../domain/plans.ts';
import { zipToTarGz } from '../../builds/zip-bundle.ts';
import {
  APP_PORT,
  ORG_GUID,
  appGuid,
  appView,
  buildIdOfDroplet,
  buildView,
  deploymentView,
  dropletGuid,
  dropletView,
  orgView,
  packageView,
  paginated,
  processView,
  revisionView,
  spaceView,
  statsView,
  ts,
} from './views.ts';

const Guid = Type.String({ minLength: 1, maxLength: 200 });
const Rel = Type.Object({ data: Type.Object({ guid: Guid }, { additionalProperties: false }) }, { additionalProperties: false });
const Metadata = Type.Optional(Type.Object({ labels: Type.Optional(Type.Record(Type.String(), Type.Union([Type.String(), Type.Null()]))), annotations: Type.Optional(Type.Record(Type.String(), Type.Union([Type.String(), Type.Null()]))) }, { additionalProperties: false }));
const ListQuery = Type.Object(
  {
    page: Type.Optional(Type.Integer({ minimum: 1 })),
    per_page: Type.Optional(Type.Integer({ minimum: 1, maximum: 5000 })),
    names: Type.Optional(Type.String()),
    guids: Type.Optional(Type.String()),
    space_guids: Type.Optional(Type.String()),
    app_guids: Type.Optional(Type.String()),
    package_guids: Type.Optional(Type.String()),
    states: Type.Optional(Type.String()),
    types: Type.Optional(Type.String()),
    status_values: Type.Optional(Type.String()),
    status_reasons: Type.Optional(Type.String()),
    organization_guids: Type.Optional(Type.String()),
    versions: Type.Optional(Type.String()),
  },
  { additionalProperties: true },
);
type ListQ = { page?: number; per_page?: number } & Record<string, string | number | undefined>;
const GuidParams = Type.Object({ guid: Guid });
const Lifecycle = Type.Optional(
  Type.Object(
    {
      type: Type.Union([Type.Literal('buildpack'), Type.Literal('docker'), Type.Literal('cnb')]),
      data: Type.Optional(Type.Object({ buildpacks: Type.Optional(Type.Array(Type.String())), stack: Type.Optional(Type.String()) }, { additionalProperties: false })),
    },
    { additionalProperties: false },
  ),
);
const EnvVars = Type.Record(Type.String({ minLength: 1, maxLength: 255 }), Type.Union([Type.String(), Type.Number(), Type.Boolean(), Type.Null()]));
const CheckData = Type.Optional(
  Type.Object(
    {
      timeout: Type.Optional(Type.Union([Type.Integer({ minimum: 1 }), Type.Null()])),
      invocation_timeout: Type.Optional(Type.Union([Type.Integer({ minimum: 1 }), Type.Null()])),
      interval: Type.Optional(Type.Union([Type.Integer({ minimum: 1 }), Type.Null()])),
      endpoint: Type.Optional(Type.Union([Type.String({ pattern: '^/', maxLength: 255 }), Type.Null()])),
    },
    { additionalProperties: false },
  ),
);
const CheckType = Type.Union([Type.Literal('port'), Type.Literal('process'), Type.Literal('http')]);
type CheckInput = { type: 'port' | 'process' | 'http'; data?: { timeout?: number | null; invocation_timeout?: number | null; interval?: number | null; endpoint?: string | null } };

function csv(v: unknown): Set<string> | undefined {
  return typeof v === 'string' && v !== '' ? new Set(v.split(',')) : undefined;
}

function baseOf(req: FastifyRequest): string {
  return `${req.protocol}://${req.headers.host ?? 'localhost'}`;
}

function jobView(base: string, operation: string) {
  const guid = `job-${crypto.randomUUID()}`;
  const now = ts(new Date().toISOString());
  return { guid, created_at: now, updated_at: now, operation, state: 'COMPLETE', errors: [], warnings: [], links: { self: { href: `${base}/v3/jobs/${guid}` } } };
}

/** CF health check → the Kubernetes-style probes it means: `health_check` holds start-up and then watches liveness. */
function probesFor(kind: 'health' | 'readiness', c: CheckInput): HealthCheckSpec[] {
  if (c.type === 'process') return [];
  const protocol = c.type === 'http' ? 'HTTP' : 'TCP';
  const path = c.type === 'http' ? (c.data?.endpoint ?? '/') : undefined;
  const timeoutSeconds = c.data?.invocation_timeout ?? 1;
  const base = { protocol, port: APP_PORT, ...(path ? { path } : {}), timeoutSeconds, initialDelaySeconds: 0 } as const;
  if (kind === 'readiness') return [{ ...base, type: 'readinessProbe', periodSeconds: c.data?.interval ?? 5, failureThreshold: 1, successThreshold: 1 }];
  const startPeriod = Math.min(c.data?.interval ?? 2, 2);
  return [
    { ...base, type: 'startupProbe', periodSeconds: startPeriod, failureThreshold: Math.max(1, Math.ceil((c.data?.timeout ?? 60) / startPeriod)) },
    { ...base, type: 'livenessProbe', periodSeconds: c.data?.interval ?? 30, failureThreshold: 1 },
  ];
}

export function registerCf(app: Api, deps: ApiDeps): void {
  const { auth, catalog, builds, store, projects } = deps;

  const visibleProjects = async (p: Principal) => store.projects.list({ limit: 100_000, ids: auth.visibleProjects(p) });
  const allApps = async (p: Principal): Promise<ServiceRecord[]> => {
    const out: ServiceRecord[] = [];
    for (const proj of await visibleProjects(p)) out.push(...(await store.services.list(proj.id, { limit: 100_000 })).filter((s) => s.kind !== 'build'));
    return out;
  };
  const findApp = async (p: Principal, guid: string): Promise<ServiceRecord> => {
    // By the indexed GUID; a service in a project the caller cannot see is as unknown as a missing one.
    const svc = await store.services.findByGuid(guid);
    const visible = auth.visibleProjects(p);
    if (!svc || svc.kind === 'build' || (visible && !visible.includes(svc.projectId))) throw new NotFoundError('app', guid);
    return svc;
  };
  const appOfKey = async (p: Principal, key: string): Promise<ServiceRecord> => {
    const [projectId, serviceId] = key.split('/');
    auth.authorize(p, projectId, 'read');
    return store.services.get(projectId, serviceId);
  };
  const packageGuidOf = async (b: BuildRecord): Promise<string | null> => {
    if (!b.sha.startsWith('bundle:')) return null;
    const digest = b.sha.slice('bundle:'.length);
    return (await store.packages.list(b.projectId, b.serviceId)).find((x) => x.digest === digest)?.id ?? null;
  };
  const findBuild = async (p: Principal, guid: string, kind: 'build' | 'droplet'): Promise<{ build: BuildRecord; svc: ServiceRecord }> => {
    const id = kind === 'droplet' ? buildIdOfDroplet(guid) : guid;
    const b = id ? await store.builds.find(id) : undefined;
    if (!b || (kind === 'droplet' && b.status !== 'SUCCESS')) throw new NotFoundError(kind, guid);
    try {
      auth.authorize(p, b.projectId, 'read');
    } catch {
      throw new NotFoundError(kind, guid);
    }
    return { build: b, svc: await store.services.get(b.projectId, b.serviceId) };
  };
  const currentBuildId = async (svc: ServiceRecord): Promise<string | undefined> => {
    const pinned = svc.spec.deployment?.internal?.id === svc.id ? svc.spec.deployment.internal.buildId : undefined;
    if (pinned) return pinned;
    const rel = svc.targetReleaseId ? await store.releases.find(svc.targetReleaseId) : undefined;
    return rel?.buildId ?? undefined;
  };
  const processJson = async (base: string, svc: ServiceRecord) => processView(base, svc, svc.targetReleaseId ? await store.releases.find(svc.targetReleaseId) : undefined);
  const deploymentOf = async (base: string, svc: ServiceRecord, r: RolloutRecord) => {
    const key = serviceKey(svc.projectId, svc.id);
    const all = await store.rollouts.list(key, 1000);
    const next = all.find((x) => x.number === r.number + 1);
    const to = await store.releases.find(r.toReleaseId);
    const from = r.fromReleaseId ? await store.releases.find(r.fromReleaseId) : undefined;
    const last = await store.rollouts.lastEvent(r.id);
    return deploymentView(base, svc, r, { next, to, from, lastEventAt: last?.createdAt, lastReadyAt: r.status === 'COMPLETED' ? (r.finishedAt ?? undefined) : undefined });
  };
  const findDeployment = async (p: Principal, guid: string) => {
    const r = await store.rollouts.get(guid).catch(() => undefined);
    if (!r) throw new NotFoundError('deployment', guid);
    const svc = await appOfKey(p, r.serviceKey).catch(() => {
      throw new NotFoundError('deployment', guid);
    });
    return { r, svc };
  };

  // ---- root and organization ----------------------------------------------------------------------
  app.get('/', { schema: { hide: true } }, async (req) => {
    const base = baseOf(req);
    return {
      links: {
        self: { href: base },
        bits_service: null,
        cloud_controller_v2: null,
        cloud_controller_v3: { href: `${base}/v3`, meta: { version: '3.180.0' } },
        network_policy_v0: null,
        network_policy_v1: null,
        login: null,
        uaa: null,
        credhub: null,
        routing: null,
        logging: null,
        log_cache: null,
        log_stream: null,
        app_ssh: null,
      },
    };
  });
  app.get('/v3', { schema: { hide: true } }, async (req) => {
    const base = `${baseOf(req)}/v3`;
    const names = ['apps', 'builds', 'deployments', 'droplets', 'organizations', 'packages', 'processes', 'revisions', 'spaces', 'info'];
    return { links: { self: { href: base }, ...Object.fromEntries(names.map((n) => [n, { href: `${base}/${n}` }])) } };
  });
  app.get('/v3/info', { schema: { tags: ['cf'] } }, async (req) => ({
    build: '',
    cli_version: { minimum: null, recommended: null },
    custom: {},
    description: 'slipway: a self-hosted platform-as-a-service',
    name: 'slipway',
    version: 1,
    osbapi_version: '',
    links: { self: { href: `${baseOf(req)}/v3/info` }, support: { href: '' } },
  }));
  app.get('/v3/jobs/:guid', { schema: { tags: ['cf'], params: GuidParams } }, async (req) => {
    const { guid } = req.params as { guid: string };
    if (!guid.startsWith('job-')) throw new NotFoundError('job', guid);
    return { ...jobView(baseOf(req), 'operation'), guid, links: { self: { href: `${baseOf(req)}/v3/jobs/${guid}` } } };
  });

  const firstProjectCreated = async (p: Principal) => (await visibleProjects(p)).map((x) => x.createdAt).sort()[0] ?? new Date(0).toISOString();
  app.get('/v3/organizations', { schema: { tags: ['cf'], querystring: ListQuery } }, async (req) => {
    const q = req.query as ListQ;
    const names = csv(q.names);
    const guids = csv(q.guids);
    const orgs = [orgView(baseOf(req), await firstProjectCreated(req.principal))].filter((o) => (!names || names.has(o.name)) && (!guids || guids.has(o.guid)));
    return paginated(orgs, q, baseOf(req), '/v3/organizations');
  });
  app.get('/v3/organizations/:guid', { schema: { tags: ['cf'], params: GuidParams } }, async (req) => {
    if ((req.params as { guid: string }).guid !== ORG_GUID) throw new NotFoundError('organization', (req.params as { guid: string }).guid);
    return orgView(baseOf(req), await firstProjectCreated(req.principal));
  });

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
    else await catalog.restart(req.principal, svc.projectId, svc.id);
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

  // ---- droplets ---------------------------------------------------------------------------------------
  const dropletsOf = async (svc: ServiceRecord) => (await store.builds.list(svc.projectId, svc.id, 1000)).filter((b) => b.status === 'SUCCESS');
  const dropletOut = async (base: string, b: BuildRecord, svc: ServiceRecord) => dropletView(base, b, appGuid(svc), await packageGuidOf(b));
  app.get('/v3/apps/:guid/droplets/current', { schema: { tags: ['cf'], params: GuidParams } }, async (req) => {
    const svc = await findApp(req.principal, (req.params as { guid: string }).guid);
    const id = await currentBuildId(svc);
    const b = id ? await store.builds.find(id) : undefined;
    if (!b) throw new NotFoundError('droplet', 'current');
    return dropletOut(baseOf(req), b, svc);
  });
  app.get('/v3/apps/:guid/relationships/current_droplet', { schema: { tags: ['cf'], params: GuidParams } }, async (req) => {
    const guid = (req.params as { guid: string }).guid;
    const svc = await findApp(req.principal, guid);
    const id = await currentBuildId(svc);
    if (!id) throw new NotFoundError('droplet', 'current');
    return { data: { guid: dropletGuid(id) }, links: { self: { href: `${baseOf(req)}/v3/apps/${guid}/relationships/current_droplet` }, related: { href: `${baseOf(req)}/v3/apps/${guid}/droplets/current` } } };
  });
  app.patch('/v3/apps/:guid/relationships/current_droplet', { schema: { tags: ['cf'], params: GuidParams, body: Rel } }, async (req) => {
    const guid = (req.params as { guid: string }).guid;
    const svc = await findApp(req.principal, guid);
    const dropletId = (req.body as { data: { guid: string } }).data.guid;
    const buildId = buildIdOfDroplet(dropletId);
    const b = buildId ? await store.builds.find(buildId) : undefined;
    if (!b || b.status !== 'SUCCESS' || b.projectId !== svc.projectId || b.serviceId !== svc.id) throw new UnprocessableError('Unable to assign current droplet. Ensure the droplet exists and belongs to this app.');
    if (svc.kind !== 'combined') throw new UnprocessableError('only apps staged here have droplets');
    await catalog.patch(req.principal, svc.projectId, svc.id, 'combined', { deployment: { ...(svc.spec.deployment ?? { instances: 1 }), internal: { id: svc.id, buildId: b.id } } });
    return { data: { guid: dropletId }, links: { self: { href: `${baseOf(req)}/v3/apps/${guid}/relationships/current_droplet` }, related: { href: `${baseOf(req)}/v3/apps/${guid}/droplets/current` } } };
  });
  app.get('/v3/apps/:guid/droplets', { schema: { tags: ['cf'], params: GuidParams, querystring: ListQuery } }, async (req) => {
    const svc = await findApp(req.principal, (req.params as { guid: string }).guid);
    const list = await Promise.all((await dropletsOf(svc)).map((b) => dropletOut(baseOf(req), b, svc)));
    return paginated(list, req.query as ListQ, baseOf(req), `/v3/apps/${appGuid(svc)}/droplets`);
  });
  app.get('/v3/droplets', { schema: { tags: ['cf'], querystring: ListQuery } }, async (req) => {
    const q = req.query as ListQ;
    const apps = csv(q.app_guids);
    const guids = csv(q.guids);
    const out = [];
    for (const svc of (await allApps(req.principal)).filter((s) => !apps || apps.has(appGuid(s)))) {
      for (const b of await dropletsOf(svc)) if (!guids || guids.has(dropletGuid(b.id))) out.push(await dropletOut(baseOf(req), b, svc));
    }
    return paginated(out, q, baseOf(req), '/v3/droplets');
  });
  app.get('/v3/droplets/:guid', { schema: { tags: ['cf'], params: GuidParams } }, async (req) => {
    const { build, svc } = await findBuild(req.principal, (req.params as { guid: string }).guid, 'droplet');
    return dropletOut(baseOf(req), build, svc);
  });

  // ---- packages ---------------------------------------------------------------------------------------
  const findPackage = async (p: Principal, guid: string) => {
    const pkg = await store.packages.find(guid);
    if (!pkg) throw new NotFoundError('package', guid);
    const svc = await appOfKey(p, serviceKey(pkg.projectId, pkg.serviceId)).catch(() => {
      throw new NotFoundError('package', guid);
    });
    return { pkg, svc };
  };
  app.post(
    '/v3/packages',
    { schema: { tags: ['cf'], body: Type.Object({ type: Type.Literal('bits'), relationships: Type.Object({ app: Rel }, { additionalProperties: false }), data: Type.Optional(Type.Object({})), metadata: Metadata }, { additionalProperties: false }) } },
    async (req, reply) => {
      const body = req.body as { relationships: { app: { data: { guid: string } } } };
      const svc = await findApp(req.principal, body.relationships.app.data.guid).catch(() => {
        throw ValidationError.one('relationships.app', 'exists', 'App must exist');
      });
      auth.authorize(req.principal, svc.projectId, 'write');
      if (svc.kind !== 'combined') throw ValidationError.one('relationships.app', 'buildable', 'only apps that build from source take bits');
      const pkg = await store.packages.create({ id: crypto.randomUUID(), projectId: svc.projectId, serviceId: svc.id });
      return reply.status(201).send(packageView(baseOf(req), pkg, appGuid(svc)));
    },
  );
  app.get('/v3/packages', { schema: { tags: ['cf'], querystring: ListQuery } }, async (req) => {
    const q = req.query as ListQ;
    const apps = csv(q.app_guids);
    const states = csv(q.states);
    const out = [];
    for (const svc of (await allApps(req.principal)).filter((s) => !apps || apps.has(appGuid(s)))) {
      for (const pkg of await store.packages.list(svc.projectId, svc.id)) if (!states || states.has(pkg.state)) out.push(packageView(baseOf(req), pkg, appGuid(svc)));
    }
    return paginated(out, q, baseOf(req), '/v3/packages');
  });
  app.get('/v3/apps/:guid/packages', { schema: { tags: ['cf'], params: GuidParams, querystring: ListQuery } }, async (req) => {
    const svc = await findApp(req.principal, (req.params as { guid: string }).guid);
    const list = (await store.packages.list(svc.projectId, svc.id)).map((pkg) => packageView(baseOf(req), pkg, appGuid(svc)));
    return paginated(list, req.query as ListQ, baseOf(req), `/v3/apps/${appGuid(svc)}/packages`);
  });
  app.get('/v3/packages/:guid', { schema: { tags: ['cf'], params: GuidParams } }, async (req) => {
    const { pkg, svc } = await findPackage(req.principal, (req.params as { guid: string }).guid);
    return packageView(baseOf(req), pkg, appGuid(svc));
  });
  app.get('/v3/packages/:guid/droplets', { schema: { tags: ['cf'], params: GuidParams, querystring: ListQuery } }, async (req) => {
    const { pkg, svc } = await findPackage(req.principal, (req.params as { guid: string }).guid);
    const list = await Promise.all((await dropletsOf(svc)).filter((b) => pkg.digest && b.sha === `bundle:${pkg.digest}`).map((b) => dropletOut(baseOf(req), b, svc)));
    return paginated(list, req.query as ListQ, baseOf(req), `/v3/packages/${pkg.id}/droplets`);
  });
  // The upload takes multipart/form-data (field `bits`: a zip), parsed only on this route.
  app.register(async (scope) => {
    await scope.register(multipart, { limits: { fileSize: deps.uploadLimitBytes, files: 1, fields: 10, fieldSize: 1024 * 1024 } });
    scope.post('/v3/packages/:guid/upload', { schema: { tags: ['cf'], params: GuidParams } }, async (req) => {
      const { pkg, svc } = await findPackage(req.principal, (req.params as { guid: string }).guid);
      auth.authorize(req.principal, svc.projectId, 'write');
      if (!req.isMultipart()) throw ValidationError.one('bits', 'required', 'upload the package as multipart/form-data with a zip in the field `bits`');
      if (pkg.state !== 'AWAITING_UPLOAD' && pkg.state !== 'FAILED') throw new UnprocessableError(`Package is ${pkg.state}: bits can be uploaded only once`);
      let zip: Buffer | undefined;
      try {
        for await (const part of req.parts()) {
          if (part.type === 'file') {
            if (part.fieldname !== 'bits') {
              part.file.resume();
              throw ValidationError.one(part.fieldname, 'unknown', 'the only file field is `bits`');
            }
            zip = await part.toBuffer();
          }
        }
      } catch (err) {
        if ((err as { code?: string }).code === 'FST_REQ_FILE_TOO_LARGE') throw new PayloadTooLargeError(`the bits exceed ${deps.uploadLimitBytes} bytes`);
        if ((err as { code?: string }).code?.startsWith('FST_')) throw new BadRequestError(`malformed multipart body: ${(err as Error).message}`);
        throw err;
      }
      if (!zip) throw ValidationError.one('bits', 'required', 'the field `bits` with a zip of the app is required');
      await store.packages.setState(pkg.id, 'PROCESSING_UPLOAD');
      try {
        const { digest } = builds.storeBundle(await zipToTarGz(zip));
        await store.packages.setState(pkg.id, 'READY', { digest, error: null });
      } catch (err) {
        await store.packages.setState(pkg.id, 'AWAITING_UPLOAD', { error: (err as Error).message });
        throw err;
      }
      return packageView(baseOf(req), await store.packages.get(pkg.id), appGuid(svc));
    });
  });

  // ---- builds -----------------------------------------------------------------------------------------
  const buildOut = async (base: string, b: BuildRecord, svc: ServiceRecord) => buildView(base, b, appGuid(svc), await packageGuidOf(b));
  app.post(
    '/v3/builds',
    {
      schema: {
        tags: ['cf'],
        body: Type.Object(
          {
            package: Type.Object({ guid: Guid }, { additionalProperties: false }),
            lifecycle: Lifecycle,
            staging_memory_in_mb: Type.Optional(Type.Integer({ minimum: 1 })),
            staging_disk_in_mb: Type.Optional(Type.Integer({ minimum: 1 })),
            staging_log_rate_limit_bytes_per_second: Type.Optional(Type.Integer({ minimum: -1 })),
            metadata: Metadata,
          },
          { additionalProperties: false },
        ),
      },
    },
    async (req, reply) => {
      const body = req.body as { package: { guid: string }; lifecycle?: { type: string } };
      const { pkg, svc } = await findPackage(req.principal, body.package.guid).catch(() => {
        throw ValidationError.one('package.guid', 'exists', 'Unable to use package. Ensure that the package exists and you have access to it.');
      });
      if (body.lifecycle && body.lifecycle.type !== 'buildpack') throw ValidationError.one('lifecycle.type', 'supported', 'only buildpack staging is available on this platform');
      if (pkg.state !== 'READY' || !pkg.digest) throw new UnprocessableError('The package is not ready: upload its bits first.');
      const b = await builds.buildStoredBundle(req.principal, svc.projectId, svc.id, pkg.digest);
      return reply.status(201).send(await buildOut(baseOf(req), b, svc));
    },
  );
  app.get('/v3/builds', { schema: { tags: ['cf'], querystring: ListQuery } }, async (req) => {
    const q = req.query as ListQ;
    const apps = csv(q.app_guids);
    const states = csv(q.states);
    const pkgs = csv(q.package_guids);
    const out = [];
    for (const svc of (await allApps(req.principal)).filter((s) => s.kind === 'combined' && (!apps || apps.has(appGuid(s))))) {
      for (const b of await store.builds.list(svc.projectId, svc.id, 1000)) {
        const v = await buildOut(baseOf(req), b, svc);
        if ((!states || states.has(v.state)) && (!pkgs || (v.package.guid && pkgs.has(v.package.guid)))) out.push(v);
      }
    }
    return paginated(out, q, baseOf(req), '/v3/builds');
  });
  app.get('/v3/apps/:guid/builds', { schema: { tags: ['cf'], params: GuidParams, querystring: ListQuery } }, async (req) => {
    const svc = await findApp(req.principal, (req.params as { guid: string }).guid);
    const list = await Promise.all((await store.builds.list(svc.projectId, svc.id, 1000)).map((b) => buildOut(baseOf(req), b, svc)));
    return paginated(list, req.query as ListQ, baseOf(req), `/v3/apps/${appGuid(svc)}/builds`);
  });
  app.get('/v3/builds/:guid', { schema: { tags: ['cf'], params: GuidParams } }, async (req) => {
    const { build, svc } = await findBuild(req.principal, (req.params as { guid: string }).guid, 'build');
    return buildOut(baseOf(req), build, svc);
  });

  // ---- processes ----------------------------------------------------------------------------------------
  const webOnly = (type: string) => {
    if (type !== 'web') throw new NotFoundError('process', type);
  };
  const scaleBody = Type.Object(
    {
      instances: Type.Optional(Type.Integer({ minimum: 0, maximum: 100 })),
      memory_in_mb: Type.Optional(Type.Integer({ minimum: 1 })),
      disk_in_mb: Type.Optional(Type.Integer({ minimum: 1 })),
      log_rate_limit_in_bytes_per_second: Type.Optional(Type.Integer({ minimum: -1 })),
    },
    { additionalProperties: false },
  );
  const scale = async (p: Principal, svc: ServiceRecord, body: { instances?: number; memory_in_mb?: number }) => {
    let plan: string | undefined;
    if (body.memory_in_mb !== undefined) {
      const match = PLANS.find((x) => x.family === 'northflank' && x.memoryMb === body.memory_in_mb);
      if (!match) throw ValidationError.one('memory_in_mb', 'enum', `memory_in_mb must be one of ${[...new Set(PLANS.filter((x) => x.family === 'northflank').map((x) => x.memoryMb))].join(', ')}`);
      plan = match.id;
    }
    return catalog.scale(p, svc.projectId, svc.id, { instances: body.instances, deploymentPlan: plan });
  };
  const patchProcess = async (p: Principal, svc: ServiceRecord, body: { command?: string | null; health_check?: CheckInput; readiness_health_check?: CheckInput }) => {
    const patch: Partial<ServiceSpec> = {};
    if (body.command !== undefined) {
      const d = { ...(svc.spec.deployment ?? { instances: 1 }) };
      if (body.command === null) delete d.buildpack;
      else d.buildpack = { configType: 'customCommand', customCommand: body.command };
      patch.deployment = d;
    }
    if (body.health_check || body.readiness_health_check) {
      let checks = svc.spec.healthChecks ?? [];
      if (body.health_check) checks = [...checks.filter((h) => h.type === 'readinessProbe'), ...probesFor('health', body.health_check)];
      if (body.readiness_health_check) checks = [...checks.filter((h) => h.type !== 'readinessProbe'), ...probesFor('readiness', body.readiness_health_check)];
      patch.healthChecks = checks;
    }
    return catalog.patch(p, svc.projectId, svc.id, svc.kind, patch);
  };
  const processPatchBody = Type.Object(
    {
      command: Type.Optional(Type.Union([Type.String({ minLength: 1, maxLength: 4096 }), Type.Null()])),
      health_check: Type.Optional(Type.Object({ type: CheckType, data: CheckData }, { additionalProperties: false })),
      readiness_health_check: Type.Optional(Type.Object({ type: CheckType, data: CheckData }, { additionalProperties: false })),
      metadata: Metadata,
    },
    { additionalProperties: false },
  );
  const processRoutes = (prefix: string, schemaParams: TSchema, resolve: (req: FastifyRequest) => Promise<ServiceRecord>) => {
    app.get(prefix, { schema: { tags: ['cf'], params: schemaParams } }, async (req) => processJson(baseOf(req), await resolve(req)));
    app.patch(prefix, { schema: { tags: ['cf'], params: schemaParams, body: processPatchBody } }, async (req) => {
      const svc = await resolve(req);
      await patchProcess(req.principal, svc, req.body as never);
      return processJson(baseOf(req), await store.services.get(svc.projectId, svc.id));
    });
    app.get(`${prefix}/stats`, { schema: { tags: ['cf'], params: schemaParams } }, async (req) => {
      const svc = await resolve(req);
      return statsView(svc, await catalog.instances(req.principal, svc.projectId, svc.id));
    });
    app.post(`${prefix}/actions/scale`, { schema: { tags: ['cf'], params: schemaParams, body: scaleBody } }, async (req, reply: FastifyReply) => {
      const svc = await resolve(req);
      await scale(req.principal, svc, req.body as never);
      return reply.status(202).send(await processJson(baseOf(req), await store.services.get(svc.projectId, svc.id)));
    });
  };
  processRoutes('/v3/processes/:guid', GuidParams, async (req) => findApp(req.principal, (req.params as { guid: string }).guid).catch(() => {
    throw new NotFoundError('process', (req.params as { guid: string }).guid);
  }));
  const TypeParams = Type.Object({ guid: Guid, type: Type.String({ maxLength: 100 }) });
  processRoutes('/v3/apps/:guid/processes/:type', TypeParams, async (req) => {
    const { guid, type } = req.params as { guid: string; type: string };
    const svc = await findApp(req.principal, guid);
    webOnly(type);
    return svc;
  });
  app.get('/v3/apps/:guid/processes', { schema: { tags: ['cf'], params: GuidParams, querystring: ListQuery } }, async (req) => {
    const svc = await findApp(req.principal, (req.params as { guid: string }).guid);
    return paginated([await processJson(baseOf(req), svc)], req.query as ListQ, baseOf(req), `/v3/apps/${appGuid(svc)}/processes`);
  });
  app.get('/v3/processes', { schema: { tags: ['cf'], querystring: ListQuery } }, async (req) => {
    const q = req.query as ListQ;
    const apps = csv(q.app_guids);
    const types = csv(q.types);
    const list = [];
    if (!types || types.has('web')) for (const svc of await allApps(req.principal)) if (!apps || apps.has(appGuid(svc))) list.push(await processJson(baseOf(req), svc));
    return paginated(list, q, baseOf(req), '/v3/processes');
  });

  // ---- deployments ----------------------------------------------------------------------------------------
  app.post(
    '/v3/deployments',
    {
      schema: {
        tags: ['cf'],
        body: Type.Object(
          {
            droplet: Type.Optional(Type.Object({ guid: Guid }, { additionalProperties: false })),
            revision: Type.Optional(Type.Object({ guid: Guid }, { additionalProperties: false })),
            strategy: Type.Optional(Type.Union([Type.Literal('rolling'), Type.Literal('canary')])),
            options: Type.Optional(
              Type.Object(
                {
                  max_in_flight: Type.Optional(Type.Integer({ minimum: 1, maximum: 100 })),
                  web_instances: Type.Optional(Type.Integer({ minimum: 1, maximum: 100 })),
                  memory_in_mb: Type.Optional(Type.Integer({ minimum: 1 })),
                  disk_in_mb: Type.Optional(Type.Integer({ minimum: 1 })),
                  log_rate_limit_in_bytes_per_second: Type.Optional(Type.Integer({ minimum: -1 })),
                  canary: Type.Optional(Type.Object({ steps: Type.Optional(Type.Array(Type.Object({ instance_weight: Type.Integer({ minimum: 1, maximum: 100 }) }, { additionalProperties: false }), { minItems: 1, maxItems: 100 })) }, { additionalProperties: false })),
                },
                { additionalProperties: false },
              ),
            ),
            relationships: Type.Object({ app: Rel }, { additionalProperties: false }),
            metadata: Metadata,
          },
          { additionalProperties: false },
        ),
      },
    },
    async (req, reply) => {
      type Body = { droplet?: { guid: string }; revision?: { guid: string }; strategy?: 'rolling' | 'canary'; options?: { max_in_flight?: number; web_instances?: number; memory_in_mb?: number; canary?: { steps?: { instance_weight: number }[] } }; relationships: { app: { data: { guid: string } } } };
      const body = req.body as Body;
      const svc = await findApp(req.principal, body.relationships.app.data.guid).catch(() => {
        throw ValidationError.one('relationships.app', 'exists', 'Unable to use app. Ensure that the app exists and you have access to it.');
      });
      if (body.droplet && body.revision) throw ValidationError.one('droplet', 'exclusive', 'Cannot set both droplet and revision');
      const strategy = body.strategy ?? 'rolling';
      const steps = body.options?.canary?.steps;
      if (steps && strategy !== 'canary') throw ValidationError.one('options.canary', 'strategy', "canary steps are only valid with strategy 'canary'");
      if (steps) {
        for (let i = 1; i < steps.length; i++) if (steps[i].instance_weight <= steps[i - 1].instance_weight) throw ValidationError.one(`options.canary.steps.${i}.instance_weight`, 'ascending', 'Canary step weights must be in ascending order');
      }
      let buildId: string | undefined;
      let release: number | undefined;
      if (body.droplet) {
        const id = buildIdOfDroplet(body.droplet.guid);
        const b = id ? await store.builds.find(id) : undefined;
        if (!b || b.status !== 'SUCCESS' || b.projectId !== svc.projectId || b.serviceId !== svc.id) throw ValidationError.one('droplet', 'exists', 'Unable to assign current droplet. Ensure the droplet exists and belongs to this app.');
        buildId = b.id;
      } else if (body.revision) {
        const rel = await store.releases.find(body.revision.guid);
        if (!rel || rel.serviceKey !== serviceKey(svc.projectId, svc.id)) throw ValidationError.one('revision', 'exists', 'The revision does not exist');
        release = rel.number;
      } else {
        buildId = await currentBuildId(svc);
        if (!buildId) throw new UnprocessableError('Invalid droplet. Please specify a droplet in the request or set a current droplet for the app.');
      }
      if (body.options?.web_instances !== undefined || body.options?.memory_in_mb !== undefined) await scale(req.principal, svc, { instances: body.options.web_instances, memory_in_mb: body.options.memory_in_mb });
      const r = await catalog.deploy(req.principal, svc.projectId, svc.id, {
        buildId,
        release,
        strategy,
        maxInFlight: body.options?.max_in_flight,
        canarySteps: steps?.map((s) => ({ instanceWeight: s.instance_weight })),
      });
      return reply.status(201).send(await deploymentOf(baseOf(req), await store.services.get(svc.projectId, svc.id), r));
    },
  );
  app.get('/v3/deployments', { schema: { tags: ['cf'], querystring: ListQuery } }, async (req) => {
    const q = req.query as ListQ;
    const apps = csv(q.app_guids);
    const values = csv(q.status_values);
    const reasons = csv(q.status_reasons);
    const out = [];
    for (const svc of (await allApps(req.principal)).filter((s) => !apps || apps.has(appGuid(s)))) {
      const rollouts = (await store.rollouts.list(serviceKey(svc.projectId, svc.id), 1000)).sort((a, b) => a.number - b.number);
      for (const r of rollouts) {
        const v = await deploymentOf(baseOf(req), svc, r);
        if ((!values || values.has(v.status.value)) && (!reasons || reasons.has(v.status.reason))) out.push(v);
      }
    }
    return paginated(out, q, baseOf(req), '/v3/deployments');
  });
  app.get('/v3/deployments/:guid', { schema: { tags: ['cf'], params: GuidParams } }, async (req) => {
    const { r, svc } = await findDeployment(req.principal, (req.params as { guid: string }).guid);
    return deploymentOf(baseOf(req), svc, r);
  });
  app.post('/v3/deployments/:guid/actions/cancel', { schema: { tags: ['cf'], params: GuidParams } }, async (req) => {
    const { r, svc } = await findDeployment(req.principal, (req.params as { guid: string }).guid);
    if (r.status !== 'IN_PROGRESS') throw new UnprocessableError(`Cannot cancel a ${r.status === 'COMPLETED' ? 'DEPLOYED' : r.status} deployment`);
    await catalog.cancelRollout(req.principal, svc.projectId, svc.id, r.number);
    return deploymentOf(baseOf(req), svc, await store.rollouts.get(r.id));
  });
  app.post('/v3/deployments/:guid/actions/continue', { schema: { tags: ['cf'], params: GuidParams } }, async (req) => {
    const { r, svc } = await findDeployment(req.principal, (req.params as { guid: string }).guid);
    if (r.status !== 'IN_PROGRESS' || !r.paused) {
      const s = (await deploymentOf('', svc, r)).status;
      throw new UnprocessableError(`Cannot continue a deployment with status: ${s.value} and reason: ${s.reason}`);
    }
    await catalog.continueRollout(req.principal, svc.projectId, svc.id, r.number);
    return deploymentOf(baseOf(req), svc, await store.rollouts.get(r.id));
  });

  // ---- revisions --------------------------------------------------------------------------------------------
  const revisionsOf = async (p: Principal, base: string, svc: ServiceRecord, onlyDeployed: boolean) => {
    const key = serviceKey(svc.projectId, svc.id);
    const rels = (await store.releases.list(key, 1000)).sort((a, b) => a.number - b.number);
    const live = new Set((await catalog.instances(p, svc.projectId, svc.id)).filter((i) => i.state !== 'stopping' && i.state !== 'exited' && i.state !== 'crashed').map((i) => i.releaseId));
    if (svc.targetReleaseId) live.add(svc.targetReleaseId);
    return rels.map((rel, i) => revisionView(base, svc, rel, rels[i - 1], live.has(rel.id))).filter((v) => !onlyDeployed || v.deployed);
  };
  app.get('/v3/apps/:guid/revisions', { schema: { tags: ['cf'], params: GuidParams, querystring: ListQuery } }, async (req) => {
    const q = req.query as ListQ;
    const versions = csv(q.versions);
    const svc = await findApp(req.principal, (req.params as { guid: string }).guid);
    const list = (await revisionsOf(req.principal, baseOf(req), svc, false)).filter((v) => !versions || versions.has(String(v.version)));
    return paginated(list, q, baseOf(req), `/v3/apps/${appGuid(svc)}/revisions`);
  });
  app.get('/v3/apps/:guid/revisions/deployed', { schema: { tags: ['cf'], params: GuidParams, querystring: ListQuery } }, async (req) => {
    const svc = await findApp(req.principal, (req.params as { guid: string }).guid);
    return paginated(await revisionsOf(req.principal, baseOf(req), svc, true), req.query as ListQ, baseOf(req), `/v3/apps/${appGuid(svc)}/revisions/deployed`);
  });
  const findRevision = async (p: Principal, guid: string) => {
    const rel = await store.releases.find(guid);
    if (!rel) throw new NotFoundError('revision', guid);
    const svc = await appOfKey(p, rel.serviceKey).catch(() => {
      throw new NotFoundError('revision', guid);
    });
    return { rel, svc };
  };
  app.get('/v3/revisions/:guid', { schema: { tags: ['cf'], params: GuidParams } }, async (req) => {
    const { rel, svc } = await findRevision(req.principal, (req.params as { guid: string }).guid);
    return (await revisionsOf(req.principal, baseOf(req), svc, false)).find((v) => v.guid === rel.id);
  });
  app.get('/v3/revisions/:guid/environment_variables', { schema: { tags: ['cf'], params: GuidParams } }, async (req) => {
    const { rel, svc } = await findRevision(req.principal, (req.params as { guid: string }).guid);
    auth.authorize(req.principal, svc.projectId, 'write');
    return { var: rel.spec.env, links: { self: { href: `${baseOf(req)}/v3/revisions/${rel.id}/environment_variables` }, revision: { href: `${baseOf(req)}/v3/revisions/${rel.id}` }, app: { href: `${baseOf(req)}/v3/apps/${appGuid(svc)}` } } };
  });
}

function envStrings(vars: Record<string, unknown>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(vars)) if (v !== null) out[k] = String(v);
  return out;
}
