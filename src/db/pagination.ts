import { and, eq, lt, or, type SQL } from "drizzle-orm";
import type { SQLiteColumn } from "drizzle-orm/sqlite-core";

/**
 * Keyset pagination, one way for every list: a query fetches `limit + 1` rows after the key of the
 * last row seen; the extra row only says that there is a next page. Keys are tuples of the sort
 * columns (the route turns them into opaque cursors, src/routes/cursor.ts).
 */
export interface Page<T, K> {
  items: T[];
  /** The key of the page's last row when more rows follow, else null. */
  next: K | null;
}

export function pageOf<R, T, K>(rows: R[], limit: number, keyOf: (row: R) => K, view: (row: R) => T): Page<T, K> {
  const page = rows.slice(0, limit);
  return { items: page.map(view), next: rows.length > limit ? keyOf(page[page.length - 1]) : null };
}

/** Rows strictly after `(t, id)` in `ORDER BY t DESC, id DESC`: newest-first lists with a tie-break. */
export function olderThan(t: SQLiteColumn, id: SQLiteColumn, after: readonly [string, string] | null): SQL | undefined {
  if (after === null) return undefined;
  return or(lt(t, after[0]), and(eq(t, after[0]), lt(id, after[1])));
}
