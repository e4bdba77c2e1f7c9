import { and, desc, eq, gt, isNotNull, isNull, lt, or, sql } from "drizzle-orm";
import type { AnySQLiteColumn } from "drizzle-orm/sqlite-core";
import type { CycleSummary } from "../records";
import type { EventRecord } from "../records";
import type { Db } from "./client";
import { olderThan, pageOf } from "./pagination";
import type { AuditEntry } from "./audit";
import { accounts, auditLog, billingSummaries, webhookEvents } from "./schema";

/** D1 queries of billing: summaries, the scheduler's account scan, webhook settings and deliveries. */

// ------------------------------------------------------------------ summaries

/** Insert-or-ignore on (account_id, cycle_start): a second finalization of a cycle changes nothing. */
export function insertSummary(db: Db, summary: CycleSummary) {
  return db
    .insert(billingSummaries)
    .values({
      accountId: summary.account_id,
      cycleStart: summary.cycle_start,
      cycleEnd: summary.cycle_end,
      body: JSON.stringify(summary),
      generatedAt: summary.generated_at,
    })
    .onConflictDoNothing();
}

export async function summaryExists(db: Db, accountId: string, cycleStart: string): Promise<boolean> {
  const row = await db
    .select({ one: sql<number>`1` })
    .from(billingSummaries)
    .where(and(eq(billingSummaries.accountId, accountId), eq(billingSummaries.cycleStart, cycleStart)))
    .get();
  return row !== undefined;
}

/** The end of the account's last finalized cycle (cycles chain, so the newest start has the last end). */
export async function lastSummaryEnd(db: Db, accountId: string): Promise<string | null> {
  const row = await db
    .select({ cycleEnd: billingSummaries.cycleEnd })
    .from(billingSummaries)
    .where(eq(billingSummaries.accountId, accountId))
    .orderBy(desc(billingSummaries.cycleStart))
    .limit(1)
    .get();
  return row?.cycleEnd ?? null;
}

/** Newest first, keyed by cycle_start. */
export async function listSummaries(db: Db, accountId: string, limit: number, after: readonly [string] | null) {
  const rows = await db
    .select({ cycleStart: billingSummaries.cycleStart, body: billingSummaries.body })
    .from(billingSummaries)
    .where(and(eq(billingSummaries.accountId, accountId), after === null ? undefined : lt(billingSummaries.cycleStart, after[0])))
    .orderBy(desc(billingSummaries.cycleStart))
    .limit(limit + 1)
    .all();
  return pageOf(rows, limit, (r): [string] => [r.cycleStart], (r) => JSON.parse(r.body) as CycleSummary);
}

// ------------------------------------------------------------------ the scheduler's scan

export interface BillingAccount {
  id: string;
  billingDay: number;
  createdAt: string;
  /** cycle_end of the last summary, or null. */
  lastEnd: string | null;
}

/** A page of accounts in id order, each with the end of its last summary (one query per page). */
export async function billingAccountsPage(db: Db, afterId: string | null, limit: number): Promise<BillingAccount[]> {
  // Correlated subquery on the summaries' primary key: one index probe per account.
  const lastEnd = sql<string | null>`(SELECT s.cycle_end FROM billing_summaries s WHERE s.account_id = ${accounts.id} ORDER BY s.cycle_start DESC LIMIT 1)`;
  return db
    .select({ id: accounts.id, billingDay: accounts.billingDay, createdAt: accounts.createdAt, lastEnd })
    .from(accounts)
    // A deleted account's last cycle is finalized by its offboarding; the scheduler skips it.
    .where(and(isNull(accounts.deletedAt), afterId === null ? undefined : gt(accounts.id, afterId)))
    .orderBy(accounts.id)
    .limit(limit)
    .all();
}

// ------------------------------------------------------------------ webhook settings

export type WebhookFormat = "seatkeeper" | "standard";

/** A webhook as stored: secrets sealed (src/billing/secret-box.ts). */
export interface StoredWebhook {
  url: string | null;
  format: WebhookFormat;
  /** Sealed. */
  secret: string | null;
  /** A plain secret from before migration 0003, not yet sealed. */
  plainSecret: string | null;
  /** Sealed; signs too while `previousUntil` is in the future. */
  previousSecret: string | null;
  previousUntil: string | null;
}

const webhookColumns = {
  url: accounts.webhookUrl,
  format: accounts.webhookFormat,
  secret: accounts.webhookSecret,
  plainSecret: accounts.webhookSecretPlain,
  previousSecret: accounts.webhookSecretPrevious,
  previousUntil: accounts.webhookSecretPreviousUntil,
};

export async function findWebhook(db: Db, accountId: string): Promise<StoredWebhook | undefined> {
  const row = await db.select(webhookColumns).from(accounts).where(eq(accounts.id, accountId)).get();
  return row && { ...row, format: row.format as WebhookFormat };
}

/** Sets (or, with all nulls, removes) the webhook; a plain secret left from before 0003 goes with it. */
export function setWebhook(db: Db, accountId: string, hook: Omit<StoredWebhook, "plainSecret">) {
  return db
    .update(accounts)
    .set({
      webhookUrl: hook.url,
      webhookFormat: hook.format,
      webhookSecret: hook.secret,
      webhookSecretPlain: null,
      webhookSecretPrevious: hook.previousSecret,
      webhookSecretPreviousUntil: hook.previousUntil,
    })
    .where(eq(accounts.id, accountId));
}

export const clearWebhook = (db: Db, accountId: string) =>
  setWebhook(db, accountId, { url: null, format: "seatkeeper", secret: null, previousSecret: null, previousUntil: null });

/**
 * Replaces the plain secret read as `plain` by its sealed form. Conditional on the plain copy
 * being unchanged, so a PUT that landed in between is never overwritten.
 */
export async function sealPlainSecret(db: Db, accountId: string, plain: string, sealed: string): Promise<void> {
  await db
    .update(accounts)
    .set({ webhookSecret: sealed, webhookSecretPlain: null })
    .where(and(eq(accounts.id, accountId), eq(accounts.webhookSecretPlain, plain)));
}

/** Accounts whose secrets need (re)sealing: a plain one left, or one sealed under another key than `keyId`. */
export async function secretsToReseal(db: Db, keyId: string, limit: number) {
  const prefix = `v1.${keyId}.%`;
  return db
    .select({ id: accounts.id, ...webhookColumns })
    .from(accounts)
    .where(
      or(
        isNotNull(accounts.webhookSecretPlain),
        and(isNotNull(accounts.webhookSecret), sql`${accounts.webhookSecret} NOT LIKE ${prefix}`),
        and(isNotNull(accounts.webhookSecretPrevious), sql`${accounts.webhookSecretPrevious} NOT LIKE ${prefix}`),
      ),
    )
    .orderBy(accounts.id)
    .limit(limit)
    .all();
}

/** Writes resealed secrets, only if the row still holds what was read (a PUT in between wins). */
export function resealSecrets(
  db: Db,
  accountId: string,
  read: { secret: string | null; plainSecret: string | null; previousSecret: string | null },
  sealed: { secret: string | null; previousSecret: string | null },
) {
  const same = (column: AnySQLiteColumn, value: string | null) => (value === null ? isNull(column) : eq(column, value));
  return db
    .update(accounts)
    .set({ webhookSecret: sealed.secret, webhookSecretPlain: null, webhookSecretPrevious: sealed.previousSecret })
    .where(
      and(
        eq(accounts.id, accountId),
        same(accounts.webhookSecret, read.secret),
        same(accounts.webhookSecretPlain, read.plainSecret),
        same(accounts.webhookSecretPrevious, read.previousSecret),
      ),
    );
}

// ------------------------------------------------------------------ events and deliveries

/** Insert-or-ignore: the event's id is stable, so a retried producer stores it once. */
export function insertEvent(db: Db, event: EventRecord) {
  return db
    .insert(webhookEvents)
    .values({ accountId: event.account_id, id: event.id, type: event.type, body: JSON.stringify(event), createdAt: event.created_at })
    .onConflictDoNothing();
}

export interface PendingDelivery extends StoredWebhook {
  body: string;
  deliveredAt: string | null;
  deadAt: string | null;
  noEndpointAt: string | null;
}

/** The event with the account's webhook, or undefined for an unknown event. */
export async function findDelivery(db: Db, accountId: string, eventId: string): Promise<PendingDelivery | undefined> {
  const row = await db
    .select({
      body: webhookEvents.body,
      deliveredAt: webhookEvents.deliveredAt,
      deadAt: webhookEvents.deadAt,
      noEndpointAt: webhookEvents.noEndpointAt,
      ...webhookColumns,
    })
    .from(webhookEvents)
    .innerJoin(accounts, eq(accounts.id, webhookEvents.accountId))
    .where(and(eq(webhookEvents.accountId, accountId), eq(webhookEvents.id, eventId)))
    .get();
  return row && { ...row, format: row.format as WebhookFormat };
}

const eventKey = (accountId: string, eventId: string) => and(eq(webhookEvents.accountId, accountId), eq(webhookEvents.id, eventId));

export async function markDelivered(db: Db, accountId: string, eventId: string, at: string): Promise<void> {
  await db
    .update(webhookEvents)
    .set({ attempts: sql`${webhookEvents.attempts} + 1`, deliveredAt: at, lastError: null })
    .where(eventKey(accountId, eventId));
}

/**
 * Settled without a usable webhook (none set, or its URL or secret unusable): not an attempt and
 * not dead, and not retried; only a redeliver sends it. `reason` is null when there was no webhook.
 */
export async function markNoEndpoint(db: Db, accountId: string, eventId: string, at: string, reason: string | null): Promise<void> {
  await db.update(webhookEvents).set({ noEndpointAt: at, lastError: reason }).where(and(eventKey(accountId, eventId), isNull(webhookEvents.deliveredAt)));
}

/**
 * Counts a failed attempt; the one that reaches `maxAttempts` also sets dead_at (the dead-letter
 * record). One statement, so the count and the verdict cannot disagree. Returns the attempts so far.
 */
export async function recordFailure(db: Db, accountId: string, eventId: string, error: string, at: string, maxAttempts: number) {
  const row = await db
    .update(webhookEvents)
    .set({
      attempts: sql`${webhookEvents.attempts} + 1`,
      lastError: error,
      deadAt: sql`CASE WHEN ${webhookEvents.attempts} + 1 >= ${maxAttempts} THEN ${at} ELSE NULL END`,
    })
    .where(eventKey(accountId, eventId))
    .returning({ attempts: webhookEvents.attempts, deadAt: webhookEvents.deadAt })
    .get();
  return { attempts: row?.attempts ?? maxAttempts, dead: row?.deadAt != null };
}

/** Puts a dead or no_endpoint event back in line with a fresh set of attempts (nothing else). */
export function reviveEvent(db: Db, accountId: string, eventId: string) {
  return db
    .update(webhookEvents)
    .set({ attempts: 0, deadAt: null, noEndpointAt: null, lastError: null })
    .where(and(eventKey(accountId, eventId), isNull(webhookEvents.deliveredAt), or(isNotNull(webhookEvents.deadAt), isNotNull(webhookEvents.noEndpointAt))));
}

/**
 * An audit insert that lands only if the statement just before it in the same batch changed
 * exactly one row (SQLite's changes()): for a conditional write whose audit entry must not be
 * written when the condition failed.
 */
export function auditIfChanged(accountId: string, at: string, entry: AuditEntry) {
  return sql`INSERT INTO ${auditLog} (account_id, at, actor, action, target, detail)
    SELECT ${accountId}, ${at}, ${entry.actor}, ${entry.action}, ${entry.target}, ${JSON.stringify(entry.detail ?? {})} WHERE changes() = 1`;
}

export const DELIVERY_STATUSES = ["pending", "delivered", "dead", "no_endpoint"] as const;
export type DeliveryStatus = (typeof DELIVERY_STATUSES)[number];

/** An event's status from its row: delivered, dead and no_endpoint are settled; pending is in line. */
export function deliveryStatus(row: { deliveredAt: string | null; deadAt: string | null; noEndpointAt: string | null }): DeliveryStatus {
  if (row.deliveredAt !== null) return "delivered";
  if (row.deadAt !== null) return "dead";
  if (row.noEndpointAt !== null) return "no_endpoint";
  return "pending";
}

const statusFilter = (status: DeliveryStatus | undefined) => {
  switch (status) {
    case "delivered":
      return isNotNull(webhookEvents.deliveredAt);
    case "dead":
      return isNotNull(webhookEvents.deadAt);
    case "no_endpoint":
      return and(isNull(webhookEvents.deliveredAt), isNull(webhookEvents.deadAt), isNotNull(webhookEvents.noEndpointAt));
    case "pending":
      return and(isNull(webhookEvents.deliveredAt), isNull(webhookEvents.deadAt), isNull(webhookEvents.noEndpointAt));
    default:
      return undefined;
  }
};

/** Newest first, keyed by (created_at, id). */
export async function listDeliveries(db: Db, accountId: string, limit: number, after: readonly [string, string] | null, status?: DeliveryStatus) {
  const rows = await db
    .select({
      id: webhookEvents.id,
      type: webhookEvents.type,
      createdAt: webhookEvents.createdAt,
      attempts: webhookEvents.attempts,
      deliveredAt: webhookEvents.deliveredAt,
      deadAt: webhookEvents.deadAt,
      noEndpointAt: webhookEvents.noEndpointAt,
      lastError: webhookEvents.lastError,
    })
    .from(webhookEvents)
    .where(
      and(
        eq(webhookEvents.accountId, accountId),
        statusFilter(status),
        olderThan(webhookEvents.createdAt, webhookEvents.id, after),
      ),
    )
    .orderBy(desc(webhookEvents.createdAt), desc(webhookEvents.id))
    .limit(limit + 1)
    .all();
  return pageOf(
    rows,
    limit,
    (r): [string, string] => [r.createdAt, r.id],
    (r) => ({
      id: r.id,
      type: r.type,
      created_at: r.createdAt,
      status: deliveryStatus(r),
      attempts: r.attempts,
      delivered_at: r.deliveredAt,
      dead_at: r.deadAt,
      last_error: r.lastError,
    }),
  );
}
