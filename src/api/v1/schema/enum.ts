import { Type } from '@sinclair/typebox';

/** A string enum as JSON Schema's `enum` (not a union of constants), so a bad value reads "must be one of …". */
export const Enum = <T extends string>(values: readonly T[], options: { description?: string } = {}) => Type.Unsafe<T>({ type: 'string', enum: [...values], ...options });
