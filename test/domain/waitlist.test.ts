/**
 * The worked examples of docs/licensing.md#the-waitlist, one test each.
 */
import { describe, expect, it } from "vitest";
import { planGrants, positions, type Waiter } from "../../src/domain/waitlist";
import { modelRules, rulesWithLicenses, type PoolModel } from "./waitlist-model";

const queue = (...users: string[]): Waiter[] => users.map((user_id, i) => ({ user_id, session_id: "desk", seq: i + 1 }));
const pool = (m: Partial<PoolModel>): PoolModel => ({ maxActive: null, teams: {}, teamOf: {}, holders: [], revoked: [], moved: [], ...m });
const release = (m: PoolModel, ...users: string[]): PoolModel => ({ ...m, holders: m.holders.filter((u) => !users.includes(u)) });

describe("waitlist worked examples", () => {
  it("1. ceiling 2: one seat frees, the first waiter gets it; a burst of two serves the next two in order", () => {
    const full = pool({ maxActive: 2, holders: ["h1", "h2"] });
    const waiters = queue("w1", "w2", "w3");
    expect(planGrants(waiters, full, modelRules).grants).toEqual([]);
    expect(positions(waiters)).toEqual(new Map([["w1", 1], ["w2", 2], ["w3", 3]]));
    const one = planGrants(waiters, release(full, "h1"), modelRules);
    expect(one.grants.map((g) => g.user_id)).toEqual(["w1"]);
    expect(one.skips).toEqual([]);
    const rest = waiters.slice(1);
    expect(positions(rest)).toEqual(new Map([["w2", 1], ["w3", 2]]));
    const burst = planGrants(rest, release(one.state, "h2", "w1"), modelRules);
    expect(burst.grants.map((g) => g.user_id)).toEqual(["w2", "w3"]);
    expect(burst.state.holders).toEqual(["w2", "w3"]);
  });

  it("2. a team at its cap is skipped, and gets the next seat its team frees before anyone behind it", () => {
    // Ceiling 3, team a capped at 2. a1, a2 (team a) and b1 (team b) hold the seats.
    const full = pool({ maxActive: 3, teams: { a: { max_active: 2, reserve: 0 } }, teamOf: { a1: "a", a2: "a", x: "a", b1: "b", y: "b", z: "b" }, holders: ["a1", "b1", "a2"] });
    // x (team a) waits first, then y and z (team b).
    const waiters = queue("x", "y", "z");
    const first = planGrants(waiters, release(full, "b1"), modelRules);
    expect(first.grants.map((g) => g.user_id)).toEqual(["y"]);
    expect(first.skips).toEqual([{ user_id: "x", by: "y", code: "team_at_ceiling" }]);
    // a1 leaves: the pool frees a seat and team a drops below its cap. x is first again and allowed: z waits.
    const second = planGrants(queue("x", "z"), release(first.state, "a1"), modelRules);
    expect(second.grants.map((g) => g.user_id)).toEqual(["x"]);
    expect(second.skips).toEqual([]);
  });

  it("3. a reservation of another team keeps the seat from the head of the queue, then lets it through", () => {
    // Ceiling 4; team r reserves 1 and holds none; h1-h4 (no team) hold the seats.
    const full = pool({ maxActive: 4, teams: { r: { max_active: null, reserve: 1 } }, teamOf: { r1: "r" }, holders: ["h1", "h2", "h3", "h4"] });
    const waiters = queue("n", "r1");
    // h1 leaves: 3 in use + 1 unused reservation = the ceiling for n; r1 takes its team's reserved seat.
    const first = planGrants(waiters, release(full, "h1"), modelRules);
    expect(first.grants.map((g) => g.user_id)).toEqual(["r1"]);
    expect(first.skips).toEqual([{ user_id: "n", by: "r1", code: "pool_at_ceiling" }]);
    // h2 leaves: the reservation is used, 3 in use < 4: n gets the seat.
    const second = planGrants(queue("n"), release(first.state, "h2"), modelRules);
    expect(second.grants.map((g) => g.user_id)).toEqual(["n"]);
  });

  it("4. the license is checked again at grant time: a revoked waiter is dropped, the seat goes to the next", () => {
    const m = pool({ maxActive: 1, holders: [], revoked: ["w1"] });
    const plan = planGrants(queue("w1", "w2"), m, rulesWithLicenses(m));
    expect(plan.drops).toEqual([{ user_id: "w1", sessions: ["desk"], seq: 1, reason: "license_revoked" }]);
    expect(plan.grants.map((g) => g.user_id)).toEqual(["w2"]);
  });

  it("5. a user waiting on two desktops keeps the place of the first and takes one seat for both", () => {
    const waiters: Waiter[] = [
      { user_id: "u", session_id: "laptop", seq: 1 },
      { user_id: "v", session_id: "desk", seq: 2 },
      { user_id: "u", session_id: "phone", seq: 3 },
    ];
    expect(positions(waiters)).toEqual(new Map([["u", 1], ["v", 2]]));
    const plan = planGrants(waiters, pool({ maxActive: 1 }), modelRules);
    expect(plan.grants).toEqual([{ user_id: "u", sessions: ["laptop", "phone"], seq: 1 }]);
    expect(plan.state.holders).toEqual(["u"]);
  });

  it("6. the ceiling lowered below the seats in use grants nothing until the pool is below it again", () => {
    const m = pool({ maxActive: 2, holders: ["h1", "h2", "h3"] });
    expect(planGrants(queue("w"), release(m, "h1"), modelRules).grants).toEqual([]);
    expect(planGrants(queue("w"), release(m, "h1", "h2"), modelRules).grants.map((g) => g.user_id)).toEqual(["w"]);
  });
});
