/**
 * Team caps and reservations (docs/licensing.md#teams) against plain references:
 * - `mayTakeSeat` against a simulation that gives the seat, then lets every other team fill its
 *   reservation member by member and checks the pool still fits under its ceiling;
 * - random checkout/release runs from an empty pool with valid limits: no team ever passes its
 *   cap, the pool never passes its ceiling, no reservation is ever eaten, and a team below its
 *   reserve and its cap is always let in;
 * - `refuseTeamLimit` / `refuseCeiling` against the validity of the configuration they leave.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { PoolId } from "../../src/domain/catalog";
import { mayTakeSeat, refuseCeiling, refuseTeamLimit, type TeamLimit, type TeamSeatState } from "../../src/domain/teams";

const TEAMS = ["a", "b", "c"];
const POOL: PoolId = "elite-concurrent";

const limit: fc.Arbitrary<TeamLimit> = fc
  .record({ maxActive: fc.option(fc.integer({ min: 0, max: 6 }), { nil: null }), reserve: fc.integer({ min: 0, max: 6 }) })
  .map((l) => (l.maxActive !== null && l.reserve > l.maxActive ? { ...l, reserve: l.maxActive } : l));

const limits = fc.dictionary(fc.constantFrom(...TEAMS), limit, { maxKeys: TEAMS.length }).map((d) => new Map(Object.entries(d)));
const userTeam = fc.option(fc.constantFrom(...TEAMS, "d"), { nil: null });

/** Any state, also ones an admin change left inconsistent (a reservation set on a full pool). */
const anyState: fc.Arbitrary<TeamSeatState> = fc
  .record({
    ceiling: fc.option(fc.integer({ min: 0, max: 12 }), { nil: null }),
    limits,
    held: fc.record({ a: fc.nat(6), b: fc.nat(6), c: fc.nat(6), d: fc.nat(6) }),
    noTeam: fc.nat(6),
  })
  .map(({ ceiling, limits, held, noTeam }) => ({
    pool: POOL,
    ceiling,
    limits,
    activeByTeam: new Map(Object.entries(held)),
    active: Object.values(held).reduce((a, b) => a + b, 0) + noTeam,
  }));

// ------------------------------------------------------------------ the reference, written out plainly

type Verdict = "ok" | "team_at_ceiling" | "pool_at_ceiling";

function reference(s: TeamSeatState, team: string | null): Verdict {
  if (team !== null) {
    const cap = s.limits.get(team)?.maxActive;
    if (cap !== undefined && cap !== null && (s.activeByTeam.get(team) ?? 0) >= cap) return "team_at_ceiling";
  }
  if (s.ceiling === null) return "ok";
  // Give the seat, then seat every other team's members until each has its reservation.
  let total = s.active + 1;
  for (const [other, l] of s.limits) {
    if (other === team) continue;
    for (let held = s.activeByTeam.get(other) ?? 0; held < l.reserve; held++) total++;
  }
  return total <= s.ceiling ? "ok" : "pool_at_ceiling";
}

const verdict = (s: TeamSeatState, team: string | null): Verdict => mayTakeSeat(s, team)?.code as Verdict ?? "ok";

describe("mayTakeSeat", () => {
  it("agrees with the seat-then-fill-every-reservation reference", () => {
    fc.assert(
      fc.property(anyState, userTeam, (s, team) => {
        expect(verdict(s, team)).toBe(reference(s, team));
      }),
      { numRuns: 3000 },
    );
  });

  it("never eats a reservation or passes a cap, and always lets a team below its reserve in", () => {
    const event = fc.oneof(
      fc.record({ kind: fc.constant("checkout" as const), team: userTeam }),
      fc.record({ kind: fc.constant("release" as const), index: fc.nat(100) }),
    );
    const config = fc
      .record({ ceiling: fc.option(fc.integer({ min: 1, max: 10 }), { nil: null }), limits })
      .filter(({ ceiling, limits }) => [...limits].every(([team, l]) => refuseTeamLimit(POOL, ceiling, limits, team, l) === null));
    fc.assert(
      fc.property(config, fc.array(event, { maxLength: 60 }), ({ ceiling, limits }, events) => {
        const holders: (string | null)[] = [];
        const state = (): TeamSeatState => {
          const activeByTeam = new Map<string, number>();
          for (const t of holders) if (t !== null) activeByTeam.set(t, (activeByTeam.get(t) ?? 0) + 1);
          return { pool: POOL, ceiling, limits, active: holders.length, activeByTeam };
        };
        for (const e of events) {
          if (e.kind === "checkout") {
            if (mayTakeSeat(state(), e.team) === null) holders.push(e.team);
          } else if (holders.length) holders.splice(e.index % holders.length, 1);
          const s = state();
          if (ceiling !== null) expect(s.active).toBeLessThanOrEqual(ceiling);
          let unused = 0;
          for (const [team, l] of limits) {
            const held = s.activeByTeam.get(team) ?? 0;
            if (l.maxActive !== null) expect(held).toBeLessThanOrEqual(l.maxActive);
            unused += Math.max(0, l.reserve - held);
            // Below its reserve (and so below its cap): a member is let in.
            if (held < l.reserve) expect(mayTakeSeat(s, team)).toBeNull();
          }
          if (ceiling !== null) expect(s.active + unused).toBeLessThanOrEqual(ceiling);
        }
      }),
      { numRuns: 1500 },
    );
  });
});

// ------------------------------------------------------------------ admin changes

function validConfig(ceiling: number | null, all: ReadonlyMap<string, TeamLimit>): boolean {
  let total = 0;
  for (const l of all.values()) {
    if (l.maxActive !== null && l.reserve > l.maxActive) return false;
    total += l.reserve;
  }
  if (total === 0) return true;
  return ceiling !== null && total <= ceiling;
}

describe("refuseTeamLimit and refuseCeiling", () => {
  const rawLimit = fc.record({ maxActive: fc.option(fc.integer({ min: 0, max: 6 }), { nil: null }), reserve: fc.integer({ min: 0, max: 6 }) });
  const validStart = fc
    .record({ ceiling: fc.option(fc.integer({ min: 1, max: 12 }), { nil: null }), limits })
    .filter(({ ceiling, limits }) => validConfig(ceiling, limits));

  it("accept a team's limits exactly when the pool's configuration stays valid", () => {
    fc.assert(
      fc.property(validStart, fc.constantFrom(...TEAMS), rawLimit, ({ ceiling, limits }, team, next) => {
        const after = new Map(limits).set(team, next);
        expect(refuseTeamLimit(POOL, ceiling, limits, team, next) === null).toBe(validConfig(ceiling, after));
      }),
      { numRuns: 2000 },
    );
  });

  it("accept a new ceiling exactly when the reservations still fit", () => {
    fc.assert(
      fc.property(validStart, fc.option(fc.integer({ min: 1, max: 12 }), { nil: null }), ({ limits }, ceiling) => {
        expect(refuseCeiling(POOL, ceiling, limits) === null).toBe(validConfig(ceiling, limits));
      }),
      { numRuns: 2000 },
    );
  });

  it("refuse any team limit on a named pool", () => {
    fc.assert(
      fc.property(rawLimit, (next) => {
        expect(refuseTeamLimit("elite-named", null, new Map(), "a", next)?.code).toBe("invalid_request");
      }),
    );
  });
});
