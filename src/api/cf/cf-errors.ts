/**
 * The `/v3` face's one error mapper: Cloud Foundry's `{ errors: [{ code, title, detail }] }` with CF's own
 * numeric codes and titles, and CF's statuses (a bad body is 422 UnprocessableEntity, a bad query
 * parameter 400 BadQueryParameter, a name taken 422 UniquenessError, a wrong state 422 too).
 */
import type { AppError } from '../../errors/errors.ts';
import { problemsOf } from '../error-mapping.ts';

export interface CfError {
  code: number;
  title: string;
  detail: string;
}

export function cfError(err: AppError, logId?: string): { status: number; body: { errors: CfError[] } } {
  const problems = problemsOf(err) ?? [];
  const detail = problems.length ? problems.map((p) => `${p.field}: ${p.message}`).join(', ') : err.message;
  const one = (status: number, code: number, title: string, text = detail) => ({ status, body: { errors: [{ code, title, detail: text }] } });
  switch (err.code) {
    case 'validation_failed':
      if (problems.length && problems.every((p) => p.field.startsWith('querystring.'))) {
        return one(400, 10005, 'CF-BadQueryParameter', `The query parameter is invalid: ${problems.map((p) => `${p.field.slice('querystring.'.length)} ${p.message}`).join(', ')}`);
      }
      return one(422, 10008, 'CF-UnprocessableEntity');
    case 'unsupported':
      return one(422, 10008, 'CF-UnprocessableEntity');
    case 'bad_request':
      return one(400, 1001, 'CF-MessageParseError', `Request invalid due to parse error: ${err.message}`);
    case 'unauthorized':
      return one(401, 10002, 'CF-NotAuthenticated', 'Authentication error');
    case 'forbidden':
      return one(403, 10003, 'CF-NotAuthorized', 'You are not authorized to perform the requested action');
    case 'not_found':
      return one(404, 10010, 'CF-ResourceNotFound', cfNotFound(err.message));
    case 'conflict':
    case 'unprocessable':
      // A wrong state is unprocessable for CF, a taken name a uniqueness error.
      return /already exists/.test(err.message) ? one(422, 10016, 'CF-UniquenessError', err.message) : one(422, 10008, 'CF-UnprocessableEntity', err.message);
    case 'version_conflict':
      return one(409, 10000, 'CF-ConcurrentUpdate', err.message);
    case 'payload_too_large':
      return one(413, 10013, 'CF-RequestEntityTooLarge', err.message);
    case 'unsupported_media_type':
      return one(415, 1003, 'CF-UnsupportedMediaType', err.message);
    case 'unavailable':
      return one(503, 10015, 'CF-ServiceUnavailable', err.message);
    default:
      return one(err.status >= 500 ? 500 : err.status, 10001, 'UnknownError', logId ? `An unknown error occurred; log id ${logId}` : 'An unknown error occurred.');
  }
}

/** "app 'x' not found" → "App not found", as CF words it. */
function cfNotFound(message: string): string {
  const m = /^(\w+)/.exec(message);
  if (!m) return 'Resource not found';
  return `${m[1][0].toUpperCase()}${m[1].slice(1)} not found`;
}
