/** The native routes' one error mapper: RFC 9457 problem details, with the broken fields listed. */
import type { AppError } from '../../errors/errors.ts';
import { problemsOf } from '../error-mapping.ts';

export function problemDetails(err: AppError, instance: string, logId?: string): Record<string, unknown> {
  const problems = problemsOf(err);
  return {
    type: `https://slipway.dev/problems/${err.code}`,
    title: err.title,
    status: err.status,
    detail: err.message,
    instance,
    code: err.code,
    ...(problems?.length ? { errors: problems } : {}),
    ...(logId ? { logId } : {}),
  };
}
