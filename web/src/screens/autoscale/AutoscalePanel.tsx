import { get } from '../../api.ts';
import { usePoll } from '../../hooks.ts';
import { Problem, When } from '../../ui.tsx';

const POLL_MS = 3000;

interface MetricStatus {
  name: string;
  kind: 'cpu' | 'memory' | 'rps' | 'gauge' | 'counter';
  value: number | null;
  target: number;
  replicas: number | null;
}

/** `GET /projects/{p}/services/{s}/autoscaling` (see docs/autoscaling.md). */
export interface AutoscalingView {
  enabled: boolean;
  instances: number;
  spec: { minReplicas?: number; maxReplicas?: number } | null;
  status: {
    minReplicas: number;
    maxReplicas: number;
    currentReplicas: number;
    readyReplicas: number;
    desiredReplicas: number;
    metrics: MetricStatus[];
    reason: string;
    message: string;
    evaluatedAt?: string;
    lastScaleTime?: string;
  } | null;
  events: { reason: string; message: string; createdAt: string }[];
}

const enc = encodeURIComponent;
const num = (v: number) => (Math.abs(v) >= 10 ? Math.round(v) : Math.round(v * 100) / 100);
const pct = (m: MetricStatus) => m.kind === 'cpu' || m.kind === 'memory';
const unit = (m: MetricStatus) => (pct(m) ? '% of plan' : m.kind === 'rps' || m.kind === 'counter' ? '/s per instance' : ' per instance');

/** A service's horizontal autoscaling: current and desired instances, each metric against its target, recent scalings. */
export function AutoscalePanel({ project, service }: { project: string; service: string }) {
  const view = usePoll((signal) => get<AutoscalingView>(`/projects/${enc(project)}/services/${enc(service)}/autoscaling`, signal), [project, service], POLL_MS);
  const v = view.data;
  if (!v || !v.enabled) return view.error ? <Problem error={view.error} /> : null;
  const st = v.status;
  return (
    <section aria-labelledby="autoscale-h" className="panel">
      <h2 id="autoscale-h">Autoscaling</h2>
      <Problem error={view.error} />
      <p className="muted facts">
        <span>
          {st ? st.minReplicas : v.spec?.minReplicas} to {st ? st.maxReplicas : v.spec?.maxReplicas} instances
        </span>
        <span aria-label="current instances">{st ? st.currentReplicas : v.instances} current</span>
        {st && <span aria-label="desired instances">{st.desiredReplicas} desired</span>}
        {st && <span>{st.readyReplicas} ready</span>}
        {st && <span>{st.reason}</span>}
      </p>
      {st ? (
        <>
          <table aria-label="Autoscaling metrics">
            <thead>
              <tr>
                <th scope="col">metric</th>
                <th scope="col">value</th>
                <th scope="col">target</th>
                <th scope="col">asks for</th>
              </tr>
            </thead>
            <tbody>
              {st.metrics.map((m) => (
                <tr key={m.name}>
                  <td>
                    <code>{m.name}</code>
                  </td>
                  <td>{m.value === null ? 'not read yet' : `${num(m.value)}${unit(m)}`}</td>
                  <td>
                    {m.target}
                    {pct(m) ? '%' : ''}
                  </td>
                  <td>{m.replicas ?? '-'}</td>
                </tr>
              ))}
            </tbody>
          </table>
          <p className="muted" aria-label="Autoscaler says">
            {st.message}
          </p>
        </>
      ) : (
        <p className="muted">Not evaluated yet.</p>
      )}
      {v.events.length > 0 && (
        <>
          <h3>Recent scaling</h3>
          <ul aria-label="Scaling events">
            {[...v.events].reverse().slice(0, 5).map((e) => (
              <li key={`${e.createdAt}-${e.message}`}>
                <When at={e.createdAt} /> {e.message}
              </li>
            ))}
          </ul>
        </>
      )}
    </section>
  );
}
