import { describe, expect, it } from "vitest";
import { MAX_BODY_BYTES } from "../../src/app";
import { agentTokens, api, call, expectProblem, fetchWorker, licensedUsers, newAccount, OPERATOR, putPool, putUsers, release, replyOf, stateOf } from "../helpers";

/** README "Security" and docs/api.md "Rate limits and request size": bounded input. */

const acct = (id: string, rest = "") => `/v1/accounts/${id}${rest}`;

describe("request size", () => {
  it("a body over 1 MiB is 413 payload_too_large, whether or not Content-Length says so, and changes nothing", async () => {
    const f = await newAccount();
    const before = await stateOf(f);
    const big = JSON.stringify({ assign: [], revoke: [], pad: "x".repeat(MAX_BODY_BYTES) });
    // A raw oversized body with an unknown field, on purpose: through `call`, which sends the text as it is.
    const declared = await call("POST", acct(f.accountId, "/licenses:batch"), f.key, big);
    expectProblem(declared, 413, "payload_too_large");
    // Streamed without a length: refused while reading.
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new TextEncoder().encode(big));
        controller.close();
      },
    });
    const streamed = await replyOf(
      fetchWorker(`http://seatkeeper.test${acct(f.accountId, "/licenses:batch")}`, {
        method: "POST",
        headers: { authorization: `Bearer ${f.key}`, "content-type": "application/json" },
        body: stream,
        // @ts-expect-error duplex is needed for a streamed body
        duplex: "half",
      }),
    );
    expectProblem(streamed, 413, "payload_too_large");
    expect(await stateOf(f)).toEqual(before);
  });

  it("a body just under the limit is read (and judged on its content)", async () => {
    const f = await newAccount();
    // The raw text on purpose (its size is the point): through `call`, which sends it as it is.
    const res = await call("PATCH", acct(f.accountId), f.key, JSON.stringify({ name: "n".repeat(300) }));
    expectProblem(res, 400, "invalid_request");
  });
});

describe("arrays are bounded", () => {
  it("refuses 1,001 and 100,000 revocations by length, naming the list", async () => {
    const f = await newAccount();
    for (const n of [1001, 100_000]) {
      const res = await replyOf(api(f.key).accounts[":account_id"]["licenses:batch"].$post({ param: { account_id: f.accountId }, json: { revoke: Array.from({ length: n }, (_, i) => `u${i}`) } }));
      expectProblem(res, 400, "invalid_request");
      expect(res.body.errors.map((e: { path: string }) => e.path)).toContain("revoke");
    }
  });
});

describe("unknown fields", () => {
  it("a misspelt setting in PATCH account is 400 naming the field, and changes nothing", async () => {
    const f = await newAccount();
    const before = await stateOf(f);
    // An unknown field on purpose: through `call`, since the typed client would not compile it.
    const res = await call("PATCH", acct(f.accountId), f.key, { grace_secs: 60 });
    expectProblem(res, 400, "invalid_request");
    expect(res.body.errors).toEqual([{ path: "grace_secs", message: "unknown field" }]);
    expect(await stateOf(f)).toEqual(before);
  });

  it("is 400 on every write body, nested objects included", async () => {
    const f = await newAccount();
    await putUsers(f, ["u1"]);
    const cases: Array<[string, string, unknown, string]> = [
      ["POST", "/v1/accounts", { name: "x", colour: "red" }, "colour"],
      ["POST", acct(f.accountId, "/api-keys"), { name: "k", expires: 1 }, "expires"],
      ["PUT", acct(f.accountId, "/pools/elite-named"), { quantity: 1, qty: 2 }, "qty"],
      ["PUT", acct(f.accountId, "/users/u1"), { display_name: "A", role: "boss" }, "role"],
      ["PUT", acct(f.accountId, "/users/u1/license"), { pool: "elite-named", force: true }, "force"],
      ["POST", acct(f.accountId, "/licenses:batch"), { assign: [{ user_id: "u1", pool: "elite-named", note: "x" }] }, "assign.0.note"],
      ["POST", acct(f.accountId, "/users/u1/agent-token"), { ttl: 60 }, "ttl"],
      ["PUT", acct(f.accountId, "/addons/virtual_agent"), { quantity: 1, seats: 1 }, "seats"],
    ];
    for (const [method, path, body, field] of cases) {
      // A table of routes: through `call`, since the typed client spells out one route per call.
      const res = await call(method, path, path === "/v1/accounts" ? OPERATOR : f.key, body);
      expect({ path, status: res.status }).toEqual({ path, status: 400 });
      expect(res.body.errors.map((e: { path: string }) => e.path)).toContain(field);
    }
  });

  it("the typed client still posts every well-formed body", async () => {
    const f = await newAccount();
    const res = await replyOf(api(f.key).accounts[":account_id"].$patch({ param: { account_id: f.accountId }, json: { grace_seconds: 60 } }));
    expect([res.status, res.body.grace_seconds]).toEqual([200, 60]);
  });
});

/**
 * The binding counts in fixed windows of 60 s, so a burst may straddle two: sending more than twice
 * the limit inside one minute is sure to cross it, whatever the clock says.
 */
describe("rate limits", () => {
  it("an agent over its limit on /v1/seats/* gets 429 rate_limited with Retry-After; another agent does not", async () => {
    const f = await newAccount();
    await putPool(f, "elite-concurrent", 5);
    const [a, b] = await agentTokens(f, await licensedUsers(f, "elite-concurrent", 2));
    const started = Date.now();
    const replies = [];
    for (let round = 0; round < 11; round++) replies.push(...(await Promise.all(Array.from({ length: 22 }, (_, i) => release(a, `s${round}-${i}`)))));
    expect(Date.now() - started).toBeLessThan(60_000);
    const ok = replies.filter((r) => r.status === 204).length;
    const limited = replies.filter((r) => r.status === 429);
    expect(ok + limited.length).toBe(replies.length);
    expect(ok).toBeGreaterThanOrEqual(120);
    expect(ok).toBeLessThanOrEqual(240);
    expectProblem(limited[0], 429, "rate_limited");
    expect(limited[0].headers.get("retry-after")).toBe("60");
    expect((await release(b)).status).toBe(204);
  });

  it("an API key over its admin-write limit gets 429; its reads, another key and the operator go on", async () => {
    const f = await newAccount();
    const other = await replyOf(api(OPERATOR).accounts[":account_id"]["api-keys"].$post({ param: { account_id: f.accountId }, json: { name: "second" } }));
    const started = Date.now();
    const writes = [];
    // DELETE of a user that does not exist: an admin write that is counted, then answers 404.
    for (let round = 0; round < 25; round++) {
      writes.push(...(await Promise.all(Array.from({ length: 50 }, () => call("DELETE", acct(f.accountId, "/users/nobody"), f.key)))));
    }
    expect(Date.now() - started).toBeLessThan(60_000);
    const passed = writes.filter((r) => r.status === 404).length;
    const limited = writes.filter((r) => r.status === 429);
    expect(passed + limited.length).toBe(writes.length);
    expect(passed).toBeGreaterThanOrEqual(600);
    expect(passed).toBeLessThanOrEqual(1200);
    expectProblem(limited[0], 429, "rate_limited");
    expect(limited[0].headers.get("retry-after")).toBe("60");
    expect((await call("GET", acct(f.accountId, "/users"), f.key)).status).toBe(200);
    expect((await replyOf(api(other.body.key).accounts[":account_id"].users[":user_id"].$put({ param: { account_id: f.accountId, user_id: "w1" }, json: {} }))).status).toBe(200);
    expect((await replyOf(api(OPERATOR).accounts[":account_id"].users[":user_id"].$put({ param: { account_id: f.accountId, user_id: "w2" }, json: {} }))).status).toBe(200);
  }, 60_000); // its 1,250 writes must fit the limiter's 60 s window, not the default test timeout
});

describe("the OpenAPI document lists the edge's refusals", () => {
  it("413 and 415 with every body, 429 where a rate limit applies, 401/403/404 on account routes", async () => {
    const doc = (await call("GET", "/openapi.json")).body;
    const ops: Array<[string, string, { requestBody?: unknown; responses: Record<string, unknown> }]> = [];
    for (const [path, item] of Object.entries(doc.paths as Record<string, Record<string, any>>)) for (const [m, op] of Object.entries(item)) if (op?.responses) ops.push([path, m, op]);
    for (const [path, method, op] of ops) {
      const codes = Object.keys(op.responses);
      if (op.requestBody) expect({ path, method, codes }).toEqual({ path, method, codes: expect.arrayContaining(["413", "415"]) });
      if (path.startsWith("/v1/seats/") && method === "post") expect({ path, codes }).toEqual({ path, codes: expect.arrayContaining(["401", "403", "429"]) });
      if (path.startsWith("/v1/accounts/{account_id}") && method !== "get") expect({ path, method, codes }).toEqual({ path, method, codes: expect.arrayContaining(["401", "403", "404", "429"]) });
    }
    expect(doc.paths["/v1/accounts/{account_id}/licenses:batch"].post.responses).toHaveProperty("409");
  });
});
