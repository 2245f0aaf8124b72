import { get, secretPaths, type SecretGroupItem } from '../api.ts';
import { usePoll } from '../hooks.ts';
import { Problem } from '../ui.tsx';

/** What a group applies to, in words. */
export function targetsOf(g: SecretGroupItem): string {
  const r = g.restrictions ?? {};
  if (!r.restricted) return 'every service and job';
  const parts = [...(r.nfObjects ?? []).map((o) => `${o.type} ${o.id}`), ...(r.tags ?? []).map((t) => `tag ${t}`)];
  return parts.length ? parts.join(r.tagMatchCondition === 'and' ? ' and ' : ', ') : 'nothing';
}

/** A project's secret and configuration groups, and what each applies to (no values). */
export function SecretGroups({ project }: { project: string }) {
  const groups = usePoll((signal) => get<{ data: { secrets: SecretGroupItem[] } }>(secretPaths.groups(project), signal).then((r) => r.data.secrets), [project], 5000);
  return (
    <section aria-labelledby="groups-h" className="panel">
      <h2 id="groups-h">Secret groups</h2>
      <Problem error={groups.error} />
      {groups.data?.length === 0 && <p className="muted">No secret or configuration groups.</p>}
      {groups.data && groups.data.length > 0 && (
        <table className="rows">
          <caption className="sr-only">Secret groups of this project</caption>
          <thead>
            <tr>
              <th scope="col">Group</th>
              <th scope="col">Kind</th>
              <th scope="col">Holds</th>
              <th scope="col">Priority</th>
              <th scope="col">Applies to</th>
            </tr>
          </thead>
          <tbody>
            {groups.data.map((g) => (
              <tr key={g.id}>
                <th scope="row" data-label="Group">
                  {g.name}
                </th>
                <td data-label="Kind">{g.type}</td>
                <td data-label="Holds">{g.secretType === 'arguments' ? 'build arguments' : g.secretType === 'environment' ? 'runtime variables' : 'both'}</td>
                <td data-label="Priority">{g.priority}</td>
                <td data-label="Applies to">{targetsOf(g)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
