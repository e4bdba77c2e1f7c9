import { runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { PoolId } from "../../src/domain/catalog";
import { summarize } from "../../src/domain/overage";
import { UsageLedger } from "../../src/seats/usage-ledger";
import { agentTokens, call, checkout, licensedUsers, MIN, newAccount, putPool, release, seatsStub, setClock, type Fixture, api, replyOf } from "../helpers";
import { cyclesOf, forAccount, harness, iso, runQueue, runScheduled, storedSummaries } from "./support";

/** What a summary holds (docs/licensing.md#summaries), driven by real checkouts on the account's clock. */

const HOUR = 60 * MIN;

describe("worked example 4 of docs/licensing.md#concurrent-overage: an interval across the cycle boundary", () => {
  it("bills each cycle for the part of billable_now inside it: 0 seats, then 10 seats and 10 × 20 min", async () => {
    // Quantity 100, grace 30 min; 110 active from 23:50 until 00:40 the next day; the boundary at 00:00.
    const f = await newAccount({ grace_seconds: 1800, lease_ttl_seconds: 3600 });
    await putPool(f, "premium-concurrent", 100);
    const users = await licensedUsersFast(f, "premium-concurrent", 110);
    const tokens = await agentTokens(f, users);
    const [c0, c1, c2] = await cyclesOf(f, 3);
    const boundary = c1.end; // a month ahead: after the pool was created, so no step is clamped

    await setClock(f, boundary - 10 * MIN);
    // The clock is set, not running: every checkout happens at 23:50 exactly, every release at 00:40.
    expect((await Promise.all(tokens.map((t) => checkout(t)))).map((r) => r.status)).toEqual(tokens.map(() => 200));
    await setClock(f, boundary + 40 * MIN);
    expect((await Promise.all(tokens.map((t) => release(t)))).map((r) => r.status)).toEqual(tokens.map(() => 204));

    const h = harness();
    await setClock(f, c2.end + HOUR);
    await runScheduled(h, c2.end + 7 * MIN);
    const queued = forAccount(h.billing.sent, f);
    expect(queued.map((m) => m.cycle_start)).toEqual([c0, c1, c2].map((c) => iso(c.start)));
    expect((await runQueue(h, "seatkeeper-billing", queued)).acked).toHaveLength(3);

    const [s0, s1, s2] = await storedSummaries(f);
    expect(s0.pools[0]).toMatchObject({ peak_active: 0, overage_seat_seconds: 0, intervals: 0 });
    const base = { pool: "premium-concurrent", tier: "premium", model: "concurrent", quantity: 100, assigned: null, members: 110 };
    // The cycle that ends at 00:00: 10 over for 10 minutes, all inside the grace.
    expect(s1).toMatchObject({ cycle_end: iso(boundary), final: true });
    expect(s1.pools).toEqual([
      { ...base, peak_active: 110, peak_overage: 10, overage_seat_seconds: 6_000, billable_overage_seats: 0, billable_seat_seconds: 0, intervals: 1, billable_intervals: 0, denials: 0, users_denied: 0, peak_holders: null,
        // Chargeback by team (docs/licensing.md#chargeback-by-team): nobody has a team, 110 × 10 min.
        teams: [{ team: null, peak_active: 110, seat_seconds: 110 * 600, billable_seat_seconds: 0 }] },
    ]);
    // The next cycle carries the over-runs' start (23:50) in: billable from 00:20 to 00:40.
    expect(s2).toMatchObject({ cycle_start: iso(boundary), final: true });
    expect(s2.pools).toEqual([
      {
        ...base,
        peak_active: 110,
        peak_overage: 10,
        overage_seat_seconds: 24_000,
        billable_overage_seats: 10,
        billable_seat_seconds: 12_000,
        intervals: 1,
        billable_intervals: 1,
        denials: 0,
        users_denied: 0,
        // Who counted (docs/licensing.md#who-counted): all 110 held seats at the peak (00:20-00:40);
        // the line lists the first 100 ids and points at the interval, which began in the cycle before.
        peak_holders: {
          reached_at: iso(boundary + 20 * MIN),
          interval_id: `ov_premium-concurrent_${boundary - 10 * MIN}`,
          count: 110,
          users: [...users].sort().slice(0, 100),
          truncated: true,
        },
        // 110 × 40 min held in this cycle; the whole billable time falls to users without a team.
        teams: [{ team: null, peak_active: 110, seat_seconds: 110 * 2400, billable_seat_seconds: 12_000 }],
      },
    ]);
    // Together the two cycles account for the whole interval (10 seats × 50 min), once.
    expect(s1.pools[0].overage_seat_seconds + s2.pools[0].overage_seat_seconds).toBe(10 * 50 * 60);
  }, 120_000);
});

/** `licensedUsers`, with the users created in parallel (110 one by one take most of the test's time). */
async function licensedUsersFast(f: Fixture, pool: PoolId, n: number): Promise<string[]> {
  const ids = Array.from({ length: n }, (_, i) => `agent-${i}`);
  await Promise.all(ids.map((id) => replyOf(api(f.key).accounts[":account_id"].users[":user_id"].$put({ param: { account_id: f.accountId, user_id: id }, json: {} }))));
  const res = await replyOf(api(f.key).accounts[":account_id"]["licenses:batch"].$post({ param: { account_id: f.accountId }, json: { assign: ids.map((user_id) => ({ user_id, pool })) } }));
  expect(res.status).toBe(200);
  return ids;
}

describe("summary content", () => {
  it("has a line per pool (named: assigned and peak only) and per add-on, with the quantity at the cycle's end", async () => {
    const f = await newAccount({ lease_ttl_seconds: 3600 });
    await putPool(f, "elite-named", 3);
    await putPool(f, "essentials-concurrent", 1);
    const named = await licensedUsers(f, "elite-named", 2, "named");
    const shared = await licensedUsers(f, "essentials-concurrent", 2, "shared");
    expect((await replyOf(api(f.key).accounts[":account_id"].addons[":product"].$put({ param: { account_id: f.accountId, product: "quality_management" }, json: { quantity: 4 } }))).status).toBe(200);
    expect((await call("PUT", `/v1/accounts/${f.accountId}/users/${shared[0]}/addons/quality_management`, f.key)).status).toBe(200);
    const [c0] = await cyclesOf(f, 1);

    const [n0, n1] = await agentTokens(f, named);
    const [s0, s1] = await agentTokens(f, shared);
    await setClock(f, c0.end - 2 * HOUR);
    for (const token of [n0, n1, s0, s1]) expect((await checkout(token)).status).toBe(200);
    await setClock(f, c0.end - HOUR);
    for (const token of [n0, n1, s0, s1]) expect((await release(token)).status).toBe(204);
    // After the cycle: a quantity change and a new pool belong to the next cycle, not to this one.
    await setClock(f, c0.end + 10 * MIN);
    await putPool(f, "essentials-concurrent", 5);
    await putPool(f, "premium-named", 1);

    const h = harness();
    await runQueue(h, "seatkeeper-billing", [{ account_id: f.accountId, cycle_start: iso(c0.start), cycle_end: iso(c0.end) }]);
    const [summary] = await storedSummaries(f);
    expect(summary).toMatchObject({ account_id: f.accountId, cycle_start: iso(c0.start), cycle_end: iso(c0.end), final: true });
    expect(summary.pools.map((p: any) => p.pool)).toEqual(["elite-named", "essentials-concurrent"]);
    expect(summary.pools[0]).toEqual({
      pool: "elite-named",
      tier: "elite",
      model: "named",
      quantity: 3,
      assigned: 2,
      members: null,
      peak_active: 2,
      peak_overage: 0,
      overage_seat_seconds: 0,
      billable_overage_seats: 0,
      billable_seat_seconds: 0,
      intervals: 0,
      billable_intervals: 0,
      denials: 0,
      users_denied: 0,
      peak_holders: null,
      // Named seats are never billable: seat time only.
      teams: [{ team: null, peak_active: 2, seat_seconds: 7_200, billable_seat_seconds: 0 }],
    });
    // 2 active on 1 for an hour; grace 30 min: 1 seat billable for 30 min.
    expect(summary.pools[1]).toMatchObject({
      quantity: 1,
      members: 2,
      assigned: null,
      peak_active: 2,
      peak_overage: 1,
      overage_seat_seconds: 3_600,
      billable_overage_seats: 1,
      billable_seat_seconds: 1_800,
      intervals: 1,
      billable_intervals: 1,
      peak_holders: { reached_at: iso(c0.end - HOUR - 30 * MIN), count: 2, users: shared, truncated: false },
    });
    expect(summary.addons).toContainEqual({ product: "quality_management", purchased: 4, consumed: 1 });
    expect(summary.addons.map((a: any) => a.product)).toEqual([
      "workforce_management",
      "quality_management",
      "ai_expert_assist",
      "virtual_agent",
      "toll_free_numbers",
      "cloud_storage_gb",
      "global_numbers",
    ]);
  });
});

describe("the summary reads from the last calm instant (issue 10 item 6)", () => {
  it("a row within the limit followed in the same ms by one over it is no end: 1 seat, 300 seat-seconds", async () => {
    // Quantity 100, grace 30 min, cycle from 2025-04-01 00:00 UTC: 101 active at 03-31 23:35;
    // 100 at 23:58 and 101 at 23:58 in the same ms; 100 at 04-01 00:10.
    const f = await newAccount();
    const cycle = { from: Date.UTC(2025, 3, 1), to: Date.UTC(2025, 4, 1) };
    const figures = await runInDurableObject(seatsStub(f), (_instance, state) => {
      const ledger = new UsageLedger(state.storage.sql);
      const pool = "premium-concurrent" as PoolId;
      const rules = { graceSeconds: 1800 };
      for (const [t, active] of [
        [Date.UTC(2025, 2, 31, 23, 35), 101],
        [Date.UTC(2025, 2, 31, 23, 58), 100],
        [Date.UTC(2025, 2, 31, 23, 58), 101],
        [Date.UTC(2025, 3, 1, 0, 10), 100],
      ]) {
        ledger.record(pool, t, active, 100, false, rules);
      }
      return summarize(ledger.stepsForSummary(pool, cycle), cycle, rules);
    });
    // The over-run began at 23:35: billable from 00:05 to 00:10.
    expect(figures).toMatchObject({ billable_overage_seats: 1, billable_seat_seconds: 300, intervals: 1, billable_intervals: 1, overage_seat_seconds: 600 });
  });
});
