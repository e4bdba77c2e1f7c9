import { SQL } from "drizzle-orm";
import { SQLiteAsyncDialect } from "drizzle-orm/sqlite-core";

/** Anything that renders to one SQL statement: a Drizzle query builder, or a raw `sql` template. */
export type Statement = SQL | { toSQL(): { sql: string; params: unknown[] } };

const dialect = new SQLiteAsyncDialect();

/**
 * Runs statements as one atomic D1 batch. Drizzle's own `db.batch` cannot carry raw `sql`
 * statements with parameters (the json_each bulk writes), so every write batch goes through here.
 */
export async function writeBatch(d1: D1Database, statements: Statement[]): Promise<D1Result[]> {
  if (statements.length === 0) return [];
  return d1.batch(
    statements.map((s) => {
      const { sql, params } = s instanceof SQL ? dialect.sqlToQuery(s) : s.toSQL();
      return d1.prepare(sql).bind(...params);
    }),
  );
}
