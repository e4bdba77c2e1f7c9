/**
 * One structured JSON log line per request (README "Operations", docs/architecture.md#operations):
 * its fields, the request id echoed on every answer, and no credential in the line even when sent.
 */
import { createExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import worker from "../../src/index";
import { agentToken, api, licensedUsers, newAccount, OPERATOR, putPool, replyOf } from "../helpers";
import { openSocket } from "../presence/support";

let lines: string[] = [];
beforeEach(() => {
  lines = [];
  vi.spyOn(console, "log").mockImplementation((...args: unknown[]) => {
    lines.push(args.map(String).join(" "));
  });
});
afterEach(() => {
  vi.restoreAllMocks();
});

/** The request lines logged so far, parsed. */
const requestLines = () => lines.map((l) => JSON.parse(l)).filter((l) => l.msg === "request");

async function send(method: string, path: string, init: { token?: string; headers?: Record<string, string>; body?: unknown; environment?: Cloudflare.Env } = {}) {
  const headers: Record<string, string> = { ...(init.headers ?? {}) };
  if (init.token) headers.authorization = `Bearer ${init.token}`;
  let body: string | undefined;
  if (init.body !== undefined) {
    headers["content-type"] = "application/json";
    body = typeof init.body === "string" ? init.body : JSON.stringify(init.body);
  }
  return worker.fetch(new Request(`http://seatkeeper.test${path}`, { method, headers, body }), init.environment ?? env, createExecutionContext());
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

describe("the request log line", () => {
  it("one line per request, with the route pattern, account, status, duration and no problem code on success", async () => {
    const f = await newAccount();
    await licensedUsers(f, "premium-concurrent", 0);
    lines = [];
    const res = await send("PUT", `/v1/accounts/${f.accountId}/users/ann?x=1`, { token: f.key, body: {} });
    expect(res.status).toBe(200);
    const logged = requestLines();
    expect(logged).toHaveLength(1);
    expect(logged[0]).toEqual({
      msg: "request",
      request_id: expect.stringMatching(UUID),
      method: "PUT",
      route: "/v1/accounts/:account_id/users/:user_id",
      account_id: f.accountId,
      status: 200,
      duration_ms: expect.any(Number),
      code: null,
    });
    expect(res.headers.get("x-request-id")).toBe(logged[0].request_id);
  });

  it("a well-formed incoming x-request-id is kept and echoed; a malformed one is replaced", async () => {
    const f = await newAccount();
    lines = [];
    const kept = await send("GET", `/v1/accounts/${f.accountId}`, { token: f.key, headers: { "x-request-id": "lb-1234.abc:5_6" } });
    expect(kept.headers.get("x-request-id")).toBe("lb-1234.abc:5_6");
    for (const bad of ["has space", "x".repeat(129), "-starts-with-dash", "semi;colon"]) {
      const res = await send("GET", `/v1/accounts/${f.accountId}`, { token: f.key, headers: { "x-request-id": bad } });
      expect(res.headers.get("x-request-id")).toMatch(UUID);
    }
    expect(requestLines().map((l) => l.request_id)).toEqual(["lb-1234.abc:5_6", ...Array(4).fill(expect.stringMatching(UUID))]);
  });

  it("problems carry their code and the id too: 404, 401, 400, 413, unknown routes, 503 before any credential", async () => {
    const f = await newAccount();
    lines = [];
    const cases: Array<[() => Promise<Response>, number, string, string]> = [
      [() => send("GET", `/v1/accounts/${f.accountId}/users/nobody`, { token: f.key }), 404, "not_found", "/v1/accounts/:account_id/users/:user_id"],
      [() => send("GET", `/v1/accounts/${f.accountId}/pools`, { token: "sk_wrong" }), 401, "unauthorized", "/v1/accounts/:account_id/pools"],
      [() => send("PATCH", `/v1/accounts/${f.accountId}`, { token: f.key, body: { grace_secs: 1 } }), 400, "invalid_request", "/v1/accounts/:account_id"],
      [() => send("POST", `/v1/accounts/${f.accountId}/licenses:batch`, { token: f.key, body: "x".repeat(1024 * 1024 + 1) }), 413, "payload_too_large", "/v1/accounts/:account_id/licenses:batch"],
      [() => send("GET", "/v1/nothing-here", { token: f.key }), 404, "not_found", "(none)"],
      [() => send("GET", `/v1/accounts/${f.accountId}`, { token: f.key, environment: { ...env, OPERATOR_TOKEN: "" } }), 503, "not_configured", "/v1/accounts/:account_id"],
    ];
    const replies = [];
    for (const [res, status, code, route] of cases) {
      const r = await res();
      replies.push(r);
      expect(r.status).toBe(status);
      const line = requestLines().at(-1);
      expect(line, code).toMatchObject({ status, code, route });
      expect(r.headers.get("x-request-id")).toBe(line.request_id);
    }
    expect(requestLines()).toHaveLength(cases.length);
    expect(requestLines()[0].account_id).toBe(f.accountId);
  });

  it("never a token, key, ticket or Authorization value, even when a client sends one as its request id", async () => {
    const f = await newAccount();
    await putPool(f, "premium-concurrent", 2);
    const [user] = await licensedUsers(f, "premium-concurrent", 1);
    const token = await agentToken(f, user);
    const ticket = (await replyOf(api(token).seats["connect-ticket"].$post({ json: { session_id: "desk-1" } }))).body.ticket as string;
    lines = [];
    await send("GET", `/v1/accounts/${f.accountId}/pools`, { token: f.key, headers: { "x-request-id": f.key } });
    await send("POST", "/v1/seats/checkout", { token, headers: { "x-request-id": token }, body: { session_id: "desk-2" } });
    await send("GET", "/v1/accounts", { token: OPERATOR, headers: { "x-request-id": OPERATOR } });
    await send("GET", `/v1/seats/connect?ticket=${encodeURIComponent(ticket)}`, { headers: { "x-request-id": ticket } }); // no upgrade: 426
    await send("POST", `/v1/accounts/${f.accountId}/api-keys`, { token: f.key, headers: { "idempotency-key": "idem-secret-ish" }, body: { name: "n" } });
    await send("GET", "/v1/me", { token: `${token}x` });
    const logged = requestLines();
    expect(logged).toHaveLength(6);
    const text = lines.join("\n");
    for (const secret of [f.key, token, OPERATOR, ticket, ticket.split(".")[0], "Bearer", "authorization", "idem-secret-ish", "?ticket"]) {
      expect(text, `the log shows ${secret.slice(0, 12)}…`).not.toContain(secret);
    }
    // Each credential sent as the request id was replaced by a fresh one.
    for (const line of logged) expect(line.request_id).toMatch(UUID);
    expect(logged[3]).toMatchObject({ route: "/v1/seats/connect", status: 426, code: "upgrade_required", account_id: null });
    expect(logged[1]).toMatchObject({ route: "/v1/seats/checkout", account_id: f.accountId, status: 200 });
  });

  it("the presence socket's 101 carries the id too", async () => {
    const f = await newAccount();
    await putPool(f, "premium-concurrent", 2);
    const [user] = await licensedUsers(f, "premium-concurrent", 1);
    const token = await agentToken(f, user);
    const ticket = (await replyOf(api(token).seats["connect-ticket"].$post({ json: { session_id: "desk-1" } }))).body.ticket as string;
    lines = [];
    const socket = await openSocket(ticket, { headers: { upgrade: "websocket", "x-request-id": "sock-1" } });
    expect(requestLines()).toEqual([expect.objectContaining({ request_id: "sock-1", route: "/v1/seats/connect", status: 101 })]);
    socket.ws.close(1000, "bye");
  });
});
