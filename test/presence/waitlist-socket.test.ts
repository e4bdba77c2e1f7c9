import { describe, expect, it } from "vitest";
import { agentTokens, api, call, checkout, eventually, licensedUsers, newAccount, putPool, release, replyOf, setClock, T0, type Fixture } from "../helpers";
import { openSocket, sleep, ticketFor } from "./support";

/** Waiting on the presence socket (`?wait=true`): docs/api.md#waiting-on-the-socket. */

const holders = async (f: Fixture) =>
  ((await call("GET", `/v1/accounts/${f.accountId}/pools/premium-concurrent/seats`, f.key)).body.items as { user_id: string }[]).map((i) => i.user_id).sort();
const waitingIn = async (f: Fixture) =>
  (await call("GET", `/v1/accounts/${f.accountId}/pools`, f.key)).body.items.find((p: { id: string }) => p.id === "premium-concurrent").waiting;
const waitOn = async (token: string, sessionId = "desk-ws") => openSocket(await ticketFor(token, sessionId), {}, "&wait=true");

async function fullPool(settings: Parameters<typeof newAccount>[0] = {}, clock?: number) {
  const f = await newAccount(settings);
  if (clock !== undefined) await setClock(f, clock);
  await putPool(f, "premium-concurrent", 1, 1);
  const users = await licensedUsers(f, "premium-concurrent", 3);
  const [h, w1, w2] = await agentTokens(f, users);
  expect((await checkout(h)).status).toBe(200);
  return { f, users, h, w1, w2 };
}

describe("waiting on the presence socket", () => {
  it("at the ceiling the socket stays open with seat.waiting; a freed seat is pushed as seat.granted; the next waiter is told its new place", async () => {
    const { f, users, h, w1, w2 } = await fullPool();
    const s1 = await waitOn(w1);
    expect(await s1.next("seat.waiting")).toMatchObject({ type: "seat.waiting", status: "waiting", user_id: users[1], session_id: "desk-ws", position: 1, waiting: 1, reason: "pool_at_ceiling" });
    const s2 = await waitOn(w2);
    expect(await s2.next("seat.waiting")).toMatchObject({ position: 2, waiting: 2 });
    expect(s1.closed).toBeNull();
    expect(await waitingIn(f)).toBe(2);

    expect((await release(h)).status).toBe(204);
    const granted = await s1.next("seat.granted");
    expect(granted).toMatchObject({ type: "seat.granted", user_id: users[1], session_id: "desk-ws", pool: "premium-concurrent", active: 1, limit: 1 });
    expect(granted.entitlements).toMatchObject({ user_id: users[1], pool: "premium-concurrent" });
    // The same fields as the checkout answer (which an HTTP poll of this session now gives).
    const polled = await replyOf(api(w1).seats.wait[":session_id"].$post({ param: { session_id: "desk-ws" } }));
    expect(polled.status).toBe(200);
    expect(Object.keys(granted).filter((k) => k !== "type" && k !== "entitlements").sort()).toEqual(Object.keys(polled.body).sort());
    expect(await holders(f)).toEqual([users[1]]);
    // w2 moved up: pushed, not polled.
    await eventually(async () => expect(s2.messages.filter((m) => m?.type === "seat.waiting").at(-1)).toMatchObject({ position: 1, waiting: 1 }));
    expect(s2.messages.some((m) => m?.type === "seat.granted")).toBe(false);
  });

  it("a waiting socket that sends release leaves the queue; closing it keeps the place for the reconnect grace", async () => {
    const { f, users, h, w1, w2 } = await fullPool({ reconnect_grace_seconds: 30 });
    const s1 = await waitOn(w1);
    await s1.next("seat.waiting");
    const s2 = await waitOn(w2);
    await s2.next("seat.waiting");
    s1.send(JSON.stringify({ type: "release" }));
    expect((await s1.closing()).code).toBe(1000);
    await eventually(async () => expect(await waitingIn(f)).toBe(1));
    // w2 closes (a blip) and reconnects within the grace: same place, then the grant.
    s2.ws.close(1000, "blip");
    await sleep(50);
    expect(await waitingIn(f)).toBe(1);
    const again = await waitOn(w2);
    expect(await again.next("seat.waiting")).toMatchObject({ position: 1 });
    expect((await release(h)).status).toBe(204);
    await again.next("seat.granted");
    expect(await holders(f)).toEqual([users[2]]);
  });

  it("with no reconnect grace a closed waiting socket leaves at once; an HTTP waiter behind it gets the seat", async () => {
    const { f, users, h, w1, w2 } = await fullPool({ reconnect_grace_seconds: 0 });
    const s1 = await waitOn(w1);
    await s1.next("seat.waiting");
    expect((await replyOf(api(w2).seats.checkout.$post({ json: { session_id: "desk-1", wait: true } }))).body.position).toBe(2);
    s1.ws.close(1000, "gone");
    await eventually(async () => expect(await waitingIn(f)).toBe(1));
    expect((await release(h)).status).toBe(204);
    expect(await holders(f)).toEqual([users[2]]);
  });

  it("an open socket keeps its entry alive past the lease", async () => {
    const { f, users, h, w1 } = await fullPool({ lease_ttl_seconds: 30 }, T0);
    const s1 = await waitOn(w1);
    await s1.next("seat.waiting");
    await setClock(f, T0 + 45_000);
    expect((await replyOf(api(h).seats.heartbeat.$post({ json: { session_id: "desk-1" } }))).status).toBe(404);
    // h's lease ended at T0 + 30 s (no heartbeat): noticed now, its seat goes to the socket waiter.
    await s1.next("seat.granted");
    expect(await holders(f)).toEqual([users[1]]);
  });
});
