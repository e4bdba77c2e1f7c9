import { describe, expect, it } from "vitest";
import { agentToken, call, checkout, expectProblem, heartbeat, licensedUsers, newAccount, putPool, setClock, T0, type Fixture, api, replyOf } from "../helpers";

/** max_sessions_per_user (docs/licensing.md#leases-and-sessions): a new device always works, an abandoned one loses out. */

const acct = (f: Fixture, rest = "") => `/v1/accounts/${f.accountId}${rest}`;
const seatsOf = async (f: Fixture) => (await call("GET", acct(f, "/pools/premium-concurrent/seats"), f.key)).body;

describe("max_sessions_per_user", () => {
  it("a sixth session ends the least recently renewed one; the seat is held throughout", async () => {
    const f = await newAccount({ lease_ttl_seconds: 600 });
    await putPool(f, "premium-concurrent", 10);
    const [user] = await licensedUsers(f, "premium-concurrent", 1);
    const token = await agentToken(f, user);
    expect((await call("GET", acct(f), f.key)).body.max_sessions_per_user).toBe(5);

    for (let i = 0; i < 5; i++) {
      await setClock(f, T0 + i * 1000);
      expect((await checkout(token, `desk-${i}`)).status).toBe(200);
    }
    await setClock(f, T0 + 10_000);
    expect((await heartbeat(token, "desk-0")).status).toBe(200); // desk-1 is now the least recently renewed
    await setClock(f, T0 + 11_000);
    const sixth = await checkout(token, "desk-5");
    expect(sixth.status).toBe(200);
    expect(sixth.body.active).toBe(1);

    expectProblem(await heartbeat(token, "desk-1"), 404, "session_not_found");
    for (const kept of ["desk-0", "desk-2", "desk-3", "desk-4", "desk-5"]) expect((await heartbeat(token, kept)).status).toBe(200);
    const seats = await seatsOf(f);
    expect(seats.items).toEqual([expect.objectContaining({ user_id: user, sessions: 5 })]);
    // The seat never freed: one step up at T0 and nothing since.
    const usage = await call("GET", acct(f, `/pools/premium-concurrent/usage?from=${new Date(T0).toISOString()}&to=${new Date(T0 + 60_000).toISOString()}&step_seconds=1&format=columnar`), f.key);
    expect(Math.min(...usage.body.max_active)).toBe(1);
  });

  it("with 1, the newest device takes over the user's one session", async () => {
    const f = await newAccount();
    await putPool(f, "premium-concurrent", 10);
    const [user] = await licensedUsers(f, "premium-concurrent", 1);
    const token = await agentToken(f, user);
    expect((await replyOf(api(f.key).accounts[":account_id"].$patch({ param: { account_id: f.accountId }, json: { max_sessions_per_user: 1 } }))).status).toBe(200);
    expect((await checkout(token, "laptop")).status).toBe(200);
    expect((await checkout(token, "phone")).status).toBe(200);
    expectProblem(await heartbeat(token, "laptop"), 404, "session_not_found");
    expect((await heartbeat(token, "phone")).status).toBe(200);
    // Checking out the same session again is a renewal, not a new session.
    expect((await checkout(token, "phone")).status).toBe(200);
    expect((await heartbeat(token, "phone")).status).toBe(200);
    expect((await seatsOf(f)).items).toEqual([expect.objectContaining({ user_id: user, sessions: 1 })]);
  });

  it("refuses a setting outside 1-50 and changes nothing", async () => {
    const f = await newAccount();
    // Malformed on purpose: through `call`, since the typed client would not compile this body.
    for (const bad of [0, 51, 2.5, "5"]) expectProblem(await call("PATCH", acct(f), f.key, { max_sessions_per_user: bad }), 400, "invalid_request");
    expect((await call("GET", acct(f), f.key)).body.max_sessions_per_user).toBe(5);
  });

  it("under a burst of 30 new sessions at once, exactly the cap remains and the user holds one seat", async () => {
    const f = await newAccount({ lease_ttl_seconds: 600 });
    await putPool(f, "premium-concurrent", 10);
    const [user] = await licensedUsers(f, "premium-concurrent", 1);
    const token = await agentToken(f, user);
    const replies = await Promise.all(Array.from({ length: 30 }, (_, i) => checkout(token, `burst-${i}`)));
    expect(replies.every((r) => r.status === 200)).toBe(true);
    const seats = await seatsOf(f);
    expect(seats.active).toBe(1);
    expect(seats.items).toEqual([expect.objectContaining({ user_id: user, sessions: 5 })]);
    const alive = (await Promise.all(Array.from({ length: 30 }, (_, i) => heartbeat(token, `burst-${i}`)))).filter((r) => r.status === 200);
    expect(alive).toHaveLength(5);
  });
});
