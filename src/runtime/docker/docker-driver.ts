/**
 * The `docker` runtime driver: every instance is a container, through the Docker Engine API (Docker, or
 * Podman's Docker-compatible service), reached at `DOCKER_HOST` (default unix:///var/run/docker.sock).
 *
 * The engine holds all state: a container is named by the instance id and carries its identity in labels
 * (`slipway.project`, `slipway.service`, `slipway.release`, `slipway.processType`, `slipway.instance`, and
 * `slipway.ports` for the port names), so a restarted control plane adopts what runs by listing labels.
 * Each port is published on 127.0.0.1 at a free host port; inside the container `PORT` is the first port's
 * internal port. The only local state is the output of removed containers, kept under
 * `<stateDir>/logs/<id>.log` (JSON lines) so logs outlive a stop as they do on the process runtime.
 */
import fs from 'node:fs';
import path from 'node:path';
import Docker from 'dockerode';
import { type InstanceEvent, type InstanceSpec, type LogLine, type ObservedInstance, type RuntimeDriver, type StartOptions } from '../driver.ts';
import { ValidationError } from '../../errors/errors.ts';
import { FrameDecoder } from './frames.ts';
import { ContainerLogs } from './container-logs.ts';
import { engineMounts, removeEngineVolume } from './engine-volumes.ts';
import { tarOfFiles } from './tar.ts';
import { InstanceWatch, SingleFlight } from '../instance-watch.ts';
import { ImagePuller } from './image-pull.ts';
import { APP_DIR, HOST, LABEL, allocatePort, checkFiles, connectionOptions, isExitedDuringStart, isGone, isMissingImage, isNameTaken, isSettlingExit, localOnly, observedOf, statusOf } from './container-model.ts';

export { connectionOptions };

const ID_PATTERN = /^[a-z0-9][a-z0-9-]{0,200}$/;
const WATCH_INTERVAL_MS = 250;
/** How often one container's writable layer is measured against its limit (a size walk is not free). */
const STORAGE_CHECK_MS = 1000;
const DEFAULT_ARTIFACT_IMAGE = 'docker.io/library/node:20-slim';
export interface DockerDriverOptions {
  /** where the output of removed containers is kept */
  stateDir: string;
  /** engine address: unix:///path, tcp://host:port or http(s)://host:port; default `$DOCKER_HOST` or the Docker socket */
  dockerHost?: string;
  /**
   * The image that runs a release with a built artifact and no image of its own: the artifact directory is
   * bind-mounted read-only at `/app` (so the engine must run on this machine). Default `node:20-slim`.
   */
  artifactImage?: string;
  /**
   * The control plane's own instances on a shared engine: containers are labelled with it and `list` sees
   * only those, so two platforms on one engine never take each other's instances for orphans to remove.
   * Unset: every slipway-labelled container is this driver's.
   */
  scope?: string;
  logger?: { info(o: object, m: string): void; warn(o: object, m: string): void };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class DockerDriver implements RuntimeDriver {
  readonly name = 'docker';
  private readonly docker: Docker;
  private readonly output: ContainerLogs;
  private readonly starting = new SingleFlight<ObservedInstance>();
  private readonly watcher = new InstanceWatch(() => this.listAndEnforce(), WATCH_INTERVAL_MS, (err) => this.opts.logger?.warn({ err: err.message }, 'docker engine poll failed'));
  private readonly evictedDir: string;
  /** Set once the engine refused `StorageOpt.size` (overlay on anything but XFS with pquota): the watch alone enforces. */
  private storageOptRefused = false;
  private readonly storageCheckedAt = new Map<string, number>();
  /** the previous CPU reading per container, for engines whose one-shot stats carry no `precpu_stats` (Podman) */
  private readonly cpuSamples = new Map<string, { totalNs: number; atMs: number }>();
  private readonly images: ImagePuller;
  /** The last inspection of each listed container, and the state the listing showed then (see `list`). */
  private readonly inspected = new Map<string, { state: string; obs: ObservedInstance | undefined }>();

  constructor(private readonly opts: DockerDriverOptions) {
    this.docker = new Docker(connectionOptions(opts.dockerHost ?? process.env.DOCKER_HOST ?? 'unix:///var/run/docker.sock'));
    this.images = new ImagePuller(this.docker, opts.logger);
    const logsDir = path.join(opts.stateDir, 'logs');
    fs.mkdirSync(logsDir, { recursive: true });
    this.output = new ContainerLogs(this.docker, logsDir);
    this.evictedDir = path.join(opts.stateDir, 'evicted');
    fs.mkdirSync(this.evictedDir, { recursive: true });
  }

  private check(id: string): string {
    if (!ID_PATTERN.test(id)) throw ValidationError.one('instance.id', 'pattern', `invalid instance id '${id}'`);
    return id;
  }

  start(spec: InstanceSpec, opts: StartOptions = {}): Promise<ObservedInstance> {
    // Concurrent starts of one id share one launch; across drivers the engine's unique names decide.
    return this.starting.run(spec.id, () => this.launch(spec, opts));
  }

  private async launch(spec: InstanceSpec, opts: StartOptions): Promise<ObservedInstance> {
    this.check(spec.id);
    const image = spec.image ?? (spec.artifactDir ? (this.opts.artifactImage ?? DEFAULT_ARTIFACT_IMAGE) : undefined);
    if (!image) throw ValidationError.one('image', 'required', 'the docker runtime runs images: the release has neither an image nor an artifact');
    if (!spec.image && !path.isAbsolute(spec.artifactDir!)) throw ValidationError.one('artifactDir', 'absolutePath', `artifact directory '${spec.artifactDir}' is not absolute`);
    checkFiles(spec.files);

    // The deployment's image: pulled with its credentials, or, if the engine has it, used only once the
    // registry confirms those credentials (or none) may pull it. The platform's artifact image, and an image
    // only this engine can hold (no registry to ask): as it is, pulled only if the engine turns out to lack it.
    const ensureImage = () => this.images.ensure(image, { auth: spec.image ? spec.registryAuth : undefined, confirmAccess: spec.image !== undefined, onProgress: opts.onProgress });
    const imageChecked = spec.image !== undefined && !localOnly(image);
    if (imageChecked) await ensureImage();

    const ports: { name: string; internalPort: number; port: number }[] = [];
    // On the host's network a port is the host's own: nothing is published.
    for (const p of spec.ports) ports.push({ name: p.name, internalPort: p.internalPort, port: spec.hostNetwork ? p.internalPort : await allocatePort() });
    const env: Record<string, string> = { ...spec.env };
    if (ports[0]) env.PORT = String(ports[0].internalPort);
    for (const p of ports) env[`PORT_${p.name.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`] = String(p.internalPort);
    if (spec.volumes?.[0]) env.SLIPWAY_VOLUME_DIR = spec.volumes[0].mountPath;

    const labels: Record<string, string> = {
      [LABEL.project]: spec.labels.project,
      [LABEL.service]: spec.labels.service,
      [LABEL.release]: spec.labels.release,
      [LABEL.processType]: spec.labels.processType,
      [LABEL.instance]: spec.id,
      ...(this.opts.scope ? { [LABEL.scope]: this.opts.scope } : {}),
      [LABEL.ports]: JSON.stringify(spec.ports.map((p) => ({ name: p.name, internalPort: p.internalPort }))),
      ...(spec.ephemeralStorageMb ? { [LABEL.ephemeralStorageMb]: String(spec.ephemeralStorageMb) } : {}),
    };
    const exposed: Record<string, object> = {};
    const bindings: Record<string, { HostIp: string; HostPort: string }[]> = {};
    for (const p of ports) {
      exposed[`${p.internalPort}/tcp`] = {};
      (bindings[`${p.internalPort}/tcp`] ??= []).push({ HostIp: HOST, HostPort: String(p.port) });
    }
    const create: Docker.ContainerCreateOptions = {
      name: spec.id,
      Image: image,
      Env: Object.entries(env).map(([k, v]) => `${k}=${v}`),
      Labels: labels,
      ExposedPorts: exposed,
      Tty: false,
      ...(spec.user ? { User: spec.user } : {}),
      HostConfig: {
        ...(spec.hostNetwork ? { NetworkMode: 'host' } : { PortBindings: bindings }),
        ...(spec.image ? {} : { Binds: [`${spec.artifactDir}:${APP_DIR}:ro`] }),
        ...(spec.memoryMb ? { Memory: Math.round(spec.memoryMb * 1024 * 1024) } : {}),
        ...(spec.cpu ? { NanoCpus: Math.round(spec.cpu * 1e9) } : {}),
        ...(spec.shmSizeMb ? { ShmSize: Math.round(spec.shmSizeMb * 1024 * 1024) } : {}),
        ...(spec.volumes?.length ? { Mounts: await engineMounts(this.docker, spec.volumes, this.opts.scope, { [LABEL.project]: spec.labels.project, [LABEL.service]: spec.labels.service }) } : {}),
      },
    };
    if (spec.command.length) {
      // The spec's argv is the whole command: it replaces the image's entrypoint as well as its cmd.
      create.Entrypoint = spec.command.slice(0, 1);
      create.Cmd = spec.command.slice(1);
    } else if (spec.image && (spec.entrypoint?.length || spec.cmd?.length)) {
      Object.assign(create, await this.imageCommand(image, spec.entrypoint, spec.cmd));
    }
    if (spec.workDir || !spec.image) create.WorkingDir = spec.workDir ?? APP_DIR;

    // Created first, asked about only if that fails: a start costs no inspection of a container that is not there.
    let container: Docker.Container | undefined;
    for (let attempt = 0; !container; attempt++) {
      try {
        container = await this.createWithStorageLimit(create, spec.ephemeralStorageMb);
      } catch (err) {
        if (attempt === 0 && !imageChecked && isMissingImage(err)) {
          await ensureImage();
          continue;
        }
        if (!isNameTaken(err)) throw err;
        const existing = await this.observe(spec.id);
        // Created by another control plane (or driver) that has not started it yet: that one is the instance.
        if (existing?.state === 'starting' && !existing.pid) return (await this.waitLaunched(spec.id)) ?? existing;
        if (existing && existing.state !== 'exited') return existing;
        // An earlier run of the instance that ended: replaced, once.
        if (!existing || attempt > 1) throw err;
        await this.remove(spec.id);
      }
    }
    try {
      if (spec.files.length) await container.putArchive(tarOfFiles(spec.files), { path: '/' });
      await container.start().catch((err) => {
        if (!isExitedDuringStart(err)) throw err;
      });
    } catch (err) {
      await container.remove({ force: true }).catch(() => {});
      throw err;
    }
    const obs = await this.observe(spec.id);
    if (!obs) throw new Error(`instance ${spec.id} vanished right after its start`);
    this.watcher.observe(obs);
    return obs;
  }

  /**
   * Docker's override semantics, kept whatever the engine does with a lone Entrypoint (the Engine API drops
   * the image's CMD when Entrypoint is set): an entrypoint override keeps the image's CMD, a command override
   * keeps the image's ENTRYPOINT. So both are always sent, the missing one read from the image.
   */
  private async imageCommand(image: string, entrypoint: string[] | undefined, cmd: string[] | undefined): Promise<{ Entrypoint: string[]; Cmd: string[] }> {
    let own: { Entrypoint?: string[] | string | null; Cmd?: string[] | string | null } = {};
    if (!entrypoint?.length || !cmd?.length) own = ((await this.docker.getImage(image).inspect()).Config ?? {}) as typeof own;
    const argv = (v: string[] | string | null | undefined) => (Array.isArray(v) ? v : v ? [v] : []);
    return { Entrypoint: entrypoint?.length ? entrypoint : argv(own.Entrypoint), Cmd: cmd?.length ? cmd : argv(own.Cmd) };
  }

  /**
   * Create the container with a writable-storage limit: `StorageOpt.size` where the engine's storage can
   * hold one (overlay on XFS with project quotas); where it cannot (overlay on ext4 refuses), without it, and
   * the watch enforces the limit as the kubelet does (`enforceStorage`). Either way the label carries it.
   */
  private async createWithStorageLimit(create: Docker.ContainerCreateOptions, ephemeralStorageMb: number | undefined): Promise<Docker.Container> {
    if (!ephemeralStorageMb || this.storageOptRefused) return this.docker.createContainer(create);
    try {
      return await this.docker.createContainer({ ...create, HostConfig: { ...create.HostConfig, StorageOpt: { size: `${Math.ceil(ephemeralStorageMb)}m` } } });
    } catch (err) {
      if (statusOf(err) === 409 || !/storage.?opt|overlay\.size|backing ?fs|quota|not supported|only supported/i.test(String((err as Error).message))) throw err;
      this.storageOptRefused = true;
      this.opts.logger?.info({ err: (err as Error).message }, 'the engine refuses StorageOpt.size: ephemeral storage limits are enforced by watching each container');
      return this.docker.createContainer(create);
    }
  }

  /** An instance someone else is creating: wait until it has been started (or ended). */
  private async waitLaunched(id: string): Promise<ObservedInstance | undefined> {
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      const obs = await this.observe(id);
      if (!obs || obs.state !== 'starting' || obs.pid) return obs;
      await sleep(50);
    }
    return this.observe(id);
  }

  /** One instance read fresh from the engine; undefined if there is no such container. */
  private async observe(id: string): Promise<ObservedInstance | undefined> {
    try {
      return observedOf(await this.docker.getContainer(id).inspect(), this.exitReasonOf);
    } catch (err) {
      if (isGone(err)) return undefined;
      throw err;
    }
  }

  /**
   * Every instance. One listing, plus an inspection of each container whose state the listing shows changed
   * since the last one (what an inspection gives does not change while a container stays in one state): the
   * watch polls this every WATCH_INTERVAL_MS, and an inspection per container per poll kept the engine busy
   * when it had instances to start.
   */
  async list(): Promise<ObservedInstance[]> {
    return this.listLabelled([]);
  }

  /** One service's containers: the engine filters by label, so only they are inspected. */
  async listService(projectId: string, serviceId: string): Promise<ObservedInstance[]> {
    const all = await this.listLabelled([`${LABEL.project}=${projectId}`, `${LABEL.service}=${serviceId}`]);
    return all.filter((i) => i.labels.project === projectId && i.labels.service === serviceId);
  }

  private async listLabelled(labels: string[]): Promise<ObservedInstance[]> {
    const summaries = await this.docker.listContainers({ all: true, filters: { label: [LABEL.instance, ...labels, ...(this.opts.scope ? [`${LABEL.scope}=${this.opts.scope}`] : [])] } });
    const out: ObservedInstance[] = [];
    const seen = new Set<string>();
    for (const c of summaries) {
      seen.add(c.Id);
      const known = this.inspected.get(c.Id);
      if (known && known.state === c.State) {
        if (known.obs) out.push(known.obs);
        continue;
      }
      try {
        const obs = observedOf(await this.docker.getContainer(c.Id).inspect(), this.exitReasonOf);
        this.inspected.set(c.Id, { state: c.State, obs });
        if (obs) out.push(obs);
      } catch (err) {
        if (!isGone(err)) throw err; // removed between list and inspect
      }
    }
    for (const id of this.inspected.keys()) if (!seen.has(id)) this.inspected.delete(id);
    return out;
  }

  private readonly exitReasonOf = (id: string, oomKilled: boolean): { signal: string | null; reason?: string } => {
    if (oomKilled) return { signal: 'SIGKILL', reason: 'OOMKilled' };
    const evicted = this.evictionOf(id);
    return evicted ? { signal: 'SIGKILL', reason: evicted } : { signal: null };
  };

  /** Why the driver evicted this container, kept in the state directory so a restarted control plane still says so. */
  private evictionOf(id: string): string | undefined {
    try {
      return fs.readFileSync(path.join(this.evictedDir, id), 'utf8') || undefined;
    } catch {
      return undefined;
    }
  }

  /** The watch's poll: every instance, and each running one over its ephemeral-storage limit evicted. */
  private async listAndEnforce(): Promise<ObservedInstance[]> {
    const all = await this.list();
    const now = Date.now();
    for (const obs of all) {
      if (obs.state !== 'running' || now - (this.storageCheckedAt.get(obs.id) ?? 0) < STORAGE_CHECK_MS) continue;
      this.storageCheckedAt.set(obs.id, now);
      await this.enforceStorage(obs.id).catch((err: Error) => this.opts.logger?.warn({ id: obs.id, err: err.message }, 'could not measure the writable layer'));
    }
    return all;
  }

  /**
   * What the kubelet does for a container's ephemeral-storage limit: measure the writable layer (`SizeRw`)
   * and, over the limit, record why and SIGKILL the container. Its exit then reads `Evicted: …`, and the
   * controller restarts it like any exit.
   */
  private async enforceStorage(id: string): Promise<void> {
    // `size=true` is a query parameter of the inspect endpoint that dockerode's types do not name.
    const info = (await this.docker.getContainer(id).inspect({ size: true } as Docker.ContainerInspectOptions)) as Docker.ContainerInspectInfo & { SizeRw?: number };
    const limitMb = Number(info.Config.Labels?.[LABEL.ephemeralStorageMb]);
    if (!limitMb || !info.State.Running || info.SizeRw === undefined || info.SizeRw <= limitMb * 1024 * 1024) return;
    const reason = `Evicted: ephemeral storage over its ${limitMb} MB limit (${Math.ceil(info.SizeRw / (1024 * 1024))} MB written)`;
    fs.writeFileSync(path.join(this.evictedDir, id), reason);
    this.opts.logger?.warn({ id, sizeRw: info.SizeRw, limitMb }, 'evicting an instance over its ephemeral storage limit');
    try {
      await this.docker.getContainer(id).kill({ signal: 'SIGKILL' });
    } catch (err) {
      if (statusOf(err) !== 404 && statusOf(err) !== 409 && statusOf(err) !== 304) throw err;
    }
  }

  async stop(id: string, gracePeriodSeconds: number): Promise<void> {
    this.check(id);
    const container = this.docker.getContainer(id);
    try {
      // The engine sends the image's stop signal (SIGTERM), waits the grace period, then SIGKILLs.
      await container.stop({ t: Math.max(0, Math.ceil(gracePeriodSeconds)) });
    } catch (err) {
      const status = statusOf(err);
      if (status === 404) return void this.watcher.forget(id);
      if (status !== 304) throw err; // 304: not running
    }
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      const obs = await this.observe(id);
      if (!obs || obs.state === 'exited') break;
      await sleep(50);
    }
    await this.remove(id);
  }

  async remove(id: string): Promise<void> {
    this.check(id);
    const obs = await this.observe(id);
    if (!obs) return void this.watcher.forget(id);
    if (obs.state !== 'exited') throw new Error(`instance ${id} still runs: stop it first`);
    await this.output.keep(id).catch((err: Error) => this.opts.logger?.warn({ id, err: err.message }, 'could not keep the logs of a removed container'));
    for (let attempt = 0; ; attempt++) {
      try {
        await this.docker.getContainer(id).remove({ force: true, v: true });
      } catch (err) {
        if (isSettlingExit(err) && attempt < 20) {
          await sleep(50);
          continue;
        }
        if (statusOf(err) !== 404 && statusOf(err) !== 409) throw err; // 409: removal already in progress
      }
      break;
    }
    fs.rmSync(path.join(this.evictedDir, id), { force: true });
    this.storageCheckedAt.delete(id);
    this.watcher.forget(id, obs);
  }

  logs(id: string, opts: { tail?: number; follow?: boolean; signal?: AbortSignal } = {}): AsyncIterable<LogLine> {
    this.check(id);
    return this.output.logs(id, opts);
  }

  async exec(id: string, command: string[], opts: { timeoutMs?: number } = {}): Promise<{ exitCode: number; output: string }> {
    this.check(id);
    const container = this.docker.getContainer(id);
    let ex: Docker.Exec;
    try {
      ex = await container.exec({ Cmd: command, AttachStdout: true, AttachStderr: true, Tty: false });
    } catch (err) {
      if (statusOf(err) === 404) throw new Error(`instance ${id} not found`);
      if (statusOf(err) === 409) return { exitCode: 126, output: `instance ${id} is not running` };
      throw err;
    }
    const stream = (await ex.start({ hijack: true, stdin: false })) as NodeJS.ReadWriteStream & { destroy(): void };
    const limit = 64 * 1024;
    let output = '';
    const dec = new FrameDecoder();
    const timedOut = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => {
        stream.destroy();
        resolve(true);
      }, opts.timeoutMs ?? 10_000);
      stream.on('data', (chunk: Buffer) => {
        for (const f of dec.frames(chunk)) if (output.length < limit) output += f.data.toString('utf8');
      });
      const done = () => {
        clearTimeout(timer);
        resolve(false);
      };
      stream.on('end', done);
      stream.on('close', done);
      stream.on('error', done);
    });
    if (timedOut) return { exitCode: 124, output: `${output}\n(timed out after ${opts.timeoutMs ?? 10_000} ms)`.slice(0, limit) };
    // The exit code may lag the end of the stream by a moment.
    for (let i = 0; i < 100; i++) {
      const info = await ex.inspect();
      if (!info.Running && info.ExitCode !== null) return { exitCode: info.ExitCode, output: output.slice(0, limit) };
      await sleep(20);
    }
    return { exitCode: 1, output: `${output}\n(no exit code reported)`.slice(0, limit) };
  }

  async usage(id: string): Promise<{ cpuPercent: number; memoryBytes: number } | undefined> {
    this.check(id);
    const obs = await this.observe(id);
    if (!obs || obs.state !== 'running') return undefined;
    let s: Docker.ContainerStats;
    try {
      s = await this.docker.getContainer(id).stats({ stream: false });
    } catch (err) {
      if (statusOf(err) === 404) return undefined;
      throw err;
    }
    const totalNs = s.cpu_stats?.cpu_usage?.total_usage ?? 0;
    const atMs = Date.parse(s.read) || Date.now();
    const prev = this.cpuSamples.get(id);
    if (this.cpuSamples.size > 4096) this.cpuSamples.clear(); // bounded: removed containers leave entries behind
    this.cpuSamples.set(id, { totalNs, atMs });
    let cpuPercent = 0;
    if (s.precpu_stats?.cpu_usage?.total_usage && s.precpu_stats.system_cpu_usage) {
      // Docker: its one-shot stats hold the previous reading (about a second earlier).
      const cpuDelta = totalNs - s.precpu_stats.cpu_usage.total_usage;
      const systemDelta = (s.cpu_stats?.system_cpu_usage ?? 0) - s.precpu_stats.system_cpu_usage;
      const cpus = s.cpu_stats?.online_cpus || s.cpu_stats?.cpu_usage?.percpu_usage?.length || 1;
      cpuPercent = systemDelta > 0 && cpuDelta > 0 ? (cpuDelta / systemDelta) * cpus * 100 : 0;
    } else if (prev && atMs > prev.atMs && totalNs >= prev.totalNs) {
      // Podman answers one-shot stats with an empty precpu_stats: CPU time between this reading and ours before,
      // over the wall time between them (100 = one core busy).
      cpuPercent = ((totalNs - prev.totalNs) / 1e6 / (atMs - prev.atMs)) * 100;
    }
    return { cpuPercent, memoryBytes: s.memory_stats?.usage ?? 0 };
  }

  watch(listener: (event: InstanceEvent) => void): () => void {
    return this.watcher.subscribe(listener);
  }

  removeVolume(name: string): Promise<void> {
    return removeEngineVolume(this.docker, name, this.opts.scope);
  }

  async close(): Promise<void> {
    this.watcher.close();
    await this.images.close();
  }
}
