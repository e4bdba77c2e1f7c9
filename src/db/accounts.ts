import { and, eq, isNull, lt, or } from "drizzle-orm";
import type { Db } from "./client";
import { accounts, apiKeys } from "./schema";

export type AccountRow = typeof accounts.$inferSelect;

export interface AccountView {
  id: string;
  name: string;
  billing_day: number;
  grace_seconds: number;
  grace_policy: "per_overrun" | "cumulative";
  lease_ttl_seconds: number;
  reconnect_grace_seconds: number;
  max_sessions_per_user: number;
  warn_before_grace_end_seconds: number;
  webhook_url: string | null;
  created_at: string;
}

export const accountView = (row: AccountRow): AccountView => ({
  id: row.id,
  name: row.name,
  billing_day: row.billingDay,
  grace_seconds: row.graceSeconds,
  grace_policy: row.gracePolicy === "cumulative" ? "cumulative" : "per_overrun",
  lease_ttl_seconds: row.leaseTtlSeconds,
  reconnect_grace_seconds: row.reconnectGraceSeconds,
  max_sessions_per_user: row.maxSessionsPerUser,
  warn_before_grace_end_seconds: row.warnBeforeGraceEndSeconds,
  webhook_url: row.webhookUrl,
  created_at: row.createdAt,
});

/** An account that is not deleted (offboarding: a deleted account is gone for every route). */
export async function findAccount(db: Db, id: string): Promise<AccountRow | undefined> {
  return db.select().from(accounts).where(and(eq(accounts.id, id), isNull(accounts.deletedAt))).get();
}

/** The account's row, deleted or not: its id stays taken, its summaries readable by the operator. */
export async function findAccountRow(db: Db, id: string): Promise<AccountRow | undefined> {
  return db.select().from(accounts).where(eq(accounts.id, id)).get();
}

/** The account an unrevoked API key belongs to, unless the account is deleted. */
export async function findApiKey(db: Db, keyHash: string): Promise<{ id: string; accountId: string; scopes: string; lastUsedAt: string | null } | undefined> {
  return db
    .select({ id: apiKeys.id, accountId: apiKeys.accountId, scopes: apiKeys.scopes, lastUsedAt: apiKeys.lastUsedAt })
    .from(apiKeys)
    .innerJoin(accounts, eq(accounts.id, apiKeys.accountId))
    .where(and(eq(apiKeys.keyHash, keyHash), isNull(apiKeys.revokedAt), isNull(accounts.deletedAt)))
    .get();
}

export function insertAccount(db: Db, row: typeof accounts.$inferInsert) {
  return db.insert(accounts).values(row);
}

export function insertApiKey(db: Db, key: typeof apiKeys.$inferInsert) {
  return db.insert(apiKeys).values(key);
}

/** One key of the account (revoked or not); another account's key is not found. */
export async function findAccountKey(db: Db, accountId: string, keyId: string): Promise<{ revokedAt: string | null } | undefined> {
  return db
    .select({ revokedAt: apiKeys.revokedAt })
    .from(apiKeys)
    .where(and(eq(apiKeys.accountId, accountId), eq(apiKeys.id, keyId)))
    .get();
}

/** Records a use of the key, unless a later one is recorded already. */
export async function touchApiKey(db: Db, keyId: string, at: string): Promise<void> {
  await db.update(apiKeys).set({ lastUsedAt: at }).where(and(eq(apiKeys.id, keyId), or(isNull(apiKeys.lastUsedAt), lt(apiKeys.lastUsedAt, at))));
}

/** The account's keys, oldest first: what an admin may see of them (never the key or its hash). */
export async function listApiKeys(db: Db, accountId: string) {
  return db
    .select({
      id: apiKeys.id,
      name: apiKeys.name,
      prefix: apiKeys.prefix,
      scopes: apiKeys.scopes,
      createdAt: apiKeys.createdAt,
      lastUsedAt: apiKeys.lastUsedAt,
      revokedAt: apiKeys.revokedAt,
    })
    .from(apiKeys)
    .where(eq(apiKeys.accountId, accountId))
    .orderBy(apiKeys.createdAt, apiKeys.id)
    .all();
}

export function revokeApiKey(db: Db, accountId: string, keyId: string, at: string) {
  return db.update(apiKeys).set({ revokedAt: at }).where(and(eq(apiKeys.accountId, accountId), eq(apiKeys.id, keyId)));
}
