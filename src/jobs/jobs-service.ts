/**
 * Job use cases shared by every API face: create, read, list and delete jobs; start a run (by hand, or on
 * a cron tick); read runs and their output; one-off runs of a service's current release. Every call checks
 * the caller's right; each run is resolved here, once, into an immutable run spec (artifact, command, env,
 * plan, limits) that the job controller executes.
 */
import crypto from 'node:crypto';
import path from 'node:path';
import type { Store } from '../store/store.ts';
import type { AuthService, Principal } from '../services/auth.ts';
import { idFromName } from '../domain/ids.ts';
import { findPlan } from '../domain/plans.ts';
import { DEFAULT_GRACE_PERIOD_SECONDS } from '../domain/release.ts';
import { ConflictError, UnsupportedError, ValidationError, type FieldProblem } from '../errors/errors.ts';
import { builtImageProblem } from '../domain/built-image.ts';
import {
  isConcluded,
  mergeJobSpec,
  resolveJobCommand,
  runId,
  scheduleProblem,
  type JobKind,
  type JobPatch,
  type JobRecord,
  type JobSpec,
  type RunOwnerKind,
  type RunRecord,
  type RunSecrets,
  type RunSpec,
  type RuntimeOverrides,
} from '../domain/job.ts';

export interface RunLogLine {
  attempt: number;
  ts: string;
  stream: string;
  line: string;
}

/** What the use cases need from the job controller. */
export interface RunExecutor {
  /** A run was created or changed: reconcile it now. */
  runChanged(runId: string): void;
  /** Every attempt's output, oldest first: recorded output of finished attempts, live output of the running one. */
  logsOf(run: RunRecord, opts: { tail?: number }): Promise<RunLogLine[]>;
}

/** What a run may override: the Northflank StartJobRun body, plus slipway's `command`. */
export interface RunOverrides {
  runtimeEnvironment?: Record<string, string>;
  command?: string;
  billing?: { deploymentPlan?: string };
  deployment?: RuntimeOverrides & { internal?: { id?: string; branch?: string; buildSHA?: string; buildId?: string } };
}

type Resolved = { spec: RunSpec; secrets: RunSecrets } | { problem: FieldProblem };

const ENV_KEY = /^[A-Za-z_][A-Za-z0-9_.\-/]*$/;

export class JobsService {
  constructor(
    private readonly store: Store,
    private readonly auth: AuthService,
    private readonly executor: RunExecutor,
    private readonly opts: {
      runsDir: string;
      images?: boolean;
      /** what a job inherits from its project's secret groups, read when each run is resolved */
      inherited?: { forJob(job: JobRecord): Promise<{ env: Record<string, string>; files: Record<string, { data: string; encoding?: string }> }> };
    },
  ) {}

  private check(kind: JobKind, spec: JobSpec): void {
    const problems: FieldProblem[] = [];
    if (!findPlan(spec.billing.deploymentPlan)) problems.push({ field: 'billing.deploymentPlan', rule: 'exists', message: `no plan '${spec.billing.deploymentPlan}': see GET /v1/plans` });
    const external = spec.deployment?.external;
    if (external && spec.deployment?.internal) problems.push({ field: 'deployment', rule: 'oneOf', message: 'give deployment.internal or deployment.external, not both' });
    else if (!external && !spec.deployment?.internal?.id) problems.push({ field: 'deployment.internal.id', rule: 'required', message: 'name the build, combined or deployment service the job runs from, or an image in deployment.external' });
    if (kind === 'cron') {
      if (!spec.schedule) problems.push({ field: 'schedule', rule: 'required', message: 'a cron job needs a schedule' });
      else {
        const p = scheduleProblem(spec.schedule);
        if (p) problems.push(p);
      }
    } else {
      for (const f of ['schedule', 'suspended', 'concurrencyPolicy'] as const) if (spec[f] !== undefined) problems.push({ field: f, rule: 'cronOnly', message: 'only a cron job has this field' });
    }
    problems.push(...envProblems(spec.runtimeEnvironment, 'runtimeEnvironment'));
    if (problems.length) throw new ValidationError(problems);
    if (external && !this.opts.images) throw new UnsupportedError([{ field: 'deployment.external', rule: 'supported', message: 'image jobs need the container runtime (SLIPWAY_RUNTIME=docker)' }]);
  }

  private async checkSource(projectId: string, spec: JobSpec): Promise<void> {
    const image = spec.deployment?.external?.imagePath;
    const foreign = image ? builtImageProblem('deployment.external.imagePath', image, projectId) : undefined;
    if (foreign) throw new ValidationError([foreign]);
    const internal = spec.deployment?.internal;
    if (!internal?.id) return;
    const svc = await this.store.services.find(projectId, internal.id);
    if (!svc) throw ValidationError.one('deployment.internal.id', 'exists', `no service '${internal.id}' in project '${projectId}'`);
    if (internal.buildId) {
      const b = await this.store.builds.find(internal.buildId);
      if (!b || b.projectId !== projectId || b.serviceId !== internal.id) throw ValidationError.one('deployment.internal.buildId', 'exists', `no build '${internal.buildId}' of service '${internal.id}'`);
    }
  }

  async createJob(caller: Principal, projectId: string, kind: JobKind, spec: JobSpec): Promise<JobRecord> {
    this.auth.authorize(caller, projectId, 'write');
    await this.store.projects.get(projectId);
    this.check(kind, spec);
    await this.checkSource(projectId, spec);
    return this.store.jobs.create({ projectId, id: idFromName(spec.name), kind, spec: { ...spec, backoffLimit: spec.backoffLimit ?? 0 } });
  }

  async getJob(caller: Principal, projectId: string, jobId: string): Promise<JobRecord> {
    this.auth.authorize(caller, projectId, 'read');
    return this.store.jobs.get(projectId, jobId);
  }

  async listJobs(caller: Principal, projectId: string, opts: { after?: string; limit: number }): Promise<JobRecord[]> {
    this.auth.authorize(caller, projectId, 'read');
    await this.store.projects.get(projectId);
    return this.store.jobs.list(projectId, opts);
  }

  /** Suspend or resume a cron job's schedule. Resuming never fires the ticks missed while suspended. */
  async setSuspended(caller: Principal, projectId: string, jobId: string, suspended: boolean): Promise<JobRecord> {
    this.auth.authorize(caller, projectId, 'write');
    for (let i = 0; i < 5; i++) {
      const job = await this.store.jobs.get(projectId, jobId);
      if (job.kind !== 'cron') throw ValidationError.one('jobId', 'cronOnly', `job '${jobId}' is a manual job: only a cron job has a schedule to suspend`);
      const next = await this.store.jobs.update(projectId, jobId, job.version, { ...job.spec, suspended }, suspended ? {} : { resetTickTo: new Date().toISOString() });
      if (next) return next;
    }
    throw new ConflictError(`job '${jobId}' is being modified concurrently; retry`);
  }

  /**
   * Change a job (Northflank's PATCH): the patch merges over the stored spec (mergeJobSpec) and the result is
   * checked as a new job would be. `kind`, from a kind-specific route, must be the job's own. Runs already
   * made keep the spec they were made with; the next run, or cron tick, uses the new one. A changed schedule,
   * or a resumed one, counts from now: it never fires ticks the old schedule or the pause skipped.
   */
  async patchJob(caller: Principal, projectId: string, jobId: string, patch: JobPatch, kind?: JobKind): Promise<JobRecord> {
    this.auth.authorize(caller, projectId, 'write');
    return this.rewrite(projectId, jobId, (job) => {
      if (kind && job.kind !== kind) throw ValidationError.one('jobId', 'jobType', `job '${jobId}' is a ${job.kind} job: patch it at /v1/projects/${projectId}/jobs/${job.kind}/${jobId} or /v1/projects/${projectId}/jobs/${jobId}`);
      return mergeJobSpec(job.spec, patch);
    });
  }

  /** Create a job, or replace the whole spec of the job of that name (Northflank's PUT); the kind cannot change. */
  async putJob(caller: Principal, projectId: string, kind: JobKind, spec: JobSpec): Promise<JobRecord> {
    this.auth.authorize(caller, projectId, 'write');
    const id = idFromName(spec.name);
    if (!(await this.store.jobs.find(projectId, id))) return this.createJob(caller, projectId, kind, spec);
    return this.rewrite(projectId, id, (job) => {
      if (job.kind !== kind) throw ValidationError.one('name', 'jobType', `job '${id}' is a ${job.kind} job; a ${kind} job cannot replace it (delete it first)`);
      return { ...spec, backoffLimit: spec.backoffLimit ?? 0 };
    });
  }

  /** Write the spec `next` makes of the stored job, checked as at creation; re-read and retried on a concurrent write. */
  private async rewrite(projectId: string, jobId: string, next: (job: JobRecord) => JobSpec): Promise<JobRecord> {
    for (let i = 0; i < 5; i++) {
      const job = await this.store.jobs.get(projectId, jobId);
      const spec = next(job);
      this.check(job.kind, spec);
      await this.checkSource(projectId, spec);
      const restartsSchedule = job.kind === 'cron' && (spec.schedule !== job.spec.schedule || (job.spec.suspended === true && spec.suspended !== true));
      const saved = await this.store.jobs.update(projectId, jobId, job.version, spec, restartsSchedule ? { resetTickTo: new Date().toISOString() } : {});
      if (saved) return saved;
    }
    throw new ConflictError(`job '${jobId}' is being modified concurrently; retry`);
  }

  /**
   * Abort a pending or running run: it concludes FAILED with an `Aborted` message at once, and the job
   * controller stops its instance (grace period, then kill) and records its output. A run that has already
   * concluded is a conflict.
   */
  async abortRun(caller: Principal, projectId: string, jobId: string, id: string): Promise<RunRecord> {
    this.auth.authorize(caller, projectId, 'write');
    const run = await this.store.jobs.getRun(projectId, 'job', jobId, id);
    const message = `Aborted: the run was aborted through the API ${run.attempts > 0 ? `during attempt ${run.attempts}` : 'before it started'}`;
    // Conditional on the run being active: the update fails only if the run concluded in the meantime.
    if (!isConcluded(run.status) && (await this.store.jobs.updateRun(run.id, { status: 'FAILED', retryAt: null, finishedAt: new Date().toISOString(), message }, ['PENDING', 'RUNNING']))) {
      this.executor.runChanged(run.id);
      return this.store.jobs.getRun(projectId, 'job', jobId, id);
    }
    const now = await this.store.jobs.getRun(projectId, 'job', jobId, id);
    throw new ConflictError(`run '${id}' has already concluded (${now.status}): there is nothing to abort`);
  }

  /** Delete a job and its runs; what still runs of them is stopped by the job controller. */
  async deleteJob(caller: Principal, projectId: string, jobId: string): Promise<void> {
    this.auth.authorize(caller, projectId, 'write');
    const active = await this.store.jobs.listActive({ projectId, ownerKind: 'job', ownerId: jobId });
    await this.store.jobs.delete(projectId, jobId);
    for (const r of active) this.executor.runChanged(r.id);
  }

  async startRun(caller: Principal, projectId: string, jobId: string, overrides: RunOverrides = {}): Promise<RunRecord> {
    this.auth.authorize(caller, projectId, 'write');
    const job = await this.store.jobs.get(projectId, jobId);
    const problems = envProblems(overrides.runtimeEnvironment, 'runtimeEnvironment');
    if (overrides.billing?.deploymentPlan && !findPlan(overrides.billing.deploymentPlan)) problems.push({ field: 'billing.deploymentPlan', rule: 'exists', message: `no plan '${overrides.billing.deploymentPlan}'` });
    if (problems.length) throw new ValidationError(problems);
    if (overrides.deployment?.internal) await this.checkSource(projectId, { ...job.spec, deployment: { ...job.spec.deployment, internal: overrides.deployment.internal } });
    const resolved = await this.resolveJobRun(job, overrides);
    if ('problem' in resolved) throw new ConflictError(`${resolved.problem.field}: ${resolved.problem.message}`);
    return this.createRun(projectId, 'job', jobId, resolved);
  }

  /** The scheduler's start: a run for one cron tick, or a FAILED run saying why none could be made. */
  async startScheduledRun(job: JobRecord, tick: string): Promise<RunRecord> {
    const resolved = await this.resolveJobRun(job, {});
    if ('problem' in resolved) {
      return this.store.jobs.createRun({
        ...this.runIdentity(job.projectId, 'job', job.id),
        spec: { command: [], plan: job.spec.billing.deploymentPlan, backoffLimit: 0, activeDeadlineSeconds: null, gracePeriodSeconds: 0 },
        secrets: { env: {}, files: {} },
        scheduleTick: tick,
        status: 'FAILED',
        message: `${resolved.problem.field}: ${resolved.problem.message}`,
      });
    }
    const run = await this.store.jobs.createRun({ ...this.runIdentity(job.projectId, 'job', job.id), ...resolved, scheduleTick: tick });
    this.executor.runChanged(run.id);
    return run;
  }

  async listRuns(caller: Principal, projectId: string, jobId: string, opts: { limit: number; beforeNumber?: number }): Promise<RunRecord[]> {
    this.auth.authorize(caller, projectId, 'read');
    await this.store.jobs.get(projectId, jobId);
    return this.store.jobs.listRuns(projectId, 'job', jobId, opts);
  }

  async getRun(caller: Principal, projectId: string, jobId: string, id: string): Promise<RunRecord> {
    this.auth.authorize(caller, projectId, 'read');
    return this.store.jobs.getRun(projectId, 'job', jobId, id);
  }

  async runLogs(caller: Principal, projectId: string, ownerKind: RunOwnerKind, ownerId: string, id: string, tail?: number): Promise<RunLogLine[]> {
    this.auth.authorize(caller, projectId, 'read');
    return this.executor.logsOf(await this.store.jobs.getRun(projectId, ownerKind, ownerId, id), { tail });
  }

  /** A one-off run of a service's current release (its artifact, env and files), with env and command overrides. */
  async startServiceRun(caller: Principal, projectId: string, serviceId: string, o: { command?: string; env?: Record<string, string>; image?: string }): Promise<RunRecord> {
    this.auth.authorize(caller, projectId, 'write');
    const problems = envProblems(o.env, 'env');
    if (problems.length) throw new ValidationError(problems);
    const svc = await this.store.services.get(projectId, serviceId);
    if (svc.kind === 'build') throw ValidationError.one('serviceId', 'runnable', `service '${serviceId}' is a build service: it has no release to run (run a job from its builds instead)`);
    const release = svc.targetReleaseId ? await this.store.releases.find(svc.targetReleaseId) : undefined;
    if (!release) throw new ConflictError(`service '${serviceId}' has no release yet: wait for its first build or image`);
    if (!this.opts.images && (o.image || (release.spec.image && !release.spec.artifactDir))) {
      throw new UnsupportedError([{ field: o.image ? 'image' : 'serviceId', rule: 'runtime', message: 'images run on the container runtime only (SLIPWAY_RUNTIME=docker)' }]);
    }
    // An image override runs that image (its own command unless one is sent) with the release's env and files.
    const command = o.command ? ['/bin/sh', '-c', o.command] : o.image ? [] : release.spec.processes.web;
    if (!command) throw ValidationError.one('command', 'required', `the release of '${serviceId}' has no web command: send a command`);
    const spec: RunSpec = {
      artifactDir: o.image ? undefined : release.spec.artifactDir,
      image: o.image ?? release.spec.image,
      command,
      plan: release.spec.plan,
      backoffLimit: 0,
      activeDeadlineSeconds: null,
      gracePeriodSeconds: release.spec.gracePeriodSeconds,
      releaseId: release.id,
      releaseNumber: release.number,
      buildId: release.spec.buildId,
    };
    return this.createRun(projectId, 'service', serviceId, { spec, secrets: { env: { ...release.spec.env, ...(o.env ?? {}) }, files: release.spec.files } });
  }

  async getServiceRun(caller: Principal, projectId: string, serviceId: string, id: string): Promise<RunRecord> {
    this.auth.authorize(caller, projectId, 'read');
    return this.store.jobs.getRun(projectId, 'service', serviceId, id);
  }

  async listServiceRuns(caller: Principal, projectId: string, serviceId: string): Promise<RunRecord[]> {
    this.auth.authorize(caller, projectId, 'read');
    return this.store.jobs.listRuns(projectId, 'service', serviceId, { limit: 100 });
  }

  private runIdentity(projectId: string, ownerKind: RunOwnerKind, ownerId: string) {
    const tail = crypto.randomBytes(4).toString('hex').slice(0, 6);
    return {
      projectId,
      ownerKind,
      jobId: ownerId,
      id: (n: number) => runId(projectId, ownerKind, ownerId, n, tail),
      logPath: (id: string) => path.join(this.opts.runsDir, id),
    };
  }

  private async createRun(projectId: string, ownerKind: RunOwnerKind, ownerId: string, r: { spec: RunSpec; secrets: RunSecrets }): Promise<RunRecord> {
    const run = await this.store.jobs.createRun({ ...this.runIdentity(projectId, ownerKind, ownerId), ...r });
    this.executor.runChanged(run.id);
    return run;
  }

  /**
   * What a job run runs: the newest successful build of the build/combined service it names (or the pinned
   * build, SHA or branch), or the current release of a deployment service. A problem instead when there is
   * nothing to run yet.
   */
  private async resolveJobRun(job: JobRecord, o: RunOverrides): Promise<Resolved> {
    const spec = job.spec;
    const internal = o.deployment?.internal ?? spec.deployment?.internal;
    const overrides: RuntimeOverrides = { buildpack: o.deployment?.buildpack ?? spec.deployment?.buildpack, docker: o.deployment?.docker ?? spec.deployment?.docker };
    const plan = o.billing?.deploymentPlan ?? spec.billing.deploymentPlan;
    const limits = { plan, backoffLimit: spec.backoffLimit ?? 0, activeDeadlineSeconds: spec.activeDeadlineSeconds ?? null, gracePeriodSeconds: spec.deployment?.gracePeriodSeconds ?? DEFAULT_GRACE_PERIOD_SECONDS };
    // The job's secret groups, then its own values, then the run's overrides: each over the one before.
    const inherited = await this.opts.inherited?.forJob(job);
    const env = { ...inherited?.env, ...(spec.runtimeEnvironment ?? {}), ...(o.runtimeEnvironment ?? {}) };
    const files = { ...inherited?.files, ...(spec.runtimeFiles ?? {}) };
    const external = spec.deployment?.external;
    if (external && !o.deployment?.internal) {
      // An image runs its own entrypoint and command unless the job gives one.
      const cmd = resolveJobCommand({ command: o.command ?? spec.command, overrides }, {}) ?? [];
      return { spec: { image: external.imagePath, command: cmd, ...limits }, secrets: { env, files } };
    }
    const sourceId = internal?.id;
    if (!sourceId) return { problem: { field: 'deployment.internal.id', rule: 'required', message: 'the job names no source' } };
    const svc = await this.store.services.find(job.projectId, sourceId);
    if (!svc) return { problem: { field: 'deployment.internal.id', rule: 'exists', message: `service '${sourceId}' no longer exists` } };
    const command = (processes: Record<string, string[]>) => resolveJobCommand({ command: o.command ?? spec.command, overrides }, processes);
    const noCommand = { problem: { field: 'deployment.buildpack.customCommand', rule: 'required', message: 'the source has no start command: set deployment.buildpack.customCommand or command' } };

    if (svc.kind === 'deployment') {
      const release = svc.targetReleaseId ? await this.store.releases.find(svc.targetReleaseId) : undefined;
      if (!release) return { problem: { field: 'deployment.internal.id', rule: 'ready', message: `service '${sourceId}' has no release yet` } };
      const cmd = command(release.spec.processes);
      if (!cmd) return noCommand;
      return {
        spec: { artifactDir: release.spec.artifactDir, image: release.spec.image, command: cmd, ...limits, releaseId: release.id, releaseNumber: release.number, buildId: release.spec.buildId },
        secrets: { env: { ...release.spec.env, ...env }, files: { ...release.spec.files, ...files } },
      };
    }
    let build;
    if (internal.buildId) build = await this.store.builds.find(internal.buildId);
    else if (internal.buildSHA && internal.buildSHA !== 'latest') build = await this.store.builds.findSuccessful(job.projectId, sourceId, internal.buildSHA);
    else build = (await this.store.builds.list(job.projectId, sourceId, 100)).find((b) => b.status === 'SUCCESS' && (!internal.branch || b.branch === internal.branch));
    if (!build || build.status !== 'SUCCESS' || build.serviceId !== sourceId || build.projectId !== job.projectId) {
      return { problem: { field: internal.buildId ? 'deployment.internal.buildId' : 'deployment.internal.id', rule: 'ready', message: `no successful build of service '${sourceId}'${internal.branch ? ` on branch '${internal.branch}'` : ''} yet` } };
    }
    const processes: Record<string, string[]> = {};
    for (const [t, c] of Object.entries(build.processes ?? {})) processes[t] = ['/bin/sh', '-c', c];
    // A Dockerfile build's image runs its own entrypoint and command unless the job gives one.
    const cmd = command(processes) ?? (build.image ? [] : undefined);
    if (!cmd) return noCommand;
    return { spec: { artifactDir: build.artifactDir ?? undefined, image: build.image ?? undefined, command: cmd, ...limits, buildId: build.id }, secrets: { env, files } };
  }
}

function envProblems(env: Record<string, string> | undefined, field: string): FieldProblem[] {
  const out: FieldProblem[] = [];
  for (const k of Object.keys(env ?? {})) {
    if (!ENV_KEY.test(k)) out.push({ field: `${field}.${k}`, rule: 'pattern', message: 'keys may only contain letters, numbers, underscores, hyphens, forward slashes and dots, and start with a letter or underscore' });
  }
  return out;
}
