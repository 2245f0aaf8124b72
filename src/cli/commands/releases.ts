/** `slipway releases`, `slipway rollback [release]` and `slipway rollouts`. */
import type { Command } from 'commander';
import { ago } from '../output.ts';
import { latestRolloutNumber, listRollouts } from '../rollout-progress.ts';
import { requireService, servicePaths, UsageError } from '../service-ref.ts';
import { sessionOf } from '../session.ts';
import { getService } from '../service-view.ts';
import { followChange } from './follow-change.ts';
import { statusWord } from './projects.ts';

export function registerReleases(program: Command): void {
  program
    .command('releases')
    .description('list the releases of a service, newest first')
    .option('-p, --project <project>', 'project id')
    .option('-s, --service <service>', 'service id')
    .action(async (opts: { project?: string; service?: string }, cmd: Command) => {
      const s = sessionOf(cmd);
      const ref = requireService(opts);
      const body = await s.client.get<{ releases: { number: number; buildId: string | null; image: string | null; specHash: string; changes?: string[] | null; createdAt: string; restartedAt?: string }[] }>(`${servicePaths(ref.project, ref.service).native}/releases`);
      if (s.json) return s.out.json(body);
      const svc = await getService(s.client, ref);
      const current = svc.release?.number;
      s.out.table(
        ['', 'release', 'build', 'spec', 'created', 'changes'],
        body.releases.map((r) => [r.number === current ? '*' : '', r.number, r.buildId ?? r.image, r.specHash, ago(r.createdAt), r.changes?.join(', ') ?? '']),
      );
      // Why the service runs what it runs: a rollback's restore, or a failed rollout's return.
      const message = svc.status?.deployment?.message;
      if (message) s.out.line(`${svc.status?.deployment?.status === 'FAILED' ? 'Last rollout failed' : 'Status'}: ${message}`);
    });

  program
    .command('rollback [release]')
    .description('roll back to a release (default: the last good one) and follow the rollout')
    .option('-p, --project <project>', 'project id')
    .option('-s, --service <service>', 'service id')
    .option('--detach', 'do not follow the rollout')
    .action(async (release: string | undefined, opts: { project?: string; service?: string; detach?: boolean }, cmd: Command) => {
      const s = sessionOf(cmd);
      const ref = requireService(opts);
      const number = release === undefined ? undefined : Number(release.replace(/^v/, ''));
      if (number !== undefined && !(Number.isInteger(number) && number >= 1)) throw new UsageError(`release must be a release number (got '${release}')`);
      const baseline = latestRolloutNumber(await listRollouts(s.client, ref.project, ref.service));
      const res = await s.client.json<{ release: number | null; status: string; restored?: string[] }>('POST', `${servicePaths(ref.project, ref.service).native}/rollback`, { body: number === undefined ? {} : { release: number } });
      // The release's spec is the desired one again: say what came back, so nobody is surprised later.
      const restored = res.restored?.length ? `restored release ${res.release}: ${res.restored.join(', ')}` : `release ${res.release}'s spec was already the desired one`;
      await followChange(s, ref, baseline, { detach: Boolean(opts.detach), response: res, done: `Rolling back to release ${res.release} (${restored}).` });
    });

  program
    .command('rollouts')
    .description('list the rollouts of a service with their last event')
    .option('-p, --project <project>', 'project id')
    .option('-s, --service <service>', 'service id')
    .action(async (opts: { project?: string; service?: string }, cmd: Command) => {
      const s = sessionOf(cmd);
      const ref = requireService(opts);
      if (s.json) return s.out.json(await s.client.get(`${servicePaths(ref.project, ref.service).native}/rollouts`));
      const list = await listRollouts(s.client, ref.project, ref.service);
      s.out.table(
        ['rollout', 'kind', 'from', 'to', 'status', 'started', 'message'],
        list.map((r) => [r.number, r.kind, r.fromRelease, r.toRelease, statusWord(s.out.paint.bind(s.out), r.status), ago(r.createdAt), r.message ?? r.events.at(-1)?.message]),
      );
    });
}
