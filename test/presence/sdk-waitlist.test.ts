import { createExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { createSeatClient, type SeatClientOptions, type SeatEvents, type WebSocketLike } from "../../sdk/src/index";
import worker from "../../src/index";
import { agentTokens, api, call, OPERATOR, checkout, eventually, heartbeat, licensedUsers, newAccount, putPool, release, replyOf, setClock, T0, type Fixture } from "../helpers";
import { Clock } from "./sdk-clock";

/**
 * The seat SDK's `wait` against the real Worker and account object: its requests and sockets go
 * to the Worker's fetch handler in-process, its timers run on a manual clock (the object's clock is
 * set apart, with setClock), so a test decides when the client polls and when time passes for the
 * server. docs/api.md#the-waitlist, sdk/README.md.
 */

const POOL = "premium-concurrent";
const base = "http://seatkeeper.test";
const holders = async (f: Fixture) =>
  ((await call("GET", `/v1/accounts/${f.accountId}/pools/${POOL}/seats`, f.key)).body.items as { user_id: string }[]).map((i) => i.user_id).sort();
const waitingIn = async (f: Fixture) => (await call("GET", `/v1/accounts/${f.accountId}/pools`, f.key)).body.items.find((p: { id: string }) => p.id === POOL).waiting;
const waitCheckout = (token: string, session_id: string) => replyOf(api(token).seats.checkout.$post({ json: { session_id, wait: true } }));
const poll = (token: string, session_id: string) => replyOf(api(token).seats.wait[":session_id"].$post({ param: { session_id } }));

/** A presence socket through the Worker, as a browser's WebSocket would behave for the client. */
class WorkerSocket implements WebSocketLike {
  readyState = 0;
  onopen: ((ev: unknown) => void) | null = null;
  onmessage: ((ev: { data: unknown }) => void) | null = null;
  onclose: ((ev: { code: number; reason: string }) => void) | null = null;
  onerror: ((ev: unknown) => void) | null = null;
  private ws: WebSocket | null = null;

  constructor(url: string, track: <T>(p: Promise<T>) => Promise<T>) {
    const upgrade = Promise.resolve(worker.fetch(new Request(url.replace(/^ws/, "http"), { headers: { upgrade: "websocket" } }), env, createExecutionContext()));
    void track(
      upgrade.then((res) => {
        const ws = res.webSocket;
        if (!ws) return this.closed(1006, "");
        this.ws = ws;
        ws.addEventListener("message", (ev) => this.onmessage?.({ data: ev.data }));
        ws.addEventListener("close", (ev) => this.closed(ev.code, ev.reason));
        ws.accept();
        this.readyState = 1;
        this.onopen?.({});
      }),
    );
  }

  send(data: string): void {
    this.ws?.send(data);
  }

  close(code?: number, reason?: string): void {
    this.readyState = 3;
    try {
      this.ws?.close(code, reason);
    } catch {
      // already closing
    }
  }

  /** The network drops: the server sees the socket go, the client a 1006. */
  drop(): void {
    this.close(1001, "network");
    this.closed(1006, "");
  }

  private closed(code: number, reason: string): void {
    const handler = this.onclose;
    this.readyState = 3;
    this.onclose = null;
    handler?.({ code, reason });
  }
}

/** A socket that never opens (a proxy refusing upgrades): it closes on its own. */
function deadSocket(): WebSocketLike {
  const s: WebSocketLike & { readyState: number } = {
    readyState: 0,
    send: () => undefined,
    close: () => undefined,
    onopen: null,
    onmessage: null,
    onclose: null,
    onerror: null,
  };
  void Promise.resolve().then(() => {
    s.readyState = 3;
    s.onclose?.({ code: 1006, reason: "" });
  });
  return s;
}

/** The SDK for one desktop, against the Worker in-process, on its own manual clock. */
function desktop(token: string, sessionId: string, opts: Partial<SeatClientOptions> = {}) {
  let inFlight = 0;
  const track = <T,>(p: Promise<T>): Promise<T> => {
    inFlight++;
    return p.finally(() => inFlight--);
  };
  const clock = new Clock(async () => {
    while (inFlight > 0) await new Promise((r) => setTimeout(r, 5));
  });
  const sockets: WorkerSocket[] = [];
  const net = { blockSockets: false };
  const requests: { path: string; method: string; status: number }[] = [];
  const client = createSeatClient({
    baseUrl: base,
    sessionId,
    getToken: () => token,
    fetch: (input, init) =>
      track(
        Promise.resolve(worker.fetch(new Request(input, init), env, createExecutionContext())).then((res) => {
          requests.push({ path: new URL(input).pathname, method: init?.method ?? "GET", status: res.status });
          return res;
        }),
      ),
    WebSocket: (url) => {
      if (net.blockSockets) return deadSocket();
      const s = new WorkerSocket(url, track);
      sockets.push(s);
      return s;
    },
    setTimeout: clock.setTimeout,
    clearTimeout: clock.clearTimeout,
    now: clock.now,
    random: () => 0.5,
    releaseOnPageHide: false,
    ...opts,
  });
  const events: { type: keyof SeatEvents; payload: any }[] = [];
  for (const type of ["granted", "waiting", "denied", "revoked", "connection", "error"] as const) client.on(type, (payload) => events.push({ type, payload }));
  const of = (type: keyof SeatEvents) => events.filter((e) => e.type === type).map((e) => e.payload);
  /** Starts the client and lets its first requests (and socket) settle. */
  const start = async () => {
    client.start();
    await clock.advance(0);
  };
  return { client, clock, sockets, net, requests, of, start };
}

/** A pool with a ceiling of one seat, held by the first of `n` licensed users. */
async function fullPool(n: number, settings: Parameters<typeof newAccount>[0] = {}) {
  const f = await newAccount(settings);
  await setClock(f, T0);
  await putPool(f, POOL, 1, 1);
  const users = await licensedUsers(f, POOL, n);
  const tokens = await agentTokens(f, users);
  expect((await checkout(tokens[0], "desk-h")).status).toBe(200);
  return { f, users, tokens };
}

describe("the SDK's wait against the account object", () => {
  it("waits on the socket and over HTTP, each told its place; a freed seat is pushed to the socket, the HTTP waiter collects the next at its poll", async () => {
    const { f, users, tokens } = await fullPool(3);
    const [h, a, b] = tokens;
    const onSocket = desktop(a, "desk-a", { wait: true, transport: "websocket" });
    await onSocket.start();
    const first = await eventually(async () => onSocket.of("waiting")[0] ?? Promise.reject(new Error("not waiting yet")));
    expect(first).toMatchObject({ status: "waiting", user_id: users[1], session_id: "desk-a", pool: POOL, position: 1, waiting: 1, reason: "pool_at_ceiling" });
    expect(onSocket.of("connection").at(-1)).toEqual({ state: "waiting", transport: "websocket", attempt: 0 });

    const overHttp = desktop(b, "desk-b", { wait: true, transport: "http" });
    await overHttp.start();
    expect(overHttp.of("waiting")).toEqual([expect.objectContaining({ user_id: users[2], session_id: "desk-b", position: 2, waiting: 2, poll_interval_seconds: 40 })]);
    expect(overHttp.client.waiting?.position).toBe(2);
    expect(await waitingIn(f)).toBe(2);
    expect(onSocket.of("denied")).toEqual([]);
    expect(overHttp.of("denied")).toEqual([]);

    // The holder leaves: the socket waiter is handed the seat at once.
    expect((await release(h, "desk-h")).status).toBe(204);
    await eventually(async () => expect(onSocket.of("granted")).toHaveLength(1));
    expect(onSocket.client.seat).toMatchObject({ user_id: users[1], session_id: "desk-a", pool: POOL, active: 1, limit: 1 });
    expect(onSocket.client.waiting).toBeNull();
    expect(onSocket.client.entitlements).toMatchObject({ user_id: users[1], pool: POOL });
    expect(await holders(f)).toEqual([users[1]]);

    // The HTTP waiter learns its new place at its next poll (every poll_interval_seconds).
    await overHttp.clock.advance(39_999);
    expect(overHttp.requests.filter((r) => r.path === "/v1/seats/wait/desk-b")).toEqual([]);
    await overHttp.clock.advance(1);
    expect(overHttp.requests.filter((r) => r.path === "/v1/seats/wait/desk-b")).toEqual([{ path: "/v1/seats/wait/desk-b", method: "POST", status: 202 }]);
    expect(overHttp.of("waiting").map((w) => [w.position, w.waiting])).toEqual([
      [2, 2],
      [1, 1],
    ]);

    // The socket's desktop stops: its seat goes to the HTTP waiter, whose next poll collects it.
    await onSocket.client.stop();
    await eventually(async () => expect(await holders(f)).toEqual([users[2]]));
    await overHttp.clock.advance(40_000);
    expect(overHttp.of("granted")).toEqual([expect.objectContaining({ user_id: users[2], session_id: "desk-b", pool: POOL })]);
    expect(overHttp.client.waiting).toBeNull();
    // From then on it heartbeats the seat like any checkout.
    await overHttp.clock.advance(40_000);
    expect(overHttp.requests.at(-1)).toMatchObject({ path: "/v1/seats/heartbeat", status: 200 });
    expect(await holders(f)).toEqual([users[2]]);
    await overHttp.client.stop();
    expect(await holders(f)).toEqual([]);
  });

  it("stop() leaves the queue on either transport (release on the socket, DELETE over HTTP); the freed seat then goes to nobody", async () => {
    const { f, tokens } = await fullPool(3);
    const [h, a, b] = tokens;
    const onSocket = desktop(a, "desk-a", { wait: true, transport: "websocket" });
    await onSocket.start();
    await eventually(async () => expect(onSocket.of("waiting")).toHaveLength(1));
    const overHttp = desktop(b, "desk-b", { wait: true, transport: "http" });
    await overHttp.start();
    expect(await waitingIn(f)).toBe(2);

    await onSocket.client.stop();
    await eventually(async () => expect(await waitingIn(f)).toBe(1));
    expect((await poll(a, "desk-a")).status).toBe(404);
    await overHttp.client.stop();
    expect(overHttp.requests.at(-1)).toEqual({ path: "/v1/seats/wait/desk-b", method: "DELETE", status: 204 });
    expect(await waitingIn(f)).toBe(0);
    expect((await release(h, "desk-h")).status).toBe(204);
    expect(await holders(f)).toEqual([]);
  });

  it("a waiter that stops polling (its desktop asleep) loses its place after a lease; awake, it finds the entry gone and queues again, last", async () => {
    const { f, users, tokens } = await fullPool(4, { lease_ttl_seconds: 60 });
    const [h, quiet, busy, late] = tokens;
    const sleeper = desktop(quiet, "desk-q", { wait: true, transport: "http" });
    await sleeper.start();
    expect(sleeper.client.waiting).toMatchObject({ position: 1, poll_interval_seconds: 20 });
    expect((await waitCheckout(busy, "desk-b")).body.position).toBe(2);
    // The sleeper's timers do not run; the others keep renewing.
    for (const t of [20_000, 40_000, 59_000]) {
      await setClock(f, T0 + t);
      expect((await heartbeat(h, "desk-h")).status).toBe(200);
      expect((await poll(busy, "desk-b")).status).toBe(202);
    }
    await setClock(f, T0 + 61_000);
    expect((await poll(busy, "desk-b")).body).toMatchObject({ position: 1, waiting: 1 });
    expect((await waitCheckout(late, "desk-l")).body).toMatchObject({ position: 2, waiting: 2 });
    expect((await release(h, "desk-h")).status).toBe(204);
    expect(await holders(f)).toEqual([users[2]]);

    // The sleeper wakes: its poll is 404 wait_not_found, it checks out again and waits behind `late`.
    await sleeper.clock.advance(20_000);
    expect(sleeper.requests.map((r) => [r.path, r.status])).toEqual([
      ["/v1/seats/checkout", 202],
      ["/v1/seats/wait/desk-q", 404],
      ["/v1/seats/checkout", 202],
    ]);
    expect(sleeper.of("waiting").map((w) => [w.position, w.waiting])).toEqual([
      [1, 1],
      [2, 2],
    ]);
    expect(sleeper.of("denied")).toEqual([]);
    expect(sleeper.client.running).toBe(true);
    await sleeper.client.stop();
  });

  it("a socket waiter that falls back to HTTP within the reconnect grace keeps its place; back on a socket it keeps it again, and is granted there", async () => {
    const { f, users, tokens } = await fullPool(3, { reconnect_grace_seconds: 15 });
    const [h, a, b] = tokens;
    const d = desktop(a, "desk-a", { wait: true });
    await d.start();
    await eventually(async () => expect(d.of("waiting")).toHaveLength(1));
    expect((await waitCheckout(b, "desk-b")).body.position).toBe(2);

    // The network drops and upgrades fail from now on: two sockets that never open, then HTTP.
    d.net.blockSockets = true;
    d.sockets[0].drop();
    await d.clock.advance(5_000);
    expect(d.client.transport).toBe("http");
    expect(d.requests.filter((r) => r.path === "/v1/seats/checkout")).toEqual([{ path: "/v1/seats/checkout", method: "POST", status: 202 }]);
    expect(d.client.waiting).toMatchObject({ position: 1, waiting: 2 });
    expect(d.of("connection").at(-1)).toEqual({ state: "waiting", transport: "http", attempt: 0 });

    // Sockets open again: the next try (wait=true, same session) takes the place over, polls stop.
    d.net.blockSockets = false;
    await d.clock.advance(d.clock.pending()[0]);
    await eventually(async () => expect(d.client.transport).toBe("websocket"));
    expect(d.of("connection").at(-1)).toEqual({ state: "waiting", transport: "websocket", attempt: 0 });
    expect(d.client.waiting).toMatchObject({ position: 1 });
    expect(await waitingIn(f)).toBe(2);
    expect((await release(h, "desk-h")).status).toBe(204);
    await eventually(async () => expect(d.of("granted")).toHaveLength(1));
    expect(await holders(f)).toEqual([users[1]]);
    // First in line throughout (the queue grew behind it once); the same place on each transport.
    expect(d.of("waiting").map((w) => [w.position, w.waiting])).toEqual([
      [1, 1],
      [1, 2],
    ]);
    await d.client.stop();
  });

  it("a socket waiter that gets back later than the reconnect grace has lost its place: over HTTP it queues again, last", async () => {
    const { f, tokens } = await fullPool(3, { reconnect_grace_seconds: 15 });
    const [, a, b] = tokens;
    const d = desktop(a, "desk-a", { wait: true });
    await d.start();
    await eventually(async () => expect(d.of("waiting")).toHaveLength(1));
    expect((await waitCheckout(b, "desk-b")).body.position).toBe(2);
    d.net.blockSockets = true;
    d.sockets[0].drop();
    // The object saw the socket go (its place is kept until T0 + 15 s)…
    await eventually(async () => expect((await call("GET", `/v1/accounts/${f.accountId}/stats`, OPERATOR)).body.open_sockets).toBe(0));
    // …and the grace runs out before the desktop is back, over HTTP (nothing else touched the queue meanwhile).
    await setClock(f, T0 + 16_000);
    await d.clock.advance(5_000);
    expect(d.client.transport).toBe("http");
    expect(d.client.waiting).toMatchObject({ position: 2, waiting: 2 });
    expect((await poll(b, "desk-b")).body).toMatchObject({ position: 1 });
    await d.client.stop();
  });
});
