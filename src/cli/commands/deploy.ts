/**
 * `slipway deploy [dir]`: pack the directory, upload it to the bundles route (which builds it), wait for
 * the build, then follow the rollout it starts until it completes or fails.
 */
import path from 'node:path';
import type { Command } from 'commander';
import type { ApiClient } from '../api-client.ts';
import { awaitNewRollout, followRollout, latestRolloutNumber, listRollouts, sleep, type RolloutView } from '../rollout-progress.ts';
import { packDirectory } from '../source-bundle.ts';
import { projectPath, requireService, servicePaths, UsageError, type ServiceRef } from '../service-ref.ts';
import { followChange, reportOutcome } from './follow-change.ts';
import { getService } from '../service-view.ts';
import { sessionOf, type Session } from '../session.ts';

interface BuildView {
  id: string;
  sha: string;
  status: string;
  concluded: boolean;
  success: boolean;
  message?: string | null;
}

export function registerDeploy(program: Command): void {
  program
    .command('deploy [dir]')
    .description('build a directory and roll it out, following the rollout to its end')
    .option('-p, --project <project>', 'project id')
    .option('-s, --service <service>', 'service id')
    .option('--build <buildId>', 'deploy this earlier build instead (turns continuous deployment off)')
    .option('--image <image>', 'deploy this image (deployment services; needs the docker runtime)')
    .option('--detach', 'return once the source is uploaded')
    .action(async (dir: string | undefined, opts: { project?: string; service?: string; detach?: boolean; build?: string; image?: string }, cmd: Command) => {
      const s = sessionOf(cmd);
      const ref = requireService(opts);
      if (opts.build && opts.image) throw new UsageError('--build and --image exclude each other');
      if ((opts.build || opts.image) && dir) throw new UsageError('give a directory, --build or --image, not two of them');
      if (opts.build || opts.image) {
        const baseline = latestRolloutNumber(await listRollouts(s.client, ref.project, ref.service));
        const response = opts.build
          ? await s.client.json('POST', `${servicePaths(ref.project, ref.service).native}/deploy`, { body: { buildId: opts.build } })
          : await s.client.json('PATCH', `${projectPath(ref.project)}/services/deployment/${encodeURIComponent(ref.service)}`, { body: { deployment: { external: { imagePath: opts.image } } } });
        await followChange(s, ref, baseline, { detach: Boolean(opts.detach), response, done: opts.build ? `Deploying build ${opts.build} (continuous deployment is now off).` : `Deploying image ${opts.image}.` });
        return;
      }
      await deploy(s, ref, dir ?? '.', Boolean(opts.detach));
    });
}

async function deploy(s: Session, ref: ServiceRef, dir: string, detach: boolean): Promise<void> {
  const { client } = s;
  const paths = servicePaths(ref.project, ref.service);
  const log = (line: string) => s.progressStream.write(line + '\n');
  const svc = await getService(client, ref);
  if (svc.serviceType === 'deployment') throw new Error(`'${ref.service}' is a deployment service: deploy a directory to a combined service (or to the build service it deploys from)`);

  const bundle = await packDirectory(dir);
  log(`Packed ${path.resolve(dir)}: ${bundle.files} files, ${(bundle.data.length / 1024).toFixed(1)} KiB`);
  const baseline = latestRolloutNumber(await listRollouts(client, ref.project, ref.service));
  let build = await client.json<BuildView>('POST', `${paths.native}/bundles`, { raw: bundle.data, contentType: 'application/gzip' });
  log(`Build ${build.id} ${build.status.toLowerCase()}`);
  if (detach) {
    if (s.json) s.out.json({ build });
    return;
  }

  let shown = build.status;
  while (!build.concluded) {
    await sleep(500);
    build = (await client.get<{ data: BuildView }>(`${paths.v1}/build/${encodeURIComponent(build.id)}`)).data;
    if (build.status !== shown) log(`Build ${build.id} ${(shown = build.status).toLowerCase()}`);
  }
  if (!build.success) {
    const text = await client.text(`${paths.native}/builds/${encodeURIComponent(build.id)}/log`).catch(() => '');
    const tail = text.trimEnd().split('\n').slice(-30);
    process.stderr.write(`Build ${build.id} failed${build.message ? `: ${build.message}` : ''}\n`);
    if (tail.length && tail[0] !== '') process.stderr.write(`--- last ${tail.length} lines of the build log ---\n${tail.join('\n')}\n`);
    if (s.json) s.out.json({ build });
    process.exitCode = 1;
    return;
  }
  if (svc.serviceType === 'build') {
    if (s.json) s.out.json({ build });
    else s.out.line(`Build ${build.id} succeeded (a build service runs no instances).`);
    return;
  }

  // A service with a repository runs its newest build by itself; one without runs the build pinned to it.
  if (!svc.vcsData) {
    await client.json('PATCH', `${projectPath(ref.project)}/services/combined/${encodeURIComponent(ref.service)}`, { body: { deployment: { internal: { id: ref.service, buildId: build.id } } } });
  }
  const rollout = await rolloutOfBuild(client, ref, baseline, build.id);
  if (!rollout) {
    const now = await getService(client, ref);
    if (s.json) s.out.json({ build, release: now.release ?? null, rollout: null });
    else s.out.line(`Nothing to roll out: release ${now.release?.number ?? '-'} already runs build ${build.id}.`);
    return;
  }
  const outcome = await followRollout(client, ref.project, ref.service, rollout.number, { out: s.out, stream: s.progressStream, color: s.progressColor, wantWeb: svc.deployment?.instances ?? 1 });
  // After a failure the platform itself returns the service's spec (and pinned build) to the last good release.
  await reportOutcome(s, ref, outcome, { build });
}

/** The rollout (newer than `baseline`) to a release of this build; waits for the release to be made. */
async function rolloutOfBuild(client: ApiClient, ref: ServiceRef, baseline: number, buildId: string): Promise<RolloutView | undefined> {
  const paths = servicePaths(ref.project, ref.service);
  const deadline = Date.now() + 60_000;
  for (;;) {
    const releases = (await client.get<{ releases: { number: number; buildId: string | null }[] }>(`${paths.native}/releases`)).releases;
    const ofBuild = new Set(releases.filter((r) => r.buildId === buildId).map((r) => r.number));
    if (ofBuild.size) {
      const found = await awaitNewRollout(client, ref.project, ref.service, baseline, (r) => r.toRelease !== null && ofBuild.has(r.toRelease), 3_000);
      if (found) return found;
      // The build already had a release and the service targets it: there is nothing new to roll out.
      const svc = await getService(client, ref);
      if (svc.release && ofBuild.has(svc.release.number)) return undefined;
      // The build already had a release but the service runs another one (the build was cached and the
      // service already named it, e.g. a redeploy of a directory whose rollout failed): roll that release out.
      const newest = Math.max(...ofBuild);
      const started = await client.json<RolloutView>('POST', `${paths.native}/rollouts`, { body: { release: newest, strategy: 'rolling' } });
      return started;
    }
    if (Date.now() > deadline) throw new Error(`build ${buildId} succeeded, but no release of it appeared within 60 s`);
    await sleep(500);
  }
}
