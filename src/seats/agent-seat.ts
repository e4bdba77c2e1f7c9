import { parsePoolId } from "../domain/catalog";
import type { Entitlements } from "../domain/entitlements";
import { ApiError, fail, ok, type Result } from "../errors";
import { iso } from "../time";
import { entitlementsOf, rosterLoaded, revoked, type House } from "./house";
import { CLOSE } from "./presence";
import { refusalError } from "./refusal";
import { refuseSeatFor } from "./team-seats";
import { checkoutView, type CheckoutView } from "./views";
import { forgetWait, joinWaitlist, leaveWait as leaveQueue, pollWait as pollQueue, WAITABLE } from "./wait-seat";
import type { WaitingView } from "./waitlist";

/*
 * The agent desktop's seat: checkout, heartbeat, release. Each touches only the object's SQLite
 * and memory, synchronously once the roster is loaded: no lock, no D1, one round trip.
 */

export async function checkout(h: House, userId: string, generation: number, sessionId: string, wait = false): Promise<Result<CheckoutView | WaitingView>> {
  h.calls.bump("requests");
  if (!h.tokens.accepts(userId, generation)) return fail(revoked());
  return takeSeat(h, userId, sessionId, wait);
}

/** The checkout rules, shared by HTTP checkout and the WebSocket upgrade; `wait` queues at the ceiling. */
export async function takeSeat(h: House, userId: string, sessionId: string, wait = false): Promise<Result<CheckoutView | WaitingView>> {
  h.calls.bump("checkouts");
  await rosterLoaded(h);
  const now = h.now();
  h.activity.expireDue(now);
  const pool = h.roster.licenseOf(userId);
  if (!pool) {
    h.alerts.refused(userId, null, "no_license", now);
    return fail(new ApiError("no_license", `User ${userId} holds no contact-center license.`));
  }
  const expiresAt = now + h.roster.settings.leaseTtlSeconds * 1000;
  // A user without a seat has no session to renew: skip the UPDATE that could not match.
  const holdsSeat = h.seats.holders.has(userId);
  if (!holdsSeat || !h.seats.renew(userId, sessionId, expiresAt)) {
    if (!holdsSeat) {
      const refusal = refuseSeatFor(h.roster, h.seats, pool, userId);
      if (refusal) {
        // With `wait`, the refusal at the ceiling is counted when the session joins the queue (the
        // grant later counts as seated); asking again for a session that waits is a renewal.
        const queueing = wait && WAITABLE.has(refusal.code);
        if (!(queueing && h.waitlist.store.waitingIn(userId, sessionId, pool, now))) {
          h.alerts.refused(userId, pool, refusal.code === "team_at_ceiling" ? "team_at_ceiling" : "pool_at_ceiling", now);
        }
        if (queueing) return ok(joinWaitlist(h, userId, sessionId, pool, now, refusal.code));
        return fail(refusalError(refusal));
      }
    }
    if (h.seats.open(userId, sessionId, pool, now, expiresAt)) h.activity.taken(userId, pool, now);
    else evictBeyondCap(h, userId, sessionId, now);
  }
  forgetWait(h, userId, sessionId);
  h.activity.arm(expiresAt);
  h.alerts.seated(userId, now);
  const live = parsePoolId(pool)!.model === "concurrent" ? h.ledger.live(pool, now, h.activity.graceRules()) : null;
  return ok(checkoutView({ userId, sessionId, pool, expiresAt, roster: h.roster, active: h.seats.active(pool), live }));
}

/**
 * A new session beyond max_sessions_per_user ends the user's least recently renewed ones (the
 * new one is open already, so the seat never frees in between): a new device always works and
 * an abandoned one loses out.
 */
export function evictBeyondCap(h: House, userId: string, keep: string, now: number): void {
  for (const sessionId of h.seats.beyondCap(userId, h.roster.settings.maxSessionsPerUser, keep)) {
    h.activity.endSession(userId, sessionId, now);
    h.alerts.refused(userId, h.seats.holders.get(userId)!.pool, "session_evicted", now);
    h.presence.revoke(h.presence.ofSession(userId, sessionId), "session_evicted");
  }
}

/** `POST /v1/seats/wait/{session_id}` (docs/licensing.md#the-waitlist): the place, renewed, or the checkout once granted. */
export async function pollWait(h: House, userId: string, generation: number, sessionId: string): Promise<Result<CheckoutView | WaitingView>> {
  h.calls.bump("requests");
  if (!h.tokens.accepts(userId, generation)) return fail(revoked());
  await rosterLoaded(h);
  return pollQueue(h, userId, sessionId);
}

/** `DELETE /v1/seats/wait/{session_id}`: leaves the queue (idempotent). */
export async function leaveWait(h: House, userId: string, generation: number, sessionId: string): Promise<Result<null>> {
  h.calls.bump("requests");
  if (!h.tokens.accepts(userId, generation)) return fail(revoked());
  await rosterLoaded(h);
  leaveQueue(h, userId, sessionId);
  return ok(null);
}

export async function heartbeat(h: House, userId: string, generation: number, sessionId: string): Promise<Result<{ expires_at: string }>> {
  h.calls.bump("requests");
  h.calls.bump("heartbeats");
  if (!h.tokens.accepts(userId, generation)) return fail(revoked());
  await rosterLoaded(h);
  const now = h.now();
  h.activity.expireDue(now);
  const expiresAt = now + h.roster.settings.leaseTtlSeconds * 1000;
  if (!h.seats.renew(userId, sessionId, expiresAt)) {
    return fail(new ApiError("session_not_found", "The session has expired or was released; check out again."));
  }
  return ok({ expires_at: iso(expiresAt) });
}

export async function release(h: House, userId: string, generation: number, sessionId: string): Promise<Result<null>> {
  h.calls.bump("requests");
  h.calls.bump("releases");
  if (!h.tokens.accepts(userId, generation)) return fail(revoked());
  await rosterLoaded(h);
  const now = h.now();
  h.activity.expireDue(now);
  h.activity.endSession(userId, sessionId, now);
  forgetWait(h, userId, sessionId);
  // A socket of this session has nothing left to hold.
  for (const ws of h.presence.ofSession(userId, sessionId)) h.presence.close(ws, CLOSE.normal, "released");
  return ok(null);
}

/** What the user may use, from memory: the admin's entitlements read. */
export async function userEntitlements(h: House, userId: string): Promise<Entitlements> {
  h.calls.bump("requests");
  await rosterLoaded(h);
  return entitlementsOf(h, userId);
}

/** The agent's `/v1/me`: the same, for a token of the user's current generation only. */
export async function agentEntitlements(h: House, userId: string, generation: number): Promise<Result<Entitlements>> {
  if (!h.tokens.accepts(userId, generation)) return fail(revoked());
  return ok(await userEntitlements(h, userId));
}
