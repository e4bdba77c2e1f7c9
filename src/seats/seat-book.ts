import type { PoolId } from "../domain/catalog";

export interface SeatHolder {
  pool: PoolId;
  sessions: number;
  since: number;
}

export interface SeatItem {
  user_id: string;
  sessions: number;
  since: string;
  expires_at: string;
}

/**
 * Sessions and the seats they hold, in the Durable Object's SQLite, with an in-memory index of who
 * holds a seat and how many seats each pool has in use. A seat belongs to a user, not a device:
 * it is taken by the user's first session and freed when their last one ends (docs/licensing.md#concurrent-pools).
 * Every method is synchronous: checkouts need no lock.
 */
export class SeatBook {
  readonly holders = new Map<string, SeatHolder>();
  private readonly activeByPool = new Map<PoolId, number>();
  /** A lower bound of the earliest lease expiry (renewals only move expiries later). */
  private earliestExpiry: number | null = null;

  constructor(private readonly sql: SqlStorage) {
    const rows = sql.exec<{ user_id: string; pool_id: string; n: number; since: number }>(
      "SELECT user_id, pool_id, count(*) AS n, min(started_at) AS since FROM sessions GROUP BY user_id",
    );
    for (const r of rows) {
      const pool = r.pool_id as PoolId;
      this.holders.set(r.user_id, { pool, sessions: r.n, since: r.since });
      this.activeByPool.set(pool, this.active(pool) + 1);
    }
    this.earliestExpiry = this.minExpiry();
  }

  active(pool: PoolId): number {
    return this.activeByPool.get(pool) ?? 0;
  }

  /** Renews an open session; false when there is none (expired, released or never opened). */
  renew(userId: string, sessionId: string, expiresAt: number): boolean {
    const cursor = this.sql.exec("UPDATE sessions SET expires_at = ? WHERE user_id = ? AND session_id = ?", expiresAt, userId, sessionId);
    return cursor.rowsWritten > 0;
  }

  /** Opens a new session. Returns true when it took a seat (the user's first session). */
  open(userId: string, sessionId: string, pool: PoolId, now: number, expiresAt: number): boolean {
    this.sql.exec(
      "INSERT INTO sessions (user_id, session_id, pool_id, started_at, expires_at) VALUES (?, ?, ?, ?, ?)",
      userId,
      sessionId,
      pool,
      now,
      expiresAt,
    );
    if (this.earliestExpiry === null || expiresAt < this.earliestExpiry) this.earliestExpiry = expiresAt;
    const holder = this.holders.get(userId);
    if (holder) {
      holder.sessions += 1;
      return false;
    }
    this.holders.set(userId, { pool, sessions: 1, since: now });
    this.activeByPool.set(pool, this.active(pool) + 1);
    return true;
  }

  /** Ends one session. Returns the pool whose seat it freed, or null (other sessions remain, or none existed). */
  end(userId: string, sessionId: string): PoolId | null {
    const cursor = this.sql.exec("DELETE FROM sessions WHERE user_id = ? AND session_id = ?", userId, sessionId);
    if (cursor.rowsWritten === 0) return null;
    const holder = this.holders.get(userId);
    if (!holder) return null;
    holder.sessions -= 1;
    if (holder.sessions > 0) return null;
    return this.free(userId, holder.pool);
  }

  /** Ends every session of a user. Returns the pool whose seat it freed, or null. */
  endAll(userId: string): PoolId | null {
    const holder = this.holders.get(userId);
    if (!holder) return null;
    this.sql.exec("DELETE FROM sessions WHERE user_id = ?", userId);
    return this.free(userId, holder.pool);
  }

  private free(userId: string, pool: PoolId): PoolId {
    this.holders.delete(userId);
    this.activeByPool.set(pool, this.active(pool) - 1);
    return pool;
  }

  /**
   * The user's sessions beyond `cap`, least recently renewed first (the earliest lease end), never
   * `keep`: the ones a new session pushes out.
   */
  beyondCap(userId: string, cap: number, keep: string): string[] {
    const holder = this.holders.get(userId);
    if (!holder || holder.sessions <= cap) return [];
    return this.sql
      .exec<{ session_id: string }>(
        "SELECT session_id FROM sessions WHERE user_id = ? AND session_id <> ? ORDER BY expires_at, session_id LIMIT ?",
        userId,
        keep,
        holder.sessions - cap,
      )
      .toArray()
      .map((r) => r.session_id);
  }

  /** Sessions whose lease ended at or before `now`, oldest first; empty (and no query) most of the time. */
  due(now: number): { user_id: string; session_id: string; expires_at: number }[] {
    if (this.earliestExpiry === null || now < this.earliestExpiry) return [];
    const rows = this.sql
      .exec<{ user_id: string; session_id: string; expires_at: number }>(
        "SELECT user_id, session_id, expires_at FROM sessions WHERE expires_at <= ? ORDER BY expires_at",
        now,
      )
      .toArray();
    return rows;
  }

  /** Call after processing `due`: re-reads the earliest expiry. */
  refreshExpiry(): number | null {
    this.earliestExpiry = this.minExpiry();
    return this.earliestExpiry;
  }

  private minExpiry(): number | null {
    return this.sql.exec<{ t: number | null }>("SELECT min(expires_at) AS t FROM sessions").one().t;
  }

  seats(pool: PoolId): SeatItem[] {
    return this.sql
      .exec<{ user_id: string; n: number; since: number; expires: number }>(
        `SELECT user_id, count(*) AS n, min(started_at) AS since, max(expires_at) AS expires
         FROM sessions WHERE pool_id = ? GROUP BY user_id ORDER BY since, user_id`,
        pool,
      )
      .toArray()
      .map((r) => ({
        user_id: r.user_id,
        sessions: r.n,
        since: new Date(r.since).toISOString(),
        expires_at: new Date(r.expires).toISOString(),
      }));
  }
}
