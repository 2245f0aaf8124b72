/** Cursor pagination over ids, as Northflank answers a list: `pagination { hasNextPage, cursor, count }`. */

export interface PageQuery {
  per_page?: number;
  page?: number;
  cursor?: string;
}

export interface Pagination {
  hasNextPage: boolean;
  cursor?: string;
  count: number;
}

/**
 * One page of a list ordered by id. `fetch` reads up to `limit` rows with ids after `after`; one row more than
 * the page tells whether a next page exists. A `page` number without a cursor skips the pages before it.
 */
export async function paginate<T extends { id: string }>(q: PageQuery, fetch: (after: string | undefined, limit: number) => Promise<T[]>): Promise<{ items: T[]; pagination: Pagination }> {
  const perPage = q.per_page ?? 50;
  let after = q.cursor ? Buffer.from(q.cursor, 'base64url').toString('utf8') : undefined;
  if (!after && q.page && q.page > 1) {
    const skipped = await fetch(undefined, (q.page - 1) * perPage);
    after = skipped.at(-1)?.id ?? '\uffff';
  }
  const rows = await fetch(after, perPage + 1);
  const items = rows.slice(0, perPage);
  const hasNextPage = rows.length > perPage;
  return { items, pagination: { hasNextPage, ...(hasNextPage ? { cursor: Buffer.from(items.at(-1)!.id).toString('base64url') } : {}), count: items.length } };
}
