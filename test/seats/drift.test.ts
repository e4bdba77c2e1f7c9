/**
 * No silent drift between D1 and the account's object (docs/architecture.md#failure-modes,
 * decision 022): a D1 write that reports an error may have landed, so the object answers 503
 * `outcome_unknown`, re-reads its roster before its next decision, and checks the invariants on
 * what D1 holds. A pool quantity that reached D1 but not the usage log is logged when the object wakes.
 */
import { env, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { AccountSeats } from "../../src/seats/account-seats";
import { agentToken, call, expectProblem, newAccount, putPool, putUsers, seatsStub, type Fixture, api, replyOf } from "../helpers";

const acct = (f: Fixture, rest = "") => `/v1/accounts/${f.accountId}${rest}`;

/** Makes the object's next D1 write batch behave as D1 sometimes does: `commit` decides whether it lands; it throws either way. */
async function failNextWrite(f: Fixture, commit: boolean): Promise<void> {
  await runInDurableObject<AccountSeats, void>(seatsStub(f), (instance) => {
    const admin = (instance as unknown as { admin: { c: { d1: D1Database } } }).admin;
    const real = admin.c.d1;
    admin.c.d1 = {
      prepare: (q: string) => real.prepare(q),
      batch: async (statements: D1PreparedStatement[]) => {
        admin.c.d1 = real; // once
        if (commit) await real.batch(statements);
        throw new Error("D1_ERROR: Network connection lost.");
      },
    } as unknown as D1Database;
  });
}

const licensesInD1 = async (f: Fixture, pool: string) =>
  (await env.DB.prepare("SELECT user_id FROM licenses WHERE account_id = ? AND pool_id = ? ORDER BY user_id").bind(f.accountId, pool).all<{ user_id: string }>()).results.map((r) => r.user_id);

describe("a D1 write that commits and then reports an error", () => {
  it("answers 503 outcome_unknown; the next decision sees the license: a named pool of 1 never gets 2", async () => {
    const f = await newAccount();
    await putPool(f, "premium-named", 1);
    await putUsers(f, ["a", "b"]);
    await failNextWrite(f, true);
    const first = await replyOf(api(f.key).accounts[":account_id"].users[":user_id"].license.$put({ param: { account_id: f.accountId, user_id: "a" }, json: { pool: "premium-named" } }));
    expectProblem(first, 503, "outcome_unknown");
    expect(first.body.detail).toMatch(/may or may not have been applied/);
    expect(await licensesInD1(f, "premium-named")).toEqual(["a"]);

    // The object re-read its roster: the pool is full, and a's license is honoured.
    expectProblem(await replyOf(api(f.key).accounts[":account_id"].users[":user_id"].license.$put({ param: { account_id: f.accountId, user_id: "b" }, json: { pool: "premium-named" } })), 409, "named_pool_full");
    expect(await licensesInD1(f, "premium-named")).toEqual(["a"]);
    expect((await replyOf(api(await agentToken(f, "a")).seats.checkout.$post({ json: { session_id: "s1" } }))).status).toBe(200);
    expect((await call("GET", acct(f, "/pools"), f.key)).body.items.find((p: { id: string }) => p.id === "premium-named")).toMatchObject({ assigned: 1, active: 1 });
  });

  it("a batch too: the reloaded roster judges the next batch", async () => {
    const f = await newAccount();
    await putPool(f, "premium-named", 2);
    await putUsers(f, ["a", "b", "c"]);
    await failNextWrite(f, true);
    const res = await replyOf(api(f.key).accounts[":account_id"]["licenses:batch"].$post({ param: { account_id: f.accountId }, json: { assign: [{ user_id: "a", pool: "premium-named" }, { user_id: "b", pool: "premium-named" }] } }));
    expectProblem(res, 503, "outcome_unknown");
    const next = await replyOf(api(f.key).accounts[":account_id"]["licenses:batch"].$post({ param: { account_id: f.accountId }, json: { assign: [{ user_id: "c", pool: "premium-named" }] } }));
    expectProblem(next, 409, "named_pool_full");
    expect(await licensesInD1(f, "premium-named")).toEqual(["a", "b"]);
  });

  it("a revocation that landed ends the user's sessions once the roster is re-read", async () => {
    const f = await newAccount();
    await putPool(f, "premium-concurrent", 5);
    await putUsers(f, ["a"]);
    await replyOf(api(f.key).accounts[":account_id"].users[":user_id"].license.$put({ param: { account_id: f.accountId, user_id: "a" }, json: { pool: "premium-concurrent" } }));
    const token = await agentToken(f, "a");
    expect((await replyOf(api(token).seats.checkout.$post({ json: { session_id: "s1" } }))).status).toBe(200);
    await failNextWrite(f, true);
    expectProblem(await call("DELETE", acct(f, "/users/a/license"), f.key), 503, "outcome_unknown");
    expectProblem(await replyOf(api(token).seats.checkout.$post({ json: { session_id: "s1" } })), 403, "no_license");
    expect((await call("GET", acct(f, "/pools/premium-concurrent/seats"), f.key)).body.active).toBe(0);
  });
});

describe("a D1 write that fails without landing", () => {
  it("answers 503 outcome_unknown too, changes nothing, and the next write works", async () => {
    const f = await newAccount();
    await putPool(f, "premium-named", 1);
    await putUsers(f, ["a"]);
    await failNextWrite(f, false);
    expectProblem(await replyOf(api(f.key).accounts[":account_id"].users[":user_id"].license.$put({ param: { account_id: f.accountId, user_id: "a" }, json: { pool: "premium-named" } })), 503, "outcome_unknown");
    expect(await licensesInD1(f, "premium-named")).toEqual([]);
    expect((await replyOf(api(f.key).accounts[":account_id"].users[":user_id"].license.$put({ param: { account_id: f.accountId, user_id: "a" }, json: { pool: "premium-named" } }))).status).toBe(200);
    expect(await licensesInD1(f, "premium-named")).toEqual(["a"]);
  });
});

describe("a pool quantity that reached D1 but not the usage log", () => {
  it("is logged when the object wakes, so billing counts against the quantity D1 holds", async () => {
    const f = await newAccount();
    await putPool(f, "premium-concurrent", 3);
    const lastLimit = () =>
      runInDurableObject<AccountSeats, number | null>(seatsStub(f), (_i, state) =>
        state.storage.sql.exec<{ lim: number }>("SELECT lim FROM steps WHERE pool_id = 'premium-concurrent' ORDER BY t DESC, rowid DESC LIMIT 1").toArray()[0]?.lim ?? null,
      );
    expect(await lastLimit()).toBe(3);
    // The crash: D1 took the new quantity (and the roster version its batch raises), the object never logged it.
    await env.DB.batch([
      env.DB.prepare("UPDATE pools SET quantity = 7 WHERE account_id = ? AND id = 'premium-concurrent'").bind(f.accountId),
      env.DB.prepare("UPDATE accounts SET roster_version = roster_version + 1 WHERE id = ?").bind(f.accountId),
    ]);
    await runInDurableObject(seatsStub(f), (_i, state) => state.abort("crash")).catch(() => undefined);
    // The waking object compares versions in the background; an admin read waits for that check.
    const usage = await call("GET", acct(f, "/pools/premium-concurrent/usage?step_seconds=60"), f.key);
    expect(usage.status).toBe(200);
    expect(await lastLimit()).toBe(7);
  });
});
