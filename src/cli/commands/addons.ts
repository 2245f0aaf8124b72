/**
 * `slipway addons list|types|create|get|credentials|backup|backups|restore|restores|pause|resume|restart|delete`
 * (and `rotate|import`, addons-ops.ts):
 * the `/v1` addon routes from the command line. `create`, `backup` and `restore` wait for the outcome unless
 * `--no-wait`; `credentials` prints secrets, so it says so on stderr.
 */
import type { Command } from 'commander';
import type { ApiClient } from '../api-client.ts';
import { projectPath, requireProject, UsageError } from '../service-ref.ts';
import { sessionOf } from '../session.ts';
import { addonPath, until } from './addon-paths.ts';
import { intArg } from './projects.ts';
import { registerAddonOps } from './addons-ops.ts';

/** `--fork <addon:backup>` as the client's `source`. */
function forkSource(arg: string): { addonId: string; backupId: string } {
  const [addonId, backupId, ...rest] = arg.split(':');
  if (!addonId || !backupId || rest.length) throw new UsageError(`--fork takes <addon>:<backup>, not '${arg}'`);
  return { addonId, backupId };
}

async function addonStatus(client: ApiClient, project: string, addon: string): Promise<{ status: string; statusMessage?: string }> {
  return (await client.get(addonPath(project, addon))).data as { status: string; statusMessage?: string };
}

export function registerAddons(program: Command): void {
  const addons = program.command('addons').alias('addon').description('database and cache addons: PostgreSQL, MySQL (served by MariaDB), Redis');
  const withProject = (c: Command) => c.option('-p, --project <project>', 'project id');

  addons
    .command('types')
    .description('the addon types and versions this installation runs')
    .action(async (_o: unknown, cmd: Command) => {
      const s = sessionOf(cmd);
      const body = await s.client.get('/v1/addon-types');
      if (s.json) return s.out.json(body);
      s.out.table(['type', 'name', 'versions'], (body.data.addonTypes as { type: string; name: string; versions: string[] }[]).map((t) => [t.type, t.name, t.versions.join(', ')]));
    });

  withProject(addons.command('list').alias('ls').description("list a project's addons")).action(async (opts: { project?: string }, cmd: Command) => {
    const s = sessionOf(cmd);
    const project = requireProject(opts);
    const body = await s.client.get(`${projectPath(project)}/addons`, { per_page: 100 });
    if (s.json) return s.out.json(body);
    s.out.table(['id', 'type', 'status'], (body.data.addons as { id: string; spec: { type: string }; status: string }[]).map((a) => [a.id, a.spec.type, a.status]));
  });

  withProject(addons.command('create <name>').description('create an addon and wait for it to run'))
    .requiredOption('-t, --type <type>', 'postgresql, mysql or redis')
    .option('--db-version <version>', "server version: full, major, 'latest' or '<major>-latest'", 'latest')
    .option('--plan <plan>', 'deployment plan', 'nf-compute-20')
    .option('--storage <mb>', 'storage in MB', '1024')
    .option('--db-name <name>', 'database name (PostgreSQL, MySQL)')
    .option('--tls', 'the server takes TLS connections only (chosen at create)')
    .option('--fork <addon:backup>', "start from another addon's backup (a fork): the addon and backup ids, colon-separated")
    .option('--external', "reachable from outside through a router TCP port (turn on or off later with 'addons external')")
    .option('--no-wait', 'return once created')
    .action(async (name: string, opts: { project?: string; type: string; dbVersion: string; plan: string; storage: string; dbName?: string; tls?: boolean; external?: boolean; fork?: string; wait: boolean }, cmd: Command) => {
      const s = sessionOf(cmd);
      const project = requireProject(opts);
      const storage = intArg('--storage', opts.storage, 1, 1_048_576);
      const body = { name, type: opts.type, version: opts.dbVersion, billing: { deploymentPlan: opts.plan, storage, replicas: 1 }, ...(opts.dbName ? { customCredentials: { dbName: opts.dbName } } : {}), ...(opts.tls ? { tlsEnabled: true } : {}), ...(opts.external ? { externalAccessEnabled: true } : {}), ...(opts.fork ? { source: forkSource(opts.fork) } : {}) };
      const created = await s.client.json('POST', `${projectPath(project)}/addons`, { body });
      const id = created.data.id as string;
      if (!opts.wait) return s.json ? s.out.json(created) : s.out.line(`Created addon '${id}' (${created.data.status}).`);
      s.out.note(`Created addon '${id}'; waiting for it to run…`);
      const a = await until(() => addonStatus(s.client, project, id), (x) => x.status === 'running' || x.status === 'errorAllocating', 300_000);
      if (s.json) return s.out.json({ data: a });
      if (a.status !== 'running') {
        process.exitCode = 1;
        return s.out.line(`Addon '${id}' is ${a.status}${a.statusMessage ? `: ${a.statusMessage}` : ''}`);
      }
      s.out.line(`Addon '${id}' is running. Connection details: slipway addons credentials ${id} -p ${project}`);
    });

  withProject(addons.command('get <addon>').description('show an addon')).action(async (addon: string, opts: { project?: string }, cmd: Command) => {
    const s = sessionOf(cmd);
    const project = requireProject(opts);
    const body = await s.client.get(addonPath(project, addon));
    if (s.json) return s.out.json(body);
    const a = body.data;
    s.out.fields([
      ['id', a.id],
      ['type', a.type],
      ['version', a.version],
      ['status', a.status],
      ['message', a.statusMessage],
      ['plan', a.billing.deploymentPlan],
      ['storage', `${a.billing.storage} MB`],
      ['tls', a.tlsEnabled ? 'on (TLS connections only)' : 'off'],
      ['external access', a.externalAccessEnabled ? 'on (see EXTERNAL_HOST and EXTERNAL_PORT in the credentials)' : 'off'],
      ['created', a.createdAt],
    ]);
  });

  withProject(addons.command('credentials <addon>').alias('creds').description('print the connection details (secrets)')).action(async (addon: string, opts: { project?: string }, cmd: Command) => {
    const s = sessionOf(cmd);
    const project = requireProject(opts);
    const body = await s.client.get(`${addonPath(project, addon)}/credentials`);
    if (s.json) return s.out.json(body);
    s.out.note('These are secrets: keep them out of logs and shared terminals.');
    s.out.fields(Object.entries(body.data.secrets as Record<string, string>));
  });

  withProject(addons.command('backup <addon>').description('take a dump backup and wait for it'))
    .option('--name <name>', 'backup name')
    .option('--destination <id>', 'write it to this backup destination (see slipway backup-destinations)')
    .option('--no-wait', 'return once scheduled')
    .action(async (addon: string, opts: { project?: string; name?: string; destination?: string; wait: boolean }, cmd: Command) => {
      const s = sessionOf(cmd);
      const project = requireProject(opts);
      const created = await s.client.json('POST', `${addonPath(project, addon)}/backups`, { body: { backupType: 'dump', ...(opts.name ? { name: opts.name } : {}), ...(opts.destination ? { customDestinationId: opts.destination } : {}) } });
      const id = created.data.id as string;
      if (!opts.wait) return s.json ? s.out.json(created) : s.out.line(`Backup '${id}' scheduled.`);
      const b = await until(async () => (await s.client.get(`${addonPath(project, addon)}/backups/${encodeURIComponent(id)}`)).data, (x) => ['completed', 'failed', 'aborted'].includes(x.status), 3_600_000);
      if (s.json) return s.out.json({ data: b });
      if (b.status !== 'completed') process.exitCode = 1;
      s.out.line(`Backup '${id}' ${b.status}${b.status === 'completed' ? ` (${b.config.size} bytes)` : b.message ? `: ${b.message}` : ''}.`);
    });

  withProject(addons.command('backups <addon>').description("list an addon's backups")).action(async (addon: string, opts: { project?: string }, cmd: Command) => {
    const s = sessionOf(cmd);
    const project = requireProject(opts);
    const body = await s.client.get(`${addonPath(project, addon)}/backups`, { per_page: 100 });
    if (s.json) return s.out.json(body);
    s.out.table(['id', 'name', 'status', 'size', 'created'], (body.data.backups as { id: string; name: string; status: string; createdAt: string; config: { size: string } }[]).map((b) => [b.id, b.name, b.status, b.config.size, b.createdAt]));
  });

  withProject(addons.command('restore <addon> <backup>').description('restore a backup into the addon and wait for it'))
    .option('--from <addon>', 'the addon the backup belongs to (default: the same addon)')
    .option('--no-wait', 'return once scheduled')
    .action(async (addon: string, backup: string, opts: { project?: string; from?: string; wait: boolean }, cmd: Command) => {
      const s = sessionOf(cmd);
      const project = requireProject(opts);
      const q = opts.from ? `?sourceAddonId=${encodeURIComponent(opts.from)}` : '';
      const created = await s.client.json('POST', `${addonPath(project, addon)}/backups/${encodeURIComponent(backup)}/restore${q}`, { body: {} });
      const id = created.data.restoreId as string;
      if (!opts.wait) return s.json ? s.out.json(created) : s.out.line(`Restore '${id}' scheduled.`);
      const r = await until(
        async () => ((await s.client.get(`${addonPath(project, addon)}/restores`, { per_page: 100 })).data.restores as { id: string; status: string; message?: string }[]).find((x) => x.id === id),
        (x) => !!x && ['completed', 'failed', 'aborted'].includes(x.status),
        3_600_000,
      );
      if (s.json) return s.out.json({ data: r });
      if (r?.status !== 'completed') process.exitCode = 1;
      s.out.line(`Restore '${id}' ${r?.status ?? 'unknown'}${r?.message ? `: ${r.message}` : ''}.`);
    });

  withProject(addons.command('restores <addon>').description("an addon's restore history")).action(async (addon: string, opts: { project?: string }, cmd: Command) => {
    const s = sessionOf(cmd);
    const project = requireProject(opts);
    const body = await s.client.get(`${addonPath(project, addon)}/restores`, { per_page: 100 });
    if (s.json) return s.out.json(body);
    s.out.table(['id', 'backup', 'status', 'started'], (body.data.restores as { id: string; backupId: string; status: string; restoreTimestamp: string }[]).map((r) => [r.id, r.backupId, r.status, r.restoreTimestamp]));
  });

  for (const action of ['pause', 'resume', 'restart'] as const) {
    withProject(addons.command(`${action} <addon>`).description(`${action} an addon`)).action(async (addon: string, opts: { project?: string }, cmd: Command) => {
      const s = sessionOf(cmd);
      const project = requireProject(opts);
      const body = await s.client.json('POST', `${addonPath(project, addon)}/${action}`, { body: {} });
      if (s.json) return s.out.json(body);
      s.out.line(`Addon '${addon}': ${action} requested.`);
    });
  }

  withProject(addons.command('delete <addon>').alias('rm').description('delete an addon: its server is stopped, then its data and backups are removed'))
    .option('--yes', 'confirm: the data and every backup are removed')
    .action(async (addon: string, opts: { project?: string; yes?: boolean }, cmd: Command) => {
      const s = sessionOf(cmd);
      const project = requireProject(opts);
      if (!opts.yes) throw new UsageError(`deleting '${addon}' removes its data and every backup: run again with --yes`);
      const body = await s.client.json('DELETE', addonPath(project, addon));
      if (s.json) return s.out.json(body);
      s.out.line(`Addon '${addon}' is being deleted: ${body.data.message}.`);
    });

  registerAddonOps(addons);
}
