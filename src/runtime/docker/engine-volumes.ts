/**
 * Persistent volumes on a Docker-compatible engine: each InstanceVolume becomes an engine named volume
 * (`local` driver, bound to the host directory the controller owns), mounted at the volume's path. The data
 * stays in that directory, so backups and restores work the same as on the process runtime; the engine
 * volume is only the handle the container mounts. `local` volumes take no size: the size is not enforced.
 */
import type Docker from 'dockerode';
import type { InstanceVolume } from '../driver.ts';

/** The engine volume's name: the driver's scope keeps platforms sharing an engine apart. */
export function engineVolumeName(v: Pick<InstanceVolume, 'name'>, scope: string | undefined): string {
  return `slipway-${scope ? `${scope}-` : ''}${v.name}`;
}

/** Remove an engine volume; idempotent (a missing one is already gone). */
export async function removeEngineVolume(docker: Docker, name: string, scope: string | undefined): Promise<void> {
  await docker
    .getVolume(engineVolumeName({ name }, scope))
    .remove()
    .catch((err: { statusCode?: number }) => {
      if (err.statusCode !== 404) throw err;
    });
}

/**
 * Create (or reuse) the engine volumes and return the container's mounts. Idempotent: an existing volume of
 * the same name bound to the same directory is reused; one bound elsewhere is replaced (it is unused: a
 * volume's instance is stopped before another starts).
 */
export async function engineMounts(docker: Docker, volumes: InstanceVolume[] | undefined, scope: string | undefined, labels: Record<string, string>): Promise<{ Type: 'volume'; Source: string; Target: string }[]> {
  const mounts: { Type: 'volume'; Source: string; Target: string }[] = [];
  for (const v of volumes ?? []) {
    const name = engineVolumeName(v, scope);
    const existing = (await docker
      .getVolume(name)
      .inspect()
      .catch(() => undefined)) as { Options?: Record<string, string> | null } | undefined;
    if (existing && existing.Options?.device !== v.hostPath) {
      await docker.getVolume(name).remove().catch(() => {});
    }
    if (!existing || existing.Options?.device !== v.hostPath) {
      await docker.createVolume({ Name: name, Driver: 'local', DriverOpts: { type: 'none', o: 'bind', device: v.hostPath }, Labels: labels });
    }
    mounts.push({ Type: 'volume', Source: name, Target: v.mountPath });
  }
  return mounts;
}
