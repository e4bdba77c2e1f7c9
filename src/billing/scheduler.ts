import { billingAccountsPage, type BillingAccount } from "../db/billing";
import { database } from "../db/client";
import { iso } from "../time";
import { endedCyclesSince } from "../domain/cycles";
import type { Env } from "../env";
import type { BillingMessage } from "../records";

/** Accounts read per D1 query. */
const ACCOUNTS_PER_PAGE = 200;
/** Cloudflare Queues takes at most 100 messages per sendBatch. */
const SEND_BATCH_MAX = 100;

/**
 * The scheduled job (docs/architecture.md#billing): finds every cycle that has ended without a summary and
 * queues it on "billing". It only finds work; the consumer does it. It is safe to run twice or to
 * overlap with itself: a cycle queued twice is finalized once (the consumer inserts or ignores),
 * and a missed run is caught up because each account resumes from its last summary, not from the
 * last run. Returns how many cycles were queued.
 */
export async function findDueCycles(env: Env, now: number): Promise<number> {
  const db = database(env.DB);
  let queued = 0;
  let after: string | null = null;
  for (;;) {
    const page = await billingAccountsPage(db, after, ACCOUNTS_PER_PAGE);
    const messages = page.flatMap((account) => dueCycles(account, now));
    for (let i = 0; i < messages.length; i += SEND_BATCH_MAX) {
      await env.BILLING_QUEUE.sendBatch(messages.slice(i, i + SEND_BATCH_MAX).map((body) => ({ body })));
    }
    queued += messages.length;
    if (page.length < ACCOUNTS_PER_PAGE) return queued;
    after = page[page.length - 1].id;
  }
}

/** The account's ended cycles after its last summary, oldest first (capped: a backlog is caught up run by run). */
export function dueCycles(account: BillingAccount, now: number): BillingMessage[] {
  const lastEnd = account.lastEnd === null ? null : Date.parse(account.lastEnd);
  try {
    return endedCyclesSince(lastEnd, Date.parse(account.createdAt), now, account.billingDay).map((cycle) => ({
      account_id: account.id,
      cycle_start: iso(cycle.start),
      cycle_end: iso(cycle.end),
    }));
  } catch (err) {
    // One account's bad row (a billing_day out of range) must not stop billing for all the others.
    console.error(`billing scheduler: skipping account ${account.id}`, err);
    return [];
  }
}
