/**
 * Writes to the API with the signed-in token, and the API's field errors in one shape for forms.
 *
 *   const data = await send<T>('PATCH', path, body);   // JSON in, JSON out (204: undefined)
 *   catch (err) { fieldErrorsOf(err) }                 // { 'ports.0.name': 'must match …' }
 *
 * Every error face is read: native problem details (`errors: [{ field, rule, message }]`), the `/v1` face
 * (`error.details: { field: ["message (rule)"] }`) and CF v3 (`errors: [{ detail }]`, no fields).
 */
import { ApiError, readEvents, session } from '../api.ts';

/** An API error that also names the bad fields (dotted paths, as the API reports them). */
export class FieldsError extends ApiError {
  constructor(
    status: number,
    message: string,
    readonly fields: Record<string, string>,
  ) {
    super(status, message);
  }
}

/** A client-side refusal in the same shape as the API's, for rules the API cannot see (e.g. a parse). */
export function invalid(fields: Record<string, string>, message = 'Some fields need attention.'): FieldsError {
  return new FieldsError(400, message, fields);
}

export function fieldErrorsOf(err: unknown): Record<string, string> {
  return err instanceof FieldsError ? err.fields : {};
}

type ErrorBody = {
  detail?: string;
  title?: string;
  message?: string;
  error?: { message?: string; details?: Record<string, string[] | string> };
  errors?: { field?: string; rule?: string; message?: string; detail?: string }[];
};

export async function errorOf(res: Response): Promise<FieldsError> {
  let message = `${res.status} ${res.statusText}`;
  const fields: Record<string, string> = {};
  try {
    const body = (await res.json()) as ErrorBody;
    message = body.detail ?? body.error?.message ?? body.errors?.[0]?.detail ?? body.message ?? body.title ?? message;
    for (const [k, v] of Object.entries(body.error?.details ?? {})) fields[k] = Array.isArray(v) ? v.join('; ') : String(v);
    for (const e of body.errors ?? []) if (e.field !== undefined) fields[e.field] = fields[e.field] ? `${fields[e.field]}; ${e.message ?? e.rule}` : `${e.message ?? ''}${e.rule ? ` (${e.rule})` : ''}`;
  } catch {
    // not JSON: keep the status line
  }
  if (res.status === 401) window.dispatchEvent(new Event('slipway:unauthorized'));
  return new FieldsError(res.status, message, fields);
}

export async function send<T = unknown>(method: 'POST' | 'PUT' | 'PATCH' | 'DELETE', path: string, body?: unknown, contentType = 'application/json'): Promise<T> {
  const token = session.token();
  const raw = body instanceof Blob || body instanceof ArrayBuffer;
  const res = await fetch(path, {
    method,
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body === undefined ? {} : { 'content-type': contentType }) },
    body: body === undefined ? undefined : raw ? (body as BodyInit) : JSON.stringify(body),
  });
  if (!res.ok) throw await errorOf(res);
  if (res.status === 204) return undefined as T;
  const text = await res.text();
  return (text ? JSON.parse(text) : undefined) as T;
}

/**
 * Server-Sent Events through fetch (EventSource cannot send the Authorization header), resuming after
 * `lastEventId` when given: calls `onEvent` for each event until the stream ends or `signal` aborts.
 */
export async function sse(path: string, onEvent: (type: string, data: string, id?: string) => void, signal: AbortSignal, lastEventId?: string): Promise<void> {
  const token = session.token();
  const res = await fetch(path, { headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), accept: 'text/event-stream', ...(lastEventId ? { 'last-event-id': lastEventId } : {}) }, signal });
  if (!res.ok || !res.body) throw await errorOf(res);
  await readEvents(res.body, onEvent);
}
