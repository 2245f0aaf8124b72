import { useState } from 'react';
import { get, getText, paths, type Build } from '../../api.ts';
import { usePoll } from '../../hooks.ts';
import { Problem, StatusBadge, When } from '../../ui.tsx';

export function Builds({ project, service }: { project: string; service: string }) {
  const builds = usePoll((signal) => get<{ data: { builds: Build[] } }>(paths.builds(project, service), signal).then((r) => r.data.builds), [project, service], 5000);
  const [open, setOpen] = useState<string>();
  const log = usePoll((signal) => (open ? getText(paths.buildLog(project, service, open), signal) : Promise.resolve('')), [project, service, open], open && !builds.data?.find((b) => b.id === open)?.concluded ? 2000 : 0);

  return (
    <section aria-labelledby="builds-h" className="panel">
      <h2 id="builds-h">Builds</h2>
      <Problem error={builds.error} />
      {builds.data?.length === 0 && <p className="muted">No builds yet.</p>}
      {builds.data && builds.data.length > 0 && (
        <table className="rows">
          <caption className="sr-only">Builds, newest first</caption>
          <thead>
            <tr>
              <th scope="col">Build</th>
              <th scope="col">Status</th>
              <th scope="col">Commit</th>
              <th scope="col">Created</th>
              <th scope="col">
                <span className="sr-only">Log</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {builds.data.map((b) => (
              <tr key={b.id}>
                <th scope="row" data-label="Build">
                  <code className="id">{b.id}</code>
                </th>
                <td data-label="Status">
                  <StatusBadge status={b.status} />
                </td>
                <td data-label="Commit">
                  <code>{b.sha ? b.sha.slice(0, 10) : '—'}</code>
                  {b.branch && <span className="muted"> {b.branch}</span>}
                </td>
                <td data-label="Created">
                  <When at={b.createdAt} />
                </td>
                <td data-label="Log">
                  <button type="button" className="small" aria-expanded={open === b.id} aria-controls="build-log" aria-label={`${open === b.id ? 'Hide' : 'Show'} log of build ${b.id}`} onClick={() => setOpen(open === b.id ? undefined : b.id)}>
                    {open === b.id ? 'Hide log' : 'Show log'}
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {open && (
        <>
          <h3>Log of build {open}</h3>
          <Problem error={log.error} />
          <pre id="build-log" className="log" tabIndex={0} aria-label={`Log of build ${open}`}>
            {log.data ?? 'Loading…'}
          </pre>
        </>
      )}
    </section>
  );
}
