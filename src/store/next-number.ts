/**
 * Appends a row numbered one past the highest number in its group. The number is read, then inserted
 * under a unique constraint; on a collision (another writer took it) the attempt is retried with a little
 * jittered back-off, so concurrent writers never share or skip a number.
 */
import { isUniqueViolation } from './unique-violation.ts';

export async function insertWithNextNumber<T>(readMax: () => Promise<number>, insert: (next: number) => Promise<T>, what: string): Promise<T> {
  for (let attempt = 0; attempt < 50; attempt++) {
    if (attempt > 0) await new Promise((r) => setTimeout(r, Math.random() * 5 * Math.min(attempt, 10)));
    try {
      return await insert((await readMax()) + 1);
    } catch (err) {
      if (!isUniqueViolation(err)) throw err;
    }
  }
  throw new Error(`could not allocate the next number for ${what}`);
}
