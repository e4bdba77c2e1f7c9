/** The worked examples of docs/licensing.md#teams. */
import { describe, expect, it } from "vitest";
import { mayTakeSeat, refuseCeiling, refuseTeamLimit, type TeamLimit, type TeamSeatState } from "../../src/domain/teams";

const pool = "elite-concurrent" as const;

function state(active: number, held: Record<string, number>, limits: Record<string, TeamLimit>, ceiling: number | null = 10): TeamSeatState {
  return { pool, ceiling, active, activeByTeam: new Map(Object.entries(held)), limits: new Map(Object.entries(limits)) };
}

describe("the floor of docs/licensing.md#teams: ceiling 10, billing holds 3, collections capped at 4", () => {
  const limits = { billing: { maxActive: null, reserve: 3 }, collections: { maxActive: 4, reserve: 0 } };

  it("with 6 seats in use, one by billing, a user without a team gets in: 6 + 2 unused reserved < 10", () => {
    expect(mayTakeSeat(state(6, { billing: 1 }, limits), null)).toBeNull();
  });

  it("with 8 in use, one by billing, outsiders are refused (8 + 2 reserved = 10) and billing is not", () => {
    const s = state(8, { billing: 1, collections: 2 }, limits);
    expect(mayTakeSeat(s, null)).toMatchObject({ code: "pool_at_ceiling", extra: { reserved: 2, active: 8, max_active: 10 } });
    expect(mayTakeSeat(s, "collections")).toMatchObject({ code: "pool_at_ceiling" });
    expect(mayTakeSeat(s, "billing")).toBeNull();
  });

  it("once billing holds its 3, the last seat is anyone's, and the ceiling holds for billing too", () => {
    expect(mayTakeSeat(state(9, { billing: 3 }, limits), null)).toBeNull();
    expect(mayTakeSeat(state(10, { billing: 3 }, limits), "billing")).toMatchObject({ code: "pool_at_ceiling" });
  });

  it("collections at its cap of 4 is refused with team_at_ceiling, before the pool's ceiling", () => {
    expect(mayTakeSeat(state(5, { collections: 4 }, limits), "collections")).toMatchObject({
      code: "team_at_ceiling",
      extra: { team: "collections", team_max_active: 4, team_active: 4 },
    });
    expect(mayTakeSeat(state(10, { collections: 4 }, limits), "collections")?.code).toBe("team_at_ceiling");
  });

  it("without reservations the plain ceiling answers, unchanged", () => {
    expect(mayTakeSeat(state(10, {}, {}), "x")).toEqual({
      code: "pool_at_ceiling",
      detail: "Pool elite-concurrent is at its ceiling of 10 active seats.",
      extra: { pool: "elite-concurrent", max_active: 10, active: 10 },
    });
    expect(mayTakeSeat(state(50, {}, { x: { maxActive: 60, reserve: 0 } }, null), "x")).toBeNull();
  });

  it("a team cap holds in a pool without a ceiling", () => {
    expect(mayTakeSeat(state(50, { x: 2 }, { x: { maxActive: 2, reserve: 0 } }, null), "x")?.code).toBe("team_at_ceiling");
  });
});

describe("admin changes", () => {
  const limits = new Map<string, TeamLimit>([["billing", { maxActive: null, reserve: 3 }]]);

  it("reserves add up to at most the ceiling", () => {
    expect(refuseTeamLimit(pool, 10, limits, "sales", { maxActive: null, reserve: 7 })).toBeNull();
    expect(refuseTeamLimit(pool, 10, limits, "sales", { maxActive: null, reserve: 8 })).toMatchObject({ code: "invalid_request", extra: { errors: [{ path: "reserve" }] } });
    // Changing billing's own reserve does not count its old one.
    expect(refuseTeamLimit(pool, 10, limits, "billing", { maxActive: null, reserve: 10 })).toBeNull();
  });

  it("a reserve needs a pool ceiling and fits under the team's own cap", () => {
    expect(refuseTeamLimit(pool, null, new Map(), "sales", { maxActive: null, reserve: 1 })?.code).toBe("invalid_request");
    expect(refuseTeamLimit(pool, null, new Map(), "sales", { maxActive: 5, reserve: 0 })).toBeNull();
    expect(refuseTeamLimit(pool, 10, new Map(), "sales", { maxActive: 2, reserve: 3 })?.code).toBe("invalid_request");
  });

  it("named pools take no team limits", () => {
    expect(refuseTeamLimit("elite-named", null, new Map(), "sales", { maxActive: 5, reserve: 0 })).toMatchObject({ extra: { errors: [{ path: "pool_id" }] } });
  });

  it("the pool's ceiling may not go below the reserves, nor away", () => {
    expect(refuseCeiling(pool, 3, limits)).toBeNull();
    expect(refuseCeiling(pool, 2, limits)).toMatchObject({ code: "invalid_request", extra: { errors: [{ path: "max_active" }] } });
    expect(refuseCeiling(pool, null, limits)?.code).toBe("invalid_request");
    expect(refuseCeiling(pool, null, new Map([["x", { maxActive: 4, reserve: 0 }]]))).toBeNull();
  });
});
