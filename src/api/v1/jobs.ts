/**
 * The Northflank `/v1` job routes: manual and cron jobs, their runs and run history. Thin: shapes in,
 * `JobsService` calls, Northflank shapes out (`{ data }`, HTTP 200). Runs carry Northflank's fields
 * (`status` SUCCESS|RUNNING|FAILED, `active`, `concluded`, …) plus slipway's `runStatus`
 * (PENDING|RUNNING|SUCCEEDED|FAILED), `exitCode`, `attempts`, `message` and `scheduledFor`.
 */
import { Type, type TProperties } from '@sinclair/typebox';
import type { Api, ApiDeps } from '../deps.ts';
import * as X from './schema/service-parts.ts';
import { P } from './schema/patterns.ts';
import { Enum } from './schema/enum.ts';
import type { JobKind, JobPatch, JobRecord, JobSpec, RunRecord } from '../../domain/job.ts';
import type { RunOverrides } from '../../jobs/jobs-service.ts';
import type { Principal } from '../../services/auth.ts';
import { clusterView, registryProviderOf } from './service-view.ts';
import { paginate, type PageQuery } from './pagination.ts';

const Opt = Type.Optional;
const strict = <T extends TProperties>(props: T) => Type.Object(props, { additionalProperties: false });

const JobName = Type.String({ minLength: 3, maxLength: 54, pattern: P.serviceName, description: 'The name of the job.' });
const Buildpack = strict({
  configType: Enum(['default', 'customProcess', 'customCommand', 'customEntrypointCustomCommand', 'originalEntrypointCustomCommand']),
  customProcess: Opt(Type.String({ maxLength: 256 })),
  customEntrypoint: Opt(Type.String({ maxLength: 4096 })),
  customCommand: Opt(Type.String({ maxLength: 16384 })),
});
const Docker = strict({
  configType: Enum(['default', 'customEntrypoint', 'customCommand', 'customEntrypointCustomCommand']),
  customEntrypoint: Opt(Type.String({ maxLength: 4096 })),
  customCommand: Opt(Type.String({ maxLength: 16384 })),
});
const Command = Type.String({ minLength: 1, maxLength: 16384, description: 'slipway: a shell command to run instead of the source start command' });
const JobDeployment = strict({
  // One of the two: a build or service of the project, or an image (the container runtime runs it).
  internal: Opt(X.Internal),
  external: Opt(X.External),
  buildpack: Opt(Buildpack),
  docker: Opt(Docker),
  gracePeriodSeconds: Opt(Type.Integer({ minimum: 0, maximum: 600 })),
  storage: Opt(Type.Record(Type.String(), Type.Unknown())),
  gpu: Opt(Type.Record(Type.String(), Type.Unknown())),
  metadata: Opt(Type.Record(Type.String(), Type.Unknown())),
});
const jobFields = {
  name: JobName,
  stageId: Opt(X.StageId),
  description: Opt(X.Description),
  tags: Opt(X.Tags),
  infrastructure: Opt(X.Infrastructure),
  billing: X.BillingRequired,
  deployment: JobDeployment,
  command: Opt(Command),
  runtimeEnvironment: Opt(X.RuntimeEnvironment),
  runtimeFiles: Opt(X.RuntimeFiles),
  backoffLimit: Opt(Type.Integer({ minimum: 0, maximum: 20, description: 'The number of attempts to rerun a job before it is marked as failed.' })),
  activeDeadlineSeconds: Opt(Type.Union([Type.Integer({ minimum: 1, maximum: 7 * 24 * 3600 }), Type.Null()])),
  runOnSourceChange: Opt(Enum(['never', 'cd-promote', 'always'])),
};
const CreateJobManual = strict(jobFields);
const CreateJobCron = strict({
  ...jobFields,
  schedule: Type.String({ minLength: 9, maxLength: 256, description: 'Cron schedule, 5 fields, or 6 with seconds first (UTC).' }),
  suspended: Opt(Type.Boolean()),
  concurrencyPolicy: Opt(Enum(['allow', 'forbid', 'replace'])),
});
const StartJobRun = Type.Union([
  strict({
    runtimeEnvironment: Opt(X.RuntimeEnvironment),
    billing: Opt(strict({ deploymentPlan: Opt(Type.String({ minLength: 3, maxLength: 100, pattern: P.plan })) })),
    deployment: Opt(strict({ internal: Opt(X.Internal), buildpack: Opt(Buildpack), docker: Opt(Docker) })),
    command: Opt(Command),
  }),
  Type.Null(),
]);
const Suspend = strict({ suspended: Type.Boolean() });
const jobSettings = {
  backoffLimit: jobFields.backoffLimit,
  activeDeadlineSeconds: jobFields.activeDeadlineSeconds,
  runOnSourceChange: jobFields.runOnSourceChange,
};
const cronSettings = {
  schedule: Opt(Type.Union([CreateJobCron.properties.schedule, Type.Null()])),
  suspended: Opt(Type.Boolean()),
  concurrencyPolicy: CreateJobCron.properties.concurrencyPolicy,
};
const Settings = strict({ ...jobSettings, cron: Opt(strict(cronSettings)) });
// Northflank's PatchJob body: `settings` (with `settings.cron`) or, as its kind-specific routes take them,
// the same fields at the top level; plus slipway's `deployment` and `command` as at creation.
const PatchJob = strict({
  stageId: Opt(X.StageId),
  description: Opt(X.Description),
  tags: Opt(X.Tags),
  billing: Opt(X.Billing),
  deployment: Opt(JobDeployment),
  command: Opt(Command),
  runtimeEnvironment: Opt(X.RuntimeEnvironment),
  runtimeFiles: Opt(X.RuntimeFiles),
  settings: Opt(Settings),
  ...jobSettings,
  ...cronSettings,
});
// Northflank's kind-neutral create (POST/PUT /v1/projects/{p}/jobs): `settings.cron` makes a cron job.
const CreateJob = strict({ ...jobFields, settings: Opt(Settings), ...cronSettings });
type PatchJobBody = Omit<JobPatch, 'schedule'> & {
  settings?: Pick<JobPatch, 'backoffLimit' | 'activeDeadlineSeconds' | 'runOnSourceChange'> & { cron?: { schedule?: string | null; suspended?: boolean; concurrencyPolicy?: JobPatch['concurrencyPolicy'] } };
  schedule?: string | null;
};

/** The body as a patch of the stored spec: `settings` first, top-level fields over it; a null schedule clears it. */
function jobPatchOf(body: PatchJobBody): JobPatch {
  const { settings, ...top } = body;
  const { cron, ...plain } = settings ?? {};
  const merged = { ...plain, ...cron, ...top };
  const patch = Object.fromEntries(Object.entries(merged).filter(([, v]) => v !== undefined)) as JobPatch & { schedule?: string | null };
  return patch.schedule === null ? { ...patch, schedule: undefined } : (patch as JobPatch);
}

const ProjectParams = Type.Object({ projectId: Type.String({ maxLength: 100 }) });
const JobParams = Type.Object({ projectId: Type.String({ maxLength: 100 }), jobId: Type.String({ maxLength: 100 }) });
const RunParams = Type.Object({ projectId: Type.String({ maxLength: 100 }), jobId: Type.String({ maxLength: 100 }), runId: Type.String({ maxLength: 300 }) });
const Page = Type.Object({ per_page: Opt(Type.Integer({ minimum: 1, maximum: 100 })), page: Opt(Type.Integer({ minimum: 1 })), cursor: Opt(Type.String({ maxLength: 512 })) });

export function jobView(j: JobRecord, domain: string): Record<string, unknown> {
  const s = j.spec;
  const external = s.deployment?.external;
  return {
    id: j.id,
    appId: `/${j.projectId}/${j.id}`,
    name: j.name,
    tags: s.tags ?? [],
    ...(s.description ? { description: s.description } : {}),
    projectId: j.projectId,
    jobType: j.kind,
    createdAt: j.createdAt,
    updatedAt: j.updatedAt,
    disabledCI: true,
    disabledCD: false,
    billing: s.billing,
    deployment: { ...(external ? { external: { imagePath: external.imagePath, registryProvider: registryProviderOf(external.imagePath), privateImage: !!(external as { credentials?: string }).credentials } } : { internal: s.deployment?.internal }), ...(s.deployment?.buildpack ? { buildpack: s.deployment.buildpack } : {}), ...(s.deployment?.docker ? { docker: s.deployment.docker } : {}) },
    ...(s.command ? { command: s.command } : {}),
    // Values are secrets: the names alone say what is set.
    runtimeEnvironmentKeys: Object.keys(s.runtimeEnvironment ?? {}),
    settings: { backoffLimit: s.backoffLimit ?? 0, activeDeadlineSeconds: s.activeDeadlineSeconds ?? null, runOnSourceChange: s.runOnSourceChange ?? 'never' },
    backoffLimit: s.backoffLimit ?? 0,
    activeDeadlineSeconds: s.activeDeadlineSeconds ?? null,
    ...(j.kind === 'cron' ? { schedule: s.schedule, suspended: s.suspended ?? false, concurrencyPolicy: s.concurrencyPolicy ?? 'allow' } : {}),
    // Jobs build nothing of their own here (they run a service's build or an image): no build status to report.
    status: {},
    cluster: clusterView(j.projectId, domain),
  };
}

export function runView(r: RunRecord): Record<string, unknown> {
  const concluded = r.status === 'SUCCEEDED' || r.status === 'FAILED';
  return {
    id: r.id,
    runName: r.id,
    number: r.number,
    active: concluded ? 0 : 1,
    backoffLimit: r.spec.backoffLimit,
    completions: concluded ? 1 : 0,
    concluded,
    failed: r.status === 'FAILED' ? 1 : 0,
    succeeded: r.status === 'SUCCEEDED' ? 1 : 0,
    status: r.status === 'SUCCEEDED' ? 'SUCCESS' : r.status === 'FAILED' ? 'FAILED' : 'RUNNING',
    runStatus: r.status,
    exitCode: r.exitCode,
    attempts: r.attempts,
    message: r.message,
    scheduledFor: r.scheduleTick,
    command: r.spec.command,
    ...(r.spec.buildId ? { buildId: r.spec.buildId } : {}),
    ...(r.spec.releaseNumber ? { release: r.spec.releaseNumber } : {}),
    createdAt: r.createdAt,
    startedAt: r.startedAt ?? undefined,
    concludedAt: r.finishedAt ?? undefined,
  };
}

const tags = { tags: ['jobs'] };

export function registerV1Jobs(app: Api, deps: ApiDeps): void {
  const jobs = deps.jobs;
  if (!jobs) return;
  const view = (j: JobRecord) => jobView(j, deps.domain);
  /**
   * A job's deployment as Northflank reads it: an internal source names the service (build or combined) whose
   * build it runs, with that service's repository and branch and the build a run would use now (the pinned
   * one, else the newest successful build). A source the caller cannot read leaves those fields empty.
   */
  const deploymentOf = async (caller: Principal, j: JobRecord): Promise<Record<string, unknown>> => {
    const base = view(j).deployment as Record<string, unknown>;
    const internal = j.spec.deployment?.internal as { id?: string; branch?: string; buildSHA?: string; buildId?: string } | undefined;
    if (!internal?.id) return base;
    const from = await deps.catalog.get(caller, j.projectId, internal.id).then((d) => d.service, () => undefined);
    const vcs = from?.spec.vcsData;
    const bundle = from?.spec.bundleData as { bundleUrl?: string; branch?: string } | undefined;
    const built = from && from.kind !== 'deployment' ? await deps.builds.list(caller, j.projectId, internal.id).catch(() => []) : [];
    const build = internal.buildId ? built.find((b) => b.id === internal.buildId) : built.find((b) => b.status === 'SUCCESS' && (!internal.branch || b.branch === internal.branch));
    return {
      ...base,
      internal: {
        ...internal,
        appId: `/${j.projectId}/${internal.id}`,
        nfObjectId: internal.id,
        nfObjectType: 'service',
        repository: vcs?.projectUrl ?? bundle?.bundleUrl ?? '',
        branch: internal.branch ?? vcs?.projectBranch ?? bundle?.branch ?? build?.branch ?? '',
        buildSHA: internal.buildSHA ?? 'latest',
        ...(build ? { buildId: build.id } : {}),
        ...(build && !build.sha.startsWith('bundle:') ? { deployedSHA: build.sha } : {}),
      },
    };
  };

  for (const kind of ['manual', 'cron'] as JobKind[]) {
    app.post(`/v1/projects/:projectId/jobs/${kind}`, { schema: { ...tags, summary: `Create a ${kind} job`, params: ProjectParams, body: kind === 'cron' ? CreateJobCron : CreateJobManual } }, async (req) => {
      const { projectId } = req.params as { projectId: string };
      return { data: view(await jobs.createJob(req.principal, projectId, kind, req.body as JobSpec)) };
    });
    app.put(`/v1/projects/:projectId/jobs/${kind}`, { schema: { ...tags, summary: `Create a ${kind} job, or replace the one of that name`, params: ProjectParams, body: kind === 'cron' ? CreateJobCron : CreateJobManual } }, async (req) => {
      const { projectId } = req.params as { projectId: string };
      return { data: view(await jobs.putJob(req.principal, projectId, kind, req.body as JobSpec)) };
    });
  }
  /** A kind-neutral body as a job spec: `settings` flattened, and a schedule makes it a cron job. */
  const neutral = (body: PatchJobBody & { name: string }): { kind: JobKind; spec: JobSpec } => {
    const spec = { ...jobPatchOf(body), name: body.name } as JobSpec;
    return { kind: spec.schedule ? 'cron' : 'manual', spec };
  };
  app.post('/v1/projects/:projectId/jobs', { schema: { ...tags, summary: 'Create a job (a cron job when settings.cron has a schedule)', params: ProjectParams, body: CreateJob } }, async (req) => {
    const { projectId } = req.params as { projectId: string };
    const { kind, spec } = neutral(req.body as PatchJobBody & { name: string });
    return { data: view(await jobs.createJob(req.principal, projectId, kind, spec)) };
  });
  app.put('/v1/projects/:projectId/jobs', { schema: { ...tags, summary: 'Create a job, or replace the one of that name', params: ProjectParams, body: CreateJob } }, async (req) => {
    const { projectId } = req.params as { projectId: string };
    const { kind, spec } = neutral(req.body as PatchJobBody & { name: string });
    return { data: view(await jobs.putJob(req.principal, projectId, kind, spec)) };
  });
  app.get('/v1/projects/:projectId/jobs', { schema: { ...tags, params: ProjectParams, querystring: Page } }, async (req) => {
    const { projectId } = req.params as { projectId: string };
    const { items, pagination } = await paginate(req.query as PageQuery, (after, limit) => jobs.listJobs(req.principal, projectId, { after, limit }));
    return {
      data: { jobs: items.map((j) => ({ id: j.id, projectId: j.projectId, appId: `/${j.projectId}/${j.id}`, name: j.name, tags: j.spec.tags ?? [], ...(j.spec.description ? { description: j.spec.description } : {}), jobType: j.kind, disabledCI: true, disabledCD: false, ...(j.kind === 'cron' ? { suspended: j.spec.suspended ?? false } : {}) })) },
      pagination,
    };
  });
  app.get('/v1/projects/:projectId/jobs/:jobId', { schema: { ...tags, params: JobParams } }, async (req) => {
    const { projectId, jobId } = req.params as { projectId: string; jobId: string };
    return { data: view(await jobs.getJob(req.principal, projectId, jobId)) };
  });
  app.delete('/v1/projects/:projectId/jobs/:jobId', { schema: { ...tags, params: JobParams } }, async (req) => {
    const { projectId, jobId } = req.params as { projectId: string; jobId: string };
    await jobs.deleteJob(req.principal, projectId, jobId);
    return { data: {} };
  });
  const patchRoute = (url: string, kind: JobKind | undefined, summary: string) =>
    app.patch(url, { schema: { ...tags, summary, params: JobParams, body: PatchJob } }, async (req) => {
      const { projectId, jobId } = req.params as { projectId: string; jobId: string };
      return { data: view(await jobs.patchJob(req.principal, projectId, jobId, jobPatchOf((req.body ?? {}) as PatchJobBody), kind)) };
    });
  patchRoute('/v1/projects/:projectId/jobs/:jobId', undefined, 'Update a job: the fields given replace those stored (billing and deployment merge one level)');
  patchRoute('/v1/projects/:projectId/jobs/manual/:jobId', 'manual', 'Update a manual job');
  patchRoute('/v1/projects/:projectId/jobs/cron/:jobId', 'cron', 'Update a cron job');
  // A job's parts as Northflank reads and updates them one at a time; each update is a PATCH of that part.
  const UpdateJobEnvironment = strict({ runtimeEnvironment: X.RuntimeEnvironment, runtimeFiles: Opt(X.RuntimeFiles) });
  const UpdateJobSettings = strict({ ...jobSettings, schedule: Opt(CreateJobCron.properties.schedule), suspended: cronSettings.suspended, concurrencyPolicy: cronSettings.concurrencyPolicy });
  const parts: { path: string; body: unknown; get?: false; read: (j: JobRecord, caller: Principal) => Record<string, unknown> | Promise<Record<string, unknown>>; patch: (b: Record<string, unknown>) => JobPatch }[] = [
    {
      path: 'runtime-environment',
      body: UpdateJobEnvironment,
      read: (j) => ({ runtimeEnvironment: j.spec.runtimeEnvironment ?? {}, runtimeFiles: j.spec.runtimeFiles ?? {} }),
      patch: (b) => b as JobPatch,
    },
    {
      path: 'settings',
      body: UpdateJobSettings,
      get: false,
      read: (j) => ({ ...(view(j).settings as Record<string, unknown>), ...(j.kind === 'cron' ? { schedule: j.spec.schedule, suspended: j.spec.suspended ?? false, concurrencyPolicy: j.spec.concurrencyPolicy ?? 'allow' } : {}) }),
      patch: (b) => b as JobPatch,
    },
    { path: 'deployment', body: JobDeployment, read: (j, caller) => deploymentOf(caller, j), patch: (b) => ({ deployment: b as JobPatch['deployment'] }) },
  ];
  for (const part of parts) {
    const url = `/v1/projects/:projectId/jobs/:jobId/${part.path}`;
    if (part.get !== false) {
      app.get(url, { schema: { ...tags, summary: `Read a job's ${part.path}`, params: JobParams } }, async (req) => {
        const { projectId, jobId } = req.params as { projectId: string; jobId: string };
        return { data: await part.read(await jobs.getJob(req.principal, projectId, jobId), req.principal) };
      });
    }
    app.post(url, { schema: { ...tags, summary: `Update a job's ${part.path} (the next run uses it)`, params: JobParams, body: part.body as never } }, async (req) => {
      const { projectId, jobId } = req.params as { projectId: string; jobId: string };
      return { data: await part.read(await jobs.patchJob(req.principal, projectId, jobId, part.patch(req.body as Record<string, unknown>)), req.principal) };
    });
  }
  app.post('/v1/projects/:projectId/jobs/:jobId/suspend', { schema: { ...tags, summary: 'Suspend or resume a cron job schedule', params: JobParams, body: Suspend } }, async (req) => {
    const { projectId, jobId } = req.params as { projectId: string; jobId: string };
    return { data: view(await jobs.setSuspended(req.principal, projectId, jobId, (req.body as { suspended: boolean }).suspended)) };
  });
  app.post('/v1/projects/:projectId/jobs/:jobId/runs', { schema: { ...tags, summary: 'Start a job run', params: JobParams, body: StartJobRun } }, async (req) => {
    const { projectId, jobId } = req.params as { projectId: string; jobId: string };
    const run = await jobs.startRun(req.principal, projectId, jobId, (req.body ?? {}) as RunOverrides);
    return { data: { ...runView(run), id: run.id, runName: run.id } };
  });
  app.get('/v1/projects/:projectId/jobs/:jobId/runs', { schema: { ...tags, params: JobParams, querystring: Page } }, async (req) => {
    const { projectId, jobId } = req.params as { projectId: string; jobId: string };
    const q = req.query as { per_page?: number; cursor?: string };
    const perPage = q.per_page ?? 50;
    const beforeNumber = q.cursor ? Number(Buffer.from(q.cursor, 'base64url').toString('utf8')) || undefined : undefined;
    const rows = await jobs.listRuns(req.principal, projectId, jobId, { limit: perPage + 1, beforeNumber });
    const items = rows.slice(0, perPage);
    const hasNextPage = rows.length > perPage;
    return { data: { runs: items.map(runView) }, pagination: { hasNextPage, ...(hasNextPage ? { cursor: Buffer.from(String(items.at(-1)!.number)).toString('base64url') } : {}), count: items.length } };
  });
  app.get('/v1/projects/:projectId/jobs/:jobId/runs/:runId', { schema: { ...tags, params: RunParams } }, async (req) => {
    const { projectId, jobId, runId } = req.params as { projectId: string; jobId: string; runId: string };
    return { data: runView(await jobs.getRun(req.principal, projectId, jobId, runId)) };
  });
  app.delete('/v1/projects/:projectId/jobs/:jobId/runs/:runId', { schema: { ...tags, summary: 'Abort a job run: it concludes FAILED and its instance is stopped', params: RunParams } }, async (req) => {
    const { projectId, jobId, runId } = req.params as { projectId: string; jobId: string; runId: string };
    return { data: runView(await jobs.abortRun(req.principal, projectId, jobId, runId)) };
  });
}
