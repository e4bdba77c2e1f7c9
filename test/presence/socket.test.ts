import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { agentToken, call, checkout, eventually, expectProblem, heartbeat, licensedUsers, MIN, newAccount, OPERATOR, putPool, seatsStub, setClock, T0, type Fixture, api, replyOf } from "../helpers";
import type { PoolId } from "../../src/domain/catalog";
import type { AccountSeats } from "../../src/seats/account-seats";
import { connect, openSocket, sleep, ticketFor } from "./support";

const base = (f: Fixture) => `/v1/accounts/${f.accountId}`;
const poolOf = async (f: Fixture, id: PoolId) =>
  (await call("GET", `${base(f)}/pools`, f.key)).body.items.find((p: { id: string }) => p.id === id);
const activeIn = async (f: Fixture, pool: PoolId) => (await poolOf(f, pool)).active as number;
const statsOf = async (f: Fixture) => (await call("GET", `${base(f)}/stats`, OPERATOR)).body;

async function oneAgent(settings: Parameters<typeof newAccount>[0] = {}, pool: PoolId = "premium-concurrent", quantity = 5) {
  const f = await newAccount(settings);
  await putPool(f, pool, quantity);
  const [user] = await licensedUsers(f, pool, 1);
  return { f, user, token: await agentToken(f, user) };
}

describe("POST /v1/seats/connect-ticket", () => {
  it("issues a one-time ticket to an agent, valid 60 s, naming the account", async () => {
    const { f, token } = await oneAgent();
    await setClock(f, T0);
    const res = await replyOf(api(token).seats["connect-ticket"].$post({ json: { session_id: "desk-1" } }));
    expect(res.status).toBe(201);
    expect(res.body.ticket).toMatch(new RegExp(`^ct_[A-Za-z0-9_-]{43}\\.${f.accountId}$`));
    expect(res.body.expires_at).toBe(new Date(T0 + 60_000).toISOString());
    const other = await replyOf(api(token).seats["connect-ticket"].$post({ json: { session_id: "desk-1" } }));
    expect(other.body.ticket).not.toBe(res.body.ticket);
  });

  it("refuses admins, the operator, missing credentials and bad session ids, changing nothing", async () => {
    const { f, token } = await oneAgent();
    expectProblem(await replyOf(api(f.key).seats["connect-ticket"].$post({ json: { session_id: "desk-1" } })), 403, "forbidden");
    expectProblem(await replyOf(api(OPERATOR).seats["connect-ticket"].$post({ json: { session_id: "desk-1" } })), 403, "forbidden");
    expectProblem(await replyOf(api(null).seats["connect-ticket"].$post({ json: { session_id: "desk-1" } })), 401, "unauthorized");
    expectProblem(await replyOf(api(token).seats["connect-ticket"].$post({ json: { session_id: "bad id!" } })), 400, "invalid_request");
    // Malformed on purpose: through `call`, since the typed client would not compile this body.
    expectProblem(await call("POST", "/v1/seats/connect-ticket", token, {}), 400, "invalid_request");
    expect((await statsOf(f)).tickets).toBe(0);
  });
});

describe("GET /v1/seats/connect", () => {
  it("checks the seat out and sends seat.granted with the checkout fields and entitlements", async () => {
    const { f, user, token } = await oneAgent();
    const socket = await connect(token, "desk-ws");
    const granted = await socket.next("seat.granted");
    expect(granted).toMatchObject({
      type: "seat.granted",
      user_id: user,
      pool: "premium-concurrent",
      tier: "premium",
      model: "concurrent",
      session_id: "desk-ws",
      limit: 5,
      active: 1,
      over_limit: false,
      grace_ends_at: null,
      heartbeat_interval_seconds: 40,
      entitlements: { user_id: user, pool: "premium-concurrent", tier: "premium" },
    });
    const httpCheckout = (await checkout(token, "desk-http")).body;
    expect(Object.keys(granted).filter((k) => k !== "type" && k !== "entitlements").sort()).toEqual(Object.keys(httpCheckout).sort());
    expect(await activeIn(f, "premium-concurrent")).toBe(1);
    socket.ws.close(1000);
  });

  it("answers ping with pong without running the object's code", async () => {
    const { f, token } = await oneAgent();
    const socket = await connect(token);
    const before = await statsOf(f);
    for (let i = 0; i < 5; i++) socket.send("ping");
    await eventually(async () => expect(socket.messages.filter((m) => m === "pong")).toHaveLength(5));
    const after = await statsOf(f);
    expect(after.socket_messages).toBe(before.socket_messages);
    expect(after.open_sockets).toBe(1);
    socket.ws.close(1000);
  });

  it("a ticket works once; a used, expired, forged or foreign ticket gets seat.denied unauthorized and close 4401", async () => {
    const { f, token } = await oneAgent();
    const ticket = await ticketFor(token);
    const first = await openSocket(ticket);
    await first.next("seat.granted");
    const again = await openSocket(ticket);
    expect((await again.next("seat.denied")).problem).toMatchObject({ status: 401, code: "unauthorized" });
    expect((await again.closing()).code).toBe(4401);

    await setClock(f, T0);
    const stale = await ticketFor(token, "desk-2");
    await setClock(f, T0 + 60_000);
    const expired = await openSocket(stale);
    expect((await expired.next("seat.denied")).problem.code).toBe("unauthorized");
    expect((await expired.closing()).code).toBe(4401);

    const forged = await openSocket(`ct_${"A".repeat(43)}.${f.accountId}`);
    expect((await forged.closing()).code).toBe(4401);
    const garbage = await openSocket("not-a-ticket");
    expect((await garbage.next("seat.denied")).problem).toMatchObject({ code: "unauthorized", status: 401 });
    expect((await garbage.closing()).code).toBe(4401);

    // Another account's object does not know this account's ticket.
    const other = await newAccount();
    const moved = ticket.replace(f.accountId, other.accountId);
    expect((await (await openSocket(moved)).closing()).code).toBe(4401);
    expect(await activeIn(f, "premium-concurrent")).toBe(1);
    first.ws.close(1000);
  });

  it("without an upgrade: 426 upgrade_required; without a ticket: 400", async () => {
    const plain = await call("GET", "/v1/seats/connect?ticket=x");
    expectProblem(plain, 426, "upgrade_required");
    expectProblem(await call("GET", "/v1/seats/connect", null, undefined), 400, "invalid_request");
  });

  it("refuses like HTTP checkout: no_license closes 4403, pool_at_ceiling closes 4409, and nothing is taken", async () => {
    const f = await newAccount();
    await putPool(f, "premium-concurrent", 5, 6);
    await replyOf(api(f.key).accounts[":account_id"].users[":user_id"].$put({ param: { account_id: f.accountId, user_id: "drifter" }, json: {} }));
    const drifter = await connect(await agentToken(f, "drifter"), "desk-1", false);
    expect((await drifter.next("seat.denied")).problem).toMatchObject({ status: 403, code: "no_license" });
    expect((await drifter.closing()).code).toBe(4403);

    const users = await licensedUsers(f, "premium-concurrent", 7);
    const tokens = await Promise.all(users.map((u) => agentToken(f, u)));
    const held = await Promise.all(tokens.slice(0, 6).map((t) => connect(t)));
    const late = await connect(tokens[6], "desk-1", false);
    expect((await late.next("seat.denied")).problem).toMatchObject({ status: 409, code: "pool_at_ceiling" });
    expect((await late.closing()).code).toBe(4409);
    expect(await activeIn(f, "premium-concurrent")).toBe(6);
    for (const s of held) s.ws.close(1000);
  });

  it("a race of 20 sockets against max_active 10 gives exactly 10 seats", async () => {
    const f = await newAccount({ reconnect_grace_seconds: 0 });
    await putPool(f, "premium-concurrent", 5, 10);
    const users = await licensedUsers(f, "premium-concurrent", 20);
    const tickets = await Promise.all((await Promise.all(users.map((u) => agentToken(f, u)))).map((t) => ticketFor(t)));
    const sockets = await Promise.all(tickets.map((t) => openSocket(t)));
    await eventually(async () => expect(sockets.every((s) => s.messages.length > 0)).toBe(true));
    const granted = sockets.filter((s) => s.messages[0].type === "seat.granted");
    const refused = sockets.filter((s) => s.messages[0].type === "seat.denied");
    expect(granted).toHaveLength(10);
    expect(refused.map((s) => s.messages[0].problem.code)).toEqual(Array(10).fill("pool_at_ceiling"));
    expect(await activeIn(f, "premium-concurrent")).toBe(10);
    for (const s of granted) s.ws.close(1000);
    await eventually(async () => expect(await activeIn(f, "premium-concurrent")).toBe(0));
  });
});

describe("push", () => {

  it("license revoked: seat.revoked license_revoked, close 4410, seat freed; a new connect is refused no_license", async () => {
    const { f, user, token } = await oneAgent();
    const socket = await connect(token);
    expect((await call("DELETE", `${base(f)}/users/${user}/license`, f.key)).status).toBe(204);
    expect(await socket.next("seat.revoked")).toMatchObject({ reason: "license_revoked", detail: expect.any(String) });
    expect((await socket.closing()).code).toBe(4410);
    expect(await activeIn(f, "premium-concurrent")).toBe(0);
    const again = await connect(token, "desk-1", false);
    expect((await again.next("seat.denied")).problem.code).toBe("no_license");
  });

  it("license moved: license_moved; connecting again takes a seat in the new pool", async () => {
    const { f, user, token } = await oneAgent();
    await putPool(f, "elite-concurrent", 5);
    const socket = await connect(token);
    expect((await replyOf(api(f.key).accounts[":account_id"].users[":user_id"].license.$put({ param: { account_id: f.accountId, user_id: user }, json: { pool: "elite-concurrent" } }))).status).toBe(200);
    expect(await socket.next("seat.revoked")).toMatchObject({ reason: "license_moved" });
    expect((await socket.closing()).code).toBe(4410);
    const again = await connect(token);
    expect(await again.next("seat.granted")).toMatchObject({ pool: "elite-concurrent", active: 1 });
    expect(await activeIn(f, "premium-concurrent")).toBe(0);
    again.ws.close(1000);
  });

  it("moved or revoked in a licenses batch: the reason names which", async () => {
    const f = await newAccount();
    await putPool(f, "premium-concurrent", 5);
    await putPool(f, "elite-concurrent", 5);
    const [a, b] = await licensedUsers(f, "premium-concurrent", 2);
    const [sa, sb] = await Promise.all([connect(await agentToken(f, a)), connect(await agentToken(f, b))]);
    const res = await replyOf(api(f.key).accounts[":account_id"]["licenses:batch"].$post({ param: { account_id: f.accountId }, json: { assign: [{ user_id: a, pool: "elite-concurrent" }], revoke: [b] } }));
    expect(res.status).toBe(200);
    expect((await sa.next("seat.revoked")).reason).toBe("license_moved");
    expect((await sb.next("seat.revoked")).reason).toBe("license_revoked");
  });

  it("force-release: seat_released; user deleted: user_deleted", async () => {
    const f = await newAccount();
    await putPool(f, "premium-concurrent", 5);
    const [a, b] = await licensedUsers(f, "premium-concurrent", 2);
    const [sa, sb] = await Promise.all([connect(await agentToken(f, a)), connect(await agentToken(f, b))]);
    expect((await call("DELETE", `${base(f)}/pools/premium-concurrent/seats/${a}`, f.key)).status).toBe(204);
    expect((await sa.next("seat.revoked")).reason).toBe("seat_released");
    expect((await sa.closing()).code).toBe(4410);
    expect((await call("DELETE", `${base(f)}/users/${b}`, f.key)).status).toBe(204);
    expect((await sb.next("seat.revoked")).reason).toBe("user_deleted");
    expect((await sb.closing()).code).toBe(4410);
    expect(await activeIn(f, "premium-concurrent")).toBe(0);
  });

  it("tokens revoked: tokens_revoked, close 4410; the old token gets no ticket, its unused tickets are void; a new token connects", async () => {
    const { f, user, token } = await oneAgent();
    const socket = await connect(token, "desk-1");
    const spare = await ticketFor(token, "desk-2");
    expect((await call("POST", `${base(f)}/users/${user}/agent-tokens:revoke`, f.key)).status).toBe(204);
    expect(await socket.next("seat.revoked")).toMatchObject({ reason: "tokens_revoked" });
    expect((await socket.closing()).code).toBe(4410);
    expect(await activeIn(f, "premium-concurrent")).toBe(0);
    expectProblem(await replyOf(api(token).seats["connect-ticket"].$post({ json: { session_id: "desk-1" } })), 401, "unauthorized");
    const stale = await openSocket(spare);
    expect((await stale.next("seat.denied")).problem.code).toBe("unauthorized");
    expect((await stale.closing()).code).toBe(4401);
    const fresh = await connect(await agentToken(f, user), "desk-1");
    expect((await fresh.next("seat.granted")).active).toBe(1);
    fresh.ws.close(1000);
  });

  it("entitlements.changed when an add-on is granted or removed, only to the user it concerns", async () => {
    const f = await newAccount();
    await putPool(f, "premium-concurrent", 5);
    const [a, b] = await licensedUsers(f, "premium-concurrent", 2);
    expect((await replyOf(api(f.key).accounts[":account_id"].addons[":product"].$put({ param: { account_id: f.accountId, product: "workforce_management" }, json: { quantity: 2 } }))).status).toBe(200);
    const [sa, sb] = await Promise.all([connect(await agentToken(f, a)), connect(await agentToken(f, b))]);
    expect((await call("PUT", `${base(f)}/users/${a}/addons/workforce_management`, f.key)).status).toBe(200);
    const changed = await sa.next("entitlements.changed");
    expect(changed.entitlements).toMatchObject({ user_id: a, addons: { workforce_management: "purchased" } });
    expect(changed.entitlements).toEqual((await call("GET", `${base(f)}/users/${a}/entitlements`, f.key)).body);
    expect((await call("DELETE", `${base(f)}/users/${a}/addons/workforce_management`, f.key)).status).toBe(204);
    await eventually(async () => expect(sa.messages.filter((m) => m.type === "entitlements.changed")).toHaveLength(2));
    expect(sa.messages.filter((m) => m.type === "entitlements.changed")[1].entitlements.addons.workforce_management).toBeNull();
    expect(sb.messages.filter((m) => m.type === "entitlements.changed")).toHaveLength(0);
    sa.ws.close(1000);
    sb.ws.close(1000);
  });
});

describe("one seat per user across both protocols", () => {
  it("a socket and HTTP sessions of one user hold one seat; it frees when the last one ends", async () => {
    const { f, user, token } = await oneAgent({ reconnect_grace_seconds: 0 });
    const socket = await connect(token, "desk-ws");
    expect((await checkout(token, "desk-http")).body.active).toBe(1);
    expect((await heartbeat(token, "desk-ws")).status).toBe(200);
    const seats = await call("GET", `${base(f)}/pools/premium-concurrent/seats`, f.key);
    expect(seats.body.items).toMatchObject([{ user_id: user, sessions: 2 }]);
    socket.ws.close(1000);
    await eventually(async () => {
      const s = await call("GET", `${base(f)}/pools/premium-concurrent/seats`, f.key);
      expect(s.body.items).toMatchObject([{ user_id: user, sessions: 1 }]);
    });
    expect(await activeIn(f, "premium-concurrent")).toBe(1);
    expect((await replyOf(api(token).seats.release.$post({ json: { session_id: "desk-http" } }))).status).toBe(204);
    expect(await activeIn(f, "premium-concurrent")).toBe(0);
  });

  it("a session held over HTTP that a socket takes over (the SDK back from its fallback) keeps its one seat: same since, no step, outlives its HTTP lease", async () => {
    const { f, user, token } = await oneAgent({ reconnect_grace_seconds: 15, lease_ttl_seconds: 120 });
    await setClock(f, T0);
    expect((await checkout(token, "desk-1")).status).toBe(200);
    const since = (await call("GET", `${base(f)}/pools/premium-concurrent/seats`, f.key)).body.items[0].since;
    await setClock(f, T0 + 30_000);
    const socket = await connect(token, "desk-1");
    expect((await socket.next("seat.granted")).active).toBe(1);
    // No more heartbeats: past the HTTP lease (T0 + 120 s) the socket's sweep keeps the session.
    for (const t of [T0 + 90_000, T0 + 150_000]) {
      await setClock(f, t);
      await runDurableObjectAlarm(seatsStub(f));
    }
    expect(socket.closed).toBeNull();
    const seats = (await call("GET", `${base(f)}/pools/premium-concurrent/seats`, f.key)).body.items;
    expect(seats).toMatchObject([{ user_id: user, sessions: 1, since }]);
    const usage = await call("GET", `${base(f)}/pools/premium-concurrent/usage?from=${new Date(T0 - MIN).toISOString()}&to=${new Date(T0 + 4 * MIN).toISOString()}&step=1`, f.key);
    expect(usage.status).toBe(200);
    expect(Math.min(...usage.body.items.filter((b: { t: string }) => Date.parse(b.t) >= T0 && Date.parse(b.t) <= T0 + 150_000).map((b: { max_active: number }) => b.max_active))).toBe(1);
    socket.ws.close(1000);
  });

  it("grace 0: a socket closed while an HTTP session of the same user lives keeps the seat until that lease ends, then the alarm frees it at the expiry", async () => {
    const lease = 60;
    const { f, user, token } = await oneAgent({ reconnect_grace_seconds: 0, lease_ttl_seconds: lease });
    await setClock(f, T0);
    expect((await checkout(token, "desk-http")).status).toBe(200); // say its release was lost
    const socket = await connect(token, "desk-ws");
    socket.ws.close(1000);
    await eventually(async () => expect((await statsOf(f)).open_sockets).toBe(0));
    expect((await call("GET", `${base(f)}/pools/premium-concurrent/seats`, f.key)).body.items).toMatchObject([{ user_id: user, sessions: 1 }]);
    expect(await activeIn(f, "premium-concurrent")).toBe(1);
    await setClock(f, T0 + lease * 1000 - 1);
    await runDurableObjectAlarm(seatsStub(f));
    expect(await activeIn(f, "premium-concurrent")).toBe(1);
    await setClock(f, T0 + lease * 1000 + 1);
    await runDurableObjectAlarm(seatsStub(f));
    expect(await activeIn(f, "premium-concurrent")).toBe(0);
  });

  it("an HTTP release of the socket's session frees it and closes the socket with 1000", async () => {
    const { f, token } = await oneAgent();
    const socket = await connect(token, "desk-ws");
    expect((await replyOf(api(token).seats.release.$post({ json: { session_id: "desk-ws" } }))).status).toBe(204);
    expect(await socket.closing()).toMatchObject({ code: 1000 });
    expect(await activeIn(f, "premium-concurrent")).toBe(0);
  });

  it('{"type":"release"} frees the seat at once, whatever the reconnect grace', async () => {
    const { f, token } = await oneAgent({ reconnect_grace_seconds: 300 });
    const socket = await connect(token);
    socket.send(JSON.stringify({ type: "release" }));
    expect((await socket.closing()).code).toBe(1000);
    expect(await activeIn(f, "premium-concurrent")).toBe(0);
  });

  it("an unknown message closes the socket with 4400 (the seat then follows the reconnect grace)", async () => {
    const { f, token } = await oneAgent({ reconnect_grace_seconds: 0 });
    const socket = await connect(token);
    socket.send('{"type":"launch_missiles"}');
    expect((await socket.closing()).code).toBe(4400);
    await eventually(async () => expect(await activeIn(f, "premium-concurrent")).toBe(0));
  });
});

describe("reconnect grace", () => {
  it("grace 0: a closed socket frees the seat at once", async () => {
    const { f, token } = await oneAgent({ reconnect_grace_seconds: 0 });
    const socket = await connect(token);
    expect(await activeIn(f, "premium-concurrent")).toBe(1);
    socket.ws.close(1001, "gone");
    await eventually(async () => expect(await activeIn(f, "premium-concurrent")).toBe(0));
  });

  it("a blip: the same session reconnects inside the grace and keeps its seat, with no step in the usage log", async () => {
    const { f, user, token } = await oneAgent({ reconnect_grace_seconds: 15 });
    await setClock(f, T0);
    const first = await connect(token, "desk-1");
    const since = (await call("GET", `${base(f)}/pools/premium-concurrent/seats`, f.key)).body.items[0].since;
    first.ws.close(4000, "network blip");
    await eventually(async () => expect((await statsOf(f)).open_sockets).toBe(0));
    await setClock(f, T0 + 10_000);
    expect(await activeIn(f, "premium-concurrent")).toBe(1);
    const second = await connect(token, "desk-1");
    expect((await second.next("seat.granted")).active).toBe(1);
    // Past the first socket's grace: the seat stays, since the session is connected again.
    await setClock(f, T0 + 30_000);
    await runDurableObjectAlarm(seatsStub(f));
    const seats = (await call("GET", `${base(f)}/pools/premium-concurrent/seats`, f.key)).body.items;
    expect(seats).toMatchObject([{ user_id: user, sessions: 1, since }]);
    const usage = await call("GET", `${base(f)}/pools/premium-concurrent/usage?from=${new Date(T0 - MIN).toISOString()}&to=${new Date(T0 + MIN).toISOString()}&step=1`, f.key);
    expect(usage.status).toBe(200);
    expect(Math.min(...usage.body.items.filter((b: { t: string }) => Date.parse(b.t) >= T0).map((b: { max_active: number }) => b.max_active))).toBe(1);
    second.ws.close(1000);
  });

  it("without a reconnect the seat frees when the grace ends, not before", async () => {
    const { f, token } = await oneAgent({ reconnect_grace_seconds: 15 });
    await setClock(f, T0);
    const socket = await connect(token);
    socket.ws.close(4000, "crash");
    await eventually(async () => expect((await statsOf(f)).open_sockets).toBe(0));
    await setClock(f, T0 + 14_000);
    await runDurableObjectAlarm(seatsStub(f));
    expect(await activeIn(f, "premium-concurrent")).toBe(1);
    await setClock(f, T0 + 15_000);
    await runDurableObjectAlarm(seatsStub(f));
    expect(await activeIn(f, "premium-concurrent")).toBe(0);
  });

  it("reconnect_grace_seconds: default 15, settable 0-300 on PATCH, anything else 400 and unchanged", async () => {
    const f = await newAccount();
    expect((await call("GET", base(f), f.key)).body.reconnect_grace_seconds).toBe(15);
    expect((await replyOf(api(f.key).accounts[":account_id"].$patch({ param: { account_id: f.accountId }, json: { reconnect_grace_seconds: 0 } }))).body.reconnect_grace_seconds).toBe(0);
    expect((await replyOf(api(f.key).accounts[":account_id"].$patch({ param: { account_id: f.accountId }, json: { reconnect_grace_seconds: 300 } }))).body.reconnect_grace_seconds).toBe(300);
    for (const bad of [-1, 301, 1.5, "15", null]) {
      // Malformed on purpose: through `call`, since the typed client would not compile this body.
      expectProblem(await call("PATCH", base(f), f.key, { reconnect_grace_seconds: bad }), 400, "invalid_request");
    }
    expect((await call("GET", base(f), f.key)).body.reconnect_grace_seconds).toBe(300);
  });
});

describe("silent sockets", () => {
  it("the alarm closes a socket silent for longer than the lease (4408) and frees its seat", async () => {
    const { f, token } = await oneAgent({ lease_ttl_seconds: 60 });
    await setClock(f, T0);
    const socket = await connect(token);
    await setClock(f, T0 + 59_000);
    await runDurableObjectAlarm(seatsStub(f));
    expect(socket.closed).toBeNull();
    expect(await activeIn(f, "premium-concurrent")).toBe(1);
    await setClock(f, T0 + 61_000);
    await runDurableObjectAlarm(seatsStub(f));
    expect((await socket.closing()).code).toBe(4408);
    expect(await activeIn(f, "premium-concurrent")).toBe(0);
  });

  it("a socket that dies without a close frame is freed by the alarms it arms, within 1.5 leases of its last sign of life", async () => {
    const lease = 60;
    const { f, token } = await oneAgent({ lease_ttl_seconds: lease, reconnect_grace_seconds: 0 });
    await setClock(f, T0);
    const socket = await connect(token); // then nothing: no ping, no close (a peer that vanished)
    const alarmAt = () => runInDurableObject(seatsStub(f), (_i: AccountSeats, state) => state.storage.getAlarm());
    // Follow the alarm the object set itself, as the runtime would: every one is due within half a lease.
    let t = T0;
    for (let n = 0; n < 10 && socket.closed === null; n++) {
      const next = await alarmAt();
      expect(next, "an alarm is always set while a socket is open").not.toBeNull();
      expect(next!).toBeLessThanOrEqual(t + (lease / 2) * 1000);
      t = next!;
      await setClock(f, t);
      await runDurableObjectAlarm(seatsStub(f));
      await sleep(0);
    }
    expect((await socket.closing()).code).toBe(4408);
    expect(t - T0).toBeGreaterThan(lease * 1000);
    expect(t - T0).toBeLessThanOrEqual(1.5 * lease * 1000);
    expect(await activeIn(f, "premium-concurrent")).toBe(0);
  });

  it("a connected socket's lease is renewed by the sweep: the seat outlives many leases", async () => {
    const { f, token } = await oneAgent({ lease_ttl_seconds: 60 });
    await setClock(f, T0);
    const socket = await connect(token);
    for (let t = 30_000; t <= 300_000; t += 30_000) {
      await setClock(f, T0 + t);
      await heardNow(f);
      await runDurableObjectAlarm(seatsStub(f));
      expect(socket.closed, `closed at +${t / 1000}s`).toBeNull();
    }
    expect(await activeIn(f, "premium-concurrent")).toBe(1);
    socket.ws.close(1000);
  });
});

/**
 * Marks every socket as heard at the object's test clock, as its pings would be in real time (the
 * runtime stamps auto-answered pings with the real clock, which the test clock runs ahead of).
 */
async function heardNow(f: Fixture): Promise<void> {
  await runInDurableObject<AccountSeats, void>(seatsStub(f), (instance, state) => {
    for (const ws of state.getWebSockets()) ws.serializeAttachment({ ...ws.deserializeAttachment(), lastMessageAt: instance.now() });
  });
}

describe("GET /v1/accounts/{account_id}/stats", () => {
  it("counts what woke the object: requests, checkouts, heartbeats, socket messages, open sockets", async () => {
    const { f, token } = await oneAgent();
    const zero = await statsOf(f);
    expect(zero).toMatchObject({ account_id: f.accountId, checkouts: 0, heartbeats: 0, socket_messages: 0, open_sockets: 0 });
    await checkout(token, "desk-http");
    await heartbeat(token, "desk-http");
    await heartbeat(token, "desk-http");
    const socket = await connect(token, "desk-ws");
    socket.send("ping");
    socket.send(JSON.stringify({ type: "release" }));
    await socket.closing();
    const s = await eventually(async () => {
      const now = await statsOf(f);
      expect(now.socket_closes).toBeGreaterThanOrEqual(1);
      return now;
    });
    expect(s).toMatchObject({ checkouts: 2, heartbeats: 2, tickets: 1, socket_connects: 1, socket_messages: 1, open_sockets: 0, connected_users: 0 });
    // checkout, 2 heartbeats, the ticket and the upgrade
    expect(s.requests).toBe(zero.requests + 5);
    expect(s.invocations).toBe(s.requests + s.socket_messages + s.socket_closes + s.alarms);
  });

  it("is the operator's: an admin key gets 403, an agent 403, an unknown account 404", async () => {
    const { f, token } = await oneAgent();
    expectProblem(await call("GET", `${base(f)}/stats`, f.key), 403, "forbidden");
    expectProblem(await call("GET", `${base(f)}/stats`, token), 403, "forbidden");
    expectProblem(await call("GET", `/v1/accounts/no-such-account/stats`, OPERATOR), 404, "not_found");
    expectProblem(await call("GET", `${base(f)}/stats`), 401, "unauthorized");
  });
});
