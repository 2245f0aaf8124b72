/**
 * `slipway run`: a one-off run of a service's current release (its artifact, env and files) with a command
 * and environment overrides, its output printed as it comes, and the run's exit code as the CLI's own.
 */
import type { Command } from 'commander';
import { sleep } from '../rollout-progress.ts';
import { requireService, servicePaths, UsageError } from '../service-ref.ts';
import { sessionOf } from '../session.ts';

interface RunView {
  id: string;
  status: 'PENDING' | 'RUNNING' | 'SUCCEEDED' | 'FAILED';
  exitCode: number | null;
  message?: string | null;
}

export function registerRun(program: Command): void {
  program
    .command('run <command...>')
    .description("run a command once against the service's current release (a one-off run), printing its output")
    .option('-p, --project <project>', 'project id')
    .option('-s, --service <service>', 'service id')
    .option('-e, --env <K=V...>', 'environment overrides')
    .option('--detach', 'return once the run is started')
    .action(async (command: string[], opts: { project?: string; service?: string; env?: string[]; detach?: boolean }, cmd: Command) => {
      const s = sessionOf(cmd);
      const ref = requireService(opts);
      const env: Record<string, string> = {};
      for (const pair of opts.env ?? []) {
        const i = pair.indexOf('=');
        if (i <= 0) throw new UsageError(`'${pair}' is not K=V`);
        env[pair.slice(0, i)] = pair.slice(i + 1);
      }
      const base = `${servicePaths(ref.project, ref.service).native}/runs`;
      let run = await s.client.json<RunView>('POST', base, { body: { command: command.join(' '), ...(Object.keys(env).length ? { env } : {}) } });
      if (opts.detach) {
        if (s.json) return s.out.json(run);
        return s.out.line(`Run ${run.id} started.`);
      }
      s.progressStream.write(`Run ${run.id} started.\n`);
      let printed = 0;
      for (;;) {
        run = await s.client.json<RunView>('GET', `${base}/${encodeURIComponent(run.id)}`);
        const lines = (await s.client.json<{ lines: { line: string; stream: string }[] }>('GET', `${base}/${encodeURIComponent(run.id)}/logs`)).lines;
        for (const l of lines.slice(printed)) (l.stream === 'stderr' ? process.stderr : s.json ? process.stderr : process.stdout).write(`${l.line}\n`);
        printed = Math.max(printed, lines.length);
        if (run.status === 'SUCCEEDED' || run.status === 'FAILED') break;
        await sleep(300);
      }
      if (s.json) s.out.json(run);
      else s.progressStream.write(`Run ${run.id} ${run.status.toLowerCase()}${run.exitCode !== null ? ` (exit code ${run.exitCode})` : ''}${run.status === 'FAILED' && run.message ? `: ${run.message}` : ''}\n`);
      if (run.status !== 'SUCCEEDED') process.exitCode = run.exitCode && run.exitCode > 0 ? run.exitCode : 1;
    });
}
