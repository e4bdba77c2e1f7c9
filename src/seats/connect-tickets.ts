import { randomToken, sha256Hex } from "../auth/crypto";

/**
 * One-time connect tickets (browsers cannot send `Authorization` on a WebSocket): issued to an agent
 * for one session, valid 60 s, consumed by the first upgrade that presents it. Kept in the account's
 * Durable Object SQLite as a SHA-256 hash only, so a stored ticket is useless to a reader of the
 * store; the ticket itself is never logged. The ticket names its account so the Worker can route
 * the upgrade to the right object without a lookup.
 */

export const TICKET_TTL_MS = 60_000;

const TICKET = /^ct_([A-Za-z0-9_-]{43})\.([A-Za-z0-9][A-Za-z0-9._@-]{0,127})$/;

export function formatTicket(secret: string, accountId: string): string {
  return `ct_${secret}.${accountId}`;
}

export function parseTicket(ticket: string): { secret: string; accountId: string } | null {
  const m = TICKET.exec(ticket);
  return m ? { secret: m[1], accountId: m[2] } : null;
}

export interface TicketHolder {
  userId: string;
  sessionId: string;
}

export class ConnectTickets {
  constructor(private readonly sql: SqlStorage) {}

  /** A fresh ticket secret (32 random bytes) for this user's session. Expired tickets are dropped here. */
  async issue(userId: string, sessionId: string, now: number): Promise<{ secret: string; expiresAt: number }> {
    const secret = randomToken(32);
    const hash = await sha256Hex(secret);
    const expiresAt = now + TICKET_TTL_MS;
    this.sql.exec("DELETE FROM connect_tickets WHERE expires_at <= ?", now);
    this.sql.exec("INSERT INTO connect_tickets (hash, user_id, session_id, expires_at) VALUES (?, ?, ?, ?)", hash, userId, sessionId, expiresAt);
    return { secret, expiresAt };
  }

  /** The ticket's holder, once: the row is deleted whether or not it had expired. */
  async consume(secret: string, now: number): Promise<TicketHolder | null> {
    const hash = await sha256Hex(secret);
    const row = this.sql
      .exec<{ user_id: string; session_id: string; expires_at: number }>(
        "DELETE FROM connect_tickets WHERE hash = ? RETURNING user_id, session_id, expires_at",
        hash,
      )
      .toArray()[0];
    if (!row || row.expires_at <= now) return null;
    return { userId: row.user_id, sessionId: row.session_id };
  }

  /** Drops a user's unused tickets (tokens revoked, user deleted). */
  revokeUser(userId: string): void {
    this.sql.exec("DELETE FROM connect_tickets WHERE user_id = ?", userId);
  }

  pending(): number {
    return this.sql.exec<{ n: number }>("SELECT count(*) AS n FROM connect_tickets").one().n;
  }
}
