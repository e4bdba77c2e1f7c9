import { runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { cyclesOf, forAccount, harness, iso, runQueue, runScheduled, storedEvents, storedSummaries } from "../billing/support";
import { agentTokens, api, call, checkout, expectProblem, fetchWorker, heartbeat, MIN, newAccount, putPool, release, replyOf, seatsStub, setClock, type Fixture } from "../helpers";

/**
 * Chargeback by team (docs/licensing.md#chargeback-by-team): GET …/pools/{pool_id}/usage?team=,
 * GET …/pools/{pool_id}/chargeback and the summaries' `teams`, driven by real checkouts on the
 * account's clock. The timeline is the worked example of the docs: limit 2, grace 30 minutes;
 * ana (support) from 0, ben (sales) from 10, cy (support) from 20 to 100, dee (sales) from 40;
 * everyone leaves at 180 (minutes after the scene's start).
 */

const POOL = "premium-concurrent";
const acct = (f: Fixture, rest = "") => `/v1/accounts/${f.accountId}${rest}`;
const TEAM_OF: Record<string, string> = { ana: "support", ben: "sales", cy: "support", dee: "sales" };

function parseCsv(text: string): string[][] {
  expect(text.endsWith("\r\n")).toBe(true);
  return text.slice(0, -2).split("\r\n").map((line) => line.split(","));
}

async function play(policy: "per_overrun" | "cumulative" = "per_overrun"): Promise<{ f: Fixture; at: (m: number) => number; token: Record<string, string> }> {
  const f = await newAccount({ grace_seconds: 1800, lease_ttl_seconds: 3600, grace_policy: policy });
  await putPool(f, POOL, 2);
  const users = Object.keys(TEAM_OF);
  for (const u of users) {
    const res = await replyOf(api(f.key).accounts[":account_id"].users[":user_id"].$put({ param: { account_id: f.accountId, user_id: u }, json: { team: TEAM_OF[u] } }));
    expect(res.status).toBe(200);
  }
  const batch = await replyOf(api(f.key).accounts[":account_id"]["licenses:batch"].$post({ param: { account_id: f.accountId }, json: { assign: users.map((user_id) => ({ user_id, pool: POOL as "premium-concurrent" })) } }));
  expect(batch.status).toBe(200);
  const tokens = await agentTokens(f, users);
  const token = Object.fromEntries(users.map((u, i) => [u, tokens[i]]));
  // Inside the account's first cycle, so the preview covers it.
  const [c0] = await cyclesOf(f, 1);
  const base = c0.end - 5 * 60 * MIN;
  const at = (m: number) => base + m * MIN;
  const held = new Set<string>();
  const to = async (m: number) => {
    await setClock(f, at(m));
    for (const u of held) expect((await heartbeat(token[u])).status).toBe(200);
  };
  const moves: [number, "take" | "free", string][] = [
    [0, "take", "ana"],
    [10, "take", "ben"],
    [20, "take", "cy"],
    [40, "take", "dee"],
    [60, "take", ""],
    [100, "free", "cy"],
    [120, "take", ""],
    [150, "take", ""],
    [180, "free", "ana"],
    [180, "free", "ben"],
    [180, "free", "dee"],
  ];
  for (const [m, move, u] of moves) {
    await to(m);
    if (!u) continue; // a heartbeat round only (leases last an hour)
    if (move === "take") {
      expect((await checkout(token[u])).status).toBe(200);
      held.add(u);
    } else {
      expect((await release(token[u])).status).toBe(204);
      held.delete(u);
    }
  }
  await to(200);
  return { f, at, token };
}

const usageOf = (f: Fixture, query: string, token = f.key) => call("GET", acct(f, `/pools/${POOL}/usage${query}`), token);
const chargebackOf = (f: Fixture, query: string, token = f.key) => call("GET", acct(f, `/pools/${POOL}/chargeback${query}`), token);

/** The docs' figures per team over [0, 180). */
const SALES = { team: "sales", peak_active: 2, seat_seconds: 310 * 60, billable_seat_seconds: 110 * 60 };
const SUPPORT = { team: "support", peak_active: 2, seat_seconds: 260 * 60, billable_seat_seconds: 50 * 60 };

describe("GET …/pools/{pool_id}/usage?team=", () => {
  it("answers the team's buckets as rows, columns and CSV; the teams' billable time adds up to the pool's", async () => {
    const { f, at } = await play();
    const q = `?from=${iso(at(0))}&to=${iso(at(180))}&step_seconds=3600`;

    const support = await usageOf(f, `${q}&team=support`);
    expect(support.status).toBe(200);
    // Bucket 0: cy holds place 3 from 50 (billable 10 min); bucket 1: until she leaves at 100 (40 min).
    expect(support.body).toEqual({
      team: "support",
      items: [
        { t: iso(at(0)), max_active: 2, seat_seconds: 100 * 60, billable_seat_seconds: 10 * 60 },
        { t: iso(at(60)), max_active: 2, seat_seconds: 100 * 60, billable_seat_seconds: 40 * 60 },
        { t: iso(at(120)), max_active: 1, seat_seconds: 60 * 60, billable_seat_seconds: 0 },
      ],
    });

    // dee holds place 4 from 70 to 100 (billable from 70), then place 3 once cy left.
    const sales = await usageOf(f, `${q}&team=sales&format=columnar`);
    expect(sales.status).toBe(200);
    expect(sales.body).toEqual({
      from: iso(at(0)),
      step_seconds: 3600,
      team: "sales",
      max_active: [2, 2, 2],
      seat_seconds: [70 * 60, 120 * 60, 120 * 60],
      billable_seat_seconds: [0, 50 * 60, 60 * 60],
    });

    // The pool's billable time over the same window is the two teams' together.
    const summary = (await call("GET", acct(f, "/billing/preview"), f.key)).body;
    expect(summary.pools[0].billable_seat_seconds).toBe(160 * 60);

    const csv = await fetchWorker(`http://seatkeeper.test${acct(f, `/pools/${POOL}/usage${q}&team=sales&format=csv`)}`, { headers: { authorization: `Bearer ${f.key}` } });
    expect(csv.status).toBe(200);
    expect(csv.headers.get("content-type")).toBe("text/csv; charset=utf-8");
    expect(parseCsv(await csv.text())).toEqual([
      ["t", "team", "max_active", "seat_seconds", "billable_seat_seconds"],
      [iso(at(0)), "sales", "2", "4200", "0"],
      [iso(at(60)), "sales", "2", "7200", "3000"],
      [iso(at(120)), "sales", "2", "7200", "3600"],
    ]);

    // A team nobody is in: zeros, not 404.
    const nobody = await usageOf(f, `${q}&team=night.shift&format=columnar`);
    expect(nobody.status).toBe(200);
    expect(nobody.body).toMatchObject({ team: "night.shift", max_active: [0, 0, 0], seat_seconds: [0, 0, 0], billable_seat_seconds: [0, 0, 0] });
  }, 90_000);
});

describe("GET …/pools/{pool_id}/usage?team= on a named pool, and past now", () => {
  it("a named pool's team has seat time and nothing billable; buckets after now are zeros", async () => {
    const f = await newAccount({ lease_ttl_seconds: 3600 });
    await putPool(f, "elite-named", 1);
    expect((await replyOf(api(f.key).accounts[":account_id"].users[":user_id"].$put({ param: { account_id: f.accountId, user_id: "n1" }, json: { team: "blue" } }))).status).toBe(200);
    expect((await replyOf(api(f.key).accounts[":account_id"]["licenses:batch"].$post({ param: { account_id: f.accountId }, json: { assign: [{ user_id: "n1", pool: "elite-named" }] } }))).status).toBe(200);
    const [token] = await agentTokens(f, ["n1"]);
    const [c0] = await cyclesOf(f, 1);
    const at = (m: number) => c0.end - 3 * 60 * MIN + m * MIN;
    await setClock(f, at(0));
    expect((await checkout(token)).status).toBe(200);
    await setClock(f, at(30)); // still held: the answer stops here
    const res = await call("GET", acct(f, `/pools/elite-named/usage?from=${iso(at(0))}&to=${iso(at(90))}&step_seconds=1800&team=blue&format=columnar`), f.key);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ from: iso(at(0)), step_seconds: 1800, team: "blue", max_active: [1, 0, 0], seat_seconds: [1800, 0, 0], billable_seat_seconds: [0, 0, 0] });
  });
});

describe("GET …/pools/{pool_id}/chargeback", () => {
  it("lists every team of the pool over a window, by billable time; CSV; a later team change does not rewrite history", async () => {
    const { f, at } = await play();
    const q = `?from=${iso(at(0))}&to=${iso(at(180))}`;
    const res = await chargebackOf(f, q);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ pool: POOL, from: iso(at(0)), to: iso(at(180)), items: [SALES, SUPPORT] });

    // The holds kept the teams they opened with.
    const holds = await runInDurableObject(seatsStub(f), (_i, state) =>
      state.storage.sql.exec<{ user_id: string; team: string | null }>("SELECT user_id, team FROM holds ORDER BY from_t").toArray().map((r) => [r.user_id, r.team]),
    );
    expect(holds).toEqual([
      ["ana", "support"],
      ["ben", "sales"],
      ["cy", "support"],
      ["dee", "sales"],
    ]);
    // cy moves to sales afterwards: her past seat time stays support's.
    expect((await replyOf(api(f.key).accounts[":account_id"].users[":user_id"].$put({ param: { account_id: f.accountId, user_id: "cy" }, json: { team: "sales" } }))).status).toBe(200);
    expect((await chargebackOf(f, q)).body.items).toEqual([SALES, SUPPORT]);

    const csv = await fetchWorker(`http://seatkeeper.test${acct(f, `/pools/${POOL}/chargeback${q}`)}`, { headers: { authorization: `Bearer ${f.key}`, accept: "text/csv" } });
    expect(csv.status).toBe(200);
    expect(csv.headers.get("content-disposition")).toContain(`chargeback-${POOL}.csv`);
    expect(parseCsv(await csv.text())).toEqual([
      ["team", "peak_active", "seat_seconds", "billable_seat_seconds"],
      ["sales", "2", "18600", "6600"],
      ["support", "2", "15600", "3000"],
    ]);

    // A window before anyone came: no teams.
    expect((await chargebackOf(f, `?from=${iso(at(-60))}&to=${iso(at(0))}`)).body.items).toEqual([]);
  }, 90_000);

  it("under the cumulative grace policy (read from the cycle's start) the example, with a steady limit, gives the same shares", async () => {
    const { f, at } = await play("cumulative");
    const res = await chargebackOf(f, `?from=${iso(at(60))}&to=${iso(at(180))}`);
    // From 09:00: support 40 min (cy in place 3 until 09:40), sales 30 + 80 min (dee).
    expect(res.body.items).toEqual([
      { team: "sales", peak_active: 2, seat_seconds: 240 * 60, billable_seat_seconds: 110 * 60 },
      { team: "support", peak_active: 2, seat_seconds: 160 * 60, billable_seat_seconds: 40 * 60 },
    ]);
    const preview = (await call("GET", acct(f, "/billing/preview"), f.key)).body;
    expect(preview.pools[0]).toMatchObject({ billable_seat_seconds: 160 * 60, teams: [SALES, SUPPORT] });
  }, 90_000);

  it("a seat taken after a team change is the new team's; users without a team count under null", async () => {
    const f = await newAccount({ grace_seconds: 0, lease_ttl_seconds: 3600 });
    await putPool(f, POOL, 1);
    for (const [u, team] of [
      ["x", "blue"],
      ["y", null],
    ] as const) {
      expect((await replyOf(api(f.key).accounts[":account_id"].users[":user_id"].$put({ param: { account_id: f.accountId, user_id: u }, json: { team } }))).status).toBe(200);
    }
    expect((await replyOf(api(f.key).accounts[":account_id"]["licenses:batch"].$post({ param: { account_id: f.accountId }, json: { assign: ["x", "y"].map((user_id) => ({ user_id, pool: POOL as "premium-concurrent" })) } }))).status).toBe(200);
    const [tx, ty] = await agentTokens(f, ["x", "y"]);
    const [c0] = await cyclesOf(f, 1);
    const at = (m: number) => c0.end - 3 * 60 * MIN + m * MIN;
    await setClock(f, at(0));
    expect((await checkout(tx)).status).toBe(200);
    await setClock(f, at(10));
    expect((await checkout(ty)).status).toBe(200); // place 2 > limit 1, no grace: y's team (none) pays from 10
    await setClock(f, at(20));
    expect((await release(tx)).status).toBe(204);
    // x moves to red, then takes a seat again at 30: above y, so x's new team pays from 30.
    expect((await replyOf(api(f.key).accounts[":account_id"].users[":user_id"].$put({ param: { account_id: f.accountId, user_id: "x" }, json: { team: "red" } }))).status).toBe(200);
    await setClock(f, at(30));
    expect((await checkout(tx)).status).toBe(200);
    await setClock(f, at(40));
    const res = await chargebackOf(f, `?from=${iso(at(0))}&to=${iso(at(40))}`);
    expect(res.body.items).toEqual([
      { team: "red", peak_active: 1, seat_seconds: 600, billable_seat_seconds: 600 },
      { team: null, peak_active: 1, seat_seconds: 1800, billable_seat_seconds: 600 },
      { team: "blue", peak_active: 1, seat_seconds: 1200, billable_seat_seconds: 0 },
    ]);
  }, 60_000);

  it("bad input is a 400 problem and changes nothing; other accounts and unknown pools are 404", async () => {
    const { f, at } = await play();
    const q = `?from=${iso(at(0))}&to=${iso(at(180))}`;
    const before = (await chargebackOf(f, q)).body;
    expectProblem(await usageOf(f, `${q}&team=${encodeURIComponent("bad team!")}`), 400, "invalid_request");
    expectProblem(await usageOf(f, `${q}&team=${"x".repeat(65)}`), 400, "invalid_request");
    expectProblem(await usageOf(f, `?from=${iso(at(180))}&to=${iso(at(0))}&team=sales`), 400, "invalid_request");
    expectProblem(await chargebackOf(f, `?from=${iso(at(180))}&to=${iso(at(0))}`), 400, "invalid_request");
    expectProblem(await chargebackOf(f, `?from=yesterday`), 400, "invalid_request");
    expectProblem(await chargebackOf(f, `${q}&format=xml`), 400, "invalid_request");
    expect((await chargebackOf(f, q)).body).toEqual(before);

    // Another account's key sees nothing of this account; its own pool has none of these holds.
    const other = await newAccount();
    await putPool(other, POOL, 2);
    expectProblem(await chargebackOf(f, q, other.key), 404, "not_found");
    expectProblem(await usageOf(f, `${q}&team=sales`, other.key), 404, "not_found");
    expect((await chargebackOf(other, q, other.key)).body.items).toEqual([]);
    expectProblem(await call("GET", acct(f, `/pools/essentials-concurrent/chargeback${q}`), f.key), 404, "not_found");
    expectProblem(await call("GET", acct(f, `/pools/essentials-concurrent/usage${q}&team=sales`), f.key), 404, "not_found");
  }, 90_000);
});

describe("summaries carry the teams", () => {
  it("the preview, the final summary, its webhook event and its CSV: per pool the teams' figures (the CSV leaves them to …/chargeback)", async () => {
    const { f } = await play();
    const preview = await call("GET", acct(f, "/billing/preview"), f.key);
    expect(preview.status).toBe(200);
    expect(preview.body.pools[0]).toMatchObject({ pool: POOL, billable_seat_seconds: 160 * 60, teams: [SALES, SUPPORT] });

    const [c0] = await cyclesOf(f, 1);
    const h = harness();
    await setClock(f, c0.end + 60 * MIN);
    await runScheduled(h, c0.end + 7 * MIN);
    await runQueue(h, "seatkeeper-billing", forAccount(h.billing.sent, f));
    const [summary] = await storedSummaries(f);
    expect(summary.pools[0].teams).toEqual([SALES, SUPPORT]);
    const sum = summary.pools[0].teams.reduce((s: number, t: { billable_seat_seconds: number }) => s + t.billable_seat_seconds, 0);
    expect(sum).toBe(summary.pools[0].billable_seat_seconds);
    // The billing.summary webhook event carries the same summary.
    const [event] = await storedEvents(f, "billing.summary");
    expect(JSON.parse(event.body).data.pools[0].teams).toEqual([SALES, SUPPORT]);

    const csv = await fetchWorker(`http://seatkeeper.test${acct(f, "/billing/summaries?format=csv")}`, { headers: { authorization: `Bearer ${f.key}` } });
    const rows = parseCsv(await csv.text());
    expect(rows[0]).not.toContain("teams");
    expect(rows[1]).toHaveLength(rows[0].length);
  }, 90_000);

  it("a pool nobody held a seat in has teams []", async () => {
    const f = await newAccount();
    await putPool(f, POOL, 2);
    const preview = await call("GET", acct(f, "/billing/preview"), f.key);
    expect(preview.body.pools[0]).toMatchObject({ pool: POOL, teams: [] });
  });
});
