import { describe, expect, it } from "vitest";
import { createSeatClient, type SeatClientOptions, type SeatEvents, type WebSocketLike } from "../../sdk/src/index";
import { Clock } from "./sdk-clock";

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
  const requests: { path: string; method: string; body: any; auth: string | null; keepalive?: boolean }[] = [];
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
      requests.push({ path, method: init.method ?? "GET", body, auth, keepalive: init.keepalive });
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
  for (const type of ["granted", "waiting", "denied", "revoked", "entitlements", "connection", "error"] as const) {
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

const WAITING = {
  status: "waiting",
  user_id: "ada",
  session_id: "desk-1",
  pool: "premium-concurrent",
  position: 2,
  waiting: 2,
  reason: "pool_at_ceiling",
  expires_at: "2030-01-15T08:02:00.000Z",
  poll_interval_seconds: 20,
};
const waitingMsg = (fields: Partial<typeof WAITING> = {}) => ({ type: "seat.waiting", ...WAITING, ...fields });
const WAIT_PATH = "/v1/seats/wait/desk-1";

/** A scripted waitlist over HTTP: the checkout with `wait` answers 202, each poll the next answer. */
function httpQueue(answers: Array<[number, unknown]>) {
  const polls: string[] = [];
  return {
    polls,
    routes: {
      "/v1/seats/checkout": (body: any) => new Response(JSON.stringify(body?.wait ? WAITING : { status: 409, code: "pool_at_ceiling", detail: "full" }), { status: body?.wait ? 202 : 409 }),
      [WAIT_PATH]: (_b: unknown, _a: unknown, init: RequestInit) => {
        polls.push(init.method ?? "GET");
        if (init.method === "DELETE") return new Response(null, { status: 204 });
        const [status, body] = answers.shift() ?? [202, WAITING];
        return new Response(JSON.stringify(body), { status });
      },
    } as Record<string, Handler>,
  };
}

describe("seat SDK waiting at the ceiling, on the socket (wait: true)", () => {
  it("connects with wait=true; seat.waiting reports the place (on change only), pings at the poll interval; seat.granted ends the wait", async () => {
    const t = setup({ wait: true, pingIntervalMs: 60_000 });
    t.client.start();
    await t.clock.advance(0);
    expect(t.sockets[0].url).toBe(`wss://seats.example/v1/seats/connect?ticket=${encodeURIComponent(`ct_${"x".repeat(43)}.acme`)}&wait=true`);
    t.sockets[0].open();
    t.sockets[0].message(waitingMsg());
    expect(t.of("waiting")).toEqual([WAITING]);
    expect(t.client.waiting).toEqual(WAITING);
    expect(t.client.seat).toBeNull();
    expect(t.of("connection").map((c) => [c.state, c.transport])).toEqual([["connecting", "websocket"], ["waiting", "websocket"]]);
    expect(t.of("denied")).toEqual([]);
    // The server pushes the place when it changes; the same place again is not reported twice.
    t.sockets[0].message(waitingMsg({ position: 1, waiting: 1 }));
    t.sockets[0].message(waitingMsg({ position: 1, waiting: 1 }));
    expect(t.of("waiting").map((w) => w.position)).toEqual([2, 1]);
    // Pings keep the waiting socket (and so its entry) alive, at most every poll interval (20 s).
    await t.clock.advance(20_000);
    expect(t.sockets[0].sent).toEqual(["ping"]);
    t.sockets[0].message("pong");
    t.sockets[0].message(granted);
    expect(t.of("granted")).toEqual([SEAT]);
    expect(t.client.waiting).toBeNull();
    expect(t.client.seat).toEqual(SEAT);
    expect(t.of("connection").at(-1)).toEqual({ state: "connected", transport: "websocket", attempt: 0 });
    // Then it pings at the seat's heartbeat interval (40 s), as any seat.
    await t.clock.advance(39_999);
    expect(t.sockets[0].sent).toEqual(["ping"]);
    await t.clock.advance(1);
    expect(t.sockets[0].sent).toEqual(["ping", "ping"]);
    expect(t.paths()).toEqual(["/v1/seats/connect-ticket"]);
  });

  it("without wait the URL has no wait and the checkout no wait field", async () => {
    const t = setup({}, { "/v1/seats/connect-ticket": () => new Response("{}", { status: 404 }) });
    t.client.start();
    await t.clock.advance(0);
    expect(t.sockets).toHaveLength(0);
    expect(t.requests.find((r) => r.path === "/v1/seats/checkout")?.body).toEqual({ session_id: "desk-1" });
  });

  it("stop() while waiting on the socket leaves the queue: release message, close 1000, no HTTP call", async () => {
    const t = setup({ wait: true });
    t.client.start();
    await t.clock.advance(0);
    t.sockets[0].open();
    t.sockets[0].message(waitingMsg());
    await t.client.stop();
    expect(t.sockets[0].sent).toEqual([JSON.stringify({ type: "release" })]);
    expect(t.sockets[0].closedWith).toMatchObject({ code: 1000 });
    expect(t.paths()).toEqual(["/v1/seats/connect-ticket"]);
    expect(t.client.waiting).toBeNull();
    expect(t.of("connection").at(-1)).toMatchObject({ state: "stopped" });
  });

  it("a dropped waiting socket reconnects quickly (the place is kept for the reconnect grace); stop() meanwhile leaves the queue with DELETE", async () => {
    const t = setup({ wait: true });
    t.client.start();
    await t.clock.advance(0);
    t.sockets[0].open();
    t.sockets[0].message(waitingMsg());
    t.sockets[0].drop(1006);
    await t.clock.advance(250);
    expect(t.sockets).toHaveLength(2);
    expect(t.sockets[1].url).toMatch(/&wait=true$/);
    expect(t.requests.filter((r) => r.path === "/v1/seats/connect-ticket").map((r) => r.body.session_id)).toEqual(["desk-1", "desk-1"]);
    await t.client.stop();
    expect(t.sockets[1].closedWith?.code).toBe(1000);
    expect(t.requests.at(-1)).toMatchObject({ path: WAIT_PATH, method: "DELETE", auth: "Bearer token-1" });
  });

  it("back on the socket at the same place: connection waiting again, no second waiting event", async () => {
    const t = setup({ wait: true });
    t.client.start();
    await t.clock.advance(0);
    t.sockets[0].open();
    t.sockets[0].message(waitingMsg());
    t.sockets[0].drop(1006);
    await t.clock.advance(250);
    t.sockets[1].open();
    t.sockets[1].message(waitingMsg());
    expect(t.of("waiting")).toHaveLength(1);
    expect(t.of("connection").map((c) => c.state)).toEqual(["connecting", "waiting", "reconnecting", "connecting", "waiting"]);
  });

  it("a waiter's license revoked: denied no_license (no seat was held, so not revoked), stopped", async () => {
    const t = setup({ wait: true });
    t.client.start();
    await t.clock.advance(0);
    t.sockets[0].open();
    t.sockets[0].message(waitingMsg());
    t.sockets[0].message({ type: "seat.revoked", reason: "license_revoked", detail: "gone" });
    t.sockets[0].drop(4410);
    expect(t.of("revoked")).toEqual([]);
    expect(t.of("denied")).toEqual([{ status: 403, code: "no_license", detail: "gone", reason: "license_revoked" }]);
    expect(t.client.running).toBe(false);
    expect(t.client.waiting).toBeNull();
    await t.clock.advance(120_000);
    expect(t.sockets).toHaveLength(1);
  });

  it("a waiter's license moved: connects again at once (the new pool's queue), nothing revoked or denied", async () => {
    const t = setup({ wait: true });
    t.client.start();
    await t.clock.advance(0);
    t.sockets[0].open();
    t.sockets[0].message(waitingMsg());
    t.sockets[0].message({ type: "seat.revoked", reason: "license_moved", detail: "" });
    t.sockets[0].drop(4410);
    await t.clock.advance(0);
    expect(t.sockets).toHaveLength(2);
    t.sockets[1].open();
    t.sockets[1].message(waitingMsg({ pool: "basic-concurrent", position: 1, waiting: 1 }));
    expect(t.of("waiting").map((w) => w.pool)).toEqual(["premium-concurrent", "basic-concurrent"]);
    expect(t.of("revoked")).toEqual([]);
    expect(t.of("denied")).toEqual([]);
  });

  it("falls back to HTTP while waiting: checkout with wait on the same session (the server keeps a live place), polls; a socket tried later takes the place over", async () => {
    const q = httpQueue([[202, { ...WAITING, position: 1, waiting: 1 }]]);
    const t = setup({ wait: true }, q.routes);
    t.client.start();
    await t.clock.advance(0);
    t.sockets[0].open();
    t.sockets[0].message(waitingMsg());
    // The network drops; two sockets that never open: HTTP.
    t.sockets[0].drop(1006);
    await t.clock.advance(250);
    t.sockets[1].drop(1006);
    await t.clock.advance(t.clock.pending()[0]);
    t.sockets[2].drop(1006);
    await t.clock.advance(0);
    expect(t.client.transport).toBe("http");
    expect(t.requests.find((r) => r.path === "/v1/seats/checkout")?.body).toEqual({ session_id: "desk-1", wait: true });
    expect(t.of("connection").at(-1)).toEqual({ state: "waiting", transport: "http", attempt: 0 });
    expect(t.of("waiting")).toHaveLength(1); // the same place: not reported again
    // Polls at poll_interval_seconds (20 s), with no body.
    await t.clock.advance(20_000);
    expect(q.polls).toEqual(["POST"]);
    expect(t.requests.find((r) => r.path === WAIT_PATH)).toMatchObject({ body: null, auth: "Bearer token-1" });
    expect(t.of("waiting").map((w) => w.position)).toEqual([2, 1]);
    // Sockets were tried meanwhile (with wait=true); the next one opens and is told the place: it takes over.
    for (const s of t.sockets.slice(3)) if (s.readyState === 0) s.drop(1006);
    await t.clock.advance(t.clock.pending().find((ms) => ms < 20_000)!);
    const probe = t.sockets.at(-1)!;
    expect(probe.url).toMatch(/&wait=true$/);
    probe.open();
    probe.message(waitingMsg({ position: 1, waiting: 1 }));
    expect(t.client.transport).toBe("websocket");
    expect(t.of("connection").at(-1)).toEqual({ state: "waiting", transport: "websocket", attempt: 0 });
    const polls = q.polls.length;
    await t.clock.advance(100_000);
    for (let i = 0; i < 5; i++) probe.message("pong");
    expect(q.polls).toHaveLength(polls); // polls stopped: the socket holds the place
    probe.message(granted);
    expect(t.of("granted")).toEqual([SEAT]);
    expect(t.client.transport).toBe("websocket");
    expect(t.paths()).not.toContain("/v1/seats/heartbeat");
    expect(t.requests.filter((r) => r.body?.session_id).every((r) => r.body.session_id === "desk-1")).toBe(true);
  });

  it("a socket tried while waiting over HTTP that is not granted nor told a place: a poll follows at once (its close shortened the entry)", async () => {
    const q = httpQueue([]);
    const t = setup({ wait: true, socketFailuresBeforeHttp: 1 }, q.routes);
    t.client.start();
    await t.clock.advance(0);
    t.sockets[0].drop(1006);
    await t.clock.advance(0);
    expect(t.client.waiting).toEqual(WAITING);
    await t.clock.advance(t.clock.pending().find((ms) => ms < 20_000)!);
    const probe = t.sockets.at(-1)!;
    probe.open();
    probe.drop(1006);
    await t.clock.advance(0);
    expect(q.polls).toEqual(["POST"]);
    expect(t.client.transport).toBe("http");
  });
});

describe("seat SDK waiting at the ceiling, over HTTP (wait: true)", () => {
  it("checks out with wait, polls POST /v1/seats/wait/{session} every poll_interval_seconds, reports each new place; 200 is the seat, then heartbeats", async () => {
    const q = httpQueue([
      [202, WAITING],
      [202, { ...WAITING, position: 1, waiting: 1 }],
      [200, SEAT],
    ]);
    const t = setup({ transport: "http", wait: true }, q.routes);
    t.client.start();
    await t.clock.advance(0);
    expect(t.requests[0]).toMatchObject({ path: "/v1/seats/checkout", body: { session_id: "desk-1", wait: true } });
    expect(t.of("waiting")).toEqual([WAITING]);
    expect(t.of("connection").map((c) => [c.state, c.transport])).toEqual([["connecting", "http"], ["waiting", "http"]]);
    expect(t.of("denied")).toEqual([]);
    await t.clock.advance(19_999);
    expect(q.polls).toEqual([]);
    await t.clock.advance(1);
    expect(q.polls).toEqual(["POST"]);
    expect(t.of("waiting")).toHaveLength(1); // the same place
    await t.clock.advance(20_000);
    expect(t.of("waiting").map((w) => w.position)).toEqual([2, 1]);
    await t.clock.advance(20_000);
    expect(t.of("granted")).toEqual([SEAT]);
    expect(t.client.seat).toEqual(SEAT);
    expect(t.client.waiting).toBeNull();
    expect(t.of("connection").at(-1)).toEqual({ state: "connected", transport: "http", attempt: 0 });
    expect(t.of("entitlements")).toEqual([ENTITLEMENTS]);
    // From now on heartbeats at heartbeat_interval_seconds (40 s), no more polls.
    await t.clock.advance(80_000);
    expect(q.polls).toHaveLength(3);
    expect(t.paths().filter((p) => p === "/v1/seats/heartbeat")).toHaveLength(2);
  });

  it("stop() while waiting leaves the queue with DELETE /v1/seats/wait/{session}", async () => {
    const q = httpQueue([]);
    const t = setup({ transport: "http", wait: true }, q.routes);
    t.client.start();
    await t.clock.advance(0);
    await t.client.stop();
    expect(t.requests.at(-1)).toMatchObject({ path: WAIT_PATH, method: "DELETE", auth: "Bearer token-1" });
    expect(t.paths()).not.toContain("/v1/seats/release");
    await t.clock.advance(120_000);
    expect(q.polls).toEqual(["DELETE"]);
  });

  it("stop() while the checkout with wait is still in flight leaves the queue too (the checkout may have queued the session)", async () => {
    let answer: (() => void) | null = null;
    const q = httpQueue([]);
    const t = setup({ transport: "http", wait: true }, {
      ...q.routes,
      "/v1/seats/checkout": () => new Promise<Response>((resolve) => (answer = () => resolve(new Response(JSON.stringify(WAITING), { status: 202 })))),
    });
    t.client.start();
    await t.clock.advance(0);
    expect(answer).not.toBeNull();
    await t.client.stop();
    answer!();
    await t.clock.advance(120_000);
    expect(t.requests.map((r) => [r.path, r.method])).toEqual([
      ["/v1/seats/checkout", "POST"],
      [WAIT_PATH, "DELETE"],
    ]);
    expect(t.of("waiting")).toEqual([]);
  });

  it("without wait, stop() with no seat sends nothing", async () => {
    const t = setup({ transport: "http" }, { "/v1/seats/checkout": () => new Response(JSON.stringify({ status: 409, code: "pool_at_ceiling", detail: "full" }), { status: 409 }) });
    t.client.start();
    await t.clock.advance(0);
    await t.client.stop();
    expect(t.paths()).toEqual(["/v1/seats/checkout"]);
  });

  it("a poll answered 404 wait_not_found (the entry expired): checks out again with wait, at the new place", async () => {
    const q = httpQueue([[404, { status: 404, code: "wait_not_found", detail: "expired" }]]);
    const t = setup({ transport: "http", wait: true }, q.routes);
    t.client.start();
    await t.clock.advance(20_000);
    expect(t.paths().filter((p) => p !== "/v1/me")).toEqual(["/v1/seats/checkout", WAIT_PATH, "/v1/seats/checkout"]);
    expect(t.client.waiting).toEqual(WAITING);
    expect(t.of("denied")).toEqual([]);
    expect(t.client.running).toBe(true);
  });

  it("a poll answered 403 no_license (revoked while waiting): denied, stopped, no more polls", async () => {
    const q = httpQueue([[403, { status: 403, code: "no_license", detail: "revoked" }]]);
    const t = setup({ transport: "http", wait: true }, q.routes);
    t.client.start();
    await t.clock.advance(20_000);
    expect(t.of("denied").map((p) => p.code)).toEqual(["no_license"]);
    expect(t.of("revoked")).toEqual([]);
    expect(t.client.running).toBe(false);
    expect(t.client.waiting).toBeNull();
    await t.clock.advance(120_000);
    expect(q.polls).toEqual(["POST"]);
  });

  it("a poll that fails on the network is reported and tried again within the poll interval (the entry outlives two missed polls)", async () => {
    let fail = true;
    const q = httpQueue([]);
    const t = setup({ transport: "http", wait: true }, {
      ...q.routes,
      [WAIT_PATH]: (b, a, init) => {
        if (fail) throw new TypeError("network down");
        return q.routes[WAIT_PATH](b, a, init);
      },
    });
    t.client.start();
    await t.clock.advance(20_000);
    expect(t.of("error").map((e) => e.message)).toEqual(["network down"]);
    expect(t.of("connection").at(-1)).toMatchObject({ state: "reconnecting", transport: "http", attempt: 1 });
    fail = false;
    await t.clock.advance(1_000);
    expect(q.polls).toEqual(["POST"]);
    expect(t.of("connection").at(-1)).toEqual({ state: "waiting", transport: "http", attempt: 0 });
    expect(t.paths().filter((p) => p === "/v1/seats/checkout")).toHaveLength(1);
  });

  it("a seat whose lease ran out finds the pool full: revoked (the seat is gone), then waiting", async () => {
    let full = false;
    const t = setup({ transport: "http", wait: true }, {
      "/v1/seats/heartbeat": () => new Response(JSON.stringify({ status: 404, code: "session_not_found", detail: "" }), { status: 404 }),
      "/v1/seats/checkout": () => (full ? new Response(JSON.stringify(WAITING), { status: 202 }) : new Response(JSON.stringify(SEAT), { status: 200 })),
      [WAIT_PATH]: () => new Response(JSON.stringify(WAITING), { status: 202 }),
    });
    t.client.start();
    await t.clock.advance(0);
    expect(t.client.seat).toEqual(SEAT);
    full = true;
    await t.clock.advance(40_000);
    expect(t.of("revoked")).toEqual([{ reason: "pool_at_ceiling", detail: expect.any(String) }]);
    expect(t.of("waiting")).toEqual([WAITING]);
    expect(t.client.seat).toBeNull();
    await t.clock.advance(20_000);
    expect(t.paths().filter((p) => p !== "/v1/me")).toEqual(["/v1/seats/checkout", "/v1/seats/heartbeat", "/v1/seats/checkout", WAIT_PATH]);
  });
});
