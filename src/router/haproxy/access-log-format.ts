/**
 * HAProxy writes each access-log line in its final form, so slipway copies lines without parsing them:
 * one JSON object per request, the fields the built-in router's entries have (table.ts AccessLogEntry) in the
 * envelope of slipway's own log lines (pino's `level`, `time`, `pid`, `hostname`, `component: "access"`,
 * `msg`). HAProxy resolves the route and the answering instance itself, through two map files slipway keeps:
 * `routes.map` (backend → route key, rewritten with the configuration) and `endpoints.map` (`backend/slot` →
 * endpoint id, changed through the Runtime API as slots take endpoints). A request with no route (unknown
 * host, a request HAProxy could not parse) or no answering instance has `""` there.
 *
 * The fields canary analysis reads (route, endpoint, status, durationMs) come first after the envelope, in a
 * fixed order, so `scanLines` picks them out of a chunk of lines with a few `indexOf`s per line.
 */
import os from 'node:os';

/** The ring each worker writes its access log into, read back on the admin socket (`show events`). */
export const ACCESS_LOG_RING = 'slipway_access';
/** 8 MiB holds ~20,000 lines of slack for a reader that falls behind; past that the oldest are overwritten. */
export const ACCESS_LOG_RING_BYTES = 8 * 1024 * 1024;
/** A line is at most 4 KiB (HAProxy truncates longer ones; the path is kept to 1 KiB). */
export const ACCESS_LOG_LINE_BYTES = 4096;
/** Every access-log line starts so. */
export const ACCESS_LOG_MARK = '{"level":30,"time":';

/** The host name as the envelope gives it; only characters that need no escaping in JSON or the configuration. */
function hostnameField(): string {
  const h = os.hostname();
  return /^[A-Za-z0-9._-]{1,253}$/.test(h) ? `"hostname":"${h}",` : '';
}

/**
 * The `log-format` of the `slipway` frontend (single-quoted in the configuration). Strings a client chose
 * (host, path) pass through HAProxy's `json` converter; `%{+Q}` quotes a value and gives `""` when HAProxy has
 * none (a request it could not parse is logged with no stream: every sample is then empty). `ts` is the
 * time the line is written, to the millisecond.
 */
export function accessLogFormat(files: { routesMap: string; endpointsMap: string }): string {
  return [
    `${ACCESS_LOG_MARK}%[date(0,ms)],"pid":%pid,${hostnameField()}"component":"access"`,
    `"route":%{+Q}[be_name,map(${files.routesMap})]`,
    `"endpoint":%{+Q}[var(txn.ep),map(${files.endpointsMap})]`,
    '"status":%ST',
    '"durationMs":%Ta',
    '"ts":"%[date,utime(%Y-%m-%dT%H:%M:%S)].%[date(0,ms),mod(1000),add(1000),concat(),bytes(1,3)]Z"',
    '"client":"%ci"',
    '"method":"%HM"',
    '"host":%{+Q}[var(txn.host),json(utf8s)]',
    '"path":%{+Q}[var(txn.path),bytes(0,1024),json(utf8s)]',
    '"bytes":%B',
    '"requestId":%{+Q}[var(txn.rid)]',
    '"msg":"access"}',
  ].join(',');
}

/** Frontend rules that keep what the line needs after the request has left (its buffer is gone by then). */
export const ACCESS_LOG_REQUEST_RULES = ['http-request set-var(txn.path) pathq', 'http-request set-var(txn.rid) req.hdr(x-request-id)'];
/** A route backend's rule naming the slot that answered, the key of endpoints.map. */
export const ACCESS_LOG_RESPONSE_RULE = 'http-response set-var-fmt(txn.ep) %b/%s';
/** A handoff backend's rule: the worker the request is handed to logs it. */
export const ACCESS_LOG_SILENT_RULE = 'http-request set-log-level silent';

/** A map value: the rest of the line, escaped so that it reads as the inside of a JSON string. */
function mapValue(s: string): string {
  return JSON.stringify(s).slice(1, -1);
}

interface MappedBackend {
  name: string;
  key: string;
  mode: 'http' | 'tcp';
  slotCount: number;
  slots?: { endpoint?: { id: string } }[];
}

/** `routes.map`: each HTTP backend's route key. */
export function renderRoutesMap(backends: MappedBackend[]): string {
  return backends
    .filter((b) => b.mode === 'http')
    .map((b) => `${b.name} ${mapValue(b.key)}\n`)
    .join('');
}

/**
 * `endpoints.map`: every slot of every HTTP backend, with its endpoint id or `-` when free (no request reaches
 * a free slot), so that the Runtime API's `set map` always finds the key.
 */
export function renderEndpointsMap(backends: MappedBackend[], serverPrefix: string): string {
  const out: string[] = [];
  for (const b of backends) {
    if (b.mode !== 'http') continue;
    for (let i = 0; i < b.slotCount; i++) out.push(`${b.name}/${serverPrefix}${i + 1} ${mapValue(b.slots?.[i]?.endpoint?.id ?? '-')}\n`);
  }
  return out.join('');
}

/** The Runtime API command that gives a slot's key its new endpoint (before the slot takes traffic). */
export function endpointMapCommand(file: string, slot: string, endpointId: string | undefined): string {
  return `set map ${file} ${slot} ${mapValue(endpointId ?? '-').replace(/[\\ ;]/g, (c) => `\\${c}`)}`;
}

/** What canary analysis and the request-time percentiles need of one request. */
export interface RequestSample {
  route: string;
  endpoint: string;
  status: number;
  durationMs: number;
}

/** Is given the fields of a RequestSample one by one (no object per request). */
export type OnRequest = (route: string, endpoint: string, status: number, durationMs: number) => void;

const ROUTE = '"route":"';
const ENDPOINT = '","endpoint":"';
const STATUS = '","status":';
const DURATION = ',"durationMs":';

/**
 * Reads whole lines as HAProxy wrote them: passes the route, endpoint, status and time of each request that
 * has a route and an answering instance to `onRequest` (no JSON parsing: the fields are at fixed places), and
 * returns the text without the lines that are not access-log lines (`text` itself when there are none).
 */
export function scanLines(text: string, onRequest?: OnRequest): string {
  let foreign: [number, number][] | undefined;
  let at = 0;
  while (at < text.length) {
    let end = text.indexOf('\n', at);
    if (end < 0) end = text.length;
    if (!text.startsWith(ACCESS_LOG_MARK, at)) (foreign ??= []).push([at, end + 1]);
    else if (onRequest) scanLine(text, at, end, onRequest);
    at = end + 1;
  }
  if (!foreign) return text;
  let kept = '';
  let from = 0;
  for (const [a, b] of foreign) {
    kept += text.slice(from, a);
    from = b;
  }
  return kept + text.slice(from);
}

function scanLine(text: string, at: number, end: number, onRequest: OnRequest): void {
  const r = text.indexOf(ROUTE, at);
  if (r < 0 || r >= end) return;
  const routeStart = r + ROUTE.length;
  const routeEnd = text.indexOf('"', routeStart);
  if (routeEnd <= routeStart || !text.startsWith(ENDPOINT, routeEnd)) return;
  const epStart = routeEnd + ENDPOINT.length;
  const epEnd = text.indexOf('"', epStart);
  if (epEnd <= epStart || epEnd >= end || !text.startsWith(STATUS, epEnd)) return;
  const status = integer(text, epEnd + STATUS.length);
  if (!status || !text.startsWith(DURATION, status.end)) return;
  const duration = integer(text, status.end + DURATION.length);
  if (duration) onRequest(text.slice(routeStart, routeEnd), text.slice(epStart, epEnd), status.value, duration.value);
}

/**
 * The integer at `from` and where it ends; a negative one (HAProxy's -1: no status, or a time it did not
 * measure) reads as 0. Undefined when there is no number there. (Inlined where it is called, the object is not
 * allocated: reading the integers in place measured the same.)
 */
function integer(text: string, from: number): { value: number; end: number } | undefined {
  let i = from;
  const negative = text.charCodeAt(i) === 45;
  if (negative) i++;
  const start = i;
  let v = 0;
  for (let c = text.charCodeAt(i); c >= 48 && c <= 57; c = text.charCodeAt(++i)) v = v * 10 + (c - 48);
  return i === start ? undefined : { value: negative ? 0 : v, end: i };
}
