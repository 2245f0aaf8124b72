/**
 * The error catalog. Domain and service code throws these by meaning; each API face has exactly one
 * mapper that turns them into its own wire shape (RFC 9457 problem details, Northflank `error`, CF `errors[]`).
 * Codes are stable: clients and the OpenAPI document rely on them.
 */

/** One broken rule on one field. `field` is a dotted/JSON-pointer-like path such as `deployment.instances`. */
export interface FieldProblem {
  field: string;
  rule: string;
  message: string;
}

export abstract class AppError extends Error {
  abstract readonly code: string;
  abstract readonly status: number;
  abstract readonly title: string;
  override readonly cause?: unknown;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message);
    this.name = new.target.name;
    if (options?.cause !== undefined) this.cause = options.cause;
  }
}

export class ValidationError extends AppError {
  readonly code = 'validation_failed';
  readonly status = 400;
  readonly title = 'Validation failed';
  constructor(
    readonly problems: FieldProblem[],
    message?: string,
  ) {
    super(message ?? problems.map((p) => `${p.field}: ${p.message}`).join('; '));
  }
  static one(field: string, rule: string, message: string): ValidationError {
    return new ValidationError([{ field, rule, message }]);
  }
}

export class BadRequestError extends AppError {
  readonly code = 'bad_request';
  readonly status = 400;
  readonly title = 'Bad request';
}

export class UnauthorizedError extends AppError {
  readonly code = 'unauthorized';
  readonly status = 401;
  readonly title = 'Unauthorized';
}

export class ForbiddenError extends AppError {
  readonly code = 'forbidden';
  readonly status = 403;
  readonly title = 'Forbidden';
}

export class NotFoundError extends AppError {
  readonly code = 'not_found';
  readonly status = 404;
  readonly title = 'Not found';
  constructor(
    readonly kind: string,
    readonly id: string,
  ) {
    super(`${kind} '${id}' not found`);
  }
}

export class ConflictError extends AppError {
  readonly code = 'conflict';
  readonly status = 409;
  readonly title = 'Conflict';
}

/** An update lost an optimistic-concurrency race: the row's version moved since it was read. */
export class VersionConflictError extends AppError {
  readonly code = 'version_conflict';
  readonly status = 409;
  readonly title = 'Concurrent modification';
}

export class PayloadTooLargeError extends AppError {
  readonly code = 'payload_too_large';
  readonly status = 413;
  readonly title = 'Payload too large';
  constructor(
    message: string,
    /** the field that is too large, when the request names one (e.g. an uploaded `file`) */
    readonly problems?: FieldProblem[],
  ) {
    super(message);
  }
}

export class UnsupportedMediaTypeError extends AppError {
  readonly code = 'unsupported_media_type';
  readonly status = 415;
  readonly title = 'Unsupported media type';
}

/** A request the platform understands but cannot honour in this installation (e.g. a Dockerfile build without a container runtime). */
export class UnprocessableError extends AppError {
  readonly code = 'unprocessable';
  readonly status = 422;
  readonly title = 'Cannot be processed here';
}

/** Valid input naming a feature this installation cannot provide (e.g. an image deployment on the process runtime). */
export class UnsupportedError extends AppError {
  readonly code = 'unsupported';
  readonly status = 422;
  readonly title = 'Not supported here';
  constructor(readonly problems: FieldProblem[]) {
    super(problems.map((p) => `${p.field}: ${p.message}`).join('; '));
  }
}

export class UnavailableError extends AppError {
  readonly code = 'unavailable';
  readonly status = 503;
  readonly title = 'Service unavailable';
}

/**
 * A write refused because the lease it was made under has been taken over (a newer epoch) or released: the
 * replica that sent it lost the work. Internal to the controllers, never an API answer.
 */
export class StaleLeaseError extends Error {
  constructor(
    readonly lease: string,
    readonly epoch: number,
    readonly current?: { holder: string; epoch: number },
  ) {
    super(`write refused: lease '${lease}' at epoch ${epoch} is stale${current ? ` (now held by ${current.holder} at epoch ${current.epoch})` : ''}`);
    this.name = 'StaleLeaseError';
  }
}

/** Every code the platform can answer with; the OpenAPI document lists them and a test keeps both in step. */
export const ERROR_CODES = [
  'validation_failed',
  'bad_request',
  'unauthorized',
  'forbidden',
  'not_found',
  'conflict',
  'version_conflict',
  'payload_too_large',
  'unsupported_media_type',
  'unprocessable',
  'unsupported',
  'unavailable',
  'internal',
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];
