/**
 * Where an addon's files live under the data directory, and the local ports its servers take.
 *
 *   <data dir>/addons/<project>/<addon>/data         the primary's data directory (owned by the server's user)
 *                                      /replica-<n>  a read replica's
 *                                      /backups/     dumps and snapshots
 */
import path from 'node:path';
import { allocateInstancePort } from '../runtime/instance-ports.ts';

const HOST = '127.0.0.1';

export function addonDir(dataDir: string, projectId: string, addonId: string): string {
  return path.join(dataDir, 'addons', projectId, addonId);
}

export function backupFile(dataDir: string, projectId: string, addonId: string, file: string): string {
  return path.join(addonDir(dataDir, projectId, addonId), 'backups', file);
}

/** A port free now, not held by another addon (from the instances' range: see instance-ports.ts). */
export const pickPort = (taken: Set<number>): Promise<number> => allocateInstancePort(HOST, taken);
