/**
 * `slipway pipelines [list]|show <pipeline>`: a project's pipelines, and one as a board: each stage with its
 * resources (a service's deployed build or image, its rollout status), its release flow and the latest run.
 */
import type { Command } from 'commander';
import { ago } from '../output.ts';
import { projectPath, requireProject } from '../service-ref.ts';
import { sessionOf } from '../session.ts';

interface PipelineView {
  id: string;
  name: string;
  description?: string;
  stages: { name: string; nfObjects: { id: string; type: string }[] }[];
}

export const pipelinePath = (project: string, pipeline?: string) => `${projectPath(project)}/pipelines${pipeline ? `/${encodeURIComponent(pipeline)}` : ''}`;

export function registerPipelines(program: Command): void {
  const pipelines = program.command('pipelines').alias('pipeline').description('pipelines: Development, Staging and Production stages of services, jobs and addons');
  const withProject = (c: Command) => c.option('-p, --project <project>', 'project id');

  withProject(pipelines.command('list', { isDefault: true }).alias('ls').description("list a project's pipelines")).action(async (opts: { project?: string }, cmd: Command) => {
    const s = sessionOf(cmd);
    const project = requireProject(opts);
    const list = ((await s.client.get(pipelinePath(project), { per_page: 100 })).data as { pipelines: { id: string; name: string; description?: string; updatedAt: string }[] }).pipelines;
    const full = await Promise.all(list.map(async (p) => (await s.client.get(pipelinePath(project, p.id))).data as PipelineView));
    if (s.json) return s.out.json(full);
    s.out.table(['id', 'name', 'development', 'staging', 'production'], full.map((p) => [p.id, p.name, ...p.stages.map((st) => st.nfObjects.map((o) => o.id).join(', '))]));
  });

  withProject(pipelines.command('show <pipeline>').description('a pipeline as a board: stages, what each resource runs, release flow runs')).action(async (pipeline: string, opts: { project?: string }, cmd: Command) => {
    const s = sessionOf(cmd);
    const project = requireProject(opts);
    const p = (await s.client.get(pipelinePath(project, pipeline))).data as PipelineView;
    const board = [];
    for (const st of p.stages) {
      const resources = [];
      for (const o of st.nfObjects) {
        if (o.type !== 'service') {
          resources.push({ ...o, runs: '-' });
          continue;
        }
        const svc = (await s.client.get(`${projectPath(project)}/services/${encodeURIComponent(o.id)}`)).data as { deployment?: { internal?: { buildId?: string; id?: string }; external?: { imagePath?: string } }; status?: { deployment?: { status?: string } } };
        resources.push({ ...o, runs: svc.deployment?.internal?.buildId ?? svc.deployment?.external?.imagePath ?? (svc.deployment?.internal?.id ? `latest of ${svc.deployment.internal.id}` : '-'), status: svc.status?.deployment?.status });
      }
      const runs = await s.client.get(`${pipelinePath(project, pipeline)}/release-flows/${st.name}/runs`, { per_page: 5 }).then((r) => (r.data as { runs: { id: string; number: number; name?: string; status: string; createdAt: string }[] }).runs, () => undefined);
      board.push({ stage: st.name, resources, releaseFlow: runs !== undefined, runs: runs ?? [] });
    }
    if (s.json) return s.out.json({ pipeline: p, board });
    s.out.line(`${s.out.paint('bold', p.name)}${p.description ? `: ${p.description}` : ''}`);
    for (const col of board) {
      s.out.line();
      s.out.line(s.out.paint('bold', `${col.stage}${col.releaseFlow ? '' : ' (no release flow)'}`));
      for (const r of col.resources) s.out.line(`  ${r.type} ${r.id}: ${r.runs}${'status' in r && r.status ? ` (${r.status})` : ''}`);
      for (const r of col.runs) s.out.line(`  run ${r.number} ${r.id} ${r.status}${r.name ? ` "${r.name}"` : ''} ${ago(r.createdAt)}`);
    }
  });
}
