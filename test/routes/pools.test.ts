import { describe, expect, it } from "vitest";
import { auditOf, call, expectProblem, licensedUsers, newAccount, OPERATOR, putPool, putUsers, stateOf, type Fixture, api, replyOf } from "../helpers";

/** Pools: PUT (create, change, ceiling), GET with counts, shrink refusals; the pool's seats, usage, force release. */

const acct = (f: Fixture, rest = "") => `/v1/accounts/${f.accountId}${rest}`;

describe("PUT /v1/accounts/{account_id}/pools/{pool_id}", () => {
  it("creates a named pool and answers the pool, audited as pool.create", async () => {
    const f = await newAccount();
    const res = await replyOf(api(f.key).accounts[":account_id"].pools[":pool_id"].$put({ param: { account_id: f.accountId, pool_id: "elite-named" }, json: { quantity: 10 } }));
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      id: "elite-named",
      tier: "elite",
      model: "named",
      quantity: 10,
      max_active: null,
      assigned: 0,
      members: null,
      active: 0,
      over_limit: false,
      waiting: 0,
      alerts: [80, 100],
    });
    const [last] = await auditOf(f);
    expect(last).toMatchObject({ action: "pool.create", target: "elite-named", actor: `api_key:${f.keyId}` });
    expect(last.detail).toMatchObject({ quantity: 10 });
  });

  it("creates a concurrent pool with a ceiling", async () => {
    const f = await newAccount();
    const res = await replyOf(api(f.key).accounts[":account_id"].pools[":pool_id"].$put({ param: { account_id: f.accountId, pool_id: "premium-concurrent" }, json: { quantity: 100, max_active: 110 } }));
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      id: "premium-concurrent",
      tier: "premium",
      model: "concurrent",
      quantity: 100,
      max_active: 110,
      assigned: null,
      members: 0,
      active: 0,
      over_limit: false,
      waiting: 0,
      alerts: [80, 100],
    });
  });

  it("changes an existing pool, audited as pool.update with the previous quantity", async () => {
    const f = await newAccount();
    await putPool(f, "essentials-named", 5);
    const res = await replyOf(api(f.key).accounts[":account_id"].pools[":pool_id"].$put({ param: { account_id: f.accountId, pool_id: "essentials-named" }, json: { quantity: 8 } }));
    expect(res.status).toBe(200);
    expect(res.body.quantity).toBe(8);
    const [last] = await auditOf(f);
    expect(last).toMatchObject({ action: "pool.update", target: "essentials-named" });
    expect(last.detail).toMatchObject({ quantity: 8, previous_quantity: 5 });
    const list = await call("GET", acct(f, "/pools"), f.key);
    expect(list.body.items).toHaveLength(1);
    expect(list.body.items[0]).toMatchObject({ id: "essentials-named", quantity: 8 });
  });

  it("a quantity-only PUT keeps the ceiling; max_active: null removes it", async () => {
    // docs/decisions/012-put-pool-without-max-active-keeps-the-ceiling.md: buying more seats should not silently drop a hard ceiling.
    const f = await newAccount();
    await putPool(f, "premium-concurrent", 10, 12);
    const more = await replyOf(api(f.key).accounts[":account_id"].pools[":pool_id"].$put({ param: { account_id: f.accountId, pool_id: "premium-concurrent" }, json: { quantity: 20 } }));
    expect(more.status).toBe(200);
    expect(more.body).toMatchObject({ quantity: 20, max_active: 12 });
    const cleared = await replyOf(api(f.key).accounts[":account_id"].pools[":pool_id"].$put({ param: { account_id: f.accountId, pool_id: "premium-concurrent" }, json: { quantity: 20, max_active: null } }));
    expect(cleared.body).toMatchObject({ quantity: 20, max_active: null });
  });

  it("accepts quantity 0 for a pool with nobody assigned", async () => {
    const f = await newAccount();
    const res = await replyOf(api(f.key).accounts[":account_id"].pools[":pool_id"].$put({ param: { account_id: f.accountId, pool_id: "elite-named" }, json: { quantity: 0 } }));
    expect(res.status).toBe(200);
    expect(res.body.quantity).toBe(0);
  });

  it("the operator may manage pools of any account", async () => {
    const f = await newAccount();
    const res = await replyOf(api(OPERATOR).accounts[":account_id"].pools[":pool_id"].$put({ param: { account_id: f.accountId, pool_id: "elite-concurrent" }, json: { quantity: 3 } }));
    expect(res.status).toBe(200);
    const [last] = await auditOf(f);
    expect(last).toMatchObject({ action: "pool.create", actor: "operator" });
  });

  it("refuses a named pool below its assignments with 409 quantity_below_assigned and changes nothing", async () => {
    const f = await newAccount();
    await putPool(f, "elite-named", 5);
    await licensedUsers(f, "elite-named", 4);
    const before = await stateOf(f);
    for (const quantity of [3, 0]) {
      expectProblem(await replyOf(api(f.key).accounts[":account_id"].pools[":pool_id"].$put({ param: { account_id: f.accountId, pool_id: "elite-named" }, json: { quantity } })), 409, "quantity_below_assigned");
    }
    expect(await stateOf(f)).toEqual(before);
    // Down to exactly the number assigned is fine.
    const res = await replyOf(api(f.key).accounts[":account_id"].pools[":pool_id"].$put({ param: { account_id: f.accountId, pool_id: "elite-named" }, json: { quantity: 4 } }));
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ quantity: 4, assigned: 4 });
    // And then it is full.
    await putUsers(f, ["late"]);
    expectProblem(await replyOf(api(f.key).accounts[":account_id"].users[":user_id"].license.$put({ param: { account_id: f.accountId, user_id: "late" }, json: { pool: "elite-named" } })), 409, "named_pool_full");
  });

  it("lowering a concurrent pool below its members is allowed (members hold no seat)", async () => {
    const f = await newAccount();
    await putPool(f, "premium-concurrent", 5);
    await licensedUsers(f, "premium-concurrent", 4);
    const res = await replyOf(api(f.key).accounts[":account_id"].pools[":pool_id"].$put({ param: { account_id: f.accountId, pool_id: "premium-concurrent" }, json: { quantity: 2 } }));
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ quantity: 2, members: 4, active: 0, over_limit: false });
  });

  it("refuses max_active on a named pool with 400 and creates nothing", async () => {
    const f = await newAccount();
    const before = await stateOf(f);
    expectProblem(await replyOf(api(f.key).accounts[":account_id"].pools[":pool_id"].$put({ param: { account_id: f.accountId, pool_id: "elite-named" }, json: { quantity: 5, max_active: 5 } })), 400, "invalid_request");
    expect(await stateOf(f)).toEqual(before);
  });

  it("refuses bad quantities and ceilings with 400 and changes nothing", async () => {
    const f = await newAccount();
    await putPool(f, "premium-concurrent", 7);
    const before = await stateOf(f);
    for (const input of [
      {},
      { quantity: -1 },
      { quantity: 1.5 },
      { quantity: "10" },
      { quantity: null },
      { quantity: 1_000_001 },
      { quantity: Number.MAX_SAFE_INTEGER },
      { quantity: true },
      { quantity: [3] },
      { quantity: 5, max_active: 0 },
      { quantity: 5, max_active: -2 },
      { quantity: 5, max_active: 2.5 },
      { quantity: 5, max_active: "7" },
    ]) {
      // Malformed bodies on purpose: through `call`, since the typed client would not compile them.
      const res = await call("PUT", acct(f, "/pools/premium-concurrent"), f.key, input);
      expect({ input, status: res.status }).toEqual({ input, status: 400 });
      expectProblem(res, 400, "invalid_request");
    }
    expect(await stateOf(f)).toEqual(before);
  });

  it("refuses pool ids outside the catalog with 400 and creates nothing", async () => {
    const f = await newAccount();
    const before = await stateOf(f);
    for (const pool of ["gold-named", "elite-floating", "elite", "named", "ELITE-named", "elite-named-x", "elite_named", "elite-Named", "x".repeat(129)]) {
      // Pool ids outside the catalog on purpose: through `call`, since the typed client only takes catalog ids.
      const res = await call("PUT", acct(f, `/pools/${pool}`), f.key, { quantity: 3 });
      expect({ pool, status: res.status }).toEqual({ pool, status: 400 });
      expectProblem(res, 400, "invalid_request");
    }
    expect(await stateOf(f)).toEqual(before);
  });
});

describe("GET /v1/accounts/{account_id}/pools", () => {
  it("is empty for a new account", async () => {
    const f = await newAccount();
    const res = await call("GET", acct(f, "/pools"), f.key);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ items: [] });
  });

  it("lists every pool with live counts: assigned for named, members for concurrent", async () => {
    const f = await newAccount();
    await putPool(f, "elite-named", 5);
    await putPool(f, "essentials-named", 2);
    await putPool(f, "premium-concurrent", 3, 4);
    await licensedUsers(f, "elite-named", 3, "en");
    await licensedUsers(f, "premium-concurrent", 6, "pc");
    const res = await call("GET", acct(f, "/pools"), f.key);
    expect(res.status).toBe(200);
    const byId = Object.fromEntries(res.body.items.map((p: { id: string }) => [p.id, p]));
    expect(Object.keys(byId).sort()).toEqual(["elite-named", "essentials-named", "premium-concurrent"]);
    expect(byId["elite-named"]).toEqual({
      id: "elite-named",
      tier: "elite",
      model: "named",
      quantity: 5,
      max_active: null,
      assigned: 3,
      members: null,
      active: 0,
      over_limit: false,
      waiting: 0,
      alerts: [80, 100],
    });
    expect(byId["essentials-named"]).toMatchObject({ quantity: 2, assigned: 0, members: null });
    expect(byId["premium-concurrent"]).toEqual({
      id: "premium-concurrent",
      tier: "premium",
      model: "concurrent",
      quantity: 3,
      max_active: 4,
      assigned: null,
      members: 6,
      active: 0,
      over_limit: false,
      waiting: 0,
      alerts: [80, 100],
    });
  });

  it("counts follow revocations, moves and deletions", async () => {
    const f = await newAccount();
    await putPool(f, "elite-named", 5);
    await putPool(f, "elite-concurrent", 5);
    const [u0, u1, u2] = await licensedUsers(f, "elite-named", 3);
    await call("DELETE", acct(f, `/users/${u0}/license`), f.key);
    await replyOf(api(f.key).accounts[":account_id"].users[":user_id"].license.$put({ param: { account_id: f.accountId, user_id: u1 }, json: { pool: "elite-concurrent" } }));
    await call("DELETE", acct(f, `/users/${u2}`), f.key);
    const items = (await call("GET", acct(f, "/pools"), f.key)).body.items;
    expect(items.find((p: { id: string }) => p.id === "elite-named")).toMatchObject({ assigned: 0 });
    expect(items.find((p: { id: string }) => p.id === "elite-concurrent")).toMatchObject({ members: 1 });
  });
});

describe("a pool's seats, usage and force release", () => {
  it("GET seats answers the pool's live view", async () => {
    const f = await newAccount();
    await putPool(f, "premium-concurrent", 4);
    const res = await call("GET", acct(f, "/pools/premium-concurrent/seats"), f.key);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ limit: 4, active: 0, over_limit: false, billable_now: 0, grace_ends_at: null, interval: null, items: [] });
  });

  it("GET usage answers buckets", async () => {
    const f = await newAccount();
    await putPool(f, "premium-concurrent", 4);
    const to = new Date(Math.ceil(Date.now() / 60_000) * 60_000);
    const from = new Date(to.getTime() - 10 * 60_000);
    const res = await call("GET", acct(f, `/pools/premium-concurrent/usage?from=${from.toISOString()}&to=${to.toISOString()}&step_seconds=60`), f.key);
    expect(res.status).toBe(200);
    expect(Array.isArray(res.body.items)).toBe(true);
    for (const b of res.body.items) expect(b).toMatchObject({ t: expect.any(String), max_active: expect.any(Number), limit: expect.any(Number) });
  });

  it("force release of a user without a seat is 204", async () => {
    const f = await newAccount();
    await putPool(f, "premium-concurrent", 4);
    const [u] = await licensedUsers(f, "premium-concurrent", 1);
    expect((await call("DELETE", acct(f, `/pools/premium-concurrent/seats/${u}`), f.key)).status).toBe(204);
  });

  it("a well-formed pool the account has not bought is 404; a malformed one 400", async () => {
    const f = await newAccount();
    await putUsers(f, ["u"]);
    expectProblem(await call("GET", acct(f, "/pools/elite-named/seats"), f.key), 404, "not_found");
    expectProblem(await call("GET", acct(f, "/pools/elite-named/usage"), f.key), 404, "not_found");
    expectProblem(await call("DELETE", acct(f, "/pools/elite-named/seats/u"), f.key), 404, "not_found");
    expectProblem(await call("GET", acct(f, "/pools/gold-named/seats"), f.key), 400, "invalid_request");
    expectProblem(await call("GET", acct(f, "/pools/gold-named/usage"), f.key), 400, "invalid_request");
  });

  it("force release of an unknown user is 404", async () => {
    const f = await newAccount();
    await putPool(f, "premium-concurrent", 4);
    expectProblem(await call("DELETE", acct(f, "/pools/premium-concurrent/seats/nobody"), f.key), 404, "not_found");
  });

  it("GET overages is an empty page for a quiet account", async () => {
    const f = await newAccount();
    const res = await call("GET", acct(f, "/overages"), f.key);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ items: [], next_cursor: null });
  });
});
