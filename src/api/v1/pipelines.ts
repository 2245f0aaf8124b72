/**
 * Pipelines and release flows on the `/v1` face (the official client's list/get pipeline, get/update/run
 * release flow, list/get/abort run; create/patch/delete pipeline and the stage rollback, which the client has
 * no call for), and the native routes around them: a run's nodes with their logs, a run found by id, the
 * release flow's webhook (its URL; a rotated secret shown once) and the webhook trigger itself, which takes
 * the secret instead of a token.
 */
import { Type, type TSchema } from '@sinclair/typebox';
import type { Api } from '../deps.ts';
import * as S from './schema/index.ts';
import { paginate, type PageQuery } from './pagination.ts';
import type { FlowsService, RunRequest } from '../../flows/flows-service.ts';
import { policyOf } from '../../flows/flows-service.ts';
import type { FlowTriggers } from '../../flows/triggers.ts';
import type { FlowRunRecord, NodeState, PipelineRecord, ReleaseFlowRecord } from '../../flows/flows-repo.ts';
import { STAGES } from '../../flows/template.ts';

const tags = { tags: ['pipelines'] };
const Str = (max = 100) => Type.String({ maxLength: max });
const Opt = <T extends TSchema>(t: T) => Type.Optional(t);
const ProjectParams = Type.Object({ projectId: Str() });
const PipelineParams = Type.Object({ projectId: Str(), pipelineId: Str() });
const StageParams = Type.Object({ projectId: Str(), pipelineId: Str(), stage: Str() });
const RunParams = Type.Object({ projectId: Str(), pipelineId: Str(), stage: Str(), runId: Str(200) });

const NfObject = Type.Object({ id: Str(), type: Type.Union([Type.Literal('service'), Type.Literal('job'), Type.Literal('addon')]), stage: Type.Union(STAGES.map((s) => Type.Literal(s))) }, { additionalProperties: false });
const NAME = '^[a-zA-Z]((-|\\s)?[a-zA-Z0-9]+((-|\\s)[a-zA-Z0-9]+)*)?$';
const CreatePipeline = Type.Object({ name: Type.String({ minLength: 3, maxLength: 39, pattern: NAME }), description: Opt(Type.String({ maxLength: 200 })), nfObjects: Opt(Type.Array(NfObject, { maxItems: 500 })), preview: Opt(Type.Any()) }, { additionalProperties: false });
const PatchPipeline = Type.Object({ name: Opt(Type.String({ minLength: 3, maxLength: 39, pattern: NAME })), description: Opt(Type.String({ maxLength: 200 })), nfObjects: Opt(Type.Array(NfObject, { maxItems: 500 })), preview: Opt(Type.Any()) }, { additionalProperties: false });
const VCS = Type.Union(['bitbucket', 'gitlab', 'github', 'self-hosted', 'azure'].map((v) => Type.Literal(v)));
const Strings = Type.Array(Type.String({ maxLength: 500 }), { maxItems: 200 });
const Trigger = Type.Object(
  {
    ref: Opt(Type.String({ maxLength: 64 })),
    vcsService: VCS,
    selfHostedVcsId: Opt(Str()),
    accountLogin: Opt(Str()),
    vcsLinkId: Opt(Str()),
    repoUrl: Type.String({ maxLength: 2000 }),
    branchRestrictions: Opt(Strings),
    prRestrictions: Opt(Strings),
    pathIgnoreRules: Opt(Strings),
    ciIgnoreFlags: Opt(Strings),
    ciIgnoreFlagsEnabled: Opt(Type.Boolean()),
    isAllowList: Opt(Type.Boolean()),
    ignoreDrafts: Opt(Type.Boolean()),
  },
  { additionalProperties: false },
);
const Policy = Type.Union(['allow', 'queue', 'forbid', 'latest', 'replace'].map((v) => Type.Literal(v)));
const UpdateReleaseFlow = Type.Object(
  {
    apiVersion: Type.String({ maxLength: 20 }),
    arguments: Opt(Type.Record(Type.String({ maxLength: 100 }), Type.Any())),
    triggers: Opt(Type.Array(Trigger, { maxItems: 20 })),
    options: Opt(Type.Object({ concurrencyPolicy: Opt(Policy), paused: Opt(Type.Boolean()) }, { additionalProperties: false })),
    gitops: Opt(Type.Object({ vcsService: VCS, selfHostedVcsId: Opt(Str()), accountLogin: Opt(Str()), vcsLinkId: Opt(Str()), repoUrl: Type.String({ maxLength: 2000 }), branch: Str(200), filePath: Str(500) }, { additionalProperties: false })),
    $schema: Opt(Type.String({ maxLength: 500 })),
    richInputs: Opt(Type.Array(Type.Any(), { maxItems: 50 })),
    teardownSpec: Opt(Type.Union([Type.Object({ spec: Type.Any(), failurePolicy: Opt(Type.Union([Type.Literal('ignore'), Type.Literal('block')])) }, { additionalProperties: false }), Type.Null()])),
    project: Opt(Type.Any()),
    spec: Type.Any(),
  },
  { additionalProperties: false },
);
const RunReleaseFlow = Type.Union([
  Type.Object(
    {
      name: Opt(Type.String({ minLength: 3, maxLength: 39, pattern: NAME })),
      description: Opt(Type.String({ maxLength: 200, pattern: '^[a-zA-Z0-9.,?\\s\\\\/\'"()[\\];`%^&*\\-_:!]+$' })),
      arguments: Opt(Type.Record(Type.String({ maxLength: 100 }), Type.Any())),
      overrides: Opt(Type.Record(Type.String({ maxLength: 100 }), Type.Record(Type.String({ maxLength: 100 }), Type.Any()))),
      releaseNodeOverrides: Opt(Type.Record(Type.String({ maxLength: 100 }), Type.Record(Type.String({ maxLength: 100 }), Type.Any()))),
    },
    { additionalProperties: false },
  ),
  Type.Null(),
]);
const RunsQuery = Type.Object({ ...S.PaginationQuery.properties, status: Opt(Str(20)), concluded: Opt(Type.Boolean()) });

function pipelineView(p: PipelineRecord) {
  return {
    id: p.id,
    name: p.name,
    ...(p.description ? { description: p.description } : {}),
    stages: STAGES.map((name) => ({ name, nfObjects: p.nfObjects.filter((o) => o.stage === name).map(({ id, type }) => ({ id, type })) })),
    nfObjects: p.nfObjects,
    createdAt: p.createdAt,
    updatedAt: p.updatedAt,
  };
}

function flowView(flow: ReleaseFlowRecord, latest?: FlowRunRecord) {
  const t = flow.template;
  return {
    ...t,
    apiVersion: 'v1.2',
    stage: flow.stage,
    concurrencyPolicy: policyOf(t),
    status: latest?.status ?? 'pending',
    paused: !!(t.options as { paused?: boolean } | undefined)?.paused,
    createdAt: flow.createdAt,
    updatedAt: flow.updatedAt,
  };
}

/** The template's spec with each node's state written on it, as a run view shows the flow. */
function annotate(node: unknown, path: string, byPath: Map<string, NodeState>): unknown {
  if (typeof node !== 'object' || node === null) return node;
  const n = node as Record<string, any>;
  if (n.kind === 'Workflow' && Array.isArray(n.spec?.steps)) {
    const steps = n.spec.steps.map((s: unknown, i: number) => annotate(s, `${path}.spec.steps[${i}]`, byPath)) as { status?: string }[];
    const st = steps.map((s) => s.status);
    const status = st.some((s) => s === 'running') ? 'running' : st.some((s) => s === 'failure') ? 'failure' : st.some((s) => s === 'aborted') ? 'aborted' : st.every((s) => s === 'success' || s === 'skipped') ? 'success' : 'pending';
    return { ...n, status, spec: { ...n.spec, steps } };
  }
  const s = byPath.get(path);
  return s ? { ...n, status: s.status, ...(s.message ? { message: s.message } : {}), ...(s.output ? { output: s.output } : {}), ...(s.startedAt ? { startedAt: s.startedAt } : {}), ...(s.concludedAt ? { concludedAt: s.concludedAt } : {}) } : n;
}

export function nodeView(n: NodeState, withLog: boolean) {
  return { path: n.path, kind: n.kind, ...(n.ref ? { ref: n.ref } : {}), ...(n.phase ? { phase: n.phase } : {}), status: n.status, ...(n.message ? { message: n.message } : {}), ...(n.output ? { output: n.output } : {}), ...(n.startedAt ? { startedAt: n.startedAt } : {}), ...(n.concludedAt ? { concludedAt: n.concludedAt } : {}), ...(withLog ? { log: n.log, spec: n.spec } : {}) };
}

export function runView(r: FlowRunRecord, withLog = false) {
  const byPath = new Map(r.nodes.map((n) => [n.path, n]));
  const { triggers, options, arguments: args, richInputs } = r.template as Record<string, unknown>;
  return {
    apiVersion: 'v1.2',
    ...(args ? { arguments: r.inputs.arguments } : {}),
    ...(triggers ? { triggers } : {}),
    ...(options ? { options } : {}),
    ...(richInputs ? { richInputs } : {}),
    spec: r.restoresRunId ? { kind: 'Workflow', spec: { type: 'parallel', steps: r.nodes.map((n) => ({ ...nodeView(n, false), kind: 'Rollback', spec: n.spec })) } } : annotate(r.template.spec, 'spec', byPath),
    refs: { ...r.inputs.triggerRefs, ...Object.fromEntries(r.nodes.filter((n) => n.ref && n.output).map((n) => [n.ref, n.output])) },
    id: r.id,
    number: r.number,
    ...(r.name ? { name: r.name } : {}),
    ...(r.description ? { description: r.description } : {}),
    status: r.status,
    concluded: r.concluded,
    ...(r.startedAt ? { startedAt: r.startedAt } : {}),
    ...(r.concludedAt ? { concludedAt: r.concludedAt } : {}),
    createdAt: r.createdAt,
    updatedAt: r.updatedAt,
    stage: r.stage,
    pipelineId: r.pipelineId,
    projectId: r.projectId,
    trigger: r.inputs.trigger,
    ...(r.restoresRunId ? { restoresRunId: r.restoresRunId } : {}),
    ...(r.message ? { message: r.message } : {}),
    nodes: r.nodes.map((n) => nodeView(n, withLog)),
  };
}

export function registerPipelines(app: Api, flows: FlowsService, triggers: FlowTriggers): void {
  // Pipelines
  app.get('/v1/projects/:projectId/pipelines', { schema: { ...tags, summary: 'List pipelines', params: ProjectParams, querystring: S.PaginationQuery } }, async (req) => {
    const { projectId } = req.params as { projectId: string };
    const { items, pagination } = await paginate(req.query as PageQuery, (after, limit) => flows.listPipelines(req.principal, projectId, { after, limit }));
    return { data: { pipelines: items.map((p) => ({ id: p.id, name: p.name, ...(p.description ? { description: p.description } : {}), createdAt: p.createdAt, updatedAt: p.updatedAt })) }, pagination };
  });
  app.post('/v1/projects/:projectId/pipelines', { schema: { ...tags, summary: 'Create a pipeline', params: ProjectParams, body: CreatePipeline } }, async (req) => {
    const { projectId } = req.params as { projectId: string };
    return { data: pipelineView(await flows.createPipeline(req.principal, projectId, req.body as never)) };
  });
  app.get('/v1/projects/:projectId/pipelines/:pipelineId', { schema: { ...tags, summary: 'Get a pipeline', params: PipelineParams } }, async (req) => {
    const { projectId, pipelineId } = req.params as { projectId: string; pipelineId: string };
    return { data: pipelineView(await flows.getPipeline(req.principal, projectId, pipelineId)) };
  });
  app.patch('/v1/projects/:projectId/pipelines/:pipelineId', { schema: { ...tags, summary: 'Update a pipeline', params: PipelineParams, body: PatchPipeline } }, async (req) => {
    const { projectId, pipelineId } = req.params as { projectId: string; pipelineId: string };
    return { data: pipelineView(await flows.patchPipeline(req.principal, projectId, pipelineId, (req.body ?? {}) as never)) };
  });
  app.delete('/v1/projects/:projectId/pipelines/:pipelineId', { schema: { ...tags, summary: 'Delete a pipeline, its release flows and runs', params: PipelineParams } }, async (req) => {
    const { projectId, pipelineId } = req.params as { projectId: string; pipelineId: string };
    await flows.deletePipeline(req.principal, projectId, pipelineId);
    return { data: {} };
  });

  // Release flows
  const base = '/v1/projects/:projectId/pipelines/:pipelineId/release-flows/:stage';
  app.get(base, { schema: { ...tags, summary: "Get a stage's release flow", params: StageParams } }, async (req) => {
    const { projectId, pipelineId, stage } = req.params as { projectId: string; pipelineId: string; stage: string };
    const { flow, latest } = await flows.getFlow(req.principal, projectId, pipelineId, stage);
    return { data: flowView(flow, latest) };
  });
  app.post(base, { schema: { ...tags, summary: "Create or update a stage's release flow", params: StageParams, body: UpdateReleaseFlow } }, async (req) => {
    const { projectId, pipelineId, stage } = req.params as { projectId: string; pipelineId: string; stage: string };
    const flow = await flows.updateFlow(req.principal, projectId, pipelineId, stage, req.body as Record<string, unknown>);
    await triggers.onSaved(flow);
    const { latest } = await flows.getFlow(req.principal, projectId, pipelineId, stage);
    return { data: flowView(flow, latest) };
  });
  app.post(`${base}/runs`, { schema: { ...tags, summary: 'Run a release flow', params: StageParams, body: RunReleaseFlow } }, async (req) => {
    const { projectId, pipelineId, stage } = req.params as { projectId: string; pipelineId: string; stage: string };
    return { data: runView(await flows.run(req.principal, projectId, pipelineId, stage, (req.body ?? {}) as RunRequest)) };
  });
  app.get(`${base}/runs`, { schema: { ...tags, summary: "List a release flow's runs, newest first", params: StageParams, querystring: RunsQuery } }, async (req) => {
    const { projectId, pipelineId, stage } = req.params as { projectId: string; pipelineId: string; stage: string };
    const q = req.query as PageQuery & { status?: string; concluded?: boolean };
    const { items, pagination } = await paginate(q, (after, limit) => flows.listRuns(req.principal, projectId, pipelineId, stage, { after, limit, status: q.status, concluded: q.concluded }));
    return { data: { runs: items.map((r) => ({ id: r.id, number: r.number, ...(r.name ? { name: r.name } : {}), ...(r.description ? { description: r.description } : {}), status: r.status, concluded: r.concluded, ...(r.startedAt ? { startedAt: r.startedAt } : {}), ...(r.concludedAt ? { concludedAt: r.concludedAt } : {}), createdAt: r.createdAt, updatedAt: r.updatedAt, ...(r.restoresRunId ? { restoresRunId: r.restoresRunId } : {}) })) }, pagination };
  });
  app.get(`${base}/runs/:runId`, { schema: { ...tags, summary: 'Get a release flow run with every node', params: RunParams } }, async (req) => {
    const { projectId, pipelineId, stage, runId } = req.params as { projectId: string; pipelineId: string; stage: string; runId: string };
    return { data: runView(await flows.getRun(req.principal, projectId, pipelineId, stage, runId)) };
  });
  app.post(`${base}/runs/:runId/abort`, { schema: { ...tags, summary: 'Abort a release flow run (its running job run is stopped)', params: RunParams } }, async (req) => {
    const { projectId, pipelineId, stage, runId } = req.params as { projectId: string; pipelineId: string; stage: string; runId: string };
    return { data: runView(await flows.abort(req.principal, projectId, pipelineId, stage, runId)) };
  });
  app.post('/v1/projects/:projectId/pipelines/:pipelineId/stages/:stage/release-flow/runs/:runId/rollback', { schema: { ...tags, summary: 'Roll the stage back to the state after a run (a new run; migrations are not undone)', params: RunParams } }, async (req) => {
    const { projectId, pipelineId, stage, runId } = req.params as { projectId: string; pipelineId: string; stage: string; runId: string };
    return { data: runView(await flows.rollback(req.principal, projectId, pipelineId, stage, runId)) };
  });

  // Native: a run's nodes with their logs, a run by id alone, the webhook.
  app.get('/projects/:projectId/pipelines/:pipelineId/stages/:stage/release-flow/runs/:runId', { schema: { ...tags, summary: "A run's nodes, each with its status, output and log", params: RunParams } }, async (req) => {
    const { projectId, pipelineId, stage, runId } = req.params as { projectId: string; pipelineId: string; stage: string; runId: string };
    return runView(await flows.getRun(req.principal, projectId, pipelineId, stage, runId), true);
  });
  app.get('/release-flow-runs/:runId', { schema: { ...tags, summary: 'A release flow run found by its id alone', params: Type.Object({ runId: Str(200) }) } }, async (req) => {
    return runView(await flows.findRun(req.principal, (req.params as { runId: string }).runId), true);
  });
  app.get('/projects/:projectId/pipelines/:pipelineId/stages/:stage/release-flow/gitops', { schema: { ...tags, summary: "Where the release flow's file is kept (GitOps), the commit synced last and the error of a push that did not apply", params: StageParams } }, async (req) => {
    const { projectId, pipelineId, stage } = req.params as { projectId: string; pipelineId: string; stage: string };
    return flows.gitopsStatus(req.principal, projectId, pipelineId, stage);
  });
  const hookUrl = (host: string | undefined, id: string, secret?: string) => `http://${host ?? '127.0.0.1'}/hooks/release-flows/${id}${secret ? `?secret=${secret}` : ''}`;
  app.get('/projects/:projectId/pipelines/:pipelineId/stages/:stage/release-flow/webhook', { schema: { ...tags, summary: "The release flow's webhook URL (without its secret: rotate to get one)", params: StageParams } }, async (req) => {
    const { projectId, pipelineId, stage } = req.params as { projectId: string; pipelineId: string; stage: string };
    const { flow } = await flows.getFlow(req.principal, projectId, pipelineId, stage);
    return { url: hookUrl(req.headers.host, flow.webhookId), secret: null, note: 'the secret is shown once, when rotated: POST …/webhook/rotate' };
  });
  app.post('/projects/:projectId/pipelines/:pipelineId/stages/:stage/release-flow/webhook/rotate', { schema: { ...tags, summary: 'A new webhook secret, shown this once', params: StageParams } }, async (req) => {
    const { projectId, pipelineId, stage } = req.params as { projectId: string; pipelineId: string; stage: string };
    const { webhookId, secret } = await flows.rotateWebhook(req.principal, projectId, pipelineId, stage);
    return { url: hookUrl(req.headers.host, webhookId, secret), secret };
  });
  const hook = async (req: { params: unknown; query: unknown; body?: unknown }) => {
    const { webhookId } = req.params as { webhookId: string };
    const { secret, ...rest } = req.query as Record<string, string>;
    // Query parameters other than the secret are arguments, as Northflank's webhook takes them.
    const body = (req.body ?? {}) as RunRequest;
    const run = await flows.runFromWebhook(webhookId, secret ?? '', { ...body, arguments: { ...rest, ...(body.arguments ?? {}) } });
    return { id: run.id, number: run.number, status: run.status };
  };
  const HookParams = Type.Object({ webhookId: Str(100) });
  const HookQuery = Type.Object({ secret: Type.String({ maxLength: 200 }) }, { additionalProperties: Type.String({ maxLength: 1000 }) });
  app.post('/hooks/release-flows/:webhookId', { schema: { ...tags, summary: 'Run a release flow from a webhook (the secret in ?secret=, no token)', params: HookParams, querystring: HookQuery, body: RunReleaseFlow } }, hook);
  app.get('/hooks/release-flows/:webhookId', { schema: { ...tags, summary: 'Run a release flow from a webhook (GET)', params: HookParams, querystring: HookQuery } }, hook);
}
