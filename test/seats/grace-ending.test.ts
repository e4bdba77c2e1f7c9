import { runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { storedEvents } from "../billing/support";
import { agentTokens, call, checkout, licensedUsers, MIN, newAccount, passTime, putPool, release, seatsStub, setClock, T0, type Fixture } from "../helpers";

const acct = (f: Fixture) => `/v1/accounts/${f.accountId}`;
const iso = (t: number) => new Date(t).toISOString();
const POOL = "elite-concurrent";

/** Grace 10 min, warning `warn` s before; quantity 1, ceiling 3; a and b hold seats from T0: one place over. */
async function overByOne(warn: number) {
  const f = await newAccount({ grace_seconds: 600, lease_ttl_seconds: 3600 });
  expect((await call("PATCH", acct(f), f.key, { warn_before_grace_end_seconds: warn })).status).toBe(200);
  await setClock(f, T0 - MIN);
  await putPool(f, POOL, 1, 3);
  const [a, b] = await agentTokens(f, await licensedUsers(f, POOL, 2));
  await setClock(f, T0);
  expect((await checkout(a)).status).toBe(200);
  expect((await checkout(b)).status).toBe(200);
  await passTime(f, T0 + 1000);
  return { f, a, b };
}

const bodies = async (f: Fixture, type: string) => (await storedEvents(f, type)).map((r) => JSON.parse(r.body));

describe("overage.grace_ending", () => {
  it("arrives at deadline − warn with the places that will become billable; once though the alarm fires twice; its seats are the later billable_now", async () => {
    const { f } = await overByOne(120);
    // The alarm is set for the warning (8 min), before the grace crossing and the lease expiry.
    const alarm = await runInDurableObject(seatsStub(f), (_i, state) => state.storage.getAlarm());
    expect(alarm).toBe(T0 + 8 * MIN);
    await passTime(f, T0 + 8 * MIN - 1);
    expect(await storedEvents(f, "overage.grace_ending")).toHaveLength(0);
    await passTime(f, T0 + 8 * MIN);
    await passTime(f, T0 + 8 * MIN); // a retried alarm
    await passTime(f, T0 + 9 * MIN); // a later wake
    const warnings = await bodies(f, "overage.grace_ending");
    expect(warnings).toHaveLength(1);
    const started = (await bodies(f, "overage.started"))[0];
    expect(warnings[0]).toMatchObject({
      id: `evt_${started.data.interval.id}_grace_ending_${T0 + 10 * MIN}`,
      type: "overage.grace_ending",
      created_at: iso(T0 + 8 * MIN),
      data: { pool: POOL, interval_id: started.data.interval.id, grace_ends_at: iso(T0 + 10 * MIN), seats: 1, active: 2, limit: 1 },
    });
    await passTime(f, T0 + 10 * MIN + 1);
    const billable = await bodies(f, "overage.billable");
    expect(billable).toHaveLength(1);
    expect(billable[0].data.billable_now).toBe(warnings[0].data.seats);
    expect(await storedEvents(f, "overage.grace_ending")).toHaveLength(1);
  });

  it("is not sent when the pool drops back before deadline − warn", async () => {
    const { f, b } = await overByOne(120);
    await setClock(f, T0 + 5 * MIN);
    expect((await release(b)).status).toBe(204);
    await passTime(f, T0 + 5 * MIN + 1);
    await passTime(f, T0 + 8 * MIN);
    await passTime(f, T0 + 11 * MIN);
    expect(await storedEvents(f, "overage.grace_ending")).toHaveLength(0);
    expect(await storedEvents(f, "overage.ended")).toHaveLength(1);
  });

  it("warn 0 sends nothing (the over-run still becomes billable)", async () => {
    const { f } = await overByOne(0);
    await passTime(f, T0 + 8 * MIN);
    await passTime(f, T0 + 10 * MIN + 1);
    expect(await storedEvents(f, "overage.grace_ending")).toHaveLength(0);
    expect(await storedEvents(f, "overage.billable")).toHaveLength(1);
  });

  it("warn >= grace: sent at the first wake after the over-run starts", async () => {
    const { f } = await overByOne(900);
    const warnings = await bodies(f, "overage.grace_ending");
    expect(warnings.map((w) => [w.created_at, w.data.grace_ends_at, w.data.seats])).toEqual([[iso(T0 + 1000), iso(T0 + 10 * MIN), 1]]);
  });
});
