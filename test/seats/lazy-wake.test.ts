/**
 * A woken object answers from its roster copy by key (docs/architecture.md#waking-and-the-roster-copy,
 * decision 180): the first checkouts after a wake give the answers the fully loaded roster gave
 * (licensed, unlicensed, add-on grants, a team at its cap) without loading every user; an admin
 * write after such a wake loads them and keeps the invariants and the copy; drift and a D1 error
 * after it still reconcile from D1.
 */
import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { AccountSeats } from "../../src/seats/account-seats";
import { agentToken, api, call, checkout, eventually, expectProblem, licensedUsers, newAccount, putPool, putUsers, replyOf, seatsStub, type Fixture } from "../helpers";

const restart = (f: Fixture) => runInDurableObject(seatsStub(f), (_i, state) => state.abort("restart")).catch(() => undefined);

/** Whether the object holds every user in memory (false: it answers users by key from its copy). */
const complete = (f: Fixture) => runInDurableObject<AccountSeats, boolean>(seatsStub(f), (i) => (i as unknown as { h: { sync: { roster: { complete: boolean } } } }).h.sync.roster.complete);

const acct = (f: Fixture, rest = "") => `/v1/accounts/${f.accountId}${rest}`;
const user = (f: Fixture, userId: string) => ({ account_id: f.accountId, user_id: userId });

async function setTeams(f: Fixture, items: { user_id: string; team: string | null }[]) {
  expect((await replyOf(api(f.key).accounts[":account_id"].users["teams:batch"].$post({ param: { account_id: f.accountId }, json: { items } }))).status).toBe(200);
}
async function capTeam(f: Fixture, pool: "premium-concurrent", team: string, maxActive: number) {
  expect((await replyOf(api(f.key).accounts[":account_id"].pools[":pool_id"].teams[":team"].$put({ param: { account_id: f.accountId, pool_id: pool, team }, json: { max_active: maxActive } }))).status).toBe(200);
}
const assignAddon = (f: Fixture, userId: string) =>
  replyOf(api(f.key).accounts[":account_id"].users[":user_id"].addons[":product"].$put({ param: { ...user(f, userId), product: "workforce_management" } }));
const assignLicense = (f: Fixture, userId: string, pool: "premium-named") =>
  replyOf(api(f.key).accounts[":account_id"].users[":user_id"].license.$put({ param: user(f, userId), json: { pool } }));

/** The object's copy next to what D1 holds for the same account. */
async function copyAndD1(f: Fixture) {
  const copy = await runInDurableObject<AccountSeats, { licenses: unknown[][]; assignments: unknown[][]; teams: unknown[][]; version: string | null }>(seatsStub(f), (_i, state) => {
    const rows = (q: string) => [...state.storage.sql.exec(q).raw()] as unknown[][];
    return {
      licenses: rows("SELECT user_id, pool_id FROM roster_licenses ORDER BY user_id"),
      assignments: rows("SELECT user_id, product, seq FROM roster_assignments ORDER BY user_id, product"),
      teams: rows("SELECT user_id, team FROM roster_teams ORDER BY user_id"),
      version: state.storage.sql.exec<{ value: string }>("SELECT value FROM meta WHERE key = 'roster_version'").toArray()[0]?.value ?? null,
    };
  });
  const rows = async (q: string) => (await env.DB.prepare(q).bind(f.accountId).raw()) as unknown[][];
  const d1 = {
    licenses: await rows("SELECT user_id, pool_id FROM licenses WHERE account_id = ? ORDER BY user_id"),
    assignments: await rows("SELECT user_id, product, seq FROM addon_assignments WHERE account_id = ? ORDER BY user_id, product"),
    teams: await rows("SELECT id, team FROM users WHERE account_id = ? AND team IS NOT NULL ORDER BY id"),
    version: String((await env.DB.prepare("SELECT roster_version AS v FROM accounts WHERE id = ?").bind(f.accountId).first<{ v: number }>())!.v),
  };
  return { copy, d1 };
}

/** Makes the object's next D1 batch commit and then report an error (as D1 sometimes does). */
async function failNextWriteAfterCommit(f: Fixture): Promise<void> {
  await runInDurableObject<AccountSeats, void>(seatsStub(f), (instance) => {
    const admin = (instance as unknown as { admin: { c: { d1: D1Database } } }).admin;
    const real = admin.c.d1;
    admin.c.d1 = {
      prepare: (q: string) => real.prepare(q),
      batch: async (statements: D1PreparedStatement[]) => {
        admin.c.d1 = real;
        await real.batch(statements);
        throw new Error("D1_ERROR: Network connection lost.");
      },
    } as unknown as D1Database;
  });
}

describe("the first checkouts after a wake, by key from the copy", () => {
  it("licensed, unlicensed, add-on grants and a team at its cap: the answers of the full roster, no user loaded", async () => {
    const f = await newAccount();
    await putPool(f, "premium-concurrent", 10);
    await putPool(f, "elite-concurrent", 1);
    const [capped, mate, free] = await licensedUsers(f, "premium-concurrent", 3, "p");
    const [first, second] = await licensedUsers(f, "elite-concurrent", 2, "e");
    await putUsers(f, ["nolicense"]);
    await setTeams(f, [{ user_id: capped, team: "billing" }, { user_id: mate, team: "billing" }]);
    await capTeam(f, "premium-concurrent", "billing", 1);
    expect((await replyOf(api(f.key).accounts[":account_id"].addons[":product"].$put({ param: { account_id: f.accountId, product: "workforce_management" }, json: { quantity: 1 } }))).status).toBe(200);
    // The elite-concurrent bundle covers one assignment: the earlier one; the later one takes the purchased seat.
    expect((await assignAddon(f, first)).body.source).toBe("bundled");
    expect((await assignAddon(f, second)).body.source).toBe("purchased");
    const tokens = Object.fromEntries(await Promise.all([capped, mate, free, first, second, "nolicense"].map(async (u) => [u, await agentToken(f, u)] as const)));
    expect((await checkout(tokens[mate])).status).toBe(200);
    const me = async (u: string) => (await call("GET", "/v1/me", tokens[u])).body;
    const before = { first: await me(first), second: await me(second), free: await me(free) };
    expect(before.first.addons.workforce_management).toBe("bundled");
    expect(before.second.addons.workforce_management).toBe("purchased");

    await restart(f);
    expect(await complete(f)).toBe(false);
    // The team's one seat is held (by `mate`, seen through the holders' teams by key).
    expectProblem(await checkout(tokens[capped]), 409, "team_at_ceiling");
    expect((await checkout(tokens[free])).status).toBe(200);
    expectProblem(await checkout(tokens.nolicense), 403, "no_license");
    expect((await checkout(tokens[second])).status).toBe(200);
    expect({ first: await me(first), second: await me(second), free: await me(free) }).toEqual(before);
    expect((await call("GET", acct(f, `/users/${second}/entitlements`), f.key)).body).toEqual(before.second);
    // Admin reads that need counts only (pools with their members) do not load users either.
    const pools = (await call("GET", acct(f, "/pools"), f.key)).body.items;
    expect(pools.map((p: { id: string; members: number; active: number }) => [p.id, p.members, p.active])).toEqual([
      ["elite-concurrent", 2, 1],
      ["premium-concurrent", 3, 2],
    ]);
    expect(await complete(f)).toBe(false);
  });
});

describe("an admin write after a lazy wake", () => {
  it("loads every user, keeps the named cap and the add-on rules, and writes through to the copy", async () => {
    const f = await newAccount();
    await putPool(f, "premium-named", 2);
    await putPool(f, "elite-concurrent", 1);
    const [n1] = await licensedUsers(f, "premium-named", 2, "n");
    const [x, y] = await licensedUsers(f, "elite-concurrent", 2, "e");
    await putUsers(f, ["late"]);
    expect((await assignAddon(f, x)).body.source).toBe("bundled");
    await restart(f);
    expect(await complete(f)).toBe(false);

    expectProblem(await assignLicense(f, "late", "premium-named"), 409, "named_pool_full");
    expect(await complete(f)).toBe(true);
    // The bundle is used and nothing is purchased: a second assignment has no seat.
    expectProblem(await assignAddon(f, y), 409, "addon_seats_exhausted");
    expect((await replyOf(api(f.key).accounts[":account_id"].users[":user_id"].license.$delete({ param: user(f, n1) }))).status).toBe(204);
    expect((await assignLicense(f, "late", "premium-named")).status).toBe(200);
    const { copy, d1 } = await copyAndD1(f);
    expect(copy).toEqual(d1);

    // The next wake answers from that copy.
    await restart(f);
    const [tn1, tlate] = [await agentToken(f, n1), await agentToken(f, "late")];
    expectProblem(await checkout(tn1), 403, "no_license");
    expect((await checkout(tlate)).status).toBe(200);
    expect((await call("GET", acct(f, "/pools"), f.key)).body.items.find((p: { id: string }) => p.id === "premium-named")).toMatchObject({ assigned: 2, active: 1 });
  });
});

describe("failure paths after a lazy wake", () => {
  it("drift: a team change that reached D1 (version raised) but not the object is reloaded in the background, and the team cap follows it", async () => {
    const f = await newAccount();
    await putPool(f, "premium-concurrent", 10);
    const [a, b] = await licensedUsers(f, "premium-concurrent", 2, "p");
    await setTeams(f, [{ user_id: a, team: "billing" }]);
    await capTeam(f, "premium-concurrent", "billing", 1);
    const [ta, tb] = [await agentToken(f, a), await agentToken(f, b)];
    expect((await checkout(ta)).status).toBe(200);
    await restart(f);
    // b joined billing in D1 behind the object's back, with the version raised (a crash after D1 committed).
    await env.DB.batch([
      env.DB.prepare("UPDATE users SET team = 'billing' WHERE account_id = ? AND id = ?").bind(f.accountId, b),
      env.DB.prepare("UPDATE accounts SET roster_version = roster_version + 1 WHERE id = ?").bind(f.accountId),
    ]);
    // The wake answers at once from the copy (b has no team there) ...
    expect((await checkout(ta, "desk-2")).status).toBe(200);
    // ... and the background check reloads D1 and rewrites the copy.
    await eventually(async () => {
      const { copy, d1 } = await copyAndD1(f);
      expect(copy).toEqual(d1);
    });
    expectProblem(await checkout(tb), 409, "team_at_ceiling");
  });

  it("a D1 error after a lazy wake: the write may have landed, so the next decision reads D1 (a named pool of 1 never gets 2)", async () => {
    const f = await newAccount();
    await putPool(f, "premium-named", 1);
    await putUsers(f, ["a", "b"]);
    await restart(f);
    await failNextWriteAfterCommit(f);
    expectProblem(await assignLicense(f, "a", "premium-named"), 503, "outcome_unknown");
    expectProblem(await assignLicense(f, "b", "premium-named"), 409, "named_pool_full");
    const { copy, d1 } = await copyAndD1(f);
    expect(copy).toEqual(d1);
    expect(copy.licenses).toEqual([["a", "premium-named"]]);
  });
});
