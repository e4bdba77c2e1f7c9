/**
 * The roster's copy in the object's SQLite (docs/architecture.md#waking-and-the-roster-copy,
 * decision 100): a waking object decides from its copy without reading D1; D1's roster_version,
 * raised by every batch that changes the roster, is compared in the background and a difference
 * reloads the roster from D1; an object with no copy yet reads D1 as before.
 */
import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { AccountSeats } from "../../src/seats/account-seats";
import { agentToken, api, checkout, eventually, expectProblem, heartbeat, licensedUsers, newAccount, putPool, putUsers, replyOf, seatsStub, type Fixture } from "../helpers";

const restart = (f: Fixture) => runInDurableObject(seatsStub(f), (_i, state) => state.abort("restart")).catch(() => undefined);

const d1Version = async (f: Fixture) => (await env.DB.prepare("SELECT roster_version AS v FROM accounts WHERE id = ?").bind(f.accountId).first<{ v: number }>())!.v;

/** The object's copy, as its SQLite holds it. */
const copyOf = (f: Fixture) =>
  runInDurableObject<AccountSeats, { version: string | null; licenses: string[][]; assignments: string[][]; pools: unknown[][]; purchases: unknown[][]; settings: Record<string, unknown> | null }>(
    seatsStub(f),
    (_i, state) => {
      const sql = state.storage.sql;
      const rows = (q: string) => [...sql.exec(q).raw()] as never[];
      const meta = (key: string) => (sql.exec<{ value: string }>("SELECT value FROM meta WHERE key = ?", key).toArray()[0]?.value ?? null);
      return {
        version: meta("roster_version"),
        licenses: rows("SELECT user_id, pool_id FROM roster_licenses ORDER BY user_id"),
        assignments: rows("SELECT user_id, product, seq FROM roster_assignments ORDER BY user_id, product"),
        pools: rows("SELECT pool_id, quantity, max_active FROM roster_pools ORDER BY pool_id"),
        purchases: rows("SELECT product, quantity FROM roster_purchases ORDER BY product"),
        settings: JSON.parse(meta("roster_settings") ?? "null"),
      };
    },
  );

/** What D1 holds for the same tables. */
async function d1Of(f: Fixture) {
  const rows = async (q: string) => (await env.DB.prepare(q).bind(f.accountId).raw()) as unknown[][];
  return {
    version: String(await d1Version(f)),
    licenses: await rows("SELECT user_id, pool_id FROM licenses WHERE account_id = ? ORDER BY user_id"),
    assignments: await rows("SELECT user_id, product, seq FROM addon_assignments WHERE account_id = ? ORDER BY user_id, product"),
    pools: await rows("SELECT id, quantity, max_active FROM pools WHERE account_id = ? ORDER BY id"),
    purchases: await rows("SELECT product, quantity FROM addon_purchases WHERE account_id = ? ORDER BY product"),
  };
}

describe("the copy follows every admin write", () => {
  it("pools, licenses, batches, add-ons, settings and user removal: the copy equals D1, version included", async () => {
    const f = await newAccount();
    const v0 = await d1Version(f);
    await putPool(f, "premium-concurrent", 5, 3);
    await putPool(f, "premium-named", 2);
    await licensedUsers(f, "premium-concurrent", 3);
    await putUsers(f, ["n1", "n2"]);
    expect((await replyOf(api(f.key).accounts[":account_id"].users[":user_id"].license.$put({ param: { account_id: f.accountId, user_id: "n1" }, json: { pool: "premium-named" } }))).status).toBe(200);
    expect((await replyOf(api(f.key).accounts[":account_id"]["licenses:batch"].$post({ param: { account_id: f.accountId }, json: { assign: [{ user_id: "n2", pool: "premium-named" }], revoke: ["agent-2"] } }))).status).toBe(200);
    expect((await replyOf(api(f.key).accounts[":account_id"].addons[":product"].$put({ param: { account_id: f.accountId, product: "ai_expert_assist" }, json: { quantity: 2 } }))).status).toBe(200);
    expect((await replyOf(api(f.key).accounts[":account_id"].users[":user_id"].addons[":product"].$put({ param: { account_id: f.accountId, user_id: "agent-0", product: "ai_expert_assist" } }))).status).toBe(200);
    expect((await replyOf(api(f.key).accounts[":account_id"].users[":user_id"].addons[":product"].$put({ param: { account_id: f.accountId, user_id: "agent-1", product: "ai_expert_assist" } }))).status).toBe(200);
    expect((await replyOf(api(f.key).accounts[":account_id"].users[":user_id"].addons[":product"].$delete({ param: { account_id: f.accountId, user_id: "agent-1", product: "ai_expert_assist" } }))).status).toBe(204);
    expect((await replyOf(api(f.key).accounts[":account_id"].$patch({ param: { account_id: f.accountId }, json: { grace_seconds: 900, lease_ttl_seconds: 300 } }))).status).toBe(200);
    expect((await replyOf(api(f.key).accounts[":account_id"].users[":user_id"].$delete({ param: { account_id: f.accountId, user_id: "n1" } }))).status).toBe(204);
    expect((await replyOf(api(f.key).accounts[":account_id"].users[":user_id"].license.$delete({ param: { account_id: f.accountId, user_id: "agent-0" } }))).status).toBe(204);

    const [copy, d1] = [await copyOf(f), await d1Of(f)];
    // One raise per batch that changed the roster (putUsers writes users only, not the roster).
    expect(Number(d1.version)).toBe(v0 + 12);
    expect({ version: copy.version, licenses: copy.licenses, assignments: copy.assignments, pools: copy.pools, purchases: copy.purchases }).toEqual(d1);
    expect(copy.settings).toMatchObject({ graceSeconds: 900, leaseTtlSeconds: 300 });
    expect(copy.licenses).toEqual([["agent-1", "premium-concurrent"], ["n2", "premium-named"]]);
  });

  it("a refused or empty write changes neither D1's version nor the copy", async () => {
    const f = await newAccount();
    await putPool(f, "premium-named", 1);
    await licensedUsers(f, "premium-named", 1);
    await putUsers(f, ["late"]);
    const before = [await copyOf(f), await d1Version(f)];
    expectProblem(await replyOf(api(f.key).accounts[":account_id"].users[":user_id"].license.$put({ param: { account_id: f.accountId, user_id: "late" }, json: { pool: "premium-named" } })), 409, "named_pool_full");
    expect((await replyOf(api(f.key).accounts[":account_id"].users[":user_id"].license.$put({ param: { account_id: f.accountId, user_id: "agent-0" }, json: { pool: "premium-named" } }))).status).toBe(200);
    expect([await copyOf(f), await d1Version(f)]).toEqual(before);
  });
});

describe("waking", () => {
  it("decides from the copy, without reading the roster from D1", async () => {
    const f = await newAccount();
    await putPool(f, "premium-concurrent", 5);
    const [u] = await licensedUsers(f, "premium-concurrent", 1);
    const token = await agentToken(f, u);
    await restart(f);
    // D1 loses the license behind the object's back and says nothing (no version raised): a roster
    // read from D1 would refuse the checkout; the copy grants it.
    await env.DB.prepare("DELETE FROM licenses WHERE account_id = ? AND user_id = ?").bind(f.accountId, u).run();
    expect((await checkout(token)).status).toBe(200);
    expect((await copyOf(f)).licenses).toEqual([[u, "premium-concurrent"]]);
  });

  it("decides from the copy, ceiling included, while D1 cannot give the roster", async () => {
    const f = await newAccount();
    await putPool(f, "premium-concurrent", 5, 1);
    const [u, v] = await licensedUsers(f, "premium-concurrent", 2);
    const [tu, tv] = [await agentToken(f, u), await agentToken(f, v)];
    await restart(f);
    // Any read of the roster from D1 now fails (the licenses table is away); the version check
    // still answers, and agrees.
    await env.DB.prepare("ALTER TABLE licenses RENAME TO licenses_away").run();
    try {
      expect((await checkout(tu)).status).toBe(200);
      expectProblem(await checkout(tv), 409, "pool_at_ceiling");
      expect((await heartbeat(tu)).status).toBe(200);
    } finally {
      await env.DB.prepare("ALTER TABLE licenses_away RENAME TO licenses").run();
    }
  });

  it("drift: a change that reached D1 with a raised version, but not the object, is reloaded in the background", async () => {
    const f = await newAccount();
    await putPool(f, "premium-concurrent", 5);
    const [u, v] = await licensedUsers(f, "premium-concurrent", 2);
    const [tu, tv] = [await agentToken(f, u), await agentToken(f, v)];
    expect((await checkout(tu)).status).toBe(200);
    await restart(f);
    // A revocation whose batch committed in D1 (raising the version) before the object crashed.
    await env.DB.batch([
      env.DB.prepare("DELETE FROM licenses WHERE account_id = ? AND user_id = ?").bind(f.accountId, u),
      env.DB.prepare("UPDATE accounts SET roster_version = roster_version + 1 WHERE id = ?").bind(f.accountId),
    ]);
    // The wake answers from the copy at once; only agent calls, no admin read that would wait.
    expect((await checkout(tv)).status).toBe(200);
    await eventually(async () => expect((await copyOf(f)).licenses).toEqual([[v, "premium-concurrent"]]));
    expect((await copyOf(f)).version).toBe(String(await d1Version(f)));
    // The object converged: u's session ended with its license, and u is refused from now on.
    expect((await heartbeat(tu)).status).toBe(404);
    expectProblem(await checkout(tu), 403, "no_license");
    expect((await heartbeat(tv)).status).toBe(200);
  });

  it("an object from before the copy (no copy in its SQLite) reads D1, then keeps the copy", async () => {
    const f = await newAccount();
    await putPool(f, "premium-concurrent", 5);
    const [u, v] = await licensedUsers(f, "premium-concurrent", 2);
    const [tu, tv] = [await agentToken(f, u), await agentToken(f, v)];
    // What the previous code left: no copy, no version.
    await runInDurableObject<AccountSeats, void>(seatsStub(f), (_i, state) => {
      for (const table of ["roster_pools", "roster_licenses", "roster_assignments", "roster_purchases"]) state.storage.sql.exec(`DELETE FROM ${table}`);
      state.storage.sql.exec("DELETE FROM meta WHERE key IN ('roster_version', 'roster_settings')");
    });
    await restart(f);
    // D1 changed without a version raise: only a roster read from D1 knows it.
    await env.DB.prepare("DELETE FROM licenses WHERE account_id = ? AND user_id = ?").bind(f.accountId, u).run();
    expectProblem(await checkout(tu), 403, "no_license");
    expect((await checkout(tv)).status).toBe(200);
    const copy = await copyOf(f);
    expect(copy.licenses).toEqual([[v, "premium-concurrent"]]);
    expect(copy.pools).toEqual([["premium-concurrent", 5, null]]);
    expect(copy.version).toBe(String(await d1Version(f)));
  });
});
