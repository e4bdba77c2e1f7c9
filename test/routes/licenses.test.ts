import { env } from "cloudflare:workers";
import type { PoolId } from "../../src/domain/catalog";
import { describe, expect, it } from "vitest";
import { auditOf, call, expectProblem, licensedUsers, newAccount, putPool, putUsers, stateOf, usersOf, type Fixture, api, replyOf } from "../helpers";

/** Named licenses (docs/licensing.md#named-pools): assign, move, revoke, the cap under concurrency, the all-or-nothing batch. */

const acct = (f: Fixture, rest = "") => `/v1/accounts/${f.accountId}${rest}`;
const poolOf = async (f: Fixture, id: string) =>
  (await call("GET", acct(f, "/pools"), f.key)).body.items.find((p: { id: string }) => p.id === id);
const assign = (f: Fixture, user: string, pool: PoolId) =>
  replyOf(api(f.key).accounts[":account_id"].users[":user_id"].license.$put({ param: { account_id: f.accountId, user_id: user }, json: { pool } }));

describe("PUT /v1/accounts/{account_id}/users/{user_id}/license", () => {
  it("assigns a license, audited as license.assign", async () => {
    const f = await newAccount();
    await putPool(f, "elite-named", 3);
    await putUsers(f, ["ada"]);
    const res = await assign(f, "ada", "elite-named");
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ user_id: "ada", pool: "elite-named" });
    expect((await call("GET", acct(f, "/users/ada"), f.key)).body.pool).toBe("elite-named");
    expect(await poolOf(f, "elite-named")).toMatchObject({ assigned: 1 });
    const [last] = await auditOf(f);
    expect(last).toMatchObject({ action: "license.assign", target: "ada", actor: `api_key:${f.keyId}` });
    expect(last.detail).toMatchObject({ pool: "elite-named" });
  });

  it("assigning the same pool again is a no-op, not a second seat", async () => {
    const f = await newAccount();
    await putPool(f, "elite-named", 1);
    await putUsers(f, ["ada"]);
    expect((await assign(f, "ada", "elite-named")).status).toBe(200);
    const again = await assign(f, "ada", "elite-named");
    expect(again.status).toBe(200);
    expect(again.body).toEqual({ user_id: "ada", pool: "elite-named" });
    expect(await poolOf(f, "elite-named")).toMatchObject({ assigned: 1, quantity: 1 });
  });

  it("a full named pool refuses with 409 named_pool_full and changes nothing", async () => {
    const f = await newAccount();
    await putPool(f, "premium-named", 2);
    await licensedUsers(f, "premium-named", 2);
    await putUsers(f, ["third"]);
    const before = await stateOf(f);
    expectProblem(await assign(f, "third", "premium-named"), 409, "named_pool_full");
    expect(await stateOf(f)).toEqual(before);
  });

  it("revoking frees the seat for someone new (docs/licensing.md#named-pools: a 101st user needs a revocation; here a 6th)", async () => {
    const f = await newAccount();
    await putPool(f, "elite-named", 5);
    const users = await licensedUsers(f, "elite-named", 5);
    await putUsers(f, ["sixth"]);
    expectProblem(await assign(f, "sixth", "elite-named"), 409, "named_pool_full");
    expect((await call("DELETE", acct(f, `/users/${users[2]}/license`), f.key)).status).toBe(204);
    const res = await assign(f, "sixth", "elite-named");
    expect(res.status).toBe(200);
    expect(await poolOf(f, "elite-named")).toMatchObject({ quantity: 5, assigned: 5 });
    expect((await call("GET", acct(f, `/users/${users[2]}`), f.key)).body.pool).toBeNull();
    // And it is full again.
    expectProblem(await assign(f, users[2], "elite-named"), 409, "named_pool_full");
  });

  it("moves a user between pools, freeing the old seat", async () => {
    const f = await newAccount();
    await putPool(f, "essentials-named", 1);
    await putPool(f, "elite-named", 1);
    await putPool(f, "premium-concurrent", 5);
    await putUsers(f, ["mover", "other"]);
    await assign(f, "mover", "essentials-named");

    const toNamed = await assign(f, "mover", "elite-named");
    expect(toNamed.body).toEqual({ user_id: "mover", pool: "elite-named" });
    expect(await poolOf(f, "essentials-named")).toMatchObject({ assigned: 0 });
    expect(await poolOf(f, "elite-named")).toMatchObject({ assigned: 1 });
    // The seat it left is free again.
    expect((await assign(f, "other", "essentials-named")).status).toBe(200);

    const toConcurrent = await assign(f, "mover", "premium-concurrent");
    expect(toConcurrent.status).toBe(200);
    expect(await poolOf(f, "elite-named")).toMatchObject({ assigned: 0 });
    expect(await poolOf(f, "premium-concurrent")).toMatchObject({ members: 1 });
    expect((await call("GET", acct(f, "/users/mover"), f.key)).body.pool).toBe("premium-concurrent");

    const moves = (await auditOf(f)).filter((e) => e.action === "license.assign" && e.target === "mover").map((e) => e.detail);
    expect(moves).toEqual([
      expect.objectContaining({ pool: "premium-concurrent", previous: "elite-named" }),
      expect.objectContaining({ pool: "elite-named", previous: "essentials-named" }),
      expect.objectContaining({ pool: "essentials-named", previous: null }),
    ]);
  });

  it("a move into a full named pool is refused and the user keeps their license", async () => {
    const f = await newAccount();
    await putPool(f, "elite-named", 1);
    await putPool(f, "premium-concurrent", 5);
    await licensedUsers(f, "elite-named", 1);
    await putUsers(f, ["stay"]);
    await assign(f, "stay", "premium-concurrent");
    const before = await stateOf(f);
    expectProblem(await assign(f, "stay", "elite-named"), 409, "named_pool_full");
    expect(await stateOf(f)).toEqual(before);
    expect((await call("GET", acct(f, "/users/stay"), f.key)).body.pool).toBe("premium-concurrent");
  });

  it("a well-formed pool not bought is 404; an unknown user is 404; a malformed pool is 400", async () => {
    const f = await newAccount();
    await putPool(f, "elite-named", 1);
    await putUsers(f, ["ada"]);
    const before = await stateOf(f);
    expectProblem(await assign(f, "ada", "essentials-named"), 404, "not_found");
    expectProblem(await assign(f, "ghost", "elite-named"), 404, "not_found");
    // Malformed on purpose (a pool outside the catalog, no pool, a number): through `call`, which the typed client would refuse.
    expectProblem(await call("PUT", acct(f, "/users/ada/license"), f.key, { pool: "gold-named" }), 400, "invalid_request");
    expectProblem(await call("PUT", acct(f, "/users/ada/license"), f.key, {}), 400, "invalid_request");
    expectProblem(await call("PUT", acct(f, "/users/ada/license"), f.key, { pool: 3 }), 400, "invalid_request");
    expect(await stateOf(f)).toEqual(before);
  });
});

describe("DELETE /v1/accounts/{account_id}/users/{user_id}/license", () => {
  it("revokes, audited as license.revoke", async () => {
    const f = await newAccount();
    await putPool(f, "elite-named", 2);
    const [u] = await licensedUsers(f, "elite-named", 1);
    const res = await call("DELETE", acct(f, `/users/${u}/license`), f.key);
    expect(res.status).toBe(204);
    expect(res.body).toBeNull();
    expect((await call("GET", acct(f, `/users/${u}`), f.key)).body.pool).toBeNull();
    expect(await poolOf(f, "elite-named")).toMatchObject({ assigned: 0 });
    const [last] = await auditOf(f);
    expect(last).toMatchObject({ action: "license.revoke", target: u, actor: `api_key:${f.keyId}` });
    expect(last.detail).toMatchObject({ pool: "elite-named" });
  });

  it("revoking a user without a license is 204 and writes nothing; an unknown user is 404", async () => {
    const f = await newAccount();
    await putUsers(f, ["bare"]);
    const before = await stateOf(f);
    expect((await call("DELETE", acct(f, "/users/bare/license"), f.key)).status).toBe(204);
    expectProblem(await call("DELETE", acct(f, "/users/ghost/license"), f.key), 404, "not_found");
    expect(await stateOf(f)).toEqual(before);
  });
});

describe("the named cap under concurrency", () => {
  it("40 parallel assignments racing for 10 seats: exactly 10 win, 30 get named_pool_full", async () => {
    const f = await newAccount();
    await putPool(f, "elite-named", 10);
    const ids = Array.from({ length: 40 }, (_, i) => `racer-${String(i).padStart(2, "0")}`);
    await putUsers(f, ids);
    const results = await Promise.all(ids.map((id) => assign(f, id, "elite-named")));
    const statuses = results.map((r) => r.status);
    expect(statuses.filter((s) => s === 200)).toHaveLength(10);
    expect(statuses.filter((s) => s === 409)).toHaveLength(30);
    for (const r of results.filter((r) => r.status !== 200)) expectProblem(r, 409, "named_pool_full");

    expect(await poolOf(f, "elite-named")).toMatchObject({ quantity: 10, assigned: 10 });
    const winners = results.filter((r) => r.status === 200).map((r) => r.body.user_id).sort();
    const licensed = (await usersOf(f)).filter((u) => u.pool === "elite-named").map((u) => u.id).sort();
    expect(licensed).toEqual(winners);
    const assigns = (await auditOf(f)).filter((e) => e.action === "license.assign").map((e) => e.target).sort();
    expect(assigns).toEqual(winners);
  });

  it("parallel moves into a named pool cannot overfill it either", async () => {
    const f = await newAccount();
    await putPool(f, "premium-concurrent", 50);
    await putPool(f, "elite-named", 3);
    const ids = await licensedUsers(f, "premium-concurrent", 12, "m");
    const results = await Promise.all(ids.map((id) => assign(f, id, "elite-named")));
    expect(results.filter((r) => r.status === 200)).toHaveLength(3);
    expect(await poolOf(f, "elite-named")).toMatchObject({ assigned: 3 });
    expect(await poolOf(f, "premium-concurrent")).toMatchObject({ members: 9 });
  });

  it("parallel shrinks and assignments never leave a pool below its assignments", async () => {
    const f = await newAccount();
    await putPool(f, "elite-named", 10);
    const ids = Array.from({ length: 10 }, (_, i) => `s-${i}`);
    await putUsers(f, ids);
    await Promise.all([
      ...ids.map((id) => assign(f, id, "elite-named")),
      replyOf(api(f.key).accounts[":account_id"].pools[":pool_id"].$put({ param: { account_id: f.accountId, pool_id: "elite-named" }, json: { quantity: 4 } })),
      replyOf(api(f.key).accounts[":account_id"].pools[":pool_id"].$put({ param: { account_id: f.accountId, pool_id: "elite-named" }, json: { quantity: 6 } })),
    ]);
    const pool = await poolOf(f, "elite-named");
    expect(pool.assigned).toBeLessThanOrEqual(pool.quantity);
    expect((await usersOf(f)).filter((u) => u.pool === "elite-named")).toHaveLength(pool.assigned);
  });
});

describe("POST /v1/accounts/{account_id}/licenses:batch", () => {
  it("assigns and revokes together, audited per item", async () => {
    const f = await newAccount();
    await putPool(f, "elite-named", 3);
    await putPool(f, "premium-concurrent", 3);
    const [old] = await licensedUsers(f, "elite-named", 1, "old");
    await putUsers(f, ["n1", "n2", "c1"]);
    const seen = new Set((await auditOf(f)).map((e) => e.id));
    const res = await replyOf(api(f.key).accounts[":account_id"]["licenses:batch"].$post({ param: { account_id: f.accountId }, json: {
      assign: [
        { user_id: "n1", pool: "elite-named" },
        { user_id: "n2", pool: "elite-named" },
        { user_id: "c1", pool: "premium-concurrent" },
      ],
      revoke: [old],
    } }));
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ assigned: 3, revoked: 1 });
    const pools = Object.fromEntries(
      (await usersOf(f)).map((u) => [u.id, u.pool]),
    );
    expect(pools).toEqual({ [old]: null, n1: "elite-named", n2: "elite-named", c1: "premium-concurrent" });
    expect(await poolOf(f, "elite-named")).toMatchObject({ assigned: 2 });
    const audit = await auditOf(f);
    const batchEntries = audit.filter((e) => !seen.has(e.id));
    expect(batchEntries.map((e) => `${e.action}:${e.target}`).sort()).toEqual(
      ["license.assign:c1", "license.assign:n1", "license.assign:n2", `license.revoke:${old}`].sort(),
    );
    for (const e of batchEntries) expect(e.actor).toBe(`api_key:${f.keyId}`);
  });

  it("revocations free seats for assignments in the same batch", async () => {
    const f = await newAccount();
    await putPool(f, "elite-named", 2);
    const [a, b] = await licensedUsers(f, "elite-named", 2);
    await putUsers(f, ["c", "d"]);
    const res = await replyOf(api(f.key).accounts[":account_id"]["licenses:batch"].$post({ param: { account_id: f.accountId }, json: {
      assign: [
        { user_id: "c", pool: "elite-named" },
        { user_id: "d", pool: "elite-named" },
      ],
      revoke: [a, b],
    } }));
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ assigned: 2, revoked: 2 });
    expect(await poolOf(f, "elite-named")).toMatchObject({ assigned: 2 });
  });

  it("re-assigning holders of a full pool in a batch is a no-op, not an overfill", async () => {
    const f = await newAccount();
    await putPool(f, "elite-named", 2);
    const ids = await licensedUsers(f, "elite-named", 2);
    const before = await stateOf(f);
    const res = await replyOf(api(f.key).accounts[":account_id"]["licenses:batch"].$post({ param: { account_id: f.accountId }, json: { assign: ids.map((user_id) => ({ user_id, pool: "elite-named" })) } }));
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ assigned: 0, revoked: 0 });
    expect(await stateOf(f)).toEqual(before);
  });

  it("is judged on the state it leaves, not on the order of its items (a swap between full pools)", async () => {
    // docs/decisions/002-batches-are-judged-on-their-end-state.md: a batch is atomic, so no one ever sees its intermediate states.
    const f = await newAccount();
    await putPool(f, "essentials-named", 1);
    await putPool(f, "elite-named", 1);
    await putUsers(f, ["e", "x"]);
    await assign(f, "e", "essentials-named");
    await assign(f, "x", "elite-named");
    const res = await replyOf(api(f.key).accounts[":account_id"]["licenses:batch"].$post({ param: { account_id: f.accountId }, json: {
      assign: [
        { user_id: "e", pool: "elite-named" },
        { user_id: "x", pool: "essentials-named" },
      ],
    } }));
    expect(res.status).toBe(200);
    expect(Object.fromEntries((await usersOf(f)).map((u) => [u.id, u.pool]))).toEqual({ e: "elite-named", x: "essentials-named" });
    expect(await poolOf(f, "elite-named")).toMatchObject({ assigned: 1 });
    expect(await poolOf(f, "essentials-named")).toMatchObject({ assigned: 1 });
  });

  it("a batch that would overfill a named pool applies nothing, and the 409 names the item", async () => {
    const f = await newAccount();
    await putPool(f, "elite-named", 3);
    await putPool(f, "premium-concurrent", 3);
    const [held] = await licensedUsers(f, "elite-named", 1, "held");
    await putUsers(f, ["b0", "b1", "b2", "b3", "cc"]);
    const before = await stateOf(f);
    const res = await replyOf(api(f.key).accounts[":account_id"]["licenses:batch"].$post({ param: { account_id: f.accountId }, json: {
      assign: [
        { user_id: "cc", pool: "premium-concurrent" },
        { user_id: "b0", pool: "elite-named" },
        { user_id: "b1", pool: "elite-named" },
        { user_id: "b2", pool: "elite-named" }, // the 4th seat of 3
        { user_id: "b3", pool: "elite-named" },
      ],
      revoke: [],
    } }));
    expectProblem(res, 409, "named_pool_full");
    expect(res.body.index).toBe(3);
    expect(res.body.user_id).toBe("b2");
    expect(await stateOf(f)).toEqual(before);
    expect((await call("GET", acct(f, `/users/${held}`), f.key)).body.pool).toBe("elite-named");
    expect(await poolOf(f, "elite-named")).toMatchObject({ assigned: 1 });
  });

  it("a batch with a revocation and an overfill applies neither", async () => {
    const f = await newAccount();
    await putPool(f, "elite-named", 1);
    const [held] = await licensedUsers(f, "elite-named", 1, "held");
    await putUsers(f, ["x", "y"]);
    const before = await stateOf(f);
    const res = await replyOf(api(f.key).accounts[":account_id"]["licenses:batch"].$post({ param: { account_id: f.accountId }, json: {
      assign: [
        { user_id: "x", pool: "elite-named" },
        { user_id: "y", pool: "elite-named" },
      ],
      revoke: [held],
    } }));
    expectProblem(res, 409, "named_pool_full");
    expect(await stateOf(f)).toEqual(before);
  });

  it("a batch naming an unknown user or a pool not bought applies nothing (404)", async () => {
    const f = await newAccount();
    await putPool(f, "elite-named", 5);
    await putUsers(f, ["ok1", "ok2"]);
    const before = await stateOf(f);
    expectProblem(
      await replyOf(api(f.key).accounts[":account_id"]["licenses:batch"].$post({ param: { account_id: f.accountId }, json: { assign: [{ user_id: "ok1", pool: "elite-named" }, { user_id: "ghost", pool: "elite-named" }] } })),
      404,
      "not_found",
    );
    expectProblem(
      await replyOf(api(f.key).accounts[":account_id"]["licenses:batch"].$post({ param: { account_id: f.accountId }, json: { assign: [{ user_id: "ok1", pool: "elite-named" }], revoke: ["ghost"] } })),
      404,
      "not_found",
    );
    expectProblem(
      await replyOf(api(f.key).accounts[":account_id"]["licenses:batch"].$post({ param: { account_id: f.accountId }, json: { assign: [{ user_id: "ok1", pool: "elite-named" }, { user_id: "ok2", pool: "essentials-named" }] } })),
      404,
      "not_found",
    );
    expect(await stateOf(f)).toEqual(before);
  });

  it("refuses malformed batches with 400 and applies nothing", async () => {
    const f = await newAccount();
    await putPool(f, "elite-named", 5);
    await putUsers(f, ["u1", "u2"]);
    const before = await stateOf(f);
    const tooMany = Array.from({ length: 1001 }, (_, i) => `u${i}`);
    for (const input of [
      { assign: [{ user_id: "u1", pool: "gold-named" }] },
      { assign: [{ user_id: "u1" }] },
      { assign: [{ user_id: "u1", pool: "elite-named" }, { user_id: "u1", pool: "elite-named" }] },
      { assign: [{ user_id: "u1", pool: "elite-named" }], revoke: ["u1"] },
      { assign: [{ user_id: "x".repeat(129), pool: "elite-named" }] },
      { assign: [{ user_id: "bad id", pool: "elite-named" }] },
      { assign: { user_id: "u1", pool: "elite-named" } },
      { revoke: "u1" },
      { revoke: tooMany },
      { assign: tooMany.slice(0, 600).map((user_id) => ({ user_id, pool: "elite-named" })), revoke: tooMany.slice(600) },
    ]) {
      // Malformed on purpose: through `call`, since the typed client would not compile this body.
      const res = await call("POST", acct(f, "/licenses:batch"), f.key, input);
      expect({ input: JSON.stringify(input).slice(0, 120), status: res.status }).toEqual({ input: JSON.stringify(input).slice(0, 120), status: 400 });
      expectProblem(res, 400, "invalid_request");
    }
    expect(await stateOf(f)).toEqual(before);
  });

  it("accepts 1000 items in one batch", async () => {
    const f = await newAccount();
    await putPool(f, "premium-concurrent", 10);
    await putPool(f, "elite-named", 1000);
    const ids = Array.from({ length: 1000 }, (_, i) => `bulk-${String(i).padStart(4, "0")}`);
    // Users straight into D1 (1000 PUTs would only test patience); the batch itself goes through the API.
    await env.DB.prepare(
      "INSERT INTO users (account_id, id, display_name, email, created_at) SELECT ?, value, NULL, NULL, ? FROM json_each(?)",
    )
      .bind(f.accountId, new Date().toISOString(), JSON.stringify(ids))
      .run();
    const res = await replyOf(api(f.key).accounts[":account_id"]["licenses:batch"].$post({ param: { account_id: f.accountId }, json: { assign: ids.map((user_id) => ({ user_id, pool: "elite-named" })) } }));
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ assigned: 1000, revoked: 0 });
    expect(await poolOf(f, "elite-named")).toMatchObject({ assigned: 1000 });
    expect((await auditOf(f)).filter((e) => e.action === "license.assign")).toHaveLength(1000);
  }, 60_000);

  it("an empty batch is fine and changes nothing", async () => {
    const f = await newAccount();
    const before = await stateOf(f);
    const res = await replyOf(api(f.key).accounts[":account_id"]["licenses:batch"].$post({ param: { account_id: f.accountId }, json: { assign: [], revoke: [] } }));
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ assigned: 0, revoked: 0 });
    expect(await stateOf(f)).toEqual(before);
  });
});
