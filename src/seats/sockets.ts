import { ApiError, ok, fail, problemBody, type Result } from "../errors";
import { iso } from "../time";
import { takeSeat } from "./agent-seat";
import { formatTicket, parseTicket } from "./connect-tickets";
import { entitlementsOf, rosterLoaded, revoked, type House } from "./house";
import { CLOSE, closeCodeFor, parseClientMessage, PING, PONG, refuseUpgrade } from "./presence";
import { forgetWait, waitingSocketClosed } from "./wait-seat";

/*
 * Presence over WebSocket (docs/api.md#presence-over-websocket): a one-time ticket, the upgrade
 * that checks the seat out, the socket's messages and close, and the alarm's sweep of silent
 * sockets. The sockets themselves (hibernatable, with their attachments) are ./presence.ts.
 */

/** A one-time ticket for `GET /v1/seats/connect` (valid 60 s, stored hashed). */
export async function issueTicket(h: House, userId: string, generation: number, sessionId: string): Promise<Result<{ ticket: string; expires_at: string }>> {
  h.calls.bump("requests");
  h.calls.bump("tickets");
  await rosterLoaded(h);
  if (!h.tokens.accepts(userId, generation)) return fail(revoked());
  const { secret, expiresAt } = await h.tickets.issue(userId, sessionId, h.now());
  return ok({ ticket: formatTicket(secret, h.accountId), expires_at: iso(expiresAt) });
}

/** The upgrade: consume the ticket, check the seat out, hold the socket (hibernatable). */
export async function upgrade(h: House, request: Request): Promise<Response> {
  h.calls.bump("requests");
  if (request.headers.get("upgrade")?.toLowerCase() !== "websocket") {
    return new Response(JSON.stringify(problemBody(new ApiError("upgrade_required", "Connect with a WebSocket upgrade."))), {
      status: 426,
      headers: { "content-type": "application/problem+json" },
    });
  }
  const parsed = parseTicket(new URL(request.url).searchParams.get("ticket") ?? "");
  const now = h.now();
  const holder = parsed && parsed.accountId === h.accountId ? await h.tickets.consume(parsed.secret, now) : null;
  if (!holder) {
    const refusal = new ApiError("unauthorized", "The ticket is unknown, used or expired; get a new one from POST /v1/seats/connect-ticket.");
    return refuseUpgrade(problemBody(refusal, "/v1/seats/connect"), CLOSE.unauthorized);
  }
  // `?wait=true`: at the ceiling the socket waits in the queue (docs/api.md#waiting-on-the-socket).
  const wait = new URL(request.url).searchParams.get("wait") === "true";
  const result = await takeSeat(h, holder.userId, holder.sessionId, wait);
  if (!result.ok) return refuseUpgrade(problemBody(result.error, "/v1/seats/connect"), closeCodeFor(result.error.code));
  const [client, server] = Object.values(new WebSocketPair()) as [WebSocket, WebSocket];
  h.presence.accept(server, holder.userId, holder.sessionId, now);
  h.calls.bump("socket_connects");
  if ("status" in result.value) h.presence.send(server, { type: "seat.waiting", ...result.value });
  else h.presence.send(server, { type: "seat.granted", ...result.value, entitlements: entitlementsOf(h, holder.userId) });
  h.activity.arm(now + sweepIntervalMs(h));
  return new Response(null, { status: 101, webSocket: client });
}

/** Pings never get here (the runtime answers them); the only message handled is a release. */
export async function onMessage(h: House, ws: WebSocket, message: string | ArrayBuffer): Promise<void> {
  h.calls.bump("socket_messages");
  const now = h.now();
  h.presence.noteMessage(ws, now);
  if (message === PING) return ws.send(PONG);
  const info = h.presence.info(ws);
  if (!info || parseClientMessage(message)?.type !== "release") return h.presence.close(ws, CLOSE.badMessage, "unknown message");
  await rosterLoaded(h);
  h.activity.expireDue(now);
  h.activity.endSession(info.userId, info.sessionId, now);
  forgetWait(h, info.userId, info.sessionId);
  for (const other of h.presence.ofSession(info.userId, info.sessionId)) h.presence.close(other, CLOSE.normal, "released");
}

/**
 * A socket closed (or failed): unless the same session holds another socket (it reconnected
 * first), its lease now ends after the reconnect grace, so a blip neither flaps the seat nor
 * over-counts it.
 */
export async function socketGone(h: House, ws: WebSocket): Promise<void> {
  h.calls.bump("socket_closes");
  const info = h.presence.info(ws);
  if (!info || h.presence.ofSession(info.userId, info.sessionId, ws).length > 0) return;
  await rosterLoaded(h);
  const now = h.now();
  const graceMs = h.roster.settings.reconnectGraceSeconds * 1000;
  waitingSocketClosed(h, info.userId, info.sessionId, now, graceMs);
  if (graceMs === 0) {
    h.activity.expireDue(now);
    return h.activity.endSession(info.userId, info.sessionId, now);
  }
  if (h.seats.renew(info.userId, info.sessionId, now + graceMs)) {
    // The lease got shorter: the seat book's earliest expiry must learn it.
    h.seats.refreshExpiry();
    h.activity.arm(now + graceMs);
  }
}

function sweepIntervalMs(h: House): number {
  return Math.max(1000, (h.roster.settings.leaseTtlSeconds * 1000) / 2);
}

/**
 * From the alarm: sockets silent for longer than the lease are closed and their sessions end;
 * the others renew their sessions' leases (one alarm per half lease, however many sockets).
 * Returns when to sweep again, or null without sockets.
 */
export function sweepSockets(h: House, now: number): number | null {
  const leaseMs = h.roster.settings.leaseTtlSeconds * 1000;
  const { live, silent } = h.presence.sweep(now, leaseMs);
  for (const ws of silent) {
    const info = h.presence.info(ws)!;
    h.presence.close(ws, CLOSE.silent, "silent longer than the lease");
    if (h.presence.ofSession(info.userId, info.sessionId, ws).length === 0) h.activity.endSession(info.userId, info.sessionId, now);
  }
  for (const { userId, sessionId } of h.presence.sessionsOf(live)) {
    // A waiting socket keeps its waitlist entry alive instead.
    if (h.seats.renew(userId, sessionId, now + leaseMs) || h.waitlist.store.renewWaiting(userId, sessionId, now + leaseMs)) continue;
    // Its session ended while the object was away (it expired): the client connects again.
    h.presence.revoke(h.presence.ofSession(userId, sessionId), "session_ended");
  }
  return live.length > 0 ? now + sweepIntervalMs(h) : null;
}
