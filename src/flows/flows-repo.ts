/**
 * Pipelines, release flows and their runs in the store (tables of migration 0014). A run's nodes are written
 * with a version check (`saveRun`), so two writers never overwrite each other's node states: the loser reads
 * again. Kept in this folder, built on the store's Kysely handle, so the shared store module stays untouched.
 */
import type { Kysely } from 'kysely';
import type { Database } from '../store/schema.ts';
import { ConflictError, NotFoundError, VersionConflictError } from '../errors/errors.ts';
import { isUniqueViolation } from '../store/unique-violation.ts';
import { insertWithNextNumber } from '../store/next-number.ts';
import type { Stage } from './template.ts';

export interface NfObject {
  id: string;
  type: 'service' | 'job' | 'addon';
  stage: Stage;
}

export interface PipelineRecord {
  projectId: string;
  id: string;
  name: string;
  description?: string;
  nfObjects: NfObject[];
  createdAt: string;
  updatedAt: string;
}

export interface ReleaseFlowRecord {
  projectId: string;
  pipelineId: string;
  stage: Stage;
  /** the template as given (apiVersion, arguments, triggers, options, gitops, spec…) */
  template: Record<string, unknown>;
  webhookId: string;
  webhookSecretHash: string;
  triggerState: Record<string, string>;
  createdAt: string;
  updatedAt: string;
}

export type RunStatus = 'pending' | 'queued' | 'running' | 'success' | 'failure' | 'aborting' | 'aborted';
export type NodeStatus = 'pending' | 'running' | 'success' | 'failure' | 'aborted' | 'skipped';

export interface NodeState {
  path: string;
  kind: string;
  ref?: string;
  phase?: string;
  status: NodeStatus;
  /** the node's spec as written (`${…}` resolved only when it starts) */
  spec: Record<string, unknown>;
  /** paths of the nodes it waits for */
  after: string[];
  condition?: string;
  skipNodeExecution?: string;
  message?: string;
  /** what the node's action made (job run, backup, build, rollout…): written right after the action */
  effect?: Record<string, string | number>;
  /** what later nodes read through `${refs.REF.KEY}` */
  output?: Record<string, unknown>;
  log: string[];
  startedAt?: string;
  concludedAt?: string;
  /** skipped because an earlier node failed (not by its own skipNodeExecution) */
  cascade?: boolean;
}

export interface RunInputs {
  arguments: Record<string, unknown>;
  overrides: Record<string, Record<string, unknown>>;
  releaseNodeOverrides: Record<string, Record<string, unknown>>;
  /** what started it: manual, webhook, git (with branch and sha), rollback */
  trigger: Record<string, unknown>;
  /** git trigger refs, `${refs.<trigger ref>.branch|sha|repoUrl}` */
  triggerRefs: Record<string, Record<string, unknown>>;
}

export interface FlowRunRecord {
  id: string;
  projectId: string;
  pipelineId: string;
  stage: Stage;
  number: number;
  name?: string;
  description?: string;
  status: RunStatus;
  concluded: boolean;
  template: Record<string, unknown>;
  inputs: RunInputs;
  nodes: NodeState[];
  restoresRunId?: string;
  message?: string;
  version: number;
  createdAt: string;
  updatedAt: string;
  startedAt?: string;
  concludedAt?: string;
}

type RunRow = Database['release_flow_runs'];

export class FlowsRepo {
  constructor(private readonly db: Kysely<Database>) {}

  // Pipelines

  private pipeline(r: Database['pipelines']): PipelineRecord {
    const spec = JSON.parse(r.spec) as { description?: string; nfObjects: NfObject[] };
    return { projectId: r.project_id, id: r.id, name: r.name, ...(spec.description ? { description: spec.description } : {}), nfObjects: spec.nfObjects, createdAt: r.created_at, updatedAt: r.updated_at };
  }

  /** Insert; ConflictError if the project has a pipeline with this id. */
  async createPipeline(p: { projectId: string; id: string; name: string; description?: string; nfObjects: NfObject[] }): Promise<PipelineRecord> {
    const now = new Date().toISOString();
    try {
      await this.db.insertInto('pipelines').values({ project_id: p.projectId, id: p.id, name: p.name, spec: JSON.stringify({ description: p.description, nfObjects: p.nfObjects }), created_at: now, updated_at: now }).execute();
    } catch (err) {
      if (isUniqueViolation(err)) throw new ConflictError(`project '${p.projectId}' already has a pipeline '${p.id}'`);
      throw err;
    }
    return this.getPipeline(p.projectId, p.id);
  }

  async updatePipeline(projectId: string, id: string, p: { name: string; description?: string; nfObjects: NfObject[] }): Promise<PipelineRecord> {
    await this.db.updateTable('pipelines').set({ name: p.name, spec: JSON.stringify({ description: p.description, nfObjects: p.nfObjects }), updated_at: new Date().toISOString() }).where('project_id', '=', projectId).where('id', '=', id).execute();
    return this.getPipeline(projectId, id);
  }

  async getPipeline(projectId: string, id: string): Promise<PipelineRecord> {
    const r = await this.db.selectFrom('pipelines').selectAll().where('project_id', '=', projectId).where('id', '=', id).executeTakeFirst();
    if (!r) throw new NotFoundError('pipeline', id);
    return this.pipeline(r);
  }

  async listPipelines(projectId: string, page: { after?: string; limit: number }): Promise<PipelineRecord[]> {
    let q = this.db.selectFrom('pipelines').selectAll().where('project_id', '=', projectId);
    if (page.after) q = q.where('id', '>', page.after);
    return (await q.orderBy('id').limit(page.limit).execute()).map((r) => this.pipeline(r));
  }

  /** Delete a pipeline with its release flows and runs. */
  async deletePipeline(projectId: string, id: string): Promise<void> {
    await this.db.transaction().execute(async (tx) => {
      await tx.deleteFrom('release_flow_runs').where('project_id', '=', projectId).where('pipeline_id', '=', id).execute();
      await tx.deleteFrom('release_flows').where('project_id', '=', projectId).where('pipeline_id', '=', id).execute();
      await tx.deleteFrom('pipelines').where('project_id', '=', projectId).where('id', '=', id).execute();
    });
  }

  // Release flows

  private flow(r: Database['release_flows']): ReleaseFlowRecord {
    return {
      projectId: r.project_id,
      pipelineId: r.pipeline_id,
      stage: r.stage as Stage,
      template: JSON.parse(r.template),
      webhookId: r.webhook_id,
      webhookSecretHash: r.webhook_secret_hash,
      triggerState: JSON.parse(r.trigger_state),
      createdAt: r.created_at,
      updatedAt: r.updated_at,
    };
  }

  async findFlow(projectId: string, pipelineId: string, stage: string): Promise<ReleaseFlowRecord | undefined> {
    const r = await this.db.selectFrom('release_flows').selectAll().where('project_id', '=', projectId).where('pipeline_id', '=', pipelineId).where('stage', '=', stage).executeTakeFirst();
    return r ? this.flow(r) : undefined;
  }

  async findFlowByWebhook(webhookId: string): Promise<ReleaseFlowRecord | undefined> {
    const r = await this.db.selectFrom('release_flows').selectAll().where('webhook_id', '=', webhookId).executeTakeFirst();
    return r ? this.flow(r) : undefined;
  }

  async listFlows(projectId?: string): Promise<ReleaseFlowRecord[]> {
    let q = this.db.selectFrom('release_flows').selectAll();
    if (projectId) q = q.where('project_id', '=', projectId);
    return (await q.execute()).map((r) => this.flow(r));
  }

  /** Create or replace a stage's template; the webhook id and secret are kept once made. */
  async saveFlow(f: { projectId: string; pipelineId: string; stage: Stage; template: Record<string, unknown>; webhookId: string; webhookSecretHash: string }): Promise<ReleaseFlowRecord> {
    const now = new Date().toISOString();
    const cur = await this.findFlow(f.projectId, f.pipelineId, f.stage);
    if (cur) await this.db.updateTable('release_flows').set({ template: JSON.stringify(f.template), updated_at: now }).where('project_id', '=', f.projectId).where('pipeline_id', '=', f.pipelineId).where('stage', '=', f.stage).execute();
    else
      await this.db
        .insertInto('release_flows')
        .values({ project_id: f.projectId, pipeline_id: f.pipelineId, stage: f.stage, template: JSON.stringify(f.template), webhook_id: f.webhookId, webhook_secret_hash: f.webhookSecretHash, trigger_state: '{}', created_at: now, updated_at: now })
        .execute();
    return (await this.findFlow(f.projectId, f.pipelineId, f.stage))!;
  }

  async setWebhookSecret(projectId: string, pipelineId: string, stage: string, hash: string): Promise<void> {
    await this.db.updateTable('release_flows').set({ webhook_secret_hash: hash }).where('project_id', '=', projectId).where('pipeline_id', '=', pipelineId).where('stage', '=', stage).execute();
  }

  async setTriggerState(projectId: string, pipelineId: string, stage: string, state: Record<string, string>): Promise<void> {
    await this.db.updateTable('release_flows').set({ trigger_state: JSON.stringify(state) }).where('project_id', '=', projectId).where('pipeline_id', '=', pipelineId).where('stage', '=', stage).execute();
  }

  // Runs

  private run(r: RunRow): FlowRunRecord {
    return {
      id: r.id,
      projectId: r.project_id,
      pipelineId: r.pipeline_id,
      stage: r.stage as Stage,
      number: Number(r.number),
      ...(r.name ? { name: r.name } : {}),
      ...(r.description ? { description: r.description } : {}),
      status: r.status as RunStatus,
      concluded: Number(r.concluded) === 1,
      template: JSON.parse(r.template),
      inputs: JSON.parse(r.inputs),
      nodes: JSON.parse(r.nodes),
      ...(r.restores_run_id ? { restoresRunId: r.restores_run_id } : {}),
      ...(r.message ? { message: r.message } : {}),
      version: Number(r.version),
      createdAt: r.created_at,
      updatedAt: r.updated_at,
      ...(r.started_at ? { startedAt: r.started_at } : {}),
      ...(r.concluded_at ? { concludedAt: r.concluded_at } : {}),
    };
  }

  async createRun(r: { id: string; projectId: string; pipelineId: string; stage: Stage; name?: string; description?: string; status: RunStatus; template: Record<string, unknown>; inputs: RunInputs; nodes: NodeState[]; restoresRunId?: string; message?: string }): Promise<FlowRunRecord> {
    const now = new Date().toISOString();
    const concluded = ['success', 'failure', 'aborted'].includes(r.status);
    await insertWithNextNumber(
      async () => Number((await this.db.selectFrom('release_flow_runs').select((eb) => eb.fn.max('number').as('n')).where('project_id', '=', r.projectId).where('pipeline_id', '=', r.pipelineId).where('stage', '=', r.stage).executeTakeFirst())?.n ?? 0),
      (number) =>
        this.db
          .insertInto('release_flow_runs')
          .values({
            id: r.id,
            project_id: r.projectId,
            pipeline_id: r.pipelineId,
            stage: r.stage,
            number,
            name: r.name ?? null,
            description: r.description ?? null,
            status: r.status,
            concluded: concluded ? 1 : 0,
            template: JSON.stringify(r.template),
            inputs: JSON.stringify(r.inputs),
            nodes: JSON.stringify(r.nodes),
            restores_run_id: r.restoresRunId ?? null,
            message: r.message ?? null,
            version: 1,
            created_at: now,
            updated_at: now,
            started_at: null,
            concluded_at: concluded ? now : null,
          })
          .execute(),
      'release flow run',
    );
    return this.getRun(r.id);
  }

  async getRun(id: string): Promise<FlowRunRecord> {
    const r = await this.db.selectFrom('release_flow_runs').selectAll().where('id', '=', id).executeTakeFirst();
    if (!r) throw new NotFoundError('release flow run', id);
    return this.run(r);
  }

  async listRuns(projectId: string, pipelineId: string, stage: string, opts: { after?: string; limit: number; status?: string; concluded?: boolean }): Promise<FlowRunRecord[]> {
    let q = this.db.selectFrom('release_flow_runs').selectAll().where('project_id', '=', projectId).where('pipeline_id', '=', pipelineId).where('stage', '=', stage);
    if (opts.status) q = q.where('status', '=', opts.status);
    if (opts.concluded !== undefined) q = q.where('concluded', '=', opts.concluded ? 1 : 0);
    const rows = (await q.orderBy('number', 'desc').execute()).map((r) => this.run(r));
    const start = opts.after ? rows.findIndex((r) => r.id === opts.after) + 1 : 0;
    return rows.slice(start, start + opts.limit);
  }

  /** Every run not concluded, oldest first (the runner's work list). */
  async activeRuns(): Promise<FlowRunRecord[]> {
    return (await this.db.selectFrom('release_flow_runs').selectAll().where('concluded', '=', 0).orderBy('created_at').execute()).map((r) => this.run(r));
  }

  /**
   * Write a run's status and nodes if nobody wrote it since `run.version` was read; VersionConflictError
   * otherwise (the caller reads again and decides again).
   */
  async saveRun(run: FlowRunRecord): Promise<FlowRunRecord> {
    const now = new Date().toISOString();
    const concluded = ['success', 'failure', 'aborted'].includes(run.status);
    const res = await this.db
      .updateTable('release_flow_runs')
      .set({
        status: run.status,
        concluded: concluded ? 1 : 0,
        nodes: JSON.stringify(run.nodes),
        message: run.message ?? null,
        version: run.version + 1,
        updated_at: now,
        started_at: run.startedAt ?? null,
        concluded_at: concluded ? (run.concludedAt ?? now) : null,
      })
      .where('id', '=', run.id)
      .where('version', '=', run.version)
      .executeTakeFirst();
    if (Number(res.numUpdatedRows) !== 1) throw new VersionConflictError(`release flow run '${run.id}' changed meanwhile`);
    return this.getRun(run.id);
  }
}
