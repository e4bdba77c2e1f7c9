/**
 * Team caps and reservations in a concurrent pool (docs/licensing.md#teams), as pure functions on
 * plain data. The account's Durable Object holds the state and asks; the waitlist asks the same
 * question (`mayTakeSeat`) to decide which waiter may take a freed seat.
 *
 * - A team's `max_active` is a hard cap on the seats its members hold in the pool.
 * - A team's `reserve` is a number of seats under the pool's ceiling that only its members may
 *   take. A user may take a seat only while
 *   `active + unused reservations of the teams other than theirs < ceiling`; with no reservations
 *   that is the plain ceiling rule (`refuseSeat`).
 * - The reserves of a pool never add up to more than its ceiling, a team's reserve never exceeds its
 *   own cap, and a pool without a ceiling has no reservations (overage is soft there: there is
 *   nothing to reserve against).
 *
 * Kept by every admitted checkout (test/domain/teams.property.test.ts):
 * `active + Σ unused reserves <= ceiling` once it holds, so a team below its reserve (and its cap)
 * is always let in. An admin change can break it (a reservation set on a full pool): nobody is
 * evicted, and the reservation fills as seats free.
 */

import { parsePoolId, type PoolId } from "./catalog";
import { refuseSeat, type Refusal } from "./licenses";

/** A team name: the same pattern as SCIM's `team` attribute. */
export const TEAM_PATTERN = /^[A-Za-z0-9_.-]{1,64}$/;

/** Upper bound of a team's cap and reserve (the pool ceiling's own bound). */
export const TEAM_LIMIT_MAX = 1_000_000;

export interface TeamLimit {
  /** Hard cap on the seats the team's members hold in the pool; null: no cap. */
  maxActive: number | null;
  /** Seats under the pool's ceiling only the team's members may take (0: none). */
  reserve: number;
}

/** What the rules read about one pool at one moment. */
export interface TeamSeatState {
  pool: PoolId;
  /** The pool's `max_active`, or null. */
  ceiling: number | null;
  /** Seats in use in the pool. */
  active: number;
  /** team -> seats its members hold in the pool (teams with none may be absent). */
  activeByTeam: ReadonlyMap<string, number>;
  /** team -> its limits in the pool (a team without a row has none). */
  limits: ReadonlyMap<string, TeamLimit>;
}

const heldBy = (state: TeamSeatState, team: string) => state.activeByTeam.get(team) ?? 0;

/** Seats of `team`'s reservation its members do not use now. */
export function unusedReserve(state: TeamSeatState, team: string): number {
  return Math.max(0, (state.limits.get(team)?.reserve ?? 0) - heldBy(state, team));
}

/** The unused reservations of every team but `team` (every team, for a user without one). */
export function reservedForOthers(state: TeamSeatState, team: string | null): number {
  let sum = 0;
  for (const other of state.limits.keys()) if (other !== team) sum += unusedReserve(state, other);
  return sum;
}

/**
 * Why a user of `team` (null: no team) who holds no seat in the pool may not take one, or null.
 * A user who already holds a seat is never asked: another session of theirs takes no new seat.
 *
 * Precedence (docs/licensing.md#order-of-refusals): the team's own cap first (409
 * `team_at_ceiling`: no seat freed by another team would help), then the pool's ceiling with the
 * other teams' unused reservations counted as taken (409 `pool_at_ceiling`).
 */
export function mayTakeSeat(state: TeamSeatState, team: string | null): Refusal | null {
  if (team !== null) {
    const cap = state.limits.get(team)?.maxActive ?? null;
    const held = heldBy(state, team);
    if (cap !== null && held >= cap) {
      return {
        code: "team_at_ceiling",
        detail: `Team ${team} holds ${held} of its ${cap} seats in pool ${state.pool}.`,
        extra: { pool: state.pool, team, team_max_active: cap, team_active: held },
      };
    }
  }
  if (state.ceiling === null) return null;
  const reserved = reservedForOthers(state, team);
  if (reserved === 0) return refuseSeat(state.pool, state.ceiling, state.active);
  if (state.active + reserved < state.ceiling) return null;
  return {
    code: "pool_at_ceiling",
    detail: `Pool ${state.pool} is at its ceiling of ${state.ceiling} active seats: ${state.active} in use and ${reserved} reserved for other teams.`,
    extra: { pool: state.pool, max_active: state.ceiling, active: state.active, reserved },
  };
}

// ------------------------------------------------------------------ admin changes

const invalidField = (path: string, detail: string, message: string): Refusal => ({
  code: "invalid_request",
  detail,
  extra: { errors: [{ path, message }] },
});

const sumReserves = (limits: ReadonlyMap<string, TeamLimit>) => [...limits.values()].reduce((a, l) => a + l.reserve, 0);

/**
 * Why `team`'s limits in `pool` (ceiling `ceiling`, the other teams' limits in `limits`) may not
 * be set to `next`, or null. All 400: the request contradicts the pool's settings.
 */
export function refuseTeamLimit(pool: PoolId, ceiling: number | null, limits: ReadonlyMap<string, TeamLimit>, team: string, next: TeamLimit): Refusal | null {
  if (parsePoolId(pool)!.model === "named") {
    return invalidField("pool_id", `Team caps and reservations apply to concurrent pools only: named pool ${pool} assigns its seats to users.`, "a concurrent pool");
  }
  if (next.maxActive !== null && next.reserve > next.maxActive) {
    return invalidField("reserve", `Team ${team}'s reserve (${next.reserve}) exceeds its own max_active (${next.maxActive}).`, "at most max_active");
  }
  if (next.reserve > 0 && ceiling === null) {
    return invalidField("reserve", `Pool ${pool} has no max_active: without a ceiling there is nothing to reserve against (overage is soft). Set the pool's max_active first.`, "needs a pool ceiling");
  }
  const others = new Map(limits);
  others.delete(team);
  const total = sumReserves(others) + next.reserve;
  if (ceiling !== null && total > ceiling) {
    return invalidField("reserve", `The reserves of pool ${pool} would add up to ${total}, above its max_active of ${ceiling}.`, `the pool's reserves may add up to at most ${ceiling}`);
  }
  return null;
}

/**
 * Why a pool's ceiling may not become `ceiling` given its teams' limits, or null: reservations
 * must still fit under it, and a pool with reservations keeps a ceiling (lower or delete the
 * reservations first).
 */
export function refuseCeiling(pool: PoolId, ceiling: number | null, limits: ReadonlyMap<string, TeamLimit>): Refusal | null {
  const total = sumReserves(limits);
  if (total === 0) return null;
  if (ceiling === null) {
    return invalidField("max_active", `Pool ${pool} has team reservations adding up to ${total}: it keeps a ceiling. Delete the reservations first.`, "needed by team reservations");
  }
  if (ceiling < total) {
    return invalidField("max_active", `Pool ${pool} has team reservations adding up to ${total}: max_active may not go below it. Lower the reservations first.`, `at least ${total}`);
  }
  return null;
}
