/**
 * A native canary's live traffic on the service page: the split the router carries (requested and
 * effective share, endpoints, pins), the last minute per release, and a chart of each analysis window
 * (the new release's 5xx share and p99 against the stable release's), from `GET …/rollouts/{n}`.
 */
import { useEffect, useRef } from 'react';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { get, paths, type CanaryDetail } from '../../api.ts';
import { usePoll } from '../../hooks.ts';
import { Problem } from '../../ui.tsx';

export function CanaryTraffic(props: { project: string; service: string; number: number; running: boolean }) {
  const { project, service, number, running } = props;
  const view = usePoll((signal) => get<{ canary?: CanaryDetail }>(paths.rollout(project, service, number), signal).then((r) => r.canary), [project, service, number], running ? 2000 : 0);
  const c = view.data;
  if (!c) return <Problem error={view.error} />;
  const split = c.traffic?.split;
  const measurements = c.analysis?.measurements ?? [];
  return (
    <div className="canary-traffic" aria-label={`Traffic of canary rollout ${number}`}>
      <Problem error={view.error} />
      {split && (
        <p>
          Router split: <strong>{split.percent}%</strong> of requests to the new release (weights give {split.effectivePercent}%) · {split.canaryEndpoints} new, {split.stableEndpoints} old instance
          {split.stableEndpoints === 1 ? '' : 's'}
          {split.pins > 0 && ` · ${split.pins} pin${split.pins === 1 ? '' : 's'}`}
        </p>
      )}
      {c.traffic && c.traffic.releases.length > 0 && (
        <table>
          <caption>Last {c.traffic.windowSeconds} s through the router</caption>
          <thead>
            <tr>
              <th scope="col">release</th>
              <th scope="col">requests</th>
              <th scope="col">5xx</th>
              <th scope="col">p50 ms</th>
              <th scope="col">p99 ms</th>
            </tr>
          </thead>
          <tbody>
            {c.traffic.releases.map((r) => (
              <tr key={r.release}>
                <td>{r.release}</td>
                <td>{r.requests}</td>
                <td>{r.errorRate}%</td>
                <td>{r.latencyP50Ms ?? '—'}</td>
                <td>{r.latencyP99Ms ?? '—'}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {c.analysis && (
        <p className="muted">
          Analysis every {c.analysis.interval} s · {c.analysis.failures} failed of {measurements.length} measurement{measurements.length === 1 ? '' : 's'} (limit {c.analysis.failureLimit})
        </p>
      )}
      {measurements.length > 0 && <AnalysisChart measurements={measurements} />}
    </div>
  );
}

/** 5xx share and p99 of the new release per analysis window, with the stable release's beside them. */
function AnalysisChart(props: { measurements: NonNullable<CanaryDetail['analysis']>['measurements'] }) {
  const ref = useRef<HTMLDivElement>(null);
  const { measurements } = props;
  useEffect(() => {
    if (!ref.current) return;
    const pick = (name: string, key: 'value' | 'stable') => measurements.map((m) => m.results.find((r) => r.metric === name)?.[key] ?? null);
    const data: uPlot.AlignedData = [measurements.map((m) => Date.parse(m.at) / 1000), pick('errorRate', 'value'), pick('errorRate', 'stable'), pick('latencyP99', 'value'), pick('latencyP99', 'stable')];
    const plot = new uPlot(
      {
        width: Math.min(640, ref.current.clientWidth || 640),
        height: 200,
        scales: { pct: { auto: true }, ms: { auto: true } },
        axes: [{}, { scale: 'pct', label: '5xx %' }, { scale: 'ms', side: 1, label: 'p99 ms', grid: { show: false } }],
        series: [
          {},
          { label: 'new 5xx %', scale: 'pct', stroke: '#c0392b', width: 2 },
          { label: 'stable 5xx %', scale: 'pct', stroke: '#7f8c8d', dash: [4, 4] },
          { label: 'new p99 ms', scale: 'ms', stroke: '#2471a3', width: 2 },
          { label: 'stable p99 ms', scale: 'ms', stroke: '#85c1e9', dash: [4, 4] },
        ],
      },
      data,
      ref.current,
    );
    return () => plot.destroy();
  }, [measurements]);
  return <div ref={ref} role="img" aria-label={`Analysis chart: ${measurements.map((m) => `step ${m.step} ${m.verdict}`).join(', ')}`} />;
}
