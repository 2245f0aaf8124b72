/**
 * The Northflank-shaped `/v1` face. Thin: each handler translates shape and calls a use case. Every
 * success is HTTP 200 with `{ data }` (the official client treats any other status as an error).
 */
import { Type } from '@sinclair/typebox';
import type { Api, ApiDeps } from '../deps.ts';
import { PLANS } from '../../domain/plans.ts';
import type { PortSpec, ServiceKind, ServiceSpec } from '../../domain/service.ts';
import { DEFAULT_PLAN, buildView, portsView, projectView, serviceListItem } from './service-view.ts';
import { addonSummary } from './addons.ts';
import { serviceViewer } from './service-source.ts';
import { bundleOfSource, bundlePath, sourcePatch } from './build-source.ts';
import * as S from './schema/index.ts';
import { ValidationError } from '../../errors/errors.ts';
import { idFromName } from '../../domain/ids.ts';
import { isSha512Crypt, sha512Crypt } from '../../router/password-hash.ts';
import { REDACTED_PASSWORD } from './service-view.ts';
import { paginate, type PageQuery } from './pagination.ts';

const ProjectParams = Type.Object({ projectId: Type.String({ maxLength: 100 }) });
const ServiceParams = Type.Object({ projectId: Type.String({ maxLength: 100 }), serviceId: Type.String({ maxLength: 100 }) });
const BuildParams = Type.Object({ projectId: Type.String({ maxLength: 100 }), serviceId: Type.String({ maxLength: 100 }), buildId: Type.String({ maxLength: 100 }) });
const Page = S.PaginationQuery;

const tags = (t: string) => ({ tags: [t] });

export function registerV1(app: Api, deps: ApiDeps): void {
  const { projects, catalog, deploys, builds, domain } = deps;
  const serviceView = serviceViewer(deps);

  app.get('/v1/plans', { schema: { ...tags('plans'), summary: 'List plans (the size catalogue)' } }, async () => ({
    data: {
      plans: PLANS.map((p) => ({ id: p.id, name: p.id, currency: 'usd', amountPerMonth: 0, amountPerHour: 0, cpuResource: p.cpu, ramResource: p.memoryMb })),
    },
  }));

  // Projects
  app.get('/v1/projects', { schema: { ...tags('projects'), querystring: Page } }, async (req) => {
    const { items, pagination } = await paginate(req.query as PageQuery, (after, limit) => projects.list(req.principal, { after, limit }));
    return { data: { projects: items.map((p) => ({ id: p.id, name: p.name, ...(p.description ? { description: p.description } : {}) })) }, pagination };
  });
  app.post('/v1/projects', { schema: { ...tags('projects'), body: S.CreateProject } }, async (req) => ({ data: projectView(await projects.create(req.principal, req.body as never), domain) }));
  app.put('/v1/projects', { schema: { ...tags('projects'), body: S.CreateProject } }, async (req) => ({ data: projectView(await projects.put(req.principal, req.body as never), domain) }));
  app.get('/v1/projects/:projectId', { schema: { ...tags('projects'), params: ProjectParams } }, async (req) => {
    const { projectId } = req.params as { projectId: string };
    const p = await projects.get(req.principal, projectId);
    const services = await catalog.list(req.principal, projectId, { limit: 1000 });
    const jobs = deps.jobs ? await deps.jobs.listJobs(req.principal, projectId, { limit: 1000 }) : [];
    const addons = deps.addons ? await deps.addons.list(req.principal, projectId, { limit: 1000 }) : [];
    const appId = (id: string) => `/${projectId}/${id}`;
    return {
      data: {
        ...projectView(p, domain),
        services: services.map((s) => ({ id: s.id, appId: appId(s.id), name: s.name, serviceType: s.kind })),
        jobs: jobs.map((j) => ({ id: j.id, appId: appId(j.id), name: j.name, jobType: j.kind })),
        addons: addons.map(addonSummary),
      },
    };
  });
  app.patch('/v1/projects/:projectId', { schema: { ...tags('projects'), params: ProjectParams, body: S.PatchProject } }, async (req) => {
    const { projectId } = req.params as { projectId: string };
    return { data: projectView(await projects.patch(req.principal, projectId, req.body as never), domain) };
  });
  app.delete('/v1/projects/:projectId', { schema: { ...tags('projects'), params: ProjectParams } }, async (req) => {
    const { projectId } = req.params as { projectId: string };
    await projects.delete(req.principal, projectId);
    return { data: {} };
  });

  // Services
  app.get('/v1/projects/:projectId/services', { schema: { ...tags('services'), params: ProjectParams, querystring: Page } }, async (req) => {
    const { projectId } = req.params as { projectId: string };
    const { items, pagination } = await paginate(req.query as PageQuery, (after, limit) => catalog.list(req.principal, projectId, { after, limit }));
    return { data: { services: items.map(serviceListItem) }, pagination };
  });

  const kinds: { kind: ServiceKind; create: unknown; patch: unknown }[] = [
    { kind: 'deployment', create: S.CreateDeploymentService, patch: S.PatchDeploymentService },
    { kind: 'combined', create: S.CreateCombinedService, patch: S.PatchCombinedService },
    { kind: 'build', create: S.CreateBuildService, patch: S.PatchBuildService },
  ];
  /** The stored spec of a service, if it exists: where a redacted password is looked up on a write. */
  const stored = (principal: Parameters<typeof catalog.get>[0], projectId: string, serviceId: string) => catalog.get(principal, projectId, serviceId).then((d) => d.service.spec, () => undefined);
  for (const { kind, create, patch } of kinds) {
    app.post(`/v1/projects/:projectId/services/${kind}`, { schema: { ...tags('services'), summary: `Create a ${kind} service`, params: ProjectParams, body: create as never } }, async (req) => {
      const { projectId } = req.params as { projectId: string };
      const bundle = await bundleOfSource(kind, req.body as ServiceSpec);
      const spec = await hashPortPasswords(req.body as ServiceSpec, async () => undefined);
      const created = await catalog.create(req.principal, projectId, kind, normalise(kind, spec));
      if (bundle) await builds.startFromBundle(req.principal, projectId, created.service.id, bundle);
      return { data: await serviceView(req.principal, bundle ? await catalog.get(req.principal, projectId, created.service.id) : created) };
    });
    app.put(`/v1/projects/:projectId/services/${kind}`, { schema: { ...tags('services'), summary: `Create or replace a ${kind} service`, params: ProjectParams, body: create as never } }, async (req) => {
      const { projectId } = req.params as { projectId: string };
      const bundle = await bundleOfSource(kind, req.body as ServiceSpec);
      const spec = await hashPortPasswords(req.body as ServiceSpec, () => stored(req.principal, projectId, idFromName((req.body as ServiceSpec).name)));
      const put = await catalog.put(req.principal, projectId, kind, normalise(kind, spec));
      if (bundle) await builds.startFromBundle(req.principal, projectId, put.service.id, bundle);
      return { data: await serviceView(req.principal, bundle ? await catalog.get(req.principal, projectId, put.service.id) : put) };
    });
    app.patch(`/v1/projects/:projectId/services/${kind}/:serviceId`, { schema: { ...tags('services'), summary: `Update a ${kind} service`, params: ServiceParams, body: patch as never } }, async (req) => {
      const { projectId, serviceId } = req.params as { projectId: string; serviceId: string };
      const { patch: body, bundle } = await sourcePatch(kind, (req.body ?? {}) as Partial<ServiceSpec>, () => stored(req.principal, projectId, serviceId));
      const patch = await hashPortPasswords(body, () => stored(req.principal, projectId, serviceId));
      const patched = await catalog.patch(req.principal, projectId, serviceId, kind, patch);
      if (bundle) await builds.startFromBundle(req.principal, projectId, serviceId, bundle);
      return { data: await serviceView(req.principal, bundle ? await catalog.get(req.principal, projectId, serviceId) : patched) };
    });
  }

  app.get('/v1/projects/:projectId/services/:serviceId', { schema: { ...tags('services'), params: ServiceParams } }, async (req) => {
    const { projectId, serviceId } = req.params as { projectId: string; serviceId: string };
    return { data: await serviceView(req.principal, await catalog.get(req.principal, projectId, serviceId), { domains: 'objects' }) };
  });
  // Ports (Northflank's get/update service ports). Domains come as objects here, as Northflank lists them
  // with their certificate; a public TCP port also names its router port (`tcpPort`, slipway's).
  const portsOf = (svc: { projectId: string; id: string; spec: ServiceSpec }) =>
    portsView(svc, domain, 'objects').map((view, i) => {
      const port = svc.spec.ports![i];
      const tcpPort = port.public && port.protocol === 'TCP' ? deps.router?.tcpPortOf?.(`${svc.projectId}/${svc.id}/${port.name}`) : undefined;
      return { ...view, ...(tcpPort ? { tcpPort } : {}) };
    });
  app.get('/v1/projects/:projectId/services/:serviceId/ports', { schema: { ...tags('services'), summary: "List a service's ports", params: ServiceParams } }, async (req) => {
    const { projectId, serviceId } = req.params as { projectId: string; serviceId: string };
    return { data: { ports: portsOf((await catalog.get(req.principal, projectId, serviceId)).service) } };
  });
  app.post('/v1/projects/:projectId/services/:serviceId/ports', { schema: { ...tags('services'), summary: "Replace a service's ports (an entry's id keeps that port's security)", params: ServiceParams, body: S.UpdateServicePorts } }, async (req) => {
    const { projectId, serviceId } = req.params as { projectId: string; serviceId: string };
    const d = await catalog.change(req.principal, projectId, serviceId, (cur) => {
      const ports = (req.body as { ports: (PortSpec & { id?: string })[] }).ports.map(({ id, ...port }, i) => {
        if (id === undefined) return port;
        const old = cur.spec.ports?.find((o) => o.name === id);
        if (!old) throw ValidationError.one(`ports.${i}.id`, 'exists', `service '${serviceId}' has no port '${id}'`);
        return port.security || !old.security ? port : { ...port, security: old.security };
      });
      return hashPortPasswords({ ports }, async () => cur.spec);
    });
    return { data: { ports: portsOf(d.service) } };
  });
  // A service's parts as Northflank reads and updates them one at a time: each read is a slice of the service
  // view, each update a PATCH of that slice (a new release and a rollout, as any PATCH). The runtime
  // environment is read in secrets.ts, with what the service inherits from its secret groups.
  type View = Record<string, unknown>;
  // `written` adds what Northflank's update result of a part carries besides the part (the environment's says
  // the update took and the restart it causes began: here a new release whose rollout has started).
  const parts: { path: string; body: unknown; query?: unknown; get?: false; read: (v: View, q: { show?: string }) => View; written?: View; patch: (b: View, cur: ServiceSpec) => Partial<ServiceSpec> }[] = [
    {
      path: 'runtime-environment',
      body: S.UpdateRuntimeEnvironment,
      get: false,
      written: { success: true, restartSuccessful: true },
      read: (v) => ({ runtimeEnvironment: v.runtimeEnvironment ?? {}, runtimeFiles: v.runtimeFiles ?? {} }),
      patch: (b) => ({ runtimeEnvironment: b.runtimeEnvironment as ServiceSpec['runtimeEnvironment'], ...(b.runtimeFiles !== undefined ? { runtimeFiles: b.runtimeFiles as ServiceSpec['runtimeFiles'] } : {}) }),
    },
    { path: 'health-checks', body: S.UpdateHealthChecks, read: (v) => ({ healthChecks: v.healthChecks ?? [] }), patch: (b) => ({ healthChecks: b.healthChecks as ServiceSpec['healthChecks'] }) },
    { path: 'deployment', body: S.UpdateDeployment, read: (v) => (v.deployment as View | undefined) ?? {}, patch: (b) => ({ deployment: b as unknown as ServiceSpec['deployment'] }) }, // merged one level over the stored one
    // Build parts (build and combined services). Build files and secret mounts do not exist here: refused by name.
    { path: 'build-arguments', body: S.UpdateBuildArguments, read: (v) => ({ buildArguments: v.buildArguments ?? {}, buildFiles: {} }), patch: (b) => ({ buildArguments: (b.buildArguments ?? {}) as ServiceSpec['buildArguments'] }) },
    // A new source (another branch, another repository) builds its head, as a PATCH of vcsData does.
    // A bundle-built service given a repository here builds from git from then on.
    { path: 'build-source', body: S.UpdateBuildSource, get: false, read: (v) => (v.vcsData as View | undefined) ?? {}, patch: (b, cur) => ({ vcsData: { ...cur.vcsData, ...b } as ServiceSpec['vcsData'], buildSource: 'git', bundleData: undefined }) },
    {
      path: 'build-options',
      body: S.UpdateBuildOptions,
      get: false,
      read: (v) => ({ buildSettings: v.buildSettings ?? {}, buildConfiguration: v.buildConfiguration ?? {} }),
      patch: ({ dockerfile, buildpack, ...configuration }, cur) => {
        if (dockerfile && buildpack) throw ValidationError.one('dockerfile', 'oneOf', 'give dockerfile or buildpack, not both');
        const engine = dockerfile ? { dockerfile } : buildpack ? { buildpack } : undefined;
        return {
          ...(engine ? { buildSettings: engine as ServiceSpec['buildSettings'] } : {}),
          ...(Object.keys(configuration).length ? { buildConfiguration: { ...cur.buildConfiguration, ...configuration } as ServiceSpec['buildConfiguration'] } : {}),
        };
      },
    },
  ];
  for (const part of parts) {
    const url = `/v1/projects/:projectId/services/:serviceId/${part.path}`;
    if (part.get !== false) {
      app.get(url, { schema: { ...tags('services'), summary: `Read a service's ${part.path}`, params: ServiceParams, ...(part.query ? { querystring: part.query as never } : {}) } }, async (req) => {
        const { projectId, serviceId } = req.params as { projectId: string; serviceId: string };
        return { data: part.read(await serviceView(req.principal, await catalog.get(req.principal, projectId, serviceId)), (req.query ?? {}) as { show?: string }) };
      });
    }
    app.post(url, { schema: { ...tags('services'), summary: `Update a service's ${part.path} (a new release, rolled out)`, params: ServiceParams, body: part.body as never } }, async (req) => {
      const { projectId, serviceId } = req.params as { projectId: string; serviceId: string };
      return { data: { ...part.read(await serviceView(req.principal, await catalog.change(req.principal, projectId, serviceId, (cur) => part.patch(req.body as View, cur.spec))), {}), ...part.written } };
    });
  }
  app.delete('/v1/projects/:projectId/services/:serviceId', { schema: { ...tags('services'), params: ServiceParams } }, async (req) => {
    const { projectId, serviceId } = req.params as { projectId: string; serviceId: string };
    await catalog.delete(req.principal, projectId, serviceId);
    return { data: {} };
  });
  app.post('/v1/projects/:projectId/services/:serviceId/scale', { schema: { ...tags('services'), params: ServiceParams, body: S.ScaleService } }, async (req) => {
    const { projectId, serviceId } = req.params as { projectId: string; serviceId: string };
    const body = (req.body ?? {}) as { instances?: number; deploymentPlan?: string };
    await catalog.scale(req.principal, projectId, serviceId, body);
    return { data: {} };
  });
  app.post('/v1/projects/:projectId/services/:serviceId/pause', { schema: { ...tags('services'), params: ServiceParams } }, async (req) => {
    const { projectId, serviceId } = req.params as { projectId: string; serviceId: string };
    await catalog.setPaused(req.principal, projectId, serviceId, true);
    return { data: {} };
  });
  app.post('/v1/projects/:projectId/services/:serviceId/resume', { schema: { ...tags('services'), params: ServiceParams, body: S.ResumeService } }, async (req) => {
    const { projectId, serviceId } = req.params as { projectId: string; serviceId: string };
    const body = (req.body ?? {}) as { instances?: number; deploymentPlan?: string };
    if (body.instances !== undefined || body.deploymentPlan) await catalog.scale(req.principal, projectId, serviceId, body);
    await catalog.setPaused(req.principal, projectId, serviceId, false);
    return { data: {} };
  });
  app.post('/v1/projects/:projectId/services/:serviceId/restart', { schema: { ...tags('services'), params: ServiceParams } }, async (req) => {
    const { projectId, serviceId } = req.params as { projectId: string; serviceId: string };
    await deploys.restart(req.principal, projectId, serviceId);
    return { data: {} };
  });
  app.get('/v1/projects/:projectId/services/:serviceId/containers', { schema: { ...tags('services'), params: ServiceParams, querystring: Page } }, async (req) => {
    const { projectId, serviceId } = req.params as { projectId: string; serviceId: string };
    const instances = await catalog.instances(req.principal, projectId, serviceId);
    const status = (s: string) => (s === 'ready' || s === 'running' ? 'TASK_RUNNING' : s === 'starting' ? 'TASK_STARTING' : s === 'stopping' ? 'TASK_KILLING' : 'TASK_FAILED');
    return {
      data: {
        containers: instances.map((i) => ({
          name: i.id,
          createdAt: i.startedAt ? Math.floor(Date.parse(i.startedAt) / 1000) : 0,
          updatedAt: i.startedAt ? Math.floor(Date.parse(i.startedAt) / 1000) : 0,
          status: status(i.state),
          host: '127.0.0.1',
          ready: i.ready,
          readyAt: i.readyAt ?? null,
          release: i.release,
          restarts: i.restarts,
          lastExitCode: i.lastExitCode,
          probes: i.probes ?? {},
        })),
      },
      pagination: { hasNextPage: false, count: instances.length },
    };
  });

  // Builds
  app.get('/v1/projects/:projectId/services/:serviceId/build', { schema: { ...tags('builds'), params: ServiceParams, querystring: Page } }, async (req) => {
    const { projectId, serviceId } = req.params as { projectId: string; serviceId: string };
    const list = await builds.list(req.principal, projectId, serviceId);
    return { data: { builds: list.map(buildView) }, pagination: { hasNextPage: false, count: list.length } };
  });
  app.post('/v1/projects/:projectId/services/:serviceId/build', { schema: { ...tags('builds'), params: ServiceParams, body: S.StartServiceBuild } }, async (req) => {
    const { projectId, serviceId } = req.params as { projectId: string; serviceId: string };
    const body = (req.body ?? {}) as { branch?: string; sha?: string; bundleUrl?: string };
    if (body.bundleUrl) {
      const file = bundlePath(body.bundleUrl);
      const fs = await import('node:fs/promises');
      const data = await fs.readFile(file).catch(() => {
        throw ValidationError.one('bundleUrl', 'exists', `cannot read ${file}`);
      });
      return { data: buildView(await builds.startFromBundle(req.principal, projectId, serviceId, data)) };
    }
    return { data: buildView(await builds.startFromGit(req.principal, projectId, serviceId, body)) };
  });
  app.get('/v1/projects/:projectId/services/:serviceId/build/:buildId', { schema: { ...tags('builds'), params: BuildParams } }, async (req) => {
    const { projectId, serviceId, buildId } = req.params as { projectId: string; serviceId: string; buildId: string };
    return { data: buildView(await builds.get(req.principal, projectId, serviceId, buildId)) };
  });
  app.delete('/v1/projects/:projectId/services/:serviceId/build/:buildId', { schema: { ...tags('builds'), summary: 'Abort a queued or running build (it ends ABORTED; what runs is not touched)', params: BuildParams } }, async (req) => {
    const { projectId, serviceId, buildId } = req.params as { projectId: string; serviceId: string; buildId: string };
    return { data: buildView(await builds.abort(req.principal, projectId, serviceId, buildId)) };
  });
}

/** Fill what a create leaves to defaults, so stored specs are complete. */
function normalise(kind: ServiceKind, body: ServiceSpec): ServiceSpec {
  const spec = { ...body } as ServiceSpec;
  // A build service's billing may name no plan (CreateServiceBuildData): it gets the default one.
  if (!spec.billing?.deploymentPlan) spec.billing = { ...spec.billing, deploymentPlan: DEFAULT_PLAN };
  if (kind !== 'build' && !spec.deployment) spec.deployment = { instances: 1 };
  return spec;
}

/**
 * Hashes every basic-auth password of `ports[].security` (port level and path rules) with SHA-512 crypt
 * before the spec reaches the services layer, so no plain password is ever stored. A value that already is
 * a `$6$` hash is kept. The redacted placeholder a read returns keeps the stored hash of the same user on
 * the same port, so a spec read and written back keeps its passwords; with no such hash it is refused.
 */
async function hashPortPasswords<T extends Partial<ServiceSpec>>(spec: T, previous: () => Promise<ServiceSpec | undefined>): Promise<T> {
  if (!spec.ports?.some((p) => p.security)) return spec;
  let before: ServiceSpec | undefined | null = null;
  const ports = [];
  for (const [i, port] of spec.ports.entries()) {
    if (!port.security) {
      ports.push(port);
      continue;
    }
    const security = structuredClone(port.security) as SecurityCredentials;
    for (const [where, creds] of credentialLists(security)) {
      for (const [j, c] of creds.entries()) {
        if (typeof c.password !== 'string' || isSha512Crypt(c.password)) continue;
        if (c.password !== REDACTED_PASSWORD) {
          c.password = sha512Crypt(c.password);
          continue;
        }
        if (before === null) before = await previous();
        const old = before?.ports?.find((p) => p.name === port.name)?.security as SecurityCredentials | undefined;
        const hash = old && credentialLists(old).flatMap(([, l]) => l).find((o) => o.username === c.username && typeof o.password === 'string' && isSha512Crypt(o.password))?.password;
        if (!hash) throw ValidationError.one(`ports.${i}.security.${where}.${j}.password`, 'password', 'send the password: the API never returns it, and no stored password of this user on this port can be kept');
        c.password = hash;
      }
    }
    ports.push({ ...port, security: security as Record<string, unknown> });
  }
  return { ...spec, ports };
}

interface CredentialEntry {
  username?: string;
  password?: string;
}
interface SecurityCredentials {
  credentials?: CredentialEntry[];
  securePathConfiguration?: { rules?: { securityPolicies?: { orPolicies?: { credentials?: CredentialEntry[] }; requiredPolicies?: { credentials?: CredentialEntry[] } } }[] };
}

/** Every credentials list of a port's security, with its field path. */
function credentialLists(sec: SecurityCredentials): [string, CredentialEntry[]][] {
  const out: [string, CredentialEntry[]][] = [];
  if (Array.isArray(sec.credentials)) out.push(['credentials', sec.credentials]);
  (sec.securePathConfiguration?.rules ?? []).forEach((r, k) => {
    for (const kind of ['orPolicies', 'requiredPolicies'] as const) {
      const list = r.securityPolicies?.[kind]?.credentials;
      if (Array.isArray(list)) out.push([`securePathConfiguration.rules.${k}.securityPolicies.${kind}.credentials`, list]);
    }
  });
  return out;
}
