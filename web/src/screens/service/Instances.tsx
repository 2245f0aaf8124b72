import type { Instance } from '../../api.ts';
import type { Polled } from '../../hooks.ts';
import { Problem, StatusBadge, When } from '../../ui.tsx';

export function Instances({ instances }: { instances: Polled<Instance[]> }) {
  const list = instances.data;
  return (
    <section aria-labelledby="instances-h" className="panel">
      <h2 id="instances-h">Instances</h2>
      <Problem error={instances.error} />
      {list?.length === 0 && <p className="muted">No instances run.</p>}
      {list && list.length > 0 && (
        <table className="rows">
          <caption className="sr-only">Instances of this service</caption>
          <thead>
            <tr>
              <th scope="col">Instance</th>
              <th scope="col">State</th>
              <th scope="col">Release</th>
              <th scope="col">Ready</th>
              <th scope="col">Restarts</th>
              <th scope="col">Probes</th>
              <th scope="col">Started</th>
            </tr>
          </thead>
          <tbody>
            {list.map((i) => (
              <tr key={i.id}>
                <th scope="row" data-label="Instance">
                  <code className="id">{i.id}</code>
                </th>
                <td data-label="State">
                  <StatusBadge status={i.state} />
                </td>
                <td data-label="Release">{i.release ?? '—'}</td>
                <td data-label="Ready">
                  {i.ready ? 'yes' : 'no'}
                  {i.ready && i.readyAt && (
                    <span className="muted">
                      {' '}
                      (<When at={i.readyAt} />)
                    </span>
                  )}
                </td>
                <td data-label="Restarts">
                  {i.restarts}
                  {i.lastExitCode !== null && i.restarts > 0 && <span className="muted"> (last exit {i.lastExitCode})</span>}
                </td>
                <td data-label="Probes">
                  <Probes probes={i.probes} />
                </td>
                <td data-label="Started">
                  <When at={i.startedAt} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

function Probes({ probes }: { probes: Instance['probes'] }) {
  const entries = Object.entries(probes ?? {});
  if (entries.length === 0) return <span className="muted">port check</span>;
  return (
    <ul className="plain">
      {entries.map(([kind, p]) => (
        <li key={kind} title={p.lastError}>
          {kind.replace(/Probe$/, '')}: {p.passing ? 'passing' : `failing${p.consecutiveFailures ? ` ×${p.consecutiveFailures}` : ''}`}
        </li>
      ))}
    </ul>
  );
}
