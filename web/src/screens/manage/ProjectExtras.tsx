import { ConfirmButton, EmptyState, Panel, send } from '../../components/index.ts';
import { href, Link, navigate } from '../../router.tsx';
import { manageHref } from './routes.ts';

/** A project page's create buttons. */
export function ProjectActions({ project }: { project: string }) {
  return (
    <div className="actions page-actions">
      <Link to={manageHref.newService(project)} className="button-link">
        New service
      </Link>
      <Link to={manageHref.newJob(project)} className="button-link secondary">
        New job
      </Link>
      <Link to={manageHref.jobs(project)} className="button-link secondary">
        Jobs
      </Link>
    </div>
  );
}

export function NoServices({ project }: { project: string }) {
  return (
    <EmptyState title="This project has no services yet" action={<Link to={manageHref.newService(project)}>Create a service</Link>}>
      Push code with git, upload a folder, or run an image.
    </EmptyState>
  );
}

/** Delete the project, confirmed by typing its id (the API refuses while it still holds services). */
export function ProjectDanger({ project }: { project: string }) {
  return (
    <Panel id="project-danger" title="Danger zone">
      <p>Deleting the project removes it for good; delete its services, jobs and addons first.</p>
      <ConfirmButton label="Delete project" title={`Delete project ${project}?`} confirmName={project} confirmLabel={`Delete ${project}`} danger onConfirm={() => send('DELETE', `/v1/projects/${encodeURIComponent(project)}`)} onDone={() => navigate(href.projects())} />
    </Panel>
  );
}
