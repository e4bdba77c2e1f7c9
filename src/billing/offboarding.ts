import { findAccountRow, type AccountRow } from "../db/accounts";
import { writeBatch } from "../db/batch";
import { insertEvent, insertSummary, lastSummaryEnd, summaryExists } from "../db/billing";
import { database, type Db } from "../db/client";
import { fixFinalCycleEnd, markAccountDeleted, markOffboarded, purgeAccountStatements } from "../db/offboarding";
import { findPrices } from "../db/prices";
import { cycleAfter } from "../domain/cycles";
import { summaryAmounts } from "../domain/pricing";
import type { Env } from "../env";
import { ApiError, notFound } from "../errors";
import type { CycleSummary } from "../records";
import { seatsOf } from "../seats/stub";
import { iso } from "../time";
import { summaryEvent, summaryEventId } from "./consumers";

/**
 * Offboarding: `DELETE /v1/accounts/{account_id}` (docs/architecture.md#offboarding, decision 112).
 * The steps run in this order, each safe to repeat, and the account counts as offboarded only
 * after the last, so a DELETE that fails half-way answers 503 and the next DELETE completes it:
 *
 * 1. mark the account deleted in D1: its API keys get 401 at once, the scheduler skips it;
 * 2. its object refuses every agent (401), ends every session and closes the sockets; its clock
 *    is the end of the last cycle (fixed once in D1);
 * 3. every cycle up to that end is finalized from the object's step log — the last one short —
 *    summary and `billing.summary` event stored and queued like any other;
 * 4. D1 loses everything of the account but its row, summaries and webhook events (one batch);
 * 5. the object's storage is emptied and its alarm cleared, and the instance is reset (its memory dropped);
 * 6. the account is marked offboarded: a second DELETE is 404.
 */
export async function offboardAccount(env: Env, accountId: string): Promise<{ final_cycle_end: string; summaries: number }> {
  const db = database(env.DB);
  const row = await findAccountRow(db, accountId);
  if (!row || row.offboardedAt !== null) throw notFound(`Account ${accountId}`);
  try {
    await markAccountDeleted(db, accountId, iso(Date.now()));
    const seats = seatsOf(env, accountId);
    const end = await fixFinalCycleEnd(db, accountId, iso(await seats.closeAccount()));
    const summaries = await finalizeThrough(env, db, row, Date.parse(end));
    await writeBatch(env.DB, purgeAccountStatements(db, accountId));
    await seats.wipe();
    // Drops what the instance held in memory; it answers with the reset's own error, which is the point.
    await seats.reset().catch(() => undefined);
    await markOffboarded(db, accountId, iso(Date.now()));
    console.log(JSON.stringify({ msg: "account offboarded", account_id: accountId, final_cycle_end: end, summaries }));
    return { final_cycle_end: end, summaries };
  } catch (err) {
    console.error(`offboarding ${accountId} stopped half-way; a DELETE again completes it`, err instanceof Error ? err.message : String(err));
    throw new ApiError(
      "outcome_unknown",
      "The account is deleted (its keys and agent tokens are refused) but not every step of offboarding finished; send the DELETE again to complete it.",
    );
  }
}

/** Finalizes the account's cycles after its last summary up to `end`: the last one ends at `end`. Returns how many it stored. */
async function finalizeThrough(env: Env, db: Db, account: AccountRow, end: number): Promise<number> {
  let stored = 0;
  for (;;) {
    const lastEnd = await lastSummaryEnd(db, account.id);
    const after = lastEnd === null ? null : Date.parse(lastEnd);
    if (after !== null && after >= end) return stored;
    const cycle = cycleAfter(after, Date.parse(account.createdAt), account.billingDay);
    const to = Math.min(cycle.end, end);
    if (cycle.start >= to) return stored;
    stored += await finalizeWindow(env, db, account.id, cycle.start, to);
  }
}

async function finalizeWindow(env: Env, db: Db, accountId: string, from: number, to: number): Promise<number> {
  const start = iso(from);
  let stored = 0;
  if (!(await summaryExists(db, accountId, start))) {
    const [figures, prices] = await Promise.all([seatsOf(env, accountId).cycleSummary({ from, to }), findPrices(db, accountId)]);
    if (!figures.final) throw new Error(`the account's clock has not reached ${iso(to)}`);
    const summary: CycleSummary = { ...figures, amounts: prices ? summaryAmounts(figures, prices) : null };
    await writeBatch(env.DB, [insertSummary(db, summary), insertEvent(db, summaryEvent(summary))]);
    stored = 1;
  }
  await env.EVENTS_QUEUE.send({ account_id: accountId, event_id: summaryEventId(start) });
  return stored;
}
