import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { auditOf, call, expectProblem, licensedUsers, newAccount, putPool, putUsers, stateOf, usersOf, type Fixture, type Reply } from "../helpers";

/** Users: PUT, GET, list with cursor pagination, DELETE; agent tokens. */

const acct = (f: Fixture, rest = "") => `/v1/accounts/${f.accountId}${rest}`;
const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

describe("PUT /v1/accounts/{account_id}/users/{user_id}", () => {
  it("creates a user without a license, audited as user.put", async () => {
    const f = await newAccount();
    const res = await call("PUT", acct(f, "/users/ada@acme.example"), f.key, { display_name: "Ada Lovelace", email: "ada@acme.example" });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      id: "ada@acme.example",
      display_name: "Ada Lovelace",
      email: "ada@acme.example",
      pool: null,
      addons: [],
      created_at: expect.stringMatching(ISO),
    });
    const [last] = await auditOf(f);
    expect(last).toMatchObject({ action: "user.put", target: "ada@acme.example", actor: `api_key:${f.keyId}` });
  });

  it("creates a user with an empty body or none", async () => {
    const f = await newAccount();
    expect((await call("PUT", acct(f, "/users/u1"), f.key, {})).body).toMatchObject({ id: "u1", display_name: null, email: null, pool: null });
    expect((await call("PUT", acct(f, "/users/u2"), f.key)).status).toBe(200);
  });

  it("replaces an existing user's fields, keeping created_at and the license", async () => {
    const f = await newAccount();
    await putPool(f, "elite-named", 2);
    const [u] = await licensedUsers(f, "elite-named", 1);
    const first = (await call("GET", acct(f, `/users/${u}`), f.key)).body;
    const res = await call("PUT", acct(f, `/users/${u}`), f.key, { display_name: "Grace" });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ id: u, display_name: "Grace", pool: "elite-named", created_at: first.created_at });
    expect((await auditOf(f)).filter((e) => e.action === "user.put" && e.target === u)).toHaveLength(2);
  });

  it("accepts the id alphabet and a 128-character id", async () => {
    const f = await newAccount();
    for (const id of ["A", "9", "a.b_c-d@e.f", "x".repeat(128)]) {
      const res = await call("PUT", acct(f, `/users/${encodeURIComponent(id)}`), f.key, {});
      expect({ id, status: res.status }).toEqual({ id, status: 200 });
      expect(res.body.id).toBe(id);
    }
  });

  it("refuses bad ids and fields with 400 and changes nothing", async () => {
    const f = await newAccount();
    await putUsers(f, ["keep"]);
    const before = await stateOf(f);
    const cases: Array<[string, unknown]> = [
      ["x".repeat(129), {}],
      ["-dash-first", {}],
      [".dot-first", {}],
      ["has space", {}],
      ["semi;colon", {}],
      ["quote'd", {}],
      ["per%cent", {}],
      ["ümlaut", {}],
      ["keep", { email: "not an email" }],
      ["keep", { email: 5 }],
      ["keep", { display_name: 42 }],
      ["keep", { display_name: "x".repeat(201) }],
      ["keep", [1, 2]],
      ["keep", "\"just a string\""],
    ];
    for (const [id, input] of cases) {
      const res = await call("PUT", acct(f, `/users/${encodeURIComponent(id)}`), f.key, input);
      expect({ id, input, status: res.status }).toEqual({ id, input, status: 400 });
      expectProblem(res, 400, "invalid_request");
    }
    expect(await stateOf(f)).toEqual(before);
  });
});

describe("GET /v1/accounts/{account_id}/users/{user_id}", () => {
  it("answers the user with license and add-ons", async () => {
    const f = await newAccount();
    await putPool(f, "premium-concurrent", 2);
    const [u] = await licensedUsers(f, "premium-concurrent", 1);
    const res = await call("GET", acct(f, `/users/${u}`), f.key);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ id: u, display_name: null, email: null, pool: "premium-concurrent", addons: [], created_at: expect.stringMatching(ISO) });
  });

  it("is 404 for an unknown user, 400 for a malformed id", async () => {
    const f = await newAccount();
    expectProblem(await call("GET", acct(f, "/users/nobody"), f.key), 404, "not_found");
    expectProblem(await call("GET", acct(f, `/users/${"y".repeat(129)}`), f.key), 400, "invalid_request");
  });
});

describe("GET /v1/accounts/{account_id}/users", () => {
  it("pages through every user exactly once, in id order", async () => {
    const f = await newAccount();
    const ids = ["u-c", "u-a", "u-e", "u-b", "u-d"];
    await putUsers(f, ids);
    const pages: string[][] = [];
    let cursor: string | null = null;
    do {
      const res: Reply = await call("GET", acct(f, `/users?limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`), f.key);
      expect(res.status).toBe(200);
      expect(Object.keys(res.body).sort()).toEqual(["items", "next_cursor"]);
      pages.push(res.body.items.map((u: { id: string }) => u.id));
      cursor = res.body.next_cursor;
    } while (cursor && pages.length < 10);
    expect(pages).toEqual([["u-a", "u-b"], ["u-c", "u-d"], ["u-e"]]);
  });

  it("an exact multiple of the page ends with next_cursor null, not an empty extra page", async () => {
    const f = await newAccount();
    await putUsers(f, ["a", "b", "c", "d"]);
    const first = await call("GET", acct(f, "/users?limit=2"), f.key);
    const second = await call("GET", acct(f, `/users?limit=2&cursor=${first.body.next_cursor}`), f.key);
    expect(second.body.items.map((u: { id: string }) => u.id)).toEqual(["c", "d"]);
    expect(second.body.next_cursor).toBeNull();
  });

  it("defaults to 100 per page, and shows licenses", async () => {
    const f = await newAccount();
    await putPool(f, "essentials-concurrent", 1);
    await licensedUsers(f, "essentials-concurrent", 3);
    await putUsers(f, ["nolicense"]);
    const res = await call("GET", acct(f, "/users"), f.key);
    expect(res.status).toBe(200);
    expect(res.body.next_cursor).toBeNull();
    expect(res.body.items.map((u: { id: string; pool: string | null }) => [u.id, u.pool])).toEqual([
      ["agent-0", "essentials-concurrent"],
      ["agent-1", "essentials-concurrent"],
      ["agent-2", "essentials-concurrent"],
      ["nolicense", null],
    ]);
  });

  it("pages 100 at a time by default, and at most 1000", async () => {
    const f = await newAccount();
    const ids = Array.from({ length: 150 }, (_, i) => `p-${String(i).padStart(3, "0")}`);
    await env.DB.prepare("INSERT INTO users (account_id, id, display_name, email, created_at) SELECT ?, value, NULL, NULL, ? FROM json_each(?)")
      .bind(f.accountId, new Date().toISOString(), JSON.stringify(ids))
      .run();
    const first = await call("GET", acct(f, "/users"), f.key);
    expect(first.body.items).toHaveLength(100);
    expect(first.body.next_cursor).toEqual(expect.any(String));
    const rest = await call("GET", acct(f, `/users?cursor=${first.body.next_cursor}`), f.key);
    expect(rest.body.items).toHaveLength(50);
    expect(rest.body.next_cursor).toBeNull();
    expect([...first.body.items, ...rest.body.items].map((u: { id: string }) => u.id)).toEqual(ids);
    const all = await call("GET", acct(f, "/users?limit=1000"), f.key);
    expect(all.body.items).toHaveLength(150);
    expect(all.body.next_cursor).toBeNull();
  });

  it("is an empty page for an account without users", async () => {
    const f = await newAccount();
    expect((await call("GET", acct(f, "/users"), f.key)).body).toEqual({ items: [], next_cursor: null });
  });

  it("refuses bad pagination parameters with 400", async () => {
    const f = await newAccount();
    for (const q of ["limit=0", "limit=-1", "limit=1001", "limit=ten", "limit=2.5", "cursor=!!!", "cursor=MTIz"]) {
      const res = await call("GET", acct(f, `/users?${q}`), f.key);
      expect({ q, status: res.status }).toEqual({ q, status: 400 });
      expectProblem(res, 400, "invalid_request");
    }
  });
});

describe("DELETE /v1/accounts/{account_id}/users/{user_id}", () => {
  it("deletes the user and frees the named seat, audited as user.delete", async () => {
    const f = await newAccount();
    await putPool(f, "elite-named", 2);
    const [u0, u1] = await licensedUsers(f, "elite-named", 2);
    await putUsers(f, ["third"]);
    expect((await call("DELETE", acct(f, `/users/${u0}`), f.key)).status).toBe(204);
    expectProblem(await call("GET", acct(f, `/users/${u0}`), f.key), 404, "not_found");
    expect((await usersOf(f)).map((u) => u.id)).toEqual([u1, "third"]);
    const [last] = await auditOf(f);
    expect(last).toMatchObject({ action: "user.delete", target: u0, actor: `api_key:${f.keyId}` });
    expect(last.detail).toMatchObject({ pool: "elite-named" });
    // The freed seat can be given to someone else.
    expect((await call("PUT", acct(f, "/users/third/license"), f.key, { pool: "elite-named" })).status).toBe(200);
    expect((await call("GET", acct(f, "/pools"), f.key)).body.items[0]).toMatchObject({ assigned: 2 });
  });

  it("a user created again after deletion starts without a license", async () => {
    const f = await newAccount();
    await putPool(f, "elite-named", 1);
    const [u] = await licensedUsers(f, "elite-named", 1);
    await call("DELETE", acct(f, `/users/${u}`), f.key);
    const again = await call("PUT", acct(f, `/users/${u}`), f.key, {});
    expect(again.body.pool).toBeNull();
    expect((await call("GET", acct(f, "/pools"), f.key)).body.items[0]).toMatchObject({ assigned: 0 });
  });

  it("deleting an unknown (or already deleted) user is 404 and writes no audit entry", async () => {
    const f = await newAccount();
    await putUsers(f, ["gone"]);
    expect((await call("DELETE", acct(f, "/users/gone"), f.key)).status).toBe(204);
    const before = await stateOf(f);
    expectProblem(await call("DELETE", acct(f, "/users/gone"), f.key), 404, "not_found");
    expectProblem(await call("DELETE", acct(f, "/users/never"), f.key), 404, "not_found");
    expect(await stateOf(f)).toEqual(before);
  });
});

describe("POST /v1/accounts/{account_id}/users/{user_id}/agent-token", () => {
  it("mints a token valid for 12 h by default", async () => {
    const f = await newAccount();
    await putUsers(f, ["desk"]);
    const t0 = Date.now();
    const res = await call("POST", acct(f, "/users/desk/agent-token"), f.key, {});
    expect(res.status).toBe(201);
    expect(res.body).toEqual({ token: expect.any(String), expires_at: expect.stringMatching(ISO) });
    const ttl = Date.parse(res.body.expires_at) - t0;
    expect(ttl).toBeGreaterThan(12 * 3600_000 - 5_000);
    expect(ttl).toBeLessThan(12 * 3600_000 + 5_000);
    expect((await call("GET", "/v1/me", res.body.token)).status).toBe(200);
  });

  it("honours ttl_seconds and refuses silly ones", async () => {
    const f = await newAccount();
    await putUsers(f, ["desk"]);
    const t0 = Date.now();
    const res = await call("POST", acct(f, "/users/desk/agent-token"), f.key, { ttl_seconds: 3600 });
    expect(res.status).toBe(201);
    expect(Math.abs(Date.parse(res.body.expires_at) - t0 - 3600_000)).toBeLessThan(5_000);
    for (const ttl_seconds of [0, -60, 1.5, "3600"]) {
      expectProblem(await call("POST", acct(f, "/users/desk/agent-token"), f.key, { ttl_seconds }), 400, "invalid_request");
    }
  });

  it("is 404 for an unknown user", async () => {
    const f = await newAccount();
    expectProblem(await call("POST", acct(f, "/users/ghost/agent-token"), f.key, {}), 404, "not_found");
  });
});
