/**
 * The Akkeris / Heroku formation face: `GET /sizes`, and `/apps/{app}/formation` where `{app}` is
 * `<service>-<project>` (Akkeris' `app-space`). A formation is a process type of the service: `web` (the only
 * routed type, the only one with `PORT`) keeps its count in `deployment.instances`, its size in the plan, its
 * command in the buildpack override and its health check as an HTTP readiness probe; other types live in
 * `processTypes`. Quantity is 0-20; 0 on `web` puts the app in maintenance mode. Errors are RFC 9457.
 */
import { derivedGuid } from '../../domain/ids.ts';
import { Type } from '@sinclair/typebox';
import type { Api, ApiDeps } from '../deps.ts';
import type { Principal } from '../../services/auth.ts';
import type { HealthCheckSpec, ProcessTypeSpec, ServiceRecord, ServiceSpec } from '../../domain/service.ts';
import { ConflictError, ForbiddenError, NotFoundError, ValidationError, type FieldProblem } from '../../errors/errors.ts';
import { PLANS, findPlan } from '../../domain/plans.ts';

const MAX_QUANTITY = 20;
const TYPE_PATTERN = '^[a-zA-Z][a-zA-Z0-9_-]{0,62}$';
const Quantity = Type.Union([Type.Integer(), Type.String({ pattern: '^[0-9]+$', maxLength: 6 })]);
const Fields = {
  size: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
  quantity: Type.Optional(Quantity),
  port: Type.Optional(Type.Union([Type.Integer({ minimum: 1, maximum: 65535 }), Type.String({ pattern: '^[0-9]{1,5}$' }), Type.Null()])),
  command: Type.Optional(Type.Union([Type.String({ minLength: 1, maxLength: 4096 }), Type.Null()])),
  healthcheck: Type.Optional(Type.Union([Type.String({ pattern: '^/', maxLength: 1024 }), Type.Null()])),
  removeHealthcheck: Type.Optional(Type.Boolean()),
  'remove-command': Type.Optional(Type.Boolean()),
};
const UpdateBody = Type.Object(Fields, { additionalProperties: false });
const BatchItem = Type.Object({ type: Type.String({ pattern: TYPE_PATTERN }), ...Fields }, { additionalProperties: false });
const CreateBody = Type.Object(
  {
    type: Type.String({ pattern: TYPE_PATTERN }),
    ...Fields,
    oneoff: Type.Optional(Type.Boolean()),
    options: Type.Optional(Type.Object({ env: Type.Optional(Type.Record(Type.String({ maxLength: 256 }), Type.String({ maxLength: 65536 }))), image: Type.Optional(Type.String({ maxLength: 1024 })) }, { additionalProperties: false })),
  },
  { additionalProperties: false },
);
const AppParams = Type.Object({ app: Type.String({ minLength: 3, maxLength: 201 }) });
const TypeParams = Type.Object({ app: Type.String({ minLength: 3, maxLength: 201 }), type: Type.String({ maxLength: 63 }) });

interface Change {
  type: string;
  size?: string;
  quantity?: number | string;
  port?: number | string | null;
  command?: string | null;
  healthcheck?: string | null;
  removeHealthcheck?: boolean;
  'remove-command'?: boolean;
}


function webPort(spec: ServiceSpec) {
  return (spec.ports ?? []).find((p) => p.public && (p.protocol === 'HTTP' || p.protocol === 'HTTP/2')) ?? spec.ports?.[0];
}

export function registerFormations(app: Api, deps: ApiDeps): void {
  const { auth, catalog, store } = deps;

  /** `<service>-<project>`: every split at a dash is tried, so dashes inside either name work. */
  const findApp = async (p: Principal, name: string): Promise<ServiceRecord> => {
    for (let i = name.indexOf('-'); i > 0; i = name.indexOf('-', i + 1)) {
      const svc = await store.services.find(name.slice(i + 1), name.slice(0, i));
      if (svc && svc.kind !== 'build') {
        auth.authorize(p, svc.projectId, 'read');
        return svc;
      }
    }
    throw new NotFoundError('app', name);
  };

  const view = (svc: ServiceRecord, type: string) => {
    const appName = `${svc.id}-${svc.projectId}`;
    const base = { app: { name: appName, id: derivedGuid(`app:${svc.projectId}/${svc.id}/${svc.createdAt}`) }, id: derivedGuid(`formation:${svc.projectId}/${svc.id}/${svc.createdAt}/${type}`), type };
    if (type === 'web') {
      const bp = svc.spec.deployment?.buildpack;
      const hc = (svc.spec.healthChecks ?? []).find((h) => h.type === 'readinessProbe' && h.protocol === 'HTTP');
      return {
        ...base,
        command: bp?.configType === 'customCommand' ? (bp.customCommand ?? null) : null,
        quantity: svc.spec.deployment?.instances ?? 0,
        size: svc.spec.billing.deploymentPlan,
        port: webPort(svc.spec)?.internalPort ?? null,
        healthcheck: hc?.path ?? null,
        created_at: svc.createdAt,
        updated_at: svc.updatedAt,
      };
    }
    const f = svc.spec.processTypes?.[type];
    if (!f) throw new NotFoundError('formation', type);
    return { ...base, command: f.command ?? null, quantity: f.quantity, size: f.size ?? svc.spec.billing.deploymentPlan, port: null, healthcheck: null, created_at: f.createdAt ?? svc.createdAt, updated_at: f.updatedAt ?? svc.updatedAt };
  };
  const list = (svc: ServiceRecord) => ['web', ...Object.keys(svc.spec.processTypes ?? {}).filter((t) => t !== 'web').sort()].map((t) => view(svc, t));

  /**
   * The spec after a set of changes, or the problems that refuse them all. `creating` names a type that
   * must not exist yet; every other type must.
   */
  const apply = (svc: ServiceRecord, changes: Change[], opts: { creating?: string; prefix: (i: number) => string }): Partial<ServiceSpec> => {
    const problems: FieldProblem[] = [];
    const bad = (i: number, field: string, rule: string, message: string) => problems.push({ field: `${opts.prefix(i)}${field}`, rule, message });
    let deployment = { ...(svc.spec.deployment ?? { instances: 1 }) };
    let billing = { ...svc.spec.billing };
    let ports = [...(svc.spec.ports ?? [])];
    let healthChecks: HealthCheckSpec[] = [...(svc.spec.healthChecks ?? [])];
    const types: Record<string, ProcessTypeSpec> = { ...(svc.spec.processTypes ?? {}) };
    const now = new Date().toISOString();
    const seen = new Set<string>();
    changes.forEach((c, i) => {
      if (seen.has(c.type)) bad(i, 'type', 'unique', `process type '${c.type}' appears twice`);
      seen.add(c.type);
      const exists = c.type === 'web' || !!types[c.type];
      if (opts.creating === c.type && exists) throw new ConflictError(`formation '${c.type}' already exists: PATCH it`);
      if (opts.creating !== c.type && !exists) return void bad(i, 'type', 'exists', `no formation '${c.type}' on this app: POST it first`);
      let quantity: number | undefined;
      if (c.quantity !== undefined) {
        quantity = Number(c.quantity);
        if (!Number.isInteger(quantity) || quantity < 0 || quantity > MAX_QUANTITY) bad(i, 'quantity', 'range', `quantity must be an integer from 0 to ${MAX_QUANTITY} (0 is maintenance mode)`);
      }
      if (c.size !== undefined && !findPlan(c.size)) bad(i, 'size', 'exists', `unknown size '${c.size}': see GET /sizes`);
      if (c.type !== 'web') {
        if (c.port !== undefined && c.port !== null) bad(i, 'port', 'web', "only the 'web' process takes traffic and a port");
        if (c.healthcheck !== undefined && c.healthcheck !== null) bad(i, 'healthcheck', 'web', "health checks probe the web port: only 'web' has one");
      }
      if (problems.length) return;
      if (c.type === 'web') {
        if (quantity !== undefined) deployment.instances = quantity;
        if (c.size !== undefined) billing = { ...billing, deploymentPlan: c.size };
        if (c['remove-command'] || c.command === null) delete deployment.buildpack;
        else if (c.command !== undefined) deployment = { ...deployment, buildpack: { configType: 'customCommand', customCommand: c.command } };
        if (c.port !== undefined && c.port !== null) {
          const port = Number(c.port);
          const cur = webPort({ ...svc.spec, ports });
          if (cur) {
            ports = ports.map((p) => (p === cur ? { ...p, internalPort: port } : p));
            healthChecks = healthChecks.map((h) => (h.port === cur.internalPort ? { ...h, port } : h));
          } else ports = [...ports, { name: 'web', internalPort: port, public: true, protocol: 'HTTP' }];
        }
        if (c.removeHealthcheck || c.healthcheck === null) healthChecks = healthChecks.filter((h) => !(h.type === 'readinessProbe' && h.protocol === 'HTTP'));
        else if (c.healthcheck !== undefined) {
          const p = webPort({ ...svc.spec, ports });
          if (!p) bad(i, 'healthcheck', 'port', 'the web process has no port to probe: set `port` first');
          else {
            healthChecks = [
              ...healthChecks.filter((h) => !(h.type === 'readinessProbe' && h.protocol === 'HTTP')),
              { protocol: 'HTTP', type: 'readinessProbe', path: c.healthcheck, port: p.internalPort, initialDelaySeconds: 1, periodSeconds: 10, timeoutSeconds: 2, failureThreshold: 3, successThreshold: 1 },
            ];
          }
        }
      } else {
        const prev = types[c.type] ?? { quantity: 1, createdAt: now };
        const next: ProcessTypeSpec = { ...prev, updatedAt: now };
        if (quantity !== undefined) next.quantity = quantity;
        if (c.size !== undefined) next.size = c.size;
        if (c['remove-command'] || c.command === null) delete next.command;
        else if (c.command !== undefined) next.command = c.command;
        types[c.type] = next;
      }
    });
    if (problems.length) throw new ValidationError(problems);
    return { deployment, billing, ports, healthChecks, processTypes: types };
  };

  const save = async (p: Principal, svc: ServiceRecord, patch: Partial<ServiceSpec>) => (await catalog.patch(p, svc.projectId, svc.id, svc.kind, patch)).service;

  app.get('/sizes', { schema: { tags: ['formations'], summary: 'Instance sizes (memory enforced on the process runtime, CPU advisory)' } }, async () =>
    PLANS.map((plan) => ({ name: plan.id, resources: { requests: { memory: `${plan.memoryMb}Mi`, cpu: `${Math.round(plan.cpu * 1000)}m` }, limits: { memory: `${plan.memoryMb}Mi`, cpu: `${Math.round(plan.cpu * 1000)}m` } } })),
  );

  app.get('/apps/:app/formation', { schema: { tags: ['formations'], params: AppParams } }, async (req) => list(await findApp(req.principal, (req.params as { app: string }).app)));

  app.post('/apps/:app/formation', { schema: { tags: ['formations'], params: AppParams, body: CreateBody } }, async (req) => {
    const svc = await findApp(req.principal, (req.params as { app: string }).app);
    const body = req.body as Change & { oneoff?: boolean; options?: { env?: Record<string, string>; image?: string } };
    if (body.oneoff) {
      // A one-off formation runs the current release once, with its own command and env overrides, as a run.
      if (!deps.jobs) throw ValidationError.one('oneoff', 'supported', 'one-off runs are not available on this platform');
      if (body.quantity !== undefined && Number(body.quantity) !== 1) throw ValidationError.one('quantity', 'oneoff', 'a one-off formation runs once: quantity 1');
      const run = await deps.jobs.startServiceRun(req.principal, svc.projectId, svc.id, { command: body.command ?? undefined, env: body.options?.env, image: body.options?.image }).catch((err: Error & { problems?: { field: string }[] }) => {
        // The run's own field is `image`; here it is the formation's `options.image`.
        if (err.problems) for (const p of err.problems) if (p.field === 'image') p.field = 'options.image';
        throw err;
      });
      const v = { ...view(svc, 'web'), id: run.id, type: body.type, quantity: 1, size: body.size ?? svc.spec.billing.deploymentPlan, command: body.command ?? null, port: null, healthcheck: null, oneoff: true, options: { env: body.options?.env ?? {} }, created_at: run.createdAt, updated_at: run.createdAt };
      return { ...v, run: { id: run.id, status: run.status, href: `/projects/${svc.projectId}/services/${svc.id}/runs/${run.id}` } };
    }
    if (body.size === undefined) throw ValidationError.one('size', 'required', 'size is required: see GET /sizes');
    if (body.quantity === undefined) throw ValidationError.one('quantity', 'required', `quantity is required (0-${MAX_QUANTITY})`);
    const target = svc.targetReleaseId ? await store.releases.find(svc.targetReleaseId) : undefined;
    if (body.type !== 'web' && !body.command && target && !target.spec.processes[body.type]) {
      throw ValidationError.one('type', 'procfile', `the running release has no '${body.type}' process type in its Procfile: add it there or give a command`);
    }
    const next = await save(req.principal, svc, apply(svc, [body], { creating: body.type, prefix: () => '' }));
    return view(next, body.type);
  });

  app.patch('/apps/:app/formation', { schema: { tags: ['formations'], params: AppParams, body: Type.Array(BatchItem, { minItems: 1, maxItems: 50 }) } }, async (req) => {
    const svc = await findApp(req.principal, (req.params as { app: string }).app);
    const changes = req.body as Change[];
    const next = await save(req.principal, svc, apply(svc, changes, { prefix: (i) => `${i}.` }));
    return changes.map((c) => view(next, c.type));
  });

  app.get('/apps/:app/formation/:type', { schema: { tags: ['formations'], params: TypeParams } }, async (req) => {
    const { app: name, type } = req.params as { app: string; type: string };
    return view(await findApp(req.principal, name), type);
  });

  app.patch('/apps/:app/formation/:type', { schema: { tags: ['formations'], params: TypeParams, body: UpdateBody } }, async (req) => {
    const { app: name, type } = req.params as { app: string; type: string };
    const svc = await findApp(req.principal, name);
    if (type !== 'web' && !svc.spec.processTypes?.[type]) throw new NotFoundError('formation', type);
    const next = await save(req.principal, svc, apply(svc, [{ ...(req.body as Omit<Change, 'type'>), type }], { prefix: () => '' }));
    return view(next, type);
  });

  app.delete('/apps/:app/formation/:type', { schema: { tags: ['formations'], params: TypeParams } }, async (req) => {
    const { app: name, type } = req.params as { app: string; type: string };
    const svc = await findApp(req.principal, name);
    auth.authorize(req.principal, svc.projectId, 'write');
    if (type === 'web') throw new ForbiddenError("the 'web' formation cannot be removed: scale it to 0 for maintenance mode");
    if (!svc.spec.processTypes?.[type]) throw new NotFoundError('formation', type);
    const before = view(svc, type);
    const types = { ...svc.spec.processTypes };
    delete types[type];
    await save(req.principal, svc, { processTypes: types });
    return before;
  });

}
