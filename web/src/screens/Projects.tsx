import { get, paths, type Project } from '../api.ts';
import { usePoll } from '../hooks.ts';
import { href, Link } from '../router.tsx';
import { Problem } from '../ui.tsx';

export function Projects() {
  const projects = usePoll((signal) => get<{ data: { projects: Project[] } }>(paths.projects(), signal).then((r) => r.data.projects), [], 5000);
  return (
    <section>
      <h1 tabIndex={-1}>Projects</h1>
      <Problem error={projects.error} />
      {projects.loading && <p aria-live="polite">Loading…</p>}
      {projects.data?.length === 0 && <p>No projects yet. Create one with the CLI or <code>POST /v1/projects</code>.</p>}
      {projects.data && projects.data.length > 0 && (
        <ul className="cards" aria-label="Projects">
          {projects.data.map((p) => (
            <li key={p.id}>
              <Link to={href.project(p.id)}>{p.name}</Link>
              {p.description && <p className="muted">{p.description}</p>}
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
