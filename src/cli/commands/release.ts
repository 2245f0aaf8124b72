/**
 * `slipway release run <pipeline> <stage> [--arg K=V] [--build SERVICE=BUILD]`: run a stage's release flow and
 * follow it live, node by node; `slipway release rollback <run>`: roll the run's stage back to the state after
 * that run (a new run, followed the same way); `release runs`, `release show`, `release abort`, `release gitops`
 * (where the flow's file is kept and how its last sync went).
 */
import type { Command } from 'commander';
import type { ApiClient } from '../api-client.ts';
import { UsageError, requireProject } from '../service-ref.ts';
import { sessionOf, type Session } from '../session.ts';
import { pipelinePath } from './pipelines.ts';

interface NodeView {
  path: string;
  kind: string;
  ref?: string;
  phase?: string;
  status: string;
  message?: string;
}
interface RunView {
  id: string;
  number: number;
  status: string;
  concluded: boolean;
  stage: string;
  pipelineId: string;
  message?: string;
  restoresRunId?: string;
  nodes: NodeView[];
}

const pairs = (flag: string, values: string[]) =>
  Object.fromEntries(
    values.map((v) => {
      const i = v.indexOf('=');
      if (i < 1) throw new UsageError(`${flag} takes KEY=VALUE (got '${v}')`);
      return [v.slice(0, i), v.slice(i + 1)];
    }),
  );
const collect = (v: string, all: string[]) => [...all, v];

/** Follow a run until it concludes, printing each node as its state changes; exit code 1 unless it succeeded. */
async function follow(s: Session, client: ApiClient, run: RunView): Promise<void> {
  const seen = new Map<string, string>();
  const out = s.progressStream;
  for (;;) {
    const r = (await client.get(`/release-flow-runs/${encodeURIComponent(run.id)}`)) as RunView;
    for (const n of r.nodes) {
      const key = `${n.status}|${n.message ?? ''}`;
      if (seen.get(n.path) === key) continue;
      seen.set(n.path, key);
      out.write(`[${n.ref ?? n.path}] ${n.kind}${n.phase ? ` (${n.phase})` : ''}: ${n.status}${n.message ? `: ${n.message}` : ''}\n`);
    }
    if (r.concluded) {
      out.write(`run ${r.number} ${r.status}${r.message ? `: ${r.message}` : ''}\n`);
      if (s.json) s.out.json(r);
      if (r.status !== 'success') process.exitCode = 1;
      return;
    }
    await new Promise((res) => setTimeout(res, 500));
  }
}

export function registerRelease(program: Command): void {
  const release = program.command('release').description('run release flows of pipeline stages, follow them, roll a stage back');

  release
    .command('run <pipeline> <stage>')
    .description("run a stage's release flow and follow it node by node")
    .option('-p, --project <project>', 'project id')
    .option('--arg <KEY=VALUE>', 'an argument (${args.KEY}); repeatable', collect, [])
    .option('--build <SERVICE=BUILD>', 'deploy this build to SERVICE instead of what its release node names; repeatable', collect, [])
    .option('--name <name>', 'a display name for the run')
    .option('--no-follow', 'return once the run is made')
    .action(async (pipeline: string, stage: string, opts: { project?: string; arg: string[]; build: string[]; name?: string; follow: boolean }, cmd: Command) => {
      const s = sessionOf(cmd);
      const project = requireProject(opts);
      const builds = pairs('--build', opts.build);
      const body = {
        ...(opts.name ? { name: opts.name } : {}),
        arguments: pairs('--arg', opts.arg),
        releaseNodeOverrides: Object.fromEntries(Object.entries(builds).map(([svc, build]) => [svc, { type: 'build', origin: { build } }])),
      };
      const run = (await s.client.json('POST', `${pipelinePath(project, pipeline)}/release-flows/${encodeURIComponent(stage)}/runs`, { body })).data as RunView;
      s.out.note(`run ${run.number} (${run.id}) of the ${stage} release flow: ${run.status}`);
      if (!opts.follow) return s.json ? s.out.json(run) : s.out.line(run.id);
      await follow(s, s.client, run);
    });

  release
    .command('rollback <run>')
    .description("roll the run's stage back to the state after that run (migrations are not undone)")
    .option('--no-follow', 'return once the rollback run is made')
    .action(async (runId: string, opts: { follow: boolean }, cmd: Command) => {
      const s = sessionOf(cmd);
      const to = (await s.client.get(`/release-flow-runs/${encodeURIComponent(runId)}`)) as RunView & { projectId: string };
      const run = (await s.client.json('POST', `${pipelinePath(to.projectId, to.pipelineId)}/stages/${encodeURIComponent(to.stage)}/release-flow/runs/${encodeURIComponent(runId)}/rollback`)).data as RunView;
      s.out.note(`run ${run.number} (${run.id}) ${run.message ?? ''}`);
      if (!opts.follow) return s.json ? s.out.json(run) : s.out.line(run.id);
      await follow(s, s.client, run);
    });

  release
    .command('runs <pipeline> <stage>')
    .description("list a stage's release flow runs, newest first")
    .option('-p, --project <project>', 'project id')
    .action(async (pipeline: string, stage: string, opts: { project?: string }, cmd: Command) => {
      const s = sessionOf(cmd);
      const project = requireProject(opts);
      const runs = ((await s.client.get(`${pipelinePath(project, pipeline)}/release-flows/${encodeURIComponent(stage)}/runs`, { per_page: 50 })).data as { runs: (RunView & { name?: string; createdAt: string })[] }).runs;
      if (s.json) return s.out.json(runs);
      s.out.table(['#', 'id', 'status', 'name', 'restores', 'created'], runs.map((r) => [r.number, r.id, r.status, r.name, r.restoresRunId, r.createdAt]));
    });

  release
    .command('show <run>')
    .description('a run with every node: status, message')
    .action(async (runId: string, _opts: unknown, cmd: Command) => {
      const s = sessionOf(cmd);
      const r = (await s.client.get(`/release-flow-runs/${encodeURIComponent(runId)}`)) as RunView;
      if (s.json) return s.out.json(r);
      s.out.line(`run ${r.number} of ${r.pipelineId}/${r.stage}: ${r.status}${r.message ? ` (${r.message})` : ''}`);
      s.out.table(['node', 'kind', 'status', 'message'], r.nodes.map((n) => [n.ref ?? n.path, n.phase ? `${n.kind} (${n.phase})` : n.kind, n.status, n.message]));
    });

  release
    .command('abort <run>')
    .description('abort a run; its running job run is stopped')
    .action(async (runId: string, _opts: unknown, cmd: Command) => {
      const s = sessionOf(cmd);
      const r = (await s.client.get(`/release-flow-runs/${encodeURIComponent(runId)}`)) as RunView & { projectId: string };
      const out = (await s.client.json('POST', `${pipelinePath(r.projectId, r.pipelineId)}/release-flows/${encodeURIComponent(r.stage)}/runs/${encodeURIComponent(runId)}/abort`)).data as RunView;
      if (s.json) return s.out.json(out);
      s.out.line(`run ${out.number}: ${out.status}`);
    });

  release
    .command('gitops <pipeline> <stage>')
    .description("where the stage's release flow file is kept (GitOps), the commit synced last and the last sync error")
    .option('-p, --project <project>', 'project id')
    .action(async (pipeline: string, stage: string, opts: { project?: string }, cmd: Command) => {
      const s = sessionOf(cmd);
      const project = requireProject(opts);
      const g = (await s.client.get(`/projects/${encodeURIComponent(project)}/pipelines/${encodeURIComponent(pipeline)}/stages/${encodeURIComponent(stage)}/release-flow/gitops`)) as { enabled: boolean; repoUrl?: string; branch?: string; filePath?: string; syncedSha?: string | null; error?: { sha: string; message: string } | null };
      if (s.json) return s.out.json(g);
      if (!g.enabled) return s.out.line(`the ${stage} release flow of ${pipeline} is not kept in a repository (no gitops)`);
      s.out.line(`${g.filePath} on ${g.branch} of ${g.repoUrl}`);
      s.out.line(`synced: ${g.syncedSha ?? 'not yet'}`);
      if (g.error) s.out.line(`last push not applied: ${g.error.message}`);
    });
}
