/**
 * Rows numbered one past the highest number in their group (a service's releases and rollouts, a job's
 * runs, a flow's runs). The number is taken under a unique constraint; on a collision (another writer took
 * it first) the attempt is retried with a little jittered back-off, so concurrent writers never share or
 * skip a number.
 */
import { sql, type RawBuilder } from 'kysely';
import { isUniqueViolation } from './unique-violation.ts';

/** Run `insert` until it does not collide on its number. */
export async function retryOnNumberTaken<T>(insert: () => Promise<T>, what: string): Promise<T> {
  for (let attempt = 0; attempt < 50; attempt++) {
    if (attempt > 0) await new Promise((r) => setTimeout(r, Math.random() * 5 * Math.min(attempt, 10)));
    try {
      return await insert();
    } catch (err) {
      if (!isUniqueViolation(err)) throw err;
    }
  }
  throw new Error(`could not allocate the next number for ${what}`);
}

/** The number read first, then inserted: two statements. */
export function insertWithNextNumber<T>(readMax: () => Promise<number>, insert: (next: number) => Promise<T>, what: string): Promise<T> {
  return retryOnNumberTaken(async () => insert((await readMax()) + 1), what);
}

/**
 * The next number as a value of the insert itself, so that reading the highest and inserting the next is one
 * statement (one round trip): `(select coalesce(max(number), 0) + 1 from <table> where <group column> = <group>)`.
 */
export function nextNumber(table: string, groupColumn: string, group: string): RawBuilder<number> {
  return sql<number>`(select coalesce(max(number), 0) + 1 from ${sql.table(table)} where ${sql.ref(groupColumn)} = ${group})`;
}

/** An id made of a prefix and the row's next number, in the same statement (see `nextNumber`). */
export function numberedId(prefix: string, next: RawBuilder<number>): RawBuilder<string> {
  return sql<string>`cast(${prefix} as text) || cast(${next} as text)`;
}
