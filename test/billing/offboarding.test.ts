/**
 * Offboarding, `DELETE /v1/accounts/{account_id}` (docs/architecture.md#offboarding, decision 112):
 * the running cycle ends now and is billed like any other; everything else of the account leaves
 * D1 and its object; its keys and agent tokens are refused; another account is never touched; a
 * DELETE that fails half-way is completed by the next one.
 */
import { createExecutionContext, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import worker from "../../src/index";
import { summaryEventId } from "../../src/billing/consumers";
import { cycleContaining } from "../../src/domain/cycles";
import type { AccountSeats } from "../../src/seats/account-seats";
import { agentToken, api, call, expectProblem, licensedUsers, newAccount, OPERATOR, putPool, replyOf, seatsStub, type Fixture, type Reply } from "../helpers";
import { harness, runQueue, runScheduled, storedEvents, storedSummaries, type Harness } from "./support";

const HOOK = "https://hooks.example.test/offboarding";
const SECRET = "whsec_0123456789abcdef";

afterEach(() => {
  vi.restoreAllMocks();
});

/** The tables an account's data lives in, with how each names the account. */
const TABLES = [
  "api_keys",
  "users",
  "licenses",
  "addon_assignments",
  "addon_purchases",
  "pools",
  "overage_intervals",
  "audit_log",
  "scim_users",
  "scim_groups",
  "scim_group_members",
  "provisioning_rules",
  "account_prices",
  "idempotency_keys",
  "billing_summaries",
  "webhook_events",
];

async function rowsIn(accountId: string): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const table of TABLES) {
    const row = await env.DB.prepare(`SELECT count(*) AS n FROM ${table} WHERE account_id = ?`).bind(accountId).first<{ n: number }>();
    out[table] = row!.n;
  }
  return out;
}

/** Everything D1 holds of the account, row by row (to show another account is not touched). */
async function dumpOf(accountId: string): Promise<Record<string, unknown[]>> {
  const out: Record<string, unknown[]> = {};
  for (const table of ["accounts", ...TABLES]) {
    const column = table === "accounts" ? "id" : "account_id";
    out[table] = (await env.DB.prepare(`SELECT * FROM ${table} WHERE ${column} = ? ORDER BY 1, 2`).bind(accountId).all()).results;
  }
  return out;
}

/** The rows of the object's own SQLite, per table (schema bookkeeping aside), and its alarm. */
async function objectStorage(f: Fixture): Promise<{ rows: Record<string, number>; alarm: number | null }> {
  return runInDurableObject<AccountSeats, { rows: Record<string, number>; alarm: number | null }>(seatsStub(f), async (_instance, state) => {
    const rows: Record<string, number> = {};
    const tables = state.storage.sql.exec<{ name: string }>("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_cf_%'").toArray();
    for (const { name } of tables) rows[name] = state.storage.sql.exec<{ n: number }>(`SELECT count(*) AS n FROM "${name}"`).one().n;
    return { rows, alarm: await state.storage.getAlarm() };
  });
}

async function send(h: Harness, method: string, path: string, token: string, body?: unknown, extra: Record<string, string> = {}): Promise<Reply> {
  const headers: Record<string, string> = { authorization: `Bearer ${token}`, ...extra };
  if (body !== undefined) headers["content-type"] = "application/json";
  const res = await worker.fetch(new Request(`http://seatkeeper.test${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) }), h.env, createExecutionContext());
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null, headers: res.headers };
}

/** D1 that refuses the purge batch (the large one) once. */
function purgeFailsOnce(): D1Database & { failuresLeft(): number } {
  let failures = 1;
  return new Proxy(env.DB, {
    get(target, prop) {
      if (prop === "failuresLeft") return () => failures;
      if (prop === "batch")
        return async (statements: D1PreparedStatement[]) => {
          if (statements.length > 5 && failures > 0) {
            failures--;
            throw new Error("D1_ERROR: Network connection lost.");
          }
          return target.batch(statements);
        };
      const value = Reflect.get(target, prop);
      return typeof value === "function" ? value.bind(target) : value;
    },
  }) as D1Database & { failuresLeft(): number };
}

/** An account with a pool, two licensed users, an add-on, a webhook, and one agent holding a seat. */
async function busyAccount(): Promise<{ f: Fixture; token: string; users: string[] }> {
  const f = await newAccount();
  await putPool(f, "premium-concurrent", 5);
  const users = await licensedUsers(f, "premium-concurrent", 2);
  expect((await replyOf(api(f.key).accounts[":account_id"].addons[":product"].$put({ param: { account_id: f.accountId, product: "workforce_management" }, json: { quantity: 3 } }))).status).toBe(200);
  // Untyped on purpose: a body this route does not take, through `call`, since the typed client would not send it.
  expect((await call("PUT", `/v1/accounts/${f.accountId}/users/${users[0]}/addons/workforce_management`, f.key, { source: "purchased" })).status).toBe(200);
  expect((await replyOf(api(f.key).accounts[":account_id"].webhook.$put({ param: { account_id: f.accountId }, json: { url: HOOK, secret: SECRET } }))).status).toBe(200);
  const token = await agentToken(f, users[0]);
  expect((await replyOf(api(token).seats.checkout.$post({ json: { session_id: "desk-1" } }))).status).toBe(200);
  return { f, token, users };
}

describe("DELETE /v1/accounts/{account_id}", () => {
  it("offboards one account: the last cycle billed short, everything else gone from D1 and its object; the other account intact", async () => {
    const h = harness();
    const [a, b] = [await busyAccount(), await busyAccount()];
    const bBefore = await dumpOf(b.f.accountId);
    const bObjectBefore = await objectStorage(b.f);
    const aObjectBefore = await objectStorage(a.f);
    expect(Object.values(aObjectBefore.rows).reduce((x, y) => x + y, 0), "the object held rows before").toBeGreaterThan(5);
    const before = Date.now();

    const res = await send(h, "DELETE", `/v1/accounts/${a.f.accountId}`, OPERATOR);
    expect(res.status).toBe(204);

    // The short last cycle: from the cycle's start to the deletion, summarized and queued for the webhook.
    const created = Date.parse((bBefore.accounts[0] as { created_at: string }).created_at);
    const cycle = cycleContaining(created, 1);
    const [summary] = await storedSummaries(a.f);
    expect(summary.cycle_start).toBe(new Date(cycle.start).toISOString());
    expect(Date.parse(summary.cycle_end)).toBeGreaterThanOrEqual(before);
    expect(Date.parse(summary.cycle_end)).toBeLessThan(cycle.end);
    expect(summary.final).toBe(true);
    expect(summary.pools.find((p: { pool: string }) => p.pool === "premium-concurrent")).toBeDefined();
    const eventId = summaryEventId(summary.cycle_start);
    expect(h.events.sent).toContainEqual({ account_id: a.f.accountId, event_id: eventId });

    // The operator still reads the summaries and the deliveries; the webhook gets the summary like any other.
    const read = await call("GET", `/v1/accounts/${a.f.accountId}/billing/summaries`, OPERATOR);
    expect(read.status).toBe(200);
    expect(read.body.items.map((s: { cycle_end: string }) => s.cycle_end)).toEqual([summary.cycle_end]);
    const received: string[] = [];
    vi.spyOn(globalThis, "fetch").mockImplementation(async (input: RequestInfo | URL, init?: RequestInit) => {
      received.push(await new Request(input, init).text());
      return new Response("ok", { status: 200 });
    });
    await runQueue(h, "seatkeeper-events", [{ account_id: a.f.accountId, event_id: eventId }]);
    expect(received.map((body) => JSON.parse(body).id)).toEqual([eventId]);
    const deliveries = await call("GET", `/v1/accounts/${a.f.accountId}/webhook/deliveries`, OPERATOR);
    expect(deliveries.status).toBe(200);
    expect(deliveries.body.items.find((d: { id: string }) => d.id === eventId)).toMatchObject({ status: "delivered" });

    // D1: only the summaries and the webhook events are left (and the account's row, marked).
    const left = await rowsIn(a.f.accountId);
    for (const table of TABLES) if (table !== "billing_summaries" && table !== "webhook_events") expect(left[table], table).toBe(0);
    expect(left.billing_summaries).toBe(1);
    // Its object: no row in any table but its schema bookkeeping, no alarm.
    const storage = await objectStorage(a.f);
    for (const [table, n] of Object.entries(storage.rows)) if (!["meta", "schema_version"].includes(table)) expect(n, table).toBe(0);
    expect(storage.alarm).toBeNull();

    // Refused: its key (401), its agent token (401), every other route for the operator (404), a second DELETE (404).
    expectProblem(await call("GET", `/v1/accounts/${a.f.accountId}`, a.f.key), 401, "unauthorized");
    expectProblem(await replyOf(api(a.token).seats.checkout.$post({ json: { session_id: "desk-1" } })), 401, "unauthorized");
    expectProblem(await call("GET", "/v1/me", a.token), 401, "unauthorized");
    expectProblem(await call("GET", `/v1/accounts/${a.f.accountId}`, OPERATOR), 404, "not_found");
    expectProblem(await call("GET", `/v1/accounts/${a.f.accountId}/pools`, OPERATOR), 404, "not_found");
    expectProblem(await send(h, "DELETE", `/v1/accounts/${a.f.accountId}`, OPERATOR), 404, "not_found");
    // Its id stays taken: its summaries are kept under it.
    expectProblem(await replyOf(api(OPERATOR).accounts.$post({ json: { id: a.f.accountId, name: "again" } })), 409, "already_exists");

    // The other account: every row as it was, its object and its agent as before.
    expect(await dumpOf(b.f.accountId)).toEqual(bBefore);
    expect((await objectStorage(b.f)).rows).toEqual(bObjectBefore.rows);
    expect((await replyOf(api(b.token).seats.heartbeat.$post({ json: { session_id: "desk-1" } }))).status).toBe(200);
    expect((await call("GET", `/v1/accounts/${b.f.accountId}/pools`, b.f.key)).body.items[0]).toMatchObject({ id: "premium-concurrent", active: 1 });

    // The scheduler skips it: months later, only the other account's cycles are queued.
    await runScheduled(h, cycle.end + 70 * 24 * 3600 * 1000);
    expect(h.billing.sent.filter((m) => m.account_id === a.f.accountId)).toEqual([]);
    expect(h.billing.sent.filter((m) => m.account_id === b.f.accountId).length).toBeGreaterThan(0);
  });

  it("only the operator may delete an account; an account that does not exist is 404", async () => {
    const h = harness();
    const { f } = await busyAccount();
    expectProblem(await send(h, "DELETE", `/v1/accounts/${f.accountId}`, f.key), 403, "forbidden");
    const other = await newAccount();
    expectProblem(await send(h, "DELETE", `/v1/accounts/${f.accountId}`, other.key), 403, "forbidden");
    expectProblem(await send(h, "DELETE", `/v1/accounts/acct-nobody-here`, OPERATOR), 404, "not_found");
    expect((await call("GET", `/v1/accounts/${f.accountId}`, f.key)).status).toBe(200);
    expect(await storedSummaries(f)).toEqual([]);
  });

  it("a DELETE sent again with its Idempotency-Key gets its 204 back (replayed, not run again); every other key of the account is gone", async () => {
    const h = harness();
    const { f } = await busyAccount();
    // Keys the account's admin and the operator spent on the account before: purged with it.
    expect((await send(h, "PUT", `/v1/accounts/${f.accountId}/pools/premium-concurrent`, f.key, { quantity: 6 }, { "idempotency-key": "admin-put" })).status).toBe(200);
    expect((await send(h, "PUT", `/v1/accounts/${f.accountId}/pools/premium-concurrent`, OPERATOR, { quantity: 7 }, { "idempotency-key": "operator-put" })).status).toBe(200);
    expect((await rowsIn(f.accountId)).idempotency_keys).toBe(2);

    const key = { "idempotency-key": "offboard-1" };
    const first = await send(h, "DELETE", `/v1/accounts/${f.accountId}`, OPERATOR, undefined, key);
    expect(first.status).toBe(204);
    expect(first.headers.get("idempotent-replayed")).toBeNull();
    const again = await send(h, "DELETE", `/v1/accounts/${f.accountId}`, OPERATOR, undefined, key);
    expect(again.status).toBe(204);
    expect(again.headers.get("idempotent-replayed")).toBe("true");
    // Not run twice: one short last cycle, one event.
    expect(await storedSummaries(f)).toHaveLength(1);
    expect((await storedEvents(f, "billing.summary")).length).toBe(1);
    // Only the DELETE's own answer is left of the account's keys (it expires in 24 h like any other).
    const rows = (await env.DB.prepare("SELECT scope, status, body FROM idempotency_keys WHERE account_id = ?").bind(f.accountId).all()).results;
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ scope: "operator", status: 204 });
    // Without the key, or with another, the account is gone: 404.
    expectProblem(await send(h, "DELETE", `/v1/accounts/${f.accountId}`, OPERATOR), 404, "not_found");
    expectProblem(await send(h, "DELETE", `/v1/accounts/${f.accountId}`, OPERATOR, undefined, { "idempotency-key": "offboard-2" }), 404, "not_found");
  });

  it("a D1 failure half-way answers 503 outcome_unknown; the account is already refused; the next DELETE completes it, once", async () => {
    const h = harness();
    const [a, b] = [await busyAccount(), await busyAccount()];
    const bBefore = await dumpOf(b.f.accountId);
    const flaky = purgeFailsOnce();
    const failing = { ...h, env: { ...h.env, DB: flaky } };
    const first = await send(failing, "DELETE", `/v1/accounts/${a.f.accountId}`, OPERATOR);
    expectProblem(first, 503, "outcome_unknown");
    expect(flaky.failuresLeft()).toBe(0);
    // Half-way: refused to its key and agents, the summary stored, the data not yet purged, the object not yet wiped.
    expectProblem(await call("GET", `/v1/accounts/${a.f.accountId}`, a.f.key), 401, "unauthorized");
    expectProblem(await replyOf(api(a.token).seats.heartbeat.$post({ json: { session_id: "desk-1" } })), 401, "unauthorized");
    const summaries = await storedSummaries(a.f);
    expect(summaries).toHaveLength(1);
    expect((await rowsIn(a.f.accountId)).users).toBe(2);

    expect((await send(h, "DELETE", `/v1/accounts/${a.f.accountId}`, OPERATOR)).status).toBe(204);
    // The same last cycle, billed once.
    expect(await storedSummaries(a.f)).toEqual(summaries);
    expect((await storedEvents(a.f, "billing.summary")).length).toBe(1);
    const left = await rowsIn(a.f.accountId);
    expect(left.users + left.api_keys + left.licenses + left.pools + left.audit_log).toBe(0);
    expectProblem(await send(h, "DELETE", `/v1/accounts/${a.f.accountId}`, OPERATOR), 404, "not_found");
    expect(await dumpOf(b.f.accountId)).toEqual(bBefore);
  });
  it("an object reset between a DELETE that failed half-way and its retry wakes refusing agents, before it has read D1", async () => {
    const h = harness();
    const { f, token } = await busyAccount();
    const failing = { ...h, env: { ...h.env, DB: purgeFailsOnce() } };
    expectProblem(await send(failing, "DELETE", `/v1/accounts/${f.accountId}`, OPERATOR), 503, "outcome_unknown");
    // Evicted before the retry; it wakes from its own SQLite, and D1 cannot tell it the account is
    // deleted yet (its background version check fails while the accounts table is away).
    await runInDurableObject(seatsStub(f), (_i, state) => state.abort("evicted")).catch(() => undefined);
    await env.DB.prepare("ALTER TABLE accounts RENAME TO accounts_away").run();
    try {
      expectProblem(await replyOf(api(token).seats.checkout.$post({ json: { session_id: "desk-2" } })), 401, "unauthorized");
    } finally {
      await env.DB.prepare("ALTER TABLE accounts_away RENAME TO accounts").run();
    }
    expect((await send(h, "DELETE", `/v1/accounts/${f.accountId}`, OPERATOR)).status).toBe(204);
    expectProblem(await replyOf(api(token).seats.checkout.$post({ json: { session_id: "desk-2" } })), 401, "unauthorized");
  });
});
