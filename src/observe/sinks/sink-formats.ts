/**
 * What a log sink sends, by sink type: the request for a batch of lines, and the rules of each type's
 * settings (sinkData), checked before anything is stored.
 *
 * - `http` (Northflank's HTTP sink): POST to `uri`; codec `json` sends a JSON array of
 *   `{ timestamp, message, project, service, instance, stream }` (one object a line with framing `newline`),
 *   codec `text` the lines' text, one a line. Auth `none`, `basic` (user, password) or `bearer` (token).
 * - `loki`: POST `<endpoint>/loki/api/v1/push` with Loki's JSON push body: one stream per instance and output
 *   stream, labelled `project`, `service`, `instance` and `stream`, values `[nanoseconds, line]`; codec `json`
 *   sends the line as a JSON object `{ message, stream }` instead of its text. Optional basic auth.
 */
import type { FieldProblem } from '../../errors/errors.ts';
import type { LogEntry } from '../logs/log-query.ts';

export const SINK_TYPES_AVAILABLE = ['http', 'loki'] as const;

export interface SinkRequest {
  url: string;
  headers: Record<string, string>;
  body: string;
}

type Data = Record<string, any>;

const isHttpUrl = (u: unknown): boolean => {
  if (typeof u !== 'string') return false;
  try {
    const p = new URL(u);
    return p.protocol === 'http:' || p.protocol === 'https:';
  } catch {
    return false;
  }
};

/** Problems with a sink's settings (the whole sinkData, after an update's fields are merged in). */
export function sinkDataProblems(sinkType: string, d: Data): FieldProblem[] {
  const out: FieldProblem[] = [];
  const bad = (field: string, rule: string, message: string) => out.push({ field: `sinkData.${field}`, rule, message });
  const codec = d.encoding?.codec;
  if (codec !== undefined && codec !== 'json' && codec !== 'text') bad('encoding.codec', 'enum', "one of 'json', 'text'");
  if (sinkType === 'http') {
    if (!isHttpUrl(d.uri)) bad('uri', 'format', 'an http:// or https:// URL');
    const a = d.auth;
    if (!a || typeof a !== 'object') bad('auth', 'required', "an auth strategy: { strategy: 'none' | 'basic' | 'bearer' }");
    else if (a.strategy === 'basic' && (typeof a.password !== 'string' || !a.password)) bad('auth.password', 'required', 'basic auth needs a password');
    else if (a.strategy === 'bearer' && (typeof a.token !== 'string' || !a.token)) bad('auth.token', 'required', 'bearer auth needs a token');
    else if (!['none', 'basic', 'bearer'].includes(a.strategy)) bad('auth.strategy', 'enum', "one of 'none', 'basic', 'bearer'");
    const b = d.batch ?? {};
    if (b.maxEvents !== undefined && !(Number.isInteger(b.maxEvents) && b.maxEvents >= 1 && b.maxEvents <= 10_000)) bad('batch.maxEvents', 'range', 'an integer from 1 to 10000');
    if (b.maxBytes !== undefined && !(typeof b.maxBytes === 'number' && b.maxBytes >= 1024 && b.maxBytes <= 1e7)) bad('batch.maxBytes', 'range', 'from 1024 to 1e7 bytes');
    const f = d.framing?.method;
    if (f !== undefined && !['none', 'newline', 'length'].includes(f)) bad('framing.method', 'enum', "one of 'none', 'newline', 'length'");
  } else if (sinkType === 'loki') {
    if (!isHttpUrl(d.endpoint)) bad('endpoint', 'format', 'an http:// or https:// URL');
    const a = d.auth;
    if (a !== undefined && (typeof a !== 'object' || (a.strategy !== undefined && a.strategy !== 'basic'))) bad('auth.strategy', 'enum', "'basic'");
  }
  return out;
}

/** The batch limits of a sink: lines and bytes per request. */
export function batchLimits(sinkType: string, d: Data): { maxEvents: number; maxBytes: number } {
  if (sinkType === 'http') return { maxEvents: d.batch?.maxEvents ?? 500, maxBytes: d.batch?.maxBytes ?? 1024 * 1024 };
  return { maxEvents: 1000, maxBytes: 1024 * 1024 };
}

function authHeader(a: Data | undefined): Record<string, string> {
  if (!a) return {};
  if (a.strategy === 'bearer' && a.token) return { authorization: `Bearer ${a.token}` };
  if ((a.strategy === 'basic' || a.strategy === undefined) && a.password !== undefined) return { authorization: `Basic ${Buffer.from(`${a.user ?? ''}:${a.password}`).toString('base64')}` };
  return {};
}

/** Nanoseconds since the epoch as Loki wants them, in a string (they do not fit a JSON number). */
export function nanos(ts: string): string {
  const ms = Date.parse(ts);
  const frac = /\.(\d+)/.exec(ts)?.[1] ?? '';
  const subMs = (frac.slice(3) + '000000').slice(0, 6);
  return `${BigInt(Math.floor(ms)) * 1_000_000n + BigInt(subMs)}`;
}

export function sinkRequest(sinkType: string, d: Data, lines: LogEntry[]): SinkRequest {
  const codec = d.encoding?.codec ?? 'json';
  if (sinkType === 'loki') {
    const streams = new Map<string, { stream: Record<string, string>; values: [string, string][] }>();
    for (const l of lines) {
      const k = `${l.project}\0${l.service}\0${l.instance}\0${l.stream}`;
      let s = streams.get(k);
      if (!s) streams.set(k, (s = { stream: { project: l.project, service: l.service, instance: l.instance, stream: l.stream }, values: [] }));
      s.values.push([nanos(l.ts), codec === 'json' ? JSON.stringify({ message: l.line, stream: l.stream }) : l.line]);
    }
    const base = String(d.endpoint).replace(/\/+$/, '');
    return {
      url: base.endsWith('/loki/api/v1/push') ? base : `${base}/loki/api/v1/push`,
      headers: { 'content-type': 'application/json', ...authHeader(d.auth) },
      body: JSON.stringify({ streams: [...streams.values()] }),
    };
  }
  const headers = { ...authHeader(d.auth) };
  if (codec === 'text') return { url: d.uri, headers: { ...headers, 'content-type': 'text/plain; charset=utf-8' }, body: lines.map((l) => `${l.line}\n`).join('') };
  const events = lines.map((l) => ({ timestamp: l.ts, message: l.line, project: l.project, service: l.service, instance: l.instance, stream: l.stream }));
  if (d.framing?.method === 'newline') return { url: d.uri, headers: { ...headers, 'content-type': 'application/x-ndjson' }, body: events.map((e) => `${JSON.stringify(e)}\n`).join('') };
  return { url: d.uri, headers: { ...headers, 'content-type': 'application/json' }, body: JSON.stringify(events) };
}

/** sinkData as reads answer it: every password and token left out. */
export function redactSinkData(d: Data): Data {
  const out: Data = { ...d };
  if (d.auth && typeof d.auth === 'object') {
    const { password: _p, token: _t, ...rest } = d.auth as Data;
    out.auth = rest;
  }
  return out;
}
