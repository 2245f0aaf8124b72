/**
 * Helpers for the addon tests: create an addon through the official client and wait for a status, wait for
 * a backup or restore to finish.
 */
import type { ApiClient } from '@northflank/js-client';
import { waitFor } from './platform.ts';

export async function waitForAddonStatus(client: ApiClient, projectId: string, addonId: string, status: string, timeoutMs = 180_000): Promise<any> {
  let last: any;
  try {
    return await waitFor(async () => {
      last = (await client.get.addon({ parameters: { projectId, addonId } })).data;
      return last.status === status ? last : undefined;
    }, timeoutMs, `addon ${addonId} ${status}`);
  } catch (err) {
    throw new Error(`${(err as Error).message}; last seen: ${JSON.stringify({ status: last?.status, statusMessage: last?.statusMessage })}`);
  }
}

export async function backupAndWait(client: ApiClient, projectId: string, addonId: string, name: string): Promise<string> {
  const b = await client.backup.addon({ parameters: { projectId, addonId }, data: { name, backupType: 'dump' } });
  const backupId = b.data.id;
  const done = await waitFor(async () => {
    const r = (await client.get.addon.backup({ parameters: { projectId, addonId, backupId } })).data;
    return r.status === 'completed' || r.status === 'failed' ? r : undefined;
  }, 120_000, `backup ${backupId}`);
  if (done.status !== 'completed') throw new Error(`backup failed: ${JSON.stringify(done)}`);
  return backupId;
}

export async function restoreAndWait(client: ApiClient, projectId: string, addonId: string, backupId: string): Promise<any> {
  const r = await client.restore.addon.backup({ parameters: { projectId, addonId, backupId } });
  const restoreId = r.data.restoreId;
  return waitFor(async () => {
    const list = (await client.get.addon.restores({ parameters: { projectId, addonId } })).data.restores;
    const mine = list.find((x) => x.id === restoreId);
    return mine && (mine.status === 'completed' || mine.status === 'failed') ? mine : undefined;
  }, 180_000, `restore ${restoreId}`);
}
