/**
 * A pipeline as a board: its stages as columns, each with its resources (what each service runs and its
 * rollout status), its release flow's runs with their node states live, a Run button, and a Roll back button
 * on each concluded run (the stage goes back to the state after that run, as a new run).
 */
import { useState } from 'react';
import { get, post } from '../../api.ts';
import { usePoll } from '../../hooks.ts';
import { href, Link } from '../../router.tsx';
import { Problem, StatusBadge, When } from '../../ui.tsx';
import { GitopsLine } from './GitopsLine.tsx';
import { ConfirmButton, EmptyState } from '../../components/index.ts';
import './pipelines.css';

interface Pipeline {
  id: string;
  name: string;
  description?: string;
  stages: { name: string; nfObjects: { id: string; type: string }[] }[];
}
interface RunNode {
  path: string;
  kind: string;
  ref?: string;
  phase?: string;
  status: string;
  message?: string;
}
interface Run {
  id: string;
  number: number;
  name?: string;
  status: string;
  concluded: boolean;
  createdAt: string;
  restoresRunId?: string;
  message?: string;
  nodes: RunNode[];
}
interface Column {
  stage: string;
  resources: { id: string; type: string; runs?: string; status?: string }[];
  hasFlow: boolean;
  runs: Run[];
}

const TONE: Record<string, string> = { success: 'SUCCESS', failure: 'FAILED', aborted: 'ABORTED', running: 'running', pending: 'PENDING', queued: 'QUEUED', aborting: 'running', skipped: 'skipped' };
const badge = (status: string) => <StatusBadge status={TONE[status] ?? status} label={status} />;

async function loadBoard(project: string, pipeline: string, signal: AbortSignal): Promise<{ pipeline: Pipeline; columns: Column[] }> {
  const base = `/v1/projects/${encodeURIComponent(project)}`;
  const p = (await get<{ data: Pipeline }>(`${base}/pipelines/${encodeURIComponent(pipeline)}`, signal)).data;
  const columns: Column[] = [];
  for (const st of p.stages) {
    const resources = await Promise.all(
      st.nfObjects.map(async (o) => {
        if (o.type !== 'service') return o;
        const s = (await get<{ data: { deployment?: { internal?: { id?: string; buildId?: string }; external?: { imagePath?: string } }; status?: { deployment?: { status?: string } } } }>(`${base}/services/${encodeURIComponent(o.id)}`, signal)).data;
        return { ...o, runs: s.deployment?.internal?.buildId ?? s.deployment?.external?.imagePath ?? (s.deployment?.internal?.id ? `latest of ${s.deployment.internal.id}` : undefined), status: s.status?.deployment?.status };
      }),
    );
    let runs: Run[] = [];
    let hasFlow = true;
    try {
      const list = (await get<{ data: { runs: { id: string }[] } }>(`${base}/pipelines/${encodeURIComponent(pipeline)}/release-flows/${st.name}/runs?per_page=5`, signal)).data.runs;
      runs = await Promise.all(list.map((r) => get<Run>(`/release-flow-runs/${encodeURIComponent(r.id)}`, signal)));
    } catch {
      hasFlow = false;
    }
    columns.push({ stage: st.name, resources, hasFlow, runs });
  }
  return { pipeline: p, columns };
}

export function PipelineBoard({ project, pipeline }: { project: string; pipeline: string }) {
  const board = usePoll((signal) => loadBoard(project, pipeline, signal), [project, pipeline], 2000);
  const [error, setError] = useState<string>();
  const act = async (what: () => Promise<unknown>) => {
    setError(undefined);
    try {
      await what();
      board.reload();
    } catch (err) {
      setError((err as Error).message);
    }
  };
  const base = `/v1/projects/${encodeURIComponent(project)}/pipelines/${encodeURIComponent(pipeline)}`;
  return (
    <section>
      <nav aria-label="Breadcrumb" className="crumbs">
        <Link to={href.projects()}>Projects</Link> / <Link to={href.project(project)}>{project}</Link> / <span aria-current="page">{pipeline}</span>
      </nav>
      <h1 tabIndex={-1}>{board.data?.pipeline.name ?? pipeline}</h1>
      {board.data?.pipeline.description && <p>{board.data.pipeline.description}</p>}
      <Problem error={board.error ?? error} />
      {board.loading && <p aria-live="polite">Loading…</p>}
      <div className="board">
        {board.data?.columns.map((c) => (
          <section key={c.stage} aria-label={`${c.stage} stage`} className="column">
            <h2>{c.stage}</h2>
            <ul className="resources">
              {c.resources.map((r) => (
                <li key={`${r.type}/${r.id}`}>
                  {r.type === 'service' ? <Link to={href.service(project, r.id)}>{r.id}</Link> : r.type === 'addon' ? <Link to={href.addon(project, r.id)}>{r.id}</Link> : r.id} <span className="muted">{r.type}</span>
                  {r.runs && <div className="muted">runs {r.runs}</div>}
                  {r.status && <StatusBadge status={r.status} />}
                </li>
              ))}
              {c.resources.length === 0 && <li className="muted">no resources</li>}
            </ul>
            {c.hasFlow ? (
              <>
                <GitopsLine project={project} pipeline={pipeline} stage={c.stage} />
                <button type="button" onClick={() => act(() => post(`${base}/release-flows/${c.stage}/runs`, {}))}>
                  Run {c.stage} release flow
                </button>
                <h3>Runs</h3>
                <ol className="runs" aria-label={`${c.stage} runs`}>
                  {c.runs.map((r) => (
                    <li key={r.id}>
                      <div>
                        Run {r.number} {r.name && <span>“{r.name}”</span>} {badge(r.status)} <When at={r.createdAt} />
                      </div>
                      {r.message && <div className="muted">{r.message}</div>}
                      <ul aria-label={`nodes of run ${r.number}`}>
                        {r.nodes.map((n) => (
                          <li key={n.path}>
                            {n.ref ?? n.kind} <span className="muted">{n.phase ? `${n.kind} (${n.phase})` : n.kind}</span> {badge(n.status)}
                            {n.message && <div className="muted">{n.message}</div>}
                          </li>
                        ))}
                      </ul>
                      {r.concluded && r.nodes.some((n) => (n.kind === 'Release' || n.kind === 'Rollback') && n.status === 'success') && (
                        <ConfirmButton small label={`Roll back ${c.stage} to run ${r.number}`} title={`Roll back ${c.stage} to run ${r.number}?`} onConfirm={() => act(() => post(`${base}/stages/${c.stage}/release-flow/runs/${encodeURIComponent(r.id)}/rollback`))}>
                          The stage's resources go back to what this run released.
                        </ConfirmButton>
                      )}
                    </li>
                  ))}
                  {c.runs.length === 0 && <li className="muted">no runs yet</li>}
                </ol>
              </>
            ) : (
              <p className="muted">No release flow for this stage.</p>
            )}
          </section>
        ))}
      </div>
    </section>
  );
}

/** The project page's list of pipelines. */
export function ProjectPipelines({ project }: { project: string }) {
  const list = usePoll((signal) => get<{ data: { pipelines: { id: string; name: string; description?: string }[] } }>(`/v1/projects/${encodeURIComponent(project)}/pipelines`, signal).then((r) => r.data.pipelines), [project], 5000);
  return (
    <>
      <h2>Pipelines</h2>
      <Problem error={list.error} />
      {list.data?.length === 0 && <EmptyState title="This project has no pipelines yet">Create one with <code>POST /v1/projects/{project}/pipelines</code> (see docs/pipelines.md), listing the services, jobs and addons of each stage.</EmptyState>}
      {list.data && list.data.length > 0 && (
        <ul className="cards" aria-label="Pipelines">
          {list.data.map((p) => (
            <li key={p.id}>
              <Link to={href.pipeline(project, p.id)}>{p.name}</Link>
              {p.description && <p className="muted">{p.description}</p>}
            </li>
          ))}
        </ul>
      )}
    </>
  );
}
