/**
 * `slipway secrets list|get|create|set|unset|delete|link|unlink`: a project's secret groups. Values are hidden
 * unless `get --reveal` asks for them; `create --tag` restricts a group to the services and jobs carrying a tag;
 * `link` gives a group an addon's credentials (KEY or KEY=ALIAS,ALIAS), `unlink` takes them away.
 * Every change makes a new release of each service it makes a difference to (the platform does that).
 */
import type { Command } from 'commander';
import { projectPath, requireProject, UsageError } from '../service-ref.ts';
import { sessionOf, type Session } from '../session.ts';

type Opts = { project?: string };
interface Group {
  id: string;
  name: string;
  type: string;
  secretType: string;
  priority: number;
  tags: string[];
  restrictions: { restricted?: boolean; nfObjects?: { id: string; type: string }[]; tags?: string[]; tagMatchCondition?: string };
  secrets?: { variables?: Record<string, string | null>; files?: Record<string, unknown> };
}

const SECRET_TYPES = ['environment', 'arguments', 'environment-arguments'];
const HIDDEN = '••••••';

const collect = (value: string, prev: string[] = []) => [...prev, value];

function pairsOf(pairs: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new UsageError(`'${pair}' is not NAME=value`);
    out[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return out;
}

/** `KEY` or `KEY=ALIAS,ALIAS`: an addon credential key and the extra names it goes by. */
function linkKeyOf(arg: string): { keyName: string; aliases?: string[] } {
  const [keyName, aliases] = arg.split('=', 2) as [string, string | undefined];
  if (!keyName) throw new UsageError(`'${arg}' is not KEY or KEY=ALIAS[,ALIAS]`);
  return aliases ? { keyName, aliases: aliases.split(',').filter(Boolean) } : { keyName };
}

function targets(g: Group): string {
  const r = g.restrictions ?? {};
  if (!r.restricted) return 'all services and jobs';
  const parts = [...(r.nfObjects ?? []).map((o) => `${o.type} ${o.id}`), ...(r.tags ?? []).map((t) => `tag ${t}`)];
  return parts.length ? parts.join(r.tagMatchCondition === 'and' ? ' + ' : ', ') : 'nothing';
}

const groupPath = (project: string, id?: string) => `${projectPath(project)}/secrets${id ? `/${encodeURIComponent(id)}` : ''}`;

export function registerSecrets(program: Command): void {
  const secrets = program.command('secrets').alias('secret').description("list and change a project's secret groups (variables, build arguments and files shared by its services and jobs)");
  secrets
    .command('list')
    .alias('ls')
    .description('list the secret groups of a project and what they apply to')
    .option('-p, --project <project>', 'project id')
    .action(async (opts: Opts, cmd: Command) => {
      const s = sessionOf(cmd);
      const body = await s.client.get(groupPath(requireProject(opts)), { per_page: 100 });
      if (s.json) return s.out.json(body);
      s.out.table(['id', 'kind', 'type', 'priority', 'applies to'], (body.data.secrets as Group[]).map((g) => [g.id, g.type, g.secretType, g.priority, targets(g)]));
    });
  secrets
    .command('get <group>')
    .description('show a secret group; values stay hidden unless --reveal')
    .option('-p, --project <project>', 'project id')
    .option('--reveal', 'print the values')
    .action(async (id: string, opts: Opts & { reveal?: boolean }, cmd: Command) => {
      const s = sessionOf(cmd);
      const body = await s.client.get(groupPath(requireProject(opts), id));
      const g = body.data as Group;
      const shown = (v: string | null | undefined) => (opts.reveal && typeof v === 'string' ? v : HIDDEN);
      if (s.json) {
        const variables = Object.fromEntries(Object.entries(g.secrets?.variables ?? {}).map(([k, v]) => [k, opts.reveal ? v : null]));
        return s.out.json({ ...body, data: { ...g, secrets: { ...g.secrets, variables } } });
      }
      s.out.fields([
        ['id', g.id],
        ['name', g.name],
        ['kind', g.type],
        ['type', g.secretType],
        ['priority', g.priority],
        ['applies to', targets(g)],
      ]);
      s.out.line();
      s.out.table(['name', 'value'], Object.entries(g.secrets?.variables ?? {}).sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => [k, shown(v)]));
      const files = Object.keys(g.secrets?.files ?? {});
      if (files.length) s.out.table(['file'], files.sort().map((f) => [f]));
    });
  secrets
    .command('create <name> [pairs...]')
    .description('create a secret group, e.g. `secrets create production DATABASE_URL=… --tag production`')
    .option('-p, --project <project>', 'project id')
    .option('--type <type>', `what it holds: ${SECRET_TYPES.join(', ')}`, 'environment')
    .option('--priority <n>', 'groups merge by priority, the higher wins (0-100)', '10')
    .option('--config', 'a configuration group (non-sensitive values) instead of a secret group')
    .option('--tag <tag>', 'apply only to services and jobs carrying this tag (repeatable)', collect)
    .option('--service <id>', 'apply to this service (repeatable)', collect)
    .option('--job <id>', 'apply to this job (repeatable)', collect)
    .option('--description <text>', 'a description')
    .action(async (name: string, pairs: string[], opts: Opts & { type: string; priority: string; config?: boolean; tag?: string[]; service?: string[]; job?: string[]; description?: string }, cmd: Command) => {
      const s = sessionOf(cmd);
      if (!SECRET_TYPES.includes(opts.type)) throw new UsageError(`--type must be one of ${SECRET_TYPES.join(', ')}`);
      const priority = Number(opts.priority);
      if (!Number.isInteger(priority) || priority < 0 || priority > 100) throw new UsageError('--priority must be an integer from 0 to 100');
      const nfObjects = [...(opts.service ?? []).map((id) => ({ id, type: 'service' })), ...(opts.job ?? []).map((id) => ({ id, type: 'job' }))];
      const restricted = Boolean(opts.tag?.length || nfObjects.length);
      const body = await s.client.json('POST', groupPath(requireProject(opts)), {
        body: {
          name,
          secretType: opts.type,
          priority,
          type: opts.config ? 'config' : 'secret',
          ...(opts.description ? { description: opts.description } : {}),
          restrictions: { restricted, ...(opts.tag?.length ? { tags: opts.tag } : {}), ...(nfObjects.length ? { nfObjects } : {}) },
          secrets: { variables: pairsOf(pairs) },
        },
      });
      if (s.json) return s.out.json(body);
      s.out.line(`Created secret group '${body.data.id}' (applies to ${targets(body.data as Group)}).`);
    });
  secrets
    .command('set <group> <pairs...>')
    .description('set variables of a group, e.g. `secrets set production LOG_LEVEL=info`')
    .option('-p, --project <project>', 'project id')
    .action(async (id: string, pairs: string[], opts: Opts, cmd: Command) => {
      const set = pairsOf(pairs);
      await change(sessionOf(cmd), requireProject(opts), id, (cur) => ({ ...cur, ...set }), `Set ${Object.keys(set).join(', ')} in '${id}'.`);
    });
  secrets
    .command('unset <group> <names...>')
    .description('remove variables from a group')
    .option('-p, --project <project>', 'project id')
    .action(async (id: string, names: string[], opts: Opts, cmd: Command) => {
      await change(sessionOf(cmd), requireProject(opts), id, (cur) => Object.fromEntries(Object.entries(cur).filter(([k]) => !names.includes(k))), `Unset ${names.join(', ')} in '${id}'.`);
    });
  secrets
    .command('link <group> <addon> <keys...>')
    .description('give the group these credentials of an addon, e.g. `secrets link production db POSTGRES_URI=DATABASE_URL HOST` (NF_<ADDON>_<KEY> and each alias)')
    .option('-p, --project <project>', 'project id')
    .action(async (id: string, addon: string, keys: string[], opts: Opts, cmd: Command) => {
      const s = sessionOf(cmd);
      const body = await s.client.json('POST', `${groupPath(requireProject(opts), id)}/addons/${encodeURIComponent(addon)}`, { body: { keys: keys.map(linkKeyOf) } });
      if (s.json) return s.out.json(body);
      const linked = (body.data.keys as { keyName: string; aliases?: string[]; defaultKey?: string }[]) ?? [];
      s.out.line(`Linked addon '${addon}' to '${id}': ${linked.map((k) => [k.defaultKey ?? k.keyName, ...(k.aliases ?? [])].join(' = ')).join(', ')}.`);
    });
  secrets
    .command('unlink <group> <addon>')
    .description("take an addon's credentials out of the group")
    .option('-p, --project <project>', 'project id')
    .action(async (id: string, addon: string, opts: Opts, cmd: Command) => {
      const s = sessionOf(cmd);
      const body = await s.client.json('DELETE', `${groupPath(requireProject(opts), id)}/addons/${encodeURIComponent(addon)}`);
      if (s.json) return s.out.json(body);
      s.out.line(`Unlinked addon '${addon}' from '${id}'.`);
    });
  secrets
    .command('delete <group>')
    .alias('rm')
    .description('delete a secret group (the services it applied to get a release without it)')
    .option('-p, --project <project>', 'project id')
    .action(async (id: string, opts: Opts, cmd: Command) => {
      const s = sessionOf(cmd);
      const body = await s.client.json('DELETE', groupPath(requireProject(opts), id));
      if (s.json) return s.out.json(body);
      s.out.line(`Deleted secret group '${id}'.`);
    });
}

/** A change replaces the group's variables whole, so the new set is computed from the current one (values need a developer token). */
async function change(s: Session, project: string, id: string, next: (cur: Record<string, string>) => Record<string, string>, done: string): Promise<void> {
  const cur = (await s.client.get(groupPath(project, id))).data as Group;
  const vars = cur.secrets?.variables ?? {};
  if (Object.values(vars).some((v) => v === null)) throw new UsageError('this token may read the names of the variables but not their values: a developer token is needed to change them');
  const body = await s.client.json('PATCH', groupPath(project, id), { body: { secrets: { variables: next(vars as Record<string, string>) } } });
  if (s.json) return s.out.json(body);
  s.out.line(done);
}
