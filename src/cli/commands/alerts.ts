/**
 * `slipway alerts list|show|create|delete|deliveries` (notification integrations, `/v1/integrations/notifications`,
 * admin) and `slipway alerts uptime list|add|show|delete` (uptime checks of a project's public ports). Event
 * names on the command line are short: rollout, crash, autoscale, build, backup (see docs/alerts.md).
 */
import type { Command } from 'commander';
import { ago } from '../output.ts';
import { requireProject, UsageError } from '../service-ref.ts';
import { sessionOf } from '../session.ts';
import { intArg } from './projects.ts';

const EVENTS: Record<string, string> = {
  rollout: 'trigger:service:deployment:status-update',
  crash: 'trigger:infrastructure:service:container-crash',
  autoscale: 'trigger:service:autoscaling:event',
  build: 'trigger:build:failure',
  backup: 'trigger:addon-backup:failure',
};
const NOTIFICATIONS = '/v1/integrations/notifications';
const notificationPath = (id: string) => `${NOTIFICATIONS}/${encodeURIComponent(id)}`;
const checksPath = (project: string, id?: string) => `/projects/${encodeURIComponent(project)}/uptime-checks${id ? `/${encodeURIComponent(id)}` : ''}`;
const shortEvents = (events: Record<string, boolean>) => Object.entries(EVENTS).filter(([, t]) => events[t]).map(([k]) => k).join(',') || '-';

export function registerAlerts(program: Command): void {
  const alerts = program.command('alerts').alias('alert').description('notification integrations (webhooks), their deliveries, and uptime checks');

  alerts.command('list').alias('ls').description('list notification integrations').action(async (_opts: unknown, cmd: Command) => {
    const s = sessionOf(cmd);
    const body = await s.client.get(NOTIFICATIONS, { per_page: 100 });
    if (s.json) return s.out.json(body);
    s.out.table(
      ['id', 'type', 'webhook', 'events', 'projects', 'failed requests'],
      body.data.notificationIntegrations.map((n: any) => [n.id, n.type, n.webhook, shortEvents(n.events), n.restricted ? n.projects.join(',') : 'all', n.status?.numberOfFailedRequests ?? 0]),
    );
  });

  alerts.command('show <integration>').description('show a notification integration (never its secret)').action(async (id: string, _opts: unknown, cmd: Command) => {
    const s = sessionOf(cmd);
    const n = (await s.client.get(notificationPath(id))).data;
    if (s.json) return s.out.json(n);
    s.out.line(`${n.id} (${n.type}) → ${n.webhook}${n.hasSecret ? ', signed' : ''}`);
    s.out.line(`  events: ${shortEvents(n.events)}; projects: ${n.restricted ? n.projects.join(', ') : 'all'}`);
  });

  alerts
    .command('create <name>')
    .description('create a notification integration')
    .requiredOption('--webhook <url>', 'where alerts are POSTed')
    .option('--type <type>', 'RAW_WEBHOOK, DISCORD, TEAMS or TEAMS_WORKFLOWS', 'RAW_WEBHOOK')
    .option('--secret-env <var>', 'the secret (RAW_WEBHOOK): read from this environment variable; alerts are signed with it')
    .option('--events <list>', `comma-separated: ${Object.keys(EVENTS).join(',')}`, Object.keys(EVENTS).join(','))
    .option('--project <project...>', 'only these projects (default: every project)')
    .action(async (name: string, opts: { webhook: string; type: string; secretEnv?: string; events: string; project?: string[] }, cmd: Command) => {
      const s = sessionOf(cmd);
      const events: Record<string, boolean> = {};
      for (const e of opts.events.split(',').map((x) => x.trim()).filter(Boolean)) {
        if (!EVENTS[e]) throw new UsageError(`--events: '${e}' is not one of ${Object.keys(EVENTS).join(', ')}`);
        events[EVENTS[e]] = true;
      }
      let secret: string | undefined;
      if (opts.secretEnv) {
        secret = process.env[opts.secretEnv];
        if (!secret) throw new UsageError(`--secret-env: environment variable ${opts.secretEnv} is not set`);
      }
      const body = await s.client.json('POST', NOTIFICATIONS, { body: { name, type: opts.type, webhook: opts.webhook, ...(secret ? { secret } : {}), events, ...(opts.project ? { restricted: true, projects: opts.project } : {}) } });
      if (s.json) return s.out.json(body);
      s.out.line(`notification integration ${body.data.id} created: ${shortEvents(body.data.events)} → ${opts.webhook}`);
    });

  alerts.command('delete <integration>').alias('rm').description('delete a notification integration').action(async (id: string, _opts: unknown, cmd: Command) => {
    const s = sessionOf(cmd);
    await s.client.json('DELETE', notificationPath(id));
    if (s.json) return s.out.json({ deleted: id });
    s.out.line(`notification integration ${id} deleted`);
  });

  alerts
    .command('deliveries <integration>')
    .description("an integration's deliveries, newest first")
    .option('-n, --limit <n>', 'how many', '20')
    .action(async (id: string, opts: { limit: string }, cmd: Command) => {
      const s = sessionOf(cmd);
      const body = await s.client.get(`/notifications/${encodeURIComponent(id)}/deliveries`, { limit: intArg('--limit', opts.limit, 1, 500) });
      if (s.json) return s.out.json(body);
      s.out.table(['event', 'status', 'attempts', 'last answer', 'created'], body.deliveries.map((d: any) => [d.event, d.status, d.attempts, d.lastError ?? (d.lastStatusCode ? `HTTP ${d.lastStatusCode}` : '-'), ago(d.createdAt)]));
    });

  const uptime = alerts.command('uptime').description("uptime checks of a project's public HTTP ports");
  uptime
    .command('list')
    .alias('ls')
    .option('-p, --project <project>', 'project id')
    .action(async (opts: { project?: string }, cmd: Command) => {
      const s = sessionOf(cmd);
      const body = await s.client.get(checksPath(requireProject(opts)));
      if (s.json) return s.out.json(body);
      s.out.table(['id', 'service', 'port', 'path', 'every', 'state', 'failures', 'last'], body.checks.map((c: any) => [c.id, c.spec.serviceId, c.spec.port, c.spec.path, `${c.spec.intervalSeconds}s`, c.state, c.consecutiveFailures, c.lastError ?? (c.lastStatusCode ? `HTTP ${c.lastStatusCode}` : '-')]));
    });
  uptime
    .command('add')
    .description('check a public port periodically; alert after --failures in a row, and on recovery')
    .option('-p, --project <project>', 'project id')
    .requiredOption('-s, --service <service>', 'service id')
    .requiredOption('--port <name>', 'the public HTTP port (e.g. p01)')
    .option('--path <path>', 'path requested', '/')
    .option('--interval <seconds>', 'seconds between checks', '60')
    .option('--failures <n>', 'failures in a row before alerting', '3')
    .option('--notify <integration...>', 'notification integrations to alert')
    .action(async (opts: { project?: string; service: string; port: string; path: string; interval: string; failures: string; notify?: string[] }, cmd: Command) => {
      const s = sessionOf(cmd);
      const body = await s.client.json('POST', checksPath(requireProject(opts)), {
        body: { serviceId: opts.service, port: opts.port, path: opts.path, intervalSeconds: intArg('--interval', opts.interval, 5, 86_400), failureThreshold: intArg('--failures', opts.failures, 1, 100), notificationIds: opts.notify ?? [] },
      });
      if (s.json) return s.out.json(body);
      s.out.line(`uptime check ${body.id} added: ${opts.service} ${opts.port}${opts.path} every ${body.spec.intervalSeconds}s`);
    });
  uptime
    .command('delete <check>')
    .alias('rm')
    .option('-p, --project <project>', 'project id')
    .action(async (id: string, opts: { project?: string }, cmd: Command) => {
      const s = sessionOf(cmd);
      await s.client.json('DELETE', checksPath(requireProject(opts), id));
      if (s.json) return s.out.json({ deleted: id });
      s.out.line(`uptime check ${id} deleted`);
    });
}
