/**
 * `slipway metrics [service]`: a compact text summary of a service's (or, with --addon, an addon's) metrics
 * over a recent range: traffic, latency and answers by class with a sparkline each, then one line per
 * instance with its CPU and memory against the plan and its restarts. `--json` prints the API's series.
 */
import type { Command } from 'commander';
import { requireProject, servicePaths, UsageError } from '../service-ref.ts';
import { sessionOf } from '../session.ts';

export interface CliSeries {
  name: string;
  unit: string;
  kind: 'gauge' | 'count';
  instance: string | null;
  points: [number, number][];
  max?: number[];
}

const SPARKS = '▁▂▃▄▅▆▇█';

/** One character per point, scaled from 0 to the series' maximum; at most `width`, the newest kept. */
export function sparkline(values: number[], width = 24): string {
  const v = values.slice(-width);
  const top = Math.max(...v, 0);
  if (v.length === 0) return '';
  return v.map((x) => (top <= 0 ? SPARKS[0] : SPARKS[Math.min(SPARKS.length - 1, Math.floor((x / top) * (SPARKS.length - 1)))])).join('');
}

export function formatBytes(n: number): string {
  if (n >= 1024 ** 3) return `${(n / 1024 ** 3).toFixed(1)} GiB`;
  if (n >= 1024 ** 2) return `${(n / 1024 ** 2).toFixed(0)} MiB`;
  if (n >= 1024) return `${(n / 1024).toFixed(0)} KiB`;
  return `${n} B`;
}

export function formatSeconds(s: number): string {
  return s >= 1 ? `${s.toFixed(2)} s` : `${(s * 1000).toFixed(s < 0.01 ? 2 : 1)} ms`;
}

const num = (x: number) => (x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2));
const last = (s: CliSeries | undefined) => s?.points[s.points.length - 1]?.[1];
const values = (s: CliSeries | undefined) => s?.points.map(([, v]) => v) ?? [];
const sum = (s: CliSeries | undefined) => values(s).reduce((a, b) => a + b, 0);
const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : undefined);

/** The summary's lines (no colour), for a service or an addon. */
export function summarize(title: string, series: CliSeries[], opts: { range: string; step: number }): string[] {
  const own = (name: string) => series.find((s) => s.name === name && s.instance === null);
  const lines = [`${title} · last ${opts.range} · ${opts.step} s per point`];
  const rps = own('requests_per_second');
  if (rps) {
    const v = values(rps);
    lines.push(`  requests/s  now ${num(last(rps) ?? 0)} · mean ${num(mean(v) ?? 0)} · max ${num(Math.max(...v, 0))}  ${sparkline(v)}`);
    lines.push(`  requests    ${sum(own('requests'))} in all`);
    const classes = ['2xx', '3xx', '4xx', '5xx'].map((k) => `${k} ${sum(own(`responses_${k}`))}`).join(' · ');
    lines.push(`  responses   ${classes}`);
  }
  const p99 = own('latency_p99_seconds');
  const avg = own('latency_avg_seconds');
  if (p99 || avg) {
    const parts = [];
    const p50 = own('latency_p50_seconds');
    if (p50) parts.push(`p50 ${formatSeconds(last(p50) ?? 0)}`);
    if (p99) parts.push(`p99 ${formatSeconds(last(p99) ?? 0)}`);
    if (avg) parts.push(`mean ${formatSeconds(last(avg) ?? 0)}`);
    lines.push(`  latency     ${parts.join(' · ')}  ${sparkline(values(p99 ?? avg))}`);
  }
  const instances = [...new Set(series.filter((s) => s.instance).map((s) => s.instance!))].sort();
  if (instances.length === 0 && !rps) lines.push('  no samples in this range yet');
  if (instances.length) lines.push('  instances');
  const w = Math.max(0, ...instances.map((i) => i.length));
  for (const id of instances) {
    const of = (name: string) => series.find((s) => s.name === name && s.instance === id);
    const cpu = of('cpu_percent');
    const mem = of('memory_bytes');
    const memPct = of('memory_percent');
    const parts = [
      `cpu ${cpu ? `${num(last(cpu) ?? 0)}% of plan ${sparkline(values(cpu), 12)}` : '-'}`,
      `mem ${mem ? formatBytes(last(mem) ?? 0) : '-'}${memPct ? ` (${num(last(memPct) ?? 0)}%)` : ''}`,
      `restarts ${sum(of('restarts'))}`,
    ];
    lines.push(`    ${id.padEnd(w)}  ${parts.join(' · ')}`);
  }
  return lines;
}

export function registerMetrics(program: Command): void {
  program
    .command('metrics [service]')
    .description("a compact summary of a service's metrics (or an addon's with --addon): traffic, latency, CPU and memory per instance")
    .option('-p, --project <project>', 'project id')
    .option('-s, --service <service>', 'service id (or give it as the argument)')
    .option('--addon <addon>', 'an addon instead of a service')
    .option('--since <duration>', 'how far back: 15m, 1h, 2d…', '15m')
    .option('--step <duration>', 'seconds per point (default: the range over 60)')
    .action(async (service: string | undefined, opts: { project?: string; service?: string; addon?: string; since: string; step?: string }, cmd: Command) => {
      const s = sessionOf(cmd);
      const project = requireProject(opts);
      if (!/^\d+[smhd]$/.test(opts.since)) throw new UsageError(`--since must be a duration like 15m, 1h or 2d, got '${opts.since}'`);
      const unit = { s: 1, m: 60, h: 3600, d: 86400 }[opts.since.slice(-1) as 's']!;
      const rangeSeconds = Number(opts.since.slice(0, -1)) * unit;
      const step = opts.step ?? String(Math.max(1, Math.ceil(rangeSeconds / 60)));
      let path: string;
      let title: string;
      if (opts.addon) {
        path = `/projects/${encodeURIComponent(project)}/addons/${encodeURIComponent(opts.addon)}/metrics`;
        title = `addon ${opts.addon} (${project})`;
      } else {
        const svc = service ?? opts.service ?? process.env.SLIPWAY_SERVICE;
        if (!svc) throw new UsageError('missing service: slipway metrics <service> (or -s, or SLIPWAY_SERVICE)');
        path = `${servicePaths(project, svc).native}/metrics`;
        title = `${svc} (${project})`;
      }
      const names = opts.addon
        ? 'cpu_percent,memory_bytes,memory_percent,restarts'
        : 'requests,requests_per_second,responses_2xx,responses_3xx,responses_4xx,responses_5xx,latency_p50_seconds,latency_p99_seconds,latency_avg_seconds,cpu_percent,memory_bytes,memory_percent,restarts';
      const answer = await s.client.get<{ step: number; series: CliSeries[] }>(path, { names, from: `-${opts.since}`, step });
      if (s.json) return s.out.json(answer);
      for (const line of summarize(title, answer.series, { range: opts.since, step: answer.step })) s.out.line(line);
    });
}
