/**
 * The `/v1` face's one error mapper: Northflank's shape `{ error: { status, message, id?, details } }`,
 * where `details` names each bad field (`{ "<field>": ["<message>"] }`), as the official client reads it.
 */
import type { AppError } from '../../errors/errors.ts';
import { problemsOf } from '../error-mapping.ts';

export function northflankError(err: AppError, logId?: string): { error: { status: number; message: string; id?: string; details?: Record<string, string[]> } } {
  const problems = problemsOf(err);
  const details: Record<string, string[]> | undefined = problems?.length ? {} : undefined;
  for (const p of problems ?? []) (details![p.field] ??= []).push(`${p.message} (${p.rule})`);
  return {
    error: {
      status: err.status,
      message: err.message,
      ...(logId ? { id: logId } : { id: err.code }),
      ...(details ? { details } : {}),
    },
  };
}
