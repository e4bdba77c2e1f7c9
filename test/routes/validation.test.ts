import { exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { call, expectProblem, licensedUsers, newAccount, OPERATOR, putPool, putUsers, stateOf, uniqueId, type Fixture, type Reply, api, replyOf } from "../helpers";

/**
 * docs/api.md#errors: a request that is not valid is 400 invalid_request, with the failing fields in
 * `errors`, as application/problem+json, and changes nothing.
 */

const acct = (f: Fixture, rest = "") => `/v1/accounts/${f.accountId}${rest}`;

async function raw(method: string, path: string, token: string, body: string, contentType = "application/json"): Promise<Reply> {
  const res = await exports.default.fetch(
    new Request(`http://seatkeeper.test${path}`, { method, headers: { authorization: `Bearer ${token}`, "content-type": contentType }, body }),
  );
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // keep text
  }
  return { status: res.status, body: parsed, headers: res.headers };
}

/** An account with something in every table, to show that refused requests leave it all alone. */
async function populated(): Promise<Fixture> {
  const f = await newAccount();
  await putPool(f, "elite-named", 2);
  await putPool(f, "premium-concurrent", 5);
  await licensedUsers(f, "elite-named", 1, "named");
  await licensedUsers(f, "premium-concurrent", 1, "conc");
  await putUsers(f, ["free"]);
  return f;
}

describe("malformed JSON", () => {
  it("is 400 invalid_request on every write route, and changes nothing", async () => {
    const f = await populated();
    const before = await stateOf(f);
    const routes: Array<[string, string]> = [
      ["PATCH", acct(f)],
      ["POST", acct(f, "/api-keys")],
      ["PUT", acct(f, "/pools/elite-named")],
      ["PUT", acct(f, "/users/free")],
      ["PUT", acct(f, "/users/free/license")],
      ["POST", acct(f, "/licenses:batch")],
      ["POST", acct(f, "/users/free/agent-token")],
    ];
    for (const [method, path] of routes) {
      for (const text of ['{"quantity": 3', "{quantity: 3}", "not json", '{"pool": "elite-named",}']) {
        const res = await raw(method, path, f.key, text);
        expect({ route: `${method} ${path}`, text, status: res.status, code: res.body?.code }).toEqual({
          route: `${method} ${path}`,
          text,
          status: 400,
          code: "invalid_request",
        });
        expect(res.headers.get("content-type")).toMatch(/^application\/problem\+json/);
      }
    }
    expect(await stateOf(f)).toEqual(before);
  });

  it("names the body in `errors`, like every other validation failure", async () => {
    const f = await newAccount();
    for (const [method, path] of [
      ["PUT", acct(f, "/pools/elite-named")],
      ["PUT", acct(f, "/users/free")],
    ] as const) {
      expectProblem(await raw(method, path, f.key, '{"quantity": 3'), 400, "invalid_request");
    }
  });

  it("POST /v1/accounts with malformed JSON creates nothing", async () => {
    const id = uniqueId("broken");
    const res = await raw("POST", "/v1/accounts", OPERATOR, `{"id": "${id}", "name": "x"`);
    expect([res.status, res.body.code]).toEqual([400, "invalid_request"]);
    expectProblem(await call("GET", `/v1/accounts/${id}`, OPERATOR), 404, "not_found");
  });
});

describe("bodies of the wrong shape", () => {
  it("JSON that is not an object is refused where an object is required", async () => {
    const f = await populated();
    const before = await stateOf(f);
    for (const body of ["null", "[]", "[1,2]", "3", '"elite-named"', "true"]) {
      for (const [method, path] of [
        ["PUT", acct(f, "/pools/elite-named")],
        ["PUT", acct(f, "/users/free/license")],
        ["PATCH", acct(f)],
        ["POST", acct(f, "/licenses:batch")],
      ] as const) {
        const res = await raw(method, path, f.key, body);
        expect({ route: `${method} ${path}`, body, status: res.status }).toEqual({ route: `${method} ${path}`, body, status: 400 });
        expectProblem(res, 400, "invalid_request");
      }
    }
    expect(await stateOf(f)).toEqual(before);
  });

  it("a required JSON body sent as another content type is refused", async () => {
    const f = await populated();
    const before = await stateOf(f);
    const res = await raw("PUT", acct(f, "/pools/elite-named"), f.key, '{"quantity": 9}', "text/plain");
    expectProblem(res, 415, "unsupported_media_type");
    expect(await stateOf(f)).toEqual(before);
  });

  it("wrong types are 400 with the failing field named in errors", async () => {
    const f = await populated();
    const before = await stateOf(f);
    const cases: Array<[string, string, unknown, string]> = [
      ["PUT", acct(f, "/pools/elite-named"), { quantity: "3" }, "quantity"],
      ["PUT", acct(f, "/pools/elite-named"), { quantity: -1 }, "quantity"],
      ["PUT", acct(f, "/pools/elite-named"), { quantity: 2.5 }, "quantity"],
      ["PUT", acct(f, "/pools/elite-named"), { quantity: -0.5 }, "quantity"],
      ["PUT", acct(f, "/pools/premium-concurrent"), { quantity: 5, max_active: "9" }, "max_active"],
      ["PATCH", acct(f), { grace_seconds: "60" }, "grace_seconds"],
      ["PATCH", acct(f), { lease_ttl_seconds: 12.5 }, "lease_ttl_seconds"],
      ["PUT", acct(f, "/users/free"), { email: 123 }, "email"],
      ["PUT", acct(f, "/users/free/license"), { pool: ["elite-named"] }, "pool"],
      ["POST", acct(f, "/licenses:batch"), { assign: [{ user_id: 5, pool: "elite-named" }] }, "assign"],
      ["POST", acct(f, "/licenses:batch"), { revoke: [null] }, "revoke"],
      ["POST", acct(f, "/users/free/agent-token"), { ttl_seconds: "3600" }, "ttl_seconds"],
    ];
    for (const [method, path, body, field] of cases) {
      // A table of routes: through `call`, since the typed client spells out one route per call.
      const res = await call(method, path, f.key, body);
      expect({ route: `${method} ${path}`, body, status: res.status }).toEqual({ route: `${method} ${path}`, body, status: 400 });
      expectProblem(res, 400, "invalid_request");
      expect(res.body.errors.map((e: { path: string }) => e.path).join(" ")).toContain(field);
      for (const e of res.body.errors) expect(e).toEqual({ path: expect.any(String), message: expect.any(String) });
    }
    expect(await stateOf(f)).toEqual(before);
  });
});

describe("ids", () => {
  it("unknown pool ids are 400 everywhere a pool id goes, and change nothing", async () => {
    const f = await populated();
    const before = await stateOf(f);
    for (const pool of ["gold-named", "elite-floating", "elite", "premium-", "-named", "Elite-named", "elite named"]) {
      const p = encodeURIComponent(pool);
      for (const [method, path, body] of [
        ["PUT", acct(f, `/pools/${p}`), { quantity: 1 }],
        ["GET", acct(f, `/pools/${p}/seats`)],
        ["GET", acct(f, `/pools/${p}/usage`)],
        ["DELETE", acct(f, `/pools/${p}/seats/free`)],
        ["PUT", acct(f, "/users/free/license"), { pool }],
        ["POST", acct(f, "/licenses:batch"), { assign: [{ user_id: "free", pool }] }],
      ] as const) {
        // A table of routes: through `call`, since the typed client spells out one route per call.
        const res = await call(method, path, f.key, body);
        expect({ pool, route: `${method} ${path}`, status: res.status }).toEqual({ pool, route: `${method} ${path}`, status: 400 });
        expectProblem(res, 400, "invalid_request");
      }
    }
    expect(await stateOf(f)).toEqual(before);
  });

  it("overlong (129) and badly formed user ids are 400 on every user route, and change nothing", async () => {
    const f = await populated();
    const before = await stateOf(f);
    for (const id of ["u".repeat(129), "_under", "a b", "a,b", "a+b", "a#b", "a:b", "a*b", "emoji😀", "tab\tid"]) {
      const u = encodeURIComponent(id);
      for (const [method, path, body] of [
        ["PUT", acct(f, `/users/${u}`), {}],
        ["GET", acct(f, `/users/${u}`)],
        ["DELETE", acct(f, `/users/${u}`)],
        ["PUT", acct(f, `/users/${u}/license`), { pool: "elite-named" }],
        ["DELETE", acct(f, `/users/${u}/license`)],
        ["POST", acct(f, `/users/${u}/agent-token`), {}],
        ["DELETE", acct(f, `/pools/elite-named/seats/${u}`)],
        ["POST", acct(f, "/licenses:batch"), { assign: [{ user_id: id, pool: "elite-named" }] }],
        ["POST", acct(f, "/licenses:batch"), { revoke: [id] }],
      ] as const) {
        // A table of routes: through `call`, since the typed client spells out one route per call.
        const res = await call(method, path, f.key, body);
        expect({ id, route: `${method} ${path}`, status: res.status }).toEqual({ id, route: `${method} ${path}`, status: 400 });
        expectProblem(res, 400, "invalid_request");
      }
    }
    expect(await stateOf(f)).toEqual(before);
  });

  it("overlong and badly formed account ids in the path are 400", async () => {
    for (const id of ["a".repeat(129), "-x", "a b", "a!b"]) {
      const res = await call("GET", `/v1/accounts/${encodeURIComponent(id)}`, OPERATOR);
      expect({ id, status: res.status }).toEqual({ id, status: 400 });
      expectProblem(res, 400, "invalid_request");
    }
  });
});

describe("problem details", () => {
  it("every error carries type, title, status, detail and code as application/problem+json", async () => {
    const f = await populated();
    await putUsers(f, ["extra"]);
    const replies: Array<[Reply, number, string]> = [
      [await call("GET", acct(f, "/pools"), null), 401, "unauthorized"],
      [await replyOf(api(f.key).accounts.$post({ json: { name: "x" } })), 403, "forbidden"],
      [await call("GET", acct(f, "/users/nobody"), f.key), 404, "not_found"],
      [await replyOf(api(OPERATOR).accounts.$post({ json: { id: f.accountId, name: "again" } })), 409, "already_exists"],
      [await replyOf(api(f.key).accounts[":account_id"].users[":user_id"].license.$put({ param: { account_id: f.accountId, user_id: "extra" }, json: { pool: "elite-named" } })), 200, ""],
      [await replyOf(api(f.key).accounts[":account_id"].users[":user_id"].license.$put({ param: { account_id: f.accountId, user_id: "free" }, json: { pool: "elite-named" } })), 409, "named_pool_full"],
      [await replyOf(api(f.key).accounts[":account_id"].pools[":pool_id"].$put({ param: { account_id: f.accountId, pool_id: "elite-named" }, json: { quantity: 1 } })), 409, "quantity_below_assigned"],
      [await replyOf(api(f.key).accounts[":account_id"].pools[":pool_id"].$put({ param: { account_id: f.accountId, pool_id: "elite-named" }, json: { quantity: -1 } })), 400, "invalid_request"],
    ];
    for (const [res, status, code] of replies) {
      if (status === 200) {
        expect(res.status).toBe(200);
        continue;
      }
      expectProblem(res, status, code);
      expect(res.body.type).toMatch(/^(https?:\/\/|about:blank)/);
      expect(res.body.title.length).toBeGreaterThan(0);
      expect(res.body.detail.length).toBeGreaterThan(0);
    }
  });
});
