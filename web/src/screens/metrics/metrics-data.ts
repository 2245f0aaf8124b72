/** What the metrics routes answer, and how it becomes uPlot's aligned columns. */

export interface MetricSeries {
  name: string;
  unit: string;
  kind: 'gauge' | 'count';
  instance: string | null;
  points: [number, number][];
  max?: number[];
}

export interface MetricMarker {
  ts: number;
  kind: string;
  reason: string;
  message: string;
}

export interface MetricsAnswer {
  from: number;
  to: number;
  step: number;
  resolution: 'raw' | '1m';
  series: MetricSeries[];
  markers?: MetricMarker[];
}

const enc = encodeURIComponent;

export const metricsPaths = {
  service: (p: string, s: string, q: Record<string, string>) => `/projects/${enc(p)}/services/${enc(s)}/metrics?${new URLSearchParams(q)}`,
  addon: (p: string, a: string, q: Record<string, string>) => `/projects/${enc(p)}/addons/${enc(a)}/metrics?${new URLSearchParams(q)}`,
};

/** One line of a chart: a label and its values, aligned with the chart's x column. */
export interface Line {
  label: string;
  values: (number | null)[];
}

export interface ChartData {
  xs: number[];
  lines: Line[];
}

/**
 * Aligns some series on the union of their timestamps (uPlot's columnar shape): a step a series has no
 * point for is null, drawn as a gap. `scale` converts units (bytes → MiB, seconds → ms).
 */
export function align(series: { label: string; points: [number, number][] }[], scale = 1): ChartData {
  const xs = [...new Set(series.flatMap((s) => s.points.map(([t]) => t)))].sort((a, b) => a - b);
  const index = new Map(xs.map((t, i) => [t, i]));
  const lines = series.map((s) => {
    const values: (number | null)[] = new Array(xs.length).fill(null);
    for (const [t, v] of s.points) values[index.get(t)!] = v * scale;
    return { label: s.label, values };
  });
  return { xs, lines };
}

/** Every instance's series of one metric, labelled by instance (the shortest unique tail of its id). */
export function perInstance(all: MetricSeries[], name: string): { label: string; points: [number, number][] }[] {
  return all
    .filter((s) => s.name === name && s.instance)
    .sort((a, b) => a.instance!.localeCompare(b.instance!))
    .map((s) => ({ label: s.instance!, points: s.points }));
}

export function own(all: MetricSeries[], name: string, label = name): { label: string; points: [number, number][] }[] {
  const s = all.find((x) => x.name === name && x.instance === null);
  return s ? [{ label, points: s.points }] : [];
}

export const RANGES = [
  { id: '5m', label: '5 min', seconds: 300 },
  { id: '15m', label: '15 min', seconds: 900 },
  { id: '1h', label: '1 hour', seconds: 3600 },
  { id: '6h', label: '6 hours', seconds: 6 * 3600 },
  { id: '24h', label: '24 hours', seconds: 86400 },
  { id: '7d', label: '7 days', seconds: 7 * 86400 },
] as const;
export type RangeId = (typeof RANGES)[number]['id'];

/** The query of a range: about 120 points per chart, at least 1 s per point. */
export function rangeQuery(id: RangeId, names: string[]): Record<string, string> {
  const r = RANGES.find((x) => x.id === id)!;
  return { names: names.join(','), from: `-${id}`, step: String(Math.max(1, Math.ceil(r.seconds / 120))) };
}
