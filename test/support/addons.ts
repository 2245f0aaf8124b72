/**
 * Helpers for the addon tests: create an addon through the official client and wait for a status, wait for
 * a backup or restore to finish.
 */
import type { ApiClient } from '@northflank/js-client';
import { api, waitFor, type RunningPlatform } from './platform.ts';

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

/**
 * Rotate an addon's credentials (slipway's native route) and wait until the rotation is over: the new login
 * in the credentials and the replaced one retired. Returns the connection value `key` before and after.
 */
export async function rotateAndWait(p: RunningPlatform, client: ApiClient, projectId: string, addonId: string, key: string): Promise<{ before: string; after: string }> {
  const read = async () => (await client.get.addon.credentials({ parameters: { projectId, addonId } })).data.secrets[key] as string;
  const before = await read();
  const res = await api(p, 'POST', `/projects/${projectId}/addons/${addonId}/credentials/rotate`);
  if (res.status !== 202) throw new Error(`rotate answered ${res.status}: ${JSON.stringify(res.body)}`);
  await waitFor(async () => (await api(p, 'GET', `/projects/${projectId}/addons/${addonId}/credentials/rotation`)).body.state === 'idle', 120_000, `rotation of ${addonId} over`);
  const after = await read();
  if (after === before) throw new Error('the credentials did not change');
  return { before, after };
}
