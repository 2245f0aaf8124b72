/**
 * The desired-spec half of a failed rollout's return to the last good release (the service controller
 * moves the instances): see `returnDesiredSpec`.
 */
import type { Store } from '../../store/store.ts';
import type { ServiceRecord } from '../../domain/service.ts';
import type { ReleaseRecord } from '../../domain/release.ts';
import type { RolloutRecord } from '../../store/rollouts-repo.ts';
import { describeChanges, restoreSpec, restoredSource, sameShape, snapshotOfLegacyRelease } from '../../domain/release-snapshot.ts';
import { VersionConflictError } from '../../errors/errors.ts';

/**
 * After a failed rollout, the desired spec goes back to the one the last good release was made from (its
 * build pinned if the failed release ran another), in the same conditional write that points the service
 * at that release, so a later change starts from the good spec rather than retrying the failed one. Done
 * only while nobody changed the spec since the rollout began: an edit made since is the user's newer
 * intent and is kept. Returns what was restored, or undefined when the spec was left alone.
 */
export async function returnDesiredSpec(store: Store, svc: ServiceRecord, rollout: RolloutRecord, failed: ReleaseRecord, stable: ReleaseRecord, message: string): Promise<string[] | undefined> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const cur = await store.services.find(svc.projectId, svc.id);
    if (!cur || cur.targetReleaseId !== failed.id) return undefined;
    const untouched = cur.updatedAt <= rollout.createdAt || (failed.serviceSpec !== undefined && sameShape(cur.spec, failed.serviceSpec));
    if (!untouched) return undefined;
    const snapshot = stable.serviceSpec ?? snapshotOfLegacyRelease(cur.spec, stable.spec);
    const next = restoreSpec(cur.spec, snapshot, restoredSource(cur, failed, stable));
    const restored = describeChanges(cur.spec, next);
    const deployMessage = `${message}; returned to release ${stable.number}${restored.length ? ` and restored its ${restored.join(', ')}` : ''}`;
    try {
      await store.services.update(cur.projectId, cur.id, cur.version, next, { targetReleaseId: stable.id, deployStatus: 'FAILED', deployMessage });
    } catch (err) {
      if (err instanceof VersionConflictError) continue;
      throw err;
    }
    if (restored.length) await store.events.append({ projectId: cur.projectId, serviceId: cur.id, kind: 'release', reason: 'Restored', message: `desired spec returned to release ${stable.number}: ${restored.join(', ')}` });
    return restored;
  }
  return undefined;
}
