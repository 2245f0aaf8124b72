/**
 * `slipway sinks list|show|create|pause|resume|delete`: log sinks through the `/v1/integrations/log-sinks`
 * routes (admin). `create <name> --type loki --url <endpoint>` or `--type http --url <uri>`; passwords and
 * tokens are read from `--password-env`/`--token-env` (the name of an environment variable), so they never
 * appear in a process list.
 */
import type { Command } from 'commander';
import { ago } from '../output.ts';
import { UsageError } from '../service-ref.ts';
import { sessionOf } from '../session.ts';

interface SinkView {
  id: string;
  name: string;
  sinkType: string;
  status: string;
  restricted: boolean;
  projects: string[];
  sinkData: Record<string, any>;
  delivery: { sentLines: number; droppedLines: number; bufferedLines: number; lastError: string | null; lastSentAt: string | null };
}

const SINKS = '/v1/integrations/log-sinks';
const sinkPath = (id: string) => `${SINKS}/${encodeURIComponent(id)}`;

function secretFrom(envName: string | undefined, what: string): string | undefined {
  if (!envName) return undefined;
  const v = process.env[envName];
  if (!v) throw new UsageError(`${what}: environment variable ${envName} is not set`);
  return v;
}

export function registerSinks(program: Command): void {
  const sinks = program.command('sinks').alias('sink').description('log sinks: ship every service line to Loki or an HTTP endpoint');

  sinks.command('list').alias('ls').description('list log sinks with their delivery counters').action(async (_opts: unknown, cmd: Command) => {
    const s = sessionOf(cmd);
    const body = await s.client.get(SINKS, { per_page: 100 });
    if (s.json) return s.out.json(body);
    s.out.table(
      ['id', 'type', 'status', 'projects', 'sent', 'dropped', 'buffered', 'last error'],
      (body.data.logSinks as SinkView[]).map((k) => [k.id, k.sinkType, k.status, k.restricted ? k.projects.join(',') : 'all', k.delivery.sentLines, k.delivery.droppedLines, k.delivery.bufferedLines, k.delivery.lastError ?? '-']),
    );
  });

  sinks.command('show <sink>').description('show a log sink (settings without secrets) and its delivery').action(async (id: string, _opts: unknown, cmd: Command) => {
    const s = sessionOf(cmd);
    const k = (await s.client.get(sinkPath(id))).data as SinkView;
    if (s.json) return s.out.json(k);
    s.out.line(`${k.id} (${k.sinkType}): ${k.status}, ${k.restricted ? `projects ${k.projects.join(', ')}` : 'every project'}`);
    s.out.line(`  to ${k.sinkData.endpoint ?? k.sinkData.uri}${k.sinkData.auth?.strategy ? ` (auth ${k.sinkData.auth.strategy})` : ''}`);
    s.out.line(`  sent ${k.delivery.sentLines} lines${k.delivery.lastSentAt ? ` (last ${ago(k.delivery.lastSentAt)})` : ''}, dropped ${k.delivery.droppedLines}, buffered ${k.delivery.bufferedLines}`);
    if (k.delivery.lastError) s.out.line(`  last error: ${k.delivery.lastError}`);
  });

  sinks
    .command('create <name>')
    .description('create a log sink')
    .requiredOption('--type <type>', 'loki or http')
    .requiredOption('--url <url>', "Loki's base URL (…/loki/api/v1/push is added), or the HTTP sink's URI")
    .option('--codec <codec>', 'json or text', 'json')
    .option('--user <user>', 'basic auth user')
    .option('--password-env <var>', 'basic auth password, read from this environment variable')
    .option('--token-env <var>', 'bearer token (http sinks), read from this environment variable')
    .option('--project <project...>', 'only these projects (default: every project)')
    .action(async (name: string, opts: { type: string; url: string; codec: string; user?: string; passwordEnv?: string; tokenEnv?: string; project?: string[] }, cmd: Command) => {
      const s = sessionOf(cmd);
      const password = secretFrom(opts.passwordEnv, '--password-env');
      const token = secretFrom(opts.tokenEnv, '--token-env');
      if (opts.type !== 'loki' && opts.type !== 'http') throw new UsageError("--type: 'loki' or 'http'");
      const auth =
        opts.type === 'loki'
          ? password !== undefined
            ? { strategy: 'basic', user: opts.user, password }
            : undefined
          : token !== undefined
            ? { strategy: 'bearer', token }
            : password !== undefined
              ? { strategy: 'basic', user: opts.user, password }
              : { strategy: 'none' };
      const sinkData = opts.type === 'loki' ? { endpoint: opts.url, encoding: { codec: opts.codec }, ...(auth ? { auth } : {}) } : { uri: opts.url, encoding: { codec: opts.codec }, auth };
      const body = await s.client.json('POST', SINKS, { body: { name, sinkType: opts.type, sinkData, ...(opts.project ? { restricted: true, projects: opts.project } : {}) } });
      if (s.json) return s.out.json(body);
      s.out.line(`log sink ${body.data.id} created: ${opts.type} to ${opts.url}`);
    });

  for (const [verb, what] of [
    ['pause', 'paused: it takes no lines until resumed'],
    ['resume', 'resumed'],
  ] as const) {
    sinks.command(`${verb} <sink>`).description(`${verb} a log sink`).action(async (id: string, _opts: unknown, cmd: Command) => {
      const s = sessionOf(cmd);
      const body = await s.client.json('POST', `${sinkPath(id)}/${verb}`);
      if (s.json) return s.out.json(body);
      s.out.line(`log sink ${id} ${what}`);
    });
  }

  sinks.command('delete <sink>').alias('rm').description('delete a log sink').action(async (id: string, _opts: unknown, cmd: Command) => {
    const s = sessionOf(cmd);
    await s.client.json('DELETE', sinkPath(id));
    if (s.json) return s.out.json({ deleted: id });
    s.out.line(`log sink ${id} deleted`);
  });
}
