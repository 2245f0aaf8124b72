/** How `slipway status` shows a service's autoscaling: bounds, current/desired, each metric against its target. */

export interface AutoscaleStatusView {
  minReplicas: number;
  maxReplicas: number;
  currentReplicas: number;
  readyReplicas: number;
  desiredReplicas: number;
  metrics: { name: string; kind: string; value: number | null; target: number; replicas: number | null }[];
  reason: string;
  message: string;
  lastScaleTime?: string;
  lastScaleMessage?: string;
}

function num(v: number): string {
  return String(Math.abs(v) >= 10 ? Math.round(v) : Math.round(v * 100) / 100);
}

/** One metric: "rps 240/s per instance (target 100) → 3". */
export function metricLine(m: AutoscaleStatusView['metrics'][number]): string {
  const pct = m.kind === 'cpu' || m.kind === 'memory';
  const unit = pct ? '% of plan' : m.kind === 'rps' || m.kind === 'counter' ? '/s per instance' : ' per instance';
  const value = m.value === null ? 'not read yet' : `${num(m.value)}${unit}`;
  return `${m.name} ${value} (target ${m.target}${pct ? '%' : ''})${m.replicas === null ? '' : ` → ${m.replicas}`}`;
}

/** The status fields for an autoscaled service. */
export function autoscaleFields(a: AutoscaleStatusView, ago: (t: string) => string): [string, unknown][] {
  return [
    ['autoscaling', `${a.currentReplicas} current, ${a.desiredReplicas} desired (min ${a.minReplicas}, max ${a.maxReplicas}): ${a.reason}`],
    ...a.metrics.map((m): [string, unknown] => ['  metric', metricLine(m)]),
    ['  why', a.message],
    ...(a.lastScaleTime ? ([['  last scaled', `${ago(a.lastScaleTime)}: ${a.lastScaleMessage}`]] as [string, unknown][]) : []),
  ];
}
