import { and, eq, sql } from "drizzle-orm";
import type { PerSeatProduct, PoolId } from "../domain/catalog";
import { parsePoolId } from "../domain/catalog";
import type { Db } from "./client";
import { accounts, addonAssignments, addonPurchases, licenses, pools, users } from "./schema";

/**
 * The D1 statements behind the writes the account's Durable Object serializes. Each returns
 * statements for one `writeBatch`, so a write and its audit entry land together or not at all.
 * Bulk forms use `json_each` so 1,000 users stay one statement (D1 binds at most 100 parameters).
 */

/** `alerts` null: the default list (stored as NULL). */
export function upsertPool(db: Db, accountId: string, pool: PoolId, quantity: number, maxActive: number | null, at: string, alerts: readonly number[] | null = null) {
  const { tier, model } = parsePoolId(pool)!;
  const stored = alerts === null ? null : JSON.stringify(alerts);
  return db
    .insert(pools)
    .values({ accountId, id: pool, tier, model, quantity, maxActive, alerts: stored, createdAt: at, updatedAt: at })
    .onConflictDoUpdate({ target: [pools.accountId, pools.id], set: { quantity, maxActive, alerts: stored, updatedAt: at } });
}

export function upsertLicense(db: Db, accountId: string, userId: string, pool: PoolId, at: string) {
  return db
    .insert(licenses)
    .values({ accountId, userId, poolId: pool, assignedAt: at })
    .onConflictDoUpdate({ target: [licenses.accountId, licenses.userId], set: { poolId: pool, assignedAt: at } });
}

export function deleteLicense(db: Db, accountId: string, userId: string) {
  return db.delete(licenses).where(and(eq(licenses.accountId, accountId), eq(licenses.userId, userId)));
}

export function deleteUserAddons(db: Db, accountId: string, userId: string) {
  return db.delete(addonAssignments).where(and(eq(addonAssignments.accountId, accountId), eq(addonAssignments.userId, userId)));
}

export function setTokenGeneration(db: Db, accountId: string, userId: string, generation: number) {
  return db.update(users).set({ tokenGeneration: generation }).where(and(eq(users.accountId, accountId), eq(users.id, userId)));
}

export function deleteUser(db: Db, accountId: string, userId: string) {
  return db.delete(users).where(and(eq(users.accountId, accountId), eq(users.id, userId)));
}

/** Many license assignments in one statement. */
export function upsertLicenses(db: Db, accountId: string, assign: { user_id: string; pool: PoolId }[], at: string) {
  return sql`
    INSERT INTO licenses (account_id, user_id, pool_id, assigned_at)
    SELECT ${accountId}, json_extract(value, '$.user_id'), json_extract(value, '$.pool'), ${at}
    FROM json_each(${JSON.stringify(assign)}) WHERE true
    ON CONFLICT (account_id, user_id) DO UPDATE SET pool_id = excluded.pool_id, assigned_at = excluded.assigned_at`;
}

/** Many revocations in one statement each for licenses and add-on assignments. */
export function deleteLicenses(db: Db, accountId: string, userIds: string[]) {
  const ids = JSON.stringify(userIds);
  return [
    sql`DELETE FROM licenses WHERE account_id = ${accountId} AND user_id IN (SELECT value FROM json_each(${ids}))`,
    sql`DELETE FROM addon_assignments WHERE account_id = ${accountId} AND user_id IN (SELECT value FROM json_each(${ids}))`,
  ] as const;
}

/** Which of these user ids exist in the account. */
export async function existingUsers(db: Db, accountId: string, userIds: string[]): Promise<Set<string>> {
  if (userIds.length === 0) return new Set();
  const rows = await db.all<{ id: string }>(
    sql`SELECT id FROM users WHERE account_id = ${accountId} AND id IN (SELECT value FROM json_each(${JSON.stringify(userIds)}))`,
  );
  return new Set(rows.map((r) => r.id));
}

export async function userExists(db: Db, accountId: string, userId: string): Promise<boolean> {
  const row = await db
    .select({ id: users.id })
    .from(users)
    .where(and(eq(users.accountId, accountId), eq(users.id, userId)))
    .get();
  return row !== undefined;
}

export function updateAccountSettings(
  db: Db,
  accountId: string,
  patch: Partial<{ name: string; billingDay: number; graceSeconds: number; gracePolicy: string; leaseTtlSeconds: number; reconnectGraceSeconds: number; maxSessionsPerUser: number; warnBeforeGraceEndSeconds: number }>,
) {
  return db.update(accounts).set(patch).where(eq(accounts.id, accountId));
}

export function upsertAddonPurchase(db: Db, accountId: string, product: string, quantity: number, at: string) {
  return db
    .insert(addonPurchases)
    .values({ accountId, product, quantity, updatedAt: at })
    .onConflictDoUpdate({ target: [addonPurchases.accountId, addonPurchases.product], set: { quantity, updatedAt: at } });
}

export function insertAddonAssignment(db: Db, accountId: string, userId: string, product: PerSeatProduct, seq: number, at: string) {
  return db
    .insert(addonAssignments)
    .values({ accountId, userId, product, seq, assignedAt: at })
    .onConflictDoNothing();
}

export function deleteAddonAssignment(db: Db, accountId: string, userId: string, product: PerSeatProduct) {
  return db
    .delete(addonAssignments)
    .where(
      and(
        eq(addonAssignments.accountId, accountId),
        eq(addonAssignments.userId, userId),
        eq(addonAssignments.product, product),
      ),
    );
}

/**
 * Raises the account's roster version, in the same batch as a change of anything the object's
 * roster holds (docs/architecture.md#waking-and-the-roster-copy); returns the new version.
 */
export function bumpRosterVersion(accountId: string) {
  return sql`UPDATE accounts SET roster_version = roster_version + 1 WHERE id = ${accountId} RETURNING roster_version`;
}

/** The account's roster version; null for an account D1 does not hold. */
export async function readRosterVersion(db: Db, accountId: string): Promise<number | null> {
  const row = await db.select({ version: accounts.rosterVersion }).from(accounts).where(eq(accounts.id, accountId)).get();
  return row?.version ?? null;
}
