/**
 * One time-series chart drawn by uPlot, with the service's rollouts and scaling marked on the time axis as
 * vertical lines. The chart is built once per set of lines and updated in place as new data arrives (live).
 */
import { useEffect, useRef } from 'react';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import type { ChartData, MetricMarker } from './metrics-data.ts';

const PALETTE = ['#1f5fd1', '#d1681f', '#17723a', '#8a3ad1', '#b42318', '#0f8a8a', '#8a5a00', '#5a6270'];

export const MARKER_COLOURS: Record<string, string> = { rollout: '#1f5fd1', release: '#5a6270', autoscale: '#d1681f', autoscaling: '#d1681f', scale: '#d1681f' };

function markerPlugin(markers: () => MetricMarker[]): uPlot.Plugin {
  return {
    hooks: {
      draw: (u) => {
        const ctx = u.ctx;
        const { top, height } = u.bbox;
        ctx.save();
        for (const m of markers()) {
          if (m.ts < (u.scales.x.min ?? -Infinity) || m.ts > (u.scales.x.max ?? Infinity)) continue;
          const x = Math.round(u.valToPos(m.ts, 'x', true));
          ctx.strokeStyle = MARKER_COLOURS[m.kind] ?? '#5a6270';
          ctx.lineWidth = 1.5 * devicePixelRatio;
          ctx.setLineDash(m.reason === 'Started' ? [] : [4 * devicePixelRatio, 3 * devicePixelRatio]);
          ctx.beginPath();
          ctx.moveTo(x, top);
          ctx.lineTo(x, top + height);
          ctx.stroke();
        }
        ctx.restore();
      },
    },
  };
}

export function Chart({ title, unit, data, markers, range }: { title: string; unit: string; data: ChartData; markers: MetricMarker[]; range: { from: number; to: number } }) {
  const holder = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | undefined>(undefined);
  const markersRef = useRef(markers);
  markersRef.current = markers;
  const shape = data.lines.map((l) => l.label).join('\u0000');

  useEffect(() => {
    const el = holder.current!;
    const width = () => Math.max(240, el.clientWidth);
    const opts: uPlot.Options = {
      width: width(),
      height: 180,
      series: [{}, ...data.lines.map((l, i) => ({ label: l.label, stroke: PALETTE[i % PALETTE.length], width: 1.5, spanGaps: false, points: { show: false } }))],
      scales: { x: { time: true, range: () => [range.from, range.to] }, y: { range: (_u, _min, max) => [0, max > 0 ? max * 1.1 : 1] } },
      axes: [{ stroke: 'currentColor', grid: { stroke: 'rgba(128,128,128,0.15)' } }, { stroke: 'currentColor', grid: { stroke: 'rgba(128,128,128,0.15)' }, size: 56 }],
      legend: { show: true, live: true },
      cursor: { drag: { x: false, y: false } },
      plugins: [markerPlugin(() => markersRef.current)],
    };
    plot.current = new uPlot(opts, [data.xs, ...data.lines.map((l) => l.values)] as uPlot.AlignedData, el);
    const resize = new ResizeObserver(() => plot.current?.setSize({ width: width(), height: 180 }));
    resize.observe(el);
    return () => {
      resize.disconnect();
      plot.current?.destroy();
      plot.current = undefined;
    };
  }, [shape]);

  useEffect(() => {
    plot.current?.setData([data.xs, ...data.lines.map((l) => l.values)] as uPlot.AlignedData);
  }, [data, range.from, range.to, markers]);

  const empty = data.xs.length === 0;
  return (
    <figure className="chart" data-chart={title} aria-label={`${title} (${unit})`}>
      <figcaption>
        {title} <span className="muted">({unit})</span>
      </figcaption>
      <div ref={holder} className="chart-canvas" />
      {empty && <p className="muted">No samples in this range yet.</p>}
    </figure>
  );
}
