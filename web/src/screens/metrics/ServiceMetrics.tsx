/**
 * A service's metrics as live time-series charts (uPlot): traffic, answers by status class, latency, and
 * each instance's CPU and memory against its plan; rollouts and scaling marked on the time axis and listed
 * below. Polls every 5 s.
 */
import { useMemo, useState } from 'react';
import { get } from '../../api.ts';
import { usePoll } from '../../hooks.ts';
import { Problem } from '../../ui.tsx';
import { Chart, MARKER_COLOURS } from './Chart.tsx';
import { align, metricsPaths, own, perInstance, rangeQuery, RANGES, type MetricsAnswer, type RangeId } from './metrics-data.ts';
import './metrics.css';

const LIVE_MS = 5000;
const NAMES = ['requests_per_second', 'responses_2xx', 'responses_3xx', 'responses_4xx', 'responses_5xx', 'latency_p50_seconds', 'latency_p90_seconds', 'latency_p99_seconds', 'latency_avg_seconds', 'cpu_percent', 'memory_bytes', 'restarts'];

export function RangePicker({ value, onChange }: { value: RangeId; onChange: (r: RangeId) => void }) {
  return (
    <div role="group" aria-label="Time range" className="range-picker">
      {RANGES.map((r) => (
        <button key={r.id} type="button" aria-pressed={value === r.id} className={value === r.id ? 'primary' : ''} onClick={() => onChange(r.id)}>
          {r.label}
        </button>
      ))}
    </div>
  );
}

export function ServiceMetrics({ project, service }: { project: string; service: string }) {
  const [range, setRange] = useState<RangeId>('15m');
  const answer = usePoll((signal) => get<MetricsAnswer>(metricsPaths.service(project, service, rangeQuery(range, NAMES)), signal), [project, service, range], LIVE_MS);
  const a = answer.data;
  const charts = useMemo(() => {
    if (!a) return undefined;
    const latency = ['p50', 'p90', 'p99'].flatMap((q) => own(a.series, `latency_${q}_seconds`, q));
    return {
      rps: align(own(a.series, 'requests_per_second', 'requests/s')),
      classes: align(['2xx', '3xx', '4xx', '5xx'].flatMap((k) => own(a.series, `responses_${k}`, k))),
      latency: align(latency.length ? latency : own(a.series, 'latency_avg_seconds', 'mean'), 1000),
      cpu: align(perInstance(a.series, 'cpu_percent')),
      memory: align(perInstance(a.series, 'memory_bytes'), 1 / 1048576),
    };
  }, [a]);
  const markers = a?.markers ?? [];
  const span = a ? { from: a.from, to: a.to } : { from: 0, to: 1 };

  return (
    <section aria-labelledby="metrics-h" className="panel metrics">
      <div className="panel-head">
        <h2 id="metrics-h">Metrics</h2>
        <RangePicker value={range} onChange={setRange} />
      </div>
      <Problem error={answer.error} />
      {a && charts && (
        <>
          <p className="muted">
            {a.step} s per point{a.resolution === '1m' ? ' (minute roll-ups)' : ''} · live
          </p>
          <div className="chart-grid">
            <Chart title="Requests per second" unit="req/s" data={charts.rps} markers={markers} range={span} />
            <Chart title="Responses by status" unit={`per ${a.step} s`} data={charts.classes} markers={markers} range={span} />
            <Chart title="Latency" unit="ms" data={charts.latency} markers={markers} range={span} />
            <Chart title="CPU" unit="% of plan" data={charts.cpu} markers={markers} range={span} />
            <Chart title="Memory" unit="MiB" data={charts.memory} markers={markers} range={span} />
          </div>
          <MarkerList markers={markers} />
        </>
      )}
    </section>
  );
}

export function MarkerList({ markers }: { markers: MetricsAnswer['markers'] }) {
  if (!markers?.length) return null;
  return (
    <details className="markers">
      <summary>
        {markers.length} rollout and scaling event{markers.length === 1 ? '' : 's'} marked on the charts
      </summary>
      <ul>
        {markers
          .slice()
          .reverse()
          .map((m, i) => (
            <li key={`${m.ts}-${i}`}>
              <span className="marker-swatch" style={{ background: MARKER_COLOURS[m.kind] ?? '#5a6270' }} aria-hidden="true" />
              <time dateTime={new Date(m.ts * 1000).toISOString()}>{new Date(m.ts * 1000).toLocaleTimeString()}</time> {m.kind} {m.reason.toLowerCase()}: {m.message}
            </li>
          ))}
      </ul>
    </details>
  );
}
