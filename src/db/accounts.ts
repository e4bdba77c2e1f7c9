import { and, eq, isNull } from "drizzle-orm";
import type { Db } from "./client";
import { accounts, apiKeys } from "./schema";

export type AccountRow = typeof accounts.$inferSelect;

export interface AccountView {
  id: string;
  name: string;
  billing_day: number;
  grace_seconds: number;
  lease_ttl_seconds: number;
  webhook_url: string | null;
  created_at: string;
}

export const accountView = (row: AccountRow): AccountView => ({
  id: row.id,
  name: row.name,
  billing_day: row.billingDay,
  grace_seconds: row.graceSeconds,
  lease_ttl_seconds: row.leaseTtlSeconds,
  webhook_url: row.webhookUrl,
  created_at: row.createdAt,
});

export async function findAccount(db: Db, id: string): Promise<AccountRow | undefined> {
  return db.select().from(accounts).where(eq(accounts.id, id)).get();
}

/** The account an unrevoked API key belongs to. */
export async function findApiKey(db: Db, keyHash: string): Promise<{ id: string; accountId: string; scopes: string } | undefined> {
  return db
    .select({ id: apiKeys.id, accountId: apiKeys.accountId, scopes: apiKeys.scopes })
    .from(apiKeys)
    .where(and(eq(apiKeys.keyHash, keyHash), isNull(apiKeys.revokedAt)))
    .get();
}
