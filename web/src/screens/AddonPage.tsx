import { useState } from 'react';
import { get, post, paths, type Addon, type AddonBackup, type AddonRestore } from '../api.ts';
import { usePoll } from '../hooks.ts';
import { href, Link } from '../router.tsx';
import { Problem, StatusBadge, When } from '../ui.tsx';
import { AddonMetrics } from './metrics/AddonMetrics.tsx';
import { BackupTo, storedAt } from './addons/BackupTo.tsx';
import { AddonOps } from './addons/AddonOps.tsx';
import { ConfirmButton, EmptyState } from '../components/index.ts';

const POLL_MS = 2000;
const tone = (status: string) => (status === 'running' ? 'ready' : status);

/** One addon: its status, pause/resume/restart, its backups (take one, restore one) and its restore history. */
export function AddonPage({ project, addon }: { project: string; addon: string }) {
  const a = usePoll((signal) => get<{ data: Addon }>(paths.addon(project, addon), signal).then((r) => r.data), [project, addon], POLL_MS);
  const backups = usePoll((signal) => get<{ data: { backups: AddonBackup[] } }>(`${paths.addonBackups(project, addon)}?per_page=100`, signal).then((r) => r.data.backups), [project, addon], POLL_MS);
  const restores = usePoll((signal) => get<{ data: { restores: AddonRestore[] } }>(paths.addonRestores(project, addon), signal).then((r) => r.data.restores), [project, addon], POLL_MS);
  const [notice, setNotice] = useState('');
  const [problem, setProblem] = useState<string>();
  const [busy, setBusy] = useState(false);
  const [destination, setDestination] = useState('');

  const act = async (what: string, path: string, body?: unknown) => {
    setBusy(true);
    setProblem(undefined);
    try {
      await post(path, body);
      setNotice(what);
      a.reload();
      backups.reload();
      restores.reload();
    } catch (err) {
      setProblem((err as Error).message);
    } finally {
      setBusy(false);
    }
  };

  const d = a.data;
  return (
    <section>
      <nav aria-label="Breadcrumb" className="crumbs">
        <Link to={href.projects()}>Projects</Link> / <Link to={href.project(project)}>{project}</Link> / <span aria-current="page">{addon}</span>
      </nav>
      <div className="title">
        <h1 tabIndex={-1}>{d?.name ?? addon}</h1>
        {d && <StatusBadge status={tone(d.status)} label={d.status} />}
      </div>
      <Problem error={a.error ?? problem} />
      {d && (
        <p className="muted facts">
          <span>
            {d.type} {d.version}
          </span>
          <span>{d.billing.deploymentPlan}</span>
          <span>{d.billing.storage} MB</span>
          <span>{(d as Addon & { tlsEnabled?: boolean }).tlsEnabled ? 'TLS connections only' : 'no TLS'}</span>
          <span>{(d as Addon & { externalAccessEnabled?: boolean }).externalAccessEnabled ? 'external access on (router TCP port in the credentials)' : 'no external access'}</span>
          {d.statusMessage && <span>{d.statusMessage}</span>}
        </p>
      )}
      <p role="status" className="notice">
        {notice}
      </p>
      {d && (
        <div className="actions">
          {d.status === 'paused' ? (
            <button type="button" disabled={busy} onClick={() => act('Resume requested.', paths.addonAction(project, addon, 'resume'))}>
              Resume
            </button>
          ) : (
            <>
              <button type="button" disabled={busy} onClick={() => act('Pause requested.', paths.addonAction(project, addon, 'pause'))}>
                Pause
              </button>
              <button type="button" disabled={busy} onClick={() => act('Restart requested.', paths.addonAction(project, addon, 'restart'))}>
                Restart
              </button>
              <button type="button" disabled={busy} onClick={() => act('Backup scheduled.', paths.addonBackups(project, addon), { backupType: 'dump', ...(destination ? { customDestinationId: destination } : {}) })}>
                Back up now
              </button>
              <BackupTo value={destination} onChange={setDestination} />
            </>
          )}
        </div>
      )}
      {d && <AddonOps project={project} addon={addon} paused={d.status === 'paused'} onChange={() => backups.reload()} />}
      <h2>Backups</h2>
      <Problem error={backups.error} />
      {backups.data?.length === 0 && <EmptyState title="No backups yet">Press Back up now to take one; it can be restored from here.</EmptyState>}
      {backups.data && backups.data.length > 0 && (
        <table aria-label="Backups">
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Status</th>
              <th scope="col">Size</th>
              <th scope="col">Stored in</th>
              <th scope="col">Taken</th>
              <th scope="col">
                <span className="sr-only">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {backups.data.map((b) => (
              <tr key={b.id}>
                <td>{b.name}</td>
                <td>
                  <StatusBadge status={b.status} label={b.status} />
                </td>
                <td>{b.status === 'completed' ? `${b.config.size} bytes` : (b.message ?? '—')}</td>
                <td>{storedAt(b)}</td>
                <td>
                  <When at={b.createdAt} />
                </td>
                <td>
                  {b.status === 'completed' && d?.status !== 'paused' && (
                    <ConfirmButton small label="Restore" title={`Restore '${b.name}'?`} onConfirm={() => act(`Restore of '${b.name}' scheduled.`, paths.addonRestore(project, addon, b.id))}>
                      The addon's data becomes exactly this backup's.
                    </ConfirmButton>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <h2>Restores</h2>
      <Problem error={restores.error} />
      {restores.data?.length === 0 && <EmptyState title="No restores yet">Restore a completed backup from the table above.</EmptyState>}
      {restores.data && restores.data.length > 0 && (
        <ul aria-label="Restores">
          {restores.data.map((r) => (
            <li key={r.id}>
              <StatusBadge status={r.status} label={r.status} /> backup <code>{r.backupId}</code> <When at={r.restoreTimestamp} />
              {r.message && <span className="muted"> — {r.message}</span>}
            </li>
          ))}
        </ul>
      )}
      <AddonMetrics project={project} addon={addon} />
    </section>
  );
}
