import { createExecutionContext, runDurableObjectAlarm, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import worker from "../../src/index";
import { storedEvents } from "../billing/support";
import {
  agentToken,
  agentTokens,
  api,
  call,
  checkout,
  eventually,
  expectProblem,
  licensedUsers,
  MIN,
  newAccount,
  passTime,
  putPool,
  putUsers,
  release,
  replyOf,
  seatsStub,
  setClock,
  T0,
  type Fixture,
} from "../helpers";

const acct = (f: Fixture, rest = "") => `/v1/accounts/${f.accountId}${rest}`;
const iso = (t: number) => new Date(t).toISOString();

/** A checkout through the Worker with an agent rate limiter that refuses everything. */
async function checkoutRateLimited(token: string): Promise<number> {
  const limited = { ...env, AGENT_RATE_LIMITER: { limit: async () => ({ success: false }) } };
  const ctx = createExecutionContext();
  const res = await worker.fetch(
    new Request("http://seatkeeper.test/v1/seats/checkout", { method: "POST", headers: { authorization: `Bearer ${token}`, "content-type": "application/json" }, body: JSON.stringify({ session_id: "desk-1" }) }),
    limited as never,
    ctx,
  );
  await waitOnExecutionContext(ctx);
  return res.status;
}

/**
 * One account, one minute of every kind of refusal: elite-concurrent has a ceiling of 1 and a
 * per-user cap of 1 session; `nolic` has no license; `limited` is refused at the edge.
 */
async function refusals() {
  const f = await newAccount({ lease_ttl_seconds: 3600 });
  expect((await replyOf(api(f.key).accounts[":account_id"].$patch({ param: { account_id: f.accountId }, json: { max_sessions_per_user: 1 } }))).status).toBe(200);
  await setClock(f, T0 - MIN);
  await putPool(f, "elite-concurrent", 1, 1);
  const [a, b, limited] = await agentTokens(f, await licensedUsers(f, "elite-concurrent", 3));
  await putUsers(f, ["nolic"]);
  const nolic = await agentToken(f, "nolic");
  await setClock(f, T0 + 10_000);
  expect((await checkout(a)).status).toBe(200);
  await setClock(f, T0 + 20_000);
  expectProblem(await checkout(b), 409, "pool_at_ceiling");
  await setClock(f, T0 + 30_000);
  expectProblem(await checkout(nolic), 403, "no_license");
  await setClock(f, T0 + 35_000);
  // A second desk of `a` beyond the cap of 1: the first is evicted (a refusal of `a`'s old session).
  expect((await checkout(a, "desk-2")).status).toBe(200);
  await setClock(f, T0 + 40_000);
  expectProblem(await checkout(b), 409, "pool_at_ceiling");
  await setClock(f, T0 + 50_000);
  expect(await checkoutRateLimited(limited)).toBe(429);
  // The edge reports at most once a minute per agent and isolate; the object counts one per user-minute.
  expect(await checkoutRateLimited(limited)).toBe(429);
  return { f, a, b, limited, nolic };
}

describe("denials", () => {
  it("every refused checkout is counted per pool per minute: usage `denied`, the denials list, CSV, the preview", async () => {
    const { f, a, b } = await refusals();
    // b gets a seat 2 min 20 s after its last refusal: not a true denial. nolic never does.
    await setClock(f, T0 + 2 * MIN);
    expect((await release(a, "desk-2")).status).toBe(204);
    await setClock(f, T0 + 3 * MIN);
    expect((await checkout(b)).status).toBe(200);

    const usage = await call("GET", acct(f, `/pools/elite-concurrent/usage?from=${iso(T0)}&to=${iso(T0 + 4 * MIN)}&step_seconds=60`), f.key);
    expect(usage.status).toBe(200);
    // Minute 0: b twice (ceiling), a's evicted session, the rate-limited checkout once.
    expect(usage.body.items.map((i: { denied: number }) => i.denied)).toEqual([4, 0, 0, 0]);
    const columnar = await call("GET", acct(f, `/pools/elite-concurrent/usage?from=${iso(T0)}&to=${iso(T0 + 4 * MIN)}&step_seconds=120&format=columnar`), f.key);
    expect(columnar.body.denied).toEqual([4, 0]);

    // Before 5 minutes have passed for nolic and limited: undecided; b got a seat: false.
    await setClock(f, T0 + 4 * MIN);
    const early = await call("GET", acct(f, `/denials?from=${iso(T0)}&to=${iso(T0 + 10 * MIN)}`), f.key);
    expect(early.status).toBe(200);
    expect(early.body.items).toEqual([
      { user_id: "agent-0", pool: "elite-concurrent", at: iso(T0 + 35_000), reason: "session_evicted", refusals: 1, true_denial: false },
      { user_id: "agent-1", pool: "elite-concurrent", at: iso(T0 + 40_000), reason: "pool_at_ceiling", refusals: 2, true_denial: false },
      { user_id: "agent-2", pool: "elite-concurrent", at: iso(T0 + 50_000), reason: "rate_limited", refusals: 1, true_denial: null },
      { user_id: "nolic", pool: null, at: iso(T0 + 30_000), reason: "no_license", refusals: 1, true_denial: null },
    ]);
    expect(early.body.next_cursor).toBeNull();
    await setClock(f, T0 + 6 * MIN);
    const later = await call("GET", acct(f, `/denials?from=${iso(T0)}&to=${iso(T0 + 10 * MIN)}`), f.key);
    expect(later.body.items.map((d: { true_denial: boolean }) => d.true_denial)).toEqual([false, false, true, true]);

    // Pool filter; `none` is the users with no license.
    const none = await call("GET", acct(f, `/denials?from=${iso(T0)}&to=${iso(T0 + 10 * MIN)}&pool=none`), f.key);
    expect(none.body.items.map((d: { user_id: string }) => d.user_id)).toEqual(["nolic"]);
    const other = await call("GET", acct(f, `/denials?from=${iso(T0)}&to=${iso(T0 + 10 * MIN)}&pool=premium-concurrent`), f.key);
    expect(other.body.items).toEqual([]);
    // A window after the refusals holds none.
    expect((await call("GET", acct(f, `/denials?from=${iso(T0 + MIN)}&to=${iso(T0 + 10 * MIN)}`), f.key)).body.items).toEqual([]);

    // Cursor pagination walks every user once.
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: { body: { items: { user_id: string }[]; next_cursor: string | null } } = await call(
        "GET",
        acct(f, `/denials?from=${iso(T0)}&to=${iso(T0 + 10 * MIN)}&limit=1${cursor ? `&cursor=${cursor}` : ""}`),
        f.key,
      );
      seen.push(...page.body.items.map((d) => d.user_id));
      cursor = page.body.next_cursor;
    } while (cursor);
    expect(seen).toEqual(["agent-0", "agent-1", "agent-2", "nolic"]);
    expectProblem(await call("GET", acct(f, `/denials?cursor=not*a*cursor`), f.key), 400, "invalid_request");
    expectProblem(await call("GET", acct(f, `/denials?pool=elite-everything`), f.key), 400, "invalid_request");
    expectProblem(await call("GET", acct(f, `/denials?from=${iso(T0 + MIN)}&to=${iso(T0)}`), f.key), 400, "invalid_request");

    // CSV: the same rows, streamed.
    const csv = await fetchCsv(f, `/denials?from=${iso(T0)}&to=${iso(T0 + 10 * MIN)}`);
    expect(csv[0]).toEqual(["user_id", "pool", "at", "reason", "refusals", "true_denial"]);
    expect(csv.slice(1).map((r) => [r[0], r[1], r[3], r[5]])).toEqual([
      ["agent-0", "elite-concurrent", "session_evicted", "false"],
      ["agent-1", "elite-concurrent", "pool_at_ceiling", "false"],
      ["agent-2", "elite-concurrent", "rate_limited", "true"],
      ["nolic", "", "no_license", "true"],
    ]);
    const usageCsv = await fetchCsv(f, `/pools/elite-concurrent/usage?from=${iso(T0)}&to=${iso(T0 + 2 * MIN)}&step_seconds=60&format=csv`);
    expect(usageCsv.map((r) => r[3])).toEqual(["denied", "4", "0"]);

    // The preview's lines: per pool denials and distinct users, and the unlicensed apart.
    const preview = await call("GET", acct(f, "/billing/preview"), f.key);
    expect(preview.status).toBe(200);
    expect(preview.body.pools.find((p: { pool: string }) => p.pool === "elite-concurrent")).toMatchObject({ denials: 4, users_denied: 3 });
    expect(preview.body).toMatchObject({ unlicensed_denials: 1, unlicensed_users_denied: 1 });

    // Another account sees none of it.
    const g = await newAccount();
    expectProblem(await call("GET", acct(f, "/denials"), g.key), 404, "not_found");
  });

  it("seat.denied: one event per pool and minute once the minute is over, with its counts; a retried alarm sends nothing twice", async () => {
    const { f, b } = await refusals();
    await passTime(f, T0 + MIN + 1);
    await runDurableObjectAlarm(seatsStub(f));
    const events = await eventually(async () => {
      const rows = await storedEvents(f, "seat.denied");
      if (rows.length < 2) throw new Error(`only ${rows.length} seat.denied`);
      return rows;
    });
    expect(events.map((e) => e.id).sort()).toEqual([`evt_denied_elite-concurrent_${T0}`, `evt_denied_none_${T0}`]);
    const pooled = JSON.parse(events.find((e) => e.id.includes("elite"))!.body);
    expect(pooled).toMatchObject({
      type: "seat.denied",
      data: {
        pool: "elite-concurrent",
        minute_start: iso(T0),
        minute_end: iso(T0 + MIN),
        denials: 4,
        users_denied: 3,
        by_reason: { no_license: 0, pool_at_ceiling: 2, session_evicted: 1, rate_limited: 1 },
      },
    });
    expect(JSON.parse(events.find((e) => e.id.includes("none"))!.body).data).toMatchObject({ pool: null, denials: 1, users_denied: 1, by_reason: { no_license: 1 } });
    // Later alarms and a new refusal in a later minute: only that minute's event is added.
    await setClock(f, T0 + 2 * MIN + 5_000);
    expectProblem(await checkout(b), 409, "pool_at_ceiling");
    await passTime(f, T0 + 3 * MIN);
    await passTime(f, T0 + 4 * MIN);
    const all = await eventually(async () => {
      const rows = await storedEvents(f, "seat.denied");
      if (rows.length < 3) throw new Error(`only ${rows.length} seat.denied`);
      return rows;
    });
    expect(all.map((e) => e.id).sort()).toEqual([`evt_denied_elite-concurrent_${T0}`, `evt_denied_elite-concurrent_${T0 + 2 * MIN}`, `evt_denied_none_${T0}`]);
    expect(JSON.parse(all.find((e) => e.id.endsWith(String(T0 + 2 * MIN)))!.body).data).toMatchObject({ denials: 1, users_denied: 1, by_reason: { pool_at_ceiling: 1 } });
  });
});

async function fetchCsv(f: Fixture, path: string): Promise<string[][]> {
  const res = await worker.fetch(new Request(`http://seatkeeper.test${acct(f, path)}`, { headers: { authorization: `Bearer ${f.key}`, accept: "text/csv" } }), env, createExecutionContext());
  expect(res.status).toBe(200);
  expect(res.headers.get("content-type")).toMatch(/^text\/csv/);
  const text = await res.text();
  return text
    .split("\r\n")
    .filter((l) => l !== "")
    .map((l) => l.split(","));
}
