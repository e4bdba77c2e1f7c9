import { describe, expect, it } from "vitest";
import { cyclesOf, forAccount, harness, iso, runQueue, runScheduled } from "../billing/support";
import { agentTokens, auditOf, call, checkout, expectProblem, licensedUsers, MIN, newAccount, putPool, release, setClock, type Fixture, api, replyOf } from "../helpers";

/** The price list and the right-sizing advisor (docs/licensing.md#right-sizing-advice). */

const acct = (f: Fixture, rest = "") => `/v1/accounts/${f.accountId}${rest}`;
/** A billing day about two weeks from today, so the account's first cycle has hours left whenever the suite runs. */
const billing_day = ((new Date().getUTCDate() + 13) % 28) + 1;
const PRICES = {
  currency: "EUR",
  pools: {
    "premium-concurrent": { seat: 10_000, overage_seat: 15_000 },
    "elite-named": { seat: 20_000, overage_seat: 0 },
    "elite-concurrent": { seat: 30_000, overage_seat: 40_000 },
  },
  addons: { workforce_management: { seat: 1_500 } },
};

describe("PUT/GET/DELETE …/prices", () => {
  it("stores one list per account, audited, and refuses what is not a price list", async () => {
    const f = await newAccount();
    expectProblem(await call("GET", acct(f, "/prices"), f.key), 404, "not_found");
    const put = await replyOf(api(f.key).accounts[":account_id"].prices.$put({ param: { account_id: f.accountId }, json: PRICES }));
    expect(put.status).toBe(200);
    expect((await call("GET", acct(f, "/prices"), f.key)).body).toEqual(PRICES);
    expect((await auditOf(f)).map((a) => a.action)).toContain("prices.put");

    for (const bad of [
      { ...PRICES, currency: "euro" },
      { ...PRICES, pools: { "premium-concurrent": { seat: -1, overage_seat: 0 } } },
      { ...PRICES, pools: { "platinum-concurrent": { seat: 1, overage_seat: 1 } } },
      { ...PRICES, pools: { "premium-concurrent": { seat: 1.5, overage_seat: 1 } } },
      { ...PRICES, addons: { workforce_management: { seat: 1, discount: 2 } } },
    ]) {
      expectProblem(await replyOf(api(f.key).accounts[":account_id"].prices.$put({ param: { account_id: f.accountId }, json: bad })), 400, "invalid_request");
    }
    expect((await call("GET", acct(f, "/prices"), f.key)).body).toEqual(PRICES);

    // Another account sees nothing of it.
    const other = await newAccount();
    expectProblem(await call("GET", acct(f, "/prices"), other.key), 404, "not_found");

    expect((await call("DELETE", acct(f, "/prices"), f.key)).status).toBe(204);
    expectProblem(await call("GET", acct(f, "/prices"), f.key), 404, "not_found");
  });
});

describe("GET …/advice", () => {
  it("finds from last cycle's history the quantity without billable overage and the cheapest one", async () => {
    const f = await newAccount({ billing_day, grace_seconds: 1800, lease_ttl_seconds: 3600 });
    await putPool(f, "premium-concurrent", 2);
    const tokens = await agentTokens(f, await licensedUsers(f, "premium-concurrent", 5));
    const [c0, c1] = await cyclesOf(f, 2);

    // Cycle 0: 5 active for an hour (3 over a quantity of 2, lasting past the grace), then 4 for 10 minutes.
    await setClock(f, c0.end - 300 * MIN);
    for (const t of tokens) expect((await checkout(t)).status).toBe(200);
    await setClock(f, c0.end - 240 * MIN);
    expect((await release(tokens[4])).status).toBe(204);
    await setClock(f, c0.end - 230 * MIN);
    for (const t of tokens.slice(0, 4)) expect((await release(t)).status).toBe(204);

    await setClock(f, c1.start + 5 * MIN);
    const noPrices = await call("GET", acct(f, "/advice?cycles=3"), f.key);
    expect(noPrices.status).toBe(200);
    expect(noPrices.body.currency).toBeNull();
    const line = noPrices.body.pools.find((p: any) => p.pool === "premium-concurrent");
    // Only one cycle has ended since the account was made: the advice says it rests on that one.
    expect(line.cycles).toEqual([{ cycle_start: iso(c0.start), cycle_end: iso(c0.end), peak_active: 5, sustained_peak: 5 }]);
    expect(line).toMatchObject({ quantity: 2, no_billable_overage_quantity: 5, cheapest_quantity: null, saving: null });

    await replyOf(api(f.key).accounts[":account_id"].prices.$put({ param: { account_id: f.accountId }, json: PRICES }));
    const priced = (await call("GET", acct(f, "/advice"), f.key)).body;
    expect(priced.currency).toBe("EUR");
    // 3 billable seats at 15,000 cost more than 3 seats at 10,000: buy 5.
    expect(priced.pools.find((p: any) => p.pool === "premium-concurrent")).toMatchObject({
      cheapest_quantity: 5,
      cost_today: 2 * 10_000 + 3 * 15_000,
      cost_cheapest: 5 * 10_000,
      saving: 15_000,
    });
  });

  it("tells a named pool's real concurrency and the concurrent quantity that would have covered it", async () => {
    const f = await newAccount({ billing_day, grace_seconds: 1800, lease_ttl_seconds: 3600 });
    await putPool(f, "elite-named", 10);
    const tokens = await agentTokens(f, await licensedUsers(f, "elite-named", 10));
    const [c0, c1] = await cyclesOf(f, 2);
    await setClock(f, c0.end - 300 * MIN);
    for (const t of tokens.slice(0, 6)) expect((await checkout(t)).status).toBe(200);
    await setClock(f, c0.end - 290 * MIN);
    expect((await checkout(tokens[6])).status).toBe(200); // 7 for 5 minutes only: inside a grace
    await setClock(f, c0.end - 285 * MIN);
    expect((await release(tokens[6])).status).toBe(204);
    await setClock(f, c1.start + 5 * MIN);
    await replyOf(api(f.key).accounts[":account_id"].prices.$put({ param: { account_id: f.accountId }, json: PRICES }));
    const line = (await call("GET", acct(f, "/advice?cycles=1"), f.key)).body.pools.find((p: any) => p.pool === "elite-named");
    expect(line).toMatchObject({
      model: "named",
      quantity: 10,
      peak_concurrency: 7,
      concurrent_pool: "elite-concurrent",
      concurrent_quantity: 6,
      saving: 10 * 20_000 - 6 * 30_000,
    });
  });

  it("refuses a cycles count outside 1-12", async () => {
    const f = await newAccount();
    for (const q of ["0", "13", "two"]) expectProblem(await call("GET", acct(f, `/advice?cycles=${q}`), f.key), 400, "invalid_request");
  });
});

describe("amounts on summaries", () => {
  it("the preview prices the running cycle; a final summary keeps the prices in force when it was made", async () => {
    const f = await newAccount({ billing_day, grace_seconds: 600, lease_ttl_seconds: 3600 });
    await putPool(f, "premium-concurrent", 2);
    const tokens = await agentTokens(f, await licensedUsers(f, "premium-concurrent", 3));
    const [c0] = await cyclesOf(f, 1);
    await setClock(f, c0.end - 120 * MIN);
    for (const t of tokens) expect((await checkout(t)).status).toBe(200);
    await setClock(f, c0.end - 60 * MIN);

    expect((await call("GET", acct(f, "/billing/preview"), f.key)).body.amounts).toBeNull();
    await replyOf(api(f.key).accounts[":account_id"].prices.$put({ param: { account_id: f.accountId }, json: PRICES }));
    const preview = (await call("GET", acct(f, "/billing/preview"), f.key)).body;
    expect(preview.amounts).toEqual({
      currency: "EUR",
      pools: [{ pool: "premium-concurrent", seats: 20_000, overage: 15_000, total: 35_000 }],
      // Priced but not bought: a line of 0, so the invoice shows every product the list names.
      addons: [{ product: "workforce_management", amount: 0 }],
      total: 35_000,
    });

    const h = harness();
    await setClock(f, c0.end + 60 * MIN);
    await runScheduled(h, c0.end + 7 * MIN);
    await runQueue(h, "seatkeeper-billing", forAccount(h.billing.sent, f));
    // A later price change does not rewrite history.
    await replyOf(api(f.key).accounts[":account_id"].prices.$put({ param: { account_id: f.accountId }, json: { ...PRICES, pools: { "premium-concurrent": { seat: 1, overage_seat: 1 } } } }));
    const [summary] = (await call("GET", acct(f, "/billing/summaries"), f.key)).body.items;
    expect(summary.final).toBe(true);
    expect(summary.amounts.total).toBe(35_000);
  });
});
