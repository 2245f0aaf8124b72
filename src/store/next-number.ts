/**
 * Rows numbered one past the highest number in their group (a service's releases and rollouts, a job's
 * runs, a flow's runs). The number is taken under a unique constraint; on a collision (another writer took
 * it first) the attempt is retried with a little jittered back-off, so concurrent writers never share or
 * skip a number.
 */
import { sql, type Insertable, type Kysely } from 'kysely';
import type { Database } from './schema.ts';
import { isUniqueViolation } from './unique-violation.ts';

/** Run `insert` until it does not collide on its number. */
async function retryOnNumberTaken<T>(insert: () => Promise<T>, what: string): Promise<T> {
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
 * Insert a service's row (a release, a rollout) numbered one past the highest of the service's, with the id
 * `<idPrefix><number>`, in one statement (one round trip): the number is a value of the insert itself,
 * `(select coalesce(max(number), 0) + 1 from <table> where service_id = …)`. Returns the id and number taken.
 */
export function insertNumbered<T extends 'releases' | 'rollouts'>(
  db: Kysely<Database>,
  table: T,
  row: Omit<Insertable<Database[T]>, 'id' | 'number'> & { service_id: string },
  idPrefix: string,
): Promise<{ id: string; number: number }> {
  return retryOnNumberTaken(async () => {
    const next = sql<number>`(select coalesce(max(number), 0) + 1 from ${sql.table(table)} where service_id = ${row.service_id})`;
    const id = sql<string>`cast(${idPrefix} as text) || cast(${next} as text)`;
    // One table of the two at a time: Kysely cannot type an insert into a table chosen by a type parameter.
    const taken = await db
      .insertInto(table as 'releases')
      .values({ ...row, number: next, id } as Insertable<Database['releases']>)
      .returning(['id', 'number'])
      .executeTakeFirstOrThrow();
    return { id: taken.id, number: Number(taken.number) };
  }, `${table} of ${row.service_id}`);
}
