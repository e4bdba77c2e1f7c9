import { describe, expect, it } from "vitest";
import { summaryEventId } from "../../src/billing/consumers";
import { call, MIN, newAccount, putPool, setClock, api, replyOf } from "../helpers";
import { cyclesOf, forAccount, harness, iso, runQueue, runScheduled, storedEvents, storedSummaries } from "./support";

/**
 * The scheduled job and the "billing" queue consumer (docs/licensing.md#summaries, docs/architecture.md#billing):
 * exactly one summary per account and cycle, however often the job runs and the queue redelivers.
 * The queues record instead of delivering, so each test runs the consumer itself.
 */

const HOUR = 60 * MIN;

describe("scheduled job and billing consumer", () => {
  it("running the scheduled handler twice for the same time and redelivering the message gives one summary", async () => {
    const h = harness();
    const f = await newAccount();
    await putPool(f, "premium-concurrent", 5);
    const [c0] = await cyclesOf(f, 1);
    await setClock(f, c0.end + HOUR);

    await runScheduled(h, c0.end + 7 * MIN);
    await runScheduled(h, c0.end + 7 * MIN);
    const queued = forAccount(h.billing.sent, f);
    const expected = { account_id: f.accountId, cycle_start: iso(c0.start), cycle_end: iso(c0.end) };
    expect(queued).toEqual([expected, expected]);

    // Both copies in one batch, then the first again as a redelivery.
    const first = await runQueue(h, "seatkeeper-billing", queued);
    expect(first.acked).toHaveLength(2);
    const again = await runQueue(h, "seatkeeper-billing", [expected], 2);
    expect(again.acked).toHaveLength(1);

    const summaries = await storedSummaries(f);
    expect(summaries).toHaveLength(1);
    expect(summaries[0]).toMatchObject({ ...expected, final: true });
    expect(summaries[0].pools.map((p: any) => p.pool)).toEqual(["premium-concurrent"]);
    const events = await storedEvents(f, "billing.summary");
    expect(events.map((e) => e.id)).toEqual([summaryEventId(expected.cycle_start)]);
    // The event is queued on every try (the consumer cannot know whether an earlier try got that far); its id is the same.
    expect(new Set(forAccount(h.events.sent, f).map((m) => m.event_id))).toEqual(new Set([events[0].id]));

    // Once summarized, the cycle is no longer due.
    await runScheduled(h, c0.end + 67 * MIN);
    expect(forAccount(h.billing.sent, f)).toHaveLength(2);
  });

  it("a crash after storing the summary but before queueing its event is healed by the redelivery", async () => {
    const h = harness();
    const f = await newAccount();
    const [c0] = await cyclesOf(f, 1);
    await setClock(f, c0.end + HOUR);
    const message = { account_id: f.accountId, cycle_start: iso(c0.start), cycle_end: iso(c0.end) };

    h.events.failures = 1;
    const crashed = await runQueue(h, "seatkeeper-billing", [message]);
    expect(crashed.retried).toHaveLength(1);
    expect(await storedSummaries(f)).toHaveLength(1);
    expect(forAccount(h.events.sent, f)).toEqual([]);

    const redelivered = await runQueue(h, "seatkeeper-billing", [message], 2);
    expect(redelivered.acked).toHaveLength(1);
    expect(await storedSummaries(f)).toHaveLength(1);
    expect(await storedEvents(f, "billing.summary")).toHaveLength(1);
    expect(forAccount(h.events.sent, f)).toEqual([{ account_id: f.accountId, event_id: summaryEventId(message.cycle_start) }]);
  });

  it("a missed run is caught up: every ended cycle, in order, with no gap", async () => {
    const h = harness();
    const f = await newAccount();
    const cycles = await cyclesOf(f, 4);
    await setClock(f, cycles[2].end + HOUR);

    await runScheduled(h, cycles[2].end + 7 * MIN);
    const queued = forAccount(h.billing.sent, f);
    expect(queued.map((m) => m.cycle_start)).toEqual(cycles.slice(0, 3).map((c) => iso(c.start)));

    // Delivered newest first: the consumer still finalizes them oldest first.
    const result = await runQueue(h, "seatkeeper-billing", [...queued].reverse());
    expect(result.acked).toHaveLength(3);
    const summaries = await storedSummaries(f);
    expect(summaries.map((s) => [s.cycle_start, s.cycle_end])).toEqual(cycles.slice(0, 3).map((c) => [iso(c.start), iso(c.end)]));
  });

  it("a later cycle waits for the one before it, so a lost message never leaves a gap", async () => {
    const h = harness();
    const f = await newAccount();
    const [c0, c1] = await cyclesOf(f, 2);
    await setClock(f, c1.end + HOUR);
    const result = await runQueue(h, "seatkeeper-billing", [{ account_id: f.accountId, cycle_start: iso(c1.start), cycle_end: iso(c1.end) }]);
    expect(result.retried).toHaveLength(1);
    expect(await storedSummaries(f)).toEqual([]);

    // The next run queues from the last summary (none): c0 first, then c1.
    await runScheduled(h, c1.end + 7 * MIN);
    expect(forAccount(h.billing.sent, f).map((m) => m.cycle_start)).toEqual([iso(c0.start), iso(c1.start)]);
  });

  it("does not finalize a cycle the account's own clock has not reached", async () => {
    const h = harness();
    const f = await newAccount();
    const [c0] = await cyclesOf(f, 1);
    await setClock(f, c0.end - MIN);
    const message = { account_id: f.accountId, cycle_start: iso(c0.start), cycle_end: iso(c0.end) };
    expect((await runQueue(h, "seatkeeper-billing", [message])).retried).toHaveLength(1);
    expect(await storedSummaries(f)).toEqual([]);

    await setClock(f, c0.end);
    expect((await runQueue(h, "seatkeeper-billing", [message], 2)).acked).toHaveLength(1);
    expect(await storedSummaries(f)).toHaveLength(1);
  });

  it("accounts with different billing_day close on their own days", async () => {
    const h = harness();
    const first = await newAccount({ billing_day: 1 });
    const fifteenth = await newAccount({ billing_day: 15 });
    const [a] = await cyclesOf(first, 1);
    const [b] = await cyclesOf(fifteenth, 1);
    expect(new Date(a.end).getUTCDate()).toBe(1);
    expect(new Date(b.end).getUTCDate()).toBe(15);
    const [early, late] = a.end < b.end ? [first, fifteenth] : [fifteenth, first];
    const earlyEnd = Math.min(a.end, b.end);
    const lateEnd = Math.max(a.end, b.end);

    // Just after the earlier boundary only that account is due; the other's cycle is still running.
    await runScheduled(h, earlyEnd + 7 * MIN);
    expect(forAccount(h.billing.sent, early)).toHaveLength(1);
    expect(forAccount(h.billing.sent, late)).toEqual([]);
    await runScheduled(h, lateEnd - MIN);
    expect(forAccount(h.billing.sent, late)).toEqual([]);
    await runScheduled(h, lateEnd + 7 * MIN);
    expect(forAccount(h.billing.sent, late)).toHaveLength(1);

    for (const f of [first, fifteenth]) await setClock(f, lateEnd + HOUR);
    // The earlier account was queued by every run until summarized: duplicates, finalized once.
    const queued = [...forAccount(h.billing.sent, first), ...forAccount(h.billing.sent, fifteenth)];
    expect((await runQueue(h, "seatkeeper-billing", queued)).acked).toHaveLength(queued.length);
    expect(await storedSummaries(first)).toHaveLength(1);
    expect(await storedSummaries(fifteenth)).toHaveLength(1);
    const [summaryA] = await storedSummaries(first);
    const [summaryB] = await storedSummaries(fifteenth);
    expect([summaryA.cycle_start, summaryA.cycle_end]).toEqual([iso(a.start), iso(a.end)]);
    expect([summaryB.cycle_start, summaryB.cycle_end]).toEqual([iso(b.start), iso(b.end)]);
    expect(new Date(summaryA.cycle_start).getUTCDate()).toBe(1);
    expect(new Date(summaryB.cycle_start).getUTCDate()).toBe(15);
  });

  it("after billing_day changes, a cycle queued under the old day is dropped and the new chain is billed once", async () => {
    const h = harness();
    const f = await newAccount({ billing_day: 1 });
    const [c0] = await cyclesOf(f, 1);
    await runScheduled(h, c0.end + 7 * MIN);
    const [stale] = forAccount(h.billing.sent, f);

    expect((await replyOf(api(f.key).accounts[":account_id"].$patch({ param: { account_id: f.accountId }, json: { billing_day: 20 } }))).status).toBe(200);
    const [n0] = await cyclesOf(f, 1);
    await setClock(f, Math.max(c0.end, n0.end) + HOUR);
    expect((await runQueue(h, "seatkeeper-billing", [stale])).acked).toHaveLength(1);
    expect(await storedSummaries(f)).toEqual([]);

    await runScheduled(h, n0.end + 7 * MIN);
    const fresh = forAccount(h.billing.sent, f).slice(1);
    expect(fresh[0]).toEqual({ account_id: f.accountId, cycle_start: iso(n0.start), cycle_end: iso(n0.end) });
    await runQueue(h, "seatkeeper-billing", fresh);
    expect((await storedSummaries(f)).map((s) => s.cycle_start)).toEqual([iso(n0.start)]);
  });
});
