/**
 * The build controller: takes queued builds, fetches their source (a commit of a local repository or an
 * uploaded bundle), builds it buildpack-style into an immutable artifact directory, or, for a service with
 * `buildSettings.dockerfile`, into an image through the container engine, and records the outcome. A failed build keeps its log and never touches what runs. A build interrupted by a control-plane
 * restart is queued again.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Store } from '../../store/store.ts';
import type { PassResult } from '../queue.ts';
import type { BuildRecord } from '../../store/builds-repo.ts';
import type { ServiceSpec } from '../../domain/service.ts';
import type { ControllerLogger } from '../service/service-controller.ts';

/** The build mechanics, injected so the controller knows no concrete builder. */
export interface Builder {
  checkoutGit(opts: { url: string; sha: string; dest: string; log: (line: string) => void; signal?: AbortSignal }): Promise<void>;
  extractBundle(opts: { source: string; dest: string }): Promise<unknown>;
  /** `env`: the service's build arguments (its secret groups' and its own), added to the build's environment */
  build(opts: { sourceDir: string; outDir: string; log: (line: string) => void; signal?: AbortSignal; env?: Record<string, string> }): Promise<{ processes: Record<string, string> }>;
  /**
   * A Dockerfile build of `sourceDir` into an image tagged for this build (see docker-build.ts). Absent where
   * no container engine is configured: a Dockerfile service's build then fails saying so.
   */
  buildImage?(opts: { sourceDir: string; build: Pick<BuildRecord, 'id' | 'projectId' | 'serviceId'>; spec: ServiceSpec; log: (line: string) => void; signal?: AbortSignal }): Promise<{ image: string }>;
}

/** How often a running build looks at its own row: an abort through the API marks it there, on any replica. */
const ABORT_POLL_MS = 500;

export class BuildController {
  constructor(
    private readonly store: Store,
    private readonly builder: Builder,
    private readonly opts: {
      artifactsDir: string;
      /** keep each finished build's log in the store too, for other control-plane replicas */
      shareLogs?: boolean;
      logger: ControllerLogger;
      onFinished: (b: BuildRecord) => Promise<void>;
      /** the build arguments of a service: its secret groups' (type arguments) with its own over them; its own only when absent */
      buildArguments?: (svc: { projectId: string; id: string; spec: ServiceSpec }) => Promise<Record<string, string>>;
    },
  ) {}

  /** At start: builds left BUILDING by a dead control plane go back to the queue. */
  async requeueInterrupted(): Promise<string[]> {
    const ids: string[] = [];
    for (const b of await this.store.builds.listByStatus(['BUILDING'])) {
      if (await this.store.builds.transition(b.id, 'BUILDING', 'QUEUED')) ids.push(b.id);
    }
    for (const b of await this.store.builds.listByStatus(['QUEUED'])) ids.push(b.id);
    return [...new Set(ids)];
  }

  async reconcile(buildId: string): Promise<PassResult> {
    const b = await this.store.builds.find(buildId);
    if (!b || b.status !== 'QUEUED') return;
    if (!(await this.store.builds.transition(b.id, 'QUEUED', 'BUILDING'))) return;
    fs.mkdirSync(path.dirname(b.logPath), { recursive: true });
    const logFd = fs.openSync(b.logPath, 'a');
    const log = (line: string) => fs.writeSync(logFd, `${new Date().toISOString()} ${line}\n`);
    const work = fs.mkdtempSync(path.join(os.tmpdir(), `slipway-${b.id}-`));
    const outDir = path.join(this.opts.artifactsDir, b.id);
    // Level-triggered abort: the build's row says ABORTED (BuildsService.abort); the steps are killed through
    // their signal. Reading the row, not an in-memory call, lets any control-plane replica abort it.
    const abort = new AbortController();
    const watch = setInterval(() => {
      this.store.builds.find(b.id).then(
        (now) => {
          if (!now || now.status !== 'BUILDING') abort.abort(new Error('the build was aborted'));
        },
        () => {},
      );
    }, ABORT_POLL_MS);
    const { signal } = abort;
    try {
      log(`-----> Build ${b.id} of ${b.sha}${b.branch ? ` (${b.branch})` : ''}`);
      const src = path.join(work, 'src');
      if (b.source.startsWith('git:')) {
        await this.builder.checkoutGit({ url: b.source.slice(4), sha: b.sha, dest: src, log, signal });
      } else {
        await this.builder.extractBundle({ source: b.source.slice('bundle:'.length), dest: src });
      }
      // The service's build settings as they are now: a build records what it made, not how it was asked.
      const svc = await this.store.services.find(b.projectId, b.serviceId);
      // Build arguments as they are now, secret groups included: names are logged, values never.
      const buildArguments = svc ? ((await this.opts.buildArguments?.(svc)) ?? svc.spec.buildArguments ?? {}) : {};
      if (Object.keys(buildArguments).length) log(`-----> Build arguments: ${Object.keys(buildArguments).sort().join(', ')}`);
      const spec = svc ? { ...svc.spec, buildArguments } : undefined;
      if (spec?.buildSettings?.dockerfile) {
        if (!this.builder.buildImage) throw new Error('buildSettings.dockerfile: Dockerfile builds need the container runtime (SLIPWAY_RUNTIME=docker)');
        const out = await this.builder.buildImage({ sourceDir: src, build: b, spec, log, signal });
        // The image's own ENTRYPOINT and CMD run it (an empty process table), unless the service overrides them.
        if (!(await this.store.builds.transition(b.id, 'BUILDING', 'SUCCESS', { image: out.image, processes: {} }))) throw signal.reason ?? new Error('the build was aborted');
        log(`-----> Build succeeded: image ${out.image}`);
      } else {
        fs.rmSync(outDir, { recursive: true, force: true });
        const out = await this.builder.build({ sourceDir: src, outDir, log, signal, env: buildArguments });
        // An abort that lands as the last step ends still wins: the row is ABORTED, so SUCCESS is not written.
        if (!(await this.store.builds.transition(b.id, 'BUILDING', 'SUCCESS', { artifactDir: outDir, processes: out.processes }))) throw signal.reason ?? new Error('the build was aborted');
        log(`-----> Build succeeded: ${Object.entries(out.processes).map(([k, v]) => `${k}: ${v}`).join(', ') || 'no process types'}`);
      }
      await this.store.events.append({ projectId: b.projectId, serviceId: b.serviceId, kind: 'build', reason: 'Succeeded', message: `build ${b.id} succeeded` });
    } catch (err) {
      const aborted = (await this.store.builds.find(b.id))?.status === 'ABORTED';
      if (aborted) {
        // BuildsService.abort wrote the status and the event; the artifact, if begun, is never used.
        log('-----> Build aborted');
        fs.rmSync(outDir, { recursive: true, force: true });
        this.opts.logger.info({ build: b.id }, 'build aborted');
        return;
      }
      const message = err instanceof Error ? err.message : String(err);
      log(`-----> Build failed: ${message}`);
      this.opts.logger.warn({ build: b.id, err: message }, 'build failed');
      await this.store.builds.transition(b.id, 'BUILDING', 'FAILURE', { error: message.slice(0, 2000) });
      await this.store.events.append({ projectId: b.projectId, serviceId: b.serviceId, kind: 'build', reason: 'Failed', message: `build ${b.id} failed: ${message.slice(0, 300)}` });
    } finally {
      clearInterval(watch);
      fs.closeSync(logFd);
      fs.rmSync(work, { recursive: true, force: true });
      // Other control-plane replicas read the finished log from the store (docs/high-availability.md).
      if (this.opts.shareLogs) await this.store.blobs.put(`build-log/${b.id}`, fs.readFileSync(b.logPath)).catch((err: Error) => this.opts.logger.warn({ build: b.id, err: err.message }, 'build log not stored for the other replicas'));
    }
    await this.opts.onFinished(await this.store.builds.get(b.id));
  }
}
