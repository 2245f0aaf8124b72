import { useState } from 'react';
import { get, secretPaths, type EnvironmentSource } from '../../api.ts';
import { usePoll } from '../../hooks.ts';
import { Problem } from '../../ui.tsx';

const HIDDEN = '••••••';

/**
 * The service's runtime variables as its instances get them, each with its source (its own value, or the
 * secret group it comes from) and what it overrides. Values stay hidden until revealed, row by row.
 */
export function Environment({ project, service }: { project: string; service: string }) {
  const env = usePoll(
    (signal) => get<{ data: { runtimeEnvironment: Record<string, EnvironmentSource> } }>(secretPaths.environment(project, service), signal).then((r) => r.data.runtimeEnvironment),
    [project, service],
    5000,
  );
  const [shown, setShown] = useState<Set<string>>(new Set());
  const toggle = (k: string) => setShown((cur) => (cur.has(k) ? new Set([...cur].filter((x) => x !== k)) : new Set([...cur, k])));
  const rows = Object.entries(env.data ?? {}).sort(([a], [b]) => a.localeCompare(b));
  const valueOf = (k: string, v: string | null) => (v === null ? <span className="muted">not readable with this token</span> : shown.has(k) ? <code>{v}</code> : <span aria-label="hidden value">{HIDDEN}</span>);
  return (
    <section aria-labelledby="env-h" className="panel">
      <h2 id="env-h">Environment</h2>
      <Problem error={env.error} />
      {env.data && rows.length === 0 && <p className="muted">No variables.</p>}
      {rows.length > 0 && (
        <table className="rows">
          <caption className="sr-only">Runtime variables of this service and where they come from</caption>
          <thead>
            <tr>
              <th scope="col">Variable</th>
              <th scope="col">Value</th>
              <th scope="col">From</th>
              <th scope="col">Overrides</th>
            </tr>
          </thead>
          <tbody>
            {rows.map(([k, s]) => (
              <tr key={k}>
                <th scope="row" data-label="Variable">
                  <code>{k}</code>
                </th>
                <td data-label="Value">
                  {valueOf(k, s.value)}{' '}
                  {s.value !== null && (
                    <button type="button" className="link" onClick={() => toggle(k)} aria-label={`${shown.has(k) ? 'Hide' : 'Reveal'} ${k}`}>
                      {shown.has(k) ? 'hide' : 'reveal'}
                    </button>
                  )}
                </td>
                <td data-label="From">{s.inheritedFrom ? `group ${s.inheritedFrom} (priority ${s.priority})` : 'this service'}</td>
                <td data-label="Overrides">{s.overriding.length ? s.overriding.map((o) => `${o.inheritedFrom} (${o.priority})`).join(', ') : <span className="muted">—</span>}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
