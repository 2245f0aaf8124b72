/**
 * What the service controller needs to know about a service's volume, read fresh each pass: the mounts its
 * instance gets, and whether a volume operation holds the instance stopped (a backup, a restore, a remount).
 */
import type { Store } from '../store/store.ts';
import type { InstanceVolume } from '../runtime/driver.ts';
import { mountSubPath, type VolumeRecord } from '../domain/volume.ts';
import type { VolumeStorage } from './volume-storage.ts';

export interface ServiceVolume {
  volumeId: string;
  /** why the instance must stay stopped now, or undefined */
  heldFor?: string;
  mounts: InstanceVolume[];
}

/** The runtime names of a volume's mounts (one per mount: a mount may show a subdirectory). */
export function volumeMountNames(v: VolumeRecord): string[] {
  return v.spec.mounts.map((_, i) => `${v.uid}${i ? `-${i}` : ''}`);
}

export class ServiceVolumes {
  constructor(
    private readonly store: Store,
    private readonly storage: VolumeStorage,
  ) {}

  async forService(projectId: string, serviceId: string): Promise<ServiceVolume | undefined> {
    const v = await this.store.volumes.forService(projectId, serviceId);
    if (!v) return undefined;
    const op = v.operation;
    const heldFor = op && op.serviceId === serviceId ? `${op.kind === 'remount' ? (op.detach ? 'a detach' : 'a remount') : `a ${op.kind}`} of volume ${v.id}` : v.status === 'PENDING' ? `volume ${v.id} to be provisioned` : undefined;
    if (heldFor) return { volumeId: v.id, heldFor, mounts: [] };
    try {
      return {
        volumeId: v.id,
        mounts: v.spec.mounts.map((m, i) => ({ name: volumeMountNames(v)[i], hostPath: this.storage.mountPath(v.uid, mountSubPath(m)), mountPath: m.containerMountPath, sizeMb: v.spec.storageSizeMb })),
      };
    } catch (err) {
      // A mount that cannot be made safely keeps the instance stopped, and says why in the rollout's events.
      return { volumeId: v.id, heldFor: `volume ${v.id}, which cannot be mounted: ${(err as Error).message}`, mounts: [] };
    }
  }
}
