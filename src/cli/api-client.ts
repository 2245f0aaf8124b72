/**
 * The CLI's only way to the platform: HTTP with a bearer token. Errors from any face become one ApiError
 * carrying the API's own message and every field detail it gave: `error.details` on `/v1` (Northflank),
 * `detail` + `errors[]` on native routes (RFC 9457), `errors[]` on `/v3` (Cloud Foundry).
 */
import type { Target } from './contexts.ts';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    /** one line per field problem, e.g. `vcsData: is required (required)` */
    readonly details: string[] = [],
    readonly body?: unknown,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export interface RequestOptions {
  body?: unknown;
  /** a body sent as is: bytes, or a Blob (e.g. `fs.openAsBlob`, streamed from its file) */
  raw?: Buffer | Blob;
  contentType?: string;
  accept?: string;
  query?: Record<string, string | number | undefined>;
  headers?: Record<string, string>;
  signal?: AbortSignal;
}

export class ApiClient {
  constructor(readonly target: Target) {}

  url(pathname: string, query?: RequestOptions['query']): string {
    const u = new URL(this.target.host + pathname);
    for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined) u.searchParams.set(k, String(v));
    return u.toString();
  }

  /** Sends the request and returns the raw Response when it is a success; throws ApiError otherwise. */
  async send(method: string, pathname: string, opts: RequestOptions = {}): Promise<Response> {
    const headers: Record<string, string> = { authorization: `Bearer ${this.target.token}`, ...opts.headers };
    let body: BodyInit | undefined;
    if (opts.raw) {
      body = opts.raw as unknown as BodyInit;
      headers['content-type'] = opts.contentType ?? 'application/octet-stream';
    } else if (opts.body !== undefined) {
      body = JSON.stringify(opts.body);
      headers['content-type'] = 'application/json';
    }
    if (opts.accept) headers.accept = opts.accept;
    let res: Response;
    try {
      res = await fetch(this.url(pathname, opts.query), { method, headers, body, signal: opts.signal });
    } catch (err) {
      if ((err as Error).name === 'AbortError') throw err;
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      throw new ApiError(0, `cannot reach ${this.target.host}: ${cause?.code ?? cause?.message ?? (err as Error).message}`);
    }
    if (!res.ok) throw await errorOf(res);
    return res;
  }

  /** JSON in, JSON out. `/v1` answers `{ data }`; this returns the whole body so `--json` prints it as is. */
  async json<T = any>(method: string, pathname: string, opts: RequestOptions = {}): Promise<T> {
    const res = await this.send(method, pathname, opts);
    const text = await res.text();
    if (!text) return undefined as T;
    try {
      return JSON.parse(text) as T;
    } catch {
      return text as T;
    }
  }

  get<T = any>(pathname: string, query?: RequestOptions['query']): Promise<T> {
    return this.json<T>('GET', pathname, { query });
  }

  async text(pathname: string, query?: RequestOptions['query']): Promise<string> {
    return (await this.send('GET', pathname, { query })).text();
  }
}

async function errorOf(res: Response): Promise<ApiError> {
  const text = await res.text().catch(() => '');
  let body: any;
  try {
    body = JSON.parse(text);
  } catch {
    return new ApiError(res.status, `HTTP ${res.status} ${res.statusText}${text ? `: ${text.slice(0, 500)}` : ''}`);
  }
  // Northflank `/v1`: { error: { status, message, details: { field: [messages] } } }
  if (body?.error && typeof body.error === 'object') {
    const e = body.error as { message?: string; details?: Record<string, unknown> };
    const details: string[] = [];
    for (const [field, msgs] of Object.entries(e.details ?? {})) {
      for (const m of Array.isArray(msgs) ? msgs : [msgs]) details.push(`${field}: ${typeof m === 'string' ? m : JSON.stringify(m)}`);
    }
    return new ApiError(res.status, e.message ?? `HTTP ${res.status}`, details, body);
  }
  // Native RFC 9457: { title, detail, errors: [{ field, rule, message }] }
  if (body && (typeof body.title === 'string' || typeof body.detail === 'string')) {
    const details = Array.isArray(body.errors) ? (body.errors as { field?: string; rule?: string; message?: string }[]).map((p) => `${p.field ?? '?'}: ${p.message ?? ''}${p.rule ? ` (${p.rule})` : ''}`) : [];
    return new ApiError(res.status, String(body.detail ?? body.title), details, body);
  }
  // Cloud Foundry `/v3`: { errors: [{ code, title, detail }] }
  if (Array.isArray(body?.errors) && body.errors.length) {
    const [first, ...rest] = body.errors as { detail?: string; title?: string }[];
    return new ApiError(res.status, String(first.detail ?? first.title), rest.map((e) => String(e.detail ?? e.title)), body);
  }
  return new ApiError(res.status, `HTTP ${res.status}: ${text.slice(0, 500)}`, [], body);
}
