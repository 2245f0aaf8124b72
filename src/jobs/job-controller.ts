/**
 * The job controller: one pass per run id closes the gap between a run's record and its instances. A run
 * has at most one instance, of its current attempt (`<run id>-a<attempt>`), labelled process type `job`
 * (the service controller leaves those alone). Each pass reads the run and the runtime fresh and takes one
 * step:
 *
 *   PENDING ──start attempt 1──► RUNNING ──exit 0──────────────────────► SUCCEEDED
 *                                  │  └─exit ≠ 0, attempts ≤ backoffLimit → retry after back-off
 *                                  ├─exit ≠ 0, no retries left ─────────► FAILED
 *                                  └─past activeDeadlineSeconds: kill ──► FAILED
 *
 * An attempt's result is written before its instance is removed, and its output is recorded (one file per
 * attempt, written whole, so a repeated pass rewrites the same file) before that, so a control plane
 * killed between any two steps converges on restart: it adopts the running instance by id, or finishes
 * recording an exited one. Concluded and deleted runs lose whatever still runs of them.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Store } from '../store/store.ts';
import type { InstanceSpec, ObservedInstance, RuntimeDriver } from '../runtime/driver.ts';
import type { PassResult } from '../controllers/queue.ts';
import { findPlan } from '../domain/plans.ts';
import { attemptInstanceId, attemptOf, isConcluded, retryBackoffMs, type RunRecord } from '../domain/job.ts';
import type { RunExecutor, RunLogLine } from './jobs-service.ts';

export interface JobControllerLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

const RUNNING = ['PENDING', 'RUNNING'] as ('PENDING' | 'RUNNING')[];
/** how often a running attempt is looked at even without a runtime event (deadline, missed events) */
const POLL_MS = 1000;

export class JobController implements RunExecutor {
  private unwatch?: () => void;
  private resyncTimer?: NodeJS.Timeout;

  constructor(
    private readonly store: Store,
    private readonly driver: RuntimeDriver,
    /** `shareLogs`: keep each finished attempt's output in the store too, for other control-plane replicas */
    private readonly opts: { runsDir: string; timeScale: number; gracePeriodCapSeconds?: number; resyncMs: number; logger: JobControllerLogger; requeue: (runId: string) => void; shareLogs?: boolean },
  ) {}

  /** Follow runtime events of job instances and resync periodically; enqueues every run that needs a pass now. */
  async start(): Promise<void> {
    this.unwatch = this.driver.watch((e) => {
      if (e.instance.labels.processType === 'job' && e.instance.labels.release) this.opts.requeue(e.instance.labels.release);
    });
    await this.resync();
    this.resyncTimer = setInterval(() => void this.resync().catch((err) => this.opts.logger.error({ err }, 'job resync failed')), this.opts.resyncMs);
    this.resyncTimer.unref();
  }

  stop(): void {
    this.unwatch?.();
    if (this.resyncTimer) clearInterval(this.resyncTimer);
  }

  /** Active runs, and every run the runtime still has an instance of (concluded or deleted ones are cleaned). */
  private async resync(): Promise<void> {
    for (const r of await this.store.jobs.listActive()) this.opts.requeue(r.id);
    for (const i of await this.driver.list()) if (i.labels.processType === 'job') this.opts.requeue(i.labels.release);
  }

  runChanged(runId: string): void {
    this.opts.requeue(runId);
  }

  async reconcile(id: string): Promise<PassResult> {
    const run = await this.store.jobs.findRun(id);
    const observed = (await this.driver.list()).filter((i) => i.labels.processType === 'job' && i.labels.release === id);

    if (!run) {
      // The job (or its run) was deleted: stop what runs, forget its output.
      for (const inst of observed) await this.stopInstance(inst, 1);
      fs.rmSync(path.join(this.opts.runsDir, id), { recursive: true, force: true });
      return;
    }
    if (isConcluded(run.status)) {
      for (const inst of observed) await this.finishInstance(run, inst);
      return;
    }

    const current = run.attempts;
    // Leftovers of earlier attempts (a pass interrupted after it recorded the attempt): record and remove.
    for (const inst of observed.filter((i) => attemptOf(run, i.id) !== current)) await this.finishInstance(run, inst);
    const inst = observed.find((i) => attemptOf(run, i.id) === current && current > 0);
    const now = Date.now();

    const deadlineAt = run.startedAt && run.spec.activeDeadlineSeconds ? Date.parse(run.startedAt) + run.spec.activeDeadlineSeconds * 1000 : undefined;
    if (deadlineAt !== undefined && now >= deadlineAt) {
      // Past the deadline: the run fails whatever its attempts would still have done (Kubernetes' activeDeadlineSeconds).
      const exitCode = inst?.state === 'exited' ? (inst.exitCode ?? null) : null;
      if (inst) await this.finishInstance(run, inst);
      await this.store.jobs.updateRun(
        run.id,
        { status: 'FAILED', exitCode, retryAt: null, finishedAt: new Date().toISOString(), message: `DeadlineExceeded: the run was stopped after its activeDeadlineSeconds (${run.spec.activeDeadlineSeconds} s)` },
        RUNNING,
      );
      this.opts.logger.info({ run: run.id }, 'job run exceeded its deadline');
      return;
    }
    const untilDeadline = deadlineAt !== undefined ? Math.max(0, deadlineAt - now) : Infinity;

    if (inst) {
      if (inst.state !== 'exited') return { againInMs: Math.min(POLL_MS, untilDeadline) };
      await this.recordOutput(run, current, inst.id);
      const code = inst.exitCode ?? null;
      const how = inst.signal ? `signal ${inst.signal}` : `exit code ${code}`;
      if (code === 0) {
        await this.store.jobs.updateRun(run.id, { status: 'SUCCEEDED', exitCode: 0, finishedAt: new Date().toISOString(), message: null }, RUNNING);
      } else if (current <= run.spec.backoffLimit) {
        const retryAt = new Date(now + retryBackoffMs(current, this.opts.timeScale)).toISOString();
        await this.store.jobs.updateRun(run.id, { exitCode: code, retryAt, message: `attempt ${current} failed (${how}); retrying (${current}/${run.spec.backoffLimit} retries used)` }, RUNNING);
      } else {
        const retried = run.spec.backoffLimit > 0 ? `BackoffLimitExceeded: ${current} attempts failed, the last with ${how}` : `attempt failed with ${how}`;
        await this.store.jobs.updateRun(run.id, { status: 'FAILED', exitCode: code, finishedAt: new Date().toISOString(), message: retried }, RUNNING);
      }
      await this.driver.remove(inst.id);
      return { againInMs: 0 };
    }

    // No instance of the current attempt: start one (the first, the next after a back-off, or the current
    // one again if a previous pass recorded it but stopped before launching it: start is idempotent by id).
    let attempt = current;
    if (run.status === 'PENDING') {
      attempt = 1;
      if (!(await this.store.jobs.updateRun(run.id, { status: 'RUNNING', attempts: 1, startedAt: new Date().toISOString() }, ['PENDING']))) return { againInMs: 0 };
    } else if (run.retryAt) {
      const wait = Date.parse(run.retryAt) - now;
      if (wait > 0) return { againInMs: Math.min(wait, untilDeadline) };
      attempt = current + 1;
      if (!(await this.store.jobs.updateRun(run.id, { attempts: attempt, retryAt: null }, ['RUNNING']))) return { againInMs: 0 };
    }
    await this.launch(run, attempt);
    return { againInMs: Math.min(POLL_MS, untilDeadline) };
  }

  private async launch(run: RunRecord, attempt: number): Promise<void> {
    const id = attemptInstanceId(run, attempt);
    const plan = findPlan(run.spec.plan);
    const spec: InstanceSpec = {
      id,
      labels: { project: run.projectId, service: run.jobId, release: run.id, processType: 'job' },
      artifactDir: run.spec.artifactDir,
      image: run.spec.image,
      command: run.spec.command,
      env: {
        ...run.secrets.env,
        SLIPWAY_PROJECT: run.projectId,
        SLIPWAY_SERVICE: run.jobId,
        SLIPWAY_INSTANCE: id,
        SLIPWAY_RELEASE: String(run.spec.releaseNumber ?? run.number),
        SLIPWAY_JOB_RUN: run.id,
        SLIPWAY_JOB_ATTEMPT: String(attempt),
      },
      files: Object.entries(run.secrets.files).map(([p, f]) => ({ path: p, content: Buffer.from(f.data, 'base64') })),
      ports: [],
      memoryMb: plan?.memoryMb,
      cpu: plan?.cpu,
    };
    try {
      if (spec.image) spec.registryAuth = await this.registryAuthOf(run, spec.image);
      await this.driver.start(spec);
    } catch (err) {
      // A run that cannot start (bad runtime file path, launch failure) fails at once: retrying the same
      // spec would fail the same way.
      const message = err instanceof Error ? err.message : String(err);
      await this.store.jobs.updateRun(run.id, { status: 'FAILED', finishedAt: new Date().toISOString(), message: `the run could not start: ${message}` }, RUNNING);
      this.opts.logger.warn({ run: run.id, err: message }, 'job run could not start');
    }
  }

  /**
   * The saved registry credentials the run's image is pulled with: the job's `deployment.external.credentials`,
   * or those of the service release it runs (unless the run overrides the image). Throws, naming the
   * credential, if it is gone or restricted away from the project.
   */
  private async registryAuthOf(run: RunRecord, image: string): Promise<InstanceSpec['registryAuth']> {
    let credentialId: string | undefined;
    if (run.spec.releaseId) {
      const release = await this.store.releases.find(run.spec.releaseId);
      if (release?.spec.image === image) credentialId = release.spec.imageCredentials;
    } else if (run.ownerKind === 'job') {
      const external = (await this.store.jobs.find(run.projectId, run.jobId))?.spec.deployment?.external;
      if (external?.imagePath === image) credentialId = external.credentials;
    }
    if (!credentialId) return undefined;
    return this.store.registryCredentials.authFor(credentialId, run.projectId, image).catch((err: Error) => {
      throw new Error(`registry credentials '${credentialId}' for image ${image}: ${err.message}`);
    });
  }

  /** Record an instance's output (if not yet), stop it if it still runs, and remove it. */
  private async finishInstance(run: RunRecord, inst: ObservedInstance): Promise<void> {
    if (inst.state !== 'exited') await this.driver.stop(inst.id, this.grace(run.spec.gracePeriodSeconds));
    const attempt = attemptOf(run, inst.id);
    if (attempt) await this.recordOutput(run, attempt, inst.id);
    await this.driver.remove(inst.id);
  }

  private async stopInstance(inst: ObservedInstance, grace: number): Promise<void> {
    if (inst.state !== 'exited') await this.driver.stop(inst.id, grace);
    await this.driver.remove(inst.id);
  }

  private grace(seconds: number): number {
    return this.opts.gracePeriodCapSeconds !== undefined ? Math.min(seconds, this.opts.gracePeriodCapSeconds) : seconds;
  }

  private attemptFile(run: RunRecord, attempt: number): string {
    return path.join(run.logPath, `attempt-${attempt}.log`);
  }

  /** Copy an attempt's output from the runtime into the run's log directory, once. */
  private async recordOutput(run: RunRecord, attempt: number, instanceId: string): Promise<void> {
    const file = this.attemptFile(run, attempt);
    if (fs.existsSync(file)) return;
    const lines: string[] = [];
    for await (const l of this.driver.logs(instanceId)) lines.push(JSON.stringify({ ts: l.ts, stream: l.stream, line: l.line }));
    fs.mkdirSync(run.logPath, { recursive: true });
    // Write then rename: a reader or a crash never sees half a file that would then be kept as complete.
    fs.writeFileSync(`${file}.tmp`, lines.length ? lines.join('\n') + '\n' : '');
    fs.renameSync(`${file}.tmp`, file);
    if (this.opts.shareLogs) await this.store.blobs.put(attemptBlob(run, attempt), fs.readFileSync(file));
  }

  async logsOf(run: RunRecord, opts: { tail?: number }): Promise<RunLogLine[]> {
    const out: RunLogLine[] = [];
    for (let attempt = 1; attempt <= run.attempts; attempt++) {
      const file = this.attemptFile(run, attempt);
      // Run by another control-plane replica: its finished attempts are in the store (docs/high-availability.md).
      const kept = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : this.opts.shareLogs ? (await this.store.blobs.get(attemptBlob(run, attempt)))?.toString('utf8') : undefined;
      if (kept !== undefined) {
        for (const text of kept.split('\n')) {
          if (!text) continue;
          try {
            const l = JSON.parse(text) as { ts: string; stream: string; line: string };
            out.push({ attempt, ts: l.ts, stream: l.stream, line: l.line });
          } catch {}
        }
      } else if (this.opts.shareLogs) {
        // An attempt still running shows its output on the replica that runs it; elsewhere, none until it ends.
        try {
          for await (const l of this.driver.logs(attemptInstanceId(run, attempt))) out.push({ attempt, ts: l.ts, stream: l.stream, line: l.line });
        } catch {}
      } else {
        for await (const l of this.driver.logs(attemptInstanceId(run, attempt))) out.push({ attempt, ts: l.ts, stream: l.stream, line: l.line });
      }
    }
    return opts.tail !== undefined ? out.slice(-opts.tail) : out;
  }
}

/** The store's name of a finished attempt's output (JSON lines), for other replicas. */
function attemptBlob(run: RunRecord, attempt: number): string {
  return `job-run-log/${run.projectId}/${run.id}/${attempt}`;
}
