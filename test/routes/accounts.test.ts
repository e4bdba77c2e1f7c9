import { describe, expect, it } from "vitest";
import { auditOf, call, expectProblem, newAccount, OPERATOR, stateOf, uniqueId, type Fixture, type Reply, api, replyOf } from "../helpers";

/** Accounts (create, get, patch with range checks), API keys, the audit list. */

const acct = (f: Fixture, rest = "") => `/v1/accounts/${f.accountId}${rest}`;
const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

describe("POST /v1/accounts", () => {
  it("creates an account with the given settings, audited", async () => {
    const id = uniqueId("acme");
    const res = await replyOf(api(OPERATOR).accounts.$post({ json: { id, name: "Acme", billing_day: 15, grace_seconds: 600, lease_ttl_seconds: 60 } }));
    expect(res.status).toBe(201);
    expect(res.headers.get("content-type")).toMatch(/^application\/json/);
    expect(res.body).toMatchObject({ id, name: "Acme", billing_day: 15, grace_seconds: 600, lease_ttl_seconds: 60 });
    expect(res.body.created_at).toMatch(ISO);
    const got = await call("GET", `/v1/accounts/${id}`, OPERATOR);
    expect(got.status).toBe(200);
    expect(got.body).toEqual(res.body);
    const key = await replyOf(api(OPERATOR).accounts[":account_id"]["api-keys"].$post({ param: { account_id: id }, json: {} }));
    const audit = await auditOf({ accountId: id, key: key.body.key, keyId: key.body.id });
    expect(audit.filter((e) => e.action === "account.create")).toEqual([
      expect.objectContaining({ actor: "operator", action: "account.create", target: id }),
    ]);
  });

  it("applies the documented defaults", async () => {
    const id = uniqueId("acme");
    const res = await replyOf(api(OPERATOR).accounts.$post({ json: { id, name: "Defaults" } }));
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ id, name: "Defaults", billing_day: 1, grace_seconds: 1800, lease_ttl_seconds: 120 });
  });

  it("makes up an id when none is given", async () => {
    const res = await replyOf(api(OPERATOR).accounts.$post({ json: { name: "No id" } }));
    expect(res.status).toBe(201);
    expect(res.body.id).toMatch(/^[A-Za-z0-9][A-Za-z0-9._@-]{0,127}$/);
    expect((await call("GET", `/v1/accounts/${res.body.id}`, OPERATOR)).body.name).toBe("No id");
  });

  it("accepts a 128-character id", async () => {
    const id = `a${uniqueId("x")}`.padEnd(128, "z");
    const res = await replyOf(api(OPERATOR).accounts.$post({ json: { id, name: "Long" } }));
    expect(res.status).toBe(201);
    expect(res.body.id).toBe(id);
  });

  it("refuses a taken id with 409 already_exists and changes nothing", async () => {
    const f = await newAccount();
    const before = await stateOf(f);
    const res = await replyOf(api(OPERATOR).accounts.$post({ json: { id: f.accountId, name: "Impostor", grace_seconds: 0 } }));
    expectProblem(res, 409, "already_exists");
    expect(await stateOf(f)).toEqual(before);
    expect(before.account.name).not.toBe("Impostor");
  });

  it("refuses invalid input with 400 invalid_request and creates nothing", async () => {
    const cases: Array<Record<string, unknown>> = [
      {},
      { name: "" },
      { name: "   " },
      { name: 42 },
      { name: "x".repeat(201) },
      { name: "ok", id: "a".repeat(129) },
      { name: "ok", id: "" },
      { name: "ok", id: "-leading-dash" },
      { name: "ok", id: "has space" },
      { name: "ok", id: "slash/inside" },
      { name: "ok", id: "ümlaut" },
      { name: "ok", id: 12345 },
      { name: "ok", billing_day: 0 },
      { name: "ok", billing_day: 29 },
      { name: "ok", billing_day: 1.5 },
      { name: "ok", grace_seconds: -1 },
      { name: "ok", grace_seconds: 86_401 },
      { name: "ok", lease_ttl_seconds: 4 },
      { name: "ok", lease_ttl_seconds: 3_601 },
      { name: "ok", lease_ttl_seconds: "60" },
    ];
    for (const input of cases) {
      const id = typeof input.id === "string" || typeof input.id === "number" ? input.id : uniqueId("bad");
      // Malformed on purpose: through `call`, since the typed client would not compile this body.
      const res = await call("POST", "/v1/accounts", OPERATOR, { ...input, id });
      expect({ input, status: res.status }).toEqual({ input, status: 400 });
      expectProblem(res, 400, "invalid_request");
      if (typeof id === "string" && /^[A-Za-z0-9][A-Za-z0-9._@-]{0,127}$/.test(id)) {
        expectProblem(await call("GET", `/v1/accounts/${id}`, OPERATOR), 404, "not_found");
      }
    }
  });
});

describe("GET /v1/accounts/{account_id}", () => {
  it("answers the account to its admin", async () => {
    const f = await newAccount({ billing_day: 7 });
    const res = await call("GET", acct(f), f.key);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ id: f.accountId, name: `Test ${f.accountId}`, billing_day: 7, grace_seconds: 1800, lease_ttl_seconds: 120 });
    expect(res.body.created_at).toMatch(ISO);
  });

  it("is 404 for an account that does not exist, even for the operator", async () => {
    expectProblem(await call("GET", `/v1/accounts/${uniqueId("ghost")}`, OPERATOR), 404, "not_found");
  });
});

describe("PATCH /v1/accounts/{account_id}", () => {
  it("changes settings and name, audited as account.update by the key", async () => {
    const f = await newAccount();
    const res = await replyOf(api(f.key).accounts[":account_id"].$patch({ param: { account_id: f.accountId }, json: { name: "Renamed", billing_day: 28, grace_seconds: 0, lease_ttl_seconds: 3600 } }));
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ id: f.accountId, name: "Renamed", billing_day: 28, grace_seconds: 0, lease_ttl_seconds: 3600 });
    expect((await call("GET", acct(f), f.key)).body).toEqual(res.body);
    const [last] = await auditOf(f);
    expect(last).toMatchObject({ action: "account.update", target: f.accountId, actor: `api_key:${f.keyId}` });
    expect(last.detail).toMatchObject({ billing_day: 28, grace_seconds: 0, lease_ttl_seconds: 3600 });
  });

  it("changes only the fields given", async () => {
    const f = await newAccount({ billing_day: 10, grace_seconds: 300, lease_ttl_seconds: 30 });
    const res = await replyOf(api(f.key).accounts[":account_id"].$patch({ param: { account_id: f.accountId }, json: { grace_seconds: 900 } }));
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ name: `Test ${f.accountId}`, billing_day: 10, grace_seconds: 900, lease_ttl_seconds: 30 });
  });

  it("accepts the ends of every range", async () => {
    const f = await newAccount();
    for (const patch of [
      { billing_day: 1 },
      { billing_day: 28 },
      { grace_seconds: 0 },
      { grace_seconds: 86_400 },
      { lease_ttl_seconds: 5 },
      { lease_ttl_seconds: 3_600 },
    ]) {
      const res = await replyOf(api(f.key).accounts[":account_id"].$patch({ param: { account_id: f.accountId }, json: patch }));
      expect({ patch, status: res.status }).toEqual({ patch, status: 200 });
      expect(res.body).toMatchObject(patch);
    }
  });

  it("an empty patch is a harmless no-op, not a server error", async () => {
    const f = await newAccount();
    const before = (await call("GET", acct(f), f.key)).body;
    const res = await replyOf(api(f.key).accounts[":account_id"].$patch({ param: { account_id: f.accountId }, json: {} }));
    expect(res.status).toBe(200);
    expect(res.body).toEqual(before);
  });

  it("refuses out-of-range and mistyped settings with 400 and changes nothing", async () => {
    const f = await newAccount();
    const before = await stateOf(f);
    for (const patch of [
      { billing_day: 0 },
      { billing_day: 29 },
      { billing_day: -3 },
      { billing_day: 2.5 },
      { billing_day: "5" },
      { grace_seconds: -1 },
      { grace_seconds: 86_401 },
      { grace_seconds: 0.5 },
      { lease_ttl_seconds: 4 },
      { lease_ttl_seconds: 3_601 },
      { lease_ttl_seconds: null },
      { name: "" },
      { name: 7 },
      // One bad field spoils the whole patch.
      { name: "Half applied?", grace_seconds: -5 },
    ]) {
      // Malformed on purpose: through `call`, since the typed client would not compile this body.
      const res = await call("PATCH", acct(f), f.key, patch);
      expect({ patch, status: res.status }).toEqual({ patch, status: 400 });
      expectProblem(res, 400, "invalid_request");
      expect(res.body.errors.map((e: { path: string }) => e.path).join(",")).toMatch(/billing_day|grace_seconds|lease_ttl_seconds|name/);
    }
    expect(await stateOf(f)).toEqual(before);
  });
});

describe("API keys", () => {
  it("the operator creates a key; it is shown once and works", async () => {
    const f = await newAccount();
    const res = await replyOf(api(OPERATOR).accounts[":account_id"]["api-keys"].$post({ param: { account_id: f.accountId }, json: { name: "billing export" } }));
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ id: expect.any(String), key: expect.stringMatching(/^sk_/), name: "billing export" });
    expect(res.body.created_at).toMatch(ISO);
    expect((await call("GET", acct(f), res.body.key)).status).toBe(200);
    const [last] = await auditOf(f);
    expect(last).toMatchObject({ action: "api_key.create", target: res.body.id, actor: "operator" });
    // The key itself never appears in the audit log.
    expect(JSON.stringify(await auditOf(f))).not.toContain(res.body.key);
  });

  it("an admin of the account may create keys, without a body too", async () => {
    const f = await newAccount();
    const res = await call("POST", acct(f, "/api-keys"), f.key);
    expect(res.status).toBe(201);
    expect(res.body.key).not.toBe(f.key);
    expect((await call("GET", acct(f), res.body.key)).status).toBe(200);
    const [last] = await auditOf(f);
    expect(last).toMatchObject({ action: "api_key.create", target: res.body.id, actor: `api_key:${f.keyId}` });
  });

  it("keys are distinct", async () => {
    const f = await newAccount();
    const keys = new Set<string>();
    for (let i = 0; i < 5; i++) keys.add((await replyOf(api(f.key).accounts[":account_id"]["api-keys"].$post({ param: { account_id: f.accountId }, json: {} }))).body.key);
    expect(keys.size).toBe(5);
  });

  it("revoking is 204, audited once, and idempotent", async () => {
    const f = await newAccount();
    const k = await replyOf(api(f.key).accounts[":account_id"]["api-keys"].$post({ param: { account_id: f.accountId }, json: { name: "temp" } }));
    expect((await call("DELETE", acct(f, `/api-keys/${k.body.id}`), f.key)).status).toBe(204);
    expect((await call("DELETE", acct(f, `/api-keys/${k.body.id}`), f.key)).status).toBe(204);
    const revokes = (await auditOf(f)).filter((e) => e.action === "api_key.revoke");
    expect(revokes).toEqual([expect.objectContaining({ target: k.body.id, actor: `api_key:${f.keyId}` })]);
  });

  it("revoking an unknown key is 404; a malformed key id is 400", async () => {
    const f = await newAccount();
    expectProblem(await call("DELETE", acct(f, "/api-keys/key_doesnotexist"), f.key), 404, "not_found");
    expectProblem(await call("DELETE", acct(f, "/api-keys/not a key"), f.key), 400, "invalid_request");
  });

  it("a key of another account cannot be revoked through this account", async () => {
    const a = await newAccount();
    const b = await newAccount();
    expectProblem(await call("DELETE", acct(a, `/api-keys/${b.keyId}`), a.key), 404, "not_found");
    expectProblem(await call("DELETE", acct(a, `/api-keys/${b.keyId}`), OPERATOR), 404, "not_found");
    expect((await call("GET", acct(b), b.key)).status).toBe(200);
  });

  it("creating a key for an account that does not exist is 404", async () => {
    expectProblem(await replyOf(api(OPERATOR).accounts[":account_id"]["api-keys"].$post({ param: { account_id: uniqueId("ghost") }, json: {} })), 404, "not_found");
  });
});

describe("concurrent creation", () => {
  it("of one id gives exactly one 201 and already_exists for the rest", async () => {
    const id = uniqueId("race");
    const results = await Promise.all(
      Array.from({ length: 6 }, (_, i) => replyOf(api(OPERATOR).accounts.$post({ json: { id, name: `Racer ${i}` } }))),
    );
    expect(results.map((r) => r.status).sort()).toEqual([201, 409, 409, 409, 409, 409]);
    for (const r of results.filter((r) => r.status === 409)) expectProblem(r, 409, "already_exists");
    const winner = results.find((r) => r.status === 201)!;
    expect((await call("GET", `/v1/accounts/${id}`, OPERATOR)).body.name).toBe(winner.body.name);
  });
});

describe("GET /v1/accounts/{account_id}/audit", () => {
  it("has an entry for every kind of write, with the actor that made it", async () => {
    const f = await newAccount();
    const A = `/v1/accounts/${f.accountId}`;
    const steps: Array<[string, string, unknown, number]> = [
      ["PATCH", A, { grace_seconds: 60 }, 200],
      ["POST", `${A}/api-keys`, { name: "extra" }, 201],
      ["PUT", `${A}/pools/elite-named`, { quantity: 2 }, 200],
      ["PUT", `${A}/pools/elite-named`, { quantity: 3 }, 200],
      ["PUT", `${A}/pools/premium-concurrent`, { quantity: 3 }, 200],
      ["PUT", `${A}/users/u1`, { display_name: "One" }, 200],
      ["PUT", `${A}/users/u2`, {}, 200],
      ["PUT", `${A}/users/u1/license`, { pool: "elite-named" }, 200],
      ["DELETE", `${A}/users/u1/license`, undefined, 204],
      ["POST", `${A}/licenses:batch`, { assign: [{ user_id: "u2", pool: "premium-concurrent" }] }, 200],
      ["DELETE", `${A}/users/u2`, undefined, 204],
    ];
    let extraKeyId = "";
    for (const [method, path, body, status] of steps) {
      // A table of routes: through `call`, since the typed client spells out one route per call.
      const res = await call(method, path, f.key, body);
      expect({ route: `${method} ${path}`, status: res.status }).toEqual({ route: `${method} ${path}`, status });
      if (path.endsWith("/api-keys")) extraKeyId = res.body.id;
    }
    expect((await call("DELETE", `${A}/api-keys/${extraKeyId}`, OPERATOR)).status).toBe(204);
    const entries = (await auditOf(f)).reverse().map((e) => [e.actor, e.action, e.target]);
    const me = `api_key:${f.keyId}`;
    expect(entries).toEqual([
      ["operator", "account.create", f.accountId],
      ["operator", "api_key.create", f.keyId],
      [me, "account.update", f.accountId],
      [me, "api_key.create", extraKeyId],
      [me, "pool.create", "elite-named"],
      [me, "pool.update", "elite-named"],
      [me, "pool.create", "premium-concurrent"],
      [me, "user.put", "u1"],
      [me, "user.put", "u2"],
      [me, "license.assign", "u1"],
      [me, "license.revoke", "u1"],
      [me, "license.assign", "u2"],
      [me, "user.delete", "u2"],
      ["operator", "api_key.revoke", extraKeyId],
    ]);
  });


  it("lists entries newest first, with at/actor/action/target/detail, paginated", async () => {
    const f = await newAccount();
    for (let i = 0; i < 4; i++) await replyOf(api(f.key).accounts[":account_id"].users[":user_id"].$put({ param: { account_id: f.accountId, user_id: `u-${i}` }, json: {} }));
    const all = await auditOf(f);
    // account.create, api_key.create, 4 × user.put
    expect(all.map((e) => e.action)).toEqual(["user.put", "user.put", "user.put", "user.put", "api_key.create", "account.create"]);
    for (const e of all) {
      expect(e).toMatchObject({ at: expect.stringMatching(ISO), actor: expect.any(String), action: expect.any(String), target: expect.any(String) });
      expect(typeof e.detail).toBe("object");
    }
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const res: Reply = await call("GET", acct(f, `/audit?limit=4${cursor ? `&cursor=${cursor}` : ""}`), f.key);
      expect(res.status).toBe(200);
      expect(res.body.items.length).toBeLessThanOrEqual(4);
      seen.push(...res.body.items.map((e: { id: number }) => String(e.id)));
      cursor = res.body.next_cursor;
      pages++;
    } while (cursor);
    expect(pages).toBe(2);
    expect(seen).toEqual(all.map((e) => String(e.id)));
  });

  it("refuses bad pagination parameters with 400", async () => {
    const f = await newAccount();
    for (const q of ["limit=0", "limit=1001", "limit=abc", "limit=1.5", "cursor=%%%", "cursor=bm9wZQ"]) {
      const res = await call("GET", acct(f, `/audit?${q}`), f.key);
      expect({ q, status: res.status }).toEqual({ q, status: 400 });
      expectProblem(res, 400, "invalid_request");
    }
  });
});
