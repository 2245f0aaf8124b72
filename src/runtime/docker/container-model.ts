/**
 * The docker runtime's model of a container: the labels that carry an instance's identity, the engine's
 * answers read back as instances, and the engine's errors by meaning. Pure: the driver talks to the engine.
 */
import type Docker from 'dockerode';
import type { InstanceLabels, InstanceSpec, ObservedInstance } from '../driver.ts';
import { ValidationError } from '../../errors/errors.ts';
import { isLocalOnly, parseImageReference } from './image-reference.ts';
import { allocateInstancePort } from '../instance-ports.ts';

export const LABEL = {
  project: 'slipway.project',
  service: 'slipway.service',
  release: 'slipway.release',
  processType: 'slipway.processType',
  instance: 'slipway.instance',
  ports: 'slipway.ports',
  /** which control plane's instances these are (DockerDriverOptions.scope) */
  scope: 'slipway.scope',
  /** the instance's writable-storage limit in MB, watched by the driver (see `enforceStorage`) */
  ephemeralStorageMb: 'slipway.ephemeralStorageMb',
} as const;

/** Published ports are bound on this address. */
export const HOST = '127.0.0.1';
/** A container created this long ago and never started is a launch that was cut short (see observedOf). */
const NEVER_STARTED_MS = 20_000;
/** Where a release's artifact directory is mounted (read-only) in the artifact image. */
export const APP_DIR = '/app';

/** dockerode connection options from a DOCKER_HOST-style address. */
export function connectionOptions(address: string): Docker.DockerOptions {
  if (address.startsWith('unix://')) return { socketPath: address.slice('unix://'.length) };
  if (address.startsWith('/')) return { socketPath: address };
  const url = new URL(address.replace(/^tcp:/, 'http:'));
  return { protocol: url.protocol === 'https:' ? 'https' : 'http', host: url.hostname, port: Number(url.port || (url.protocol === 'https:' ? 2376 : 2375)) };
}

interface ErrorWithStatus {
  statusCode?: number;
}
export const statusOf = (err: unknown): number | undefined => (err as ErrorWithStatus)?.statusCode;
/** A container that is gone: 404, or Podman's 500 for one removed while it was being read. */
export const isGone = (err: unknown): boolean => statusOf(err) === 404 || /no such container/i.test(String((err as Error)?.message));
export function localOnly(image: string): boolean {
  try {
    return isLocalOnly(parseImageReference(image));
  } catch {
    return false; // a reference that does not parse: ImagePuller.ensure says why
  }
}
/** A create refused because a container of that name exists (Podman answers a race for the name with a 500). */
export const isNameTaken = (err: unknown): boolean => statusOf(err) === 409 || /name .* is already in use/i.test(String((err as Error)?.message));
/**
 * A start that Podman reports as failed because the container's process exited before Podman read its
 * cgroup (`read /proc/<pid>/cgroup: no such process`, a 500): the process did run. Podman before 4.4 treats
 * that ESRCH as an error (containers/podman#16383, fixed by #16504); the container is there, exited.
 */
export const isExitedDuringStart = (err: unknown): boolean => statusOf(err) === 500 && /\/proc\/\d+\/cgroup: no such process/i.test(String((err as Error)?.message));
/**
 * A forced removal Podman refuses for a container whose process has just exited and which it has not yet
 * cleaned up (`container state improper: stopped`, a 500): the same removal succeeds a moment later.
 */
export const isSettlingExit = (err: unknown): boolean => statusOf(err) === 500 && /container state improper/i.test(String((err as Error)?.message));
/** A create refused because the engine does not hold the image. */
export const isMissingImage = (err: unknown): boolean => statusOf(err) === 404 && /image/i.test(String((err as Error)?.message));

/** A free port on HOST for a published port (see instance-ports.ts for why not an ephemeral one). */
export const allocatePort = (): Promise<number> => allocateInstancePort(HOST);

export function checkFiles(files: InstanceSpec['files']): void {
  for (const f of files) {
    if (!f.path.startsWith('/') || f.path.endsWith('/') || f.path.split('/').some((s) => s === '..' || s === '.')) {
      throw ValidationError.one('runtimeFiles', 'absolutePath', `invalid runtime file path '${f.path}': it must be absolute, without . or .. segments`);
    }
  }
}

/**
 * A container as the engine describes it → the instance it runs (undefined for a container slipway did not
 * label). `exitReason` says why an instance ended (OOM, or an eviction the driver recorded).
 */
export function observedOf(info: Docker.ContainerInspectInfo, exitReason: (id: string, oomKilled: boolean) => { signal: string | null; reason?: string }): ObservedInstance | undefined {
  const l = info.Config.Labels ?? {};
  const id = l[LABEL.instance];
  if (!id) return undefined;
  const labels: InstanceLabels = { project: l[LABEL.project] ?? '', service: l[LABEL.service] ?? '', release: l[LABEL.release] ?? '', processType: l[LABEL.processType] ?? '' };
  let declared: { name: string; internalPort: number }[] = [];
  try {
    declared = JSON.parse(l[LABEL.ports] ?? '[]');
  } catch {}
  // The requested bindings are stable across the container's life (the live ones vanish when it stops).
  const bindings = (info.HostConfig.PortBindings ?? {}) as Record<string, { HostIp?: string; HostPort?: string }[] | null>;
  const endpoints = declared.flatMap((p) => {
    const b = bindings[`${p.internalPort}/tcp`]?.[0];
    return b?.HostPort ? [{ name: p.name, internalPort: p.internalPort, host: b.HostIp || HOST, port: Number(b.HostPort) }] : [];
  });
  const s = info.State;
  const started = s.StartedAt && !s.StartedAt.startsWith('0001-') ? s.StartedAt : undefined;
  const base = { id, labels, endpoints, pid: s.Pid > 0 ? s.Pid : undefined, startedAt: started };
  switch (s.Status) {
    case 'running':
    case 'paused': {
      const address = Object.values(info.NetworkSettings?.Networks ?? {}).find((n) => n?.IPAddress)?.IPAddress;
      return { ...base, state: 'running', ...(address ? { address } : {}) };
    }
    case 'exited':
    case 'dead':
    case 'stopped':
      return { ...base, state: 'exited', exitedAt: s.FinishedAt, exitCode: s.ExitCode, ...exitReason(id, s.OOMKilled) };
    case 'created':
    case 'configured':
      // Created and never started for this long: a launch cut short between create and start (a control
      // plane killed there). Reported as ended, as the process runtime does with a launch that never ran,
      // so the controller removes it and starts the slot again rather than wait for it forever.
      if (!started && Date.now() - Date.parse(info.Created) > NEVER_STARTED_MS) return { ...base, state: 'exited', exitCode: null, signal: null };
      return { ...base, state: 'starting' };
    default:
      // restarting, removing
      return { ...base, state: 'starting' };
  }
}
