/**
 * Executes release flow runs. One pass at a time walks every run not concluded and takes each node's next
 * step: a pending node whose predecessors succeeded is written `running` BEFORE its action is taken (a job run
 * started, a backup scheduled, a build queued, a deployment changed), and the action's id is written right
 * after; a running node is polled through that id. A control plane killed between the two writes leaves a
 * `running` node without an id: on the next start it fails with that reason and its action is never taken a
 * second time. Everything the runner knows is in the run's row, so a restart continues where it stopped.
 *
 * Release nodes go through the service catalog (a pinned build or image, then the ordinary zero-downtime
 * rollout) and wait for that rollout: a failed rollout returns the service to its last good release by the
 * rollout engine's own rule, and the node fails.
 */
import type { Logger } from 'pino';
import type { Store } from '../store/store.ts';
import type { Principal } from '../services/auth.ts';
import type { ServiceCatalog } from '../services/service-catalog.ts';
import type { ServiceDeploys } from '../services/service-deploys.ts';
import type { BuildsService } from '../services/builds.ts';
import type { JobsService } from '../jobs/jobs-service.ts';
import type { AddonsService } from '../addons/addons-service.ts';
import { serviceKey } from '../domain/ids.ts';
import type { FlowRunRecord, NodeState } from './flows-repo.ts';
import { resolveExpressions } from './template.ts';
import type { FlowsService } from './flows-service.ts';

/** The runner acts with the platform's own authority: the caller's right was checked when the run was made. */
const SYSTEM: Principal = { tokenId: 'release-flow-runner', role: 'admin', projectId: null };
const DEFAULT_CONDITION_TIMEOUT_SECONDS = 600;

export interface RunnerDeps {
  store: Store;
  flows: FlowsService;
  catalog: ServiceCatalog;
  deploys: ServiceDeploys;
  builds: BuildsService;
  jobs: JobsService;
  addons?: AddonsService;
  logger: Logger;
  intervalMs?: number;
}

type Step = { status: NodeState['status']; message?: string; output?: Record<string, unknown> } | undefined;

export class FlowRunner {
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  private again = false;
  private stopped = false;

  constructor(private readonly d: RunnerDeps) {}

  /** Fail the nodes a killed control plane left half-started, then run passes until stopped. */
  async start(): Promise<void> {
    this.stopped = false;
    for (const run of await this.d.store.db.selectFrom('release_flow_runs').select('id').where('concluded', '=', 0).execute()) {
      await this.d.flows.update(run.id, (r) => {
        for (const n of r.nodes) {
          if (n.status === 'running' && !n.effect) {
            Object.assign(n, { status: 'failure', concludedAt: new Date().toISOString(), message: 'the control plane stopped while this node was starting: whether its action was taken cannot be confirmed, so it is not taken again' });
            n.log.push(`${new Date().toISOString()} ${n.message}`);
          }
        }
      });
    }
    this.timer = setInterval(() => this.wake(), this.d.intervalMs ?? 500);
    this.timer.unref();
    this.wake();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    await this.running;
  }

  wake(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.pass()
      .catch((err) => this.d.logger.error({ err }, 'release flow pass failed'))
      .finally(() => {
        this.running = undefined;
        if (this.again && !this.stopped) {
          this.again = false;
          this.wake();
        }
      });
  }

  private async pass(): Promise<void> {
    for (const run of await this.d.flows.repo.activeRuns()) {
      if (this.stopped) return;
      try {
        await this.advance(run);
      } catch (err) {
        this.d.logger.warn({ run: run.id, err: (err as Error).message }, 'release flow run pass failed');
      }
    }
  }

  private async advance(run: FlowRunRecord): Promise<void> {
    const { flows } = this.d;
    if (run.status === 'queued') {
      const others = (await flows.repo.listRuns(run.projectId, run.pipelineId, run.stage, { limit: 1000, concluded: false })).filter((r) => r.id !== run.id);
      const blocked = others.some((r) => r.status !== 'queued' || r.number < run.number);
      if (!blocked) await flows.update(run.id, (r) => void (r.status === 'queued' && (r.status = 'pending')));
      return;
    }
    if (run.status === 'pending') {
      await flows.update(run.id, (r) => void (r.status === 'pending' && Object.assign(r, { status: 'running', startedAt: new Date().toISOString() })));
      return;
    }
    if (run.status === 'aborting') return this.abortRun(run);
    // running: each node's next step, in document order
    for (const node of run.nodes) {
      const fresh = await flows.repo.getRun(run.id);
      if (fresh.status !== 'running') return;
      const n = fresh.nodes.find((x) => x.path === node.path)!;
      if (n.status === 'pending') await this.maybeStart(fresh, n);
      else if (n.status === 'running' && n.effect) await this.poll(fresh, n);
    }
    const done = await flows.repo.getRun(run.id);
    if (done.status === 'running' && done.nodes.every((n) => !['pending', 'running'].includes(n.status))) {
      const failed = done.nodes.filter((n) => n.status === 'failure');
      await flows.update(run.id, (r) => {
        if (r.status !== 'running') return;
        r.status = failed.length ? 'failure' : 'success';
        r.concludedAt = new Date().toISOString();
        if (failed.length) r.message = [r.message, `failed: ${failed.map((f) => `${f.ref ?? f.path} (${f.message ?? f.kind})`).join('; ')}`].filter(Boolean).join('. ');
      });
    }
  }

  /** Start a pending node if what it waits for concluded well; skip it if that failed. */
  private async maybeStart(run: FlowRunRecord, n: NodeState): Promise<void> {
    const deps = run.nodes.filter((x) => n.after.includes(x.path));
    if (deps.some((x) => x.status === 'pending' || x.status === 'running')) return;
    const bad = deps.filter((x) => x.status === 'failure' || x.status === 'aborted' || (x.status === 'skipped' && x.cascade));
    const releasesFailed = deps.some((x) => x.kind === 'Release' && x.status === 'failure');
    if (n.phase === 'revert-expand') {
      if (!releasesFailed) return this.conclude(run.id, n.path, { status: 'skipped', message: 'every promotion completed: nothing to revert' }, false);
    } else if (n.phase === 'contract' && releasesFailed) {
      return this.conclude(run.id, n.path, { status: 'skipped', message: 'a promotion failed and its service returned to its last good release: the contract step does not run' }, true);
    } else if (bad.length) {
      return this.conclude(run.id, n.path, { status: 'skipped', message: `not run: ${bad.map((b) => b.ref ?? b.path).join(', ')} did not succeed` }, true);
    }
    const scope = { args: run.inputs.arguments, refs: { ...run.inputs.triggerRefs, ...Object.fromEntries(run.nodes.filter((x) => x.ref && x.output).map((x) => [x.ref!, x.output!])) } as Record<string, Record<string, unknown>> };
    const { value: spec, missing } = resolveExpressions(n.spec, scope);
    const skip = n.skipNodeExecution ? resolveExpressions(n.skipNodeExecution, scope) : undefined;
    if (missing.length || skip?.missing.length) return this.conclude(run.id, n.path, { status: 'failure', message: `unresolved ${[...missing, ...(skip?.missing ?? [])].map((m) => `\${${m}}`).join(', ')}` }, false);
    if (skip && String(skip.value) === 'true') return this.conclude(run.id, n.path, { status: 'skipped', message: 'skipNodeExecution is true' }, false);
    // Written before acting: a crash from here on leaves a node that is never acted on twice.
    await this.d.flows.update(run.id, (r) => {
      const x = r.nodes.find((y) => y.path === n.path)!;
      Object.assign(x, { status: 'running', startedAt: new Date().toISOString(), spec });
      x.log.push(`${x.startedAt} started`);
    });
    let effect: Record<string, string | number>;
    let output: Record<string, unknown> = {};
    try {
      ({ effect, output } = await this.act(run, n.kind, spec));
    } catch (err) {
      return this.conclude(run.id, n.path, { status: 'failure', message: (err as Error).message }, false);
    }
    await this.d.flows.update(run.id, (r) => {
      const x = r.nodes.find((y) => y.path === n.path)!;
      x.effect = effect;
      x.output = { ...(x.output ?? {}), ...output };
      x.log.push(`${new Date().toISOString()} ${Object.entries(effect).map(([k, v]) => `${k}=${v}`).join(' ')}`);
    });
    const fresh = await this.d.flows.repo.getRun(run.id);
    await this.poll(fresh, fresh.nodes.find((x) => x.path === n.path)!);
  }

  private async conclude(runId: string, path: string, step: NonNullable<Step>, cascade: boolean): Promise<void> {
    await this.d.flows.update(runId, (r) => {
      const x = r.nodes.find((y) => y.path === path)!;
      if (!['pending', 'running'].includes(x.status)) return;
      const now = new Date().toISOString();
      Object.assign(x, { status: step.status, concludedAt: now, ...(step.message ? { message: step.message } : {}), ...(cascade ? { cascade: true } : {}) });
      if (step.output) x.output = { ...(x.output ?? {}), ...step.output };
      x.log.push(`${now} ${step.status}${step.message ? `: ${step.message}` : ''}`);
    });
  }

  /** Take a node's action; returns the ids that let its outcome be read later. */
  private async act(run: FlowRunRecord, kind: string, spec: Record<string, any>): Promise<{ effect: Record<string, string | number>; output: Record<string, unknown> }> {
    const p = run.projectId;
    switch (kind) {
      case 'JobRun': {
        const r = await this.d.jobs.startRun(SYSTEM, p, spec.jobId, { ...(spec.runtimeEnvironment ? { runtimeEnvironment: spec.runtimeEnvironment } : {}), ...(spec.command ? { command: spec.command } : {}), ...(spec.billing ? { billing: spec.billing } : {}), ...(spec.deployment ? { deployment: spec.deployment } : {}) });
        return { effect: { jobRunId: r.id }, output: { id: r.id, jobId: spec.jobId } };
      }
      case 'AddonBackup': {
        if (!this.d.addons) throw new Error('addons are not available on this platform');
        const b = await this.d.addons.backups.backup(SYSTEM, p, spec.addonId, { name: spec.name ?? `release flow run ${run.number}`, backupType: spec.backupType ?? 'dump' });
        return { effect: { backupId: b.id }, output: { id: b.id, addonId: spec.addonId } };
      }
      case 'Build': {
        const b = await this.d.builds.startFromGit(SYSTEM, p, spec.id, { ...(spec.branch ? { branch: spec.branch } : {}), ...(spec.sha ? { sha: spec.sha } : {}) });
        return { effect: { buildId: b.id }, output: { id: b.id, branch: b.branch, sha: b.sha } };
      }
      case 'Condition':
        return { effect: { since: Date.now() }, output: {} };
      case 'Release':
        return this.release(run, spec);
      case 'Rollback': {
        const svc = await this.d.store.services.get(p, spec.serviceId);
        if (svc.targetReleaseId === spec.releaseId) return { effect: { unchanged: 1 }, output: { serviceId: svc.id, releaseId: spec.releaseId, releaseNumber: spec.releaseNumber } };
        await this.d.deploys.rollback(SYSTEM, p, spec.serviceId, spec.releaseNumber);
        return { effect: await this.rolloutTo(p, spec.serviceId), output: { serviceId: spec.serviceId, releaseId: spec.releaseId, releaseNumber: spec.releaseNumber } };
      }
    }
    throw new Error(`no action for a ${kind} node`);
  }

  /** A release node: pin the build (or image) on the target, and name the rollout that takes it there. */
  private async release(run: FlowRunRecord, spec: Record<string, any>): Promise<{ effect: Record<string, string | number>; output: Record<string, unknown> }> {
    const p = run.projectId;
    const target = spec.target as { id: string; type: 'service' | 'job' };
    let buildId: string | undefined;
    let image: string | undefined;
    if (spec.type === 'build') {
      const origin = spec.origin as { id?: string; branch?: string; build?: string };
      if (origin.build && origin.build !== 'latest') {
        const b = await this.d.store.builds.find(origin.build);
        if (!b || b.projectId !== p || b.status !== 'SUCCESS' || (origin.id && b.serviceId !== origin.id)) throw new Error(`no successful build '${origin.build}'${origin.id ? ` of build service '${origin.id}'` : ''}`);
        buildId = b.id;
      } else {
        const b = (await this.d.store.builds.list(p, origin.id!, 100)).find((x) => x.status === 'SUCCESS' && (!origin.branch || x.branch === origin.branch));
        if (!b) throw new Error(`build service '${origin.id}' has no successful build${origin.branch ? ` of branch '${origin.branch}'` : ''}`);
        buildId = b.id;
      }
    } else if (spec.type === 'registry') image = spec.origin.imagePath;
    else {
      // Promotion: what the previous stage's resource runs now.
      const origin = spec.origin as { id: string; type: 'service' | 'job' };
      if (origin.type === 'job') {
        const job = await this.d.store.jobs.get(p, origin.id);
        buildId = job.spec.deployment?.internal?.buildId;
        image = job.spec.deployment?.external?.imagePath;
        if (!buildId && !image) throw new Error(`job '${origin.id}' has no pinned build or image to promote`);
      } else {
        const src = await this.d.store.services.get(p, origin.id);
        const rel = src.targetReleaseId ? await this.d.store.releases.find(src.targetReleaseId) : undefined;
        if (!rel) throw new Error(`service '${origin.id}' runs no release yet: nothing to promote`);
        if (rel.buildId) buildId = rel.buildId;
        else if (rel.image) image = rel.image;
        else throw new Error(`service '${origin.id}' runs neither a build nor an image`);
      }
    }
    const build = buildId ? await this.d.store.builds.find(buildId) : undefined;
    if (target.type === 'job') {
      await this.d.jobs.patchJob(SYSTEM, p, target.id, { deployment: build ? { internal: { id: build.serviceId, buildId: build.id } } : { external: { imagePath: image! } } } as never);
      return { effect: { jobId: target.id }, output: { jobId: target.id, ...(build ? { buildId: build.id } : { image }) } };
    }
    const before = await this.d.store.services.get(p, target.id);
    // A patch of `internal` drops `external` and the other way round (mergeSpecPatch): the build or image is pinned.
    await this.d.catalog.patch(SYSTEM, p, target.id, 'deployment', { deployment: build ? { internal: { id: build.serviceId, buildId: build.id } } : { external: { imagePath: image! } } } as never);
    const after = await this.d.store.services.get(p, target.id);
    const out = { serviceId: target.id, ...(build ? { buildId: build.id } : { image }) };
    if (after.targetReleaseId === before.targetReleaseId) {
      // Already running it: the release it runs is what a rollback to this run goes back to.
      const rel = after.targetReleaseId ? await this.d.store.releases.find(after.targetReleaseId) : undefined;
      return { effect: { unchanged: 1, serviceId: target.id }, output: { ...out, releaseId: after.targetReleaseId, releaseNumber: rel?.number } };
    }
    return { effect: await this.rolloutTo(p, target.id), output: out };
  }

  /** The rollout that takes a service to its current target release. */
  private async rolloutTo(projectId: string, serviceId: string): Promise<Record<string, string | number>> {
    const svc = await this.d.store.services.get(projectId, serviceId);
    const r = (await this.d.store.rollouts.list(serviceKey(projectId, serviceId), 20)).find((x) => x.toReleaseId === svc.targetReleaseId);
    if (!r) throw new Error(`service '${serviceId}' started no rollout`);
    return { serviceId, rolloutId: r.id, releaseId: svc.targetReleaseId! };
  }

  /** Read a running node's outcome through its effect. */
  private async poll(run: FlowRunRecord, n: NodeState): Promise<void> {
    const step = await this.outcome(run, n).catch((err) => ({ status: 'failure' as const, message: (err as Error).message }));
    if (step) await this.conclude(run.id, n.path, step, false);
  }

  private async outcome(run: FlowRunRecord, n: NodeState): Promise<Step> {
    const e = n.effect!;
    const p = run.projectId;
    const spec = n.spec as Record<string, any>;
    const waits = n.condition === 'success' || n.phase !== undefined;
    switch (n.kind) {
      case 'JobRun': {
        if (!waits) return { status: 'success', message: 'started (no wait: condition is not success)' };
        const r = await this.d.store.jobs.getRun(p, 'job', spec.jobId, String(e.jobRunId));
        if (r.status === 'SUCCEEDED') return { status: 'success', output: { status: 'SUCCEEDED' } };
        if (r.status === 'FAILED') return { status: 'failure', message: `job run ${r.number} failed${r.message ? `: ${r.message}` : ''}`, output: { status: 'FAILED' } };
        return undefined;
      }
      case 'AddonBackup': {
        if (n.condition !== 'success') return { status: 'success', message: 'scheduled (no wait: condition is not success)' };
        const b = await this.d.store.addons.findBackup(String(e.backupId));
        if (b?.status === 'completed') return { status: 'success' };
        if (!b || ['failed', 'aborted'].includes(b.status)) return { status: 'failure', message: `backup ${e.backupId} ${b?.status ?? 'is gone'}` };
        return undefined;
      }
      case 'Build': {
        if (n.condition !== 'success') return { status: 'success' };
        const b = await this.d.store.builds.find(String(e.buildId));
        if (b?.status === 'SUCCESS') return { status: 'success' };
        if (!b || b.status === 'FAILURE' || b.status === 'ABORTED') return { status: 'failure', message: `build ${e.buildId} ${b?.status.toLowerCase() ?? 'is gone'}` };
        return undefined;
      }
      case 'Condition':
        return this.condition(p, spec, Number(e.since));
      case 'Release':
      case 'Rollback': {
        if (e.unchanged || e.jobId) return { status: 'success', message: e.jobId ? `job '${e.jobId}' now runs it` : 'already running it: nothing to roll out' };
        const r = await this.d.store.rollouts.get(String(e.rolloutId));
        const rel = await this.d.store.releases.find(String(e.releaseId));
        if (r.status === 'COMPLETED') return { status: 'success', message: `rollout ${r.number} to release ${rel?.number} completed`, output: { releaseId: e.releaseId, releaseNumber: rel?.number } };
        if (r.status === 'IN_PROGRESS') return undefined;
        return { status: 'failure', message: `rollout ${r.number} ${r.status.toLowerCase()}: ${r.message ?? ''}`.trim() };
      }
    }
    return { status: 'failure', message: `no outcome for a ${n.kind} node` };
  }

  private async condition(projectId: string, spec: Record<string, any>, since: number): Promise<Step> {
    const timeout = (Number(spec.timeoutDuration) || DEFAULT_CONDITION_TIMEOUT_SECONDS) * 1000;
    const inner = spec.spec ?? {};
    let met = false;
    if (spec.kind === 'Service') met = (await this.d.store.services.get(projectId, inner.serviceId)).deployStatus === 'COMPLETED';
    else if (spec.kind === 'Addon') met = (await this.d.store.addons.find(projectId, inner.addonId))?.status === 'running';
    else if (spec.kind === 'JobRun') met = !!inner.runId && (await this.d.store.jobs.getRun(projectId, 'job', inner.jobId, inner.runId)).status === 'SUCCEEDED';
    else if (spec.kind === 'AddonBackup') met = !!inner.backupId && (await this.d.store.addons.findBackup(inner.backupId))?.status === 'completed';
    if (met) return { status: 'success' };
    if (Date.now() - since > timeout) return { status: 'failure', message: `condition not met within ${timeout / 1000}s` };
    return undefined;
  }

  /** Aborting: stop what runs (a job run is aborted), mark the rest, conclude. */
  private async abortRun(run: FlowRunRecord): Promise<void> {
    for (const n of run.nodes.filter((x) => x.status === 'running')) {
      if (n.kind === 'JobRun' && n.effect?.jobRunId) await this.d.jobs.abortRun(SYSTEM, run.projectId, String((n.spec as { jobId: string }).jobId), String(n.effect.jobRunId)).catch(() => undefined);
    }
    await this.d.flows.update(run.id, (r) => {
      if (r.status !== 'aborting') return;
      const now = new Date().toISOString();
      for (const x of r.nodes) {
        if (x.status === 'running') {
          Object.assign(x, { status: 'aborted', concludedAt: now, message: x.kind === 'JobRun' ? 'aborted: its job run was stopped' : x.kind === 'Release' || x.kind === 'Rollback' ? 'aborted: a rollout already begun finishes or returns by itself' : 'aborted' });
          x.log.push(`${now} ${x.message}`);
        } else if (x.status === 'pending') Object.assign(x, { status: 'aborted', concludedAt: now, message: 'not run: the run was aborted' });
      }
      r.status = 'aborted';
      r.concludedAt = now;
    });
  }
}
