/**
 * Jobs and job runs: the model and its pure rules (cron ticks, retry back-off, run identity). A job runs one
 * command to completion, from a build of a build/combined service or from the current release of a
 * deployment service; each start makes a run, retried up to `backoffLimit` times and killed past
 * `activeDeadlineSeconds`. One-off runs of a service's release are runs too (owner kind `service`).
 */
import { CronExpressionParser } from 'cron-parser';
import type { FieldProblem } from '../errors/errors.ts';
import { mergeSpecPatch } from './spec-patch.ts';

export type JobKind = 'manual' | 'cron';
export type ConcurrencyPolicy = 'allow' | 'forbid' | 'replace';
export type RunStatus = 'PENDING' | 'RUNNING' | 'SUCCEEDED' | 'FAILED';
export type RunOwnerKind = 'job' | 'service';

export interface RuntimeOverrides {
  buildpack?: { configType: string; customProcess?: string; customEntrypoint?: string; customCommand?: string };
  docker?: { configType: string; customEntrypoint?: string; customCommand?: string };
}

/** The Northflank job body as stored (secrets joined back in on read). */
export interface JobSpec {
  name: string;
  description?: string;
  tags?: string[];
  billing: { deploymentPlan: string; buildPlan?: string };
  deployment?: RuntimeOverrides & {
    internal?: { id?: string; branch?: string; buildSHA?: string; buildId?: string };
    /** an image to run instead (the container runtime only) */
    external?: { imagePath: string; credentials?: string };
    gracePeriodSeconds?: number;
    storage?: Record<string, unknown>;
  };
  /** slipway: a shell command to run instead of the source's start command */
  command?: string;
  runtimeEnvironment?: Record<string, string>;
  runtimeFiles?: Record<string, { data: string; encoding?: string }>;
  backoffLimit?: number;
  activeDeadlineSeconds?: number | null;
  runOnSourceChange?: string;
  schedule?: string;
  suspended?: boolean;
  concurrencyPolicy?: ConcurrencyPolicy;
}

export type JobSecrets = Pick<JobSpec, 'runtimeEnvironment' | 'runtimeFiles'>;

export interface JobRecord {
  projectId: string;
  id: string;
  name: string;
  kind: JobKind;
  spec: JobSpec;
  version: number;
  lastTickAt: string | null;
  createdAt: string;
  updatedAt: string;
}

/** Everything a run's instances need, resolved once when the run is made (like a release, immutable). */
export interface RunSpec {
  artifactDir?: string;
  image?: string;
  command: string[];
  plan: string;
  backoffLimit: number;
  activeDeadlineSeconds: number | null;
  gracePeriodSeconds: number;
  /** where it came from: a build, or a service's release */
  buildId?: string;
  releaseId?: string;
  releaseNumber?: number;
}

export interface RunSecrets {
  env: Record<string, string>;
  files: Record<string, { data: string; encoding?: string }>;
}

export interface RunRecord {
  id: string;
  projectId: string;
  ownerKind: RunOwnerKind;
  /** job id, or service id for a service run */
  jobId: string;
  number: number;
  status: RunStatus;
  exitCode: number | null;
  attempts: number;
  spec: RunSpec;
  secrets: RunSecrets;
  message: string | null;
  scheduleTick: string | null;
  retryAt: string | null;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  logPath: string;
}

export const isConcluded = (s: RunStatus): boolean => s === 'SUCCEEDED' || s === 'FAILED';

/**
 * A run's id: project, owner, number and a short random tail. The tail keeps a job deleted and created
 * again under the same name from meeting its predecessor's instance names or kept logs.
 */
export function runId(projectId: string, ownerKind: RunOwnerKind, ownerId: string, number: number, tail: string): string {
  return `${projectId}--${ownerId}--${ownerKind === 'job' ? 'job' : 'run'}-${number}-${tail}`;
}

/** One instance per attempt, named from the run: a restarted control plane finds and adopts it. */
export function attemptInstanceId(run: Pick<RunRecord, 'id'>, attempt: number): string {
  return `${run.id}-a${attempt}`;
}

/** The attempt an instance id belongs to, or undefined if it is not one of the run's. */
export function attemptOf(run: Pick<RunRecord, 'id'>, instanceId: string): number | undefined {
  if (!instanceId.startsWith(`${run.id}-a`)) return undefined;
  const n = Number(instanceId.slice(run.id.length + 2));
  return Number.isInteger(n) && n > 0 ? n : undefined;
}

/**
 * Parse a cron schedule: 5 fields (minute precision) or 6 (with seconds first), evaluated in UTC.
 * Returns the problem with the field named `field`, or undefined when it is valid.
 */
export function scheduleProblem(schedule: string, field = 'schedule'): FieldProblem | undefined {
  const fields = schedule.trim().split(/\s+/);
  if (fields.length !== 5 && fields.length !== 6) return { field, rule: 'cron', message: 'must be a cron expression of 5 fields (minute hour day month weekday) or 6 (seconds first)' };
  try {
    CronExpressionParser.parse(schedule, { tz: 'UTC' });
    return undefined;
  } catch (err) {
    return { field, rule: 'cron', message: `is not a valid cron expression: ${(err as Error).message}` };
  }
}

/**
 * The newest tick of `schedule` at or before `now` that is later than `after`, or undefined when none is
 * due. Ticks missed while nothing ran (a control plane down for an hour) collapse into the newest one, as
 * a Kubernetes CronJob without a starting deadline would start at most one late run.
 */
export function dueTick(schedule: string, after: Date, now: Date): Date | undefined {
  const expr = CronExpressionParser.parse(schedule, { tz: 'UTC', currentDate: new Date(now.getTime() + 1) });
  const prev = expr.prev().toDate();
  return prev.getTime() > after.getTime() ? prev : undefined;
}

/** Kubernetes-style retry back-off after a failed attempt: 10 s, 20 s, 40 s … capped at 6 min, times the time scale. */
export function retryBackoffMs(failedAttempts: number, timeScale: number): number {
  return Math.min(6 * 60_000, 10_000 * 2 ** Math.max(0, failedAttempts - 1)) * timeScale;
}

/**
 * The command a job runs: an explicit command, a buildpack/docker custom command (with its entrypoint), a
 * custom Procfile process, else the source's `web` start command. Undefined when there is none.
 */
export function resolveJobCommand(o: { command?: string; overrides?: RuntimeOverrides }, processes: Record<string, string[]>): string[] | undefined {
  if (o.command) return ['/bin/sh', '-c', o.command];
  const bp = o.overrides?.buildpack;
  if (bp && bp.configType !== 'default') {
    if (bp.configType === 'customProcess' && bp.customProcess && processes[bp.customProcess]) return processes[bp.customProcess];
    if (bp.customCommand) {
      const entry = bp.configType === 'customEntrypointCustomCommand' && bp.customEntrypoint ? `${bp.customEntrypoint} ` : '';
      return ['/bin/sh', '-c', `${entry}${bp.customCommand}`];
    }
  }
  const dk = o.overrides?.docker;
  if (dk && dk.configType !== 'default') {
    if (dk.configType === 'customCommand' && dk.customCommand) return ['/bin/sh', '-c', dk.customCommand];
    if (dk.configType === 'customEntrypointCustomCommand' && dk.customEntrypoint && dk.customCommand) return ['/bin/sh', '-c', `${dk.customEntrypoint} ${dk.customCommand}`];
  }
  return processes.web;
}

export function splitJobSecrets(spec: JobSpec): { open: JobSpec; secrets: JobSecrets } {
  const { runtimeEnvironment, runtimeFiles, ...open } = spec;
  return { open: open as JobSpec, secrets: { runtimeEnvironment, runtimeFiles } };
}

export function joinJobSecrets(open: JobSpec, secrets: JobSecrets): JobSpec {
  return { ...open, ...(secrets.runtimeEnvironment ? { runtimeEnvironment: secrets.runtimeEnvironment } : {}), ...(secrets.runtimeFiles ? { runtimeFiles: secrets.runtimeFiles } : {}) };
}

/** What a PATCH of a job may change: Northflank's PatchJob body, flattened as the job is stored (see mergeJobSpec). */
export type JobPatch = Partial<Omit<JobSpec, 'name'>>;

/** PATCH semantics for a job, as for services (see mergeSpecPatch); the name, and so the id, stays. */
export function mergeJobSpec(cur: JobSpec, patch: JobPatch): JobSpec {
  return { ...mergeSpecPatch<JobSpec>(cur, patch), name: cur.name };
}
