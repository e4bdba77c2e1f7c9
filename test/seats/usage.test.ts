import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { agentTokens, call, checkout, closedIntervals, licensedUsers, MIN, newAccount, passTime, putPool, release, seatsStub, setClock, T0, type Fixture, api, replyOf } from "../helpers";

const base = (f: Fixture) => `/v1/accounts/${f.accountId}`;
const iso = (t: number) => new Date(t).toISOString();

describe("usage and overages", () => {
  it("buckets max active and the limit over time", async () => {
    const f = await newAccount({ lease_ttl_seconds: 3600 });
    await setClock(f, T0 - MIN);
    await putPool(f, "premium-concurrent", 2);
    const tokens = await agentTokens(f, await licensedUsers(f, "premium-concurrent", 3));
    await setClock(f, T0 + 10_000);
    await checkout(tokens[0]);
    await setClock(f, T0 + MIN + 5_000);
    await checkout(tokens[1]);
    await checkout(tokens[2]);
    await setClock(f, T0 + MIN + 20_000);
    await release(tokens[2]);
    await setClock(f, T0 + 2 * MIN + 1);
    await putPool(f, "premium-concurrent", 5);
    const res = await call("GET", `${base(f)}/pools/premium-concurrent/usage?from=${iso(T0)}&to=${iso(T0 + 4 * MIN)}&step_seconds=60`, f.key);
    expect(res.status).toBe(200);
    expect(res.body.items).toEqual([
      { t: iso(T0), max_active: 1, limit: 2, denied: 0 },
      { t: iso(T0 + MIN), max_active: 3, limit: 2, denied: 0 },
      { t: iso(T0 + 2 * MIN), max_active: 2, limit: 5, denied: 0 },
      { t: iso(T0 + 3 * MIN), max_active: 2, limit: 5, denied: 0 },
    ]);
    // The same buckets in columns: bucket k starts at from + k × step_seconds.
    const columnar = await call("GET", `${base(f)}/pools/premium-concurrent/usage?from=${iso(T0)}&to=${iso(T0 + 4 * MIN)}&step_seconds=60&format=columnar`, f.key);
    expect(columnar.body).toEqual({ from: iso(T0), step_seconds: 60, max_active: [1, 3, 2, 2], limit: [2, 2, 5, 5], denied: [0, 0, 0, 0] });
    // 30 days of minutes: 43,200 buckets, well under 1 MB.
    const month = await call("GET", `${base(f)}/pools/premium-concurrent/usage?from=${iso(T0 - 29 * 86_400_000)}&to=${iso(T0 + 86_400_000)}&step_seconds=60&format=columnar`, f.key);
    expect(month.body.max_active).toHaveLength(43_200);
    expect(JSON.stringify(month.body).length).toBeLessThan(1_000_000);
    expect(month.body.max_active[29 * 1440 + 1]).toBe(3);
    expect((await call("GET", `${base(f)}/pools/premium-concurrent/usage?format=xml`, f.key)).status).toBe(400);
    const bad = await call("GET", `${base(f)}/pools/premium-concurrent/usage?from=${iso(T0)}&to=${iso(T0 + 40 * 86_400_000)}&step_seconds=1`, f.key);
    expect(bad.status).toBe(400);
    expect((await call("GET", `${base(f)}/pools/elite-named/usage`, f.key)).status).toBe(404);
    expect((await call("GET", `${base(f)}/pools/gold-named/usage`, f.key)).status).toBe(400);
  });

  it("lists over-limit intervals newest first with cursor pagination, open ones live", async () => {
    const f = await newAccount({ lease_ttl_seconds: 3600, grace_seconds: 0 });
    await putPool(f, "essentials-concurrent", 1);
    const tokens = await agentTokens(f, await licensedUsers(f, "essentials-concurrent", 2));
    for (let i = 0; i < 3; i++) {
      await setClock(f, T0 + i * 10 * MIN);
      await checkout(tokens[0]);
      await checkout(tokens[1]);
      await setClock(f, T0 + i * 10 * MIN + MIN);
      await release(tokens[1]);
      await release(tokens[0]);
    }
    await passTime(f, T0 + 21 * MIN + 1);
    await closedIntervals(f, 3);
    await setClock(f, T0 + 40 * MIN);
    await checkout(tokens[0]);
    await checkout(tokens[1]);
    await setClock(f, T0 + 45 * MIN);
    const first = await call("GET", `${base(f)}/overages?limit=2`, f.key);
    expect(first.body.items.map((i: { started_at: string }) => i.started_at)).toEqual([iso(T0 + 40 * MIN), iso(T0 + 20 * MIN)]);
    expect(first.body.items[0]).toMatchObject({ ended_at: null, billable: true, billable_seat_seconds: 300 });
    const second = await call("GET", `${base(f)}/overages?limit=2&cursor=${first.body.next_cursor}`, f.key);
    expect(second.body.items.map((i: { started_at: string }) => i.started_at)).toEqual([iso(T0 + 10 * MIN), iso(T0)]);
    expect(second.body.next_cursor).toBeNull();
    const windowed = await call("GET", `${base(f)}/overages?from=${iso(T0 + 5 * MIN)}&to=${iso(T0 + 15 * MIN)}`, f.key);
    expect(windowed.body.items).toHaveLength(1);
    expect((await call("GET", `${base(f)}/overages?cursor=garbage`, f.key)).status).toBe(400);
  });

  it("GET /v1/me gives the agent's entitlements", async () => {
    const f = await newAccount();
    await putPool(f, "essentials-named", 1);
    const [u] = await licensedUsers(f, "essentials-named", 1);
    const [token] = await agentTokens(f, [u]);
    const me = await call("GET", "/v1/me", token);
    expect(me.status).toBe(200);
    expect(me.body).toMatchObject({ user_id: u, pool: "essentials-named", tier: "essentials", model: "named" });
    expect(me.body.features.email_channel).toBe(false);
    expect(me.body.features.voice_video_chat_sms).toBe(true);
  });
});

describe("the step log", () => {
  it("prunes steps older than its retention but keeps the state carried in", async () => {
    const f = await newAccount({ lease_ttl_seconds: 3600 });
    const stub = seatsStub(f);
    const DAY = 86_400_000;
    await setClock(f, T0);
    await putPool(f, "premium-concurrent", 2);
    const tokens = await agentTokens(f, await licensedUsers(f, "premium-concurrent", 2));
    await checkout(tokens[0]);
    await setClock(f, T0 + MIN);
    await checkout(tokens[1]);
    await release(tokens[1]);
    await setClock(f, T0 + 500 * DAY);
    await runDurableObjectAlarm(stub);
    const rows = await runInDurableObject(stub, (_i, state) =>
      state.storage.sql.exec<{ t: number; active: number }>("SELECT t, active FROM steps WHERE pool_id = 'premium-concurrent' ORDER BY t").toArray(),
    );
    // Only the last step before the cut survives (plus the expiry of the one lease, an hour later).
    expect(rows.map((r) => r.t)).toEqual([T0 + 3_600_000]);
    const usage = await call("GET", `${base(f)}/pools/premium-concurrent/usage?from=${iso(T0 + 499 * DAY)}&to=${iso(T0 + 499 * DAY + 2 * MIN)}&step_seconds=60`, f.key);
    expect(usage.body.items[0]).toEqual({ t: iso(T0 + 499 * DAY), max_active: 0, limit: 2, denied: 0 });
  });
});

describe("grace_policy", () => {
  it("cumulative: 29 min over, 1 under, 29 over bills the place for 28 minutes; per_overrun would bill nothing", async () => {
    const f = await newAccount({ lease_ttl_seconds: 3600, grace_seconds: 1800, grace_policy: "cumulative" });
    expect((await call("GET", base(f), f.key)).body).toMatchObject({ grace_policy: "cumulative", grace_seconds: 1800 });
    await setClock(f, T0 - MIN);
    await putPool(f, "premium-concurrent", 1);
    const [holder, extra] = await agentTokens(f, await licensedUsers(f, "premium-concurrent", 2));
    await checkout(holder);
    await setClock(f, T0);
    await checkout(extra);
    await setClock(f, T0 + 29 * MIN);
    await release(extra);
    await setClock(f, T0 + 30 * MIN);
    const again = await checkout(extra);
    // 29 minutes gathered: the grace ends after one more minute over (not 30 minutes after this over-run began).
    expect(again.body).toMatchObject({ over_limit: true, grace_ends_at: iso(T0 + 31 * MIN) });
    const inGrace = await call("GET", `${base(f)}/pools/premium-concurrent/seats`, f.key);
    expect(inGrace.body).toMatchObject({ over_limit: true, billable_now: 0, grace_ends_at: iso(T0 + 31 * MIN) });
    expect(inGrace.body.interval).toMatchObject({ started_at: iso(T0 + 30 * MIN), billable: false });
    await passTime(f, T0 + 31 * MIN + 1);
    const seats = await call("GET", `${base(f)}/pools/premium-concurrent/seats`, f.key);
    // The place is billable; the next grace to end is its own again, after the next cycle starts
    // (billing day 1) and takes its gathered time back to zero.
    expect(seats.body).toMatchObject({ billable_now: 1, grace_ends_at: iso(Date.UTC(2030, 1, 1, 0, 30)) });
    expect(seats.body.interval).toMatchObject({ started_at: iso(T0 + 30 * MIN), billable: true, billable_overage_seats: 1 });
    await setClock(f, T0 + 59 * MIN);
    await release(extra);
    await passTime(f, T0 + 59 * MIN + 1);
    const intervals = await closedIntervals(f, 2);
    expect(intervals.map((i: { billable_seat_seconds: number }) => i.billable_seat_seconds)).toEqual([28 * 60, 0]);

    // The same history under per_overrun bills nothing.
    expect((await replyOf(api(f.key).accounts[":account_id"].$patch({ param: { account_id: f.accountId }, json: { grace_policy: "per_overrun" } }))).status).toBe(200);
    expect((await call("GET", base(f), f.key)).body.grace_policy).toBe("per_overrun");
    // Malformed on purpose: through `call`, since the typed client would not compile this body.
    expect((await call("PATCH", base(f), f.key, { grace_policy: "sometimes" })).status).toBe(400);
  });
});
