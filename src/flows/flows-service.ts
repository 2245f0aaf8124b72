/**
 * Pipeline and release flow use cases shared by every face: pipelines with Northflank's rules, a release flow
 * per stage (checked when saved), runs with their concurrency policy, abort, a stage's rollback to the state
 * after an earlier run, and the triggers (webhook, git push to a hosted repository). Runs are executed by the
 * FlowRunner; this module only writes what it should do and wakes it.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Store } from '../store/store.ts';
import type { AuthService, Principal } from '../services/auth.ts';
import { ConflictError, NotFoundError, ValidationError, type FieldProblem } from '../errors/errors.ts';
import { idFromName, randomId } from '../domain/ids.ts';
import { FlowsRepo, type FlowRunRecord, type NfObject, type NodeState, type PipelineRecord, type ReleaseFlowRecord, type RunInputs, type RunStatus } from './flows-repo.ts';
import { STAGES, isStage, parseFlow, previousStage, type Stage, type StageResource } from './template.ts';
import { commitFile, gitopsProblems, renderFile, type GitopsSpec } from './gitops-file.ts';
import { hostedRepoPath, parseHostedUrl } from '../builds/hosted-repos.ts';

export type ConcurrencyPolicy = 'allow' | 'queue' | 'forbid' | 'latest' | 'replace';

export interface PipelineInput {
  name?: string;
  description?: string;
  nfObjects?: NfObject[];
}

export interface RunRequest {
  name?: string;
  description?: string;
  arguments?: Record<string, unknown>;
  overrides?: Record<string, Record<string, unknown>>;
  releaseNodeOverrides?: Record<string, Record<string, unknown>>;
}

const hashSecret = (s: string) => createHash('sha256').update(s).digest('hex');

export class FlowsService {
  readonly repo: FlowsRepo;
  constructor(
    private readonly store: Store,
    private readonly auth: AuthService,
    private readonly wake: () => void,
  ) {
    this.repo = new FlowsRepo(store.db);
  }

  // Pipelines

  /** Every service, job and addon of the project, with the pipeline stage each is in (of any pipeline). */
  async resources(projectId: string, exceptPipeline?: string): Promise<(StageResource & { pipelineId?: string; buildsFromGit?: boolean })[]> {
    const pipelines = await this.repo.listPipelines(projectId, { limit: 10_000 });
    const placed = new Map<string, { stage: Stage; pipelineId: string }>();
    for (const p of pipelines) if (p.id !== exceptPipeline) for (const o of p.nfObjects) placed.set(`${o.type}/${o.id}`, { stage: o.stage, pipelineId: p.id });
    const at = (type: string, id: string) => placed.get(`${type}/${id}`);
    const services = await this.store.services.list(projectId, { limit: 10_000 });
    const jobs = await this.store.jobs.list(projectId, { limit: 10_000 });
    const addons = await this.store.addons.list(projectId, { limit: 10_000 });
    return [
      ...services.map((s) => ({ id: s.id, type: 'service' as const, serviceKind: s.kind, stage: at('service', s.id)?.stage ?? null, pipelineId: at('service', s.id)?.pipelineId, buildsFromGit: s.kind === 'combined' && !!s.spec.vcsData?.projectUrl })),
      ...jobs.map((j) => ({ id: j.id, type: 'job' as const, stage: at('job', j.id)?.stage ?? null, pipelineId: at('job', j.id)?.pipelineId })),
      ...addons.map((a) => ({ id: a.id, type: 'addon' as const, stage: at('addon', a.id)?.stage ?? null, pipelineId: at('addon', a.id)?.pipelineId })),
    ];
  }

  /** Northflank's rules for a pipeline's resources; every problem names `nfObjects[i]`'s field. */
  private async checkObjects(projectId: string, pipelineId: string, objects: NfObject[]): Promise<void> {
    const all = await this.resources(projectId, pipelineId);
    const problems: FieldProblem[] = [];
    const seen = new Map<string, number>();
    objects.forEach((o, i) => {
      const f = `nfObjects[${i}]`;
      if (!isStage(o.stage)) problems.push({ field: `${f}.stage`, rule: 'enum', message: `a stage is one of ${STAGES.join(', ')}` });
      const key = `${o.type}/${o.id}`;
      if (seen.has(key)) problems.push({ field: `${f}.id`, rule: 'oneStage', message: `${o.type} '${o.id}' is also nfObjects[${seen.get(key)}]: a resource is in one stage of a pipeline` });
      seen.set(key, i);
      const r = all.find((x) => x.id === o.id && x.type === o.type);
      if (!r) return void problems.push({ field: `${f}.id`, rule: 'exists', message: `the project has no ${o.type} '${o.id}'` });
      if (r.pipelineId) problems.push({ field: `${f}.id`, rule: 'onePipeline', message: `${o.type} '${o.id}' is already in pipeline '${r.pipelineId}': a resource is in one pipeline` });
      if (r.serviceKind === 'build') problems.push({ field: `${f}.id`, rule: 'notBuildService', message: `'${o.id}' is a build service: build services are not added to pipelines, release flows deploy their builds` });
      if (r.buildsFromGit) problems.push({ field: `${f}.id`, rule: 'notCombinedFromGit', message: `'${o.id}' is a combined service that builds from a Git repository: only services and jobs deployed from a build service or an image can be in a pipeline` });
    });
    if (problems.length) throw new ValidationError(problems);
  }

  async createPipeline(caller: Principal, projectId: string, input: PipelineInput & { name: string }): Promise<PipelineRecord> {
    this.auth.authorize(caller, projectId, 'write');
    await this.store.projects.get(projectId);
    const id = idFromName(input.name);
    const objects = input.nfObjects ?? [];
    await this.checkObjects(projectId, id, objects);
    return this.repo.createPipeline({ projectId, id, name: input.name, ...(input.description ? { description: input.description } : {}), nfObjects: objects });
  }

  async patchPipeline(caller: Principal, projectId: string, pipelineId: string, input: PipelineInput): Promise<PipelineRecord> {
    this.auth.authorize(caller, projectId, 'write');
    const cur = await this.repo.getPipeline(projectId, pipelineId);
    if (input.nfObjects) await this.checkObjects(projectId, pipelineId, input.nfObjects);
    return this.repo.updatePipeline(projectId, pipelineId, { name: input.name ?? cur.name, description: input.description ?? cur.description, nfObjects: input.nfObjects ?? cur.nfObjects });
  }

  async getPipeline(caller: Principal, projectId: string, pipelineId: string): Promise<PipelineRecord> {
    this.auth.authorize(caller, projectId, 'read');
    return this.repo.getPipeline(projectId, pipelineId);
  }

  async listPipelines(caller: Principal, projectId: string, page: { after?: string; limit: number }): Promise<PipelineRecord[]> {
    this.auth.authorize(caller, projectId, 'read');
    await this.store.projects.get(projectId);
    return this.repo.listPipelines(projectId, page);
  }

  async deletePipeline(caller: Principal, projectId: string, pipelineId: string): Promise<void> {
    this.auth.authorize(caller, projectId, 'write');
    await this.repo.getPipeline(projectId, pipelineId);
    for (const stage of STAGES) {
      const active = await this.repo.listRuns(projectId, pipelineId, stage, { limit: 1, concluded: false });
      if (active.length) throw new ConflictError(`pipeline '${pipelineId}' has a ${stage} release flow run in progress (${active[0].id}): abort it first`);
    }
    await this.repo.deletePipeline(projectId, pipelineId);
  }

  // Release flows

  private stageOf(stage: string): Stage {
    if (!isStage(stage)) throw ValidationError.one('stage', 'enum', `a stage is one of ${STAGES.join(', ')}`);
    return stage;
  }

  /** Check a template against the stage: problems name the path of the bad node (`spec.spec.steps[1].kind`). */
  async checkTemplate(projectId: string, pipelineId: string, stage: Stage, template: Record<string, unknown>) {
    const resources = (await this.resources(projectId)).map((r) => ({ ...r, stage: r.pipelineId === pipelineId ? r.stage : null }));
    const triggerRefs = ((template.triggers as { ref?: string }[] | undefined) ?? []).map((t) => t.ref ?? 'trigger');
    const parsed = parseFlow(template.spec, { stage, resources, previousStage: previousStage(stage), triggerRefs });
    const problems = [...parsed.problems];
    const opts = template.options as { concurrencyPolicy?: string } | undefined;
    if (template.apiVersion !== undefined && template.apiVersion !== 'v1.2') problems.push({ field: 'apiVersion', rule: 'enum', message: "release flows are written against 'v1.2'" });
    for (const [i, t] of ((template.triggers as Record<string, unknown>[] | undefined) ?? []).entries()) {
      if (t.vcsService !== 'self-hosted') problems.push({ field: `triggers[${i}].vcsService`, rule: 'supported', message: "git triggers watch repositories slipway hosts: vcsService 'self-hosted' with the repository's /git/… URL" });
      else if (typeof t.repoUrl !== 'string' || !/\/git\/[^/]+\/[^/]+?(\.git)?$/.test(t.repoUrl)) problems.push({ field: `triggers[${i}].repoUrl`, rule: 'hosted', message: 'the URL of a repository slipway hosts: http://<api>/git/{project}/{service}.git' });
      if (t.prRestrictions !== undefined && (t.prRestrictions as unknown[]).length) problems.push({ field: `triggers[${i}].prRestrictions`, rule: 'supported', message: 'hosted repositories have no pull requests: use branchRestrictions' });
    }
    if (template.gitops !== undefined) problems.push(...(await this.gitopsCheck(projectId, template.gitops as GitopsSpec)));
    if (template.teardownSpec !== undefined && template.teardownSpec !== null) problems.push({ field: 'teardownSpec', rule: 'supported', message: 'release flows are not deleted with a teardown: leave teardownSpec out' });
    if (template.concurrencyPolicy !== undefined && opts?.concurrencyPolicy !== undefined && template.concurrencyPolicy !== opts.concurrencyPolicy) problems.push({ field: 'concurrencyPolicy', rule: 'consistent', message: 'give the policy once, in options.concurrencyPolicy' });
    if (problems.length) throw new ValidationError(problems);
    return parsed.leaves;
  }

  /** A `gitops` block: a hosted repository of the project that a build (or combined) service watches, so pushes reach it. */
  private async gitopsCheck(projectId: string, g: GitopsSpec): Promise<FieldProblem[]> {
    const problems = gitopsProblems(projectId, g);
    if (problems.some((p) => p.field === 'gitops.repoUrl')) return problems;
    const h = parseHostedUrl(g.repoUrl)!;
    const svc = await this.store.services.get(projectId, h.serviceId).catch(() => undefined);
    const watched = svc?.spec.vcsData?.projectUrl ? parseHostedUrl(svc.spec.vcsData.projectUrl) : undefined;
    if (!svc || svc.kind === 'deployment' || watched?.projectId !== projectId || watched.serviceId !== h.serviceId) {
      problems.push({ field: 'gitops.repoUrl', rule: 'watched', message: `no build or combined service '${h.serviceId}' of project '${projectId}' builds from this repository (its vcsData.projectUrl): pushes reach a hosted repository through that service` });
    }
    return problems;
  }

  /** Where a flow's file is and how its last sync went (the error of the last push that did not apply). */
  async gitopsStatus(caller: Principal, projectId: string, pipelineId: string, stage: string) {
    const { flow } = await this.getFlow(caller, projectId, pipelineId, stage);
    const g = flow.template.gitops as GitopsSpec | undefined;
    if (!g) return { enabled: false as const };
    const err = flow.triggerState['gitops:error'];
    return { enabled: true as const, vcsService: g.vcsService, repoUrl: g.repoUrl, branch: g.branch, filePath: g.filePath, syncedSha: flow.triggerState['gitops:sha'] ?? null, syncedAt: flow.triggerState['gitops:at'] ?? null, error: err ? (JSON.parse(err) as { sha: string; at: string; message: string; problems: FieldProblem[] }) : null };
  }

  async getFlow(caller: Principal, projectId: string, pipelineId: string, stage: string): Promise<{ flow: ReleaseFlowRecord; latest?: FlowRunRecord }> {
    this.auth.authorize(caller, projectId, 'read');
    await this.repo.getPipeline(projectId, pipelineId);
    const flow = await this.repo.findFlow(projectId, pipelineId, this.stageOf(stage));
    if (!flow) throw new NotFoundError('release flow', `${pipelineId}/${stage}`);
    const [latest] = await this.repo.listRuns(projectId, pipelineId, stage, { limit: 1 });
    return { flow, latest };
  }

  async updateFlow(caller: Principal, projectId: string, pipelineId: string, stage: string, template: Record<string, unknown>): Promise<ReleaseFlowRecord> {
    this.auth.authorize(caller, projectId, 'write');
    await this.repo.getPipeline(projectId, pipelineId);
    const st = this.stageOf(stage);
    await this.checkTemplate(projectId, pipelineId, st, template);
    const { project: _p, ...kept } = template;
    const full = { apiVersion: 'v1.2', ...kept };
    // GitOps: the new template is committed to its file first; a branch that moved meanwhile refuses the save.
    const g = kept.gitops as GitopsSpec | undefined;
    let synced: string | undefined;
    if (g) {
      try {
        synced = (await commitFile(hostedRepoPath(g.repoUrl)!, g.branch, g.filePath, renderFile(full), `Update the ${st} release flow of pipeline ${pipelineId}\n\nCommitted by slipway for update.releaseFlow.`)).sha;
      } catch (err) {
        throw new ConflictError(`the release flow was not saved: committing ${g.filePath} to ${g.branch} failed: ${(err as Error).message}`);
      }
    }
    const saved = await this.repo.saveFlow({ projectId, pipelineId, stage: st, template: full, webhookId: randomBytes(12).toString('hex'), webhookSecretHash: hashSecret(randomBytes(24).toString('hex')) });
    const { 'gitops:sha': _s, 'gitops:at': _a, 'gitops:error': _e, ...state } = saved.triggerState;
    if (!synced && Object.keys(state).length === Object.keys(saved.triggerState).length) return saved;
    await this.repo.setTriggerState(projectId, pipelineId, st, synced ? { ...state, 'gitops:sha': synced, 'gitops:at': new Date().toISOString() } : state);
    return (await this.repo.findFlow(projectId, pipelineId, st))!;
  }

  /** A new webhook secret (the only time it is shown) and the URL that carries it. */
  async rotateWebhook(caller: Principal, projectId: string, pipelineId: string, stage: string): Promise<{ webhookId: string; secret: string }> {
    this.auth.authorize(caller, projectId, 'write');
    const { flow } = await this.getFlow(caller, projectId, pipelineId, stage);
    const secret = randomBytes(24).toString('hex');
    await this.repo.setWebhookSecret(projectId, pipelineId, stage, hashSecret(secret));
    return { webhookId: flow.webhookId, secret };
  }

  /** A webhook call: the secret must match; a paused flow does not run. */
  async runFromWebhook(webhookId: string, secret: string, input: RunRequest): Promise<FlowRunRecord> {
    const flow = await this.repo.findFlowByWebhook(webhookId);
    const a = Buffer.from(hashSecret(secret));
    if (!flow || !timingSafeEqual(a, Buffer.from(flow.webhookSecretHash))) throw new NotFoundError('release flow webhook', webhookId);
    if ((flow.template.options as { paused?: boolean } | undefined)?.paused) throw new ConflictError('the release flow is paused: triggers do not run it');
    return this.startRun(flow, input, { trigger: { type: 'webhook' } });
  }

  // Runs

  async run(caller: Principal, projectId: string, pipelineId: string, stage: string, input: RunRequest): Promise<FlowRunRecord> {
    this.auth.authorize(caller, projectId, 'write');
    const { flow } = await this.getFlow(caller, projectId, pipelineId, stage);
    return this.startRun(flow, input, { trigger: { type: 'manual' } });
  }

  /** Make a run of a flow: its nodes from the template, its status from the concurrency policy. */
  async startRun(flow: ReleaseFlowRecord, input: RunRequest, how: { trigger: Record<string, unknown>; triggerRefs?: Record<string, Record<string, unknown>> }): Promise<FlowRunRecord> {
    const leaves = await this.checkTemplate(flow.projectId, flow.pipelineId, flow.stage, flow.template).catch((err) => {
      if (err instanceof ValidationError) throw new ConflictError(`the release flow no longer fits its pipeline: ${err.problems.map((p) => `${p.field}: ${p.message}`).join('; ')}`);
      throw err;
    });
    const targets = new Set(leaves.filter((l) => l.kind === 'Release').map((l) => (l.spec.target as { id?: string } | undefined)?.id));
    const problems: FieldProblem[] = [];
    for (const k of Object.keys(input.releaseNodeOverrides ?? {})) if (!targets.has(k)) problems.push({ field: `releaseNodeOverrides.${k}`, rule: 'releaseNode', message: `no release node of this flow deploys to '${k}'` });
    const refs = new Set(leaves.map((l) => l.ref).filter(Boolean));
    const triggerNames = ((flow.template.triggers as { ref?: string }[] | undefined) ?? []).map((t) => t.ref ?? 'trigger');
    const triggerRefs = { ...(how.triggerRefs ?? {}) };
    for (const [k, v] of Object.entries(input.overrides ?? {})) {
      // A git trigger's values (branch, sha) can be given by hand, as Northflank's webhook overrides do.
      if (triggerNames.includes(k)) triggerRefs[k] = { ...(triggerRefs[k] ?? {}), ...v };
      else if (!refs.has(k)) problems.push({ field: `overrides.${k}`, rule: 'ref', message: `no node or trigger of this flow has ref '${k}'` });
    }
    if (problems.length) throw new ValidationError(problems);
    const nodes: NodeState[] = leaves.map((l) => {
      let spec = { ...l.spec, ...(l.ref && input.overrides?.[l.ref] ? input.overrides[l.ref] : {}) };
      const target = (spec.target as { id?: string } | undefined)?.id;
      const over = l.kind === 'Release' && target ? input.releaseNodeOverrides?.[target] : undefined;
      // Same type: the override's origin fields replace the node's; another type: its origin replaces the node's.
      if (over) spec = { ...spec, ...over, origin: over.type && over.type !== spec.type ? over.origin : { ...(spec.origin as object), ...((over.origin as object) ?? {}) } };
      return { path: l.path, kind: l.kind, ...(l.ref ? { ref: l.ref } : {}), ...(l.phase ? { phase: l.phase } : {}), status: 'pending', spec, after: l.after, ...(l.condition ? { condition: l.condition } : {}), ...(l.skipNodeExecution ? { skipNodeExecution: l.skipNodeExecution } : {}), log: [] };
    });
    const declared = (flow.template.arguments as Record<string, unknown> | undefined) ?? {};
    const inputs: RunInputs = { arguments: { ...declared, ...(input.arguments ?? {}) }, overrides: input.overrides ?? {}, releaseNodeOverrides: input.releaseNodeOverrides ?? {}, trigger: how.trigger, triggerRefs };
    const status = await this.admit(flow);
    const run = await this.repo.createRun({ id: randomId('run'), projectId: flow.projectId, pipelineId: flow.pipelineId, stage: flow.stage, ...(input.name ? { name: input.name } : {}), ...(input.description ? { description: input.description } : {}), status, template: flow.template, inputs, nodes });
    this.wake();
    return run;
  }

  /** The status a new run starts in under the flow's concurrency policy (and what it does to the others). */
  private async admit(flow: ReleaseFlowRecord): Promise<RunStatus> {
    const policy = policyOf(flow.template);
    const active = await this.repo.listRuns(flow.projectId, flow.pipelineId, flow.stage, { limit: 1000, concluded: false });
    if (!active.length || policy === 'allow') return 'pending';
    if (policy === 'forbid') throw new ConflictError(`run ${active[0].number} of this release flow is ${active[0].status} and the concurrency policy is 'forbid'`);
    if (policy === 'latest') for (const r of active.filter((x) => x.status === 'queued')) await this.update(r.id, (x) => void Object.assign(x, { status: 'aborted', message: 'superseded by a newer run (concurrency policy latest)' }));
    if (policy === 'replace') for (const r of active) await this.requestAbort(r.id, 'replaced by a newer run (concurrency policy replace)');
    return 'queued';
  }

  async listRuns(caller: Principal, projectId: string, pipelineId: string, stage: string, opts: { after?: string; limit: number; status?: string; concluded?: boolean }): Promise<FlowRunRecord[]> {
    await this.getFlow(caller, projectId, pipelineId, stage);
    return this.repo.listRuns(projectId, pipelineId, stage, opts);
  }

  async getRun(caller: Principal, projectId: string, pipelineId: string, stage: string, runId: string): Promise<FlowRunRecord> {
    this.auth.authorize(caller, projectId, 'read');
    const run = await this.repo.getRun(runId).catch(() => undefined);
    if (!run || run.projectId !== projectId || run.pipelineId !== pipelineId || run.stage !== stage) throw new NotFoundError('release flow run', runId);
    return run;
  }

  /** Find a run by id anywhere the caller may read (the CLI names a run by id alone). */
  async findRun(caller: Principal, runId: string): Promise<FlowRunRecord> {
    const run = await this.repo.getRun(runId);
    this.auth.authorize(caller, run.projectId, 'read');
    return run;
  }

  async abort(caller: Principal, projectId: string, pipelineId: string, stage: string, runId: string): Promise<FlowRunRecord> {
    this.auth.authorize(caller, projectId, 'write');
    const run = await this.getRun(caller, projectId, pipelineId, stage, runId);
    if (run.concluded) throw new ConflictError(`run ${run.number} has already concluded (${run.status}): there is nothing to abort`);
    return this.requestAbort(run.id, 'aborted through the API');
  }

  private async requestAbort(runId: string, why: string): Promise<FlowRunRecord> {
    const r = await this.update(runId, (x) => {
      if (x.concluded) return;
      x.status = x.status === 'queued' || x.status === 'pending' ? 'aborted' : 'aborting';
      x.message = why;
      if (x.status === 'aborted') for (const n of x.nodes) if (n.status === 'pending') Object.assign(n, { status: 'aborted', message: why });
    });
    this.wake();
    return r;
  }

  /**
   * Roll a stage back to the state after an earlier run: a new run whose nodes move every deployment that run
   * released back to the release it left running (through the same zero-downtime rollouts).
   */
  async rollback(caller: Principal, projectId: string, pipelineId: string, stage: string, runId: string): Promise<FlowRunRecord> {
    this.auth.authorize(caller, projectId, 'write');
    const { flow } = await this.getFlow(caller, projectId, pipelineId, stage);
    const to = await this.getRun(caller, projectId, pipelineId, stage, runId);
    if (!to.concluded) throw new ConflictError(`run ${to.number} is still ${to.status}: roll back to a concluded run`);
    const released = to.nodes.filter((n) => (n.kind === 'Release' || n.kind === 'Rollback') && n.status === 'success' && n.output?.serviceId && n.output?.releaseId && n.output?.releaseNumber !== undefined);
    if (!released.length) throw new ConflictError(`run ${to.number} deployed nothing to a service: there is no state of it to roll back to`);
    const migrations = to.nodes.filter((n) => n.kind === 'JobRun' && n.status === 'success').length;
    const nodes: NodeState[] = released.map((n, i) => ({ path: `rollback[${i}]`, kind: 'Rollback', status: 'pending', spec: { serviceId: n.output!.serviceId, releaseId: n.output!.releaseId, releaseNumber: n.output!.releaseNumber }, after: [], log: [] }));
    const message = `rolls the ${stage} stage back to the state after run ${to.number} (${to.id}); job runs (migrations) and backups are not undone${migrations ? `: ${migrations} job run(s) of the runs since stay applied` : ''}`;
    const status = await this.admit(flow);
    const run = await this.repo.createRun({ id: randomId('run'), projectId, pipelineId, stage: flow.stage, name: `rollback to run ${to.number}`, description: message, status, template: flow.template, inputs: { arguments: {}, overrides: {}, releaseNodeOverrides: {}, trigger: { type: 'rollback', runId: to.id, runNumber: to.number }, triggerRefs: {} }, nodes, restoresRunId: to.id, message });
    this.wake();
    return run;
  }

  /** Read, change and write a run, again if another writer got there first. */
  async update(runId: string, change: (run: FlowRunRecord) => void): Promise<FlowRunRecord> {
    for (let i = 0; ; i++) {
      const run = await this.repo.getRun(runId);
      change(run);
      try {
        return await this.repo.saveRun(run);
      } catch (err) {
        if (i > 20 || !(err as { code?: string }).code?.includes('version_conflict')) throw err;
      }
    }
  }
}

export function policyOf(template: Record<string, unknown>): ConcurrencyPolicy {
  return ((template.options as { concurrencyPolicy?: ConcurrencyPolicy } | undefined)?.concurrencyPolicy ?? (template.concurrencyPolicy as ConcurrencyPolicy | undefined) ?? 'allow');
}
