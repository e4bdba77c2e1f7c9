import { isAddonProduct, isPoolId, type AddonProduct, type PerSeatProduct, type PoolId } from "../domain/catalog";
import { parseAlerts, Roster, type AccountSettings, type PoolSettings, type RosterSink } from "./roster";
import { CopyUsers } from "./roster-users";
import { deleteMeta, readMeta, writeMeta } from "./sqlite-schema";
import type { TeamLimit } from "../domain/teams";

/**
 * The roster's copy in the object's own SQLite, with the D1 `roster_version` it reflects
 * (docs/architecture.md#waking-and-the-roster-copy). D1 stays the system of record: the copy is
 * written with every change the object applies (the roster's sink, in the same transaction as the
 * object's own state) and replaced whole after every read from D1. A waking object reads this
 * instead of D1; whether D1 moved on meanwhile is checked in the background (./roster-sync.ts).
 */
export class RosterCopy implements RosterSink {
  constructor(private readonly sql: SqlStorage) {}

  /** The D1 roster_version this copy reflects; null when there is no copy (an object from before it, or no account yet). */
  version(): number | null {
    const v = readMeta(this.sql, "roster_version");
    return v === null ? null : Number(v);
  }

  /** Written with the change that produced it, so copy and version never disagree. */
  setVersion(version: number): void {
    writeMeta(this.sql, "roster_version", String(version));
  }

  /**
   * The roster as the copy holds it, writing through to the copy from now on. Only the account-wide
   * rows are read here; users are read by key until something needs them all (./roster-users.ts).
   */
  load(): Roster {
    const roster = new Roster(new CopyUsers(this.sql));
    roster.exists = true;
    roster.version = this.version() ?? 0;
    roster.settings = JSON.parse(readMeta(this.sql, "roster_settings") ?? "null") ?? roster.settings;
    for (const p of this.sql.exec<{ pool_id: string; quantity: number; max_active: number | null; alerts: string | null }>("SELECT pool_id, quantity, max_active, alerts FROM roster_pools")) {
      if (isPoolId(p.pool_id)) roster.setPool(p.pool_id, { quantity: p.quantity, maxActive: p.max_active, alerts: parseAlerts(p.alerts) });
    }
    for (const p of this.sql.exec<{ product: string; quantity: number }>("SELECT product, quantity FROM roster_purchases")) {
      if (isAddonProduct(p.product)) roster.purchased.set(p.product, p.quantity);
    }
    for (const t of this.sql.exec<{ pool_id: string; team: string; max_active: number | null; reserve: number }>("SELECT pool_id, team, max_active, reserve FROM roster_team_limits")) {
      if (isPoolId(t.pool_id)) roster.setTeamLimit(t.pool_id, t.team, { maxActive: t.max_active, reserve: t.reserve });
    }
    roster.sink = this;
    return roster;
  }

  /** Replaces the copy by a roster just read from D1 (none for an account D1 does not hold), and writes through from now on. */
  replace(roster: Roster): void {
    this.sql.exec("DELETE FROM roster_pools");
    this.sql.exec("DELETE FROM roster_licenses");
    this.sql.exec("DELETE FROM roster_assignments");
    this.sql.exec("DELETE FROM roster_purchases");
    this.sql.exec("DELETE FROM roster_teams");
    this.sql.exec("DELETE FROM roster_team_limits");
    if (!roster.exists) {
      deleteMeta(this.sql, "roster_version");
      deleteMeta(this.sql, "roster_settings");
      roster.sink = null;
      return;
    }
    const users = roster.state();
    for (const [pool, s] of roster.pools) this.pool(pool, s);
    // One statement per table however many users (json_each), so a large account's copy is written fast.
    this.sql.exec(
      "INSERT INTO roster_licenses (user_id, pool_id) SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]') FROM json_each(?)",
      JSON.stringify([...users.licenses]),
    );
    const assignments = [...users.assignments].flatMap(([userId, products]) => [...products].map(([product, seq]) => [userId, product, seq]));
    this.sql.exec(
      "INSERT INTO roster_assignments (user_id, product, seq) SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]'), json_extract(value, '$[2]') FROM json_each(?)",
      JSON.stringify(assignments),
    );
    for (const [product, quantity] of roster.purchased) this.purchase(product, quantity);
    this.sql.exec(
      "INSERT INTO roster_teams (user_id, team) SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]') FROM json_each(?)",
      JSON.stringify([...users.teamOf]),
    );
    for (const [pool, limits] of roster.teamLimits) for (const [team, limit] of limits) this.teamLimit(pool, team, limit);
    this.settings(roster.settings);
    this.setVersion(roster.version);
    roster.sink = this;
  }

  pool(pool: PoolId, s: PoolSettings): void {
    this.sql.exec(
      "INSERT INTO roster_pools (pool_id, quantity, max_active, alerts) VALUES (?, ?, ?, ?) ON CONFLICT(pool_id) DO UPDATE SET quantity = excluded.quantity, max_active = excluded.max_active, alerts = excluded.alerts",
      pool,
      s.quantity,
      s.maxActive,
      s.alerts === undefined ? null : JSON.stringify(s.alerts),
    );
  }

  license(userId: string, pool: PoolId | null): void {
    if (pool) {
      this.sql.exec("INSERT INTO roster_licenses (user_id, pool_id) VALUES (?, ?) ON CONFLICT(user_id) DO UPDATE SET pool_id = excluded.pool_id", userId, pool);
      return;
    }
    this.sql.exec("DELETE FROM roster_licenses WHERE user_id = ?", userId);
    this.sql.exec("DELETE FROM roster_assignments WHERE user_id = ?", userId);
  }

  assignment(userId: string, product: PerSeatProduct, seq: number | null): void {
    if (seq === null) this.sql.exec("DELETE FROM roster_assignments WHERE user_id = ? AND product = ?", userId, product);
    else this.sql.exec("INSERT INTO roster_assignments (user_id, product, seq) VALUES (?, ?, ?) ON CONFLICT DO UPDATE SET seq = excluded.seq", userId, product, seq);
  }

  purchase(product: AddonProduct, quantity: number): void {
    this.sql.exec("INSERT INTO roster_purchases (product, quantity) VALUES (?, ?) ON CONFLICT(product) DO UPDATE SET quantity = excluded.quantity", product, quantity);
  }

  settings(settings: AccountSettings): void {
    writeMeta(this.sql, "roster_settings", JSON.stringify(settings));
  }

  team(userId: string, team: string | null): void {
    if (team === null) this.sql.exec("DELETE FROM roster_teams WHERE user_id = ?", userId);
    else this.sql.exec("INSERT INTO roster_teams (user_id, team) VALUES (?, ?) ON CONFLICT(user_id) DO UPDATE SET team = excluded.team", userId, team);
  }

  teamLimit(pool: PoolId, team: string, limit: TeamLimit | null): void {
    if (limit === null) this.sql.exec("DELETE FROM roster_team_limits WHERE pool_id = ? AND team = ?", pool, team);
    else {
      this.sql.exec(
        "INSERT INTO roster_team_limits (pool_id, team, max_active, reserve) VALUES (?, ?, ?, ?) ON CONFLICT(pool_id, team) DO UPDATE SET max_active = excluded.max_active, reserve = excluded.reserve",
        pool,
        team,
        limit.maxActive,
        limit.reserve,
      );
    }
  }
}
