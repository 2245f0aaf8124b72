/**
 * The pure half of the kubernetes runtime: an instance spec as the Pod, Secrets and claims that run it, and
 * a Pod read back as an observed instance. No I/O, so the shapes are checked by unit tests beside it.
 *
 * One instance is one Pod named by the instance id, with one container `app`, in its project's namespace:
 * - identity in labels (`slipway.dev/*`, for selection) and, exactly, in annotations (label values are
 *   limited to 63 characters of a narrow alphabet; the annotations are what adoption reads back);
 * - the runtime environment and the runtime files in a Secret named by the instance id (env as
 *   `secretKeyRef`s, each file a key mounted with `subPath` at its absolute path), so neither is written
 *   into the Pod object;
 * - registry credentials in a `kubernetes.io/dockerconfigjson` Secret `<id>-pull` named in
 *   `imagePullSecrets`;
 * - the plan as the container's limits (requests a fraction of them, so a plan is a ceiling on a shared node
 *   as on the other runtimes); `/dev/shm` as a memory `emptyDir`; volumes as PersistentVolumeClaims;
 * - the health checks as the container's startup, readiness and liveness probes (with none for readiness, a
 *   TCP check of the first port, slipway's default); the control plane reads the container's `ready` back;
 * - `restartPolicy: Never`: an exited instance is reported as exited and the service controller restarts it
 *   with back-off, as on every runtime.
 */
import type { V1Namespace, V1PersistentVolumeClaim, V1Pod, V1Probe, V1Secret } from '@kubernetes/client-node';
import type { HealthCheckSpec } from '../../domain/service.ts';
import type { InstanceLabels, InstanceSpec, InstanceVolume, ObservedInstance } from '../driver.ts';

export const CONTAINER = 'app';
export const LABEL = {
  managed: 'slipway.dev/managed',
  scope: 'slipway.dev/scope',
  project: 'slipway.dev/project',
  service: 'slipway.dev/service',
  release: 'slipway.dev/release',
  processType: 'slipway.dev/process-type',
  instance: 'slipway.dev/instance',
  volume: 'slipway.dev/volume',
} as const;
const ANNOTATION = {
  labels: 'slipway.dev/instance-labels',
  ports: 'slipway.dev/ports',
} as const;

export interface ManifestOptions {
  namespace: string;
  /** the control plane's own instances on a shared cluster (see KubernetesDriverOptions.scope) */
  scope?: string;
  /** bind the Pod to this node (a cluster without a scheduler); unset: the scheduler places it */
  nodeName?: string;
  /** the image to run: `spec.image`, or the artifact's image pushed for it */
  image: string;
  /** the claim name of each volume (by InstanceVolume.name) */
  claimOf(volume: InstanceVolume): string;
}

const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
/** A label value as Kubernetes takes it; a value it would refuse is left out (the annotation keeps it). */
function labelValue(v: string): string | undefined {
  return v.length <= 63 && LABEL_VALUE.test(v) ? v : undefined;
}

export function selectorOf(scope?: string): string {
  return [`${LABEL.managed}=true`, ...(scope ? [`${LABEL.scope}=${scope}`] : [])].join(',');
}

/** The namespace of a project: `<prefix><project>`, cut to a DNS label. */
export function namespaceName(prefix: string, project: string): string {
  const name = `${prefix}${project}`.toLowerCase().replace(/[^a-z0-9-]/g, '-').slice(0, 63).replace(/-+$/, '');
  return name || 'slipway';
}

export function namespaceManifest(name: string, project: string): V1Namespace {
  return { metadata: { name, labels: { [LABEL.managed]: 'true', ...(labelValue(project) ? { [LABEL.project]: project } : {}) } } };
}

function identityLabels(spec: InstanceSpec, scope?: string): Record<string, string> {
  const pairs: [string, string][] = [
    [LABEL.managed, 'true'],
    [LABEL.project, spec.labels.project],
    [LABEL.service, spec.labels.service],
    [LABEL.release, spec.labels.release],
    [LABEL.processType, spec.labels.processType],
    [LABEL.instance, spec.id],
    ...(scope ? ([[LABEL.scope, scope]] as [string, string][]) : []),
  ];
  return Object.fromEntries(pairs.flatMap(([k, v]) => (labelValue(v) !== undefined ? [[k, v]] : [])));
}

const envKey = (i: number) => `env-${i}`;
const fileKey = (i: number) => `file-${i}`;
export const pullSecretName = (id: string) => `${id}-pull`;

/** The Secret holding the instance's environment and files. */
export function secretManifest(spec: InstanceSpec, o: Pick<ManifestOptions, 'namespace' | 'scope'>): V1Secret {
  const data: Record<string, string> = {};
  Object.values(spec.env).forEach((v, i) => (data[envKey(i)] = Buffer.from(v).toString('base64')));
  spec.files.forEach((f, i) => (data[fileKey(i)] = f.content.toString('base64')));
  return { metadata: { name: spec.id, namespace: o.namespace, labels: identityLabels(spec, o.scope) }, type: 'Opaque', data };
}

/** The image pull Secret for `spec.registryAuth`, as `kubectl create secret docker-registry` writes it. */
export function pullSecretManifest(spec: InstanceSpec, o: Pick<ManifestOptions, 'namespace' | 'scope'>): V1Secret | undefined {
  const a = spec.registryAuth;
  if (!a) return undefined;
  const auth = Buffer.from(`${a.username}:${a.password}`).toString('base64');
  const config = { auths: { [a.serveraddress]: { username: a.username, password: a.password, auth } } };
  return {
    metadata: { name: pullSecretName(spec.id), namespace: o.namespace, labels: identityLabels(spec, o.scope) },
    type: 'kubernetes.io/dockerconfigjson',
    data: { '.dockerconfigjson': Buffer.from(JSON.stringify(config)).toString('base64') },
  };
}

export function claimManifest(volume: InstanceVolume, name: string, namespace: string, storageClass?: string): V1PersistentVolumeClaim {
  return {
    metadata: { name, namespace, labels: { [LABEL.managed]: 'true', ...(labelValue(volume.name) ? { [LABEL.volume]: volume.name } : {}) } },
    spec: {
      accessModes: ['ReadWriteOnce'],
      resources: { requests: { storage: `${Math.max(1, Math.ceil(volume.sizeMb))}Mi` } },
      ...(storageClass ? { storageClassName: storageClass } : {}),
    },
  };
}

function resources(spec: InstanceSpec): NonNullable<NonNullable<V1Pod['spec']>['containers'][number]['resources']> {
  const limits: Record<string, string> = {};
  const requests: Record<string, string> = {};
  if (spec.memoryMb) {
    limits.memory = `${Math.ceil(spec.memoryMb)}Mi`;
    requests.memory = `${Math.max(4, Math.ceil(spec.memoryMb / 4))}Mi`;
  }
  if (spec.cpu) {
    limits.cpu = `${Math.max(1, Math.round(spec.cpu * 1000))}m`;
    requests.cpu = `${Math.max(1, Math.round(spec.cpu * 100))}m`;
  }
  if (spec.ephemeralStorageMb) {
    limits['ephemeral-storage'] = `${Math.ceil(spec.ephemeralStorageMb)}Mi`;
    requests['ephemeral-storage'] = `${Math.max(1, Math.ceil(spec.ephemeralStorageMb / 4))}Mi`;
  }
  return { limits, requests };
}

/** A health check as a container probe. Kubernetes counts in whole seconds and takes successThreshold 1 but for readiness. */
export function probeOf(check: HealthCheckSpec, firstPort: number | undefined): V1Probe {
  const port = check.port ?? firstPort ?? 0;
  const action: V1Probe =
    check.protocol === 'CMD' ? { exec: { command: ['/bin/sh', '-c', check.cmd ?? 'true'] } } : check.protocol === 'HTTP' ? { httpGet: { path: check.path ?? '/', port } } : { tcpSocket: { port } };
  const secs = (n: number | undefined, min: number) => Math.max(min, Math.ceil(n ?? min));
  return {
    ...action,
    initialDelaySeconds: secs(check.initialDelaySeconds, 0),
    periodSeconds: secs(check.periodSeconds, 1),
    timeoutSeconds: secs(check.timeoutSeconds, 1),
    failureThreshold: secs(check.failureThreshold, 1),
    successThreshold: check.type === 'readinessProbe' ? secs(check.successThreshold, 1) : 1,
  };
}

function probes(spec: InstanceSpec): { startupProbe?: V1Probe; readinessProbe?: V1Probe; livenessProbe?: V1Probe } {
  if (!spec.healthChecks) return {};
  const first = spec.ports[0]?.internalPort;
  const out: { startupProbe?: V1Probe; readinessProbe?: V1Probe; livenessProbe?: V1Probe } = {};
  for (const c of spec.healthChecks) out[c.type] ??= probeOf(c, first);
  // As on every runtime: with no readiness check, ready once the first port takes connections.
  if (!out.readinessProbe && first !== undefined) out.readinessProbe = { tcpSocket: { port: first }, periodSeconds: 1, timeoutSeconds: 1, failureThreshold: 1, successThreshold: 1 };
  return out;
}

/** The Pod of an instance. `PORT` is the first port's internal port: the Pod has its own address. */
export function podManifest(spec: InstanceSpec, o: ManifestOptions): V1Pod {
  const envNames = Object.keys(spec.env);
  // As on the docker runtime: PORT, PORT_<NAME> per port, and the first volume's path.
  const plain: Record<string, string> = {};
  if (spec.ports[0]) plain.PORT = String(spec.ports[0].internalPort);
  for (const p of spec.ports) plain[`PORT_${p.name.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`] = String(p.internalPort);
  if (spec.volumes?.[0]) plain.SLIPWAY_VOLUME_DIR = spec.volumes[0].mountPath;
  const env = [
    ...Object.entries(plain).flatMap(([name, value]) => (name in spec.env ? [] : [{ name, value }])),
    ...envNames.map((name, i) => ({ name, valueFrom: { secretKeyRef: { name: spec.id, key: envKey(i) } } })),
  ];
  const command = spec.command.length > 0 ? { command: spec.command } : { ...(spec.entrypoint ? { command: spec.entrypoint } : {}), ...(spec.cmd ? { args: spec.cmd } : {}) };
  const [uid, gid] = (spec.user ?? '').split(':').map((n) => (n === '' || n === undefined ? undefined : Number(n)));
  const volumes: NonNullable<V1Pod['spec']>['volumes'] = [];
  const mounts: NonNullable<NonNullable<V1Pod['spec']>['containers'][number]['volumeMounts']> = [];
  if (spec.files.length > 0) {
    volumes.push({ name: 'files', secret: { secretName: spec.id, defaultMode: 0o444, items: spec.files.map((_, i) => ({ key: fileKey(i), path: fileKey(i) })) } });
    spec.files.forEach((f, i) => mounts.push({ name: 'files', mountPath: f.path, subPath: fileKey(i), readOnly: true }));
  }
  if (spec.shmSizeMb) {
    volumes.push({ name: 'shm', emptyDir: { medium: 'Memory', sizeLimit: `${Math.ceil(spec.shmSizeMb)}Mi` } });
    mounts.push({ name: 'shm', mountPath: '/dev/shm' });
  }
  (spec.volumes ?? []).forEach((v, i) => {
    volumes.push({ name: `volume-${i}`, persistentVolumeClaim: { claimName: o.claimOf(v) } });
    mounts.push({ name: `volume-${i}`, mountPath: v.mountPath });
  });
  const pull = pullSecretManifest(spec, o);
  return {
    metadata: {
      name: spec.id,
      namespace: o.namespace,
      labels: identityLabels(spec, o.scope),
      annotations: { [ANNOTATION.labels]: JSON.stringify(spec.labels), [ANNOTATION.ports]: JSON.stringify(spec.ports) },
    },
    spec: {
      restartPolicy: 'Never',
      automountServiceAccountToken: false,
      enableServiceLinks: false,
      ...(o.nodeName ? { nodeName: o.nodeName } : {}),
      ...(spec.hostNetwork ? { hostNetwork: true, dnsPolicy: 'ClusterFirstWithHostNet' } : {}),
      ...(pull ? { imagePullSecrets: [{ name: pull.metadata!.name! }] } : {}),
      ...(uid !== undefined && !Number.isNaN(uid) ? { securityContext: { runAsUser: uid, ...(gid !== undefined && !Number.isNaN(gid) ? { runAsGroup: gid, fsGroup: gid } : {}) } } : {}),
      volumes,
      containers: [
        {
          name: CONTAINER,
          image: o.image,
          imagePullPolicy: 'IfNotPresent',
          ...command,
          ...(spec.workDir ? { workingDir: spec.workDir } : {}),
          env,
          ports: spec.ports.map((p) => ({ containerPort: p.internalPort, protocol: 'TCP' })),
          resources: resources(spec),
          volumeMounts: mounts,
          ...probes(spec),
        },
      ],
    },
  };
}

const iso = (d: Date | string | undefined): string | undefined => (d === undefined ? undefined : new Date(d).toISOString());

/** What a Pod says of its instance; undefined for a Pod that is not one of ours. */
export function observedOf(pod: V1Pod): ObservedInstance | undefined {
  const ann = pod.metadata?.annotations ?? {};
  const id = pod.metadata?.name;
  if (!id || !ann[ANNOTATION.labels]) return undefined;
  let labels: InstanceLabels;
  let ports: { name: string; internalPort: number }[];
  try {
    labels = JSON.parse(ann[ANNOTATION.labels]);
    ports = JSON.parse(ann[ANNOTATION.ports] ?? '[]');
  } catch {
    return undefined;
  }
  const status = pod.status ?? {};
  const cs = status.containerStatuses?.find((c) => c.name === CONTAINER);
  const running = cs?.state?.running;
  const terminated = cs?.state?.terminated;
  const failedWhole = status.phase === 'Failed' || status.phase === 'Succeeded';
  const state: ObservedInstance['state'] = terminated || failedWhole ? 'exited' : running ? 'running' : 'starting';
  const hostNetwork = pod.spec?.hostNetwork === true;
  const host = hostNetwork ? status.hostIP : status.podIP;
  const out: ObservedInstance = {
    id,
    labels,
    state,
    endpoints: state === 'running' && host ? ports.map((p) => ({ name: p.name, internalPort: p.internalPort, host, port: p.internalPort })) : [],
  };
  if (!hostNetwork && status.podIP) out.address = status.podIP;
  const startedAt = iso(running?.startedAt ?? terminated?.startedAt);
  if (startedAt) out.startedAt = startedAt;
  if (state === 'exited') {
    out.exitedAt = iso(terminated?.finishedAt) ?? new Date().toISOString();
    out.exitCode = terminated ? terminated.exitCode : null;
    out.signal = null;
    if (terminated?.reason === 'OOMKilled') out.reason = 'OOMKilled';
    else if (status.reason === 'Evicted') out.reason = `Evicted: ${status.message ?? 'by the node'}`;
  }
  return out;
}

/** The kubelet's verdict on the instance's container: started (startup probe passed) and ready (readiness passes). */
export function readinessOf(pod: V1Pod): { started: boolean; ready: boolean; message?: string } {
  const cs = pod.status?.containerStatuses?.find((c) => c.name === CONTAINER);
  const running = !!cs?.state?.running;
  const ready = running && cs?.ready === true;
  const message = ready ? undefined : pod.status?.conditions?.find((c) => c.type === 'ContainersReady' && c.status === 'False')?.message;
  return { started: running && cs?.started !== false, ready, ...(message ? { message } : {}) };
}

/** Why a Pod that is not running yet cannot start, when the reason is its image. */
export function imagePullProblem(pod: V1Pod): { reason: string; message: string } | undefined {
  const waiting = pod.status?.containerStatuses?.find((c) => c.name === CONTAINER)?.state?.waiting;
  if (!waiting?.reason || !['ErrImagePull', 'ImagePullBackOff', 'InvalidImageName', 'ErrImageNeverPull'].includes(waiting.reason)) return undefined;
  return { reason: waiting.reason, message: waiting.message ?? waiting.reason };
}

/** A refusal that a retry cannot cure: the image or its tag does not exist, or the credentials are refused. */
export function isTerminalPull(p: { reason: string; message: string }): boolean {
  return p.reason === 'InvalidImageName' || p.reason === 'ErrImageNeverPull' || /not found|manifest unknown|unauthorized|denied|forbidden|401|403|404/i.test(p.message);
}

/**
 * The registry refused the credentials (or their absence). For a Pod that names a pull Secret this is not
 * final at first: the kubelet reads a new Pod's pull Secrets through a cache that may not be allowed to read
 * them yet (the API server's node authorizer learns of the Pod a moment later), and then pulls without
 * credentials ("Unable to retrieve pull secret, the image pull may not succeed"); its next attempt, after its
 * back-off, has them.
 */
export function isAuthRefusal(p: { reason: string; message: string }): boolean {
  return p.reason === 'ErrImagePull' && /unauthorized|denied|forbidden|401|403/i.test(p.message) && !/not found|manifest unknown|404/i.test(p.message);
}
