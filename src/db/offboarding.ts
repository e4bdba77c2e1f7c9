import { and, eq, isNotNull, isNull, ne, or, sql } from "drizzle-orm";
import type { Db } from "./client";
import {
  accountPrices,
  accounts,
  addonAssignments,
  addonPurchases,
  apiKeys,
  auditLog,
  idempotencyKeys,
  licenses,
  overageIntervals,
  pools,
  poolTeams,
  provisioningRules,
  scimGroupMembers,
  scimGroups,
  scimUsers,
  users,
} from "./schema";

/**
 * Offboarding's D1 side (docs/architecture.md#offboarding). Every statement is safe to run again,
 * so a DELETE that failed half-way is completed by the next one.
 */

/**
 * Marks the account deleted (once: a retry keeps the first time). From here on it is gone for
 * every credential. Raising roster_version makes an object that wakes from its roster copy read
 * D1 again, and so learn it (src/seats/roster-sync.ts).
 */
export const markAccountDeleted = (db: Db, accountId: string, at: string) =>
  db
    .update(accounts)
    .set({ deletedAt: sql`COALESCE(${accounts.deletedAt}, ${at})`, rosterVersion: sql`${accounts.rosterVersion} + 1` })
    .where(eq(accounts.id, accountId));

/** Fixes the end of the short last cycle, once; returns the end in force. */
export async function fixFinalCycleEnd(db: Db, accountId: string, at: string): Promise<string> {
  await db.update(accounts).set({ finalCycleEnd: at }).where(and(eq(accounts.id, accountId), isNull(accounts.finalCycleEnd)));
  const row = await db.select({ end: accounts.finalCycleEnd }).from(accounts).where(eq(accounts.id, accountId)).get();
  return row!.end!;
}

/**
 * Everything of the account but its row (kept, marked: its id stays taken and its webhook
 * delivers the last summary), its billing summaries and its webhook events (the operator reads
 * them), in one atomic batch.
 * A table added for an account's data belongs in this list.
 */
export function purgeAccountStatements(db: Db, accountId: string) {
  return [
    db.delete(apiKeys).where(eq(apiKeys.accountId, accountId)),
    db.delete(licenses).where(eq(licenses.accountId, accountId)),
    db.delete(addonAssignments).where(eq(addonAssignments.accountId, accountId)),
    db.delete(addonPurchases).where(eq(addonPurchases.accountId, accountId)),
    db.delete(poolTeams).where(eq(poolTeams.accountId, accountId)),
    db.delete(pools).where(eq(pools.accountId, accountId)),
    db.delete(overageIntervals).where(eq(overageIntervals.accountId, accountId)),
    db.delete(scimGroupMembers).where(eq(scimGroupMembers.accountId, accountId)),
    db.delete(scimGroups).where(eq(scimGroups.accountId, accountId)),
    db.delete(scimUsers).where(eq(scimUsers.accountId, accountId)),
    db.delete(provisioningRules).where(eq(provisioningRules.accountId, accountId)),
    db.delete(accountPrices).where(eq(accountPrices.accountId, accountId)),
    // All but the operator's request still running: this DELETE itself, which stores its 204
    // there after the purge, so a retry with the same Idempotency-Key gets it back, not a 404.
    db
      .delete(idempotencyKeys)
      .where(and(eq(idempotencyKeys.accountId, accountId), or(ne(idempotencyKeys.scope, "operator"), isNotNull(idempotencyKeys.status)))),
    db.delete(auditLog).where(eq(auditLog.accountId, accountId)),
    db.delete(users).where(eq(users.accountId, accountId)),
  ];
}

/** The last step: offboarding is complete (a second DELETE is 404). */
export const markOffboarded = (db: Db, accountId: string, at: string) =>
  db.update(accounts).set({ offboardedAt: sql`COALESCE(${accounts.offboardedAt}, ${at})` }).where(eq(accounts.id, accountId));
