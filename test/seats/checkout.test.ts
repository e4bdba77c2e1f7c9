import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { AccountSeats } from "../../src/seats/account-seats";
import { agentToken, agentTokens, call, checkout, closedIntervals, eventually, heartbeat, licensedUsers, MIN, newAccount, passTime, putPool, release, seatsStub, setClock, T0, type Fixture, api, replyOf } from "../helpers";

const base = (f: Fixture) => `/v1/accounts/${f.accountId}`;
const poolOf = async (f: Fixture, id: string) =>
  (await call("GET", `${base(f)}/pools`, f.key)).body.items.find((p: { id: string }) => p.id === id);

describe("concurrent checkouts", () => {
  it("105 members of a 100-seat pool all get seats; active is exactly 105", async () => {
    const f = await newAccount();
    await putPool(f, "premium-concurrent", 100);
    const tokens = await agentTokens(f, await licensedUsers(f, "premium-concurrent", 105));
    const replies = await Promise.all(tokens.map((t) => checkout(t)));
    expect(replies.every((r) => r.status === 200)).toBe(true);
    expect(await poolOf(f, "premium-concurrent")).toMatchObject({ members: 105, active: 105, over_limit: true });
    const seats = await call("GET", `${base(f)}/pools/premium-concurrent/seats`, f.key);
    expect(seats.body).toMatchObject({ limit: 100, active: 105, over_limit: true });
    expect(seats.body.items).toHaveLength(105);
    expect(seats.body.interval).toMatchObject({ pool: "premium-concurrent", ended_at: null, peak_overage: 5 });
  });

  it("one seat per user however many sessions; re-checkout renews; release is idempotent", async () => {
    const f = await newAccount();
    await putPool(f, "essentials-concurrent", 5);
    const [u] = await licensedUsers(f, "essentials-concurrent", 1);
    const token = await agentToken(f, u);
    await setClock(f, T0);
    const first = await checkout(token, "laptop");
    expect(first.body).toMatchObject({ active: 1, heartbeat_interval_seconds: 40, grace_ends_at: null });
    await setClock(f, T0 + 10_000);
    const again = await checkout(token, "laptop");
    expect(again.body.active).toBe(1);
    expect(Date.parse(again.body.expires_at)).toBe(T0 + 10_000 + 120_000);
    expect((await checkout(token, "phone")).body.active).toBe(1);
    const seats = await call("GET", `${base(f)}/pools/essentials-concurrent/seats`, f.key);
    expect(seats.body.items).toMatchObject([{ user_id: u, sessions: 2 }]);
    expect((await release(token, "laptop")).status).toBe(204);
    expect((await poolOf(f, "essentials-concurrent")).active).toBe(1);
    expect((await release(token, "phone")).status).toBe(204);
    expect((await release(token, "phone")).status).toBe(204);
    expect((await release(token, "never-opened")).status).toBe(204);
    expect((await poolOf(f, "essentials-concurrent")).active).toBe(0);
  });

  it("a 60-way race against max_active 30 gives exactly 30", async () => {
    const f = await newAccount();
    await putPool(f, "premium-concurrent", 20, 30);
    const tokens = await agentTokens(f, await licensedUsers(f, "premium-concurrent", 60));
    const replies = await Promise.all(tokens.map((t) => checkout(t)));
    expect(replies.filter((r) => r.status === 200)).toHaveLength(30);
    const refused = replies.filter((r) => r.status === 409);
    expect(refused).toHaveLength(30);
    expect(refused.every((r) => r.body.code === "pool_at_ceiling")).toBe(true);
    expect((await poolOf(f, "premium-concurrent")).active).toBe(30);
  });

  it("a user without a license gets 403 no_license; named users get a session but never an overage", async () => {
    const f = await newAccount();
    await putPool(f, "elite-named", 1);
    await replyOf(api(f.key).accounts[":account_id"].users[":user_id"].$put({ param: { account_id: f.accountId, user_id: "drifter" }, json: {} }));
    const drifter = await checkout(await agentToken(f, "drifter"));
    expect(drifter.status).toBe(403);
    expect(drifter.body.code).toBe("no_license");
    const [named] = await licensedUsers(f, "elite-named", 1);
    const res = await checkout(await agentToken(f, named));
    expect(res.body).toMatchObject({ pool: "elite-named", model: "named", active: 1, limit: 1, over_limit: false, grace_ends_at: null });
  });

  it("revoking a license, deleting a user or force-releasing ends sessions at once", async () => {
    const f = await newAccount();
    await putPool(f, "premium-concurrent", 10);
    const [a, b, c] = await licensedUsers(f, "premium-concurrent", 3);
    const [ta, tb, tc] = await agentTokens(f, [a, b, c]);
    for (const t of [ta, tb, tc]) expect((await checkout(t)).status).toBe(200);
    expect((await call("DELETE", `${base(f)}/users/${a}/license`, f.key)).status).toBe(204);
    expect((await heartbeat(ta)).status).toBe(404);
    expect((await call("DELETE", `${base(f)}/users/${b}`, f.key)).status).toBe(204);
    // A deleted user's token is refused outright (issue 10 item 2); the seat count below shows the session ended.
    expect((await heartbeat(tb)).body.code).toBe("unauthorized");
    expect((await call("DELETE", `${base(f)}/pools/premium-concurrent/seats/${c}`, f.key)).status).toBe(204);
    expect((await heartbeat(tc)).status).toBe(404);
    expect((await poolOf(f, "premium-concurrent")).active).toBe(0);
    const audit = await call("GET", `${base(f)}/audit`, f.key);
    expect(audit.body.items.map((e: { action: string }) => e.action)).toContain("seat.force_release");
  });
});

describe("leases", () => {
  it("an expired lease frees its seat by alarm, with no request; heartbeat after expiry is 404", async () => {
    const f = await newAccount({ lease_ttl_seconds: 30, grace_seconds: 0 });
    await putPool(f, "premium-concurrent", 1);
    const [a, b] = await licensedUsers(f, "premium-concurrent", 2);
    const [ta, tb] = await agentTokens(f, [a, b]);
    await setClock(f, T0);
    await checkout(ta);
    await setClock(f, T0 + 20_000);
    expect((await heartbeat(ta)).status).toBe(200);
    await checkout(tb);
    // The pool went over at T0+20s: the alarm wakes just after that ms to decide it.
    expect(await runInDurableObject(seatsStub(f), (_i, state) => state.storage.getAlarm())).toBe(T0 + 20_001);
    // b's lease ends at T0+50s, a's (renewed) at T0+50s... a renewed at T0+20s so it ends at T0+50s too.
    await setClock(f, T0 + 51_000);
    expect(await runDurableObjectAlarm(seatsStub(f))).toBe(true);
    expect((await poolOf(f, "premium-concurrent")).active).toBe(0);
    expect((await heartbeat(ta)).body.code).toBe("session_not_found");
    // The over-limit interval ended at the expiry time, not when the alarm ran.
    const [interval] = await closedIntervals(f, 1);
    expect(interval).toMatchObject({ started_at: new Date(T0 + 20_000).toISOString(), ended_at: new Date(T0 + 50_000).toISOString() });
    // Running the alarm again changes nothing.
    await runDurableObjectAlarm(seatsStub(f));
    expect((await call("GET", `${base(f)}/overages`, f.key)).body.items).toHaveLength(1);
  });
});

describe("overage and the grace period", () => {
  it("releasing 5 within the grace gives a free interval (worked example 1)", async () => {
    const f = await newAccount({ lease_ttl_seconds: 3600 });
    await putPool(f, "elite-concurrent", 100);
    const tokens = await agentTokens(f, await licensedUsers(f, "elite-concurrent", 105));
    await setClock(f, T0);
    await Promise.all(tokens.map((t) => checkout(t)));
    await setClock(f, T0 + 20 * MIN);
    await Promise.all(tokens.slice(0, 5).map((t) => release(t)));
    await passTime(f, T0 + 20 * MIN + 1);
    const [interval] = await closedIntervals(f, 1);
    expect(interval).toMatchObject({
      pool: "elite-concurrent",
      started_at: new Date(T0).toISOString(),
      ended_at: new Date(T0 + 20 * MIN).toISOString(),
      peak_overage: 5,
      overage_seat_seconds: 5 * 20 * 60,
      billable: false,
      billable_overage_seats: 0,
      billable_seat_seconds: 0,
    });
  });

  it("holding past the grace bills seat by seat; a short spike after the grace is not billed", async () => {
    const f = await newAccount({ grace_seconds: 1800, lease_ttl_seconds: 3600 });
    await putPool(f, "premium-concurrent", 100);
    const tokens = await agentTokens(f, await licensedUsers(f, "premium-concurrent", 110));
    await setClock(f, T0);
    await Promise.all(tokens.slice(0, 105).map((t) => checkout(t)));
    // The alarm wakes just after 08:00 to decide that instant; at 08:25 for the grace-ending warning
    // (default 300 s before); the grace of the 5 over-runs ends at 08:30, announced once 08:30 has
    // passed (a release could still land in that ms).
    expect(await runInDurableObject(seatsStub(f), (_i, state) => state.storage.getAlarm())).toBe(T0 + 1);
    await passTime(f, T0 + 1);
    expect(await runInDurableObject(seatsStub(f), (_i, state) => state.storage.getAlarm())).toBe(T0 + 25 * MIN);
    await passTime(f, T0 + 25 * MIN);
    expect(await runInDurableObject(seatsStub(f), (_i, state) => state.storage.getAlarm())).toBe(T0 + 30 * MIN + 1);
    await passTime(f, T0 + 30 * MIN + 1);
    const events = await eventually(async () => {
      const rows = await env.DB.prepare("SELECT type, body FROM webhook_events WHERE account_id = ? AND type LIKE 'overage.%' ORDER BY created_at").bind(f.accountId).all<{ type: string; body: string }>();
      if (!rows.results.some((r) => r.type === "overage.billable")) throw new Error("no billable event yet");
      return rows.results;
    });
    expect(events.map((e) => e.type)).toEqual(["overage.started", "overage.grace_ending", "overage.billable"]);
    expect(JSON.parse(events[1].body).data).toMatchObject({ grace_ends_at: new Date(T0 + 30 * MIN).toISOString(), seats: 5, active: 105, limit: 100 });
    expect(JSON.parse(events[2].body).data.billable_now).toBe(5);
    // 08:40 to 08:50: five more agents spike in (their own grace, so free).
    await setClock(f, T0 + 40 * MIN);
    const spike = await Promise.all(tokens.slice(105).map((t) => checkout(t)));
    // The five arrive concurrently, in no fixed order: the last one the object admits sees 110.
    expect(spike.map((r) => r.status)).toEqual([200, 200, 200, 200, 200]);
    expect(spike.map((r) => r.body.active).sort((a, b) => a - b)).toEqual([106, 107, 108, 109, 110]);
    expect(spike.find((r) => r.body.active === 110)!.body).toMatchObject({ over_limit: true, grace_ends_at: new Date(T0 + 70 * MIN).toISOString() });
    // The pool's seats view says the same: 5 places billable, the next grace (the spike's) ends at 09:10.
    const seats = await call("GET", `${base(f)}/pools/premium-concurrent/seats`, f.key);
    expect(seats.body).toMatchObject({ active: 110, over_limit: true, billable_now: 5, grace_ends_at: new Date(T0 + 70 * MIN).toISOString() });
    await setClock(f, T0 + 50 * MIN);
    await Promise.all(tokens.slice(105).map((t) => release(t)));
    // 08:45 would be example 2; we hold to 08:45 and release the 5.
    await setClock(f, T0 + 45 * MIN + 10 * MIN);
    await Promise.all(tokens.slice(0, 5).map((t) => release(t)));
    await passTime(f, T0 + 55 * MIN + 1);
    const [interval] = await closedIntervals(f, 1);
    expect(interval).toMatchObject({
      peak_overage: 10,
      billable: true,
      billable_overage_seats: 5,
      billable_seat_seconds: 5 * 25 * 60,
      overage_seat_seconds: 5 * 55 * 60 + 5 * 10 * 60,
    });
  });

  it("raising the quantity ends the interval (worked example 5)", async () => {
    const f = await newAccount({ lease_ttl_seconds: 3600 });
    await putPool(f, "elite-concurrent", 100);
    const tokens = await agentTokens(f, await licensedUsers(f, "elite-concurrent", 110));
    await setClock(f, T0);
    await Promise.all(tokens.map((t) => checkout(t)));
    await setClock(f, T0 + 10 * MIN);
    await putPool(f, "elite-concurrent", 110);
    await passTime(f, T0 + 10 * MIN + 1);
    const [interval] = await closedIntervals(f, 1);
    expect(interval).toMatchObject({ ended_at: new Date(T0 + 10 * MIN).toISOString(), billable: false, peak_overage: 10 });
    expect((await poolOf(f, "elite-concurrent")).over_limit).toBe(false);
  });

  it("an alarm that throws and is retried closes the interval exactly once", async () => {
    const f = await newAccount({ lease_ttl_seconds: 60, grace_seconds: 0 });
    await putPool(f, "premium-concurrent", 1);
    const tokens = await agentTokens(f, await licensedUsers(f, "premium-concurrent", 3));
    await setClock(f, T0);
    await Promise.all(tokens.map((t) => checkout(t)));
    await setClock(f, T0 + 61_000);
    // The first run dies half-way: after expiring the leases, before announcing anything.
    const failed = await runInDurableObject<AccountSeats, unknown>(seatsStub(f), async (instance) => {
      const ledger = (instance as unknown as { ledger: { settle: () => unknown } }).ledger;
      const settle = ledger.settle;
      ledger.settle = () => {
        throw new Error("boom");
      };
      try {
        await instance.alarm();
        return null;
      } catch (err) {
        return (err as Error).message;
      } finally {
        ledger.settle = settle;
      }
    });
    expect(failed).toBe("boom");
    await runDurableObjectAlarm(seatsStub(f));
    await runInDurableObject<AccountSeats, void>(seatsStub(f), (instance) => instance.alarm());
    const [interval] = await closedIntervals(f, 1);
    expect(interval).toMatchObject({ ended_at: new Date(T0 + 60_000).toISOString(), billable: true, billable_overage_seats: 2 });
    const rows = await env.DB.prepare("SELECT count(*) AS n FROM overage_intervals WHERE account_id = ?").bind(f.accountId).first<{ n: number }>();
    expect(rows?.n).toBe(1);
    const ended = await env.DB.prepare("SELECT count(*) AS n FROM webhook_events WHERE account_id = ? AND type = 'overage.ended'").bind(f.accountId).first<{ n: number }>();
    expect(ended?.n).toBe(1);
  });
});

/** Resets only this account's DO (ctx.abort), so test files running beside this one keep theirs. */
const resetDurableObject = (f: Fixture) =>
  runInDurableObject(seatsStub(f), (_instance, state) => state.abort("reset for the test")).catch(() => undefined);

describe("resets", () => {
  it("a DO reset in the middle of a burst loses no acknowledged seat and leaves the alarm armed", async () => {
    const f = await newAccount();
    await putPool(f, "premium-concurrent", 40);
    const users = await licensedUsers(f, "premium-concurrent", 60);
    const tokens = await agentTokens(f, users);
    await setClock(f, T0); // in-memory only: a fresh instance after the reset has no test clock
    const burst = tokens.map((t, i) =>
      (i === 30 ? resetDurableObject(f) : Promise.resolve()).then(() => checkout(t).catch(() => ({ status: 0, body: null }))),
    );
    const replies = await Promise.all(burst);
    const granted = users.filter((_, i) => replies[i].status === 200);
    expect(granted.length).toBeGreaterThan(0);
    const seats = await call("GET", `${base(f)}/pools/premium-concurrent/seats`, f.key);
    const holders = new Set(seats.body.items.map((s: { user_id: string }) => s.user_id));
    for (const u of granted) expect(holders.has(u)).toBe(true);
    expect(seats.body.active).toBe(holders.size);
    expect(await runInDurableObject(seatsStub(f), (_i, state) => state.storage.getAlarm())).not.toBeNull();
    expect(await runInDurableObject<AccountSeats, number | null>(seatsStub(f), (instance) => instance.testClock)).toBeNull();
  });
});

describe("crash between D1 and the DO", () => {
  it("a license D1 revoked just before a crash frees its seat when the DO wakes", async () => {
    const f = await newAccount();
    await putPool(f, "premium-concurrent", 5);
    const [u, v] = await licensedUsers(f, "premium-concurrent", 2);
    const [tu, tv] = await agentTokens(f, [u, v]);
    await checkout(tu);
    await checkout(tv);
    // What revokeLicense writes to D1 first (its batch raises the roster version); the DO "crashes" before it updates itself.
    await env.DB.batch([
      env.DB.prepare("DELETE FROM licenses WHERE account_id = ? AND user_id = ?").bind(f.accountId, u),
      env.DB.prepare("UPDATE accounts SET roster_version = roster_version + 1 WHERE id = ?").bind(f.accountId),
    ]);
    await resetDurableObject(f);
    expect((await poolOf(f, "premium-concurrent")).active).toBe(1);
    expect((await heartbeat(tu)).status).toBe(404);
    expect((await heartbeat(tv)).status).toBe(200);
  });
});

describe("agent credentials and input", () => {
  it("tokens of account A cannot touch account B; tampered, expired, alg none tokens get 401", async () => {
    const a = await newAccount();
    const b = await newAccount();
    for (const f of [a, b]) await putPool(f, "premium-concurrent", 5);
    const [ua] = await licensedUsers(a, "premium-concurrent", 1, "shared");
    await licensedUsers(b, "premium-concurrent", 1, "shared");
    const ta = await agentToken(a, ua);
    expect((await checkout(ta)).status).toBe(200);
    expect((await poolOf(b, "premium-concurrent")).active).toBe(0);
    expect((await call("GET", `${base(b)}/pools`, ta)).status).toBe(403);

    const [header, payload, signature] = ta.split(".");
    const claims = JSON.parse(atob(payload.replace(/-/g, "+").replace(/_/g, "/")));
    const forge = (c: object, h = header, s = signature) =>
      [h, btoa(JSON.stringify(c)).replace(/=+$/, "").replace(/\+/g, "-").replace(/\//g, "_"), s].join(".");
    const none = btoa(JSON.stringify({ alg: "none", typ: "JWT" })).replace(/=+$/, "");
    for (const bad of [
      forge({ ...claims, acct: b.accountId }),
      forge({ ...claims, exp: claims.exp + 3600 }),
      forge(claims, none, ""),
      `${header}.${payload}.${signature.slice(0, -2)}AA`,
    ]) {
      const res = await checkout(bad);
      expect(res.status).toBe(401);
      expect(res.body.code).toBe("unauthorized");
    }
    const expired = await replyOf(api(a.key).accounts[":account_id"].users[":user_id"]["agent-token"].$post({ param: { account_id: a.accountId, user_id: ua }, json: { ttl_seconds: 1 } }));
    expect(expired.status).toBe(400); // below the minimum TTL: tokens live at least a minute
  });

  it("malformed bodies and session ids get 400 and change nothing", async () => {
    const f = await newAccount();
    await putPool(f, "premium-concurrent", 5);
    const [u] = await licensedUsers(f, "premium-concurrent", 1);
    const token = await agentToken(f, u);
    for (const bad of [{}, { session_id: "" }, { session_id: "has space" }, { session_id: "x".repeat(129) }, { session_id: 42 }, "{not json"]) {
      // Malformed on purpose: through `call`, since the typed client would not compile this body.
      const res = await call("POST", "/v1/seats/checkout", token, bad);
      expect(res.status).toBe(400);
      expect(res.body.code).toBe("invalid_request");
    }
    expect((await poolOf(f, "premium-concurrent")).active).toBe(0);
  });
});
