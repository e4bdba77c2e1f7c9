/**
 * Agent tokens belong to the user they were minted for and can be revoked (docs/api.md#who-may-call,
 * decision 021): revoking or deleting the user ends every token minted before, everywhere,
 * /v1/me included; a user created again with the same id never accepts the old tokens; minting
 * and revoking are audited, never with the token.
 */
import { runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { AccountSeats } from "../../src/seats/account-seats";
import { agentToken, auditOf, call, expectProblem, licensedUsers, newAccount, putPool, putUsers, seatsStub, type Fixture, api, replyOf } from "../helpers";

const acct = (f: Fixture, rest = "") => `/v1/accounts/${f.accountId}${rest}`;
const revoke = (f: Fixture, userId: string, token = f.key) => call("POST", acct(f, `/users/${userId}/agent-tokens:revoke`), token);
const checkout = (token: string, session_id = "s1") => replyOf(api(token).seats.checkout.$post({ json: { session_id } }));

/** Every agent call answers 401 `unauthorized` with this token. */
async function expectRefusedEverywhere(token: string) {
  expectProblem(await call("GET", "/v1/me", token), 401, "unauthorized");
  expectProblem(await checkout(token), 401, "unauthorized");
  expectProblem(await replyOf(api(token).seats.heartbeat.$post({ json: { session_id: "s1" } })), 401, "unauthorized");
  expectProblem(await replyOf(api(token).seats.release.$post({ json: { session_id: "s1" } })), 401, "unauthorized");
}

describe("revoking a user's agent tokens", () => {
  it("every token minted before gets 401 everywhere; a token minted after works", async () => {
    const f = await newAccount();
    await putPool(f, "premium-concurrent", 5);
    const [u] = await licensedUsers(f, "premium-concurrent", 1);
    const first = await agentToken(f, u);
    const second = await agentToken(f, u);
    expect((await checkout(first)).status).toBe(200);
    expect((await call("GET", "/v1/me", second)).status).toBe(200);

    const res = await revoke(f, u);
    expect(res.status).toBe(204);
    await expectRefusedEverywhere(first);
    await expectRefusedEverywhere(second);

    const fresh = await agentToken(f, u);
    expect((await call("GET", "/v1/me", fresh)).status).toBe(200);
    expect((await checkout(fresh)).status).toBe(200);
  });

  it("ends the user's sessions: the seat is free at once", async () => {
    const f = await newAccount();
    await putPool(f, "premium-concurrent", 5);
    const [u, other] = await licensedUsers(f, "premium-concurrent", 2);
    await checkout(await agentToken(f, u));
    await checkout(await agentToken(f, other));
    expect((await call("GET", acct(f, "/pools/premium-concurrent/seats"), f.key)).body.active).toBe(2);
    await revoke(f, u);
    const seats = await call("GET", acct(f, "/pools/premium-concurrent/seats"), f.key);
    expect(seats.body.active).toBe(1);
    expect(seats.body.items.map((i: { user_id: string }) => i.user_id)).toEqual([other]);
  });

  it("is per user: another user's tokens keep working", async () => {
    const f = await newAccount();
    await putPool(f, "premium-concurrent", 5);
    const [u, other] = await licensedUsers(f, "premium-concurrent", 2);
    const otherToken = await agentToken(f, other);
    await revoke(f, u);
    expect((await checkout(otherToken)).status).toBe(200);
    expect((await call("GET", "/v1/me", otherToken)).status).toBe(200);
  });

  it("holds after the account's object restarts (kept in its storage)", async () => {
    const f = await newAccount();
    await putPool(f, "premium-concurrent", 5);
    const [u] = await licensedUsers(f, "premium-concurrent", 1);
    const old = await agentToken(f, u);
    await revoke(f, u);
    await runInDurableObject(seatsStub(f), (_i, state) => state.abort("restart")).catch(() => undefined);
    expectProblem(await call("GET", "/v1/me", old), 401, "unauthorized");
    expect((await call("GET", "/v1/me", await agentToken(f, u))).status).toBe(200);
  });

  it("is admin only, for a user of the account; an unknown user is 404 and changes nothing", async () => {
    const f = await newAccount();
    const other = await newAccount();
    await putPool(f, "premium-concurrent", 5);
    const [u] = await licensedUsers(f, "premium-concurrent", 1);
    const token = await agentToken(f, u);
    expectProblem(await revoke(f, u, token), 403, "forbidden");
    expectProblem(await revoke(f, u, other.key), 404, "not_found");
    expectProblem(await revoke(f, "nobody"), 404, "not_found");
    expect((await call("GET", "/v1/me", token)).status).toBe(200);
  });

  it("is audited with the new generation", async () => {
    const f = await newAccount();
    const u = "u1";
    await putUsers(f, [u]);
    await revoke(f, u);
    const [entry] = (await auditOf(f)).filter((e) => e.action === "agent_token.revoke");
    expect(entry).toMatchObject({ target: u, actor: expect.stringMatching(/^api_key:/), detail: { generation: 1 } });
  });
});

describe("deleting a user", () => {
  it("ends every token minted for them: 401 on /v1/me and the seat endpoints", async () => {
    const f = await newAccount();
    await putPool(f, "premium-concurrent", 5);
    const [u] = await licensedUsers(f, "premium-concurrent", 1);
    const token = await agentToken(f, u);
    expect((await checkout(token)).status).toBe(200);
    expect((await call("DELETE", acct(f, `/users/${u}`), f.key)).status).toBe(204);
    await expectRefusedEverywhere(token);
  });

  it("a user created again with the same id and licensed does not accept the old tokens", async () => {
    const f = await newAccount();
    await putPool(f, "premium-named", 1);
    const [u] = await licensedUsers(f, "premium-named", 1);
    const old = await agentToken(f, u);
    await call("DELETE", acct(f, `/users/${u}`), f.key);
    await putUsers(f, [u]);
    expect((await replyOf(api(f.key).accounts[":account_id"].users[":user_id"].license.$put({ param: { account_id: f.accountId, user_id: u }, json: { pool: "premium-named" } }))).status).toBe(200);
    await expectRefusedEverywhere(old);
    const fresh = await agentToken(f, u);
    expect((await checkout(fresh)).status).toBe(200);
  });

  it("the old tokens stay refused after the object restarts (the user's D1 row is gone, the object kept the generation)", async () => {
    const f = await newAccount();
    await putPool(f, "premium-named", 1);
    const [u] = await licensedUsers(f, "premium-named", 1);
    const old = await agentToken(f, u);
    await call("DELETE", acct(f, `/users/${u}`), f.key);
    await putUsers(f, [u]);
    await replyOf(api(f.key).accounts[":account_id"].users[":user_id"].license.$put({ param: { account_id: f.accountId, user_id: u }, json: { pool: "premium-named" } }));
    await runInDurableObject(seatsStub(f), (_i, state) => state.abort("restart")).catch(() => undefined);
    expectProblem(await checkout(old), 401, "unauthorized");
  });
});

describe("minting", () => {
  it("is audited: agent_token.mint with the actor, the user and the ttl, never the token", async () => {
    const f = await newAccount();
    await putUsers(f, ["u1"]);
    const res = await replyOf(api(f.key).accounts[":account_id"].users[":user_id"]["agent-token"].$post({ param: { account_id: f.accountId, user_id: "u1" }, json: { ttl_seconds: 3600 } }));
    expect(res.status).toBe(201);
    const entries = (await auditOf(f)).filter((e) => e.action === "agent_token.mint");
    expect(entries).toHaveLength(1);
    expect(entries[0]).toMatchObject({ target: "u1", actor: expect.stringMatching(/^api_key:/), detail: { ttl_seconds: 3600 } });
    const everything = JSON.stringify(await auditOf(f));
    expect(everything).not.toContain(res.body.token);
    expect(everything).not.toContain(res.body.token.split(".")[2]);
  });

  it("for an unknown user is 404 and audits nothing", async () => {
    const f = await newAccount();
    expectProblem(await replyOf(api(f.key).accounts[":account_id"].users[":user_id"]["agent-token"].$post({ param: { account_id: f.accountId, user_id: "nobody" }, json: {} })), 404, "not_found");
    expect((await auditOf(f)).filter((e) => e.action === "agent_token.mint")).toEqual([]);
  });

  it("the object answers from memory: no D1 read on the agent's hot path", async () => {
    const f = await newAccount();
    await putPool(f, "premium-concurrent", 5);
    const [u] = await licensedUsers(f, "premium-concurrent", 1);
    const token = await agentToken(f, u);
    expect((await checkout(token)).status).toBe(200);
    // With every way the object reaches D1 broken, the agent calls still answer.
    await runInDurableObject<AccountSeats, void>(seatsStub(f), (instance) => {
      const broken = new Proxy({}, { get: () => { throw new Error("D1 touched on the hot path"); } });
      const inside = instance as unknown as { db: unknown; env: { DB: unknown } };
      inside.db = broken;
      inside.env.DB = broken;
    });
    expect((await checkout(token)).status).toBe(200);
    expect((await replyOf(api(token).seats.heartbeat.$post({ json: { session_id: "s1" } }))).status).toBe(200);
    expect((await call("GET", "/v1/me", token)).status).toBe(200);
    // The sabotage is real: a call that does read D1 (an admin write checks the user there) fails.
    expect((await replyOf(api(f.key).accounts[":account_id"].users[":user_id"].license.$put({ param: { account_id: f.accountId, user_id: u }, json: { pool: "premium-concurrent" } }))).status).toBe(500);
    await runInDurableObject(seatsStub(f), (_i, state) => state.abort("restore")).catch(() => undefined);
  });
});
