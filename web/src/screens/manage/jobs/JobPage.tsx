import { useState } from 'react';
import { get } from '../../../api.ts';
import { ConfirmButton, cronInWords, duration, EmptyState, Form, invalid, LiveStatus, localTime, nextCronRuns, Panel, Reserve, send, TextAreaField, TextField } from '../../../components/index.ts';
import { usePoll } from '../../../hooks.ts';
import { href, Link, navigate } from '../../../router.tsx';
import { Problem, When } from '../../../ui.tsx';
import { parseDotEnv } from '../settings/EnvSettings.tsx';
import { manageHref } from '../routes.ts';
import { jobPaths, type Job, type Run } from './types.ts';

/** One job: its schedule in words and local time, run now with overrides, runs with status, exit code, duration and logs. */
export function JobPage({ project, job }: { project: string; job: string }) {
  const j = usePoll((signal) => get<{ data: Job }>(jobPaths.job(project, job), signal).then((r) => r.data), [project, job], 5000);
  const runs = usePoll((signal) => get<{ data: { runs: Run[] } }>(`${jobPaths.runs(project, job)}?per_page=20`, signal).then((r) => r.data.runs), [project, job], 2000);
  const [command, setCommand] = useState('');
  const [env, setEnv] = useState('');
  const [logsOf, setLogsOf] = useState<string>();
  const [notice, setNotice] = useState('');
  const d = j.data;

  const runNow = async () => {
    const { vars, bad } = parseDotEnv(env);
    if (bad.length) throw invalid({ runtimeEnvironment: `line${bad.length > 1 ? 's' : ''} ${bad.join(', ')}: not KEY=value` });
    return send<{ data: Run }>('POST', jobPaths.runs(project, job), { ...(command ? { command } : {}), ...(Object.keys(vars).length ? { runtimeEnvironment: vars } : {}) });
  };

  return (
    <section>
      <nav aria-label="Breadcrumb" className="crumbs">
        <Link to={href.projects()}>Projects</Link> / <Link to={href.project(project)}>{project}</Link> / <Link to={manageHref.jobs(project)}>Jobs</Link> / <span aria-current="page">{job}</span>
      </nav>
      <div className="title">
        <h1 tabIndex={-1}>{d?.name ?? job}</h1>
        {d && <LiveStatus status={d.jobType === 'cron' ? (d.suspended ? 'SUSPENDED' : 'ACTIVE') : 'MANUAL'} label={d.jobType === 'cron' ? (d.suspended ? 'suspended' : 'scheduled') : 'manual'} />}
      </div>
      <Problem error={j.error} />
      <Reserve lines={3}>
        {d && (
          <div className="facts-block">
            <p>
              Runs {d.command ? <code>{d.command}</code> : 'the start command'} from {d.deployment.internal?.id ? <Link to={href.service(project, d.deployment.internal.id)}>{d.deployment.internal.id}</Link> : <code>{d.deployment.external?.imagePath}</code>} on {d.billing.deploymentPlan}
              {d.backoffLimit ? `, retried up to ${d.backoffLimit} times` : ''}.
            </p>
            {d.jobType === 'cron' && d.schedule && (
              <p>
                <strong>Schedule:</strong> <code>{d.schedule}</code>, {cronInWords(d.schedule)}.{nextCronRuns(d.schedule, 3).length > 0 && ` Next runs in your time: ${nextCronRuns(d.schedule, 3).map(localTime).join('; ')}.`}
              </p>
            )}
          </div>
        )}
      </Reserve>
      <p role="status" className="notice">
        {notice}
      </p>
      <Panel id="run-now" title="Run now">
        <Form submit="Run now" onSubmit={runNow} onDone={(r) => (setNotice(`Started run ${(r as { data: Run }).data.number}.`), runs.reload())} label="Run now">
          <TextField field="command" label="Command override (optional)" value={command} onChange={setCommand} />
          <TextAreaField field="runtimeEnvironment" label="Extra variables for this run (.env lines, optional)" value={env} onChange={setEnv} rows={2} />
        </Form>
      </Panel>
      <Panel id="runs" title="Runs">
        <Problem error={runs.error} />
        {runs.data?.length === 0 && <EmptyState title="No runs yet">{d?.jobType === 'cron' ? 'The first one starts at the next tick, or press Run now.' : 'Press Run now to start one.'}</EmptyState>}
        {runs.data && runs.data.length > 0 && (
          <table className="rows">
            <caption className="sr-only">Runs of {job}, newest first</caption>
            <thead>
              <tr>
                <th scope="col">Run</th>
                <th scope="col">Status</th>
                <th scope="col">Exit code</th>
                <th scope="col">Duration</th>
                <th scope="col">Started</th>
                <th scope="col">Logs</th>
              </tr>
            </thead>
            <tbody>
              {runs.data.map((r) => (
                <tr key={r.id}>
                  <th scope="row" data-label="Run">
                    #{r.number} {r.scheduledFor ? <span className="muted">scheduled</span> : <span className="muted">by hand</span>}
                  </th>
                  <td data-label="Status">
                    <LiveStatus status={r.runStatus} />
                    {r.message && <span className="muted"> {r.message}</span>}
                  </td>
                  <td data-label="Exit code">{r.exitCode ?? <span className="muted">—</span>}</td>
                  <td data-label="Duration">{duration(r.startedAt ?? r.createdAt, r.concludedAt)}</td>
                  <td data-label="Started">
                    <When at={r.startedAt ?? r.createdAt} />
                  </td>
                  <td data-label="Logs">
                    <button type="button" className="small secondary" aria-expanded={logsOf === r.id} onClick={() => setLogsOf(logsOf === r.id ? undefined : r.id)}>
                      {logsOf === r.id ? 'Hide' : 'Show'} logs<span className="sr-only"> of run {r.number}</span>
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
        {logsOf && <RunLogs project={project} job={job} run={logsOf} live={!runs.data?.find((r) => r.id === logsOf)?.concluded} />}
      </Panel>
      {d && (
        <Panel id="job-danger" title="Manage">
          <div className="actions">
            {d.jobType === 'cron' && (
              <Form submit={d.suspended ? 'Resume schedule' : 'Suspend schedule'} onSubmit={() => send('POST', `${jobPaths.job(project, job)}/suspend`, { suspended: !d.suspended })} onDone={() => j.reload()} label="Suspend or resume">
                <></>
              </Form>
            )}
            <ConfirmButton label="Delete job" title={`Delete ${d.name}?`} confirmName={d.id} danger onConfirm={() => send('DELETE', jobPaths.job(project, job))} onDone={() => navigate(manageHref.jobs(project))}>
              Its schedule stops and its runs' records are removed.
            </ConfirmButton>
          </div>
        </Panel>
      )}
    </section>
  );
}

function RunLogs({ project, job, run, live }: { project: string; job: string; run: string; live: boolean }) {
  const logs = usePoll((signal) => get<{ lines: { ts: string; stream: string; line: string }[] }>(jobPaths.runLogs(project, job, run), signal).then((r) => r.lines), [project, job, run], live ? 2000 : 0);
  return (
    <div>
      <h3 className="sub">Output of the run</h3>
      <Problem error={logs.error} />
      <div className="log" role="log" aria-label="Run output" tabIndex={0}>
        {logs.data?.length === 0 && <span className="muted">No output.</span>}
        {logs.data?.map((l, i) => (
          <div key={i} className={l.stream === 'stderr' ? 'err' : undefined}>
            <span className="ts">{new Date(l.ts).toLocaleTimeString()}</span> {l.line}
          </div>
        ))}
      </div>
    </div>
  );
}
