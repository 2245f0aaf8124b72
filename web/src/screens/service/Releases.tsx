import { useState } from 'react';
import { paths, post, type Release } from '../../api.ts';
import type { Polled } from '../../hooks.ts';
import { Problem, When } from '../../ui.tsx';

/**
 * Every release, newest first, with what it changed; any but the current one is a click away, and a
 * rollback says what it restored (the release's env, build … become the service's settings again).
 */
export function Releases(props: { project: string; service: string; releases: Polled<Release[]>; current: number | undefined; onDone: (message: string) => void }) {
  const { project, service, releases, current, onDone } = props;
  const [busy, setBusy] = useState<number>();
  const [error, setError] = useState<string>();

  const rollback = async (n: number) => {
    setBusy(n);
    setError(undefined);
    try {
      const res = await post<{ restored?: string[] }>(paths.rollback(project, service), { release: n });
      onDone(res.restored?.length ? `Rolling back to release ${n}: restored ${res.restored.join(', ')}.` : `Rolling back to release ${n}.`);
    } catch (err) {
      setError(`Rollback failed: ${(err as Error).message}`);
    } finally {
      setBusy(undefined);
    }
  };

  return (
    <section aria-labelledby="releases-h" className="panel">
      <h2 id="releases-h">Releases</h2>
      <Problem error={releases.error ?? error} />
      {releases.data?.length === 0 && <p className="muted">No release yet: the first build makes one.</p>}
      {releases.data && releases.data.length > 0 && (
        <table className="rows">
          <caption className="sr-only">Releases, newest first</caption>
          <thead>
            <tr>
              <th scope="col">Release</th>
              <th scope="col">Source</th>
              <th scope="col">Changes</th>
              <th scope="col">Created</th>
              <th scope="col">
                <span className="sr-only">Action</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {releases.data.map((r) => (
              <tr key={r.id} aria-current={r.number === current ? 'true' : undefined}>
                <th scope="row" data-label="Release">
                  {r.number}
                  {r.number === current && <span className="badge ok">current</span>}
                </th>
                <td data-label="Source">
                  <code className="id">{r.image ?? (r.buildId ? `build ${r.buildId}` : r.specHash.slice(0, 12))}</code>
                </td>
                <td data-label="Changes">{r.changes?.length ? r.changes.join(', ') : <span className="muted">—</span>}</td>
                <td data-label="Created">
                  <When at={r.createdAt} />
                </td>
                <td data-label="Action">
                  {r.number !== current && (
                    <button type="button" className="small" disabled={busy !== undefined} aria-label={`Roll back to release ${r.number}`} onClick={() => rollback(r.number)}>
                      {busy === r.number ? 'Rolling back…' : 'Roll back'}
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
