/** `slipway ps|status|scale|restart|pause|resume|open`: one service's instances and lifecycle. */
import type { Command } from 'commander';
import { ago } from '../output.ts';
import { latestRolloutNumber, listContainers, listRollouts, processTypeOf, sleep } from '../rollout-progress.ts';
import { requireService, servicePaths, UsageError, type ServiceRef } from '../service-ref.ts';
import { sessionOf, type Session } from '../session.ts';
import { getService, type ServiceView } from '../service-view.ts';
import { followChange } from './follow-change.ts';
import { autoscaleFields } from '../autoscale-view.ts';
import { statusWord } from './projects.ts';

type Opts = { project?: string; service?: string; detach?: boolean };

function serviceCommand(program: Command, name: string, description: string): Command {
  return program.command(name).description(description).option('-p, --project <project>', 'project id').option('-s, --service <service>', 'service id');
}

/** `http://<service>.<project>.<domain>:<routerPort>` from the first public HTTP port's `dns` (`<port>--<service>--<project>.<domain>`). */
export function serviceUrl(svc: ServiceView, routerPort: number): string | undefined {
  const dns = svc.ports?.find((p) => p.dns)?.dns;
  if (!dns) return undefined;
  const dot = dns.indexOf('.');
  const labels = dns.slice(0, dot).split('--');
  const host = labels.length === 3 ? `${labels[1]}.${labels[2]}${dns.slice(dot)}` : dns;
  return `http://${host}${routerPort === 80 ? '' : `:${routerPort}`}`;
}

export function registerServiceOps(program: Command): void {
  serviceCommand(program, 'ps', 'list the instances of a service').action(async (opts: Opts, cmd: Command) => {
    const s = sessionOf(cmd);
    const ref = requireService(opts);
    const paths = servicePaths(ref.project, ref.service);
    const body = await s.client.get(`${paths.v1}/containers`);
    if (s.json) return s.out.json(body);
    type C = { name: string; status: string; ready: boolean; readyAt?: string | null; release: number; restarts: number; lastExitCode: number | null; createdAt: number };
    s.out.table(
      ['instance', 'type', 'release', 'status', 'ready', 'restarts', 'started'],
      (body.data.containers as C[]).map((c) => [c.name, processTypeOf(c.name, ref.project, ref.service), c.release, c.status, c.ready ? s.out.paint('green', c.readyAt ? `yes (${ago(c.readyAt)})` : 'yes') : s.out.paint('yellow', 'no'), c.restarts, ago(c.createdAt)]),
    );
  });

  serviceCommand(program, 'status', 'show a service: deployment status, release, instances, URL').action(async (opts: Opts, cmd: Command) => {
    const s = sessionOf(cmd);
    const ref = requireService(opts);
    const paths = servicePaths(ref.project, ref.service);
    const body = await s.client.get<{ data: ServiceView }>(paths.v1);
    if (s.json) return s.out.json(body);
    const svc = body.data;
    const containers = await listContainers(s.client, ref.project, ref.service);
    const d = svc.status?.deployment ?? {};
    const ready = containers.filter((c) => c.ready && c.status !== 'TASK_KILLING').length;
    s.out.fields([
      ['service', `${svc.id} (${svc.serviceType}) in project ${ref.project}`],
      ['status', `${statusWord(s.out.paint.bind(s.out), d.status)}${d.reason ? ` (${d.reason})` : ''}${d.lastTransitionTime ? `, ${ago(d.lastTransitionTime)}` : ''}`],
      ...(d.message ? ([['message', d.message]] as [string, unknown][]) : []),
      ['release', svc.release?.number],
      ['instances', `${ready}/${svc.deployment?.instances ?? 0} ready${svc.paused ? ' (paused)' : ''}`],
      ['build', svc.status?.build?.status],
      ['url', serviceUrl(svc, s.target().routerPort)],
      ...(svc.status?.autoscaling ? autoscaleFields(svc.status.autoscaling, ago) : []),
    ]);
  });

  serviceCommand(program, 'scale', 'set the instance count of process types, e.g. `scale web=3 worker=1`')
    .argument('<type=count...>', 'process type and instance count (0-20; web=0 is maintenance mode)')
    .option('--detach', 'do not wait for the web instances')
    .action(async (pairs: string[], opts: Opts, cmd: Command) => {
      const s = sessionOf(cmd);
      const ref = requireService(opts);
      const wanted = new Map<string, number>();
      for (const pair of pairs) {
        const m = /^([a-zA-Z][a-zA-Z0-9_-]*)=(\d+)$/.exec(pair);
        if (!m) throw new UsageError(`'${pair}' is not <type>=<count>, e.g. web=3`);
        wanted.set(m[1], Number(m[2]));
      }
      // The formation face scales every type at once, all or nothing; a type not yet in the formation is added.
      const formation = `/apps/${encodeURIComponent(`${ref.service}-${ref.project}`)}/formation`;
      const current = (await s.client.json('GET', formation)) as { type: string; size: string }[];
      const size = current.find((f) => f.type === 'web')?.size;
      for (const [type, quantity] of wanted) {
        if (!current.some((f) => f.type === type)) await s.client.json('POST', formation, { body: { type, quantity, size } });
      }
      // An autoscaled service's web count is the autoscaler's (docs/autoscaling.md): say so rather than wait for a count it will not take.
      const horizontal = (await getService(s.client, ref)).autoscaling as { horizontal?: { enabled?: boolean; minReplicas?: number; maxReplicas?: number } } | undefined;
      if (wanted.has('web') && horizontal?.horizontal?.enabled) {
        throw new UsageError(`web is autoscaled between ${horizontal.horizontal.minReplicas} and ${horizontal.horizontal.maxReplicas} instances: change autoscaling.horizontal.minReplicas/maxReplicas, or turn autoscaling off`);
      }
      const res = await s.client.json('PATCH', formation, { body: [...wanted].map(([type, quantity]) => ({ type, quantity })) });
      const web = wanted.get('web');
      if (!opts.detach && web !== undefined) await waitForScale(s, ref, web);
      if (s.json) return s.out.json(res);
      s.out.line(`Scaled ${[...wanted].map(([t, n]) => `${t} to ${n}`).join(', ')}.`);
    });

  serviceCommand(program, 'restart', 'replace every instance with a fresh one (a rolling restart)')
    .option('--detach', 'do not follow the rollout')
    .action(async (opts: Opts, cmd: Command) => {
      const s = sessionOf(cmd);
      const ref = requireService(opts);
      const baseline = latestRolloutNumber(await listRollouts(s.client, ref.project, ref.service));
      const res = await s.client.json('POST', `${servicePaths(ref.project, ref.service).v1}/restart`, { body: {} });
      await followChange(s, ref, baseline, { detach: Boolean(opts.detach), response: res, done: `Restarting ${ref.service}.` });
    });

  for (const [verb, text] of [
    ['pause', 'stop every instance (the router answers 503) until resume'],
    ['resume', 'start a paused service again'],
  ] as const) {
    serviceCommand(program, verb, text).action(async (opts: Opts, cmd: Command) => {
      const s = sessionOf(cmd);
      const ref = requireService(opts);
      const res = await s.client.json('POST', `${servicePaths(ref.project, ref.service).v1}/${verb}`, { body: {} });
      if (s.json) return s.out.json(res);
      s.out.line(verb === 'pause' ? `Paused ${ref.service}.` : `Resumed ${ref.service}.`);
    });
  }

  serviceCommand(program, 'open', "print the service's URL through the router")
    .option('--router-port <port>', "the router's HTTP port (default: the context's, else 8080)")
    .action(async (opts: Opts & { routerPort?: string }, cmd: Command) => {
      const s = sessionOf(cmd);
      const ref = requireService(opts);
      const svc = await getService(s.client, ref);
      const port = opts.routerPort ? Number(opts.routerPort) : s.target().routerPort;
      const url = serviceUrl(svc, port);
      if (!url) throw new Error(`service '${ref.service}' has no public HTTP port`);
      if (s.json) return s.out.json({ url, ports: svc.ports });
      s.out.line(url);
    });
}

/** Until the web instances of the current release number `want`, all ready, and old ones are gone. */
async function waitForScale(s: Session, ref: ServiceRef, want: number): Promise<void> {
  const deadline = Date.now() + 120_000;
  let last = '';
  for (;;) {
    const svc = await getService(s.client, ref);
    const cs = (await listContainers(s.client, ref.project, ref.service)).filter((c) => processTypeOf(c.name, ref.project, ref.service) === 'web');
    const live = cs.filter((c) => c.status !== 'TASK_KILLING');
    const ready = live.filter((c) => c.ready).length;
    const line = `web: ${ready}/${want} ready${cs.length > live.length ? `, ${cs.length - live.length} stopping` : ''}`;
    if (line !== last && !s.json) s.progressStream.write(`  ${line}\n`);
    last = line;
    if (live.length === want && ready === want && cs.length === want && svc.status?.deployment?.status !== 'IN_PROGRESS') return;
    if (Date.now() > deadline) throw new Error(`web did not reach ${want} ready instances within 120 s (${line})`);
    await sleep(500);
  }
}
