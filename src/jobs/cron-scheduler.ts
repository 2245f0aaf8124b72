/**
 * Starts cron jobs' runs on schedule. Every second it looks at each cron job that is not suspended; when a
 * tick is due it first claims the tick in the store (a conditional update of the job's last tick, so one
 * tick is claimed once, by one scheduler, across restarts and replicas), then applies the job's
 * concurrency policy: `allow` starts a run whatever runs, `forbid` skips the tick while a run is active,
 * `replace` fails the active runs (the job controller stops them) and starts the new one. Ticks missed
 * while the control plane was down collapse into the newest one.
 */
import type { Store } from '../store/store.ts';
import { dueTick, type JobRecord } from '../domain/job.ts';
import type { JobsService } from './jobs-service.ts';
import type { JobControllerLogger } from './job-controller.ts';

const CHECK_INTERVAL_MS = 1000;

export class CronScheduler {
  private timer?: NodeJS.Timeout;
  private ticking?: Promise<void>;

  constructor(
    private readonly store: Store,
    private readonly jobs: JobsService,
    private readonly opts: { logger: JobControllerLogger; runChanged: (runId: string) => void },
  ) {}

  start(): void {
    this.timer = setInterval(() => {
      // One check at a time: a slow store must not stack checks that would race for the same tick.
      if (this.ticking) return;
      this.ticking = this.check(new Date())
        .catch((err) => this.opts.logger.error({ err }, 'cron check failed'))
        .finally(() => (this.ticking = undefined));
    }, CHECK_INTERVAL_MS);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.ticking;
  }

  /** One look at every cron job: start the runs whose tick is due at `now`. */
  async check(now: Date): Promise<void> {
    for (const job of await this.store.jobs.listCron()) {
      if (job.spec.suspended || !job.spec.schedule) continue;
      try {
        await this.checkJob(job, now);
      } catch (err) {
        this.opts.logger.error({ err, job: `${job.projectId}/${job.id}` }, 'cron job check failed');
      }
    }
  }

  private async checkJob(job: JobRecord, now: Date): Promise<void> {
    const after = new Date(job.lastTickAt ?? job.createdAt);
    const tick = dueTick(job.spec.schedule!, after, now);
    if (!tick) return;
    const at = tick.toISOString();
    if (!(await this.store.jobs.claimTick(job.projectId, job.id, job.lastTickAt, at))) return;
    const active = await this.store.jobs.listActive({ projectId: job.projectId, ownerKind: 'job', ownerId: job.id });
    const policy = job.spec.concurrencyPolicy ?? 'allow';
    if (active.length > 0 && policy === 'forbid') {
      this.opts.logger.info({ job: `${job.projectId}/${job.id}`, tick: at, active: active.map((r) => r.number) }, 'cron tick skipped: a run is still active (concurrencyPolicy forbid)');
      return;
    }
    if (policy === 'replace') {
      for (const r of active) {
        const replaced = await this.store.jobs.updateRun(r.id, { status: 'FAILED', finishedAt: new Date().toISOString(), retryAt: null, message: `Replaced: stopped for the run of tick ${at} (concurrencyPolicy replace)` }, ['PENDING', 'RUNNING']);
        if (replaced) this.opts.runChanged(r.id);
      }
    }
    const run = await this.jobs.startScheduledRun(job, at);
    this.opts.logger.info({ job: `${job.projectId}/${job.id}`, tick: at, run: run.id, status: run.status }, 'cron run started');
  }
}
