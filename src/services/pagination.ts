/** A page of a newest-first list: fetch limit + 1 rows to know whether more follow. */
export interface Page<T> {
  data: T[];
  has_more: boolean;
  next_cursor: string | null;
}

/**
 * Turns `limit + 1` rows ordered by id descending into a page; the cursor is the last id shown,
 * so the next page is `id < cursor` and every row is visited exactly once.
 */
export function toPage<R extends { id: string }, T>(rows: R[], limit: number, view: (r: R) => T): Page<T> {
  const hasMore = rows.length > limit;
  const shown = hasMore ? rows.slice(0, limit) : rows;
  return { data: shown.map(view), has_more: hasMore, next_cursor: hasMore ? shown[shown.length - 1].id : null };
}
