import { runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { ThresholdWatch } from "../../src/seats/threshold-watch";
import { storedEvents } from "../billing/support";
import { agentTokens, api, call, checkout, eventually, expectProblem, licensedUsers, newAccount, putPool, release, replyOf, seatsStub, setClock, stateOf, T0, type Fixture } from "../helpers";

const acct = (f: Fixture, rest = "") => `/v1/accounts/${f.accountId}${rest}`;

const thresholdEvents = (f: Fixture, n: number) =>
  eventually(async () => {
    const rows = await storedEvents(f, "pool.threshold");
    if (rows.length < n) throw new Error(`only ${rows.length} pool.threshold`);
    return rows.map((r) => JSON.parse(r.body));
  });

describe("pool thresholds", () => {
  it("PUT pool takes `alerts` (default [80, 100]); pool views show them; bad lists are 400 and change nothing", async () => {
    const f = await newAccount();
    expect((await putPool(f, "elite-concurrent", 10)).alerts).toEqual([80, 100]);
    const set = await replyOf(api(f.key).accounts[":account_id"].pools[":pool_id"].$put({ param: { account_id: f.accountId, pool_id: "elite-concurrent" }, json: { quantity: 10, alerts: [100, 50, 120] } }));
    expect(set.status).toBe(200);
    expect(set.body.alerts).toEqual([50, 100, 120]);
    // Omitted keeps the list; [] turns the alerts off.
    expect((await replyOf(api(f.key).accounts[":account_id"].pools[":pool_id"].$put({ param: { account_id: f.accountId, pool_id: "elite-concurrent" }, json: { quantity: 12 } }))).body.alerts).toEqual([50, 100, 120]);
    const list = await call("GET", acct(f, "/pools"), f.key);
    expect(list.body.items[0]).toMatchObject({ id: "elite-concurrent", quantity: 12, alerts: [50, 100, 120] });
    const before = await stateOf(f);
    for (const alerts of [[0], [1001], [80, 80], Array.from({ length: 11 }, (_, i) => i + 1), [50.5], "80", [null]]) {
      // Malformed on purpose: through `call`, since the typed client would not compile this body.
      expectProblem(await call("PUT", acct(f, "/pools/elite-concurrent"), f.key, { quantity: 12, alerts }), 400, "invalid_request");
    }
    expect(await stateOf(f)).toEqual(before);
    expect((await replyOf(api(f.key).accounts[":account_id"].pools[":pool_id"].$put({ param: { account_id: f.accountId, pool_id: "elite-concurrent" }, json: { quantity: 12, alerts: [] } }))).body.alerts).toEqual([]);
  });

  it("each upward crossing sends pool.threshold once; it re-arms 5 points below; the state survives a restart; a quantity cut crosses too", async () => {
    const f = await newAccount({ lease_ttl_seconds: 3600 });
    await setClock(f, T0);
    expect((await replyOf(api(f.key).accounts[":account_id"].pools[":pool_id"].$put({ param: { account_id: f.accountId, pool_id: "elite-concurrent" }, json: { quantity: 10, alerts: [50, 80] } }))).status).toBe(200);
    const tokens = await agentTokens(f, await licensedUsers(f, "elite-concurrent", 10));
    for (const t of tokens.slice(0, 8)) expect((await checkout(t)).status).toBe(200);
    // 50 % at the 5th seat, 80 % at the 8th.
    let events = await thresholdEvents(f, 2);
    expect(events.map((e) => e.data)).toEqual([
      { pool: "elite-concurrent", percent: 50, active: 5, quantity: 10 },
      { pool: "elite-concurrent", percent: 80, active: 8, quantity: 10 },
    ]);
    // Down to 7 (70 %: 5 points below 80) and up to 8: 80 is announced again; 50 was never re-armed.
    expect((await release(tokens[7])).status).toBe(204);
    expect((await checkout(tokens[7])).status).toBe(200);
    events = await thresholdEvents(f, 3);
    expect(events[2].data).toEqual({ pool: "elite-concurrent", percent: 80, active: 8, quantity: 10 });
    // Back to 6: 80 re-armed, 50 still spent. A restarted object reads the same from SQLite.
    expect((await release(tokens[7])).status).toBe(204);
    expect((await release(tokens[6])).status).toBe(204);
    const restored = await runInDurableObject(seatsStub(f), (_i, state) => [...new ThresholdWatch(state.storage.sql).state("elite-concurrent")]);
    expect(new Map(restored)).toEqual(new Map([[50, false], [80, true]]));
    // 6 of 7 is 85.7 %: the quantity cut crosses 80.
    expect((await replyOf(api(f.key).accounts[":account_id"].pools[":pool_id"].$put({ param: { account_id: f.accountId, pool_id: "elite-concurrent" }, json: { quantity: 7 } }))).status).toBe(200);
    events = await thresholdEvents(f, 4);
    expect(events[3].data).toEqual({ pool: "elite-concurrent", percent: 80, active: 6, quantity: 7 });
    expect(new Set(events.map((e) => e.id)).size).toBe(4);
    expect(await storedEvents(f, "pool.threshold")).toHaveLength(4);
  });
});
