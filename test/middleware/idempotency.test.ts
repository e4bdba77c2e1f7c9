/**
 * Idempotency-Key on admin writes (docs/api.md#idempotency, decision 110): a replay answers the
 * first answer and writes nothing; another request under the same key is 422; keys are per
 * account (and the operator's own); a 5xx is not kept; keys live 24 h.
 */
import { createExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it } from "vitest";
import { claimIdempotencyKey } from "../../src/db/idempotency";
import { database } from "../../src/db/client";
import { cleanExpiredIdempotencyKeys, IDEMPOTENCY_ABANDONED_MS, IDEMPOTENCY_TTL_MS, idempotencyClock } from "../../src/middleware/idempotency";
import { iso } from "../../src/time";
import worker from "../../src/index";
import { agentToken, auditOf, expectProblem, licensedUsers, newAccount, OPERATOR, putPool, putUsers, stateOf, uniqueId, type Fixture, type Reply } from "../helpers";

const realNow = idempotencyClock.now;
afterEach(() => {
  idempotencyClock.now = realNow;
});

async function send(method: string, path: string, token: string, key: string | null, body?: unknown, environment: Cloudflare.Env = env): Promise<Reply> {
  const headers: Record<string, string> = { authorization: `Bearer ${token}` };
  if (key !== null) headers["idempotency-key"] = key;
  let payload: string | undefined;
  if (body !== undefined) {
    headers["content-type"] = "application/json";
    payload = typeof body === "string" ? body : JSON.stringify(body);
  }
  const res = await worker.fetch(new Request(`http://seatkeeper.test${path}`, { method, headers, body: payload }), environment, createExecutionContext());
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null, headers: res.headers };
}

const keysPath = (f: Fixture) => `/v1/accounts/${f.accountId}/api-keys`;
const keyCount = async (f: Fixture) => (await send("GET", keysPath(f), f.key, null)).body.items.length as number;
const creates = async (f: Fixture) => (await auditOf(f)).filter((e) => e.action === "api_key.create").length;
const rowsOf = async (accountId: string) =>
  (await env.DB.prepare("SELECT * FROM idempotency_keys WHERE account_id = ?").bind(accountId).all<Record<string, unknown>>()).results;

describe("the same key with the same request", () => {
  it("gets the first answer again, marked replayed, and does not write twice", async () => {
    const f = await newAccount();
    const [keys0, audits0] = [await keyCount(f), await creates(f)];
    const first = await send("POST", keysPath(f), f.key, "k-1", { name: "ci" });
    expect(first.status).toBe(201);
    expect(first.headers.get("idempotent-replayed")).toBeNull();
    const second = await send("POST", keysPath(f), f.key, "k-1", { name: "ci" });
    expect(second.status).toBe(201);
    expect(second.headers.get("idempotent-replayed")).toBe("true");
    expect(second.headers.get("content-type")).toBe(first.headers.get("content-type"));
    expect(second.body).toEqual(first.body);
    expect(await keyCount(f)).toBe(keys0 + 1);
    expect(await creates(f)).toBe(audits0 + 1);
    // The answer carries a new API key: D1 holds it sealed, never in plain text, and not the Idempotency-Key either.
    const rows = await rowsOf(f.accountId);
    expect(rows).toHaveLength(1);
    expect(JSON.stringify(rows)).not.toContain(first.body.key);
    expect(JSON.stringify(rows)).not.toContain("k-1");
  });

  it("a kept 4xx is replayed even after the state changed (a new key tries again)", async () => {
    const f = await newAccount();
    await putPool(f, "premium-named", 5);
    const path = `/v1/accounts/${f.accountId}/users/ann/license`;
    expectProblem(await send("PUT", path, f.key, "lic-1", { pool: "premium-named" }), 404, "not_found");
    await putUsers(f, ["ann"]);
    const again = await send("PUT", path, f.key, "lic-1", { pool: "premium-named" });
    expectProblem(again, 404, "not_found");
    expect(again.headers.get("idempotent-replayed")).toBe("true");
    expect((await send("PUT", path, f.key, "lic-2", { pool: "premium-named" })).status).toBe(200);
  });

  it("a 204 is replayed as a 204 with no body", async () => {
    const f = await newAccount();
    const made = await send("POST", keysPath(f), f.key, null, { name: "x" });
    const path = `${keysPath(f)}/${made.body.id}`;
    const first = await send("DELETE", path, f.key, "del-1");
    const second = await send("DELETE", path, f.key, "del-1");
    expect([first.status, second.status, second.body]).toEqual([204, 204, null]);
    expect(second.headers.get("idempotent-replayed")).toBe("true");
    expect((await auditOf(f)).filter((e) => e.action === "api_key.revoke")).toHaveLength(1);
  });

  it("the operator's keys are its own namespace: a replayed account creation is 201, not already_exists", async () => {
    const id = uniqueId("acct");
    const key = uniqueId("op");
    const first = await send("POST", "/v1/accounts", OPERATOR, key, { id, name: "Idem" });
    const second = await send("POST", "/v1/accounts", OPERATOR, key, { id, name: "Idem" });
    expect([first.status, second.status]).toEqual([201, 201]);
    expect(second.body).toEqual(first.body);
    expect(second.headers.get("idempotent-replayed")).toBe("true");
    expectProblem(await send("POST", "/v1/accounts", OPERATOR, null, { id, name: "Idem" }), 409, "already_exists");
  });
});

describe("the same key with another request", () => {
  it("another body is 422 idempotency_key_reused and changes nothing", async () => {
    const f = await newAccount();
    expect((await send("POST", keysPath(f), f.key, "k-2", { name: "ci" })).status).toBe(201);
    const before = await stateOf(f);
    const keys = await keyCount(f);
    const other = await send("POST", keysPath(f), f.key, "k-2", { name: "other" });
    expectProblem(other, 422, "idempotency_key_reused");
    // The same body with other bytes is another request too: the body is hashed as sent.
    expectProblem(await send("POST", keysPath(f), f.key, "k-2", '{"name": "ci"}'), 422, "idempotency_key_reused");
    expect(await stateOf(f)).toEqual(before);
    expect(await keyCount(f)).toBe(keys);
  });

  it("another path or method is 422 as well", async () => {
    const f = await newAccount();
    await putUsers(f, ["u"]);
    expect((await send("PUT", `/v1/accounts/${f.accountId}/users/u`, f.key, "k-3", {})).status).toBe(200);
    expectProblem(await send("PUT", `/v1/accounts/${f.accountId}/users/v`, f.key, "k-3", {}), 422, "idempotency_key_reused");
    expectProblem(await send("DELETE", `/v1/accounts/${f.accountId}/users/u`, f.key, "k-3"), 422, "idempotency_key_reused");
    expect((await send("GET", `/v1/accounts/${f.accountId}/users/u`, f.key, null)).status).toBe(200);
    expect((await send("GET", `/v1/accounts/${f.accountId}/users/v`, f.key, null)).status).toBe(404);
  });
});

describe("scopes", () => {
  it("another account's same key is independent", async () => {
    const [a, b] = [await newAccount(), await newAccount()];
    const ra = await send("POST", keysPath(a), a.key, "shared", { name: "ci" });
    const rb = await send("POST", keysPath(b), b.key, "shared", { name: "ci" });
    expect([ra.status, rb.status]).toEqual([201, 201]);
    expect(rb.headers.get("idempotent-replayed")).toBeNull();
    expect(rb.body.id).not.toBe(ra.body.id);
    // And with another body: still each account's own.
    expect((await send("PATCH", `/v1/accounts/${b.accountId}`, b.key, "shared2", { name: "B" })).status).toBe(200);
    expect((await send("PATCH", `/v1/accounts/${a.accountId}`, a.key, "shared2", { name: "A" })).status).toBe(200);
  });

  it("the operator's key does not replay an admin key's answer, nor the other way", async () => {
    const f = await newAccount();
    const admin = await send("POST", keysPath(f), f.key, "mixed", { name: "ci" });
    const operator = await send("POST", keysPath(f), OPERATOR, "mixed", { name: "ci" });
    expect([admin.status, operator.status]).toEqual([201, 201]);
    expect(operator.body.id).not.toBe(admin.body.id);
  });

  it("reads and agent routes ignore the header", async () => {
    const f = await newAccount();
    await putPool(f, "premium-concurrent", 2);
    const [user] = await licensedUsers(f, "premium-concurrent", 1);
    const token = await agentToken(f, user);
    for (let i = 0; i < 2; i++) {
      expect((await send("GET", keysPath(f), f.key, "r")).headers.get("idempotent-replayed")).toBeNull();
      expect((await send("POST", "/v1/seats/checkout", token, "r", { session_id: `s${i}` })).headers.get("idempotent-replayed")).toBeNull();
    }
    expect(await rowsOf(f.accountId)).toHaveLength(0);
  });
});

describe("the header's form", () => {
  it("1-255 printable ASCII characters; else 400 naming the header, and nothing runs", async () => {
    const f = await newAccount();
    const keys = await keyCount(f);
    for (const bad of ["x".repeat(256), "caf\u00e9", "a\u007fb"]) {
      const res = await send("POST", keysPath(f), f.key, bad, { name: "ci" });
      expectProblem(res, 400, "invalid_request");
      expect(res.body.errors[0].path).toBe("Idempotency-Key");
    }
    expect(await keyCount(f)).toBe(keys);
    expect((await send("POST", keysPath(f), f.key, "x".repeat(255), { name: "ci" })).status).toBe(201);
    expect((await send("POST", keysPath(f), f.key, " !~", { name: "ci" })).status).toBe(201);
  });
});

describe("a request still running", () => {
  it("the same key meanwhile is 409 idempotency_key_in_use; a first request lost for 5 minutes is taken over", async () => {
    const f = await newAccount();
    const path = keysPath(f);
    const body = JSON.stringify({ name: "ci" });
    const now = Date.now();
    // The row a running first request holds (its Worker is busy, or died before answering).
    const requestHash = await hashOf("POST", path, body);
    const keyHash = await sha256(`slow`);
    const claimed = await claimIdempotencyKey(
      database(env.DB),
      { scope: `account:${f.accountId}`, keyHash, accountId: f.accountId, requestHash, createdAt: iso(now), expiresAt: iso(now + IDEMPOTENCY_TTL_MS) },
      iso(now),
      iso(now - IDEMPOTENCY_ABANDONED_MS),
    );
    expect(claimed).toBe(true);
    const keys = await keyCount(f);
    expectProblem(await send("POST", path, f.key, "slow", body), 409, "idempotency_key_in_use");
    // Another body is still 422: the key names one request, running or not.
    expectProblem(await send("POST", path, f.key, "slow", { name: "other" }), 422, "idempotency_key_reused");
    expect(await keyCount(f)).toBe(keys);
    idempotencyClock.now = () => now + IDEMPOTENCY_ABANDONED_MS + 1;
    expect((await send("POST", path, f.key, "slow", body)).status).toBe(201);
    expect(await keyCount(f)).toBe(keys + 1);
  });

  it("two at once: one runs, the other is refused or replayed; one write", async () => {
    const f = await newAccount();
    const keys = await keyCount(f);
    const replies = await Promise.all(Array.from({ length: 6 }, () => send("POST", keysPath(f), f.key, "race", { name: "ci" })));
    const fresh = replies.filter((r) => r.status === 201 && r.headers.get("idempotent-replayed") === null);
    expect(fresh).toHaveLength(1);
    for (const r of replies) {
      if (r.status === 201) expect(r.body).toEqual(fresh[0].body);
      else expectProblem(r, 409, "idempotency_key_in_use");
    }
    expect(await keyCount(f)).toBe(keys + 1);
  });
});

describe("answers that are not kept", () => {
  it("a 5xx is not kept: the retry with the same key runs and writes once", async () => {
    const f = await newAccount();
    const keys = await keyCount(f);
    // D1 refuses the route's write batch once (the key insert and its audit entry): 500.
    let fail = true;
    const flaky = new Proxy(env.DB, {
      get(target, prop) {
        if (prop === "batch")
          return async (statements: D1PreparedStatement[]) => {
            if (fail) {
              fail = false;
              throw new Error("D1_ERROR: Network connection lost.");
            }
            return target.batch(statements);
          };
        const value = Reflect.get(target, prop);
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
    const failed = await send("POST", keysPath(f), f.key, "five", { name: "ci" }, { ...env, DB: flaky });
    expectProblem(failed, 500, "internal");
    expect(fail).toBe(false);
    expect(await keyCount(f)).toBe(keys);
    expect(await rowsOf(f.accountId)).toHaveLength(0);
    const retry = await send("POST", keysPath(f), f.key, "five", { name: "ci" });
    expect(retry.status).toBe(201);
    expect(retry.headers.get("idempotent-replayed")).toBeNull();
    expect(await keyCount(f)).toBe(keys + 1);
  });
});

describe("expiry", () => {
  it("after 24 h the key is free again: the same request runs anew; the hourly job deletes expired rows", async () => {
    const f = await newAccount();
    const keys = await keyCount(f);
    const start = Date.now();
    expect((await send("POST", keysPath(f), f.key, "day", { name: "ci" })).status).toBe(201);
    idempotencyClock.now = () => start + IDEMPOTENCY_TTL_MS - 60_000;
    expect((await send("POST", keysPath(f), f.key, "day", { name: "ci" })).headers.get("idempotent-replayed")).toBe("true");
    expect(await keyCount(f)).toBe(keys + 1);
    idempotencyClock.now = () => start + IDEMPOTENCY_TTL_MS + 1000;
    const later = await send("POST", keysPath(f), f.key, "day", { name: "ci" });
    expect(later.status).toBe(201);
    expect(later.headers.get("idempotent-replayed")).toBeNull();
    expect(await keyCount(f)).toBe(keys + 2);

    // The cleanup: the row (now from the second request) is deleted once it is 24 h old, not before.
    const other = await newAccount();
    await send("POST", keysPath(other), other.key, "stays", { name: "ci" });
    const t = start + IDEMPOTENCY_TTL_MS + 1000;
    await cleanExpiredIdempotencyKeys(env.DB, t + IDEMPOTENCY_TTL_MS - 60_000);
    expect(await rowsOf(f.accountId)).toHaveLength(1);
    await cleanExpiredIdempotencyKeys(env.DB, t + IDEMPOTENCY_TTL_MS + 1);
    expect(await rowsOf(f.accountId)).toHaveLength(0);
    expect(await rowsOf(other.accountId)).toHaveLength(0); // made at real now, also expired by then
  });
});

async function sha256(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** The request hash the middleware computes: method, path and query, the body's bytes. */
const hashOf = (method: string, path: string, body: string) => sha256(`${method}\n${path}\n${body}`);

describe("the OpenAPI document", () => {
  it("lists the header and 422 on admin and operator writes, not on reads or agent routes", async () => {
    const doc = (await send("GET", "/openapi.json", OPERATOR, null)).body;
    const names = (op: { parameters?: Array<{ name: string; in: string }> }) => (op.parameters ?? []).filter((p) => p.in === "header").map((p) => p.name);
    for (const [path, method] of [["/v1/accounts/{account_id}/api-keys", "post"], ["/v1/accounts", "post"], ["/v1/accounts/{account_id}/users/{user_id}", "delete"], ["/v1/accounts/{account_id}", "patch"]]) {
      const op = doc.paths[path][method];
      expect(names(op), `${method} ${path}`).toContain("Idempotency-Key");
      expect(Object.keys(op.responses)).toEqual(expect.arrayContaining(["409", "422"]));
    }
    expect(names(doc.paths["/v1/accounts/{account_id}/api-keys"].get)).not.toContain("Idempotency-Key");
    expect(names(doc.paths["/v1/seats/checkout"].post)).not.toContain("Idempotency-Key");
  });
});
