/**
 * Git triggers of release flows on repositories slipway hosts. After a push (and when a flow is saved, to take
 * the heads as they are), each trigger watching that repository compares every branch head its
 * `branchRestrictions` allow with the head it saw last; a moved head runs the flow, with the trigger's ref
 * (`${refs.<ref>.branch|sha|repoUrl}`), unless the flow is paused or Northflank's build rules skip the commit
 * (`ciIgnoreFlags`, `pathIgnoreRules` with `isAllowList`). The heads seen are stored, so a restart does not run
 * a flow twice for one push.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import picomatch from 'picomatch';
import type { Logger } from 'pino';
import { hostedRepoPath, parseHostedUrl } from '../builds/hosted-repos.ts';
import { buildRuleSkip } from '../services/builds.ts';
import type { FlowsService } from './flows-service.ts';
import type { ReleaseFlowRecord } from './flows-repo.ts';
import { FlowGitops } from './gitops.ts';

const run = promisify(execFile);
const GIT_ENV = { PATH: '/usr/local/bin:/usr/bin:/bin', GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: '/dev/null' };
const DEFAULT_CI_IGNORE = ['[skip ci]', '[ci skip]', '[no ci]', '[skip nf]', '[nf skip]', '[northflank skip]', '[skip northflank]'];

interface Trigger {
  ref?: string;
  repoUrl: string;
  branchRestrictions?: string[];
  pathIgnoreRules?: string[];
  ciIgnoreFlags?: string[];
  ciIgnoreFlagsEnabled?: boolean;
  isAllowList?: boolean;
}

async function heads(dir: string): Promise<Map<string, string>> {
  const { stdout } = await run('git', ['-C', dir, 'for-each-ref', '--format=%(refname:short) %(objectname)', 'refs/heads'], { env: GIT_ENV });
  return new Map(stdout.split('\n').filter(Boolean).map((l) => l.split(' ') as [string, string]));
}

async function commitMessage(dir: string, sha: string, since?: string): Promise<{ message: string; changed?: string[] }> {
  const message = (await run('git', ['-C', dir, 'log', '-1', '--format=%B', sha], { env: GIT_ENV })).stdout;
  if (!since) return { message };
  const diff = await run('git', ['-C', dir, 'diff', '--name-only', '--no-renames', since, sha], { env: GIT_ENV }).catch(() => undefined);
  return diff ? { message, changed: diff.stdout.split('\n').filter(Boolean) } : { message };
}

export class FlowTriggers {
  private chain: Promise<unknown> = Promise.resolve();
  private readonly gitops: FlowGitops;

  constructor(
    private readonly flows: FlowsService,
    private readonly logger: Logger,
  ) {
    this.gitops = new FlowGitops(flows, logger);
  }

  /**
   * A push reached hosted repository `{projectId}/{serviceId}`: first the flows kept in it (GitOps) take their
   * file's new version, then the flows it triggers run (with their templates as the push left them). Serialized.
   */
  onPush(projectId: string, serviceId: string): Promise<void> {
    const next = this.chain.then(() => this.gitops.onPush(projectId, serviceId)).then(() => this.check((url) => {
      const h = parseHostedUrl(url);
      return h?.projectId === projectId && h.serviceId === serviceId;
    }, true));
    this.chain = next.catch((err) => this.logger.warn({ err: (err as Error).message }, 'release flow git trigger failed'));
    return this.chain as Promise<void>;
  }

  /** A flow was saved: take its triggers' heads as they are now, so only later pushes run it. */
  onSaved(flow: ReleaseFlowRecord): Promise<void> {
    const next = this.chain.then(() => this.checkFlow(flow, () => true, false));
    this.chain = next.catch((err) => this.logger.warn({ err: (err as Error).message }, 'release flow git trigger failed'));
    return this.chain as Promise<void>;
  }

  private async check(matches: (url: string) => boolean, runFlows: boolean): Promise<void> {
    for (const flow of await this.flows.repo.listFlows()) await this.checkFlow(flow, matches, runFlows);
  }

  private async checkFlow(flow: ReleaseFlowRecord, matches: (url: string) => boolean, runFlows: boolean): Promise<void> {
    const triggers = (flow.template.triggers as Trigger[] | undefined) ?? [];
    const state = { ...flow.triggerState };
    const starts: { trigger: Trigger; branch: string; sha: string }[] = [];
    for (const [i, t] of triggers.entries()) {
      if (!matches(t.repoUrl)) continue;
      const dir = hostedRepoPath(t.repoUrl);
      if (!dir) continue;
      const allow = picomatch(t.branchRestrictions?.length ? t.branchRestrictions : ['**']);
      for (const [branch, sha] of await heads(dir)) {
        if (!allow(branch)) continue;
        const key = `${i}:${branch}`;
        const seen = state[key];
        if (seen === sha) continue;
        state[key] = sha;
        if (!runFlows) continue;
        const why = buildRuleSkip({ ciIgnoreFlags: t.ciIgnoreFlags ?? DEFAULT_CI_IGNORE, ciIgnoreFlagsEnabled: t.ciIgnoreFlagsEnabled, pathIgnoreRules: t.pathIgnoreRules, isAllowList: t.isAllowList }, await commitMessage(dir, sha, seen));
        if (why) this.logger.info({ flow: `${flow.projectId}/${flow.pipelineId}/${flow.stage}`, branch, sha }, `push not run: ${why}`);
        else starts.push({ trigger: t, branch, sha });
      }
    }
    await this.flows.repo.setTriggerState(flow.projectId, flow.pipelineId, flow.stage, state);
    if ((flow.template.options as { paused?: boolean } | undefined)?.paused) return;
    for (const s of starts) {
      const ref = s.trigger.ref ?? 'trigger';
      await this.flows
        .startRun(flow, { description: `git push to ${s.branch} (${s.sha.slice(0, 12)})` }, { trigger: { type: 'git', branch: s.branch, sha: s.sha, repoUrl: s.trigger.repoUrl }, triggerRefs: { [ref]: { branch: s.branch, sha: s.sha, repoUrl: s.trigger.repoUrl } } })
        .catch((err: Error) => this.logger.warn({ err: err.message }, 'release flow run from a git push refused'));
    }
  }
}
