import type { PoolId } from "../domain/catalog";
import type { TeamHold } from "../domain/chargeback";
import { readMeta, writeMeta } from "./sqlite-schema";

/**
 * The seat-hold log (docs/licensing.md#who-counted): one row per time a user held a seat in a
 * pool, `[from_t, to_t)`, `to_t` NULL while it is held. Written in the same synchronous turn as
 * the usage step of the same change, so the two always agree; pruned with the step log.
 *
 * A seat belongs to a user (decision 018), so a user's holds in a pool never overlap: (pool,
 * user, from) identifies a hold, and a hold that lasted no time is not kept.
 */
export class HoldLog {
  /** The longest closed hold so far (an upper bound): an overlap query reads only from `a - longest` on. */
  private longest: number;

  constructor(private readonly sql: SqlStorage) {
    this.longest = Number(readMeta(sql, "hold_longest_ms") ?? 0);
  }

  /** `team`: the user's team now (null: none), kept with the hold so a later move does not rewrite history. */
  open(userId: string, pool: PoolId, t: number, team: string | null): void {
    this.sql.exec("INSERT OR IGNORE INTO holds (pool_id, user_id, from_t, to_t, team) VALUES (?, ?, ?, NULL, ?)", pool, userId, t, team);
  }

  close(userId: string, pool: PoolId, t: number): void {
    const row = this.sql
      .exec<{ from_t: number }>("SELECT from_t FROM holds WHERE pool_id = ? AND user_id = ? AND to_t IS NULL", pool, userId)
      .toArray()[0];
    if (!row) return;
    if (t <= row.from_t) {
      this.sql.exec("DELETE FROM holds WHERE pool_id = ? AND user_id = ? AND to_t IS NULL", pool, userId);
      return;
    }
    this.sql.exec("UPDATE holds SET to_t = ? WHERE pool_id = ? AND user_id = ? AND to_t IS NULL", t, pool, userId);
    if (t - row.from_t > this.longest) {
      this.longest = t - row.from_t;
      writeMeta(this.sql, "hold_longest_ms", String(this.longest));
    }
  }

  /**
   * The pool's holds that overlap [from, to) for a positive length, ordered by (from, user), after
   * the key `after` when given; streamed.
   */
  *overlapping(pool: PoolId, from: number, to: number, after: readonly [number, string] | null = null): Generator<TeamHold> {
    const [afterT, afterUser] = after ?? [Number.MIN_SAFE_INTEGER, ""];
    const rows = this.sql.exec<{ user_id: string; from_t: number; to_t: number | null; team: string | null }>(
      `SELECT user_id, from_t, to_t, team FROM holds
       WHERE pool_id = ? AND from_t < ? AND from_t >= ? AND (to_t IS NULL OR to_t > ?)
         AND (from_t > ? OR (from_t = ? AND user_id > ?))
       ORDER BY from_t, user_id`,
      pool,
      to,
      // Closed holds overlapping [from, …) began after from - longest; open ones are held now, so
      // they began after every closed one that could matter or are found by the second branch.
      Math.min(from - this.longest - 1, this.oldestOpen(pool, from)),
      from,
      afterT,
      afterT,
      afterUser,
    );
    for (const r of rows) yield { user_id: r.user_id, from: r.from_t, to: r.to_t, team: r.team };
  }

  /** The earliest start of a hold still open in the pool, bounded above by `cap`. */
  private oldestOpen(pool: PoolId, cap: number): number {
    const t = this.sql.exec<{ t: number | null }>("SELECT min(from_t) AS t FROM holds WHERE pool_id = ? AND to_t IS NULL", pool).one().t;
    return t === null ? cap : Math.min(t, cap);
  }

  /** Forgets holds that ended before `before` (the step log's retention); open ones stay. */
  prune(before: number): void {
    this.sql.exec("DELETE FROM holds WHERE to_t IS NOT NULL AND to_t < ?", before);
  }
}
