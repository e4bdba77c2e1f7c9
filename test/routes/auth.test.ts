import { env, exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { mintAgentToken } from "../../src/auth/agent-tokens";
import { agentToken, call, expectProblem, licensedUsers, newAccount, OPERATOR, putPool, stateOf, uniqueId, type Fixture, api, replyOf } from "../helpers";

/** docs/api.md#who-may-call: 401 for missing or bad credentials, 403 for the wrong kind, 404 for the wrong account. */

const acct = (f: Fixture, rest = "") => `/v1/accounts/${f.accountId}${rest}`;

describe("GET /healthz", () => {
  it("answers without credentials", async () => {
    const res = await call("GET", "/healthz");
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ ok: true });
  });
});

describe("401 unauthorized", () => {
  it("a missing credential is refused on every kind of route", async () => {
    const f = await newAccount();
    for (const [method, path, body] of [
      ["POST", "/v1/accounts", { name: "x" }],
      ["GET", acct(f)],
      ["GET", acct(f, "/pools")],
      ["PUT", acct(f, "/pools/elite-named"), { quantity: 1 }],
      ["POST", "/v1/seats/checkout", { session_id: "s1" }],
      ["GET", "/v1/me"],
    ] as const) {
      // A table of routes: through `call`, since the typed client spells out one route per call.
      const res = await call(method, path, null, body);
      expectProblem(res, 401, "unauthorized");
    }
  });

  it("malformed and unknown credentials are refused", async () => {
    const f = await newAccount();
    const unknownKey = `sk_${"A".repeat(43)}`;
    const realKeyTampered = f.key.slice(0, -1) + (f.key.endsWith("A") ? "B" : "A");
    const headers: Array<Record<string, string>> = [
      { authorization: "" },
      { authorization: "Bearer" },
      { authorization: "Bearer " },
      { authorization: `Basic ${btoa(`x:${f.key}`)}` },
      { authorization: f.key }, // no scheme
      { authorization: "Bearer sk_short" },
      { authorization: `Bearer ${unknownKey}` },
      { authorization: `Bearer ${realKeyTampered}` },
      { authorization: `Bearer ${f.key}x` },
      { authorization: `Bearer ${OPERATOR}x` },
      { authorization: "Bearer not-a-token" },
      { authorization: "Bearer a.b.c" },
    ];
    for (const h of headers) {
      const res = await exports.default.fetch(new Request(`http://seatkeeper.test${acct(f)}`, { headers: h }));
      const body = (await res.json()) as { code: string };
      expect({ header: h.authorization, status: res.status, code: body.code }).toEqual({ header: h.authorization, status: 401, code: "unauthorized" });
      expect(res.headers.get("content-type")).toMatch(/^application\/problem\+json/);
    }
  });

  it("agent tokens that are expired, forged or tampered are refused", async () => {
    const f = await newAccount();
    await putPool(f, "premium-concurrent", 2);
    const [u] = await licensedUsers(f, "premium-concurrent", 1);
    const now = Math.floor(Date.now() / 1000);
    const expired = await mintAgentToken(env, f.accountId, u, 0, now - 7200, 3600);
    const forged = await mintAgentToken({ OPERATOR_TOKEN: "some-other-deployment" }, f.accountId, u, 0, now, 3600);
    const good = await agentToken(f, u);
    const [h, p, s] = good.split(".");
    const tampered = `${h}.${p}.${s.slice(0, -2)}${s.endsWith("AA") ? "BB" : "AA"}`;
    const noneAlg = `${btoa(JSON.stringify({ alg: "none", typ: "JWT" })).replace(/=+$/, "")}.${p}.`;
    for (const token of [expired.token, forged.token, tampered, noneAlg]) {
      expectProblem(await replyOf(api(token).seats.checkout.$post({ json: { session_id: "s1" } })), 401, "unauthorized");
      expectProblem(await call("GET", "/v1/me", token), 401, "unauthorized");
    }
    // The real one works.
    expect((await call("GET", "/v1/me", good)).status).toBe(200);
  });

  it("a revoked key fails at once, and the account's other keys keep working", async () => {
    const f = await newAccount();
    const second = await replyOf(api(f.key).accounts[":account_id"]["api-keys"].$post({ param: { account_id: f.accountId }, json: { name: "ci" } }));
    expect(second.status).toBe(201);
    expect((await call("GET", acct(f), second.body.key)).status).toBe(200);

    const revoked = await call("DELETE", acct(f, `/api-keys/${second.body.id}`), f.key);
    expect(revoked.status).toBe(204);
    expectProblem(await call("GET", acct(f), second.body.key), 401, "unauthorized");
    expectProblem(await replyOf(api(second.body.key).accounts[":account_id"].pools[":pool_id"].$put({ param: { account_id: f.accountId, pool_id: "elite-named" }, json: { quantity: 1 } })), 401, "unauthorized");
    expect((await call("GET", acct(f), f.key)).status).toBe(200);
  });

  it("a key that revokes itself stops working with the next request", async () => {
    const f = await newAccount();
    expect((await call("DELETE", acct(f, `/api-keys/${f.keyId}`), f.key)).status).toBe(204);
    expectProblem(await call("GET", acct(f), f.key), 401, "unauthorized");
    expectProblem(await call("GET", acct(f, "/users"), f.key), 401, "unauthorized");
  });

  it("the operator's revocation takes effect at once too", async () => {
    const f = await newAccount();
    expect((await call("DELETE", acct(f, `/api-keys/${f.keyId}`), OPERATOR)).status).toBe(204);
    expectProblem(await call("GET", acct(f), f.key), 401, "unauthorized");
  });

  it("API keys are stored as SHA-256 only", async () => {
    const f = await newAccount();
    const row = await env.DB.prepare("SELECT * FROM api_keys WHERE id = ?").bind(f.keyId).first<Record<string, unknown>>();
    expect(row).not.toBeNull();
    const digest = [...new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(f.key)))]
      .map((b) => b.toString(16).padStart(2, "0"))
      .join("");
    expect(row!.key_hash).toBe(digest);
    expect(JSON.stringify(row)).not.toContain(f.key);
  });
});

describe("403 forbidden", () => {
  it("an admin key may not create accounts", async () => {
    const f = await newAccount();
    const id = uniqueId("acct");
    expectProblem(await replyOf(api(f.key).accounts.$post({ json: { id, name: "Sneaky" } })), 403, "forbidden");
    expectProblem(await call("GET", `/v1/accounts/${id}`, OPERATOR), 404, "not_found");
  });

  it("an agent token may not call admin routes, even of its own account, nor create accounts", async () => {
    const f = await newAccount();
    await putPool(f, "premium-concurrent", 2);
    const [u] = await licensedUsers(f, "premium-concurrent", 1);
    const token = await agentToken(f, u);
    const before = await stateOf(f);
    for (const [method, path, body] of [
      ["POST", "/v1/accounts", { name: "x" }],
      ["GET", acct(f)],
      ["PATCH", acct(f), { grace_seconds: 0 }],
      ["POST", acct(f, "/api-keys"), { name: "x" }],
      ["PUT", acct(f, "/pools/premium-concurrent"), { quantity: 50 }],
      ["GET", acct(f, "/pools")],
      ["GET", acct(f, "/users")],
      ["GET", acct(f, `/users/${u}`)],
      ["PUT", acct(f, `/users/${u}/license`), { pool: "premium-concurrent" }],
      ["DELETE", acct(f, `/users/${u}/license`)],
      ["POST", acct(f, `/users/${u}/agent-token`), {}],
      ["GET", acct(f, "/audit")],
    ] as const) {
      // A table of routes: through `call`, since the typed client spells out one route per call.
      const res = await call(method, path, token, body);
      expect({ route: `${method} ${path}`, status: res.status, code: res.body?.code }).toEqual({ route: `${method} ${path}`, status: 403, code: "forbidden" });
      expectProblem(res, 403, "forbidden");
    }
    expect(await stateOf(f)).toEqual(before);
  });

  it("an admin key or the operator token may not call the agent endpoints", async () => {
    const f = await newAccount();
    for (const token of [f.key, OPERATOR]) {
      expectProblem(await replyOf(api(token).seats.checkout.$post({ json: { session_id: "s1" } })), 403, "forbidden");
      expectProblem(await replyOf(api(token).seats.heartbeat.$post({ json: { session_id: "s1" } })), 403, "forbidden");
      expectProblem(await replyOf(api(token).seats.release.$post({ json: { session_id: "s1" } })), 403, "forbidden");
      expectProblem(await call("GET", "/v1/me", token), 403, "forbidden");
    }
  });
});

describe("tenancy: a key of account A sees nothing of account B", () => {
  it("gets 404 not_found on every route of account B, and B is unchanged", async () => {
    const a = await newAccount();
    const b = await newAccount();
    await putPool(b, "elite-named", 3);
    await putPool(b, "premium-concurrent", 3);
    const [b0] = await licensedUsers(b, "elite-named", 1, "bee");
    await replyOf(api(b.key).accounts[":account_id"].users[":user_id"].$put({ param: { account_id: b.accountId, user_id: "bee-free" }, json: {} }));
    const before = await stateOf(b);

    const routes: Array<[string, string, unknown?]> = [
      ["GET", acct(b)],
      ["PATCH", acct(b), { name: "hijacked", grace_seconds: 0 }],
      ["POST", acct(b, "/api-keys"), { name: "mine now" }],
      ["DELETE", acct(b, `/api-keys/${b.keyId}`)],
      ["PUT", acct(b, "/pools/elite-named"), { quantity: 100 }],
      ["PUT", acct(b, "/pools/essentials-named"), { quantity: 100 }],
      ["GET", acct(b, "/pools")],
      ["GET", acct(b, "/pools/elite-named/seats")],
      ["DELETE", acct(b, `/pools/elite-named/seats/${b0}`)],
      ["GET", acct(b, "/pools/elite-named/usage")],
      ["GET", acct(b, "/users")],
      ["PUT", acct(b, "/users/new-user"), {}],
      ["PUT", acct(b, `/users/${b0}`), { display_name: "hijacked" }],
      ["GET", acct(b, `/users/${b0}`)],
      ["DELETE", acct(b, `/users/${b0}`)],
      ["PUT", acct(b, "/users/bee-free/license"), { pool: "elite-named" }],
      ["DELETE", acct(b, `/users/${b0}/license`)],
      ["POST", acct(b, "/licenses:batch"), { assign: [{ user_id: "bee-free", pool: "elite-named" }], revoke: [b0] }],
      ["GET", acct(b, "/audit")],
      ["GET", acct(b, "/overages")],
      ["POST", acct(b, `/users/${b0}/agent-token`), {}],
    ];
    for (const [method, path, body] of routes) {
      // A table of routes: through `call`, since the typed client spells out one route per call.
      const res = await call(method, path, a.key, body);
      expect({ route: `${method} ${path}`, status: res.status, code: res.body?.code }).toEqual({
        route: `${method} ${path}`,
        status: 404,
        code: "not_found",
      });
      expectProblem(res, 404, "not_found");
    }
    expect(await stateOf(b)).toEqual(before);
    // B's own key still works (A could not revoke it).
    expect((await call("GET", acct(b), b.key)).status).toBe(200);
    // Nothing leaked into A either.
    expect((await call("GET", acct(a, "/pools"), a.key)).body.items).toEqual([]);
    expect((await call("GET", acct(a, "/users"), a.key)).body.items).toEqual([]);
  });

  it("another tenant's account answers exactly like an account that does not exist", async () => {
    const a = await newAccount();
    const b = await newAccount();
    const ghost = uniqueId("ghost");
    const other = await call("GET", `/v1/accounts/${b.accountId}/users`, a.key);
    const missing = await call("GET", `/v1/accounts/${ghost}/users`, a.key);
    expectProblem(other, 404, "not_found");
    expectProblem(missing, 404, "not_found");
    expect(other.body.title).toBe(missing.body.title);
    expect(other.body.type).toBe(missing.body.type);
  });

  it("the operator may act on every account", async () => {
    const a = await newAccount();
    const b = await newAccount();
    for (const f of [a, b]) {
      expect((await call("GET", acct(f), OPERATOR)).status).toBe(200);
      expect((await replyOf(api(OPERATOR).accounts[":account_id"].pools[":pool_id"].$put({ param: { account_id: f.accountId, pool_id: "elite-named" }, json: { quantity: 1 } }))).status).toBe(200);
      expect((await call("GET", acct(f, "/audit"), OPERATOR)).status).toBe(200);
    }
  });
});
