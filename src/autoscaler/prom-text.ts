/**
 * Just enough of the Prometheus text exposition format (version 0.0.4) for the autoscaler's user metrics:
 * samples with their labels, and counter rates that survive a reset (a restarted process starts its counters
 * from 0). Lenient: an app's endpoint may have lines this does not read, and a malformed line is skipped rather
 * than failing the whole scrape. The router's own metrics are read with observe/metrics/prom-text.ts, which is
 * strict and parses only the families asked for.
 */

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)(\s+\S+)?\s*$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*,?/g;

function unescape(v: string): string {
  return v.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
}

function number(v: string): number {
  if (v === '+Inf') return Infinity;
  if (v === '-Inf') return -Infinity;
  return Number(v);
}

/** Every sample of a document; comment and malformed lines are skipped. */
export function parsePromText(text: string): Sample[] {
  const out: Sample[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const m = LINE.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    if (m[3]) for (const l of m[3].matchAll(LABEL)) labels[l[1]!] = unescape(l[2]!);
    const value = number(m[4]!);
    if (Number.isNaN(value)) continue;
    out.push({ name: m[1]!, labels, value });
  }
  return out;
}

/** The sum of a metric's samples over every label set (a metric with labels is read as its total); undefined when absent. */
export function sumOf(samples: Sample[], name: string): number | undefined {
  let found = false;
  let sum = 0;
  for (const s of samples) {
    if (s.name !== name) continue;
    found = true;
    sum += s.value;
  }
  return found ? sum : undefined;
}

/**
 * The per-second rate of a counter between two readings, as Prometheus' rate() reads a reset: a value lower
 * than the previous one means the counter restarted from 0, so all of it is new.
 */
export function counterRate(prev: { value: number; at: number } | undefined, cur: { value: number; at: number }): number | undefined {
  if (!prev || cur.at <= prev.at) return undefined;
  const delta = cur.value >= prev.value ? cur.value - prev.value : cur.value;
  return delta / ((cur.at - prev.at) / 1000);
}
