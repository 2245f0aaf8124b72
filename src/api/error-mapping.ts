/**
 * Turns anything thrown while handling a request into an AppError: Fastify's own errors (schema
 * validation, bad JSON, body too large, wrong content type) get their meaning; anything unexpected becomes
 * an internal error with a log id, and its text never reaches the client.
 */
import crypto from 'node:crypto';
import type { FastifyError } from 'fastify';
import {
  AppError,
  BadRequestError,
  NotFoundError,
  PayloadTooLargeError,
  UnsupportedMediaTypeError,
  ValidationError,
  type FieldProblem,
} from '../errors/errors.ts';
import { toFieldProblems } from './field-problems.ts';

export class InternalError extends AppError {
  readonly code = 'internal';
  readonly status = 500;
  readonly title = 'Internal error';
  constructor(readonly logId: string) {
    super(`internal error; quote log id ${logId} when reporting it`);
  }
}

export interface Classified {
  error: AppError;
  /** set when the original must be logged (unexpected failures) */
  unexpected?: unknown;
}

export function classify(err: unknown): Classified {
  if (err instanceof AppError) return { error: err };
  const fe = err as FastifyError & { validation?: unknown[]; validationContext?: string };
  if (fe && Array.isArray(fe.validation)) {
    const where = fe.validationContext ?? 'body';
    const problems: FieldProblem[] = toFieldProblems(fe.validation as never[]).map((p) => ({
      ...p,
      field: where === 'body' ? p.field : `${where}.${p.field}`.replace(/\.$/, ''),
    }));
    return { error: new ValidationError(problems.length ? problems : [{ field: where, rule: 'schema', message: fe.message }]) };
  }
  switch (fe?.code) {
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return { error: new BadRequestError(`malformed JSON body: ${String(fe.message).slice(0, 200)}`) };
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return { error: new PayloadTooLargeError('request body is too large') };
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return { error: new UnsupportedMediaTypeError(`unsupported content type: send application/json`) };
    case 'FST_ERR_NOT_FOUND':
      return { error: new NotFoundError('route', '') };
  }
  if (err instanceof SyntaxError) return { error: new BadRequestError(`malformed JSON body: ${err.message.slice(0, 200)}`) };
  const status = (fe as { statusCode?: number })?.statusCode;
  if (status && status >= 400 && status < 500) return { error: new BadRequestError(String(fe.message).slice(0, 300)) };
  return { error: new InternalError(crypto.randomBytes(6).toString('hex')), unexpected: err };
}

export function problemsOf(err: AppError): FieldProblem[] | undefined {
  return (err as { problems?: FieldProblem[] }).problems;
}
