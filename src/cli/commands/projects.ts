/** `slipway projects list|create` and `slipway services list|create`. */
import type { Command } from 'commander';
import { ApiError, type ApiClient } from '../api-client.ts';
import { ago } from '../output.ts';
import { projectPath, requireProject, servicePaths, UsageError } from '../service-ref.ts';
import { sessionOf } from '../session.ts';

export function registerProjects(program: Command): void {
  const projects = program.command('projects').alias('project').description('list and create projects');
  projects
    .command('list')
    .alias('ls')
    .description('list projects')
    .action(async (_opts: unknown, cmd: Command) => {
      const s = sessionOf(cmd);
      const body = await s.client.get('/v1/projects', { per_page: 100 });
      if (s.json) return s.out.json(body);
      s.out.table(['id', 'name', 'description'], (body.data.projects as { id: string; name: string; description?: string }[]).map((p) => [p.id, p.name, p.description]));
    });
  projects
    .command('create <name>')
    .description('create a project')
    .option('--description <text>', 'a description')
    .action(async (name: string, opts: { description?: string }, cmd: Command) => {
      const s = sessionOf(cmd);
      const body = await s.client.json('POST', '/v1/projects', { body: { name, ...(opts.description ? { description: opts.description } : {}) } });
      if (s.json) return s.out.json(body);
      s.out.line(`Created project '${body.data.id}'.`);
    });

  const services = program.command('services').alias('service').description('list and create services');
  services
    .command('list')
    .alias('ls')
    .description('list the services of a project')
    .option('-p, --project <project>', 'project id')
    .action(async (opts: { project?: string }, cmd: Command) => {
      const s = sessionOf(cmd);
      const project = requireProject(opts);
      const body = await s.client.get(`${projectPath(project)}/services`, { per_page: 100 });
      if (s.json) return s.out.json(body);
      type Item = { id: string; serviceType: string; status?: { deployment?: { status?: string; reason?: string; lastTransitionTime?: string } } };
      s.out.table(
        ['id', 'type', 'status', 'since'],
        (body.data.services as Item[]).map((x) => [x.id, x.serviceType, statusWord(s.out.paint.bind(s.out), x.status?.deployment?.status), ago(x.status?.deployment?.lastTransitionTime)]),
      );
    });
  services
    .command('create <name>')
    .description('create a combined service with no repository, deployed from a directory by `slipway deploy`')
    .option('-p, --project <project>', 'project id')
    .option('--instances <n>', 'instances of the web process', '1')
    .option('--port <port>', 'the HTTP port the app listens on (its PORT)', '8080')
    .option('--plan <plan>', 'deployment plan', 'nf-compute-20')
    .action(async (name: string, opts: { project?: string; instances: string; port: string; plan: string }, cmd: Command) => {
      const s = sessionOf(cmd);
      const project = requireProject(opts);
      const instances = intArg('--instances', opts.instances, 0, 100);
      const port = intArg('--port', opts.port, 1, 65535);
      const created = await createBundleService(s.client, project, { name, instances, port, plan: opts.plan });
      if (s.json) return s.out.json(created);
      const svc = created.data as { id: string; ports?: { dns?: string }[] };
      s.out.line(`Created service '${svc.id}' in project '${project}' (${instances} instance${instances === 1 ? '' : 's'}, port ${port}).`);
      s.out.line(`Deploy it with: slipway deploy <dir> -p ${project} -s ${svc.id}`);
    });
}

export function intArg(flag: string, value: string, min: number, max: number): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max) throw new UsageError(`${flag} must be a whole number from ${min} to ${max} (got '${value}')`);
  return n;
}

export function statusWord(paint: (style: 'green' | 'red' | 'yellow' | 'dim', t: string) => string, status: string | undefined): string {
  if (!status) return '-';
  if (status === 'COMPLETED') return paint('green', status);
  if (status === 'FAILED') return paint('red', status);
  if (status === 'IN_PROGRESS' || status === 'PENDING') return paint('yellow', status);
  return status;
}

/**
 * A combined service without a repository. The Northflank face requires `vcsData` on a combined create
 * today, so when `/v1` refuses for that field alone this falls back to the Cloud Foundry face, whose apps
 * are exactly that (combined, no repository, running only a build that is pinned to them), then sets
 * instances and port through `/v1` and resumes it (a new CF app starts stopped). `deploy` pins each build.
 */
export async function createBundleService(client: ApiClient, project: string, o: { name: string; instances: number; port: number; plan: string }): Promise<{ data: Record<string, unknown> }> {
  const ports = [{ name: 'p01', internalPort: o.port, public: true, protocol: 'HTTP' }];
  const body = { name: o.name, billing: { deploymentPlan: o.plan }, deployment: { instances: o.instances }, buildSource: 'bundle', ports };
  try {
    return await client.json('POST', `${projectPath(project)}/services/combined`, { body });
  } catch (err) {
    const onlyVcs = err instanceof ApiError && err.status === 400 && err.details.length > 0 && err.details.every((d) => d.startsWith('vcsData'));
    if (!onlyVcs) throw err;
  }
  const id = o.name.trim().toLowerCase().replace(/\s+/g, '-');
  const paths = servicePaths(project, id);
  await client.get(projectPath(project)); // a missing project: the API's own 404
  const exists = await client.get(paths.v1).then(
    () => true,
    (err: unknown) => (err instanceof ApiError && err.status === 404 ? false : Promise.reject(err)),
  );
  if (exists) throw new ApiError(409, `service '${id}' already exists in project '${project}'`);
  await client.json('POST', '/v3/apps', { body: { name: o.name, relationships: { space: { data: { guid: project } } } } });
  await client.json('PATCH', `${projectPath(project)}/services/combined/${encodeURIComponent(id)}`, { body: { billing: { deploymentPlan: o.plan }, deployment: { instances: o.instances }, ports } });
  await client.json('POST', `${paths.v1}/resume`, { body: {} });
  return client.get(paths.v1);
}
