/** `slipway env list|set K=V…|unset K…`: the service's runtimeEnvironment, changed by PATCH (a new release). */
import type { Command } from 'commander';
import { latestRolloutNumber, listRollouts } from '../rollout-progress.ts';
import { projectPath, requireService, UsageError, type ServiceRef } from '../service-ref.ts';
import { sessionOf, type Session } from '../session.ts';
import { getService } from '../service-view.ts';
import { followChange } from './follow-change.ts';

type Opts = { project?: string; service?: string; detach?: boolean };

export function registerEnv(program: Command): void {
  const env = program.command('env').description("list and change a service's environment variables (each change is a new release)");
  env
    .command('list')
    .alias('ls')
    .description('list the environment variables')
    .option('-p, --project <project>', 'project id')
    .option('-s, --service <service>', 'service id')
    .action(async (opts: Opts, cmd: Command) => {
      const s = sessionOf(cmd);
      const ref = requireService(opts);
      const vars = (await getService(s.client, ref)).runtimeEnvironment ?? {};
      if (s.json) return s.out.json({ runtimeEnvironment: vars });
      s.out.table(['name', 'value'], Object.entries(vars).sort(([a], [b]) => a.localeCompare(b)));
    });
  env
    .command('set <pairs...>')
    .description('set variables, e.g. `env set GREETING=hi LOG_LEVEL=debug`, and follow the rollout')
    .option('-p, --project <project>', 'project id')
    .option('-s, --service <service>', 'service id')
    .option('--detach', 'do not follow the rollout')
    .action(async (pairs: string[], opts: Opts, cmd: Command) => {
      const set: Record<string, string> = {};
      for (const pair of pairs) {
        const eq = pair.indexOf('=');
        if (eq <= 0) throw new UsageError(`'${pair}' is not NAME=value`);
        set[pair.slice(0, eq)] = pair.slice(eq + 1);
      }
      await change(sessionOf(cmd), requireService(opts), Boolean(opts.detach), (cur) => ({ ...cur, ...set }), `Set ${Object.keys(set).join(', ')}.`);
    });
  env
    .command('unset <names...>')
    .description('remove variables and follow the rollout')
    .option('-p, --project <project>', 'project id')
    .option('-s, --service <service>', 'service id')
    .option('--detach', 'do not follow the rollout')
    .action(async (names: string[], opts: Opts, cmd: Command) => {
      await change(sessionOf(cmd), requireService(opts), Boolean(opts.detach), (cur) => Object.fromEntries(Object.entries(cur).filter(([k]) => !names.includes(k))), `Unset ${names.join(', ')}.`);
    });
}

/** A PATCH replaces `runtimeEnvironment` whole, so the new map is computed from the current one. */
async function change(s: Session, ref: ServiceRef, detach: boolean, next: (cur: Record<string, string>) => Record<string, string>, done: string): Promise<void> {
  const svc = await getService(s.client, ref);
  const baseline = latestRolloutNumber(await listRollouts(s.client, ref.project, ref.service));
  const res = await s.client.json('PATCH', `${projectPath(ref.project)}/services/${encodeURIComponent(svc.serviceType)}/${encodeURIComponent(ref.service)}`, { body: { runtimeEnvironment: next(svc.runtimeEnvironment ?? {}) } });
  await followChange(s, ref, baseline, { detach, response: res, done });
}
