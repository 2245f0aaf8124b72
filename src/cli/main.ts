/**
 * The `slipway` CLI: composes the commands and maps every failure to a message and an exit code
 * (0 done, 1 the platform said no or a rollout failed, 2 the command was called wrongly). It speaks only
 * HTTP to the API.
 */
import { Command, CommanderError } from 'commander';
import { ApiError } from './api-client.ts';
import { colorEnabled } from './output.ts';
import { UsageError } from './service-ref.ts';
import { registerCompletion } from './commands/completion.ts';
import { registerDeploy } from './commands/deploy.ts';
import { registerEnv } from './commands/env.ts';
import { registerLogin } from './commands/login.ts';
import { registerLogs } from './commands/logs.ts';
import { registerProjects } from './commands/projects.ts';
import { registerReleases } from './commands/releases.ts';
import { registerServiceOps } from './commands/service-ops.ts';
import { registerRun } from './commands/run.ts';
import { registerSecrets } from './commands/secrets.ts';
import { registerVolumes } from './commands/volumes.ts';
import { registerAddons } from './commands/addons.ts';
import { registerPipelines } from './commands/pipelines.ts';
import { registerRelease } from './commands/release.ts';
import { registerSinks } from './commands/sinks.ts';
import { registerAlerts } from './commands/alerts.ts';
import { registerMetrics } from './commands/metrics.ts';
import { registerBackupDestinations } from './commands/backup-destinations.ts';
import { registerCanary } from './commands/canary.ts';

export function buildProgram(): Command {
  const program = new Command('slipway')
    .description('deploy and run services on a slipway platform')
    .version('0.1.0')
    .option('--host <url>', 'API URL (env SLIPWAY_HOST; default: the current context)')
    .option('--token <token>', 'API token (env SLIPWAY_TOKEN; default: the current context)')
    .option('--context <name>', 'use this saved context instead of the current one (env SLIPWAY_CONTEXT)')
    .option('--json', "print the API's JSON")
    .option('--no-color', 'no colour (also when NO_COLOR is set or stdout is not a terminal)')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  registerLogin(program);
  registerProjects(program);
  registerDeploy(program);
  registerServiceOps(program);
  registerReleases(program);
  registerLogs(program);
  registerRun(program);
  registerEnv(program);
  registerSecrets(program);
  registerVolumes(program);
  registerAddons(program);
  registerPipelines(program);
  registerRelease(program);
  registerSinks(program);
  registerAlerts(program);
  registerMetrics(program);
  registerBackupDestinations(program);
  registerCanary(program);
  registerCompletion(program);
  for (const c of allCommands(program)) c.exitOverride();
  return program;
}

function allCommands(cmd: Command): Command[] {
  return cmd.commands.flatMap((c) => [c, ...allCommands(c)]);
}

export function reportError(err: unknown, json: boolean): number {
  const red = (t: string) => (colorEnabled(undefined, process.stderr) ? `\x1b[31m${t}\x1b[0m` : t);
  if (err instanceof CommanderError) {
    // commander printed its message (or the help / version) already
    return err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help' ? 0 : 2;
  }
  if (err instanceof ApiError) {
    process.stderr.write(`${red('Error:')} ${err.message}${err.status ? ` (HTTP ${err.status})` : ''}\n`);
    for (const d of err.details) process.stderr.write(`  - ${d}\n`);
    if (json && err.body !== undefined) process.stdout.write(JSON.stringify(err.body, null, 2) + '\n');
    return 1;
  }
  if (err instanceof UsageError) {
    process.stderr.write(`${red('Error:')} ${err.message}\n`);
    return 2;
  }
  process.stderr.write(`${red('Error:')} ${(err as Error)?.message ?? String(err)}\n`);
  if (process.env.SLIPWAY_DEBUG && (err as Error)?.stack) process.stderr.write(`${(err as Error).stack}\n`);
  return 1;
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    return reportError(err, argv.includes('--json'));
  }
}

const code = await main(process.argv);
process.exitCode = code;
