import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { AccountSeats } from "../../src/seats/account-seats";
import {
  agentToken,
  agentTokens,
  api,
  call,
  checkout,
  expectProblem,
  licensedUsers,
  newAccount,
  putPool,
  putUsers,
  release,
  replyOf,
  seatsStub,
  setClock,
  T0,
  type Fixture,
} from "../helpers";

/** The waitlist over HTTP (docs/licensing.md#the-waitlist, decision 170). */

const acct = (f: Fixture, rest = "") => `/v1/accounts/${f.accountId}${rest}`;
export const waitCheckout = (token: string, session_id = "desk-1") => replyOf(api(token).seats.checkout.$post({ json: { session_id, wait: true } }));
export const poll = (token: string, session_id = "desk-1") => replyOf(api(token).seats.wait[":session_id"].$post({ param: { session_id } }));
export const leave = (token: string, session_id = "desk-1") => replyOf(api(token).seats.wait[":session_id"].$delete({ param: { session_id } }));
const poolOf = async (f: Fixture, id = "premium-concurrent") => (await call("GET", acct(f, "/pools"), f.key)).body.items.find((p: { id: string }) => p.id === id);
const holders = async (f: Fixture, id = "premium-concurrent") =>
  ((await call("GET", acct(f, `/pools/${id}/seats`), f.key)).body.items as { user_id: string }[]).map((i) => i.user_id).sort();

/** A pool with ceiling `max`, `max` holders and `waiting` users who asked to wait (in that order). */
async function fullPool(max: number, waiting: number, settings: Parameters<typeof newAccount>[0] = {}) {
  const f = await newAccount(settings);
  await putPool(f, "premium-concurrent", max, max);
  const users = await licensedUsers(f, "premium-concurrent", max + waiting);
  const tokens = await agentTokens(f, users);
  for (const t of tokens.slice(0, max)) expect((await checkout(t)).status).toBe(200);
  const waits = [];
  for (const t of tokens.slice(max)) waits.push(await waitCheckout(t));
  return { f, users, tokens, holders: tokens.slice(0, max), waiters: tokens.slice(max), waits };
}

/** A pool of one seat (ceiling 1, 60 s leases) with `users` licensed users, the clock at T0, the first holding the seat. */
async function oneSeatHeld(users: number) {
  const f = await newAccount({ lease_ttl_seconds: 60 });
  await putPool(f, "premium-concurrent", 1, 1);
  const ids = await licensedUsers(f, "premium-concurrent", users);
  const tokens = await agentTokens(f, ids);
  await setClock(f, T0);
  expect((await checkout(tokens[0])).status).toBe(200);
  return { f, users: ids, tokens };
}

describe("checkout with wait", () => {
  it("at the ceiling answers 202 with the position and the entry's expiry; a freed seat goes to the first waiter, whose poll answers the checkout", async () => {
    const f = await newAccount({ lease_ttl_seconds: 60 });
    await putPool(f, "premium-concurrent", 2, 2);
    const users = await licensedUsers(f, "premium-concurrent", 4);
    const [h1, h2, w1, w2] = await agentTokens(f, users);
    await setClock(f, T0);
    expect((await checkout(h1)).status).toBe(200);
    expect((await checkout(h2)).status).toBe(200);
    const a = await waitCheckout(w1);
    expect(a.status).toBe(202);
    expect(a.body).toEqual({
      status: "waiting",
      user_id: users[2],
      session_id: "desk-1",
      pool: "premium-concurrent",
      position: 1,
      waiting: 1,
      reason: "pool_at_ceiling",
      expires_at: new Date(T0 + 60_000).toISOString(),
      poll_interval_seconds: 20,
    });
    expect((await waitCheckout(w2)).body).toMatchObject({ position: 2, waiting: 2 });
    // Asking again keeps the place (and renews it).
    await setClock(f, T0 + 5_000);
    expect((await waitCheckout(w1)).body).toMatchObject({ position: 1, expires_at: new Date(T0 + 65_000).toISOString() });
    expect((await poolOf(f)).waiting).toBe(2);

    await setClock(f, T0 + 10_000);
    expect((await release(h1)).status).toBe(204);
    // Granted in the object at the release: the seat is w1's before any poll.
    expect(await holders(f)).toEqual([users[1], users[2]].sort());
    expect((await poolOf(f)).active).toBe(2);
    const granted = await poll(w1);
    expect(granted.status).toBe(200);
    expect(granted.body).toEqual({
      user_id: users[2],
      pool: "premium-concurrent",
      tier: "premium",
      model: "concurrent",
      session_id: "desk-1",
      expires_at: new Date(T0 + 70_000).toISOString(),
      heartbeat_interval_seconds: 20,
      limit: 2,
      active: 2,
      over_limit: false,
      grace_ends_at: null,
    });
    // From then on it is a session like any other.
    expect((await replyOf(api(w1).seats.heartbeat.$post({ json: { session_id: "desk-1" } }))).status).toBe(200);
    expect((await poll(w2)).body).toMatchObject({ status: "waiting", position: 1, waiting: 1 });
    expect((await poolOf(f)).waiting).toBe(1);
  });

  it("below the ceiling takes the seat at once (200); without a license it is 403 no_license and nothing is queued", async () => {
    const f = await newAccount();
    await putPool(f, "premium-concurrent", 5, 5);
    const [u] = await licensedUsers(f, "premium-concurrent", 1);
    expect((await waitCheckout(await agentToken(f, u))).status).toBe(200);
    await putUsers(f, ["nobody"]);
    const nobody = await agentToken(f, "nobody");
    expectProblem(await waitCheckout(nobody), 403, "no_license");
    expectProblem(await poll(nobody), 404, "wait_not_found");
    expect((await poolOf(f)).waiting).toBe(0);
  });

  it("without wait, the ceiling is still 409 pool_at_ceiling", async () => {
    const { waiters } = await fullPool(1, 1);
    expectProblem(await checkout(waiters[0], "other-desk"), 409, "pool_at_ceiling");
  });

  it("a poll for no entry is 404 wait_not_found; DELETE and release leave the queue", async () => {
    const { f, waiters, holders: hs } = await fullPool(1, 3);
    expectProblem(await poll(waiters[0], "never-waited"), 404, "wait_not_found");
    expect((await leave(waiters[0])).status).toBe(204);
    expect((await leave(waiters[0])).status).toBe(204);
    expectProblem(await poll(waiters[0]), 404, "wait_not_found");
    expect((await release(waiters[1])).status).toBe(204);
    expectProblem(await poll(waiters[1]), 404, "wait_not_found");
    expect((await poll(waiters[2])).body).toMatchObject({ position: 1, waiting: 1 });
    // The seat that frees goes to the one still waiting.
    expect((await release(hs[0])).status).toBe(204);
    expect((await poll(waiters[2])).status).toBe(200);
    expect((await poolOf(f)).waiting).toBe(0);
  });

  it("DELETE after a grant that was not collected releases that seat (to the next waiter)", async () => {
    const { f, users, waiters, holders: hs } = await fullPool(1, 2);
    expect((await release(hs[0])).status).toBe(204);
    expect(await holders(f)).toEqual([users[1]]);
    expect((await leave(waiters[0])).status).toBe(204);
    expect(await holders(f)).toEqual([users[2]]);
    expect((await poll(waiters[1])).status).toBe(200);
  });

  it("a waiter that stops polling expires after a lease; the seat goes to the one that kept polling", async () => {
    const { f, users, tokens: [h, quiet, busy] } = await oneSeatHeld(3);
    expect((await waitCheckout(quiet)).body.position).toBe(1);
    expect((await waitCheckout(busy)).body.position).toBe(2);
    for (const t of [20_000, 40_000, 59_000]) {
      await setClock(f, T0 + t);
      expect((await replyOf(api(h).seats.heartbeat.$post({ json: { session_id: "desk-1" } }))).status).toBe(200);
      expect((await poll(busy)).status).toBe(202);
    }
    await setClock(f, T0 + 61_000);
    // quiet's entry ended at T0 + 60 s: busy is first now.
    expect((await poll(busy)).body).toMatchObject({ position: 1, waiting: 1 });
    expect((await release(h)).status).toBe(204);
    expect(await holders(f)).toEqual([users[2]]);
    expectProblem(await poll(quiet), 404, "wait_not_found");
    expect((await poll(busy)).status).toBe(200);
  });

  it("a checkout with wait after the entry's time is up (nothing purged it yet) queues at the end, not at its old place", async () => {
    const { f, tokens: [h, quiet, busy] } = await oneSeatHeld(3);
    expect((await waitCheckout(quiet)).body.position).toBe(1);
    await setClock(f, T0 + 30_000);
    expect((await replyOf(api(h).seats.heartbeat.$post({ json: { session_id: "desk-1" } }))).status).toBe(200);
    expect((await waitCheckout(busy)).body.position).toBe(2);
    await setClock(f, T0 + 61_000);
    // quiet's entry ended at T0 + 60 s and no poll or freed seat has removed its row: asking again is a new place.
    expect((await waitCheckout(quiet)).body).toMatchObject({ position: 2, waiting: 2 });
    expect((await poll(busy)).body).toMatchObject({ position: 1, waiting: 2 });
  });

  it("the refusal at the ceiling counts once per waiting session: asking again with wait for a session that waits is a renewal, not a second refusal", async () => {
    const { f, users, tokens: [h, w, other] } = await oneSeatHeld(3);
    expect((await waitCheckout(w)).status).toBe(202);
    await setClock(f, T0 + 10_000);
    expect((await waitCheckout(w)).body).toMatchObject({ position: 1 });
    await setClock(f, T0 + 20_000);
    expect((await waitCheckout(w)).body).toMatchObject({ position: 1 });
    // A checkout without wait is refused and counted as before.
    expect((await checkout(other)).status).toBe(409);
    const from = new Date(T0).toISOString();
    const to = new Date(T0 + 60_000).toISOString();
    const denials = await call("GET", acct(f, `/denials?from=${from}&to=${to}`), f.key);
    expect(denials.status).toBe(200);
    const refusals = Object.fromEntries(denials.body.items.map((d: { user_id: string; refusals: number }) => [d.user_id, d.refusals]));
    expect(refusals).toEqual({ [users[1]]: 1, [users[2]]: 1 });
    const usage = await call("GET", acct(f, `/pools/premium-concurrent/usage?from=${from}&to=${to}&step_seconds=60`), f.key);
    expect(usage.body.items.map((i: { denied: number }) => i.denied)).toEqual([2]);
  });

  it("a holder's lease that ends frees its seat to the first waiter (the alarm, no request)", async () => {
    const { f, users, tokens: [h, w] } = await oneSeatHeld(2);
    await setClock(f, T0 + 30_000);
    expect((await waitCheckout(w)).status).toBe(202);
    await setClock(f, T0 + 60_500);
    await runDurableObjectAlarm(seatsStub(f));
    expect(await holders(f)).toEqual([users[1]]);
    // The grant opened a lease from the moment of the grant.
    const got = await poll(w);
    expect(got.status).toBe(200);
    expect(got.body.expires_at).toBe(new Date(T0 + 120_500).toISOString());
  });

  it("force release, a raised ceiling and a quantity change each hand seats out, in queue order", async () => {
    const { f, users, waiters } = await fullPool(1, 3);
    const forced = await replyOf(api(f.key).accounts[":account_id"].pools[":pool_id"].seats[":user_id"].$delete({ param: { account_id: f.accountId, pool_id: "premium-concurrent", user_id: users[0] } }));
    expect(forced.status).toBe(204);
    expect(await holders(f)).toEqual([users[1]]);
    await putPool(f, "premium-concurrent", 3, 3);
    expect(await holders(f)).toEqual([users[1], users[2], users[3]]);
    for (const t of waiters) expect((await poll(t)).status).toBe(200);
  });

  it("a waiter whose license is revoked is dropped with the reason; the seat goes to the next", async () => {
    const { f, users, waiters, holders: hs } = await fullPool(1, 2);
    expect((await replyOf(api(f.key).accounts[":account_id"].users[":user_id"].license.$delete({ param: { account_id: f.accountId, user_id: users[1] } }))).status).toBe(204);
    expect((await poll(waiters[1])).body).toMatchObject({ position: 1, waiting: 1 });
    const dropped = await poll(waiters[0]);
    expectProblem(dropped, 403, "no_license");
    expect(dropped.body.reason).toBe("license_revoked");
    expect((await release(hs[0])).status).toBe(204);
    expect(await holders(f)).toEqual([users[2]]);
  });

  it("the queue is in the object's SQLite and survives a restart of the object", async () => {
    const { f, users, waiters, holders: hs } = await fullPool(1, 2);
    const rows = await runInDurableObject<AccountSeats, unknown[]>(seatsStub(f), (_i, state) =>
      state.storage.sql.exec("SELECT user_id, state FROM waitlist ORDER BY seq").toArray(),
    );
    expect(rows).toEqual([
      { user_id: users[1], state: "waiting" },
      { user_id: users[2], state: "waiting" },
    ]);
    // Resets only this account's object (ctx.abort): the next request builds a fresh instance.
    await runInDurableObject(seatsStub(f), (_i, state) => state.abort("restart for the test")).catch(() => undefined);
    expect((await poll(waiters[1])).body).toMatchObject({ status: "waiting", position: 2 });
    expect((await poll(waiters[0])).body).toMatchObject({ status: "waiting", position: 1 });
    expect((await release(hs[0])).status).toBe(204);
    expect(await holders(f)).toEqual([users[1]]);
    expect((await poll(waiters[0])).status).toBe(200);
  });

  it("validates the session id in the path (400) and refuses admin keys (403)", async () => {
    const { f, waiters } = await fullPool(1, 1);
    // A malformed session id and a malformed body on purpose: through `call`, since the typed client would not compile the body.
    expectProblem(await call("POST", "/v1/seats/wait/bad%20id", waiters[0]), 400, "invalid_request");
    expectProblem(await replyOf(api(f.key).seats.wait[":session_id"].$post({ param: { session_id: "desk-1" } })), 403, "forbidden");
    expectProblem(await call("POST", "/v1/seats/checkout", waiters[0], { session_id: "desk-1", wait: "yes" }), 400, "invalid_request");
  });
});
