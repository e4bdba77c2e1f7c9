/**
 * planGrants against a brute-force reference: every sequence of distinct waiting users is tried,
 * and exactly the sequences that satisfy the written rule are kept (each grant allowed at its
 * moment, nobody ahead of a grantee allowed at that moment, nobody allowed once it ends). There
 * must be exactly one, and it must be planGrants' answer. Then, over random histories of seats
 * freeing, caps changing and waiters joining, the no-starvation rule: a waiter is skipped only
 * while the rules refuse it, every grant respects the ceiling and the team caps, nobody is granted
 * twice, and no waiter the rules allow is left waiting.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { planGrants, positions, queueByUser, type Waiter } from "../../src/domain/waitlist";
import { mayTakeSeat } from "../../src/domain/teams";
import { modelRules, refuseIn, rulesWithLicenses, type PoolModel } from "./waitlist-model";

const USERS = ["u0", "u1", "u2", "u3", "u4", "u5"];
const TEAMS = ["a", "b"];

const teamRule = fc.record({
  max_active: fc.option(fc.integer({ min: 0, max: 4 }), { nil: null }),
  reserve: fc.integer({ min: 0, max: 3 }),
});

/** A pool with holders and waiters drawn from disjoint users; sessions per waiter 1-2. */
const scene = fc
  .record({
    maxActive: fc.option(fc.integer({ min: 0, max: 7 }), { nil: null }),
    teams: fc.dictionary(fc.constantFrom(...TEAMS), teamRule),
    teamOf: fc.dictionary(fc.constantFrom(...USERS, "h0", "h1", "h2", "h3"), fc.constantFrom(...TEAMS)),
    holders: fc.subarray(["h0", "h1", "h2", "h3"]),
    waiting: fc.shuffledSubarray(USERS, { minLength: 0 }),
    second: fc.subarray(USERS),
    revoked: fc.subarray(USERS, { maxLength: 2 }),
    moved: fc.subarray(USERS, { maxLength: 1 }),
  })
  .map(({ waiting, second, ...m }) => {
    const waiters: Waiter[] = [];
    let seq = 1;
    for (const u of waiting) waiters.push({ user_id: u, session_id: "s1", seq: seq++ });
    // A second session joins later: the user keeps the place of their first.
    for (const u of waiting) if (second.includes(u)) waiters.push({ user_id: u, session_id: "s2", seq: seq++ });
    const model: PoolModel = { ...m, revoked: m.revoked, moved: m.moved.filter((u) => !m.revoked.includes(u)) };
    return { model, waiters };
  });

function* sequences(users: string[], prefix: string[] = []): Generator<string[]> {
  yield prefix;
  for (const u of users) if (!prefix.includes(u)) yield* sequences(users, [...prefix, u]);
}

/** Every grant order the written rule accepts. */
function referenceGrants(model: PoolModel, order: string[]): string[][] {
  const valid: string[][] = [];
  for (const seq of sequences(order)) {
    let m = model;
    let ok = true;
    for (const g of seq) {
      const ahead = order.slice(0, order.indexOf(g)).filter((u) => !m.holders.includes(u));
      if (refuseIn(m, g) !== null || ahead.some((u) => refuseIn(m, u) === null)) {
        ok = false;
        break;
      }
      m = { ...m, holders: [...m.holders, g] };
    }
    if (ok && order.every((u) => m.holders.includes(u) || refuseIn(m, u) !== null)) valid.push(seq);
  }
  return valid;
}

describe("planGrants against brute force", () => {
  it("is the one grant order the rule accepts; drops exactly the waiters without their license", () => {
    fc.assert(
      fc.property(scene, ({ model, waiters }) => {
        const plan = planGrants(waiters, model, rulesWithLicenses(model));
        // The reference's queue: users in the order of their first entry.
        const firstSeen: string[] = [];
        for (const w of [...waiters].sort((a, b) => a.seq - b.seq)) if (!firstSeen.includes(w.user_id)) firstSeen.push(w.user_id);
        const gone = (u: string) => model.revoked.includes(u) || model.moved.includes(u);
        const order = firstSeen.filter((u) => !gone(u));
        const valid = referenceGrants(model, order);
        expect(valid).toHaveLength(1);
        expect(plan.grants.map((g) => g.user_id)).toEqual(valid[0]);
        expect(plan.drops.map((d) => d.user_id)).toEqual(firstSeen.filter(gone));
        for (const d of plan.drops) expect(d.reason).toBe(model.revoked.includes(d.user_id) ? "license_revoked" : "license_moved");
        // Every waiting session of a granted user is served by the one seat.
        for (const g of plan.grants) {
          expect(g.sessions).toEqual(waiters.filter((w) => w.user_id === g.user_id).map((w) => w.session_id));
        }
        expect(plan.state.holders).toEqual([...model.holders, ...valid[0]]);
      }),
      { numRuns: 400 },
    );
  });

  it("positions are 1-based by each user's first entry, and agree with queueByUser", () => {
    fc.assert(
      fc.property(scene, ({ waiters }) => {
        const pos = positions(waiters);
        const byFirst = [...new Set([...waiters].sort((a, b) => a.seq - b.seq).map((w) => w.user_id))];
        expect([...pos.entries()]).toEqual(byFirst.map((u, i) => [u, i + 1]));
        expect(queueByUser(waiters).map((q) => q.user_id)).toEqual(byFirst);
      }),
    );
  });
});

// ------------------------------------------------------------------ histories: no starvation

type Event =
  | { kind: "join"; user: string }
  | { kind: "free"; index: number }
  | { kind: "cap"; team: string; max_active: number | null }
  | { kind: "ceiling"; maxActive: number | null };

const POOL_USERS = ["p0", "p1", "p2", "p3", "p4", "p5", "p6", "p7"];
const event: fc.Arbitrary<Event> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant("join" as const), user: fc.constantFrom(...POOL_USERS) }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant("free" as const), index: fc.nat(7) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("cap" as const), team: fc.constantFrom(...TEAMS), max_active: fc.option(fc.integer({ min: 0, max: 3 }), { nil: null }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("ceiling" as const), maxActive: fc.option(fc.integer({ min: 0, max: 5 }), { nil: null }) }) },
);

describe("histories", () => {
  it("skip only while refused; never over the ceiling or a cap through a grant; no double grant; nobody allowed is left waiting", () => {
    fc.assert(
      fc.property(
        fc.record({
          maxActive: fc.option(fc.integer({ min: 1, max: 5 }), { nil: null }),
          teams: fc.dictionary(fc.constantFrom(...TEAMS), teamRule),
          teamOf: fc.dictionary(fc.constantFrom(...POOL_USERS), fc.constantFrom(...TEAMS)),
        }),
        fc.array(event, { maxLength: 40 }),
        ({ maxActive, teams, teamOf }, events) => {
          let m: PoolModel = { maxActive, teams: { ...teams }, teamOf, holders: [], revoked: [], moved: [] };
          let waiters: Waiter[] = [];
          let seq = 0;
          for (const e of events) {
            if (e.kind === "join") {
              if (m.holders.includes(e.user) || waiters.some((w) => w.user_id === e.user)) continue;
              // A checkout first: only a refused one joins the queue (a checkout allowed takes the seat).
              if (refuseIn(m, e.user) === null) {
                m = { ...m, holders: [...m.holders, e.user] };
                continue;
              }
              waiters.push({ user_id: e.user, session_id: "s", seq: ++seq });
            } else if (e.kind === "free") {
              if (m.holders.length === 0) continue;
              m = { ...m, holders: m.holders.filter((_, i) => i !== e.index % m.holders.length) };
            } else if (e.kind === "cap") {
              m = { ...m, teams: { ...m.teams, [e.team]: { reserve: m.teams[e.team]?.reserve ?? 0, max_active: e.max_active } } };
            } else {
              m = { ...m, maxActive: e.maxActive };
            }
            const before = m;
            const plan = planGrants(waiters, m, modelRules);
            // Replay grant by grant: each allowed at its moment, and everyone skipped refused then.
            let s = before;
            for (const g of plan.grants) {
              expect(refuseIn(s, g.user_id)).toBeNull();
              const teamRule = m.teams[m.teamOf[g.user_id]];
              const next = { ...s, holders: [...s.holders, g.user_id] };
              if (s.maxActive !== null) expect(next.holders.length).toBeLessThanOrEqual(s.maxActive);
              if (teamRule?.max_active != null) {
                expect(next.holders.filter((u) => m.teamOf[u] === m.teamOf[g.user_id]).length).toBeLessThanOrEqual(teamRule.max_active);
              }
              for (const k of plan.skips.filter((k) => k.by === g.user_id)) {
                expect(refuseIn(s, k.user_id)).toBe(k.code);
                expect(k.code).not.toBeNull();
              }
              s = next;
            }
            m = plan.state;
            expect(new Set(m.holders).size).toBe(m.holders.length);
            const granted = new Set(plan.grants.map((g) => g.user_id));
            waiters = waiters.filter((w) => !granted.has(w.user_id));
            // Quiescent: whoever still waits is refused by the rules right now.
            for (const w of waiters) expect(refuseIn(m, w.user_id)).not.toBeNull();
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe("the test model is the checkout's rule", () => {
  it("refuseIn agrees with mayTakeSeat (src/domain/teams.ts) on every scene", () => {
    fc.assert(
      fc.property(scene, fc.constantFrom(...USERS), ({ model }, user) => {
        const activeByTeam = new Map<string, number>();
        for (const h of model.holders) {
          const t = model.teamOf[h];
          if (t !== undefined) activeByTeam.set(t, (activeByTeam.get(t) ?? 0) + 1);
        }
        const limits = new Map(Object.entries(model.teams).map(([t, r]) => [t, { maxActive: r.max_active, reserve: r.reserve }]));
        const state = { pool: "premium-concurrent" as const, ceiling: model.maxActive, active: model.holders.length, activeByTeam, limits };
        expect(refuseIn(model, user)).toBe(mayTakeSeat(state, model.teamOf[user] ?? null)?.code ?? null);
      }),
      { numRuns: 500 },
    );
  });
});
