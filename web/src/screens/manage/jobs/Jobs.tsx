import { get } from '../../../api.ts';
import { EmptyState, LiveStatus, Reserve } from '../../../components/index.ts';
import { usePoll } from '../../../hooks.ts';
import { href, Link } from '../../../router.tsx';
import { Problem } from '../../../ui.tsx';
import { manageHref } from '../routes.ts';
import { jobPaths, type JobItem } from './types.ts';

/** A project's jobs: manual and cron, each linking to its runs. */
export function Jobs({ project }: { project: string }) {
  const jobs = usePoll((signal) => get<{ data: { jobs: JobItem[] } }>(`${jobPaths.jobs(project)}?per_page=100`, signal).then((r) => r.data.jobs), [project], 5000);
  return (
    <section>
      <nav aria-label="Breadcrumb" className="crumbs">
        <Link to={href.projects()}>Projects</Link> / <Link to={href.project(project)}>{project}</Link> / <span aria-current="page">Jobs</span>
      </nav>
      <div className="title spread">
        <h1 tabIndex={-1}>Jobs of {project}</h1>
        <Link to={manageHref.newJob(project)} className="button-link">
          New job
        </Link>
      </div>
      <Problem error={jobs.error} />
      {!jobs.data && <Reserve lines={4}>{jobs.loading && <p>Loading…</p>}</Reserve>}
      {jobs.data?.length === 0 && (
        <EmptyState title="No jobs yet" action={<Link to={manageHref.newJob(project)}>Create a job</Link>}>
          A job runs a command to completion from a service's build: by hand (migrations, one-off tasks) or on a cron schedule.
        </EmptyState>
      )}
      {jobs.data && jobs.data.length > 0 && (
        <table className="rows">
          <caption className="sr-only">Jobs of {project}</caption>
          <thead>
            <tr>
              <th scope="col">Job</th>
              <th scope="col">Kind</th>
              <th scope="col">Schedule</th>
            </tr>
          </thead>
          <tbody>
            {jobs.data.map((j) => (
              <tr key={j.id}>
                <th scope="row" data-label="Job">
                  <Link to={manageHref.job(project, j.id)}>{j.name}</Link>
                </th>
                <td data-label="Kind">{j.jobType}</td>
                <td data-label="Schedule">{j.jobType === 'cron' ? <LiveStatus status={j.suspended ? 'SUSPENDED' : 'ACTIVE'} label={j.suspended ? 'suspended' : 'active'} /> : <span className="muted">run by hand</span>}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
