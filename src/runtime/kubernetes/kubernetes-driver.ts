/**
 * The `kubernetes` runtime driver: every instance is a Pod in its project's namespace, through the official
 * client (`@kubernetes/client-node`). Shapes are in pod-manifest.ts; this file holds the lifecycle.
 *
 * The cluster holds all state: Pods carry their identity, so a restarted control plane (or another replica)
 * adopts what runs by listing the labelled Pods. The only local state is the output of removed instances.
 * The router and the probes reach an instance at its Pod's address (`status.podIP`), so the control plane
 * must be able to reach the Pod network: it runs in the cluster (deploy/), or on a node of it.
 *
 * A release built from source has an artifact directory and no image: `imageOfArtifact` (wired in main.ts:
 * the artifact pushed as a layer on the base image to SLIPWAY_REGISTRY) turns it into one.
 */
import path from 'node:path';
import { PassThrough } from 'node:stream';
import type { V1Pod, V1Status } from '@kubernetes/client-node';
import { ImagePullError, type InstanceEvent, type InstanceLabels, type InstanceSpec, type InstanceVolume, type LogLine, type ObservedInstance, type RuntimeDriver, type StartOptions } from '../driver.ts';
import { ValidationError } from '../../errors/errors.ts';
import { InstanceWatch, SingleFlight } from '../instance-watch.ts';
import { Cluster, statusOf, type ClusterOptions } from './cluster.ts';
import { CONTAINER, LABEL, claimManifest, imagePullProblem, isAuthRefusal, isTerminalPull, namespaceManifest, namespaceName, observedOf, podManifest, readinessOf, pullSecretManifest, pullSecretName, secretManifest, selectorOf } from './pod-manifest.ts';
import { PodLogs } from './pod-logs.ts';

const ID_PATTERN = /^[a-z0-9]([a-z0-9-]{0,251}[a-z0-9])?$/;
const WATCH_INTERVAL_MS = 500;
/**
 * A refused pull of a Pod with a pull Secret is final when the kubelet's next attempt (after its image
 * back-off, 10 s) is refused too, or at the latest after this long.
 */
const AUTH_REFUSAL_MAX_MS = 60_000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface KubernetesDriverOptions extends ClusterOptions {
  /** where the output of removed instances is kept */
  stateDir: string;
  /** namespaces are `<prefix><project>` (default `slipway-`) */
  namespacePrefix?: string;
  /** as the docker driver's: Pods are labelled with it and `list` sees only those */
  scope?: string;
  /** bind Pods to this node (a cluster without a scheduler); default: the scheduler places them */
  nodeName?: string;
  /** storage class of volume claims (default: the cluster's default class) */
  storageClass?: string;
  /** the image of a release that has only a built artifact */
  imageOfArtifact?: (artifactDir: string, labels: InstanceLabels, log: (line: string) => void) => Promise<string>;
  /** credentials the cluster pulls those images with (the registry they are pushed to) */
  artifactPullAuth?: InstanceSpec['registryAuth'];
  /** how long a start waits for the container to run (image pull, scheduling) before it fails; default 5 minutes */
  startTimeoutMs?: number;
  logger?: { info(o: object, m: string): void; warn(o: object, m: string): void };
}

function checkFiles(files: InstanceSpec['files']): void {
  for (const f of files) {
    if (!f.path.startsWith('/') || f.path.endsWith('/') || f.path.split('/').some((s) => s === '..' || s === '.')) {
      throw ValidationError.one('runtimeFiles', 'absolutePath', `invalid runtime file path '${f.path}': it must be absolute, without . or .. segments`);
    }
  }
}

export class KubernetesDriver implements RuntimeDriver {
  readonly name = 'kubernetes';
  private readonly cluster: Cluster;
  private readonly logs_: PodLogs;
  private readonly starting = new SingleFlight<ObservedInstance>();
  private readonly watcher = new InstanceWatch(() => this.list(), WATCH_INTERVAL_MS, (err) => this.opts.logger?.warn({ err: err.message }, 'kubernetes pod poll failed'));
  private readonly namespaces = new Set<string>();
  /** instance id → namespace, learnt from starts and lists (ids are unique across namespaces) */
  private readonly where = new Map<string, string>();
  private readonly artifactImages = new Map<string, Promise<string>>();
  /** the previous CPU reading per instance, when the node's summary has no rate yet */
  private readonly cpuSamples = new Map<string, { nanoSeconds: number; atMs: number }>();

  constructor(private readonly opts: KubernetesDriverOptions) {
    this.cluster = new Cluster(opts);
    this.logs_ = new PodLogs(this.cluster, path.join(opts.stateDir, 'logs'));
  }

  private check(id: string): string {
    if (!ID_PATTERN.test(id)) throw ValidationError.one('instance.id', 'pattern', `invalid instance id '${id}'`);
    return id;
  }

  private namespaceOf(project: string): string {
    return namespaceName(this.opts.namespacePrefix ?? 'slipway-', project);
  }

  private async ensureNamespace(project: string): Promise<string> {
    const ns = this.namespaceOf(project);
    if (this.namespaces.has(ns)) return ns;
    try {
      await this.cluster.core.createNamespace({ body: namespaceManifest(ns, project) });
    } catch (err) {
      if (statusOf(err) !== 409) throw err;
    }
    this.namespaces.add(ns);
    return ns;
  }

  /** The Pod of an instance, wherever it is; undefined when there is none. */
  private async findPod(id: string): Promise<V1Pod | undefined> {
    const ns = this.where.get(id);
    if (ns) {
      try {
        return await this.cluster.core.readNamespacedPod({ name: id, namespace: ns });
      } catch (err) {
        if (statusOf(err) !== 404) throw err;
      }
    }
    const list = await this.cluster.core.listPodForAllNamespaces({ labelSelector: selectorOf(this.opts.scope), fieldSelector: `metadata.name=${id}` });
    const pod = list.items[0];
    if (pod?.metadata?.namespace) this.where.set(id, pod.metadata.namespace);
    return pod;
  }

  start(spec: InstanceSpec, opts: StartOptions = {}): Promise<ObservedInstance> {
    // Concurrent starts of one id share one launch; across replicas the API server's unique names decide.
    return this.starting.run(spec.id, () => this.launch(spec, opts));
  }

  private async launch(given: InstanceSpec, opts: StartOptions): Promise<ObservedInstance> {
    const spec = given.image || !this.opts.artifactPullAuth ? given : { ...given, registryAuth: this.opts.artifactPullAuth };
    this.check(spec.id);
    checkFiles(spec.files);
    if (!spec.image && !spec.artifactDir) throw ValidationError.one('image', 'required', 'the kubernetes runtime runs images: the release has neither an image nor an artifact');
    if (!spec.image && !this.opts.imageOfArtifact) throw ValidationError.one('image', 'required', 'the kubernetes runtime needs SLIPWAY_REGISTRY to run a release built from source');
    const existing = await this.findPod(spec.id);
    if (existing && !existing.metadata?.deletionTimestamp) {
      const seen = observedOf(existing);
      if (seen && seen.state !== 'exited') return this.waitLaunched(existing.metadata!.namespace!, spec.id, opts);
      await this.remove(spec.id);
    } else if (existing) {
      await this.waitGone(existing.metadata!.namespace!, spec.id, 60_000);
    }

    const image = spec.image ?? (await this.imageOf(spec, opts));
    const namespace = await this.ensureNamespace(spec.labels.project);
    this.where.set(spec.id, namespace);
    const scope = this.opts.scope;
    const claimOf = (v: InstanceVolume) => `vol-${v.name}`.slice(0, 253);
    for (const v of spec.volumes ?? []) await this.ensureClaim(namespace, v, claimOf(v));
    await this.put(namespace, secretManifest(spec, { namespace, ...(scope ? { scope } : {}) }));
    const pull = pullSecretManifest(spec, { namespace, ...(scope ? { scope } : {}) });
    if (pull) await this.put(namespace, pull);
    let pod: V1Pod;
    try {
      pod = await this.cluster.core.createNamespacedPod({ namespace, body: podManifest(spec, { namespace, image, claimOf, ...(scope ? { scope } : {}), ...(this.opts.nodeName ? { nodeName: this.opts.nodeName } : {}) }) });
    } catch (err) {
      // Another replica (or a concurrent start elsewhere) created it first: that one is the instance.
      if (statusOf(err) !== 409) throw err;
      return this.waitLaunched(namespace, spec.id, opts);
    }
    await this.own(namespace, spec.id, pod);
    return this.waitLaunched(namespace, spec.id, opts);
  }

  private imageOf(spec: InstanceSpec, opts: StartOptions): Promise<string> {
    const dir = spec.artifactDir!;
    let p = this.artifactImages.get(dir);
    if (!p) {
      p = this.opts.imageOfArtifact!(dir, spec.labels, (line) => opts.onProgress?.(line));
      this.artifactImages.set(dir, p);
      p.catch(() => this.artifactImages.delete(dir));
    }
    return p;
  }

  /** Creates a Secret, or replaces one left by an earlier start of the same id. */
  private async put(namespace: string, secret: Parameters<Cluster['core']['createNamespacedSecret']>[0]['body']): Promise<void> {
    try {
      await this.cluster.core.createNamespacedSecret({ namespace, body: secret });
    } catch (err) {
      if (statusOf(err) !== 409) throw err;
      await this.cluster.core.replaceNamespacedSecret({ name: secret.metadata!.name!, namespace, body: secret });
    }
  }

  /** The Pod owns its Secrets, so the cluster's garbage collector removes them with a Pod deleted by hand. */
  private async own(namespace: string, id: string, pod: V1Pod): Promise<void> {
    const owner = { apiVersion: 'v1', kind: 'Pod', name: id, uid: pod.metadata!.uid!, blockOwnerDeletion: false };
    for (const name of [id, pullSecretName(id)]) {
      try {
        const s = await this.cluster.core.readNamespacedSecret({ name, namespace });
        s.metadata = { ...s.metadata, ownerReferences: [owner] };
        await this.cluster.core.replaceNamespacedSecret({ name, namespace, body: s });
      } catch (err) {
        if (statusOf(err) !== 404) this.opts.logger?.warn({ err: (err as Error).message, instance: id }, 'could not make the pod own its secret');
      }
    }
  }

  private async ensureClaim(namespace: string, volume: InstanceVolume, name: string): Promise<void> {
    try {
      await this.cluster.core.createNamespacedPersistentVolumeClaim({ namespace, body: claimManifest(volume, name, namespace, this.opts.storageClass) });
    } catch (err) {
      if (statusOf(err) !== 409) throw err;
    }
  }

  /**
   * Waits until the container runs (or already ended). An image the node cannot pull fails the start with
   * an ImagePullError (terminal when the registry refused it) and leaves no Pod behind.
   */
  private async waitLaunched(namespace: string, id: string, opts: StartOptions): Promise<ObservedInstance> {
    const deadline = Date.now() + (this.opts.startTimeoutMs ?? 300_000);
    let told = '';
    /** when a Pod with a pull Secret was first refused, and whether the kubelet has backed off since (and so tries again) */
    let authRefusedSince: number | undefined;
    let backedOff = false;
    for (;;) {
      let pod: V1Pod;
      try {
        pod = await this.cluster.core.readNamespacedPod({ name: id, namespace });
      } catch (err) {
        if (statusOf(err) === 404) throw new Error(`instance ${id} was deleted while it started`);
        throw err;
      }
      const seen = observedOf(pod);
      // Running with an address for its ports (a Pod runs before it has an IP only on the host network), or ended.
      if (seen && (seen.state === 'exited' || (seen.state === 'running' && (seen.endpoints.length > 0 || (pod.spec?.containers[0]?.ports ?? []).length === 0)))) {
        this.watcher.observe(seen);
        return seen;
      }
      const problem = imagePullProblem(pod);
      const image = pod.spec?.containers[0]?.image ?? '';
      // A refusal of the credentials a Pod names is final once the kubelet has tried again (isAuthRefusal).
      const withSecret = (pod.spec?.imagePullSecrets ?? []).length > 0;
      const authRefused = problem !== undefined && withSecret && isAuthRefusal(problem);
      if (authRefused && authRefusedSince !== undefined && !backedOff && Date.now() - authRefusedSince >= AUTH_REFUSAL_MAX_MS) backedOff = true;
      const settling = authRefused && !backedOff;
      if (authRefused) authRefusedSince ??= Date.now();
      else if (authRefusedSince !== undefined && problem?.reason === 'ImagePullBackOff') backedOff = true;
      if (problem && ((isTerminalPull(problem) && !settling) || Date.now() > deadline)) {
        await this.discard(namespace, id);
        throw new ImagePullError(image, problem.message, isTerminalPull(problem));
      }
      const waiting = problem?.reason ?? pod.status?.conditions?.find((c) => c.status === 'False' && c.reason)?.reason ?? pod.status?.phase ?? '';
      if (waiting && waiting !== told) {
        told = waiting;
        if (problem) opts.onProgress?.(`pulling ${image}: ${problem.reason}`);
      }
      if (Date.now() > deadline) {
        const why = pod.status?.conditions?.find((c) => c.status === 'False' && c.message)?.message ?? pod.status?.containerStatuses?.[0]?.state?.waiting?.message ?? pod.status?.phase;
        await this.discard(namespace, id);
        throw new Error(`instance ${id} did not start in time: ${why}`);
      }
      await sleep(250);
    }
  }

  /** Deletes a Pod that never ran, and its Secrets. */
  private async discard(namespace: string, id: string): Promise<void> {
    await this.deletePod(namespace, id, 0);
    await this.waitGone(namespace, id, 30_000).catch(() => {});
    await this.deleteSecrets(namespace, id);
  }

  private async deletePod(namespace: string, id: string, gracePeriodSeconds: number): Promise<void> {
    try {
      await this.cluster.core.deleteNamespacedPod({ name: id, namespace, gracePeriodSeconds });
    } catch (err) {
      if (statusOf(err) !== 404) throw err;
    }
  }

  private async deleteSecrets(namespace: string, id: string): Promise<void> {
    for (const name of [id, pullSecretName(id)]) {
      try {
        await this.cluster.core.deleteNamespacedSecret({ name, namespace });
      } catch (err) {
        if (statusOf(err) !== 404) throw err;
      }
    }
  }

  private async waitGone(namespace: string, id: string, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        await this.cluster.core.readNamespacedPod({ name: id, namespace });
      } catch (err) {
        if (statusOf(err) === 404) return;
        throw err;
      }
      if (Date.now() > deadline) throw new Error(`instance ${id} is still being deleted after ${Math.round(timeoutMs / 1000)} s`);
      await sleep(200);
    }
  }

  async stop(id: string, gracePeriodSeconds: number): Promise<void> {
    this.check(id);
    const pod = await this.findPod(id);
    if (!pod) return;
    const namespace = pod.metadata!.namespace!;
    const last = observedOf(pod);
    // The Pod's log goes with it: follow it from the first line before asking the kubelet to stop it.
    const kept = last?.state === 'running' ? (await this.logs_.keep(namespace, id)).ended : (await this.logs_.keepNow(namespace, id), Promise.resolve());
    // The kubelet sends SIGTERM, waits the grace period, then SIGKILL.
    await this.deletePod(namespace, id, Math.max(0, Math.round(gracePeriodSeconds)));
    await this.waitGone(namespace, id, (gracePeriodSeconds + 60) * 1000);
    await kept;
    await this.deleteSecrets(namespace, id);
    this.where.delete(id);
    this.cpuSamples.delete(id);
    this.watcher.forget(id, last ? { ...last, state: 'exited', endpoints: [] } : undefined);
  }

  async remove(id: string): Promise<void> {
    this.check(id);
    const pod = await this.findPod(id);
    if (!pod) return;
    const namespace = pod.metadata!.namespace!;
    await this.logs_.keepNow(namespace, id);
    await this.deletePod(namespace, id, 0);
    await this.waitGone(namespace, id, 60_000);
    await this.deleteSecrets(namespace, id);
    this.where.delete(id);
    this.cpuSamples.delete(id);
    this.watcher.forget(id);
  }

  async list(): Promise<ObservedInstance[]> {
    const pods = await this.cluster.core.listPodForAllNamespaces({ labelSelector: selectorOf(this.opts.scope) });
    const out: ObservedInstance[] = [];
    for (const pod of pods.items) {
      const seen = observedOf(pod);
      if (!seen) continue;
      this.where.set(seen.id, pod.metadata!.namespace!);
      out.push(seen);
    }
    return out;
  }

  watch(listener: (event: InstanceEvent) => void): () => void {
    return this.watcher.subscribe(listener);
  }

  async *logs(id: string, opts: { tail?: number; follow?: boolean; signal?: AbortSignal } = {}): AsyncIterable<LogLine> {
    this.check(id);
    const pod = await this.findPod(id);
    if (!pod) {
      yield* this.logs_.kept(id, opts.tail);
      return;
    }
    try {
      yield* this.logs_.read(pod.metadata!.namespace!, id, opts);
    } catch (err) {
      // Not started yet (no container to read), or gone meanwhile: what was kept, if anything.
      const status = statusOf(err);
      if (status !== 400 && status !== 404) throw err;
      yield* this.logs_.kept(id, opts.tail);
    }
  }

  async exec(id: string, command: string[], opts: { timeoutMs?: number } = {}): Promise<{ exitCode: number; output: string }> {
    this.check(id);
    const pod = await this.findPod(id);
    if (!pod) throw new Error(`instance ${id} not found`);
    if (observedOf(pod)?.state !== 'running') return { exitCode: 126, output: `instance ${id} is not running` };
    const limit = 64 * 1024;
    let output = '';
    const sink = new PassThrough();
    sink.on('data', (d: Buffer) => {
      if (output.length < limit) output += d.toString('utf8');
    });
    const timeoutMs = opts.timeoutMs ?? 10_000;
    let status: V1Status | undefined;
    const ws = await this.cluster.exec.exec(pod.metadata!.namespace!, id, CONTAINER, command, sink, sink, null, false, (s) => (status = s));
    const timedOut = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => {
        ws.close();
        resolve(true);
      }, timeoutMs);
      ws.on('close', () => {
        clearTimeout(timer);
        resolve(false);
      });
    });
    if (timedOut) return { exitCode: 124, output: `${output}\n(timed out after ${timeoutMs} ms)`.slice(0, limit) };
    if (!status) return { exitCode: 1, output: `${output}\n(no exit code reported)`.slice(0, limit) };
    const s = status as V1Status;
    if (s.status === 'Success') return { exitCode: 0, output };
    const code = s.details?.causes?.find((c) => c.reason === 'ExitCode')?.message;
    if (code !== undefined) return { exitCode: Number(code), output };
    // The runtime could not run the command at all (not found, not executable), as a shell reports it.
    return { exitCode: 126, output: `${output}${s.message ?? 'the command could not be run'}`.slice(0, limit) };
  }

  /**
   * Usage from the kubelet's summary (`/api/v1/nodes/<node>/proxy/stats/summary`): the container's working
   * set, and its CPU rate (the summary's own, else computed from two readings of its cumulative CPU time).
   */
  async usage(id: string): Promise<{ cpuPercent: number; memoryBytes: number } | undefined> {
    this.check(id);
    const pod = await this.findPod(id);
    const node = pod?.spec?.nodeName;
    if (!pod || !node || observedOf(pod)?.state !== 'running') return undefined;
    const summary = JSON.parse(await this.cluster.get(`/api/v1/nodes/${encodeURIComponent(node)}/proxy/stats/summary`)) as {
      pods?: { podRef: { name: string; namespace: string }; containers?: { name: string; cpu?: { usageNanoCores?: number; usageCoreNanoSeconds?: number }; memory?: { workingSetBytes?: number; usageBytes?: number } }[] }[];
    };
    const c = summary.pods?.find((p) => p.podRef.name === id && p.podRef.namespace === pod.metadata!.namespace)?.containers?.find((x) => x.name === CONTAINER);
    if (!c) return { cpuPercent: 0, memoryBytes: 0 };
    const now = Date.now();
    let cpuPercent = 0;
    if (c.cpu?.usageNanoCores !== undefined) cpuPercent = c.cpu.usageNanoCores / 1e7;
    else if (c.cpu?.usageCoreNanoSeconds !== undefined) {
      const prev = this.cpuSamples.get(id);
      if (prev && now > prev.atMs) cpuPercent = Math.max(0, ((c.cpu.usageCoreNanoSeconds - prev.nanoSeconds) / ((now - prev.atMs) * 1e6)) * 100);
    }
    if (c.cpu?.usageCoreNanoSeconds !== undefined) this.cpuSamples.set(id, { nanoSeconds: c.cpu.usageCoreNanoSeconds, atMs: now });
    return { cpuPercent, memoryBytes: c.memory?.workingSetBytes ?? c.memory?.usageBytes ?? 0 };
  }

  /** The container's `started` and `ready` as the kubelet reports them from the Pod's probes (InstanceSpec.healthChecks). */
  async readiness(id: string): Promise<{ started: boolean; ready: boolean; message?: string } | undefined> {
    this.check(id);
    const pod = await this.findPod(id);
    return pod ? readinessOf(pod) : undefined;
  }

  async removeVolume(name: string): Promise<void> {
    const claims = await this.cluster.core.listPersistentVolumeClaimForAllNamespaces({ labelSelector: `${LABEL.managed}=true,${LABEL.volume}=${name}` });
    for (const c of claims.items) {
      try {
        await this.cluster.core.deleteNamespacedPersistentVolumeClaim({ name: c.metadata!.name!, namespace: c.metadata!.namespace! });
      } catch (err) {
        if (statusOf(err) !== 404) throw err;
      }
    }
  }

  async close(): Promise<void> {
    this.watcher.close();
  }
}
