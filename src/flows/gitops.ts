/**
 * GitOps, the push side: after a push to a hosted repository, every release flow whose `gitops` file lives on
 * a branch of it that moved reads the file at the new head. A file that parses and passes the same checks as
 * `update.releaseFlow` becomes the flow's template (its `gitops` block kept: a file does not move itself); a
 * file that does not leaves the flow as it was and records the error (commit, message, problems), readable at
 * `GET /projects/{p}/pipelines/{pl}/stages/{stage}/release-flow/gitops` until a later push or save applies.
 * The head synced last is stored with the flow, so a restart does not apply one commit twice.
 */
import type { Logger } from 'pino';
import { hostedRepoPath, parseHostedUrl } from '../builds/hosted-repos.ts';
import { ValidationError, type FieldProblem } from '../errors/errors.ts';
import type { FlowsService } from './flows-service.ts';
import type { ReleaseFlowRecord } from './flows-repo.ts';
import { branchHead, canonical, parseFile, readFileAt, type GitopsSpec } from './gitops-file.ts';

export class FlowGitops {
  constructor(
    private readonly flows: FlowsService,
    private readonly logger: Logger,
  ) {}

  /** A push reached hosted repository `{projectId}/{serviceId}`: sync the flows kept in it. */
  async onPush(projectId: string, serviceId: string): Promise<void> {
    for (const flow of await this.flows.repo.listFlows(projectId)) {
      const g = flow.template.gitops as GitopsSpec | undefined;
      const h = g ? parseHostedUrl(g.repoUrl) : undefined;
      if (!g || h?.projectId !== projectId || h.serviceId !== serviceId) continue;
      await this.sync(flow, g).catch((err: Error) => this.logger.warn({ err: err.message, flow: `${flow.projectId}/${flow.pipelineId}/${flow.stage}` }, 'release flow gitops sync failed'));
    }
  }

  private async sync(flow: ReleaseFlowRecord, g: GitopsSpec): Promise<void> {
    const dir = hostedRepoPath(g.repoUrl);
    if (!dir) return;
    const sha = await branchHead(dir, g.branch);
    if (!sha || sha === flow.triggerState['gitops:sha']) return;
    const key = `${flow.projectId}/${flow.pipelineId}/${flow.stage}`;
    const at = new Date().toISOString();
    const refuse = async (problems: FieldProblem[]) => {
      const message = `${g.filePath} at ${sha.slice(0, 12)} was not applied: ${problems.map((p) => `${p.field}: ${p.message}`).join('; ')}`;
      this.logger.info({ flow: key, sha }, message);
      await this.flows.repo.setTriggerState(flow.projectId, flow.pipelineId, flow.stage, { ...flow.triggerState, 'gitops:error': JSON.stringify({ sha, at, message, problems }) });
    };
    const text = await readFileAt(dir, sha, g.filePath);
    if (text === undefined) return refuse([{ field: 'file', rule: 'exists', message: `branch '${g.branch}' has no file '${g.filePath}'` }]);
    const parsed = parseFile(text);
    if (!parsed.template) return refuse(parsed.problems);
    const template = { ...parsed.template, gitops: flow.template.gitops };
    try {
      await this.flows.checkTemplate(flow.projectId, flow.pipelineId, flow.stage, template);
    } catch (err) {
      if (err instanceof ValidationError) return refuse(err.problems);
      throw err;
    }
    const { 'gitops:error': _e, ...state } = flow.triggerState;
    if (canonical(template) !== canonical(flow.template)) {
      await this.flows.repo.saveFlow({ projectId: flow.projectId, pipelineId: flow.pipelineId, stage: flow.stage, template, webhookId: flow.webhookId, webhookSecretHash: flow.webhookSecretHash });
      this.logger.info({ flow: key, sha }, `release flow updated from ${g.filePath}`);
    }
    await this.flows.repo.setTriggerState(flow.projectId, flow.pipelineId, flow.stage, { ...state, 'gitops:sha': sha, 'gitops:at': at });
  }
}
