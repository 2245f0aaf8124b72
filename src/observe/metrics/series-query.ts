/**
 * The query of the metrics routes, from text to a checked range: `names`, `from`, `to`, `step`.
 *
 * Times (`from`, `to`): RFC 3339 (`2026-12-06T07:00:00Z`), Unix seconds (`1796540400`, fractions allowed), `now`,
 * or relative to now (`-15m`, `now-1h`; units s, m, h, d). Defaults: `to` now, `from` one hour before `to`.
 * Step: seconds (`30`) or a duration (`30s`, `5m`, `1h`); default: the range over 300, at least the sampling
 * period. At most 11,000 points per series, as Prometheus allows.
 */
import { ValidationError, type FieldProblem } from '../../errors/errors.ts';
import { METRICS, findMetric, type MetricName } from './names.ts';

export interface SeriesQueryText {
  names?: string | string[];
  from?: string;
  to?: string;
  step?: string;
}

export interface SeriesQuery {
  metrics: MetricName[];
  /** epoch seconds */
  from: number;
  to: number;
  stepSeconds: number;
}

const UNIT: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400 };
export const MAX_POINTS = 11_000;

function duration(text: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)([smhd])$/.exec(text);
  return m ? Number(m[1]) * UNIT[m[2]] : undefined;
}

/** A time as the routes take it, in epoch seconds; undefined if the text is none of the formats. */
export function parseTime(text: string, nowSeconds: number): number | undefined {
  const t = text.trim();
  if (t === 'now') return nowSeconds;
  const rel = /^(?:now)?-(.+)$/.exec(t);
  if (rel) {
    const d = duration(rel[1]);
    return d === undefined ? undefined : nowSeconds - d;
  }
  if (/^\d+(\.\d+)?$/.test(t)) return Number(t);
  if (/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/i.test(t)) {
    const ms = Date.parse(t);
    return Number.isNaN(ms) ? undefined : ms / 1000;
  }
  return undefined;
}

export function parseSeriesQuery(q: SeriesQueryText, owner: 'service' | 'addon', opts: { nowSeconds: number; minStepSeconds: number; defaultNames: string[] }): SeriesQuery {
  const problems: FieldProblem[] = [];
  const rawNames = (Array.isArray(q.names) ? q.names : q.names !== undefined ? [q.names] : [])
    .flatMap((n) => n.split(','))
    .map((n) => n.trim())
    .filter(Boolean);
  const names = rawNames.length ? [...new Set(rawNames)] : opts.defaultNames;
  const metrics: MetricName[] = [];
  for (const n of names) {
    const m = findMetric(n);
    if (!m || !m.owners.includes(owner)) {
      const known = METRICS.filter((x) => x.owners.includes(owner)).map((x) => x.name);
      problems.push({ field: 'names', rule: 'enum', message: `no ${owner} metric '${n.slice(0, 60)}': one of ${known.join(', ')}` });
    } else metrics.push(m);
  }
  const to = q.to === undefined ? opts.nowSeconds : parseTime(q.to, opts.nowSeconds);
  if (to === undefined) problems.push({ field: 'to', rule: 'time', message: 'must be RFC 3339 (2026-12-06T07:00:00Z), Unix seconds, now, or relative like -15m' });
  const from = q.from === undefined ? (to ?? opts.nowSeconds) - 3600 : parseTime(q.from, opts.nowSeconds);
  if (from === undefined) problems.push({ field: 'from', rule: 'time', message: 'must be RFC 3339 (2026-12-06T07:00:00Z), Unix seconds, now, or relative like -1h' });
  if (from !== undefined && to !== undefined && from >= to) problems.push({ field: 'from', rule: 'before_to', message: 'must be before to' });
  let step: number | undefined;
  if (q.step !== undefined) {
    const s = q.step.trim();
    step = /^\d+(\.\d+)?$/.test(s) ? Number(s) : duration(s);
    if (step === undefined || step <= 0) problems.push({ field: 'step', rule: 'duration', message: 'must be seconds (30) or a duration (30s, 5m, 1h) above 0' });
  }
  if (problems.length) throw new ValidationError(problems);
  const span = to! - from!;
  const stepSeconds = Math.max(1, Math.ceil(step ?? Math.max(opts.minStepSeconds, span / 300)));
  if (span / stepSeconds > MAX_POINTS) throw ValidationError.one('step', 'max_points', `the range holds ${Math.ceil(span / stepSeconds)} steps of ${stepSeconds} s: at most ${MAX_POINTS} points per series; use a larger step`);
  return { metrics, from: from!, to: to!, stepSeconds };
}
