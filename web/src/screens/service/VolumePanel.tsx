import { useState } from 'react';
import { get, paths, post, type Volume, type VolumeBackup } from '../../api.ts';
import { usePoll } from '../../hooks.ts';
import { Problem, When } from '../../ui.tsx';

const POLL_MS = 3000;

const mb = (bytes: number | null | undefined) => (bytes === null || bytes === undefined ? '-' : `${(bytes / 1048576).toFixed(1)} MB`);

/** The service's volume, if it has one: size and use, mount paths, the running operation, its backups. */
export function VolumePanel({ project, service }: { project: string; service: string }) {
  const volume = usePoll(
    (signal) => get<{ data: Volume[] }>(paths.volumes(project), signal).then((r) => r.data.find((v) => v.attachedObjects.some((o) => o.type === 'service' && o.id === service)) ?? null),
    [project, service],
    POLL_MS,
  );
  const v = volume.data;
  const backups = usePoll((signal) => (v ? get<{ data: VolumeBackup[] }>(paths.volumeBackups(project, v.id), signal).then((r) => r.data) : Promise.resolve([])), [project, v?.id], POLL_MS);
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  if (!v) return volume.error ? <Problem error={volume.error} /> : null;

  const backUp = async () => {
    setBusy(true);
    setError(undefined);
    try {
      await post(paths.backupVolume(project, v.id), { name: `dashboard ${new Date().toISOString()}` });
      volume.reload();
      backups.reload();
    } catch (err) {
      setError(`Backup failed: ${(err as Error).message}`);
    } finally {
      setBusy(false);
    }
  };

  return (
    <section aria-labelledby="volume-h" className="panel">
      <h2 id="volume-h">Volume</h2>
      <Problem error={volume.error ?? backups.error ?? error} />
      <p className="muted facts">
        <span>
          <code className="id">{v.id}</code>
        </span>
        <span>
          {v.spec.storageSize} MB ({mb(v.usage.storageUsedBytes)} used)
        </span>
        <span>
          mounted at{' '}
          {v.mounts.map((m) => (
            <code key={m.containerMountPath}>{m.containerMountPath}</code>
          ))}
        </span>
        <span>{v.operation ? `${v.operation.type} running: the instance is stopped` : v.status}</span>
      </p>
      {v.notices.map((n) => (
        <p key={n} className="muted">
          {n}
        </p>
      ))}
      <button type="button" className="small" disabled={busy || v.operation !== null} onClick={backUp}>
        {busy ? 'Starting backup…' : 'Back up now'}
      </button>
      {backups.data && backups.data.length > 0 && (
        <table className="rows">
          <caption className="sr-only">Backups of the volume, oldest first</caption>
          <thead>
            <tr>
              <th scope="col">Backup</th>
              <th scope="col">Status</th>
              <th scope="col">Size</th>
              <th scope="col">Taken</th>
            </tr>
          </thead>
          <tbody>
            {backups.data.map((b) => (
              <tr key={b.id}>
                <th scope="row" data-label="Backup">
                  {b.name} <code className="id">{b.id}</code>
                </th>
                <td data-label="Status">{b.status}</td>
                <td data-label="Size">{mb(b.sizeBytes)}</td>
                <td data-label="Taken">
                  <When at={b.createdAt} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
