import { get, paths, type AddonItem, type ServiceItem } from '../api.ts';
import { usePoll } from '../hooks.ts';
import { href, Link } from '../router.tsx';
import { Problem, StatusBadge } from '../ui.tsx';
import { SecretGroups } from './SecretGroups.tsx';
import { NoServices, ProjectActions, ProjectDanger } from './manage/ProjectExtras.tsx';
import { ProjectPipelines } from './pipelines/PipelineBoard.tsx';

export function ProjectServices({ project }: { project: string }) {
  const addons = usePoll((signal) => get<{ data: { addons: AddonItem[] } }>(paths.addons(project), signal).then((r) => r.data.addons), [project], 3000);
  const services = usePoll((signal) => get<{ data: { services: ServiceItem[] } }>(paths.services(project), signal).then((r) => r.data.services), [project], 3000);
  return (
    <section>
      <nav aria-label="Breadcrumb" className="crumbs">
        <Link to={href.projects()}>Projects</Link> / <span aria-current="page">{project}</span>
      </nav>
      <h1 tabIndex={-1}>{project}</h1>
      <ProjectActions project={project} />
      <h2>Services</h2>
      <Problem error={services.error} />
      {services.loading && <p aria-live="polite">Loading…</p>}
      {services.data?.length === 0 && <NoServices project={project} />}
      {services.data && services.data.length > 0 && (
        <ul className="cards" aria-label="Services">
          {services.data.map((s) => (
            <li key={s.id}>
              <Link to={href.service(project, s.id)}>{s.name}</Link> <span className="muted">{s.serviceType}</span>
              <div>
                <StatusBadge status={s.status.deployment.status} />
              </div>
            </li>
          ))}
        </ul>
      )}
      <h2>Addons</h2>
      <Problem error={addons.error} />
      {addons.data?.length === 0 && <p>This project has no addons yet.</p>}
      {addons.data && addons.data.length > 0 && (
        <ul className="cards" aria-label="Addons">
          {addons.data.map((a) => (
            <li key={a.id}>
              <Link to={href.addon(project, a.id)}>{a.name}</Link> <span className="muted">{a.spec.type}</span>
              <div>
                <StatusBadge status={a.status === 'running' ? 'ready' : a.status} label={a.status} />
              </div>
            </li>
          ))}
        </ul>
      )}
      <ProjectPipelines project={project} />
      <SecretGroups project={project} />
      <ProjectDanger project={project} />
    </section>
  );
}
