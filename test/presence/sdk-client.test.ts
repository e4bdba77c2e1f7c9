import { describe, expect, it } from "vitest";
import { createSeatClient, type SeatClientOptions, type SeatEvents, type WebSocketLike } from "../../sdk/src/index";

/**
 * The seat SDK against fakes: a scripted server (fetch), fake sockets and a manual clock, so every
 * reconnect, backoff and fallback decision is checked step by step.
 */

const SEAT = {
  user_id: "ada",
  pool: "premium-concurrent",
  tier: "premium",
  model: "concurrent",
  session_id: "desk-1",
  expires_at: "2030-01-15T08:02:00.000Z",
  heartbeat_interval_seconds: 40,
  limit: 5,
  active: 1,
  over_limit: false,
  grace_ends_at: null,
};
const ENTITLEMENTS = { user_id: "ada", pool: "premium-concurrent", tier: "premium", model: "concurrent", features: {}, addons: {}, account_addons: { virtual_agent: false } };

class Clock {
  t = 0;
  private timers: { id: number; at: number; fn: () => void }[] = [];
  private ids = 0;
  setTimeout = (fn: () => void, ms: number) => {
    const id = ++this.ids;
    this.timers.push({ id, at: this.t + ms, fn });
    return id;
  };
  clearTimeout = (id: unknown) => {
    this.timers = this.timers.filter((x) => x.id !== id);
  };
  now = () => this.t;
  pending(): number[] {
    return this.timers.map((x) => x.at - this.t).sort((a, b) => a - b);
  }
  /** Runs timers due within `ms`, in time order, letting promises settle between them. */
  async advance(ms: number): Promise<void> {
    const end = this.t + ms;
    for (;;) {
      await settle();
      const next = this.timers.filter((x) => x.at <= end).sort((a, b) => a.at - b.at)[0];
      if (!next) break;
      this.timers = this.timers.filter((x) => x !== next);
      this.t = next.at;
      next.fn();
    }
    this.t = end;
    await settle();
  }
}

const settle = async () => {
  for (let i = 0; i < 20; i++) await Promise.resolve();
  await new Promise((r) => setTimeout(r, 0));
};

class FakeSocket implements WebSocketLike {
  readyState = 0;
  sent: string[] = [];
  closedWith: { code?: number; reason?: string } | null = null;
  onopen: ((ev: unknown) => void) | null = null;
  onmessage: ((ev: { data: unknown }) => void) | null = null;
  onclose: ((ev: { code: number; reason: string }) => void) | null = null;
  onerror: ((ev: unknown) => void) | null = null;
  constructor(readonly url: string) {}
  send(data: string) {
    this.sent.push(data);
  }
  close(code?: number, reason?: string) {
    this.closedWith = { code, reason };
    this.readyState = 3;
  }
  open() {
    this.readyState = 1;
    this.onopen?.({});
  }
  message(msg: unknown) {
    this.onmessage?.({ data: typeof msg === "string" ? msg : JSON.stringify(msg) });
  }
  drop(code = 1006, reason = "") {
    this.readyState = 3;
    this.onclose?.({ code, reason });
  }
}

type Handler = (body: any, auth: string | null, init: RequestInit & { keepalive?: boolean }) => Response | Promise<Response>;

function setup(opts: Partial<SeatClientOptions> = {}, routes: Record<string, Handler> = {}) {
  const clock = new Clock();
  const sockets: FakeSocket[] = [];
  const requests: { path: string; body: any; auth: string | null; keepalive?: boolean }[] = [];
  const tokens: { refresh: boolean }[] = [];
  let tokenN = 0;
  const json = (status: number, body: unknown, headers: Record<string, string> = {}) =>
    new Response(body === null ? null : JSON.stringify(body), { status, headers: { "content-type": "application/json", ...headers } });
  const defaults: Record<string, Handler> = {
    "/v1/seats/connect-ticket": () => json(201, { ticket: `ct_${"x".repeat(43)}.acme`, expires_at: "2030-01-01T00:00:00Z" }),
    "/v1/seats/checkout": () => json(200, SEAT),
    "/v1/seats/heartbeat": () => json(200, { expires_at: "2030-01-15T08:04:00.000Z" }),
    "/v1/seats/release": () => new Response(null, { status: 204 }),
    "/v1/me": () => json(200, ENTITLEMENTS),
  };
  const table = { ...defaults, ...routes };
  const client = createSeatClient({
    baseUrl: "https://seats.example/",
    sessionId: "desk-1",
    getToken: ({ refresh }) => {
      tokens.push({ refresh });
      return `token-${++tokenN}`;
    },
    WebSocket: (url) => {
      const s = new FakeSocket(url);
      sockets.push(s);
      return s;
    },
    fetch: async (input, init = {}) => {
      const path = new URL(input).pathname;
      const body = init.body ? JSON.parse(String(init.body)) : null;
      const auth = new Headers(init.headers).get("authorization");
      requests.push({ path, body, auth, keepalive: init.keepalive });
      const handler = table[path];
      if (!handler) return json(404, { code: "not_found", detail: "no route" });
      return handler(body, auth, init);
    },
    random: () => 0.5,
    setTimeout: clock.setTimeout,
    clearTimeout: clock.clearTimeout,
    now: clock.now,
    ...opts,
  });
  const events: { type: keyof SeatEvents; payload: any }[] = [];
  for (const type of ["granted", "denied", "revoked", "entitlements", "connection", "error"] as const) {
    client.on(type, (payload) => events.push({ type, payload }));
  }
  const of = (type: keyof SeatEvents) => events.filter((e) => e.type === type).map((e) => e.payload);
  const paths = () => requests.map((r) => r.path);
  return { client, clock, sockets, requests, tokens, events, of, paths, json };
}

const granted = { type: "seat.granted", ...SEAT, entitlements: ENTITLEMENTS };

describe("seat SDK over a WebSocket", () => {
  it("gets a ticket with the token, connects to the socket URL and reports granted and entitlements", async () => {
    const t = setup();
    t.client.start();
    await t.clock.advance(0);
    expect(t.requests[0]).toMatchObject({ path: "/v1/seats/connect-ticket", body: { session_id: "desk-1" }, auth: "Bearer token-1" });
    expect(t.sockets[0].url).toBe(`wss://seats.example/v1/seats/connect?ticket=${encodeURIComponent(`ct_${"x".repeat(43)}.acme`)}`);
    t.sockets[0].open();
    t.sockets[0].message(granted);
    expect(t.of("granted")).toEqual([SEAT]);
    expect(t.of("entitlements")).toEqual([ENTITLEMENTS]);
    expect(t.client.seat).toEqual(SEAT);
    expect(t.client.transport).toBe("websocket");
    expect(t.of("connection").map((c) => c.state)).toEqual(["connecting", "connected"]);
    expect(t.paths()).not.toContain("/v1/seats/checkout");
  });

  it("pings at the seat's heartbeat interval at most, and drops a socket that stopped answering", async () => {
    const t = setup({ pingIntervalMs: 60_000 });
    t.client.start();
    await t.clock.advance(0);
    t.sockets[0].open();
    t.sockets[0].message(granted);
    await t.clock.advance(40_000);
    expect(t.sockets[0].sent).toEqual(["ping"]);
    t.sockets[0].message("pong");
    await t.clock.advance(40_000);
    expect(t.sockets[0].sent).toEqual(["ping", "ping"]);
    // No pong for 2.5 periods: the client gives up on this socket.
    await t.clock.advance(100_000);
    expect(t.sockets[0].closedWith?.code).toBe(4000);
  });

  it("entitlements.changed updates the entitlements", async () => {
    const t = setup();
    t.client.start();
    await t.clock.advance(0);
    t.sockets[0].open();
    t.sockets[0].message(granted);
    const next = { ...ENTITLEMENTS, addons: { workforce_management: "purchased" } };
    t.sockets[0].message({ type: "entitlements.changed", entitlements: next });
    expect(t.of("entitlements")).toEqual([ENTITLEMENTS, next]);
    expect(t.client.entitlements).toEqual(next);
  });

  it("a dropped socket reconnects with the same session, quickly the first time, then backing off", async () => {
    const t = setup();
    t.client.start();
    await t.clock.advance(0);
    t.sockets[0].open();
    t.sockets[0].message(granted);
    t.sockets[0].drop(1006);
    expect(t.client.seat).toBeNull();
    expect(t.of("connection").at(-1)).toMatchObject({ state: "reconnecting" });
    await t.clock.advance(200);
    expect(t.sockets).toHaveLength(2);
    expect(t.requests.filter((r) => r.path === "/v1/seats/connect-ticket").every((r) => r.body.session_id === "desk-1")).toBe(true);
    // The next drops before opening wait longer each time (random 0.5: 3/4 of the ceiling).
    t.sockets[1].open();
    t.sockets[1].drop(1006);
    const waits: number[] = [];
    for (let i = 2; i < 6; i++) {
      waits.push(t.clock.pending()[0]);
      await t.clock.advance(t.clock.pending()[0]);
      expect(t.sockets).toHaveLength(i + 1);
      t.sockets[i].open();
      t.sockets[i].drop(1006);
    }
    expect(waits).toEqual([750, 1500, 3000, 6000]);
  });

  it("backoff has jitter between half and all of an exponential ceiling, capped", () => {
    const low = setup({ random: () => 0, backoff: { initialMs: 100, maxMs: 1000 } }).client as any;
    const high = setup({ random: () => 0.999999, backoff: { initialMs: 100, maxMs: 1000 } }).client as any;
    expect([0, 1, 2, 3, 4, 10].map((n) => low.backoffDelay(n))).toEqual([50, 100, 200, 400, 500, 500]);
    expect([0, 1, 2, 3, 4, 10].map((n) => Math.round(high.backoffDelay(n)))).toEqual([100, 200, 400, 800, 1000, 1000]);
  });

  it("seat.revoked for a license revocation: revoked event, then stopped (no reconnect)", async () => {
    const t = setup();
    t.client.start();
    await t.clock.advance(0);
    t.sockets[0].open();
    t.sockets[0].message(granted);
    t.sockets[0].message({ type: "seat.revoked", reason: "license_revoked", detail: "gone" });
    t.sockets[0].drop(4410);
    expect(t.of("revoked")).toEqual([{ reason: "license_revoked", detail: "gone" }]);
    expect(t.client.running).toBe(false);
    await t.clock.advance(120_000);
    expect(t.sockets).toHaveLength(1);
  });

  it("seat.revoked license_moved reconnects at once; tokens_revoked reconnects with a new token", async () => {
    const t = setup();
    t.client.start();
    await t.clock.advance(0);
    t.sockets[0].open();
    t.sockets[0].message(granted);
    t.sockets[0].message({ type: "seat.revoked", reason: "license_moved", detail: "" });
    t.sockets[0].drop(4410);
    await t.clock.advance(0);
    expect(t.sockets).toHaveLength(2);
    t.sockets[1].open();
    t.sockets[1].message(granted);
    t.sockets[1].message({ type: "seat.revoked", reason: "tokens_revoked", detail: "" });
    t.sockets[1].drop(4410);
    await t.clock.advance(0);
    expect(t.sockets).toHaveLength(3);
    expect(t.tokens).toEqual([{ refresh: false }, { refresh: true }]);
    expect(t.requests.at(-1)?.auth).toBe("Bearer token-2");
  });

  it("seat.denied pool_at_ceiling: denied, then tries again after a backoff; no_license: denied and stopped", async () => {
    const t = setup();
    t.client.start();
    await t.clock.advance(0);
    t.sockets[0].open();
    t.sockets[0].message({ type: "seat.denied", problem: { status: 409, code: "pool_at_ceiling", detail: "full" } });
    t.sockets[0].drop(4409);
    expect(t.of("denied").map((p) => p.code)).toEqual(["pool_at_ceiling"]);
    expect(t.client.running).toBe(true);
    await t.clock.advance(1000);
    expect(t.sockets).toHaveLength(2);
    t.sockets[1].open();
    t.sockets[1].message({ type: "seat.denied", problem: { status: 403, code: "no_license", detail: "none" } });
    t.sockets[1].drop(4403);
    expect(t.of("denied").map((p) => p.code)).toEqual(["pool_at_ceiling", "no_license"]);
    expect(t.client.running).toBe(false);
    await t.clock.advance(120_000);
    expect(t.sockets).toHaveLength(2);
  });

  it("a refused token is replaced from getToken({ refresh: true }); refused again, the client reports denied and stops", async () => {
    let accept = "Bearer token-2";
    const t = setup({}, {
      "/v1/seats/connect-ticket": (_b, auth) =>
        auth === accept
          ? new Response(JSON.stringify({ ticket: `ct_${"y".repeat(43)}.acme`, expires_at: "" }), { status: 201 })
          : new Response(JSON.stringify({ status: 401, code: "unauthorized", detail: "expired" }), { status: 401 }),
    });
    t.client.start();
    await t.clock.advance(0);
    expect(t.tokens).toEqual([{ refresh: false }, { refresh: true }]);
    expect(t.sockets).toHaveLength(1);
    t.sockets[0].open();
    t.sockets[0].message(granted);
    accept = "nobody";
    t.sockets[0].drop(1006);
    await t.clock.advance(1000);
    expect(t.of("denied").map((p) => p.code)).toEqual(["unauthorized"]);
    expect(t.client.running).toBe(false);
  });

  it("stop() sends a release on the socket and closes it with 1000", async () => {
    const t = setup();
    t.client.start();
    await t.clock.advance(0);
    t.sockets[0].open();
    t.sockets[0].message(granted);
    await t.client.stop();
    expect(t.sockets[0].sent).toContain(JSON.stringify({ type: "release" }));
    expect(t.sockets[0].closedWith).toMatchObject({ code: 1000 });
    expect(t.client.seat).toBeNull();
    expect(t.of("connection").at(-1)).toMatchObject({ state: "stopped" });
    await t.clock.advance(120_000);
    expect(t.sockets).toHaveLength(1);
  });

  it("pagehide releases with fetch keepalive, and a page restored from the back-forward cache resumes", async () => {
    const page = new EventTarget();
    const t = setup({ pageEvents: page as any });
    t.client.start();
    await t.clock.advance(0);
    t.sockets[0].open();
    t.sockets[0].message(granted);
    page.dispatchEvent(Object.assign(new Event("pagehide"), { persisted: true }));
    expect(t.requests.at(-1)).toMatchObject({ path: "/v1/seats/release", keepalive: true, body: { session_id: "desk-1" }, auth: "Bearer token-1" });
    expect(t.sockets[0].closedWith?.code).toBe(1000);
    expect(t.client.running).toBe(false);
    page.dispatchEvent(Object.assign(new Event("pageshow"), { persisted: true }));
    await t.clock.advance(0);
    expect(t.client.running).toBe(true);
    expect(t.sockets).toHaveLength(2);
  });
});

describe("seat SDK over HTTP", () => {
  it("falls back to HTTP after two sockets that never open, and heartbeats at heartbeat_interval_seconds", async () => {
    const t = setup();
    t.client.start();
    await t.clock.advance(0);
    t.sockets[0].drop(1006);
    await t.clock.advance(t.clock.pending()[0]);
    t.sockets[1].drop(1006);
    await t.clock.advance(0);
    expect(t.client.transport).toBe("http");
    expect(t.paths().filter((p) => p === "/v1/seats/checkout")).toHaveLength(1);
    expect(t.of("granted")).toEqual([SEAT]);
    await t.clock.advance(0);
    expect(t.of("entitlements")).toEqual([ENTITLEMENTS]);
    const before = t.paths().length;
    // (Sockets tried meanwhile, to get back to WebSocket, are in the next tests.)
    const beats = () => t.paths().slice(before).filter((p) => p !== "/v1/seats/connect-ticket");
    await t.clock.advance(39_999);
    expect(beats()).toEqual([]);
    await t.clock.advance(1);
    expect(beats()).toEqual(["/v1/seats/heartbeat"]);
    await t.clock.advance(40_000);
    expect(beats()).toEqual(["/v1/seats/heartbeat", "/v1/seats/heartbeat"]);
  });

  /** Two sockets that never open: the client falls back to HTTP and holds the seat there. */
  async function onHttpFallback(t: ReturnType<typeof setup>) {
    t.client.start();
    await t.clock.advance(0);
    t.sockets[0].drop(1006);
    await t.clock.advance(t.clock.pending()[0]);
    t.sockets[1].drop(1006);
    await t.clock.advance(0);
    expect(t.client.transport).toBe("http");
    expect(t.client.seat).toEqual(SEAT);
  }

  it("on HTTP, tries the socket again with backoff and jitter; a granted socket takes over the same session, heartbeats stop", async () => {
    const t = setup();
    await onHttpFallback(t);
    const grants = t.of("granted").length;
    // The next tries back off from where the fallback left off (random 0.5: 3/4 of 500 ms × 2^(2+n)).
    const waits: number[] = [];
    for (let n = 0; n < 3; n++) {
      const socketsBefore = t.sockets.length;
      const wait = t.clock.pending().find((ms) => ms < 40_000)!;
      waits.push(wait);
      await t.clock.advance(wait - 1);
      expect(t.sockets).toHaveLength(socketsBefore);
      await t.clock.advance(1);
      expect(t.sockets).toHaveLength(socketsBefore + 1);
      t.sockets.at(-1)!.drop(1006); // still no socket: stays on HTTP
      await t.clock.advance(0);
      expect(t.client.transport).toBe("http");
    }
    expect(waits).toEqual([1500, 3000, 6000]);
    // Heartbeats went on meanwhile.
    await t.clock.advance(40_000 - 10_500);
    expect(t.paths().filter((p) => p === "/v1/seats/heartbeat")).toHaveLength(1);
    // The socket works again: the next try is granted and takes over.
    await t.clock.advance(t.clock.pending().find((ms) => ms < 40_000)!);
    const probe = t.sockets.at(-1)!;
    expect(t.requests.at(-1)).toMatchObject({ path: "/v1/seats/connect-ticket", body: { session_id: "desk-1" } });
    probe.open();
    expect(t.client.transport).toBe("http"); // not before the grant
    probe.message(granted);
    expect(t.client.transport).toBe("websocket");
    expect(t.of("connection").at(-1)).toEqual({ state: "connected", transport: "websocket", attempt: 0 });
    // One seat all along: no second `granted`, no release, the same session id everywhere.
    expect(t.of("granted")).toHaveLength(grants);
    expect(t.of("revoked")).toEqual([]);
    expect(t.paths()).not.toContain("/v1/seats/release");
    expect(t.requests.filter((r) => r.body?.session_id).every((r) => r.body.session_id === "desk-1")).toBe(true);
    // Heartbeats stop; the socket pings instead.
    const beats = t.paths().filter((p) => p === "/v1/seats/heartbeat").length;
    for (let i = 0; i < 4; i++) {
      await t.clock.advance(30_000);
      probe.message("pong");
    }
    expect(t.paths().filter((p) => p === "/v1/seats/heartbeat")).toHaveLength(beats);
    expect(probe.sent.filter((m) => m === "ping")).toHaveLength(4);
    expect(probe.closedWith).toBeNull();
    expect(t.sockets.at(-1)).toBe(probe);
  });

  it("a tried socket that opened but was not granted: the heartbeat renews the lease at once (its close shortened it), HTTP keeps the seat", async () => {
    const t = setup();
    await onHttpFallback(t);
    await t.clock.advance(t.clock.pending().find((ms) => ms < 40_000)!);
    const probe = t.sockets.at(-1)!;
    probe.open();
    const beats = t.paths().filter((p) => p === "/v1/seats/heartbeat").length;
    probe.drop(1006);
    await t.clock.advance(0);
    expect(t.paths().filter((p) => p === "/v1/seats/heartbeat")).toHaveLength(beats + 1);
    expect(t.client.transport).toBe("http");
    expect(t.client.seat).not.toBeNull();
    expect(t.of("denied")).toEqual([]);
  });

  it("a tried socket refused (seat.denied) or never answering counts as a failed try; HTTP alone decides about the seat", async () => {
    const t = setup({ socketProbeTimeoutMs: 5_000 });
    await onHttpFallback(t);
    await t.clock.advance(t.clock.pending().find((ms) => ms < 40_000)!);
    const refusedProbe = t.sockets.at(-1)!;
    refusedProbe.open();
    refusedProbe.message({ type: "seat.denied", problem: { status: 409, code: "pool_at_ceiling", detail: "full" } });
    expect(refusedProbe.closedWith?.code).toBe(1000);
    expect(t.of("denied")).toEqual([]);
    expect(t.client.running).toBe(true);
    // The next try hangs in CONNECTING: after the probe timeout it is closed and tried later.
    await t.clock.advance(t.clock.pending().find((ms) => ms < 5_000)!);
    const hanging = t.sockets.at(-1)!;
    expect(hanging).not.toBe(refusedProbe);
    await t.clock.advance(5_000);
    expect(hanging.closedWith?.code).toBe(1000);
    expect(t.client.transport).toBe("http");
    expect(t.clock.pending().some((ms) => ms < 40_000)).toBe(true); // another try is scheduled
  });

  it("stop() while a socket is being tried closes it and releases over HTTP", async () => {
    const t = setup();
    await onHttpFallback(t);
    await t.clock.advance(t.clock.pending().find((ms) => ms < 40_000)!);
    const probe = t.sockets.at(-1)!;
    probe.open();
    await t.client.stop();
    expect(probe.closedWith?.code).toBe(1000);
    expect(t.requests.at(-1)).toMatchObject({ path: "/v1/seats/release", body: { session_id: "desk-1" } });
    probe.message(granted); // too late: detached
    expect(t.client.running).toBe(false);
    expect(t.client.seat).toBeNull();
    await t.clock.advance(300_000);
    expect(t.sockets.at(-1)).toBe(probe);
  });

  it("a server without the socket route: HTTP, and no socket is tried again", async () => {
    const t = setup({}, { "/v1/seats/connect-ticket": () => new Response(JSON.stringify({ code: "not_found", detail: "" }), { status: 404 }) });
    t.client.start();
    await t.clock.advance(0);
    expect(t.client.transport).toBe("http");
    await t.clock.advance(300_000);
    expect(t.sockets).toHaveLength(0);
    expect(t.paths().filter((p) => p === "/v1/seats/connect-ticket")).toHaveLength(1);
  });

  it("transport: \"http\" never tries a socket", async () => {
    const t = setup({ transport: "http" });
    t.client.start();
    await t.clock.advance(300_000);
    expect(t.sockets).toHaveLength(0);
    expect(t.paths()).not.toContain("/v1/seats/connect-ticket");
  });

  it("a heartbeat answered after the socket took over does not restart heartbeats", async () => {
    let answer: (() => void) | null = null;
    let hold = false;
    const t = setup({}, {
      "/v1/seats/heartbeat": () =>
        hold
          ? new Promise<Response>((resolve) => (answer = () => resolve(new Response(JSON.stringify({ expires_at: "x" }), { status: 200 }))))
          : new Response(JSON.stringify({ expires_at: "x" }), { status: 200 }),
    });
    await onHttpFallback(t);
    hold = true;
    // Let the first try fail so the heartbeat and the second try line up.
    await t.clock.advance(40_000); // heartbeat sent, held; tries came and went
    for (const s of t.sockets.slice(2)) if (s.readyState === 0) s.drop(1006);
    await t.clock.advance(t.clock.pending().find((ms) => ms < 40_000)!);
    const probe = t.sockets.at(-1)!;
    probe.open();
    probe.message(granted);
    expect(t.client.transport).toBe("websocket");
    answer!();
    await t.clock.advance(0);
    const beats = t.paths().filter((p) => p === "/v1/seats/heartbeat").length;
    await t.clock.advance(200_000);
    expect(t.paths().filter((p) => p === "/v1/seats/heartbeat")).toHaveLength(beats);
  });

  it("checks out again after 404 session_not_found, with the same session", async () => {
    let beats = 0;
    const t = setup({ transport: "http" }, {
      "/v1/seats/heartbeat": () => {
        beats++;
        return beats === 2
          ? new Response(JSON.stringify({ status: 404, code: "session_not_found", detail: "expired" }), { status: 404 })
          : new Response(JSON.stringify({ expires_at: "x" }), { status: 200 });
      },
    });
    t.client.start();
    await t.clock.advance(0);
    await t.clock.advance(80_000);
    expect(t.paths().filter((p) => p !== "/v1/me")).toEqual(["/v1/seats/checkout", "/v1/seats/heartbeat", "/v1/seats/heartbeat", "/v1/seats/checkout"]);
    expect(t.requests.filter((r) => r.path === "/v1/seats/checkout").every((r) => r.body.session_id === "desk-1")).toBe(true);
    expect(t.of("granted")).toHaveLength(2);
    expect(t.client.seat).toEqual(SEAT);
  });

  it("a lost license over HTTP: revoked (it had a seat), denied, stopped", async () => {
    let licensed = true;
    const t = setup({ transport: "http" }, {
      "/v1/seats/heartbeat": () => new Response(JSON.stringify({ status: 404, code: "session_not_found", detail: "" }), { status: 404 }),
      "/v1/seats/checkout": () =>
        licensed
          ? new Response(JSON.stringify(SEAT), { status: 200 })
          : new Response(JSON.stringify({ status: 403, code: "no_license", detail: "revoked" }), { status: 403 }),
    });
    t.client.start();
    await t.clock.advance(0);
    licensed = false;
    await t.clock.advance(40_000);
    expect(t.of("revoked")).toEqual([{ reason: "no_license", detail: "revoked" }]);
    expect(t.of("denied").map((p) => p.code)).toEqual(["no_license"]);
    expect(t.client.running).toBe(false);
  });

  it("429 and 5xx are retried, respecting Retry-After", async () => {
    let n = 0;
    const t = setup({ transport: "http" }, {
      "/v1/seats/checkout": () => (++n === 1 ? new Response("{}", { status: 429, headers: { "retry-after": "7" } }) : new Response(JSON.stringify(SEAT), { status: 200 })),
    });
    t.client.start();
    await t.clock.advance(6_999);
    expect(n).toBe(1);
    await t.clock.advance(1);
    expect(n).toBe(2);
    expect(t.client.seat).toEqual(SEAT);
  });

  it("a network failure is reported as error and retried", async () => {
    let n = 0;
    const t = setup({ transport: "http" }, {
      "/v1/seats/checkout": () => {
        if (++n === 1) throw new TypeError("network down");
        return new Response(JSON.stringify(SEAT), { status: 200 });
      },
    });
    t.client.start();
    await t.clock.advance(0);
    expect(t.of("error").map((e) => e.message)).toEqual(["network down"]);
    await t.clock.advance(1000);
    expect(t.client.seat).toEqual(SEAT);
  });

  it("stop() releases over HTTP", async () => {
    const t = setup({ transport: "http" });
    t.client.start();
    await t.clock.advance(0);
    await t.client.stop();
    expect(t.requests.at(-1)).toMatchObject({ path: "/v1/seats/release", body: { session_id: "desk-1" } });
    await t.clock.advance(120_000);
    expect(t.paths().filter((p) => p === "/v1/seats/heartbeat")).toHaveLength(0);
  });

  it("refuses a bad session id or missing options at creation", () => {
    expect(() => createSeatClient({ baseUrl: "https://x", getToken: () => "t", sessionId: "bad id" })).toThrow(TypeError);
    expect(() => createSeatClient({ baseUrl: "", getToken: () => "t" })).toThrow(TypeError);
  });
});
