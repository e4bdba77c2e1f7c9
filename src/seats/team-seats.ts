import type { PoolId } from "../domain/catalog";
import { refuseSeat, type Refusal } from "../domain/licenses";
import { mayTakeSeat, refuseTeamLimit, unusedReserve, type TeamLimit, type TeamSeatState } from "../domain/teams";
import { existingUsers } from "../db/roster-writes";
import { deletePoolTeam, setUserTeams as writeUserTeams, upsertPoolTeam } from "../db/teams";
import { ApiError, fail, notFound, ok, type Result } from "../errors";
import type { House } from "./house";
import { refusalError } from "./refusal";
import type { Roster } from "./roster";
import type { SeatBook } from "./seat-book";

/** A team's limits in a pool as the API shows them, with its live figures. */
export interface TeamLimitView {
  team: string;
  max_active: number | null;
  reserve: number;
  /** Seats the team's members hold in the pool now. */
  active: number;
  /** Seats of the reservation its members do not use now. */
  unused_reserve: number;
}

/**
 * The team rules' view of a pool now: its ceiling, seats in use, per team seats held (the users'
 * current teams) and limits. One pass over the seat holders.
 */
export function teamSeatState(roster: Roster, seats: SeatBook, pool: PoolId): TeamSeatState {
  const activeByTeam = new Map<string, number>();
  for (const [userId, holder] of seats.holders) {
    if (holder.pool !== pool) continue;
    const team = roster.teamOf(userId);
    if (team !== undefined) activeByTeam.set(team, (activeByTeam.get(team) ?? 0) + 1);
  }
  return { pool, ceiling: roster.pools.get(pool)?.maxActive ?? null, active: seats.active(pool), activeByTeam, limits: roster.limitsOf(pool) };
}

/**
 * Why `userId`, who holds no seat, may not take one in `pool` now, or null: the checkout's (and
 * the waitlist's) one question. Without team limits in the pool it is the plain ceiling rule.
 */
export function refuseSeatFor(roster: Roster, seats: SeatBook, pool: PoolId, userId: string): Refusal | null {
  // No team limits in the pool: the plain ceiling, without a pass over the holders.
  if (roster.limitsOf(pool).size === 0) return refuseSeat(pool, roster.pools.get(pool)?.maxActive ?? null, seats.active(pool));
  return mayTakeSeat(teamSeatState(roster, seats, pool), roster.teamOf(userId) ?? null);
}

/*
 * The admin side of teams (docs/licensing.md#teams): limits per pool and team, and users' teams.
 * Writes go through the one admin sequence (./admin-write.ts); reads answer from memory.
 */

export function listTeams(h: House, pool: PoolId): Result<TeamLimitView[]> {
  if (!h.roster.pools.has(pool)) return fail(notFound(`Pool ${pool}`));
  const state = teamSeatState(h.roster, h.seats, pool);
  return ok([...state.limits.keys()].sort().map((team) => viewOf(state, team)));
}

export function getTeam(h: House, pool: PoolId, team: string): Result<TeamLimitView> {
  if (!h.roster.pools.has(pool)) return fail(notFound(`Pool ${pool}`));
  const state = teamSeatState(h.roster, h.seats, pool);
  if (!state.limits.has(team)) return fail(notFound(`Team ${team} in pool ${pool}`));
  return ok(viewOf(state, team));
}

/** Sets a team's limits; omitted fields keep their value (a new team: no cap, no reserve). */
export function putTeam(h: House, pool: PoolId, team: string, patch: { max_active?: number | null; reserve?: number }, actor: string): Promise<Result<TeamLimitView>> {
  return h.admin.run(actor, (_now, at) => {
    const settings = h.roster.pools.get(pool);
    if (!settings) return fail(notFound(`Pool ${pool}`));
    const limits = h.roster.limitsOf(pool);
    const before = limits.get(team) ?? null;
    const next: TeamLimit = {
      maxActive: patch.max_active === undefined ? (before?.maxActive ?? null) : patch.max_active,
      reserve: patch.reserve ?? before?.reserve ?? 0,
    };
    const refusal = refuseTeamLimit(pool, settings.maxActive, limits, team, next);
    if (refusal) return fail(refusalError(refusal));
    return {
      writes: [upsertPoolTeam(h.db, h.accountId, pool, team, next.maxActive, next.reserve, at)],
      audit: [
        {
          action: before ? "pool_team.update" : "pool_team.create",
          target: `${pool}/${team}`,
          detail: { pool, team, max_active: next.maxActive, reserve: next.reserve, previous: before ? { max_active: before.maxActive, reserve: before.reserve } : null },
        },
      ],
      apply: () => {
        h.roster.setTeamLimit(pool, team, next);
        return viewOf(teamSeatState(h.roster, h.seats, pool), team);
      },
    };
  });
}

/** Removes a team's limits in the pool (nothing to do when it has none). */
export function deleteTeam(h: House, pool: PoolId, team: string, actor: string): Promise<Result<null>> {
  return h.admin.run(actor, () => {
    if (!h.roster.pools.has(pool)) return fail(notFound(`Pool ${pool}`));
    const before = h.roster.limitsOf(pool).get(team);
    if (!before) return ok(null);
    return {
      writes: [deletePoolTeam(h.db, h.accountId, pool, team)],
      audit: [{ action: "pool_team.delete", target: `${pool}/${team}`, detail: { pool, team, max_active: before.maxActive, reserve: before.reserve } }],
      apply: () => {
        h.roster.setTeamLimit(pool, team, null);
        return null;
      },
    };
  });
}

/**
 * Sets the teams of many users at once (null clears), all or nothing: every user must exist.
 * Nobody's seat is taken away: a member who holds a seat counts in the new team from now on.
 */
export function setUserTeams(h: House, items: readonly { user_id: string; team: string | null }[], actor: string): Promise<Result<{ updated: number }>> {
  return h.admin.run(actor, async (now) => {
    const known = await existingUsers(h.db, h.accountId, items.map((i) => i.user_id));
    const unknown = items.find((i) => !known.has(i.user_id));
    if (unknown) return fail(new ApiError("not_found", `User ${unknown.user_id} was not found.`, { user_id: unknown.user_id }));
    const changed = items.filter((i) => (h.roster.teamOf(i.user_id) ?? null) !== i.team);
    if (changed.length === 0) return ok({ updated: 0 });
    return {
      writes: [writeUserTeams(h.accountId, changed)],
      audit: changed.map((i) => ({ action: "user.team", target: i.user_id, detail: { team: i.team, previous: h.roster.teamOf(i.user_id) ?? null } })),
      apply: () => {
        for (const i of changed) teamChanged(h, i.user_id, i.team, now);
        return { updated: changed.length };
      },
    };
  });
}

/** A user's team changed in D1 (admin API or SCIM): the roster learns it. */
export function teamChanged(h: House, userId: string, team: string | null, _now: number): void {
  h.roster.setTeam(userId, team);
}

function viewOf(state: TeamSeatState, team: string): TeamLimitView {
  const limit = state.limits.get(team)!;
  return {
    team,
    max_active: limit.maxActive,
    reserve: limit.reserve,
    active: state.activeByTeam.get(team) ?? 0,
    unused_reserve: unusedReserve(state, team),
  };
}
