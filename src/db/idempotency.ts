import { and, eq, isNull, sql } from "drizzle-orm";
import type { Db } from "./client";
import { idempotencyKeys } from "./schema";

export type IdempotencyRow = typeof idempotencyKeys.$inferSelect;

/**
 * Claims (scope, key) for a request: inserts a running row, or takes over an expired row or one
 * whose first request was abandoned (still running at `staleBefore`). True when this request now
 * owns the key; false when another row holds it (read it with `findIdempotencyKey`).
 */
export async function claimIdempotencyKey(
  db: Db,
  row: { scope: string; keyHash: string; accountId: string | null; requestHash: string; createdAt: string; expiresAt: string },
  now: string,
  staleBefore: string,
): Promise<boolean> {
  const fresh = { ...row, status: null, contentType: null, body: null };
  const inserted = await db.insert(idempotencyKeys).values(fresh).onConflictDoNothing().run();
  if (inserted.meta.changes === 1) return true;
  // One statement, so two requests taking over the same expired row cannot both win.
  const taken = await db
    .update(idempotencyKeys)
    .set(fresh)
    .where(
      and(
        eq(idempotencyKeys.scope, row.scope),
        eq(idempotencyKeys.keyHash, row.keyHash),
        sql`(${idempotencyKeys.expiresAt} <= ${now} OR (${idempotencyKeys.status} IS NULL AND ${idempotencyKeys.createdAt} <= ${staleBefore}))`,
      ),
    )
    .run();
  return taken.meta.changes === 1;
}

export const findIdempotencyKey = (db: Db, scope: string, keyHash: string) =>
  db
    .select()
    .from(idempotencyKeys)
    .where(and(eq(idempotencyKeys.scope, scope), eq(idempotencyKeys.keyHash, keyHash)))
    .get();

/** Stores the first answer on the running row this request claimed (created_at names the claim). */
export const storeIdempotentAnswer = (db: Db, scope: string, keyHash: string, createdAt: string, answer: { status: number; contentType: string | null; body: string }) =>
  db
    .update(idempotencyKeys)
    .set(answer)
    .where(and(eq(idempotencyKeys.scope, scope), eq(idempotencyKeys.keyHash, keyHash), eq(idempotencyKeys.createdAt, createdAt), isNull(idempotencyKeys.status)))
    .run();

/** Lets the key go (the answer is not kept: a 5xx), so a retry runs the request again. */
export const releaseIdempotencyKey = (db: Db, scope: string, keyHash: string, createdAt: string) =>
  db
    .delete(idempotencyKeys)
    .where(and(eq(idempotencyKeys.scope, scope), eq(idempotencyKeys.keyHash, keyHash), eq(idempotencyKeys.createdAt, createdAt), isNull(idempotencyKeys.status)))
    .run();

/** Deletes up to `limit` expired rows (the hourly job); returns how many. */
export async function deleteExpiredIdempotencyKeys(d1: D1Database, now: string, limit: number): Promise<number> {
  const res = await d1
    .prepare("DELETE FROM idempotency_keys WHERE rowid IN (SELECT rowid FROM idempotency_keys WHERE expires_at <= ? LIMIT ?)")
    .bind(now, limit)
    .run();
  return res.meta.changes;
}

/** Every key of an account (offboarding). */
export const deleteAccountIdempotencyKeys = (db: Db, accountId: string) => db.delete(idempotencyKeys).where(eq(idempotencyKeys.accountId, accountId));
