/**
 * A stage's GitOps line on the pipeline board: where its release flow file is kept, the commit synced last,
 * and the error of a push whose file did not apply (the flow then stays as it was).
 */
import { get } from '../../api.ts';
import { usePoll } from '../../hooks.ts';

interface GitopsStatus {
  enabled: boolean;
  repoUrl?: string;
  branch?: string;
  filePath?: string;
  syncedSha?: string | null;
  error?: { sha: string; message: string } | null;
}

export function GitopsLine({ project, pipeline, stage }: { project: string; pipeline: string; stage: string }) {
  const st = usePoll((signal) => get<GitopsStatus>(`/projects/${encodeURIComponent(project)}/pipelines/${encodeURIComponent(pipeline)}/stages/${encodeURIComponent(stage)}/release-flow/gitops`, signal), [project, pipeline, stage], 5000);
  const g = st.data;
  if (!g?.enabled) return null;
  return (
    <div className="gitops" aria-label={`${stage} GitOps`}>
      <div className="muted">
        kept in {g.filePath} on {g.branch} · synced {g.syncedSha ? g.syncedSha.slice(0, 12) : 'not yet'}
      </div>
      {g.error && <div role="alert">Last push not applied: {g.error.message}</div>}
    </div>
  );
}
