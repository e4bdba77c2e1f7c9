import { parsePoolId, type PoolId } from "../domain/catalog";
import type { Entitlements } from "../domain/entitlements";
import type { TeamSeatState } from "../domain/teams";
import type { DropReason } from "../domain/waitlist";
import { ApiError, fail, ok, type ErrorCode, type Result } from "../errors";
import { CLOSE, type Presence } from "./presence";
import type { Roster } from "./roster";
import type { SeatActivity } from "./seat-activity";
import type { SeatBook } from "./seat-book";
import type { UsageLedger } from "./usage-ledger";
import { checkoutView, type CheckoutView } from "./views";
import { WaitlistService, WaitlistStore, type WaitingView } from "./waitlist";

/*
 * The agent's side of the waitlist (docs/licensing.md#the-waitlist, decision 170): joining at
 * the ceiling, the poll, leaving, and what a grant does to the session and its sockets. Functions
 * over the object's shared parts; the queue and its rules are ./waitlist.ts.
 */

/** Refusals a checkout with `wait` turns into a place in the queue. */
export const WAITABLE: ReadonlySet<ErrorCode> = new Set<ErrorCode>(["pool_at_ceiling", "team_at_ceiling"]);

/** What the waitlist reads and drives in the account's object. */
export interface WaitHost {
  readonly roster: Roster;
  readonly seats: SeatBook;
  readonly ledger: UsageLedger;
  readonly activity: SeatActivity;
  readonly presence: Presence;
  readonly waitlist: WaitlistService;
  now(): number;
}

export interface WaitHooks {
  /** The pool's seat state as a checkout reads it; teams fill in their counts and limits. */
  seatState?: (pool: PoolId) => TeamSeatState;
  teamOf?: (userId: string) => string | null;
  entitlementsOf: (userId: string) => Entitlements;
  /** Ends sessions beyond the user's cap after a new one opened (the checkout's own rule). */
  evictBeyondCap: (userId: string, keep: string, now: number) => void;
  /** A waiter got its seat: its refusal at the ceiling was not a true denial (./alerts.ts). */
  seated?: (userId: string, now: number) => void;
}

const leaseMs = (h: Pick<WaitHost, "roster">) => h.roster.settings.leaseTtlSeconds * 1000;

/** The checkout answer for a session that holds its seat until `expiresAt`. */
export function seatView(h: Omit<WaitHost, "waitlist">, userId: string, sessionId: string, pool: PoolId, expiresAt: number): CheckoutView {
  const now = h.now();
  const live = parsePoolId(pool)!.model === "concurrent" ? h.ledger.live(pool, now, h.activity.graceRules()) : null;
  return checkoutView({ userId, sessionId, pool, expiresAt, roster: h.roster, active: h.seats.active(pool), live });
}

/** The pool's state for the rules without teams: the ceiling and the seats in use. */
export function plainSeatState(h: Pick<WaitHost, "roster" | "seats">, pool: PoolId): TeamSeatState {
  return { pool, ceiling: h.roster.pools.get(pool)?.maxActive ?? null, active: h.seats.active(pool), activeByTeam: new Map(), limits: new Map() };
}

/** Builds the object's waitlist over its SQLite and its parts (`host` is read at each use). */
export function createWaitlist(sql: SqlStorage, host: () => Omit<WaitHost, "waitlist">, hooks: WaitHooks): WaitlistService {
  const store = new WaitlistStore(sql, (userId, sessionId) => host().presence.holds(userId, sessionId));
  return new WaitlistService({
    store,
    now: () => host().now(),
    leaseMs: () => leaseMs(host()),
    licenseOf: (userId) => host().roster.licenseOf(userId) ?? null,
    holdsSeat: (userId) => host().seats.holders.has(userId),
    seatState: (pool) => hooks.seatState?.(pool) ?? plainSeatState(host(), pool),
    teamOf: (userId) => hooks.teamOf?.(userId) ?? null,
    open: (userId, sessionId, pool, now) => {
      const h = host();
      const expiresAt = now + leaseMs(h);
      if (!h.seats.renew(userId, sessionId, expiresAt)) {
        if (h.seats.open(userId, sessionId, pool, now, expiresAt)) h.activity.taken(userId, pool, now);
        else hooks.evictBeyondCap(userId, sessionId, now);
      }
      h.activity.arm(expiresAt);
      hooks.seated?.(userId, now);
      return expiresAt;
    },
    granted: (userId, sessionId, pool, expiresAt) => {
      const h = host();
      const sockets = h.presence.ofSession(userId, sessionId);
      if (sockets.length === 0) return;
      const message = { type: "seat.granted" as const, ...seatView(h, userId, sessionId, pool, expiresAt), entitlements: hooks.entitlementsOf(userId) };
      for (const ws of sockets) h.presence.send(ws, message);
    },
    dropped: (userId, sessionId, reason) => {
      const h = host();
      h.presence.revoke(h.presence.ofSession(userId, sessionId), reason);
    },
    moved: (userId, sessionId, view) => {
      const h = host();
      for (const ws of h.presence.ofSession(userId, sessionId)) h.presence.send(ws, { type: "seat.waiting", ...view });
    },
  });
}

/** A checkout refused for the ceiling, with `wait`: the session's place (joined now, or kept). */
export function joinWaitlist(h: WaitHost, userId: string, sessionId: string, pool: PoolId, now: number, reason: ErrorCode): WaitingView {
  h.waitlist.store.join(userId, sessionId, pool, now, now + leaseMs(h));
  return h.waitlist.view(pool, userId, sessionId, now, undefined, reason);
}

/**
 * `POST /v1/seats/wait/{session_id}`: renews a waiting entry (202), or hands over a granted seat
 * (200, renewing its lease as a checkout would). The pool's queue is served first, so the answer
 * reflects the license re-check and any seat that freed meanwhile.
 */
export function pollWait(h: WaitHost, userId: string, sessionId: string): Result<CheckoutView | WaitingView> {
  const now = h.now();
  h.activity.expireDue(now);
  const before = h.waitlist.store.entry(userId, sessionId);
  if (before && before.state === "waiting") h.waitlist.serve([before.pool]);
  const entry = h.waitlist.store.entry(userId, sessionId);
  if (!entry || !h.waitlist.store.live(entry, now)) {
    if (entry) h.waitlist.store.leave(userId, sessionId);
    return fail(notWaiting());
  }
  const expiresAt = now + leaseMs(h);
  if (entry.state === "waiting") {
    h.waitlist.store.renew(userId, sessionId, expiresAt);
    return ok(h.waitlist.view(entry.pool, userId, sessionId, now));
  }
  if (entry.state === "dropped") {
    h.waitlist.store.leave(userId, sessionId);
    return fail(droppedError(userId, entry.reason ?? "license_revoked"));
  }
  // Granted: the seat is the session's; the poll renews it like a checkout and answers the same.
  if (!h.seats.renew(userId, sessionId, expiresAt)) {
    h.waitlist.store.leave(userId, sessionId);
    return fail(notWaiting());
  }
  h.waitlist.store.renew(userId, sessionId, expiresAt);
  h.activity.arm(expiresAt);
  return ok(seatView(h, userId, sessionId, entry.pool, expiresAt));
}

/** `DELETE /v1/seats/wait/{session_id}`: leaves the queue; a seat granted and not yet collected is released. */
export function leaveWait(h: WaitHost, userId: string, sessionId: string): void {
  const now = h.now();
  h.activity.expireDue(now);
  const entry = h.waitlist.store.entry(userId, sessionId);
  if (!entry) return;
  h.waitlist.store.leave(userId, sessionId);
  if (entry.state === "granted") h.activity.endSession(userId, sessionId, now);
  for (const ws of h.presence.ofSession(userId, sessionId)) h.presence.close(ws, CLOSE.normal, "left the waitlist");
}

/** The session ended for good (release over HTTP or the socket): its entry goes too. */
export function forgetWait(h: Pick<WaitHost, "waitlist">, userId: string, sessionId: string): void {
  h.waitlist.store.leave(userId, sessionId);
}

/** The user's license went (revoked, moved, user deleted): their waiting entries are dropped with the reason. */
export function dropWaits(h: Pick<WaitHost, "waitlist" | "roster">, userId: string, now: number): void {
  const reason: DropReason = h.roster.licenseOf(userId) !== undefined ? "license_moved" : "license_revoked";
  h.waitlist.store.dropUser(userId, reason, now + leaseMs(h));
}

/** A waiting socket closed: its entry is kept for the reconnect grace (none: it goes at once). */
export function waitingSocketClosed(h: Pick<WaitHost, "waitlist">, userId: string, sessionId: string, now: number, graceMs: number): void {
  if (graceMs === 0) {
    const entry = h.waitlist.store.entry(userId, sessionId);
    if (entry?.state === "waiting") h.waitlist.store.leave(userId, sessionId);
    return;
  }
  h.waitlist.store.renewWaiting(userId, sessionId, now + graceMs);
}

const notWaiting = () =>
  new ApiError("wait_not_found", "No waitlist entry for this session: it expired (not renewed within a lease), was left, or never existed. Check out again.");

function droppedError(userId: string, reason: DropReason): ApiError {
  if (reason === "license_revoked") {
    return new ApiError("no_license", `User ${userId} holds no contact-center license any more; the waitlist entry was dropped.`, { reason });
  }
  return new ApiError("wait_not_found", "The user's license moved to another pool; the waitlist entry was dropped. Check out again.", { reason });
}
