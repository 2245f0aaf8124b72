/** The Cloud Foundry web process of an app: its command, health checks, scale and instance stats. */
import { Type, type TSchema } from '@sinclair/typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Api, ApiDeps } from '../deps.ts';
import type { Principal } from '../../services/auth.ts';
import type { ServiceRecord, ServiceSpec, HealthCheckSpec } from '../../domain/service.ts';
import { NotFoundError, ValidationError } from '../../errors/errors.ts';
import { PLANS } from '../../domain/plans.ts';
import { APP_PORT, appGuid, paginated, processView, statsView } from './views.ts';
import { Guid, GuidParams, ListQuery, Metadata, type ListQ } from './schemas.ts';
import { baseOf, csv, type CfLookups } from './context.ts';

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

/** Scales the web process; `memory_in_mb` picks the Northflank plan with that much memory. */
export async function scaleProcess(catalog: ApiDeps['catalog'], p: Principal, svc: ServiceRecord, body: { instances?: number; memory_in_mb?: number }) {
  let plan: string | undefined;
  if (body.memory_in_mb !== undefined) {
    const match = PLANS.find((x) => x.family === 'northflank' && x.memoryMb === body.memory_in_mb);
    if (!match) throw ValidationError.one('memory_in_mb', 'enum', `memory_in_mb must be one of ${[...new Set(PLANS.filter((x) => x.family === 'northflank').map((x) => x.memoryMb))].join(', ')}`);
    plan = match.id;
  }
  return catalog.scale(p, svc.projectId, svc.id, { instances: body.instances, deploymentPlan: plan });
}

export function registerCfProcesses(app: Api, deps: ApiDeps, cx: CfLookups): void {
  const { catalog, store } = deps;
  const { allApps, findApp } = cx;

  // ---- processes ----------------------------------------------------------------------------------------
  const processJson = async (base: string, svc: ServiceRecord) => processView(base, svc, svc.targetReleaseId ? await store.releases.find(svc.targetReleaseId) : undefined);
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
      const [instances, usage] = await Promise.all([catalog.instances(req.principal, svc.projectId, svc.id), deps.metrics?.latestUsage(req.principal, svc.projectId, svc.id)]);
      return statsView(svc, instances, usage);
    });
    app.post(`${prefix}/actions/scale`, { schema: { tags: ['cf'], params: schemaParams, body: scaleBody } }, async (req, reply: FastifyReply) => {
      const svc = await resolve(req);
      await scaleProcess(catalog, req.principal, svc, req.body as never);
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
}
