/**
 * Seatkeeper seat client for agent desktops: holds the user's seat while the app runs.
 *
 * WebSocket first (`/v1/seats/connect`: the server pushes grants, revocations and entitlement
 * changes, and frees the seat when the socket drops), HTTP heartbeats when a socket cannot be held.
 * With `wait`, a desktop refused at the pool's ceiling waits in the service's queue instead (on the
 * socket, or by polling over HTTP) and is told its place until a seat is handed to it.
 * No runtime dependencies; runs in browsers, Electron, Node 22+ and workerd. Everything the
 * environment provides (WebSocket, fetch, timers, randomness) can be passed in, for tests.
 */

/** The checkout answer (`POST /v1/seats/checkout`, and the `seat.granted` message). */
export interface Seat {
  user_id: string;
  pool: string;
  tier: string;
  model: string;
  session_id: string;
  expires_at: string;
  heartbeat_interval_seconds: number;
  limit: number;
  active: number;
  over_limit: boolean;
  grace_ends_at: string | null;
}

/**
 * A place in the pool's waitlist (the 202 of a checkout with `wait`, the poll's 202, and the
 * `seat.waiting` message).
 */
export interface Waiting {
  status: "waiting";
  user_id: string;
  session_id: string;
  pool: string;
  /** 1-based place of the user in the pool's queue. */
  position: number;
  /** Users waiting in the pool. */
  waiting: number;
  /** Why no seat was given at once: `pool_at_ceiling` or `team_at_ceiling`. */
  reason: string;
  /** The entry ends then unless renewed (a poll, or an open socket). */
  expires_at: string;
  poll_interval_seconds: number;
}

/** What the user may use (`GET /v1/me`, and the `entitlements.changed` message). */
export interface Entitlements {
  user_id: string;
  pool: string | null;
  tier: string | null;
  model: string | null;
  features: Record<string, boolean>;
  addons: Record<string, string | null>;
  account_addons: { virtual_agent: boolean };
}

/** An RFC 9457 problem as the server sends it (`code` is the machine-readable part). */
export interface SeatProblem {
  status: number;
  code: string;
  detail: string;
  title?: string;
  [extra: string]: unknown;
}

export type RevokeReason =
  | "license_revoked"
  | "license_moved"
  | "seat_released"
  | "user_deleted"
  | "tokens_revoked"
  | "session_evicted"
  | "session_ended"
  | (string & {});

export interface Revocation {
  reason: RevokeReason;
  detail: string;
}

/** `waiting`: in the pool's queue (see `SeatClientOptions.wait`), over `transport`. */
export type ConnectionState = "connecting" | "connected" | "waiting" | "reconnecting" | "stopped";
export type Transport = "websocket" | "http";

export interface ConnectionEvent {
  state: ConnectionState;
  transport: Transport | null;
  /** Consecutive failed attempts before this one (0 once connected). */
  attempt: number;
}

export interface SeatEvents {
  granted: Seat;
  /** In the queue: the first place, and every change of it. */
  waiting: Waiting;
  denied: SeatProblem;
  revoked: Revocation;
  entitlements: Entitlements;
  connection: ConnectionEvent;
  error: Error;
}

/** The part of a WebSocket the client uses (the browser's, Node's, or a test double). */
export interface WebSocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onclose: ((ev: { code: number; reason: string }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
}

export type WebSocketFactory = (url: string) => WebSocketLike;

export interface PageEvents {
  addEventListener(type: string, listener: (ev: any) => void): void;
  removeEventListener(type: string, listener: (ev: any) => void): void;
}
type FetchLike = (input: string, init?: RequestInit & { keepalive?: boolean }) => Promise<Response>;

export interface SeatClientOptions {
  /** The service's origin, e.g. `https://seats.example.com`. */
  baseUrl: string;
  /**
   * Returns an agent token. Called once at start and again with `{ refresh: true }` when the server
   * refuses the last one (expired or revoked): fetch a new one from your backend then.
   */
  getToken: (context: { refresh: boolean }) => string | Promise<string>;
  /** Identifies this desktop (`^[A-Za-z0-9_-]{1,128}$`); random per client when omitted. */
  sessionId?: string;
  /**
   * At the pool's ceiling (or the team's cap), wait in the pool's queue for the next seat instead
   * of `denied` and retries: the `waiting` event tells the place, `granted` follows. On the socket
   * with `?wait=true`; over HTTP by polling `POST /v1/seats/wait/{session_id}`. `stop()` leaves the
   * queue. Default false.
   */
  wait?: boolean;
  /** `auto` (default): WebSocket, falling back to HTTP heartbeats; or force one. */
  transport?: "auto" | Transport;
  /** Keep-alive ping period on the socket; never more than the seat's heartbeat interval. Default 30 s. */
  pingIntervalMs?: number;
  /** Reconnect backoff: exponential from `initialMs` to `maxMs`, with jitter. Defaults 500 ms and 30 s. */
  backoff?: { initialMs?: number; maxMs?: number };
  /** Failed socket attempts (never opened) before `auto` falls back to HTTP. Default 2. */
  socketFailuresBeforeHttp?: number;
  /**
   * How long a socket tried while on HTTP (`auto`) may take to be granted before it counts as
   * failed. Default 15 s. Those tries back off like reconnects (`backoff`), from the point the
   * fallback was reached.
   */
  socketProbeTimeoutMs?: number;
  /** Release the seat when the page goes away (`pagehide`), with `fetch(…, { keepalive: true })`. Default true. */
  releaseOnPageHide?: boolean;
  /** Where `pagehide`/`pageshow` come from; the page's `window` by default (none outside a page). */
  pageEvents?: PageEvents;
  WebSocket?: WebSocketFactory;
  fetch?: FetchLike;
  random?: () => number;
  setTimeout?: (fn: () => void, ms: number) => unknown;
  clearTimeout?: (handle: unknown) => void;
  now?: () => number;
}

export interface SeatClient {
  /** Starts holding the seat (idempotent). */
  start(): void;
  /** Releases the seat and stops (idempotent). */
  stop(): Promise<void>;
  on<K extends keyof SeatEvents>(event: K, listener: (payload: SeatEvents[K]) => void): () => void;
  off<K extends keyof SeatEvents>(event: K, listener: (payload: SeatEvents[K]) => void): void;
  /** The seat held now, or null. */
  readonly seat: Seat | null;
  /** The last place reported while waiting for a seat (`wait`), or null. */
  readonly waiting: Waiting | null;
  readonly entitlements: Entitlements | null;
  readonly sessionId: string;
  readonly transport: Transport | null;
  readonly running: boolean;
}

/** WebSocket close codes the server uses (documented in docs/api.md, "WebSocket presence"). */
export const CloseCode = {
  /** The client released its seat, or the server closes a socket whose session ended normally. */
  normal: 1000,
  /** The ticket is unknown, used or expired, or the agent token was revoked: get a new ticket (and token). */
  unauthorized: 4401,
  /** No license, or not an agent: checking out again will not help until an admin acts. */
  forbidden: 4403,
  /** The socket was silent (no ping) for longer than the lease. */
  silent: 4408,
  /** The pool is at its `max_active` ceiling: try again later. */
  poolAtCeiling: 4409,
  /** The seat was revoked (see the `seat.revoked` message for the reason). */
  revoked: 4410,
  /** Too many messages or an unknown message type. */
  badMessage: 4400,
} as const;

/** Reasons after which the client reconnects at once (the user still has a license). */
const RECONNECT_REASONS = new Set(["license_moved", "tokens_revoked", "session_ended"]);
const TERMINAL_CODES = new Set(["no_license", "forbidden", "unauthorized", "not_found", "invalid_request"]);
const WS_OPEN = 1;

export function createSeatClient(options: SeatClientOptions): SeatClient {
  return new Client(options);
}

class Client implements SeatClient {
  seat: Seat | null = null;
  waiting: Waiting | null = null;
  entitlements: Entitlements | null = null;
  transport: Transport | null = null;
  running = false;
  readonly sessionId: string;

  private readonly listeners = new Map<keyof SeatEvents, Set<(payload: never) => void>>();
  private readonly fetchImpl: FetchLike;
  private readonly socketFactory: WebSocketFactory | null;
  private readonly random: () => number;
  private readonly setTimer: (fn: () => void, ms: number) => unknown;
  private readonly clearTimer: (handle: unknown) => void;
  private readonly now: () => number;
  private readonly base: string;

  /** Bumped by stop(): callbacks of an older run see a different value and do nothing. */
  private run = 0;
  private token: string | null = null;
  private refreshToken = false;
  private failures = 0;
  private socketFailures = 0;
  private unauthorizedInARow = 0;
  private socket: WebSocketLike | null = null;
  /** A socket tried while heartbeats hold the seat over HTTP (auto): it takes over once granted. */
  private probe: WebSocketLike | null = null;
  private probeTimer: unknown = null;
  private probeFailures = 0;
  private timer: unknown = null;
  private pingTimer: unknown = null;
  private lastHeard = 0;
  private pageHooks: (() => void) | null = null;
  private resumeOnShow = false;
  /** The last `connection` event reported. */
  private reported: ConnectionEvent = { state: "stopped", transport: null, attempt: 0 };

  constructor(private readonly options: SeatClientOptions) {
    if (!options.baseUrl) throw new TypeError("createSeatClient: baseUrl is required");
    if (typeof options.getToken !== "function") throw new TypeError("createSeatClient: getToken is required");
    const g = globalThis as Record<string, any>;
    this.base = options.baseUrl.replace(/\/+$/, "");
    this.sessionId = options.sessionId ?? randomSessionId();
    if (!/^[A-Za-z0-9_-]{1,128}$/.test(this.sessionId)) throw new TypeError("createSeatClient: sessionId must match ^[A-Za-z0-9_-]{1,128}$");
    const f = options.fetch ?? (g.fetch as FetchLike | undefined);
    if (!f) throw new TypeError("createSeatClient: no fetch in this environment; pass options.fetch");
    this.fetchImpl = (input, init) => f(input, init);
    const WS = g.WebSocket as (new (url: string) => WebSocketLike) | undefined;
    this.socketFactory = options.WebSocket ?? (WS ? (url) => new WS(url) : null);
    this.random = options.random ?? Math.random;
    this.setTimer = options.setTimeout ?? ((fn, ms) => setTimeout(fn, ms));
    this.clearTimer = options.clearTimeout ?? ((h) => clearTimeout(h as ReturnType<typeof setTimeout>));
    this.now = options.now ?? Date.now;
  }

  // ------------------------------------------------------------------ public

  on<K extends keyof SeatEvents>(event: K, listener: (payload: SeatEvents[K]) => void): () => void {
    let set = this.listeners.get(event);
    if (!set) this.listeners.set(event, (set = new Set()));
    set.add(listener as (payload: never) => void);
    return () => this.off(event, listener);
  }

  off<K extends keyof SeatEvents>(event: K, listener: (payload: SeatEvents[K]) => void): void {
    this.listeners.get(event)?.delete(listener as (payload: never) => void);
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.failures = 0;
    this.socketFailures = 0;
    this.probeFailures = 0;
    this.unauthorizedInARow = 0;
    this.transport = this.options.transport === "http" || !this.socketFactory ? "http" : "websocket";
    this.installPageHooks();
    this.connect();
  }

  async stop(): Promise<void> {
    if (!this.running) return;
    const hadSeat = this.seat !== null;
    // With `wait`, a checkout in flight may have queued the session already: leave in any case.
    const mayWait = !hadSeat && (this.waiting !== null || this.options.wait === true);
    const socket = this.halt();
    this.removePageHooks();
    if (socket && socket.readyState === WS_OPEN) {
      // The server frees the seat (or leaves the queue) at once, no reconnect grace, and closes with 1000.
      safely(() => socket.send(JSON.stringify({ type: "release" })));
      safely(() => socket.close(CloseCode.normal, "released"));
    } else {
      if (socket) safely(() => socket.close(CloseCode.normal, "stopped"));
      if (hadSeat && this.token) await this.release(false).catch((err) => this.emit("error", asError(err)));
      // A place kept over HTTP or for a reconnect: leave it (a seat granted but not collected goes too).
      else if (mayWait && this.token) await this.leaveQueue().catch((err) => this.emit("error", asError(err)));
    }
    this.emit("connection", { state: "stopped", transport: null, attempt: 0 });
  }

  // ------------------------------------------------------------------ events

  private emit<K extends keyof SeatEvents>(event: K, payload: SeatEvents[K]): void {
    if (event === "connection") this.reported = payload as ConnectionEvent;
    for (const listener of [...(this.listeners.get(event) ?? [])]) {
      try {
        (listener as (p: SeatEvents[K]) => void)(payload);
      } catch (err) {
        if (event !== "error") this.emit("error", asError(err));
      }
    }
  }

  private granted(seat: Seat, entitlements?: Entitlements): void {
    this.seat = seat;
    this.waiting = null;
    this.failures = 0;
    this.unauthorizedInARow = 0;
    this.emit("connection", { state: "connected", transport: this.transport, attempt: 0 });
    this.emit("granted", seat);
    if (entitlements) this.setEntitlements(entitlements);
  }

  /**
   * The socket took over from HTTP heartbeats. The same session held the seat all along, so a
   * seat already reported is not reported again: only the connection (and changed entitlements).
   */
  private tookOver(seat: Seat, entitlements?: Entitlements): void {
    if (this.seat === null) return this.granted(seat, entitlements);
    this.seat = seat;
    this.failures = 0;
    this.unauthorizedInARow = 0;
    this.emit("connection", { state: "connected", transport: "websocket", attempt: 0 });
    if (entitlements && JSON.stringify(entitlements) !== JSON.stringify(this.entitlements)) this.setEntitlements(entitlements);
  }

  /**
   * A place in the queue (first, renewed or pushed). Reported when it changes; `connection`
   * `waiting` when the client was not waiting on this transport before.
   */
  private waitingAt(view: Waiting): void {
    const last = this.waiting;
    if (this.seat) {
      // The seat's lease ran out (a heartbeat found it gone) and the pool is full now.
      this.seat = null;
      this.emit("revoked", { reason: view.reason, detail: "The seat's lease ran out and the pool is at its ceiling: waiting for a seat again." });
    }
    this.waiting = view;
    this.failures = 0;
    this.unauthorizedInARow = 0;
    if (this.reported.state !== "waiting" || this.reported.transport !== this.transport) this.emit("connection", { state: "waiting", transport: this.transport, attempt: 0 });
    if (!last || last.position !== view.position || last.waiting !== view.waiting || last.reason !== view.reason || last.pool !== view.pool) {
      this.emit("waiting", view);
    }
  }

  private setEntitlements(e: Entitlements): void {
    this.entitlements = e;
    this.emit("entitlements", e);
  }

  /** A refusal: `revoked` when a seat was held (it is gone now), else `denied`. Terminal codes stop the client. */
  private refused(problem: SeatProblem): void {
    this.waiting = null;
    if (this.seat) {
      this.seat = null;
      this.emit("revoked", { reason: problem.code, detail: problem.detail });
    }
    this.emit("denied", problem);
    if (TERMINAL_CODES.has(problem.code)) this.stopQuietly();
  }

  private stopQuietly(): void {
    const socket = this.halt();
    if (socket) safely(() => socket.close(CloseCode.normal, "stopped"));
    this.removePageHooks();
    this.emit("connection", { state: "stopped", transport: null, attempt: 0 });
  }

  /** Ends the current run: timers cleared, callbacks of this run ignored. Returns the socket, detached. */
  private halt(): WebSocketLike | null {
    this.running = false;
    this.run += 1;
    this.clear();
    const socket = this.socket;
    this.socket = null;
    if (socket) detach(socket);
    this.dropProbe();
    this.seat = null;
    this.waiting = null;
    return socket;
  }

  private clear(): void {
    if (this.timer !== null) this.clearTimer(this.timer);
    if (this.pingTimer !== null) this.clearTimer(this.pingTimer);
    if (this.probeTimer !== null) this.clearTimer(this.probeTimer);
    this.timer = null;
    this.pingTimer = null;
    this.probeTimer = null;
  }

  // ------------------------------------------------------------------ scheduling

  private later(ms: number, fn: () => void): void {
    const run = this.run;
    if (this.timer !== null) this.clearTimer(this.timer);
    this.timer = this.setTimer(() => {
      this.timer = null;
      if (run === this.run) fn();
    }, Math.max(0, ms));
  }

  /** Exponential backoff with jitter: between half and all of min(max, initial × 2^failures). */
  backoffDelay(failures: number): number {
    const initial = this.options.backoff?.initialMs ?? 500;
    const max = this.options.backoff?.maxMs ?? 30_000;
    const ceiling = Math.min(max, initial * 2 ** Math.min(failures, 30));
    return ceiling / 2 + this.random() * (ceiling / 2);
  }

  private retry(minMs = 0): void {
    const delay = Math.max(minMs, this.backoffDelay(this.failures));
    this.failures += 1;
    this.emit("connection", { state: "reconnecting", transport: this.transport, attempt: this.failures });
    this.later(delay, () => this.connect());
  }

  private connect(): void {
    if (!this.running) return;
    this.emit("connection", { state: "connecting", transport: this.transport, attempt: this.failures });
    const run = this.run;
    const step = this.transport === "websocket" ? this.openSocket() : this.checkout();
    step.catch((err) => {
      if (run !== this.run) return;
      this.emit("error", asError(err));
      this.retry();
    });
  }

  // ------------------------------------------------------------------ HTTP

  private async currentToken(): Promise<string> {
    if (this.token === null || this.refreshToken) {
      const refresh = this.token !== null;
      this.refreshToken = false;
      this.token = await this.options.getToken({ refresh });
    }
    return this.token;
  }

  /** An agent request; a refused token is replaced once from getToken({ refresh: true }). */
  private async call(path: string, body?: unknown): Promise<{ status: number; body: any; headers: Headers }> {
    for (let attempt = 0; ; attempt++) {
      const token = await this.currentToken();
      const res = await this.fetchImpl(`${this.base}${path}`, {
        method: "POST",
        headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await res.text();
      let parsed: any = null;
      try {
        parsed = text ? JSON.parse(text) : null;
      } catch {
        parsed = { code: "invalid_response", detail: text.slice(0, 200), status: res.status };
      }
      if (res.status === 401 && attempt === 0) {
        this.refreshToken = true;
        continue;
      }
      return { status: res.status, body: parsed, headers: res.headers };
    }
  }

  private problemOf(res: { status: number; body: any }): SeatProblem {
    const b = res.body && typeof res.body === "object" ? res.body : {};
    return { ...b, status: res.status, code: String(b.code ?? `http_${res.status}`), detail: String(b.detail ?? `HTTP ${res.status}`) };
  }

  /** 429 and 5xx are worth retrying later; Retry-After is respected. */
  private transient(res: { status: number; headers: Headers }): number | null {
    if (res.status !== 429 && res.status < 500) return null;
    const after = Number(res.headers.get("retry-after"));
    return Number.isFinite(after) && after > 0 ? after * 1000 : 0;
  }

  private async checkout(): Promise<void> {
    const run = this.run;
    const res = await this.call("/v1/seats/checkout", { session_id: this.sessionId, ...(this.options.wait ? { wait: true } : {}) });
    // A socket may have taken over while this was in flight: it holds the same session.
    if (run !== this.run || this.transport !== "http") return;
    if (res.status === 200) return this.seated(res.body as Seat, run);
    if (res.status === 202) {
      // At the ceiling with `wait`: in the queue (asking again kept the session's place, if it had one).
      this.waitingAt(res.body as Waiting);
      return this.scheduleHeartbeat();
    }
    this.handleRefusal(res);
  }

  /** A seat over HTTP (checkout, or a granted poll): heartbeats from now on. */
  private seated(seat: Seat, run: number): void {
    const first = this.seat === null;
    this.granted(seat);
    if (first) void this.loadEntitlements(run);
    this.scheduleHeartbeat();
  }

  /**
   * `POST /v1/seats/wait/{session_id}`: renews the place (202) or collects the seat the server
   * handed to this session meanwhile (200, the checkout answer).
   */
  private async poll(): Promise<void> {
    const run = this.run;
    const res = await this.call(`/v1/seats/wait/${encodeURIComponent(this.sessionId)}`);
    if (run !== this.run || this.transport !== "http") return;
    if (res.status === 200) return this.seated(res.body as Seat, run);
    if (res.status === 202) {
      this.waitingAt(res.body as Waiting);
      return this.scheduleHeartbeat();
    }
    // wait_not_found: the entry expired (not renewed within a lease) or the license moved to
    // another pool. Check out again: a seat if one is free, else the end of the (new) queue.
    if (res.status === 404) return this.checkout();
    this.handleRefusal(res); // no_license (revoked while waiting) stops; 429/5xx retry
  }

  /** `DELETE /v1/seats/wait/{session_id}`: leaves the queue (idempotent). */
  private leaveQueue(): Promise<unknown> {
    const token = this.token;
    if (!token) return Promise.resolve();
    return this.fetchImpl(`${this.base}/v1/seats/wait/${encodeURIComponent(this.sessionId)}`, {
      method: "DELETE",
      headers: { authorization: `Bearer ${token}` },
    });
  }

  private handleRefusal(res: { status: number; body: any; headers: Headers }): void {
    const wait = this.transient(res);
    if (wait !== null) return this.retry(wait);
    const problem = this.problemOf(res);
    this.refused(problem);
    if (this.running) this.retry(); // e.g. pool_at_ceiling: a seat may free up
  }

  private async loadEntitlements(run: number): Promise<void> {
    try {
      const token = await this.currentToken();
      const res = await this.fetchImpl(`${this.base}/v1/me`, { headers: { authorization: `Bearer ${token}` } });
      if (run === this.run && res.ok) this.setEntitlements((await res.json()) as Entitlements);
    } catch (err) {
      if (run === this.run) this.emit("error", asError(err));
    }
  }

  /** The HTTP keep-alive period: the seat's heartbeat interval, or the waitlist's poll interval (both a third of the lease). */
  private beatSeconds(): number {
    return this.seat?.heartbeat_interval_seconds ?? this.waiting?.poll_interval_seconds ?? 30;
  }

  /** A heartbeat for a seat; a poll while waiting. */
  private beat(): Promise<void> {
    return this.seat === null && this.waiting !== null ? this.poll() : this.heartbeat();
  }

  private scheduleHeartbeat(): void {
    this.later(this.beatSeconds() * 1000, () => void this.beat().catch((err) => this.heartbeatFailed(err)));
  }

  private heartbeatFailed(err: unknown): void {
    if (!this.running || this.transport !== "http") return;
    this.emit("error", asError(err));
    // Keep trying at the heartbeat pace: the lease (of a seat or a place) outlives two missed beats.
    this.emit("connection", { state: "reconnecting", transport: "http", attempt: ++this.failures });
    this.later(Math.min(this.backoffDelay(this.failures), this.beatSeconds() * 1000), () => void this.beat().catch((e) => this.heartbeatFailed(e)));
  }

  private async heartbeat(): Promise<void> {
    const run = this.run;
    const res = await this.call("/v1/seats/heartbeat", { session_id: this.sessionId });
    if (run !== this.run || this.transport !== "http") return;
    if (res.status === 200) {
      if (this.seat) this.seat = { ...this.seat, expires_at: res.body.expires_at };
      if (this.failures > 0) {
        this.failures = 0;
        this.emit("connection", { state: "connected", transport: "http", attempt: 0 });
      }
      this.scheduleHeartbeat();
      return;
    }
    // The lease ended (or an admin released it): check out again, same session.
    if (res.status === 404) return this.checkout();
    this.handleRefusal(res);
  }

  private release(keepalive: boolean): Promise<unknown> {
    const token = this.token;
    if (!token) return Promise.resolve();
    return this.fetchImpl(`${this.base}/v1/seats/release`, {
      method: "POST",
      keepalive,
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify({ session_id: this.sessionId }),
    });
  }

  // ------------------------------------------------------------------ WebSocket

  /**
   * Gets a ticket and opens the socket. `probe`: tried while heartbeats hold the seat over HTTP;
   * until it is granted, its failures only count towards the next try.
   */
  private async openSocket(probe = false): Promise<void> {
    const run = this.run;
    const res = await this.call("/v1/seats/connect-ticket", { session_id: this.sessionId });
    if (run !== this.run) return;
    if (probe && this.transport !== "http") return;
    if (res.status !== 201) {
      if (res.status === 404 && this.options.transport !== "websocket") {
        // A server without WebSocket presence: heartbeats it is (and no more tries).
        if (probe) return;
        this.transport = "http";
        return this.checkout();
      }
      if (probe) return this.probeFailed(false);
      return this.handleRefusal(res);
    }
    const wait = this.options.wait ? "&wait=true" : "";
    const url = `${this.base.replace(/^http/i, "ws")}/v1/seats/connect?ticket=${encodeURIComponent(res.body.ticket)}${wait}`;
    const socket = this.socketFactory!(url);
    let opened = false;
    if (probe) {
      this.probe = socket;
      // A socket that neither opens nor closes must not stall the tries.
      const limit = this.options.socketProbeTimeoutMs ?? 15_000;
      this.probeTimer = this.setTimer(() => {
        this.probeTimer = null;
        if (run === this.run && this.probe === socket) this.probeFailed(opened);
      }, limit);
    } else {
      this.socket = socket;
    }
    /** Still a tried socket: not granted yet, heartbeats hold the seat. */
    const trial = () => this.probe === socket;
    socket.onopen = () => {
      if (run !== this.run) return;
      opened = true;
      if (trial()) return;
      this.socketFailures = 0;
      this.lastHeard = this.now();
      this.schedulePing(run);
    };
    socket.onmessage = (ev) => {
      if (run !== this.run) return;
      this.lastHeard = this.now();
      if (ev.data === "pong") return;
      let msg: any;
      try {
        msg = JSON.parse(String(ev.data));
      } catch {
        return this.emit("error", new Error(`unreadable message from the server: ${String(ev.data).slice(0, 100)}`));
      }
      if (trial()) {
        if (msg?.type === "seat.waiting" && this.seat === null) {
          // Waiting over HTTP: the socket took the session's place in the queue (the same place,
          // the same session) and holds it from now on; polls stop.
          const { type: _type, ...view } = msg;
          this.promote(socket);
          this.waitingAt(view as Waiting);
          this.schedulePing(run);
          return;
        }
        if (msg?.type !== "seat.granted") return this.probeFailed(true); // HTTP decides what a refusal means
        const { type: _type, entitlements, ...seat } = msg;
        this.promote(socket);
        this.tookOver(seat as Seat, entitlements);
        this.schedulePing(run);
        return;
      }
      switch (msg?.type) {
        case "seat.granted": {
          const { type: _type, entitlements, ...seat } = msg;
          this.granted(seat as Seat, entitlements);
          this.schedulePing(run);
          break;
        }
        case "seat.waiting": {
          const { type: _type, ...view } = msg;
          this.waitingAt(view as Waiting);
          this.schedulePing(run); // the period follows the place's poll interval
          break;
        }
        case "seat.denied":
          // The server closes next; act now, so a start() right after this event is not lost.
          this.abandonSocket(socket);
          this.socketRefused(msg.problem as SeatProblem);
          break;
        case "seat.revoked":
          this.abandonSocket(socket);
          this.socketRevoked(String(msg.reason), String(msg.detail ?? ""));
          break;
        case "entitlements.changed":
          this.setEntitlements(msg.entitlements as Entitlements);
          break;
        default:
          break; // newer servers may send more; ignore what we do not know
      }
    };
    socket.onerror = () => undefined; // a close event always follows
    socket.onclose = (ev) => {
      if (run !== this.run) return;
      if (trial()) return this.probeFailed(opened);
      this.socket = null;
      if (this.pingTimer !== null) this.clearTimer(this.pingTimer);
      this.pingTimer = null;
      this.socketClosed(ev.code, opened);
    };
  }

  /** Stops listening to a socket the server is about to close, and closes our end. */
  private abandonSocket(socket: WebSocketLike): void {
    detach(socket);
    if (this.socket === socket) this.socket = null;
    if (this.pingTimer !== null) this.clearTimer(this.pingTimer);
    this.pingTimer = null;
    safely(() => socket.close(CloseCode.normal, "done"));
  }

  private socketRefused(problem: SeatProblem): void {
    if (problem.code === "unauthorized") return this.unauthorized(problem);
    this.refused(problem);
    if (this.running) this.retry(); // e.g. pool_at_ceiling: a seat may free up
  }

  private socketRevoked(reason: string, detail: string): void {
    if (this.seat === null && this.waiting !== null) return this.waiterRevoked(reason, detail);
    this.seat = null;
    this.emit("revoked", { reason, detail });
    if (!RECONNECT_REASONS.has(reason)) return this.stopQuietly();
    if (reason === "tokens_revoked") this.refreshToken = true;
    this.later(0, () => this.connect());
  }

  /**
   * A waiting socket was dropped from the queue. No seat was held, so it is not `revoked`: it ends
   * as over HTTP (decision 210). A license moved (or tokens revoked) connects again at once, into
   * the new pool's queue; a revoked license is `denied` `no_license` (the poll's 403); any other
   * reason is `denied` with that reason as its code. Both stop the client.
   */
  private waiterRevoked(reason: string, detail: string): void {
    this.waiting = null;
    if (RECONNECT_REASONS.has(reason)) {
      if (reason === "tokens_revoked") this.refreshToken = true;
      this.emit("connection", { state: "reconnecting", transport: this.transport, attempt: 0 });
      return this.later(0, () => this.connect());
    }
    const problem: SeatProblem =
      reason === "license_revoked" ? { status: 403, code: "no_license", detail, reason } : { status: 410, code: reason, detail, reason };
    this.emit("denied", problem);
    this.stopQuietly();
  }

  private socketClosed(code: number, opened: boolean): void {
    if (code === CloseCode.unauthorized) return this.unauthorized({ status: 401, code: "unauthorized", detail: "The ticket or token was refused." });
    // A place in the queue is kept for the reconnect grace, like a seat: reconnect as quickly.
    const hadSeat = this.seat !== null || this.waiting !== null;
    this.seat = null;
    if (!opened) {
      this.socketFailures += 1;
      if (this.options.transport !== "websocket" && this.socketFailures >= (this.options.socketFailuresBeforeHttp ?? 2)) {
        this.transport = "http";
        this.probeFailures = 0;
        this.scheduleProbe();
        return this.connect();
      }
    }
    // A drop (network, server restart, silence): the same session reconnects within the server's
    // reconnect grace and keeps its seat. The first retry is quick; later ones back off.
    if (hadSeat && this.failures === 0) {
      this.failures = 1;
      this.emit("connection", { state: "reconnecting", transport: this.transport, attempt: 1 });
      return this.later(this.backoffDelay(0) / 2, () => this.connect());
    }
    this.retry();
  }

  private unauthorized(problem: SeatProblem): void {
    this.unauthorizedInARow += 1;
    this.refreshToken = true;
    if (this.unauthorizedInARow >= 3) return this.refused(problem);
    this.retry();
  }

  // ------------------------------------------------------------------ back to the socket after HTTP

  /**
   * On HTTP after sockets failed (auto): try a socket again later, backing off like reconnects
   * from where the fallback left off. Heartbeats go on meanwhile; a granted socket takes over the
   * same session, so the seat is never let go in between.
   */
  private scheduleProbe(): void {
    if (this.options.transport === "http" || this.options.transport === "websocket" || !this.socketFactory) return;
    if (this.probeTimer !== null) this.clearTimer(this.probeTimer);
    const run = this.run;
    const delay = this.backoffDelay((this.options.socketFailuresBeforeHttp ?? 2) + this.probeFailures);
    this.probeTimer = this.setTimer(() => {
      this.probeTimer = null;
      if (run !== this.run || this.transport !== "http" || this.probe) return;
      this.openSocket(true).catch((err) => {
        if (run !== this.run) return;
        this.emit("error", asError(err));
        this.probeFailed(false);
      });
    }, delay);
  }

  /**
   * A tried socket did not take over. If the server may have accepted it, its close shortened
   * the session's lease to the reconnect grace: a heartbeat now puts the lease back.
   */
  private probeFailed(accepted: boolean): void {
    this.dropProbe();
    if (!this.running || this.transport !== "http") return;
    this.probeFailures += 1;
    this.scheduleProbe();
    // (A place in the queue too: the poll renews it for a lease.)
    if (accepted && (this.seat || this.waiting)) void this.beat().catch((err) => this.heartbeatFailed(err));
  }

  private dropProbe(): void {
    const probe = this.probe;
    this.probe = null;
    if (!probe) return;
    detach(probe);
    safely(() => probe.close(CloseCode.normal, "not needed"));
  }

  /** The tried socket was granted the seat: it holds the session now, and heartbeats stop. */
  private promote(socket: WebSocketLike): void {
    this.probe = null;
    if (this.probeTimer !== null) this.clearTimer(this.probeTimer);
    this.probeTimer = null;
    if (this.timer !== null) this.clearTimer(this.timer);
    this.timer = null;
    this.transport = "websocket";
    this.socket = socket;
    this.socketFailures = 0;
    this.probeFailures = 0;
  }

  /** Pings at most every heartbeat interval; a socket that stays quiet for 2.5 periods is dropped. */
  private schedulePing(run: number): void {
    if (this.pingTimer !== null) this.clearTimer(this.pingTimer);
    const configured = this.options.pingIntervalMs ?? 30_000;
    const interval = this.seat?.heartbeat_interval_seconds ?? this.waiting?.poll_interval_seconds ?? Infinity;
    const period = Math.max(1000, Math.min(configured, interval * 1000));
    this.pingTimer = this.setTimer(() => {
      this.pingTimer = null;
      const socket = this.socket;
      if (run !== this.run || !socket || socket.readyState !== WS_OPEN) return;
      if (this.now() - this.lastHeard > period * 2.5) {
        safely(() => socket.close(4000, "no pong"));
        return;
      }
      safely(() => socket.send("ping"));
      this.schedulePing(run);
    }, period);
  }

  // ------------------------------------------------------------------ page lifecycle

  private installPageHooks(): void {
    if (this.pageHooks || this.options.releaseOnPageHide === false) return;
    const g = globalThis as Record<string, any>;
    const target: PageEvents | null = this.options.pageEvents ?? (typeof g.document !== "undefined" && typeof g.addEventListener === "function" ? (g as PageEvents) : null);
    if (!target) return;
    const onHide = (ev: { persisted?: boolean }) => {
      if (!this.running) return;
      // keepalive lets the request outlive the page; the socket may not get to say goodbye.
      void this.release(true).catch(() => undefined);
      const socket = this.halt();
      if (socket) safely(() => socket.close(CloseCode.normal, "pagehide"));
      this.resumeOnShow = ev.persisted === true;
    };
    const onShow = (ev: { persisted?: boolean }) => {
      if (ev.persisted && this.resumeOnShow) {
        this.resumeOnShow = false;
        this.start();
      }
    };
    target.addEventListener("pagehide", onHide);
    target.addEventListener("pageshow", onShow);
    this.pageHooks = () => {
      target.removeEventListener("pagehide", onHide);
      target.removeEventListener("pageshow", onShow);
    };
  }

  private removePageHooks(): void {
    if (this.resumeOnShow) return; // kept so a page restored from the back-forward cache resumes
    this.pageHooks?.();
    this.pageHooks = null;
  }
}

function detach(socket: WebSocketLike): void {
  socket.onopen = null;
  socket.onmessage = null;
  socket.onclose = null;
  socket.onerror = null;
}

function safely(fn: () => void): void {
  try {
    fn();
  } catch {
    // a socket already closing may throw; nothing to do
  }
}

function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}

function randomSessionId(): string {
  const c = (globalThis as Record<string, any>).crypto;
  if (c?.randomUUID) return `sdk-${c.randomUUID()}`;
  return `sdk-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 12)}`;
}
