/** An addon server's CPU and memory as live charts (the same as a service's instances). */
import { useMemo, useState } from 'react';
import { get } from '../../api.ts';
import { usePoll } from '../../hooks.ts';
import { Problem } from '../../ui.tsx';
import { Chart } from './Chart.tsx';
import { RangePicker } from './ServiceMetrics.tsx';
import { align, metricsPaths, perInstance, rangeQuery, type MetricsAnswer, type RangeId } from './metrics-data.ts';

export function AddonMetrics({ project, addon }: { project: string; addon: string }) {
  const [range, setRange] = useState<RangeId>('15m');
  const answer = usePoll((signal) => get<MetricsAnswer>(metricsPaths.addon(project, addon, rangeQuery(range, ['cpu_percent', 'memory_bytes', 'memory_percent'])), signal), [project, addon, range], 5000);
  const a = answer.data;
  const charts = useMemo(() => (a ? { cpu: align(perInstance(a.series, 'cpu_percent')), memory: align(perInstance(a.series, 'memory_bytes'), 1 / 1048576) } : undefined), [a]);
  const span = a ? { from: a.from, to: a.to } : { from: 0, to: 1 };
  return (
    <section aria-labelledby="addon-metrics-h" className="panel metrics">
      <div className="panel-head">
        <h2 id="addon-metrics-h">Metrics</h2>
        <RangePicker value={range} onChange={setRange} />
      </div>
      <Problem error={answer.error} />
      {charts && (
        <div className="chart-grid">
          <Chart title="CPU" unit="% of plan" data={charts.cpu} markers={[]} range={span} />
          <Chart title="Memory" unit="MiB" data={charts.memory} markers={[]} range={span} />
        </div>
      )}
    </section>
  );
}
