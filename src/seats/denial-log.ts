import {
  emptyByReason,
  minuteOf,
  minuteWindow,
  MINUTE_MS,
  onRefusal,
  TRUE_DENIAL_MS,
  trueDenial,
  type DenialPool,
  type DenialReason,
  type MinuteCounts,
  type UserMinute,
} from "../domain/denials";
import { iso } from "../time";

/** A user with no license counts under this pool id in SQLite (null in the API). */
const NONE = "";
/** Oldest rows go first beyond these (besides the usage log's retention): a flood cannot grow the store. */
export const MAX_USER_MINUTES = 200_000;
export const MAX_POOL_MINUTES = 500_000;
/** Inserts between two checks of the caps. */
const CAP_CHECK_EVERY = 1_000;

export interface DenialView {
  user_id: string;
  pool: string | null;
  at: string;
  reason: DenialReason;
  refusals: number;
  true_denial: boolean | null;
}

export interface PoolDenials {
  denials: number;
  users_denied: number;
}

const toSql = (pool: DenialPool) => pool ?? NONE;
const fromSql = (pool: string): DenialPool => (pool === NONE ? null : pool);

/**
 * Refused checkouts in the account object's SQLite (docs/licensing.md#denials): per pool, minute
 * and reason a count (`denial_counts`: the charts, summaries and `seat.denied`), and per user,
 * minute and pool the minute's last refusal and the first seat after it (`denial_users`: the
 * denials list and its true-denial flag, src/domain/denials.ts). Synchronous, like the seat book.
 */
export class DenialLog {
  /** Users refused in the last 5 minutes and when: a seat taken by anyone else costs one map lookup. */
  private readonly recent = new Map<string, number>();
  private inserted = 0;

  constructor(private readonly sql: SqlStorage, now: number) {
    for (const r of sql.exec<{ user_id: string; t: number }>("SELECT user_id, max(t) AS t FROM denial_users WHERE minute >= ? GROUP BY user_id", minuteOf(now - TRUE_DENIAL_MS))) {
      this.recent.set(r.user_id, r.t);
    }
  }

  /**
   * Counts one refusal. A `rate_limited` one counts at most once per user and minute (the edge
   * reports them coalesced, decision 141); returns false when it did not count.
   */
  record(user: string, pool: DenialPool, reason: DenialReason, t: number): boolean {
    const minute = minuteOf(t);
    const prev = this.sql
      .exec<{ t: number; reason: string; n: number; seated_at: number | null; rl: number }>(
        "SELECT t, reason, n, seated_at, rl FROM denial_users WHERE user_id = ? AND minute = ? AND pool_id = ?",
        user,
        minute,
        toSql(pool),
      )
      .toArray()[0];
    if (reason === "rate_limited" && prev?.rl === 1) return false;
    const prevRow: UserMinute | null = prev ? { user, pool, minute, t: prev.t, reason: prev.reason as DenialReason, n: prev.n, seated_at: prev.seated_at } : null;
    const row = onRefusal(prevRow, { user, pool, reason, t: Math.max(t, prev?.t ?? t) });
    this.sql.exec(
      `INSERT INTO denial_users (user_id, minute, pool_id, t, reason, n, seated_at, rl) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT(user_id, minute, pool_id) DO UPDATE SET t = excluded.t, reason = excluded.reason, n = excluded.n, seated_at = excluded.seated_at, rl = excluded.rl`,
      user,
      minute,
      toSql(pool),
      row.t,
      row.reason,
      row.n,
      row.seated_at,
      reason === "rate_limited" || prev?.rl === 1 ? 1 : 0,
    );
    this.sql.exec(
      `INSERT INTO denial_counts (pool_id, minute, reason, n) VALUES (?, ?, ?, 1)
       ON CONFLICT(pool_id, minute, reason) DO UPDATE SET n = n + 1`,
      toSql(pool),
      minute,
      reason,
    );
    this.recent.set(user, row.t);
    if (!prev && ++this.inserted % CAP_CHECK_EVERY === 0) this.enforceCaps();
    return true;
  }

  /** The user holds a seat at t: their refusals of the last 5 minutes without a seat since get one. */
  seated(user: string, t: number): void {
    const last = this.recent.get(user);
    if (last === undefined) return;
    this.recent.delete(user);
    if (t - last > TRUE_DENIAL_MS) return;
    this.sql.exec("UPDATE denial_users SET seated_at = ? WHERE user_id = ? AND seated_at IS NULL AND t >= ? AND t <= ? AND minute >= ?", t, user, t - TRUE_DENIAL_MS, t, minuteOf(t - TRUE_DENIAL_MS));
  }

  /** Per minute of the pool (null: no license), refusals in [from, to): the usage chart's `denied`. */
  perMinute(pool: DenialPool, from: number, to: number): { minute: number; n: number }[] {
    return this.sql
      .exec<{ minute: number; n: number }>(
        "SELECT minute, sum(n) AS n FROM denial_counts WHERE pool_id = ? AND minute > ? AND minute < ? GROUP BY minute ORDER BY minute",
        toSql(pool),
        from - MINUTE_MS,
        to,
      )
      .toArray();
  }

  /** Per pool (null: no license), refusals and distinct users refused in [from, to) at whole minutes. */
  totals(from: number, to: number): Map<DenialPool, PoolDenials> {
    const w = minuteWindow(from, to);
    const out = new Map<DenialPool, PoolDenials>();
    for (const r of this.sql.exec<{ pool_id: string; n: number; users: number }>(
      "SELECT pool_id, sum(n) AS n, count(DISTINCT user_id) AS users FROM denial_users WHERE minute >= ? AND minute < ? GROUP BY pool_id",
      w.from,
      w.to,
    )) {
      out.set(fromSql(r.pool_id), { denials: r.n, users_denied: r.users });
    }
    return out;
  }

  /**
   * A page of the denials list: per user (by id, after `after`), the last refusal in the window
   * under the pool filter (undefined: any pool), as `lastDenials` in src/domain/denials.ts reads it.
   */
  list(q: { from: number; to: number; pool?: DenialPool }, after: string | null, limit: number, now: number): { items: DenialView[]; next: string | null } {
    const w = minuteWindow(q.from, q.to);
    const byPool = q.pool !== undefined;
    const rows = this.sql
      .exec<{ user_id: string; pool_id: string; t: number; reason: string; seated_at: number | null; total: number }>(
        `SELECT user_id, pool_id, t, reason, seated_at, total FROM (
           SELECT user_id, pool_id, t, reason, seated_at,
                  sum(n) OVER (PARTITION BY user_id) AS total,
                  row_number() OVER (PARTITION BY user_id ORDER BY t DESC, pool_id DESC) AS rn
           FROM denial_users
           WHERE minute >= ? AND minute < ? AND (? = 0 OR pool_id = ?) AND user_id > ?
         ) WHERE rn = 1 ORDER BY user_id LIMIT ?`,
        w.from,
        w.to,
        byPool ? 1 : 0,
        byPool ? toSql(q.pool!) : NONE,
        after ?? "",
        limit + 1,
      )
      .toArray();
    const page = rows.slice(0, limit);
    return {
      items: page.map((r) => ({
        user_id: r.user_id,
        pool: fromSql(r.pool_id),
        at: iso(r.t),
        reason: r.reason as DenialReason,
        refusals: r.total,
        true_denial: trueDenial(r, now),
      })),
      next: rows.length > limit ? page[page.length - 1].user_id : null,
    };
  }

  /** Per pool, the counts of each whole minute in [from, to): what `seat.denied` events carry. */
  minutes(from: number, to: number): { pool: DenialPool; minute: number; counts: MinuteCounts }[] {
    const out = new Map<string, { pool: DenialPool; minute: number; counts: MinuteCounts }>();
    for (const r of this.sql.exec<{ pool_id: string; minute: number; reason: string; n: number }>(
      "SELECT pool_id, minute, reason, n FROM denial_counts WHERE minute >= ? AND minute < ? ORDER BY minute, pool_id",
      from,
      to,
    )) {
      const key = `${r.pool_id}\n${r.minute}`;
      let entry = out.get(key);
      if (!entry) out.set(key, (entry = { pool: fromSql(r.pool_id), minute: r.minute, counts: { denials: 0, users_denied: 0, by_reason: emptyByReason() } }));
      entry.counts.denials += r.n;
      entry.counts.by_reason[r.reason as DenialReason] = (entry.counts.by_reason[r.reason as DenialReason] ?? 0) + r.n;
    }
    for (const r of this.sql.exec<{ pool_id: string; minute: number; users: number }>(
      "SELECT pool_id, minute, count(DISTINCT user_id) AS users FROM denial_users WHERE minute >= ? AND minute < ? GROUP BY pool_id, minute",
      from,
      to,
    )) {
      const entry = out.get(`${r.pool_id}\n${r.minute}`);
      if (entry) entry.counts.users_denied = r.users;
    }
    return [...out.values()];
  }

  /** The first minute at or after `from` with a refusal, or null. */
  firstMinuteFrom(from: number): number | null {
    return this.sql.exec<{ m: number | null }>("SELECT min(minute) AS m FROM denial_counts WHERE minute >= ?", from).one().m;
  }

  /** With the usage log: rows before `before` go, then the oldest beyond the caps. */
  prune(before: number): void {
    this.sql.exec("DELETE FROM denial_users WHERE minute < ?", before);
    this.sql.exec("DELETE FROM denial_counts WHERE minute < ?", before);
    this.enforceCaps();
  }

  private enforceCaps(): void {
    for (const [table, cap] of [
      ["denial_users", MAX_USER_MINUTES],
      ["denial_counts", MAX_POOL_MINUTES],
    ] as const) {
      const n = this.sql.exec<{ n: number }>(`SELECT count(*) AS n FROM ${table}`).one().n;
      if (n <= cap) continue;
      const cut = this.sql.exec<{ m: number }>(`SELECT minute AS m FROM ${table} ORDER BY minute DESC LIMIT 1 OFFSET ?`, cap).one().m;
      this.sql.exec(`DELETE FROM ${table} WHERE minute <= ?`, cut);
    }
  }
}
