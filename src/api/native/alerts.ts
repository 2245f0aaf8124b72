/**
 * Native alert routes (RFC 9457 errors): a notification integration's delivery history (the client has no
 * call for it) and uptime checks of a project's public ports. See docs/alerts.md.
 */
import { Type } from '@sinclair/typebox';
import type { Api } from '../deps.ts';
import type { ObserveApi } from '../../observe/observe-api.ts';
import type { UptimeCheckInput } from '../../observe/alerts/uptime-checks.ts';

const Opt = Type.Optional;
const fields = {
  serviceId: Type.String({ minLength: 1, maxLength: 100 }),
  port: Type.String({ minLength: 1, maxLength: 100, description: "the public HTTP port's name (e.g. p01)" }),
  path: Opt(Type.String({ minLength: 1, maxLength: 2000, pattern: '^/' })),
  intervalSeconds: Opt(Type.Integer({ minimum: 5, maximum: 86_400, description: 'default 60' })),
  timeoutSeconds: Opt(Type.Integer({ minimum: 1, maximum: 60, description: 'default 10' })),
  failureThreshold: Opt(Type.Integer({ minimum: 1, maximum: 100, description: 'failures in a row that make the check down; default 3' })),
  notificationIds: Opt(Type.Array(Type.String({ minLength: 1, maxLength: 100 }), { maxItems: 20, description: 'notification integrations alerted on down and up' })),
};
const CreateCheck = Type.Object({ id: Opt(Type.String({ minLength: 1, maxLength: 63 })), ...fields }, { additionalProperties: false });
const PatchCheck = Type.Object({ ...fields, serviceId: Opt(fields.serviceId), port: Opt(fields.port) }, { additionalProperties: false });
const ProjectParams = Type.Object({ projectId: Type.String({ maxLength: 100 }) });
const CheckParams = Type.Object({ projectId: Type.String({ maxLength: 100 }), checkId: Type.String({ maxLength: 100 }) });

export function registerNativeAlerts(app: Api, observe: ObserveApi): void {
  app.get(
    '/notifications/:notificationId/deliveries',
    { schema: { tags: ['notifications'], summary: "A notification integration's deliveries, newest first: status, attempts, last answer (admin)", params: Type.Object({ notificationId: Type.String({ maxLength: 100 }) }), querystring: Type.Object({ limit: Opt(Type.Integer({ minimum: 1, maximum: 500 })) }) } },
    async (req) => ({ deliveries: await observe.notifications.deliveries(req.principal, (req.params as { notificationId: string }).notificationId, (req.query as { limit?: number }).limit ?? 50) }),
  );
  const tags = { tags: ['uptime checks'] };
  app.get('/projects/:projectId/uptime-checks', { schema: { ...tags, summary: "A project's uptime checks with their state", params: ProjectParams } }, async (req) => ({
    checks: await observe.uptime.list(req.principal, (req.params as { projectId: string }).projectId),
  }));
  app.post('/projects/:projectId/uptime-checks', { schema: { ...tags, summary: "Check a service's public HTTP port periodically; alert on failures and recovery", params: ProjectParams, body: CreateCheck } }, async (req, reply) => {
    return reply.status(201).send(await observe.uptime.create(req.principal, (req.params as { projectId: string }).projectId, req.body as UptimeCheckInput));
  });
  app.get('/projects/:projectId/uptime-checks/:checkId', { schema: { ...tags, summary: 'Read an uptime check', params: CheckParams } }, async (req) => {
    const { projectId, checkId } = req.params as { projectId: string; checkId: string };
    return observe.uptime.get(req.principal, projectId, checkId);
  });
  app.patch('/projects/:projectId/uptime-checks/:checkId', { schema: { ...tags, summary: 'Change an uptime check (it starts over: state unknown)', params: CheckParams, body: PatchCheck } }, async (req) => {
    const { projectId, checkId } = req.params as { projectId: string; checkId: string };
    return observe.uptime.update(req.principal, projectId, checkId, req.body as Partial<UptimeCheckInput>);
  });
  app.delete('/projects/:projectId/uptime-checks/:checkId', { schema: { ...tags, summary: 'Delete an uptime check', params: CheckParams } }, async (req, reply) => {
    const { projectId, checkId } = req.params as { projectId: string; checkId: string };
    await observe.uptime.delete(req.principal, projectId, checkId);
    return reply.status(204).send();
  });
}
