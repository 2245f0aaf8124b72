import { useState } from 'react';
import { get } from '../../../api.ts';
import { cronInWords, Form, localTime, nextCronRuns, NumberField, SelectField, send, TextField } from '../../../components/index.ts';
import { usePoll } from '../../../hooks.ts';
import { href, Link, navigate } from '../../../router.tsx';
import { manageHref } from '../routes.ts';
import { jobPaths } from './types.ts';

/** Create a manual or cron job that runs a command from one of the project's services. */
export function NewJob({ project }: { project: string }) {
  const [name, setName] = useState('');
  const [kind, setKind] = useState<'manual' | 'cron'>('cron');
  const [schedule, setSchedule] = useState('*/5 * * * *');
  const [source, setSource] = useState('');
  const [command, setCommand] = useState('');
  const [plan, setPlan] = useState('nf-compute-20');
  const [backoff, setBackoff] = useState('0');
  const [policy, setPolicy] = useState<'allow' | 'forbid' | 'replace'>('forbid');
  const services = usePoll((signal) => get<{ data: { services: { id: string; name: string; serviceType: string }[] } }>(`/v1/projects/${encodeURIComponent(project)}/services?per_page=100`, signal).then((r) => r.data.services), [project], 0);
  const next = kind === 'cron' ? nextCronRuns(schedule, 3) : [];

  const submit = () =>
    send<{ data: { id: string } }>('POST', `${jobPaths.jobs(project)}/${kind}`, {
      name,
      billing: { deploymentPlan: plan },
      deployment: { internal: { id: source } },
      ...(command ? { command } : {}),
      backoffLimit: Number(backoff),
      ...(kind === 'cron' ? { schedule, concurrencyPolicy: policy } : {}),
    });

  return (
    <section>
      <nav aria-label="Breadcrumb" className="crumbs">
        <Link to={href.projects()}>Projects</Link> / <Link to={href.project(project)}>{project}</Link> / <Link to={manageHref.jobs(project)}>Jobs</Link> / <span aria-current="page">New job</span>
      </nav>
      <h1 tabIndex={-1}>New job</h1>
      <Form submit="Create job" onSubmit={submit} onDone={(r) => navigate(manageHref.job(project, (r as { data: { id: string } }).data.id))}>
        <TextField field="name" label="Name" value={name} onChange={setName} required hint="3-54 characters: letters, digits, dashes or spaces." />
        <SelectField field="kind" label="Runs" value={kind} onChange={setKind} options={[{ value: 'cron', label: 'On a schedule (cron)' }, { value: 'manual', label: 'By hand' }]} />
        {kind === 'cron' && (
          <>
            <TextField
              field="schedule"
              label="Schedule (cron, UTC)"
              value={schedule}
              onChange={setSchedule}
              hint={
                <span aria-live="polite">
                  {cronInWords(schedule)}.{next.length > 0 ? ` Next in your time: ${next.map(localTime).join('; ')}.` : ''}
                </span>
              }
            />
            <SelectField field="concurrencyPolicy" label="When a run is still going at the next tick" value={policy} onChange={setPolicy} options={[{ value: 'forbid', label: 'Skip the new run' }, { value: 'allow', label: 'Run both' }, { value: 'replace', label: 'Stop the old run' }]} />
          </>
        )}
        <SelectField
          field="deployment.internal.id"
          label="Run the code of"
          value={source}
          onChange={setSource}
          options={[{ value: '', label: services.data?.length === 0 ? 'No services in this project yet' : 'Choose a service' }, ...(services.data ?? []).map((s) => ({ value: s.id, label: `${s.name} (${s.serviceType})` }))]}
        />
        <TextField field="command" label="Command (optional)" value={command} onChange={setCommand} hint="A shell command; empty: the source's start command." />
        <div className="grid2">
          <TextField field="billing.deploymentPlan" label="Plan" value={plan} onChange={setPlan} />
          <NumberField field="backoffLimit" label="Retries after a failure" value={backoff} onChange={setBackoff} min={0} max={20} />
        </div>
      </Form>
    </section>
  );
}
