/**
 * The runtime driver interface: the one boundary between controllers and whatever runs instances
 * (child processes, containers, pods). Drivers never see the store; controllers hand them a full spec.
 *
 * Identity is deterministic: the controller names an instance (`InstanceSpec.id`) from the release id,
 * an ordinal and a short spec hash, so a restarted control plane can adopt what still runs and a repeated
 * `start` of the same id collides instead of duplicating.
 */

import type { HealthCheckSpec } from '../domain/service.ts';

export interface InstanceLabels {
  project: string;
  service: string;
  release: string;
  /** process type; `web` is the routed one */
  processType: string;
}

export interface InstanceSpec {
  /** Deterministic, unique, [a-z0-9-]; also the directory/container name. */
  id: string;
  labels: InstanceLabels;
  /** Directory holding the built artifact (process runtime) — mounted read-only at `/app`. */
  artifactDir?: string;
  /** Image reference (container runtimes). */
  image?: string;
  /** Credentials to pull `image` from a private registry (container runtimes). */
  registryAuth?: { username: string; password: string; serveraddress: string };
  /** argv to run. For the process runtime, `['/bin/sh', '-c', cmd]` style is typical. */
  command: string[];
  /**
   * With `image` and an empty `command` only: Docker-style overrides of the image's ENTRYPOINT and CMD (the
   * container runs `[...(entrypoint ?? image's), ...(cmd ?? image's)]`). A non-empty `command` wins over both.
   */
  entrypoint?: string[];
  cmd?: string[];
  /** Working directory inside the instance (default `/app`). */
  workDir?: string;
  /**
   * Environment from the controller (runtimeEnvironment and the SLIPWAY_* variables). The driver adds `PORT`
   * (the host port it allocated for the first port), because only the driver knows the mapping.
   */
  env: Record<string, string>;
  /** Files to place at absolute paths inside the instance; contents already decoded. */
  files: { path: string; content: Buffer }[];
  /** Ports the app listens on, first one = PORT. The driver maps each to a host port the router can reach. */
  ports: { name: string; internalPort: number }[];
  /** Memory limit in MB (advisory on the process runtime unless cgroups are available). */
  memoryMb?: number;
  /** CPU share in vCPU (advisory on the process runtime). */
  cpu?: number;
  /** Size of `/dev/shm` in MB (container runtimes; the seed's `storage.shmSize`). */
  shmSizeMb?: number;
  /** Writable storage of the instance in MB (container runtimes; the seed's `storage.ephemeralStorage.storageSize`). */
  ephemeralStorageMb?: number;
  /** Persistent volumes to mount read-write (see InstanceVolume). */
  volumes?: InstanceVolume[];
  /**
   * Container runtimes: the numeric `uid:gid` the command runs as (an addon server's unprivileged user, who
   * owns its data directory). The process runtime ignores it: its caller drops privileges in the command.
   */
  user?: string;
  /**
   * Container runtimes: share the host's network (no published ports; what listens on 127.0.0.1 in the
   * instance listens on the host's 127.0.0.1). Addon servers use it so their port, and a replica's link to
   * its primary, are the same on every runtime. Process instances always share the host's network.
   */
  hostNetwork?: boolean;
  /**
   * The instance's health checks (startup, readiness, liveness), for a runtime that runs them itself (one with
   * `readiness`): the kubernetes runtime makes them the container's probes. Other runtimes ignore them: the
   * control plane probes their instances.
   */
  healthChecks?: HealthCheckSpec[];
}

/**
 * A persistent directory mounted into an instance (a volume's, or an addon server's data): a host directory the
 * controller owns (it outlives every instance), offered at `mountPath`. The process runtime binds it into the
 * sandbox (without a sandbox it cannot honour the path and says where the directory is in `SLIPWAY_VOLUME_DIR`
 * and at `$SLIPWAY_FILES_DIR/<mount path>`); container runtimes mount an engine volume named from `name` backed
 * by the directory. `sizeMb` is enforced only where the driver can.
 */
export interface InstanceVolume {
  /** [a-z0-9-], unique per volume: names the engine volume */
  name: string;
  hostPath: string;
  mountPath: string;
  sizeMb: number;
}

export type InstanceState = 'starting' | 'running' | 'exited';

export interface ObservedInstance {
  id: string;
  labels: InstanceLabels;
  state: InstanceState;
  /** host:port the router and probes use, per port name; present once the instance runs. */
  endpoints: { name: string; internalPort: number; host: string; port: number }[];
  /**
   * The instance's own network address while it runs, where the runtime gives it one (a container's on its
   * network): its requests to the router come from it. Absent where instances share the host's addresses.
   */
  address?: string;
  pid?: number;
  startedAt?: string;
  exitedAt?: string;
  exitCode?: number | null;
  signal?: string | null;
  /**
   * why it exited when the runtime ended it: `OOMKilled` (over its memory limit), or `Evicted: <why>` (a driver
   * stopped it for going over another limit, e.g. ephemeral storage); or STOPPED: a control plane began its stop
   * and did not see it through (it died, or lost its lease), so the end is no crash
   */
  reason?: string;
}

/** The `reason` of an instance whose stop a control plane began (see ObservedInstance.reason). */
export const STOPPED = 'Stopped';

export interface LogLine {
  instanceId: string;
  ts: string;
  stream: 'stdout' | 'stderr';
  line: string;
}

export interface InstanceEvent {
  type: 'started' | 'exited' | 'removed';
  instance: ObservedInstance;
}

/** Options of one start: what the caller wants to hear while it runs. */
export interface StartOptions {
  /** Progress of slow steps (an image pull), a few lines in all; drivers without such steps never call it. */
  onProgress?(message: string): void;
}

/**
 * An image the runtime could not pull. `terminal` when the registry refused it (unknown image, bad or
 * missing credentials): retrying the same pull fails the same way, so a rollout can fail at once. The
 * message names the image and the reason, never a secret.
 */
export class ImagePullError extends Error {
  constructor(
    readonly image: string,
    readonly reason: string,
    readonly terminal: boolean,
  ) {
    super(`could not pull image ${image}: ${reason}`);
    this.name = 'ImagePullError';
  }
}

export interface RuntimeDriver {
  readonly name: string;

  /**
   * Start an instance from a spec. Idempotent per `spec.id`: if an instance with that id already runs,
   * resolve with it unchanged. Resolves once the process/container has been created and launched (not when
   * it is ready: readiness is the probes' job). Throws on a bad spec or a launch failure; an image that
   * cannot be pulled is an ImagePullError. `opts.onProgress` hears about slow steps such as a pull.
   */
  start(spec: InstanceSpec, opts?: StartOptions): Promise<ObservedInstance>;

  /**
   * Stop an instance: SIGTERM, wait up to `gracePeriodSeconds`, then SIGKILL; then remove what it left
   * (directory, container). Idempotent: stopping an unknown or already-gone id resolves. Resolves when the
   * instance no longer runs.
   */
  stop(id: string, gracePeriodSeconds: number): Promise<void>;

  /**
   * Forget an exited instance's remains (logs may be kept). Idempotent.
   */
  remove(id: string): Promise<void>;

  /** Every instance this driver knows of, live or exited-but-not-removed, read fresh (not cached). */
  list(): Promise<ObservedInstance[]>;

  /**
   * The instances labelled with one project and service (every process type), read fresh: what `list()`
   * filtered by those labels gives. Optional: a driver that can answer it without reading every instance has
   * it, and callers use `instancesOfService` (which falls back to `list()`), so a controller's pass over one
   * service costs that service's instances, not the platform's.
   */
  listService?(projectId: string, serviceId: string): Promise<ObservedInstance[]>;

  /** Subscribe to started/exited/removed events; returns an unsubscribe function. Events may be coalesced. */
  watch(listener: (event: InstanceEvent) => void): () => void;

  /** Recent log lines of an instance (oldest first), then optionally follow. */
  logs(id: string, opts?: { tail?: number; follow?: boolean; signal?: AbortSignal }): AsyncIterable<LogLine>;

  /** Run a command inside the instance's environment; used for CMD probes. */
  exec(id: string, command: string[], opts?: { timeoutMs?: number }): Promise<{ exitCode: number; output: string }>;

  /** Current resource usage, or undefined if the instance is gone. */
  usage(id: string): Promise<{ cpuPercent: number; memoryBytes: number } | undefined>;

  /**
   * Forget what the runtime keeps for a persistent volume named `name` (InstanceVolume.name): an engine
   * volume on container runtimes; nothing on the process runtime. The data directory is the platform's, not
   * the driver's. Idempotent; resolves when nothing of it is left. Optional: a driver without engine volumes
   * need not have it.
   */
  removeVolume?(name: string): Promise<void>;

  /**
   * Optional capability: the runtime runs the instance's health checks itself (InstanceSpec.healthChecks) and
   * reports the verdict here, read fresh: `started` once the startup check passed, `ready` while readiness
   * passes. The control plane then gates traffic and rollouts on this instead of probing the instance; a
   * liveness or startup failure shows as the instance exiting. Undefined when the instance is unknown.
   */
  readiness?(id: string): Promise<{ started: boolean; ready: boolean; message?: string } | undefined>;

  /** Release driver resources (watchers, timers). Does NOT stop instances: they outlive the control plane. */
  close(): Promise<void>;
}

/** A service's instances: the driver's `listService` where it has one, else `list()` filtered by the labels. */
export async function instancesOfService(driver: Pick<RuntimeDriver, 'list' | 'listService'>, projectId: string, serviceId: string): Promise<ObservedInstance[]> {
  if (driver.listService) return driver.listService(projectId, serviceId);
  return (await driver.list()).filter((i) => i.labels.project === projectId && i.labels.service === serviceId);
}
