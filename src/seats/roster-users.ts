import { isPerSeatProduct, isPoolId, type PerSeatProduct, type PoolId } from "../domain/catalog";

/**
 * The per-user part of the roster (docs/architecture.md#waking-and-the-roster-copy): every user's
 * license, add-on assignments and team. In memory as maps once something needs every user (an
 * admin decision, a report); until then a woken object answers the agent path's questions by key
 * from its SQLite copy (`CopyUsers`), so its first checkout does not read every user.
 */
export interface UserMaps {
  licenses: Map<string, PoolId>;
  /** user -> product -> assignment order (seq) */
  assignments: Map<string, Map<PerSeatProduct, number>>;
  /** user -> team, for users who have one */
  teamOf: Map<string, string>;
  /** pool -> users holding a license in it */
  assignedCount: Map<PoolId, number>;
  /** The last assignment seq handed out: seqs grow strictly so order is total. */
  lastSeq: number;
}

export const emptyUserMaps = (): UserMaps => ({ licenses: new Map(), assignments: new Map(), teamOf: new Map(), assignedCount: new Map(), lastSeq: 0 });

/** What the roster asks about users while they are not in memory. */
export interface UserLookups {
  license(userId: string): PoolId | undefined;
  assignments(userId: string): ReadonlyMap<PerSeatProduct, number> | undefined;
  team(userId: string): string | undefined;
  /** `GrantLookup.earlierInPool` (src/domain/addons.ts). */
  earlierInPool(pool: PoolId, product: PerSeatProduct, user: string, order: number, atMost: number): number;
  assigned(pool: PoolId): number;
  /** Every user, into memory. */
  all(): UserMaps;
}

/**
 * Users read by key from the copy's tables (primary keys and the indexes of src/seats/sqlite-schema.ts),
 * each answer kept: the roster uses these only until it loads every user, and every change of a user
 * loads them first (src/seats/roster.ts), so a kept answer never goes stale.
 */
export class CopyUsers implements UserLookups {
  private readonly licenses = new Map<string, PoolId | undefined>();
  private readonly teams = new Map<string, string | undefined>();
  private readonly products = new Map<string, ReadonlyMap<PerSeatProduct, number> | undefined>();
  private counts: Map<PoolId, number> | null = null;

  constructor(private readonly sql: SqlStorage) {}

  license(userId: string): PoolId | undefined {
    return kept(this.licenses, userId, () => {
      const pool = this.sql.exec<{ pool_id: string }>("SELECT pool_id FROM roster_licenses WHERE user_id = ?", userId).toArray()[0]?.pool_id;
      return pool !== undefined && isPoolId(pool) ? pool : undefined;
    });
  }

  team(userId: string): string | undefined {
    return kept(this.teams, userId, () => this.sql.exec<{ team: string }>("SELECT team FROM roster_teams WHERE user_id = ?", userId).toArray()[0]?.team);
  }

  assignments(userId: string): ReadonlyMap<PerSeatProduct, number> | undefined {
    return kept(this.products, userId, () => {
      const mine = new Map<PerSeatProduct, number>();
      for (const r of this.sql.exec<{ product: string; seq: number }>("SELECT product, seq FROM roster_assignments WHERE user_id = ?", userId)) {
        if (isPerSeatProduct(r.product)) mine.set(r.product, r.seq);
      }
      return mine.size > 0 ? mine : undefined;
    });
  }

  /**
   * One range of the `roster_assignments_order` index (product, seq, user id), stopped after
   * `atMost` rows: at most a pool's quantity rows, however many users the account has. User ids
   * are ASCII (the API's id pattern), so SQLite's byte order is JavaScript's string order.
   */
  earlierInPool(pool: PoolId, product: PerSeatProduct, user: string, order: number, atMost: number): number {
    if (atMost <= 0) return 0;
    return this.sql
      .exec<{ n: number }>(
        `SELECT count(*) AS n FROM (
           SELECT 1 FROM roster_assignments a JOIN roster_licenses l ON l.user_id = a.user_id
           WHERE a.product = ? AND l.pool_id = ? AND a.user_id <> ? AND (a.seq < ? OR (a.seq = ? AND a.user_id < ?))
           LIMIT ?)`,
        product,
        pool,
        user,
        order,
        order,
        user,
        atMost,
      )
      .one().n;
  }

  /** Licenses per pool: one pass over the `roster_licenses_pool` index, the first time a pool view asks. */
  assigned(pool: PoolId): number {
    if (!this.counts) {
      this.counts = new Map();
      for (const r of this.sql.exec<{ pool_id: string; n: number }>("SELECT pool_id, count(*) AS n FROM roster_licenses GROUP BY pool_id")) {
        if (isPoolId(r.pool_id)) this.counts.set(r.pool_id, r.n);
      }
    }
    return this.counts.get(pool) ?? 0;
  }

  /** Every user; large lists come back as one JSON array per pool, product or team. */
  all(): UserMaps {
    const m = emptyUserMaps();
    for (const r of this.sql.exec<{ pool_id: string; users: string }>("SELECT pool_id, json_group_array(user_id) AS users FROM roster_licenses GROUP BY pool_id")) {
      if (!isPoolId(r.pool_id)) continue;
      const users = JSON.parse(r.users) as string[];
      for (const userId of users) m.licenses.set(userId, r.pool_id);
      m.assignedCount.set(r.pool_id, users.length);
    }
    for (const r of this.sql.exec<{ product: string; rows: string }>("SELECT product, json_group_array(json_array(user_id, seq)) AS rows FROM roster_assignments GROUP BY product")) {
      if (!isPerSeatProduct(r.product)) continue;
      for (const [userId, seq] of JSON.parse(r.rows) as [string, number][]) {
        let mine = m.assignments.get(userId);
        if (!mine) m.assignments.set(userId, (mine = new Map()));
        mine.set(r.product, seq);
        m.lastSeq = Math.max(m.lastSeq, seq);
      }
    }
    for (const r of this.sql.exec<{ team: string; users: string }>("SELECT team, json_group_array(user_id) AS users FROM roster_teams GROUP BY team")) {
      for (const userId of JSON.parse(r.users) as string[]) m.teamOf.set(userId, r.team);
    }
    return m;
  }
}

function kept<V>(memo: Map<string, V>, key: string, read: () => V): V {
  if (memo.has(key)) return memo.get(key) as V;
  const value = read();
  memo.set(key, value);
  return value;
}
