/**
 * Teams over HTTP (docs/licensing.md#teams): users' teams (PUT user, the team batch, search), team
 * caps and reservations per pool (PUT, list, read, delete, the 400s), and the checkout enforcing
 * them from the object's memory.
 */
import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { AccountSeats } from "../../src/seats/account-seats";
import { agentTokens, api, auditOf, call, checkout, expectProblem, licensedUsers, newAccount, putPool, release, replyOf, seatsStub, stateOf, type Fixture } from "../helpers";

const acct = (f: Fixture, rest = "") => `/v1/accounts/${f.accountId}${rest}`;
const teamPath = (f: Fixture, pool: string, team = "") => acct(f, `/pools/${pool}/teams${team ? `/${team}` : ""}`);

async function setTeams(f: Fixture, items: { user_id: string; team: string | null }[]) {
  const res = await replyOf(api(f.key).accounts[":account_id"].users["teams:batch"].$post({ param: { account_id: f.accountId }, json: { items } }));
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body;
}

describe("a user's team", () => {
  it("is set by PUT user, kept when omitted, cleared by null, shown in views and searched by team=", async () => {
    const f = await newAccount();
    let res = await replyOf(api(f.key).accounts[":account_id"].users[":user_id"].$put({ param: { account_id: f.accountId, user_id: "ada" }, json: { display_name: "Ada", team: "billing" } }));
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ id: "ada", display_name: "Ada", team: "billing" });
    await replyOf(api(f.key).accounts[":account_id"].users[":user_id"].$put({ param: { account_id: f.accountId, user_id: "bob" }, json: { team: "sales" } }));
    await replyOf(api(f.key).accounts[":account_id"].users[":user_id"].$put({ param: { account_id: f.accountId, user_id: "cy" }, json: {} }));
    res = await replyOf(api(f.key).accounts[":account_id"].users[":user_id"].$put({ param: { account_id: f.accountId, user_id: "ada" }, json: { display_name: "Ada L." } }));
    expect(res.body.team).toBe("billing");
    expect((await call("GET", acct(f, "/users/ada"), f.key)).body.team).toBe("billing");
    expect((await call("GET", acct(f, "/users?team=billing"), f.key)).body.items.map((u: { id: string }) => u.id)).toEqual(["ada"]);
    expect((await call("GET", acct(f, "/users?team=billing&q=ad"), f.key)).body.items.map((u: { id: string }) => u.id)).toEqual(["ada"]);
    expect((await call("GET", acct(f, "/users?team=nobody"), f.key)).body.items).toEqual([]);
    res = await replyOf(api(f.key).accounts[":account_id"].users[":user_id"].$put({ param: { account_id: f.accountId, user_id: "ada" }, json: { team: null } }));
    expect(res.body.team).toBeNull();
    expect((await call("GET", acct(f, "/users?team=billing"), f.key)).body.items).toEqual([]);
    const audit = await auditOf(f);
    expect(audit.filter((a) => a.action === "user.team").map((a) => [a.target, a.detail.team])).toEqual([
      ["ada", null],
      ["bob", "sales"],
      ["ada", "billing"],
    ]);
  });

  it("a malformed team is 400 and changes nothing", async () => {
    const f = await newAccount();
    await replyOf(api(f.key).accounts[":account_id"].users[":user_id"].$put({ param: { account_id: f.accountId, user_id: "ada" }, json: { team: "billing" } }));
    const before = await stateOf(f);
    for (const team of ["", "a b", "x".repeat(65), "é", 7]) {
      // Malformed on purpose: through `call`, since the typed client would not compile this body.
      expectProblem(await call("PUT", acct(f, "/users/ada"), f.key, { display_name: "changed", team }), 400, "invalid_request");
    }
    expectProblem(await call("GET", acct(f, "/users?team=a%20b"), f.key), 400, "invalid_request");
    expect(await stateOf(f)).toEqual(before);
  });

  it("the team batch sets many at once, all or nothing", async () => {
    const f = await newAccount();
    await putPool(f, "elite-concurrent", 3);
    await licensedUsers(f, "elite-concurrent", 3);
    expect(await setTeams(f, [{ user_id: "agent-0", team: "a" }, { user_id: "agent-1", team: "b" }])).toEqual({ updated: 2 });
    // Unchanged users are not counted (nor audited).
    expect(await setTeams(f, [{ user_id: "agent-0", team: "a" }, { user_id: "agent-1", team: null }])).toEqual({ updated: 1 });
    const before = await stateOf(f);
    expectProblem(await replyOf(api(f.key).accounts[":account_id"].users["teams:batch"].$post({ param: { account_id: f.accountId }, json: { items: [{ user_id: "agent-2", team: "c" }, { user_id: "ghost", team: "c" }] } })), 404, "not_found");
    expectProblem(await replyOf(api(f.key).accounts[":account_id"].users["teams:batch"].$post({ param: { account_id: f.accountId }, json: { items: [{ user_id: "agent-2", team: "c" }, { user_id: "agent-2", team: "d" }] } })), 400, "invalid_request");
    expectProblem(await replyOf(api(f.key).accounts[":account_id"].users["teams:batch"].$post({ param: { account_id: f.accountId }, json: { items: [] } })), 400, "invalid_request");
    expectProblem(await replyOf(api(f.key).accounts[":account_id"].users["teams:batch"].$post({ param: { account_id: f.accountId }, json: { items: Array.from({ length: 1001 }, (_, i) => ({ user_id: `u${i}`, team: "x" })) } })), 400, "invalid_request");
    expect(await stateOf(f)).toEqual(before);
    expect(before.users.map((u: { id: string; team: string | null }) => [u.id, u.team])).toEqual([
      ["agent-0", "a"],
      ["agent-1", null],
      ["agent-2", null],
    ]);
  });
});

describe("PUT/GET/DELETE …/pools/{pool_id}/teams/{team}", () => {
  it("sets, lists, reads and deletes a team's cap and reservation, audited", async () => {
    const f = await newAccount();
    await putPool(f, "elite-concurrent", 10, 12);
    let res = await replyOf(api(f.key).accounts[":account_id"].pools[":pool_id"].teams[":team"].$put({ param: { account_id: f.accountId, pool_id: "elite-concurrent", team: "billing" }, json: { reserve: 3 } }));
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ team: "billing", max_active: null, reserve: 3, active: 0, unused_reserve: 3 });
    // Omitted fields keep their value.
    res = await replyOf(api(f.key).accounts[":account_id"].pools[":pool_id"].teams[":team"].$put({ param: { account_id: f.accountId, pool_id: "elite-concurrent", team: "billing" }, json: { max_active: 5 } }));
    expect(res.body).toEqual({ team: "billing", max_active: 5, reserve: 3, active: 0, unused_reserve: 3 });
    await replyOf(api(f.key).accounts[":account_id"].pools[":pool_id"].teams[":team"].$put({ param: { account_id: f.accountId, pool_id: "elite-concurrent", team: "collections" }, json: { max_active: 4 } }));
    expect((await call("GET", teamPath(f, "elite-concurrent"), f.key)).body.items.map((t: { team: string }) => t.team)).toEqual(["billing", "collections"]);
    expect((await call("GET", teamPath(f, "elite-concurrent", "collections"), f.key)).body).toEqual({ team: "collections", max_active: 4, reserve: 0, active: 0, unused_reserve: 0 });
    expect((await replyOf(api(f.key).accounts[":account_id"].pools[":pool_id"].teams[":team"].$delete({ param: { account_id: f.accountId, pool_id: "elite-concurrent", team: "collections" } }))).status).toBe(204);
    expectProblem(await call("GET", teamPath(f, "elite-concurrent", "collections"), f.key), 404, "not_found");
    // Deleting what is not there is done already.
    expect((await replyOf(api(f.key).accounts[":account_id"].pools[":pool_id"].teams[":team"].$delete({ param: { account_id: f.accountId, pool_id: "elite-concurrent", team: "collections" } }))).status).toBe(204);
    const audit = await auditOf(f);
    expect(audit.filter((a) => a.action.startsWith("pool_team.")).map((a) => a.action)).toEqual(["pool_team.delete", "pool_team.create", "pool_team.update", "pool_team.create"]);
    expect(audit[0]).toMatchObject({ target: "elite-concurrent/collections", detail: { pool: "elite-concurrent", team: "collections", max_active: 4, reserve: 0 } });
  });

  it("refuses what contradicts the pool with 400, and changes nothing", async () => {
    const f = await newAccount();
    await putPool(f, "elite-concurrent", 10, 10);
    await putPool(f, "premium-concurrent", 10);
    await putPool(f, "elite-named", 10);
    await replyOf(api(f.key).accounts[":account_id"].pools[":pool_id"].teams[":team"].$put({ param: { account_id: f.accountId, pool_id: "elite-concurrent", team: "billing" }, json: { reserve: 6 } }));
    const before = await stateOf(f);
    const cases: [string, unknown, string][] = [
      [teamPath(f, "elite-concurrent", "sales"), { reserve: 5 }, "reserve"], // 6 + 5 > 10
      [teamPath(f, "elite-concurrent", "sales"), { max_active: 2, reserve: 3 }, "reserve"],
      [teamPath(f, "premium-concurrent", "sales"), { reserve: 1 }, "reserve"], // no ceiling
      [teamPath(f, "elite-named", "sales"), { max_active: 3 }, "pool_id"],
      [teamPath(f, "elite-concurrent", "sales"), { reserve: -1 }, "reserve"],
      [teamPath(f, "elite-concurrent", "sales"), { max_active: 1.5 }, "max_active"],
      [teamPath(f, "elite-concurrent", "bad%20name"), { max_active: 1 }, "team"],
    ];
    for (const [path, payload, field] of cases) {
      // A table of routes and bodies (a team name outside the pattern among them) on purpose: through `call`.
      const res = await call("PUT", path, f.key, payload);
      expectProblem(res, 400, "invalid_request");
      expect(res.body.errors.map((e: { path: string }) => e.path).join(" "), `${path} ${JSON.stringify(payload)}`).toContain(field);
    }
    // The pool's ceiling may not go below its reserves, nor away while they exist.
    expectProblem(await replyOf(api(f.key).accounts[":account_id"].pools[":pool_id"].$put({ param: { account_id: f.accountId, pool_id: "elite-concurrent" }, json: { quantity: 10, max_active: 5 } })), 400, "invalid_request");
    expectProblem(await replyOf(api(f.key).accounts[":account_id"].pools[":pool_id"].$put({ param: { account_id: f.accountId, pool_id: "elite-concurrent" }, json: { quantity: 10, max_active: null } })), 400, "invalid_request");
    expectProblem(await replyOf(api(f.key).accounts[":account_id"].pools[":pool_id"].teams[":team"].$put({ param: { account_id: f.accountId, pool_id: "essentials-concurrent", team: "sales" }, json: { max_active: 1 } })), 404, "not_found");
    expectProblem(await call("GET", teamPath(f, "essentials-concurrent"), f.key), 404, "not_found");
    expect(await stateOf(f)).toEqual(before);
    // A team cap alone needs no ceiling; a ceiling at the reserves' sum is fine.
    expect((await replyOf(api(f.key).accounts[":account_id"].pools[":pool_id"].teams[":team"].$put({ param: { account_id: f.accountId, pool_id: "premium-concurrent", team: "sales" }, json: { max_active: 3 } }))).status).toBe(200);
    expect((await replyOf(api(f.key).accounts[":account_id"].pools[":pool_id"].$put({ param: { account_id: f.accountId, pool_id: "elite-concurrent" }, json: { quantity: 10, max_active: 6 } }))).status).toBe(200);
  });
});

describe("checkout with teams", () => {
  it("refuses a member at the team's cap (team_at_ceiling) and an outsider on a reserved seat (pool_at_ceiling), from memory", async () => {
    const f = await newAccount();
    await putPool(f, "elite-concurrent", 10, 4);
    const users = await licensedUsers(f, "elite-concurrent", 7);
    await setTeams(f, [
      { user_id: "agent-0", team: "billing" },
      { user_id: "agent-1", team: "billing" },
      { user_id: "agent-2", team: "sales" },
      { user_id: "agent-3", team: "sales" },
    ]);
    await replyOf(api(f.key).accounts[":account_id"].pools[":pool_id"].teams[":team"].$put({ param: { account_id: f.accountId, pool_id: "elite-concurrent", team: "billing" }, json: { reserve: 2 } }));
    await replyOf(api(f.key).accounts[":account_id"].pools[":pool_id"].teams[":team"].$put({ param: { account_id: f.accountId, pool_id: "elite-concurrent", team: "sales" }, json: { max_active: 1 } }));
    const [b0, b1, s2, s3, n4, n5, n6] = await agentTokens(f, users);
    expect((await checkout(s2)).status).toBe(200);
    const capped = await checkout(s3);
    expectProblem(capped, 409, "team_at_ceiling");
    expect(capped.body).toMatchObject({ team: "sales", team_max_active: 1, team_active: 1 });
    // 1 in use + 2 reserved for billing < 4.
    expect((await checkout(n4)).status).toBe(200);
    // 2 in use + 2 reserved = 4: outsiders wait, billing does not.
    const outsider = await checkout(n5);
    expectProblem(outsider, 409, "pool_at_ceiling");
    expect(outsider.body).toMatchObject({ reserved: 2, active: 2, max_active: 4 });
    expect((await checkout(b0)).status).toBe(200);
    // 3 in use + 1 still reserved = 4.
    expectProblem(await checkout(n6), 409, "pool_at_ceiling");
    expect((await checkout(b1)).status).toBe(200);
    // A second session of a holder takes no seat and is never refused.
    expect((await checkout(b1, "desk-2")).status).toBe(200);
    // The team cap comes first, even at the pool's ceiling.
    await release(s2);
    expect((await checkout(n5)).status).toBe(200);
    expectProblem(await checkout(n6), 409, "pool_at_ceiling");
    const pool = (await call("GET", teamPath(f, "elite-concurrent", "billing"), f.key)).body;
    expect(pool).toEqual({ team: "billing", max_active: null, reserve: 2, active: 2, unused_reserve: 0 });
  });

  it("a team change applies to the next checkout, and to a held seat's count", async () => {
    const f = await newAccount();
    await putPool(f, "premium-concurrent", 10);
    const users = await licensedUsers(f, "premium-concurrent", 2);
    await replyOf(api(f.key).accounts[":account_id"].pools[":pool_id"].teams[":team"].$put({ param: { account_id: f.accountId, pool_id: "premium-concurrent", team: "night" }, json: { max_active: 1 } }));
    const [t0, t1] = await agentTokens(f, users);
    expect((await checkout(t0)).status).toBe(200);
    await setTeams(f, [{ user_id: "agent-0", team: "night" }, { user_id: "agent-1", team: "night" }]);
    expect((await call("GET", teamPath(f, "premium-concurrent", "night"), f.key)).body.active).toBe(1);
    expectProblem(await checkout(t1), 409, "team_at_ceiling");
    await replyOf(api(f.key).accounts[":account_id"].users[":user_id"].$put({ param: { account_id: f.accountId, user_id: "agent-0" }, json: { team: null } }));
    expect((await checkout(t1)).status).toBe(200);
  });
});

describe("teams in the object's roster copy", () => {
  const copyOf = (f: Fixture) =>
    runInDurableObject<AccountSeats, { teams: unknown[][]; limits: unknown[][] }>(seatsStub(f), (_i, state) => ({
      teams: [...state.storage.sql.exec("SELECT user_id, team FROM roster_teams ORDER BY user_id").raw()],
      limits: [...state.storage.sql.exec("SELECT pool_id, team, max_active, reserve FROM roster_team_limits ORDER BY pool_id, team").raw()],
    }));
  const d1Of = async (f: Fixture) => ({
    teams: await env.DB.prepare("SELECT id, team FROM users WHERE account_id = ? AND team IS NOT NULL ORDER BY id").bind(f.accountId).raw(),
    limits: await env.DB.prepare("SELECT pool_id, team, max_active, reserve FROM pool_teams WHERE account_id = ? ORDER BY pool_id, team").bind(f.accountId).raw(),
  });

  it("equals D1 after every team write, and a woken object decides from it", async () => {
    const f = await newAccount();
    await putPool(f, "elite-concurrent", 10, 6);
    const users = await licensedUsers(f, "elite-concurrent", 3);
    await setTeams(f, [{ user_id: "agent-0", team: "a" }, { user_id: "agent-1", team: "a" }, { user_id: "agent-2", team: "b" }]);
    await replyOf(api(f.key).accounts[":account_id"].users[":user_id"].$put({ param: { account_id: f.accountId, user_id: "agent-2" }, json: { team: null } }));
    await replyOf(api(f.key).accounts[":account_id"].pools[":pool_id"].teams[":team"].$put({ param: { account_id: f.accountId, pool_id: "elite-concurrent", team: "a" }, json: { max_active: 1, reserve: 1 } }));
    await replyOf(api(f.key).accounts[":account_id"].pools[":pool_id"].teams[":team"].$put({ param: { account_id: f.accountId, pool_id: "elite-concurrent", team: "b" }, json: { reserve: 2 } }));
    await replyOf(api(f.key).accounts[":account_id"].pools[":pool_id"].teams[":team"].$delete({ param: { account_id: f.accountId, pool_id: "elite-concurrent", team: "b" } }));
    await replyOf(api(f.key).accounts[":account_id"].users[":user_id"].$delete({ param: { account_id: f.accountId, user_id: "agent-1" } }));
    expect(await copyOf(f)).toEqual(await d1Of(f));
    expect(await copyOf(f)).toEqual({ teams: [["agent-0", "a"]], limits: [["elite-concurrent", "a", 1, 1]] });

    await setTeams(f, [{ user_id: "agent-2", team: "a" }]);
    const [t0, t2] = await agentTokens(f, [users[0], users[2]]);
    await runInDurableObject(seatsStub(f), (_i, state) => state.abort("restart")).catch(() => undefined);
    expect((await checkout(t0)).status).toBe(200);
    expectProblem(await checkout(t2), 409, "team_at_ceiling");
  });
});
