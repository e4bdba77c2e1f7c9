import { createExecutionContext, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { hc } from "hono/client";
import type { AppType } from "../src/app";
import type { PoolId } from "../src/domain/catalog";
import worker from "../src/index";
import type { AccountSeats } from "../src/seats/account-seats";
import { expect } from "vitest";

/**
 * Test helpers: call the Worker in-process and set accounts up through the public API.
 * Requests go straight to the Worker's fetch handler (the same code `exports.default.fetch`
 * reaches): the self-service-binding hop costs ~100 ms per request under parallel load in
 * vitest-pool-workers, which would make the race tests slow without testing anything more.
 */

export const OPERATOR = "test-operator-token-0123456789abcdef0123456789abcdef";

let counter = 0;
/** A fresh id per call: storage is shared by the tests of a file, so every test makes its own account. */
export const uniqueId = (prefix: string) => `${prefix}-${Date.now().toString(36)}-${(counter++).toString(36)}`;

/** The Worker's fetch handler, in-process (see above). */
export const fetchWorker = (input: RequestInfo | URL, init?: RequestInit) => worker.fetch(new Request(input, init), env, createExecutionContext());

/**
 * The typed client (`hc<AppType>`) with this credential: a test that posts a well-formed body goes
 * through it, so a body that does not match the route's schema does not compile. Deliberately
 * malformed bodies go through `call`.
 */
export const api = (token?: string | null) =>
  hc<AppType>("http://seatkeeper.test", { fetch: fetchWorker, headers: token ? { authorization: `Bearer ${token}` } : {} }).v1;

/** A typed client reply as a `Reply` (body parsed; problem+json included). */
type Readable = { status: number; headers: Headers; text(): Promise<string> };
export async function replyOf<T = any>(res: Readable | PromiseLike<Readable>): Promise<Reply<T>> {
  const r = await res;
  const text = await r.text();
  let parsed: unknown = text;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    // not JSON: keep the text
  }
  return { status: r.status, body: parsed as T, headers: r.headers };
}

export interface Reply<T = any> {
  status: number;
  body: T;
  headers: Headers;
}

export async function call<T = any>(method: string, path: string, token?: string | null, body?: unknown): Promise<Reply<T>> {
  const headers: Record<string, string> = {};
  if (token) headers.authorization = `Bearer ${token}`;
  let payload: string | undefined;
  if (body !== undefined) {
    headers["content-type"] = "application/json";
    payload = typeof body === "string" ? body : JSON.stringify(body);
  }
  const res = await worker.fetch(new Request(`http://seatkeeper.test${path}`, { method, headers, body: payload }), env, createExecutionContext());
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    // not JSON: keep the text
  }
  return { status: res.status, body: parsed as T, headers: res.headers };
}

export interface Fixture {
  accountId: string;
  key: string;
  keyId: string;
}

/** An account with one API key. */
export async function newAccount(settings: { billing_day?: number; grace_seconds?: number; grace_policy?: "per_overrun" | "cumulative"; lease_ttl_seconds?: number; reconnect_grace_seconds?: number } = {}): Promise<Fixture> {
  const accountId = uniqueId("acct");
  const created = await replyOf(api(OPERATOR).accounts.$post({ json: { id: accountId, name: `Test ${accountId}`, ...settings } }));
  if (created.status !== 201) throw new Error(`account create failed: ${JSON.stringify(created.body)}`);
  const key = await replyOf(api(OPERATOR).accounts[":account_id"]["api-keys"].$post({ param: { account_id: accountId }, json: { name: "test" } }));
  if (key.status !== 201) throw new Error(`key create failed: ${JSON.stringify(key.body)}`);
  return { accountId, key: key.body.key, keyId: key.body.id };
}

export async function putPool(f: Fixture, pool: PoolId, quantity: number, maxActive?: number) {
  const res = await replyOf(
    api(f.key).accounts[":account_id"].pools[":pool_id"].$put({
      param: { account_id: f.accountId, pool_id: pool },
      json: { quantity, ...(maxActive ? { max_active: maxActive } : {}) },
    }),
  );
  if (res.status !== 200) throw new Error(`pool put failed: ${JSON.stringify(res.body)}`);
  return res.body;
}

/** Creates users `${prefix}-0..n-1` and assigns them to `pool` in one batch. */
export async function licensedUsers(f: Fixture, pool: PoolId, n: number, prefix = "agent"): Promise<string[]> {
  const ids = Array.from({ length: n }, (_, i) => `${prefix}-${i}`);
  await putUsers(f, ids);
  if (n > 0) {
    const res = await replyOf(
      api(f.key).accounts[":account_id"]["licenses:batch"].$post({
        param: { account_id: f.accountId },
        json: { assign: ids.map((user_id) => ({ user_id, pool })) },
      }),
    );
    if (res.status !== 200) throw new Error(`batch failed: ${JSON.stringify(res.body)}`);
  }
  return ids;
}

export async function agentToken(f: Fixture, userId: string): Promise<string> {
  const res = await replyOf(api(f.key).accounts[":account_id"].users[":user_id"]["agent-token"].$post({ param: { account_id: f.accountId, user_id: userId }, json: {} }));
  if (res.status !== 201) throw new Error(`token failed: ${JSON.stringify(res.body)}`);
  return res.body.token;
}

/** Every audit entry of the account, newest first (follows the cursor). */
export async function auditOf(f: Fixture, token: string = f.key): Promise<Array<{ id: number; at: string; actor: string; action: string; target: string; detail: Record<string, unknown> }>> {
  const out = [];
  let cursor: string | null = null;
  do {
    const res: Reply = await call("GET", `/v1/accounts/${f.accountId}/audit?limit=1000${cursor ? `&cursor=${cursor}` : ""}`, token);
    if (res.status !== 200) throw new Error(`audit failed: ${JSON.stringify(res.body)}`);
    out.push(...res.body.items);
    cursor = res.body.next_cursor;
  } while (cursor);
  return out;
}

/** Every user of the account, in id order (follows the cursor). */
export async function usersOf(f: Fixture): Promise<Array<{ id: string; display_name: string | null; email: string | null; pool: string | null; addons: string[]; team: string | null; created_at: string }>> {
  const out = [];
  let cursor: string | null = null;
  do {
    const res: Reply = await call("GET", `/v1/accounts/${f.accountId}/users?limit=1000${cursor ? `&cursor=${cursor}` : ""}`, f.key);
    if (res.status !== 200) throw new Error(`users failed: ${JSON.stringify(res.body)}`);
    out.push(...res.body.items);
    cursor = res.body.next_cursor;
  } while (cursor);
  return out;
}

/** Creates users (no license) one by one. */
export async function putUsers(f: Fixture, ids: string[]): Promise<void> {
  for (const id of ids) {
    const res = await replyOf(api(f.key).accounts[":account_id"].users[":user_id"].$put({ param: { account_id: f.accountId, user_id: id }, json: {} }));
    if (res.status !== 200) throw new Error(`user put failed: ${JSON.stringify(res.body)}`);
  }
}

/** Everything an admin can read about the account's state: to show that a refused request changed nothing. */
export async function stateOf(f: Fixture) {
  const [account, pools, users, audit] = await Promise.all([
    call("GET", `/v1/accounts/${f.accountId}`, f.key),
    call("GET", `/v1/accounts/${f.accountId}/pools`, f.key),
    usersOf(f),
    auditOf(f),
  ]);
  return { account: account.body, pools: pools.body, users, audit };
}

/** Asserts an RFC 9457 problem reply with this status and code. */
export function expectProblem(res: Reply, status: number, code: string): void {
  expect({ status: res.status, code: res.body?.code }, JSON.stringify(res.body)).toEqual({ status, code });
  expect(res.headers.get("content-type")).toMatch(/^application\/problem\+json/);
  expect(res.body).toMatchObject({ type: expect.any(String), title: expect.any(String), status, detail: expect.any(String), code });
  if (code === "invalid_request") {
    expect(Array.isArray(res.body.errors), "invalid_request names the failing fields in `errors`").toBe(true);
    expect(res.body.errors.length).toBeGreaterThan(0);
  }
}

/** The account's Durable Object. */
export const seatsStub = (f: Fixture) => env.SEATS.getByName(f.accountId) as DurableObjectStub<AccountSeats>;

/** Sets the account's DO clock (absolute epoch ms); every seat change is then recorded at that time. */
export async function setClock(f: Fixture, t: number): Promise<void> {
  await runInDurableObject<AccountSeats, void>(seatsStub(f), (instance) => {
    instance.testClock = t;
  });
}

/**
 * Moves the account's clock to t and runs its alarm. An over-limit instant is decided once time
 * has moved past it (docs/licensing.md), so a test lets the clock pass a step before it reads the
 * events or D1's interval rows that step causes.
 */
export async function passTime(f: Fixture, t: number): Promise<void> {
  await setClock(f, t);
  await runDurableObjectAlarm(seatsStub(f));
}

/** A fixed test epoch in the future, so no alarm set in test time fires by itself in real time. */
export const T0 = Date.UTC(2030, 0, 15, 8, 0, 0);
export const MIN = 60_000;

/** Polls until `check` stops throwing (for work the DO finishes after replying, like the outbox). */
export async function eventually<T>(check: () => Promise<T>, timeoutMs = 5_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await check();
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 25));
    }
  }
}

/** Agent tokens for many users, minted in parallel. */
export const agentTokens = (f: Fixture, users: string[]) => Promise.all(users.map((u) => agentToken(f, u)));

export const checkout = (token: string, session_id = "desk-1") => replyOf(api(token).seats.checkout.$post({ json: { session_id } }));
export const release = (token: string, session_id = "desk-1") => replyOf(api(token).seats.release.$post({ json: { session_id } }));
export const heartbeat = (token: string, session_id = "desk-1") => replyOf(api(token).seats.heartbeat.$post({ json: { session_id } }));

/** The closed over-limit intervals D1 received through the outbox (it drains just after the reply). */
export const closedIntervals = (f: Fixture, n: number) =>
  eventually(async () => {
    const res = await call("GET", `/v1/accounts/${f.accountId}/overages`, f.key);
    const closed = res.body.items.filter((i: { ended_at: string | null }) => i.ended_at !== null);
    if (closed.length < n) throw new Error(`only ${closed.length} closed intervals`);
    return closed;
  });
