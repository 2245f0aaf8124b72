import { useState } from 'react';
import { EmptyState, InstanceCount, LiveStatus, Reserve, useEventStream } from '../../components/index.ts';
import { href, Link } from '../../router.tsx';
import { manageHref } from './routes.ts';

interface OverviewService {
  id: string;
  name: string;
  kind: string;
  status: string;
  paused: boolean;
  wanted: number;
  ready: number;
  release: number | null;
  lastRollout: { number: number; kind: string; status: string; finishedAt: string | null } | null;
}
interface OverviewProject {
  id: string;
  name: string;
  description?: string;
  services: OverviewService[];
}

/** Every project with its services at a glance, kept live by the `/overview` event stream. */
export function Overview() {
  const [data, setData] = useState<OverviewProject[]>();
  const live = useEventStream('/overview', (type, raw) => {
    if (type === 'overview') setData((JSON.parse(raw) as { projects: OverviewProject[] }).projects);
  });
  return (
    <section>
      <div className="title spread">
        <h1 tabIndex={-1}>Projects</h1>
        <Link to={manageHref.newProject()} className="button-link">
          New project
        </Link>
      </div>
      <p className="muted live-note" aria-live="off">
        {live.connected ? 'Live: updates as services change.' : live.error ? `Reconnecting… (${live.error})` : 'Connecting…'}
      </p>
      {!data && (
        <Reserve lines={6}>
          <p aria-live="polite">Loading…</p>
        </Reserve>
      )}
      {data?.length === 0 && (
        <EmptyState
          title="No projects yet"
          action={
            <Link to={manageHref.newProject()} className="button-link">
              Create your first project
            </Link>
          }
        >
          A project groups the services, jobs and addons of one application.
        </EmptyState>
      )}
      {data?.map((p) => (
        <section key={p.id} className="panel" aria-labelledby={`p-${p.id}`}>
          <div className="panel-head">
            <h2 id={`p-${p.id}`}>
              <Link to={href.project(p.id)}>{p.name}</Link>
            </h2>
            <span className="head-actions">
              <Link to={manageHref.jobs(p.id)} className="button-link secondary" aria-describedby={`p-${p.id}`}>
                Jobs
              </Link>
              <Link to={manageHref.newService(p.id)} className="button-link secondary" aria-describedby={`p-${p.id}`}>
                New service
              </Link>
            </span>
          </div>
          {p.description && <p className="muted">{p.description}</p>}
          {p.services.length === 0 ? (
            <EmptyState title="No services in this project" action={<Link to={manageHref.newService(p.id)}>Create a service from git, an upload or an image</Link>} />
          ) : (
            <table className="rows">
              <caption className="sr-only">Services of {p.name}</caption>
              <thead>
                <tr>
                  <th scope="col">Service</th>
                  <th scope="col">Status</th>
                  <th scope="col">Instances</th>
                  <th scope="col">Release</th>
                  <th scope="col">Last rollout</th>
                </tr>
              </thead>
              <tbody>
                {p.services.map((s) => (
                  <tr key={s.id} data-service={s.id}>
                    <th scope="row" data-label="Service">
                      <Link to={href.service(p.id, s.id)}>{s.name}</Link> <span className="muted">{s.kind}</span>
                    </th>
                    <td data-label="Status">
                      <LiveStatus status={s.paused ? 'PAUSED' : s.status} />
                    </td>
                    <td data-label="Instances">{s.kind === 'build' ? <span className="muted">builds only</span> : <InstanceCount ready={s.ready} wanted={s.wanted} />}</td>
                    <td data-label="Release">{s.release ?? <span className="muted">none yet</span>}</td>
                    <td data-label="Last rollout">
                      {s.lastRollout ? (
                        <>
                          #{s.lastRollout.number} {s.lastRollout.kind} <LiveStatus status={s.lastRollout.status} />
                        </>
                      ) : (
                        <span className="muted">none yet</span>
                      )}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </section>
      ))}
    </section>
  );
}
