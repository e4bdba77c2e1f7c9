import { and, desc, eq, gt, isNotNull, isNull, lt, or, sql } from "drizzle-orm";
import type { CycleSummary } from "../seats/cycle-summary";
import type { EventRecord } from "../seats/outbox";
import type { Db } from "./client";
import { accounts, billingSummaries, webhookEvents } from "./schema";

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

/** Newest first; the cursor is the last cycle_start seen. */
export async function listSummaries(db: Db, accountId: string, limit: number, before: string | null) {
  const rows = await db
    .select({ cycleStart: billingSummaries.cycleStart, body: billingSummaries.body })
    .from(billingSummaries)
    .where(and(eq(billingSummaries.accountId, accountId), before === null ? undefined : lt(billingSummaries.cycleStart, before)))
    .orderBy(desc(billingSummaries.cycleStart))
    .limit(limit + 1)
    .all();
  const page = rows.slice(0, limit);
  return {
    items: page.map((r) => JSON.parse(r.body) as CycleSummary),
    next: rows.length > limit ? page[page.length - 1].cycleStart : null,
  };
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
    .where(afterId === null ? undefined : gt(accounts.id, afterId))
    .orderBy(accounts.id)
    .limit(limit)
    .all();
}

// ------------------------------------------------------------------ webhook settings

export function setWebhook(db: Db, accountId: string, url: string | null, secret: string | null) {
  return db.update(accounts).set({ webhookUrl: url, webhookSecret: secret }).where(eq(accounts.id, accountId));
}

// ------------------------------------------------------------------ events and deliveries

/** Insert-or-ignore: the event's id is stable, so a retried producer stores it once. */
export function insertEvent(db: Db, event: EventRecord) {
  return db
    .insert(webhookEvents)
    .values({ accountId: event.account_id, id: event.id, type: event.type, body: JSON.stringify(event), createdAt: event.created_at })
    .onConflictDoNothing();
}

export interface PendingDelivery {
  body: string;
  deliveredAt: string | null;
  deadAt: string | null;
  url: string | null;
  secret: string | null;
}

/** The event with the account's webhook, or undefined for an unknown event. */
export async function findDelivery(db: Db, accountId: string, eventId: string): Promise<PendingDelivery | undefined> {
  return db
    .select({
      body: webhookEvents.body,
      deliveredAt: webhookEvents.deliveredAt,
      deadAt: webhookEvents.deadAt,
      url: accounts.webhookUrl,
      secret: accounts.webhookSecret,
    })
    .from(webhookEvents)
    .innerJoin(accounts, eq(accounts.id, webhookEvents.accountId))
    .where(and(eq(webhookEvents.accountId, accountId), eq(webhookEvents.id, eventId)))
    .get();
}

const eventKey = (accountId: string, eventId: string) => and(eq(webhookEvents.accountId, accountId), eq(webhookEvents.id, eventId));

export async function markDelivered(db: Db, accountId: string, eventId: string, at: string): Promise<void> {
  await db
    .update(webhookEvents)
    .set({ attempts: sql`${webhookEvents.attempts} + 1`, deliveredAt: at, lastError: null })
    .where(eventKey(accountId, eventId));
}

/** Stored, not sent: the account has no webhook. Not an attempt, and not dead: nothing was tried. */
export async function markUndeliverable(db: Db, accountId: string, eventId: string, reason: string): Promise<void> {
  await db.update(webhookEvents).set({ lastError: reason }).where(eventKey(accountId, eventId));
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

/** Puts an undelivered (e.g. dead) event back in line with a fresh set of attempts. */
export function reviveEvent(db: Db, accountId: string, eventId: string) {
  return db
    .update(webhookEvents)
    .set({ attempts: 0, deadAt: null, lastError: null })
    .where(and(eventKey(accountId, eventId), isNull(webhookEvents.deliveredAt)));
}

export type DeliveryStatus = "pending" | "delivered" | "dead";

const statusFilter = (status: DeliveryStatus | undefined) => {
  switch (status) {
    case "delivered":
      return isNotNull(webhookEvents.deliveredAt);
    case "dead":
      return isNotNull(webhookEvents.deadAt);
    case "pending":
      return and(isNull(webhookEvents.deliveredAt), isNull(webhookEvents.deadAt));
    default:
      return undefined;
  }
};

/** Newest first; the cursor is `<created_at>|<id>` of the last row seen. */
export async function listDeliveries(db: Db, accountId: string, limit: number, after: { createdAt: string; id: string } | null, status?: DeliveryStatus) {
  const rows = await db
    .select({
      id: webhookEvents.id,
      type: webhookEvents.type,
      createdAt: webhookEvents.createdAt,
      attempts: webhookEvents.attempts,
      deliveredAt: webhookEvents.deliveredAt,
      deadAt: webhookEvents.deadAt,
      lastError: webhookEvents.lastError,
    })
    .from(webhookEvents)
    .where(
      and(
        eq(webhookEvents.accountId, accountId),
        statusFilter(status),
        after === null
          ? undefined
          : or(lt(webhookEvents.createdAt, after.createdAt), and(eq(webhookEvents.createdAt, after.createdAt), lt(webhookEvents.id, after.id))),
      ),
    )
    .orderBy(desc(webhookEvents.createdAt), desc(webhookEvents.id))
    .limit(limit + 1)
    .all();
  const page = rows.slice(0, limit);
  const last = page[page.length - 1];
  return {
    items: page.map((r) => ({
      id: r.id,
      type: r.type,
      created_at: r.createdAt,
      attempts: r.attempts,
      delivered_at: r.deliveredAt,
      dead_at: r.deadAt,
      last_error: r.lastError,
    })),
    next: rows.length > limit ? `${last.createdAt}|${last.id}` : null,
  };
}
