import type { Kysely } from 'kysely';
import type { Database } from './schema.ts';
import type { SecretBox } from './secret-box.ts';
import { ConflictError, NotFoundError } from '../errors/errors.ts';
import { isUniqueViolation } from './unique-violation.ts';
import { insertWithNextNumber } from './next-number.ts';
import {
  joinJobSecrets,
  splitJobSecrets,
  type JobKind,
  type JobRecord,
  type JobSecrets,
  type JobSpec,
  type RunOwnerKind,
  type RunRecord,
  type RunSecrets,
  type RunSpec,
  type RunStatus,
} from '../domain/job.ts';

export interface RunPatch {
  status?: RunStatus;
  exitCode?: number | null;
  attempts?: number;
  message?: string | null;
  retryAt?: string | null;
  startedAt?: string;
  finishedAt?: string;
}

/**
 * Jobs and their runs. A job's runtime environment and files are sealed at rest, and so is each run's
 * environment (the job's, or a service release's, with the run's overrides). Run numbers are per owner
 * and gapless; a cron tick makes at most one run (unique owner + tick).
 */
export class JobsRepo {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly box: SecretBox,
  ) {}

  private toJob(row: Database['jobs']): JobRecord {
    return {
      projectId: row.project_id,
      id: row.id,
      name: row.name,
      kind: row.kind as JobKind,
      spec: joinJobSecrets(JSON.parse(row.spec), this.box.open<JobSecrets>(row.secrets)),
      version: row.version,
      lastTickAt: row.last_tick_at,
      createdAt: row.created_at,
      updatedAt: row.updated_at,
    };
  }

  private toRun(row: Database['job_runs']): RunRecord {
    return {
      id: row.id,
      projectId: row.project_id,
      ownerKind: row.owner_kind as RunOwnerKind,
      jobId: row.job_id,
      number: row.number,
      status: row.status as RunStatus,
      exitCode: row.exit_code,
      attempts: row.attempts,
      spec: JSON.parse(row.spec) as RunSpec,
      secrets: this.box.open<RunSecrets>(row.secrets),
      message: row.message,
      scheduleTick: row.schedule_tick,
      retryAt: row.retry_at,
      createdAt: row.created_at,
      startedAt: row.started_at,
      finishedAt: row.finished_at,
      logPath: row.log_path,
    };
  }

  /** Create a job; a second job with the same id in the project is a ConflictError. */
  async create(j: { projectId: string; id: string; kind: JobKind; spec: JobSpec }): Promise<JobRecord> {
    const now = new Date().toISOString();
    const { open, secrets } = splitJobSecrets(j.spec);
    const row: Database['jobs'] = {
      project_id: j.projectId,
      id: j.id,
      name: j.spec.name,
      kind: j.kind,
      spec: JSON.stringify(open),
      secrets: this.box.seal(secrets),
      version: 1,
      last_tick_at: null,
      created_at: now,
      updated_at: now,
    };
    try {
      await this.db.insertInto('jobs').values(row).execute();
    } catch (err) {
      if (isUniqueViolation(err)) throw new ConflictError(`job '${j.id}' already exists in project '${j.projectId}'`);
      throw err;
    }
    return this.toJob(row);
  }

  async find(projectId: string, id: string): Promise<JobRecord | undefined> {
    const row = await this.db.selectFrom('jobs').selectAll().where('project_id', '=', projectId).where('id', '=', id).executeTakeFirst();
    return row ? this.toJob(row) : undefined;
  }

  async get(projectId: string, id: string): Promise<JobRecord> {
    const j = await this.find(projectId, id);
    if (!j) throw new NotFoundError('job', id);
    return j;
  }

  async list(projectId: string, opts: { after?: string; limit: number }): Promise<JobRecord[]> {
    let q = this.db.selectFrom('jobs').selectAll().where('project_id', '=', projectId).orderBy('id').limit(opts.limit);
    if (opts.after) q = q.where('id', '>', opts.after);
    return (await q.execute()).map((r) => this.toJob(r));
  }

  /** Every cron job of every project: what the scheduler looks at each second. */
  async listCron(): Promise<JobRecord[]> {
    return (await this.db.selectFrom('jobs').selectAll().where('kind', '=', 'cron').execute()).map((r) => this.toJob(r));
  }

  /** Replace the spec if the version is unchanged (VersionConflict-free callers re-read and retry). */
  async update(projectId: string, id: string, expectedVersion: number, spec: JobSpec, opts: { resetTickTo?: string } = {}): Promise<JobRecord | undefined> {
    const { open, secrets } = splitJobSecrets(spec);
    const res = await this.db
      .updateTable('jobs')
      .set({ name: spec.name, spec: JSON.stringify(open), secrets: this.box.seal(secrets), version: expectedVersion + 1, updated_at: new Date().toISOString(), ...(opts.resetTickTo ? { last_tick_at: opts.resetTickTo } : {}) })
      .where('project_id', '=', projectId)
      .where('id', '=', id)
      .where('version', '=', expectedVersion)
      .executeTakeFirst();
    return Number(res.numUpdatedRows) === 1 ? this.get(projectId, id) : undefined;
  }

  /**
   * Claim a cron tick: moves `last_tick_at` forward only from the value the caller read. True for exactly
   * one caller per tick, however many schedulers (control-plane replicas) saw it due.
   */
  async claimTick(projectId: string, id: string, seen: string | null, tick: string): Promise<boolean> {
    let q = this.db.updateTable('jobs').set({ last_tick_at: tick }).where('project_id', '=', projectId).where('id', '=', id);
    q = seen === null ? q.where('last_tick_at', 'is', null) : q.where('last_tick_at', '=', seen);
    const res = await q.executeTakeFirst();
    return Number(res.numUpdatedRows) === 1;
  }

  /** Delete the one-off runs of a deleted service; the job controller then stops what still runs of them. */
  async deleteServiceRuns(projectId: string, serviceId: string): Promise<void> {
    await this.db.deleteFrom('job_runs').where('project_id', '=', projectId).where('owner_kind', '=', 'service').where('job_id', '=', serviceId).execute();
  }

  /** Delete a job and its runs; the job controller then stops and removes what still runs of them. */
  async delete(projectId: string, id: string): Promise<void> {
    await this.db.deleteFrom('job_runs').where('project_id', '=', projectId).where('owner_kind', '=', 'job').where('job_id', '=', id).execute();
    const res = await this.db.deleteFrom('jobs').where('project_id', '=', projectId).where('id', '=', id).executeTakeFirst();
    if (Number(res.numDeletedRows) === 0) throw new NotFoundError('job', id);
  }

  /**
   * Append a run numbered one past the owner's newest. With a `scheduleTick`, a second run for the same
   * tick is refused with a ConflictError (the tick already made its run).
   */
  async createRun(r: {
    projectId: string;
    ownerKind: RunOwnerKind;
    jobId: string;
    id: (n: number) => string;
    logPath: (id: string) => string;
    spec: RunSpec;
    secrets: RunSecrets;
    scheduleTick?: string;
    status?: RunStatus;
    message?: string;
  }): Promise<RunRecord> {
    const readMax = async () => {
      const row = await this.db
        .selectFrom('job_runs')
        .select((eb) => eb.fn.max('number').as('n'))
        .where('project_id', '=', r.projectId)
        .where('owner_kind', '=', r.ownerKind)
        .where('job_id', '=', r.jobId)
        .executeTakeFirst();
      return Number(row?.n ?? 0);
    };
    const insert = async (n: number) => {
      const now = new Date().toISOString();
      const id = r.id(n);
      const concluded = r.status === 'FAILED' || r.status === 'SUCCEEDED';
      const row: Database['job_runs'] = {
        id,
        project_id: r.projectId,
        owner_kind: r.ownerKind,
        job_id: r.jobId,
        number: n,
        status: r.status ?? 'PENDING',
        exit_code: null,
        attempts: 0,
        spec: JSON.stringify(r.spec),
        secrets: this.box.seal(r.secrets),
        message: r.message ?? null,
        schedule_tick: r.scheduleTick ?? null,
        retry_at: null,
        created_at: now,
        started_at: null,
        finished_at: concluded ? now : null,
        log_path: r.logPath(id),
      };
      await this.db.insertInto('job_runs').values(row).execute();
      return this.toRun(row);
    };
    if (r.scheduleTick) {
      const taken = await this.db
        .selectFrom('job_runs')
        .select('id')
        .where('project_id', '=', r.projectId)
        .where('owner_kind', '=', r.ownerKind)
        .where('job_id', '=', r.jobId)
        .where('schedule_tick', '=', r.scheduleTick)
        .executeTakeFirst();
      if (taken) throw new ConflictError(`tick ${r.scheduleTick} of job '${r.jobId}' already made run '${taken.id}'`);
    }
    return insertWithNextNumber(readMax, insert, `runs of ${r.ownerKind} ${r.projectId}/${r.jobId}`);
  }

  async findRun(id: string): Promise<RunRecord | undefined> {
    const row = await this.db.selectFrom('job_runs').selectAll().where('id', '=', id).executeTakeFirst();
    return row ? this.toRun(row) : undefined;
  }

  /** A run of this owner, or NotFoundError (a run of another job or project is not found either). */
  async getRun(projectId: string, ownerKind: RunOwnerKind, ownerId: string, id: string): Promise<RunRecord> {
    const run = await this.findRun(id);
    if (!run || run.projectId !== projectId || run.ownerKind !== ownerKind || run.jobId !== ownerId) throw new NotFoundError('run', id);
    return run;
  }

  /** Runs of an owner, newest first. */
  async listRuns(projectId: string, ownerKind: RunOwnerKind, ownerId: string, opts: { limit: number; beforeNumber?: number }): Promise<RunRecord[]> {
    let q = this.db
      .selectFrom('job_runs')
      .selectAll()
      .where('project_id', '=', projectId)
      .where('owner_kind', '=', ownerKind)
      .where('job_id', '=', ownerId)
      .orderBy('number', 'desc')
      .limit(opts.limit);
    if (opts.beforeNumber !== undefined) q = q.where('number', '<', opts.beforeNumber);
    return (await q.execute()).map((r) => this.toRun(r));
  }

  /** Runs not concluded yet (PENDING or RUNNING), of one owner or of all. */
  async listActive(owner?: { projectId: string; ownerKind: RunOwnerKind; ownerId: string }): Promise<RunRecord[]> {
    let q = this.db.selectFrom('job_runs').selectAll().where('status', 'in', ['PENDING', 'RUNNING']).orderBy('created_at');
    if (owner) q = q.where('project_id', '=', owner.projectId).where('owner_kind', '=', owner.ownerKind).where('job_id', '=', owner.ownerId);
    return (await q.execute()).map((r) => this.toRun(r));
  }

  /**
   * The controller's write. With `from`, only moves a run still in that status (so a concluded run is never
   * reopened, and a run replaced by the scheduler is not overwritten by a late pass). True if written.
   */
  async updateRun(id: string, patch: RunPatch, from?: RunStatus[]): Promise<boolean> {
    const cols: Partial<Database['job_runs']> = {};
    if (patch.status !== undefined) cols.status = patch.status;
    if (patch.exitCode !== undefined) cols.exit_code = patch.exitCode;
    if (patch.attempts !== undefined) cols.attempts = patch.attempts;
    if (patch.message !== undefined) cols.message = patch.message;
    if (patch.retryAt !== undefined) cols.retry_at = patch.retryAt;
    if (patch.startedAt !== undefined) cols.started_at = patch.startedAt;
    if (patch.finishedAt !== undefined) cols.finished_at = patch.finishedAt;
    if (Object.keys(cols).length === 0) return true;
    let q = this.db.updateTable('job_runs').set(cols).where('id', '=', id);
    if (from) q = q.where('status', 'in', from);
    const res = await q.executeTakeFirst();
    return Number(res.numUpdatedRows) === 1;
  }
}
