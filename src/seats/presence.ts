import type { Entitlements } from "../domain/entitlements";
import type { Problem } from "../errors";
import type { CheckoutView } from "./views";
import type { WaitingView } from "./waitlist";

/**
 * WebSocket presence: which open sockets hold which desktop sessions, and what they are told.
 *
 * Nothing is kept in this object's memory: the runtime keeps hibernated sockets, their tags (user,
 * session) and attachments (who, since when), so an object that wakes from hibernation reads the
 * same state through `ctx.getWebSockets()`. The seats themselves stay in the SeatBook's SQLite; a
 * socket only keeps its session's lease renewed (see AccountSeats' presence hooks).
 */

/** Close codes (docs/api.md, "WebSocket presence"). 4xxx mirrors the HTTP status of the problem. */
export const CLOSE = {
  /** Released by the client (`{"type":"release"}`), or the session ended normally. */
  normal: 1000,
  /** An unknown message type or an unreadable message. */
  badMessage: 4400,
  /** The ticket is unknown, used or expired, or the user's agent tokens were revoked. */
  unauthorized: 4401,
  /** No license (or not an agent): connecting again will not help until an admin acts. */
  forbidden: 4403,
  /** No ping for longer than the lease: the session ended. */
  silent: 4408,
  /** The pool is at its `max_active` ceiling. */
  poolAtCeiling: 4409,
  /** The seat was taken away: `seat.revoked` says why. */
  revoked: 4410,
} as const;

/** Close code for a refused checkout (its problem code). */
export function closeCodeFor(code: string): number {
  switch (code) {
    case "unauthorized":
      return CLOSE.unauthorized;
    case "pool_at_ceiling":
    case "team_at_ceiling":
      return CLOSE.poolAtCeiling;
    case "invalid_request":
      return CLOSE.badMessage;
    default:
      return CLOSE.forbidden;
  }
}

export type RevokeReason =
  | "license_revoked"
  | "license_moved"
  | "seat_released"
  | "user_deleted"
  | "tokens_revoked"
  | "session_evicted"
  | "session_ended";

export type ServerMessage =
  | ({ type: "seat.granted"; entitlements: Entitlements } & CheckoutView)
  | { type: "seat.denied"; problem: Problem }
  | ({ type: "seat.waiting" } & WaitingView)
  | { type: "seat.revoked"; reason: RevokeReason; detail: string }
  | { type: "entitlements.changed"; entitlements: Entitlements };

/** What the client may send besides the auto-answered "ping". */
export type ClientMessage = { type: "release" };

export const PING = "ping";
export const PONG = "pong";

const REVOKE_DETAIL: Record<RevokeReason, string> = {
  license_revoked: "The user's license was revoked.",
  license_moved: "The user's license moved to another pool; connect again to take a seat there.",
  seat_released: "An admin released the seat.",
  user_deleted: "The user was deleted.",
  tokens_revoked: "The user's agent tokens were revoked; get a new token.",
  session_evicted: "The user opened more sessions than max_sessions_per_user allows; this one was the least recently renewed.",
  session_ended: "The session ended (released over HTTP or expired).",
};

/** Stored on each socket (survives hibernation): who it belongs to and when it was last heard. */
export interface SocketInfo {
  userId: string;
  sessionId: string;
  connectedAt: number;
  /** Last time the object itself handled a message from it (pings are answered without the object). */
  lastMessageAt: number;
}

type PresenceCtx = Pick<DurableObjectState, "acceptWebSocket" | "getWebSockets" | "getWebSocketAutoResponseTimestamp">;

const OPEN = 1;
const userTag = (userId: string) => `u:${userId}`;
const sessionTag = (sessionId: string) => `s:${sessionId}`;

export class Presence {
  constructor(private readonly ctx: PresenceCtx) {}

  /** Keep-alives answered by the runtime: a "ping" gets "pong" without waking the object. */
  static autoRespond(ctx: Pick<DurableObjectState, "setWebSocketAutoResponse">): void {
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair(PING, PONG));
  }

  /** Hands the socket to the runtime (hibernatable), tagged with its user and session. */
  accept(ws: WebSocket, userId: string, sessionId: string, now: number): void {
    this.ctx.acceptWebSocket(ws, [userTag(userId), sessionTag(sessionId)]);
    const info: SocketInfo = { userId, sessionId, connectedAt: now, lastMessageAt: now };
    ws.serializeAttachment(info);
  }

  info(ws: WebSocket): SocketInfo | null {
    const info = ws.deserializeAttachment() as SocketInfo | null;
    return info && typeof info.userId === "string" ? info : null;
  }

  noteMessage(ws: WebSocket, now: number): void {
    const info = this.info(ws);
    if (info) ws.serializeAttachment({ ...info, lastMessageAt: now });
  }

  /** Open sockets (a closing one is no longer counted). */
  open(): WebSocket[] {
    return this.ctx.getWebSockets().filter((ws) => ws.readyState === OPEN && this.info(ws));
  }

  ofUser(userId: string): WebSocket[] {
    return this.ctx.getWebSockets(userTag(userId)).filter((ws) => ws.readyState === OPEN && this.info(ws)?.userId === userId);
  }

  /** Open sockets of one session, except `except` (the socket being closed). */
  ofSession(userId: string, sessionId: string, except?: WebSocket): WebSocket[] {
    return this.ctx
      .getWebSockets(sessionTag(sessionId))
      .filter((ws) => ws !== except && ws.readyState === OPEN && this.info(ws)?.userId === userId);
  }

  holds(userId: string, sessionId: string): boolean {
    return this.ofSession(userId, sessionId).length > 0;
  }

  /** When the socket was last heard from: its last auto-answered ping, message or connect. */
  lastHeard(ws: WebSocket): number {
    const info = this.info(ws);
    const ping = this.ctx.getWebSocketAutoResponseTimestamp(ws)?.getTime() ?? 0;
    return Math.max(ping, info?.lastMessageAt ?? 0, info?.connectedAt ?? 0);
  }

  /** Splits the open sockets into those heard within `limitMs` and the silent ones. */
  sweep(now: number, limitMs: number): { live: WebSocket[]; silent: WebSocket[] } {
    const live: WebSocket[] = [];
    const silent: WebSocket[] = [];
    for (const ws of this.open()) (now - this.lastHeard(ws) > limitMs ? silent : live).push(ws);
    return { live, silent };
  }

  /** The distinct sessions the given sockets hold. */
  sessionsOf(sockets: WebSocket[]): { userId: string; sessionId: string }[] {
    const seen = new Map<string, { userId: string; sessionId: string }>();
    for (const ws of sockets) {
      const info = this.info(ws);
      if (info) seen.set(`${info.userId}\u0000${info.sessionId}`, { userId: info.userId, sessionId: info.sessionId });
    }
    return [...seen.values()];
  }

  send(ws: WebSocket, message: ServerMessage): void {
    try {
      ws.send(JSON.stringify(message));
    } catch {
      // closed under us: its close handler does the bookkeeping
    }
  }

  close(ws: WebSocket, code: number, reason: string): void {
    try {
      ws.close(code, reason.slice(0, 120));
    } catch {
      // already closing
    }
  }

  /** Tells the sockets why their seat went, and closes them with 4410. Returns how many. */
  revoke(sockets: WebSocket[], reason: RevokeReason, detail = REVOKE_DETAIL[reason]): number {
    for (const ws of sockets) {
      this.send(ws, { type: "seat.revoked", reason, detail });
      this.close(ws, CLOSE.revoked, reason);
    }
    return sockets.length;
  }

  revokeUser(userId: string, reason: RevokeReason): number {
    return this.revoke(this.ofUser(userId), reason);
  }

  pushEntitlements(userId: string, entitlements: Entitlements): void {
    for (const ws of this.ofUser(userId)) this.send(ws, { type: "entitlements.changed", entitlements });
  }

  /** Users with at least one open socket. */
  users(): string[] {
    return [...new Set(this.open().map((ws) => this.info(ws)!.userId))];
  }
}

/** Reads a client message: "release" is the only one the object handles (pings never reach it). */
export function parseClientMessage(data: string | ArrayBuffer): ClientMessage | null {
  if (typeof data !== "string" || data.length > 1024) return null;
  try {
    const msg = JSON.parse(data) as { type?: unknown };
    return msg && msg.type === "release" ? { type: "release" } : null;
  } catch {
    return null;
  }
}

/**
 * Answers an upgrade with a socket that carries only the refusal: a browser cannot read the status
 * of a refused upgrade, but it can read a message and a close code.
 */
export function refuseUpgrade(problem: Problem, code: number): Response {
  const pair = new WebSocketPair();
  const [client, server] = Object.values(pair) as [WebSocket, WebSocket];
  server.accept();
  server.send(JSON.stringify({ type: "seat.denied", problem } satisfies ServerMessage));
  server.close(code, problem.code);
  return new Response(null, { status: 101, webSocket: client });
}
