/**
 * Native run routes (RFC 9457 errors): a job run's output, and one-off runs of a service's current release
 * with command and environment overrides (the release's artifact, env and files; the run's own record,
 * status, exit code and output).
 */
import { Type } from '@sinclair/typebox';
import type { Api, ApiDeps } from '../deps.ts';
import type { RunRecord } from '../../domain/job.ts';

const ServiceParams = Type.Object({ projectId: Type.String({ maxLength: 100 }), serviceId: Type.String({ maxLength: 100 }) });
const ServiceRunParams = Type.Object({ projectId: Type.String({ maxLength: 100 }), serviceId: Type.String({ maxLength: 100 }), runId: Type.String({ maxLength: 300 }) });
const JobRunParams = Type.Object({ projectId: Type.String({ maxLength: 100 }), jobId: Type.String({ maxLength: 100 }), runId: Type.String({ maxLength: 300 }) });
const Tail = Type.Object({ tail: Type.Optional(Type.Integer({ minimum: 1, maximum: 100_000 })) });
const StartServiceRun = Type.Union([
  Type.Object(
    {
      command: Type.Optional(Type.String({ minLength: 1, maxLength: 16384, description: 'shell command; default: the release web command' })),
      env: Type.Optional(Type.Record(Type.String({ maxLength: 256 }), Type.String({ maxLength: 256 * 1024 }), { description: 'environment overrides on top of the release environment' })),
    },
    { additionalProperties: false },
  ),
  Type.Null(),
]);

/** The native shape of a run: slipway's own status words. */
export function nativeRunView(r: RunRecord): Record<string, unknown> {
  return {
    id: r.id,
    number: r.number,
    projectId: r.projectId,
    ...(r.ownerKind === 'job' ? { jobId: r.jobId } : { serviceId: r.jobId }),
    status: r.status,
    exitCode: r.exitCode,
    attempts: r.attempts,
    backoffLimit: r.spec.backoffLimit,
    activeDeadlineSeconds: r.spec.activeDeadlineSeconds,
    message: r.message,
    command: r.spec.command,
    ...(r.spec.releaseNumber ? { release: r.spec.releaseNumber } : {}),
    ...(r.spec.buildId ? { buildId: r.spec.buildId } : {}),
    scheduledFor: r.scheduleTick,
    createdAt: r.createdAt,
    startedAt: r.startedAt,
    finishedAt: r.finishedAt,
  };
}

export function registerNativeRuns(app: Api, deps: ApiDeps): void {
  const jobs = deps.jobs;
  if (!jobs) return;
  const tags = { tags: ['runs'] };

  app.get('/projects/:projectId/jobs/:jobId/runs/:runId/logs', { schema: { ...tags, summary: 'Output of every attempt of a job run', params: JobRunParams, querystring: Tail } }, async (req) => {
    const { projectId, jobId, runId } = req.params as { projectId: string; jobId: string; runId: string };
    return { lines: await jobs.runLogs(req.principal, projectId, 'job', jobId, runId, (req.query as { tail?: number }).tail) };
  });

  app.post('/projects/:projectId/services/:serviceId/runs', { schema: { ...tags, summary: "One-off run of the service's current release", params: ServiceParams, body: StartServiceRun } }, async (req, reply) => {
    const { projectId, serviceId } = req.params as { projectId: string; serviceId: string };
    const run = await jobs.startServiceRun(req.principal, projectId, serviceId, (req.body ?? {}) as { command?: string; env?: Record<string, string> });
    return reply.status(201).send(nativeRunView(run));
  });
  app.get('/projects/:projectId/services/:serviceId/runs', { schema: { ...tags, params: ServiceParams } }, async (req) => {
    const { projectId, serviceId } = req.params as { projectId: string; serviceId: string };
    return { runs: (await jobs.listServiceRuns(req.principal, projectId, serviceId)).map(nativeRunView) };
  });
  app.get('/projects/:projectId/services/:serviceId/runs/:runId', { schema: { ...tags, params: ServiceRunParams } }, async (req) => {
    const { projectId, serviceId, runId } = req.params as { projectId: string; serviceId: string; runId: string };
    return nativeRunView(await jobs.getServiceRun(req.principal, projectId, serviceId, runId));
  });
  app.get('/projects/:projectId/services/:serviceId/runs/:runId/logs', { schema: { ...tags, params: ServiceRunParams, querystring: Tail } }, async (req) => {
    const { projectId, serviceId, runId } = req.params as { projectId: string; serviceId: string; runId: string };
    return { lines: await jobs.runLogs(req.principal, projectId, 'service', serviceId, runId, (req.query as { tail?: number }).tail) };
  });
}
