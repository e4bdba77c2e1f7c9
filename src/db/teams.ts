import { and, eq, sql } from "drizzle-orm";
import type { PoolId } from "../domain/catalog";
import type { Db } from "./client";
import { poolTeams, users } from "./schema";

/**
 * Teams in D1 (docs/licensing.md#teams): the users' `team` column and the per pool and team
 * limits. Writes return statements for one `writeBatch` with their audit entries.
 */

export function upsertPoolTeam(db: Db, accountId: string, pool: PoolId, team: string, maxActive: number | null, reserve: number, at: string) {
  return db
    .insert(poolTeams)
    .values({ accountId, poolId: pool, team, maxActive, reserve, updatedAt: at })
    .onConflictDoUpdate({ target: [poolTeams.accountId, poolTeams.poolId, poolTeams.team], set: { maxActive, reserve, updatedAt: at } });
}

export function deletePoolTeam(db: Db, accountId: string, pool: PoolId, team: string) {
  return db.delete(poolTeams).where(and(eq(poolTeams.accountId, accountId), eq(poolTeams.poolId, pool), eq(poolTeams.team, team)));
}

/** Many users' teams in one statement (null clears); D1 binds at most 100 parameters, so json_each. */
export function setUserTeams(accountId: string, items: readonly { user_id: string; team: string | null }[]) {
  const json = JSON.stringify(items);
  return sql`UPDATE users SET team = (SELECT json_extract(value, '$.team') FROM json_each(${json}) WHERE json_extract(value, '$.user_id') = users.id)
             WHERE account_id = ${accountId} AND id IN (SELECT json_extract(value, '$.user_id') FROM json_each(${json}))`;
}

/** The roster's part of teams: users who have one (index users_team) and the limits. */
export function teamQueries(db: Db, accountId: string) {
  return [
    db
      .select({ id: users.id, team: users.team })
      .from(users)
      .where(and(eq(users.accountId, accountId), sql`${users.team} IS NOT NULL`)),
    db.select().from(poolTeams).where(eq(poolTeams.accountId, accountId)),
  ] as const;
}
