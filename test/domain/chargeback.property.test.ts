/**
 * Chargeback by team (docs/licensing.md#chargeback-by-team): src/domain/chargeback.ts and the
 * engine's billable places against brute force. The reference walks time tick by tick, follows
 * every numbered place by itself (its over-run start, or its over-limit time in the cycle), sorts
 * the holders present at each tick by (from, user) and gives place n to the n-th. Times are
 * multiples of TICK, so nothing changes inside a tick. Plus the worked examples of the docs.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { teamColumns, teamUsage, type TeamHold } from "../../src/domain/chargeback";
import { figuresCollector, OverageEngine, summarize, type Grace, type GraceRules, type UsageStep } from "../../src/domain/overage";
import { TICK } from "./overage-reference";
import { stepLogs, T0 } from "./step-logs";

const MIN = 60_000;
const RUNS = 200;

type Policy = "per_overrun" | "cumulative";

function stateAt(steps: readonly UsageStep[], x: number): { active: number; limit: number } {
  let state = { active: 0, limit: steps.length ? steps[0].limit : 0 };
  for (const step of steps) if (step.t <= x) state = { active: step.active, limit: step.limit };
  return state;
}

/**
 * The billable places at every tick from before the first step to `to`: under per_overrun a place
 * is billable once its current over-run began at least the grace ago; under cumulative once its
 * over-limit time since the last cycle start, before the tick, is at least the grace.
 */
function refPlaces(steps: readonly UsageStep[], graceMs: number, policy: Policy, to: number, isCycleStart: (x: number) => boolean): Map<number, Set<number>> {
  const out = new Map<number, Set<number>>();
  const first = steps[0].t;
  const starts = new Map<number, number>();
  const acc = new Map<number, number>();
  for (let x = first; x < to; x += TICK) {
    const { active, limit } = stateAt(steps, x);
    const billable = new Set<number>();
    if (policy === "per_overrun") {
      const top = Math.max(active, ...starts.keys());
      for (let n = 1; n <= top; n++) {
        const over = n > limit && n <= active;
        if (over && !starts.has(n)) starts.set(n, x);
        if (!over) starts.delete(n);
      }
      for (const [n, s] of starts) if (s + graceMs <= x) billable.add(n);
    } else {
      if (isCycleStart(x)) acc.clear();
      for (let n = limit + 1; n <= active; n++) if ((acc.get(n) ?? 0) >= graceMs) billable.add(n);
      for (let n = limit + 1; n <= active; n++) acc.set(n, (acc.get(n) ?? 0) + TICK);
    }
    out.set(x, billable);
  }
  return out;
}

interface RefTeam {
  peak_active: number;
  seat_ms: number;
  billable_ms: number;
}

/** Per tick of the window: holders sorted by arrival, place n to the n-th, billable places to their holders' teams. */
function refTeams(steps: readonly UsageStep[], holds: readonly TeamHold[], graceMs: number, policy: Policy, window: { from: number; to: number }, isCycleStart: (x: number) => boolean) {
  const places = refPlaces(steps, graceMs, policy, window.to, isCycleStart);
  const teams = new Map<string | null, RefTeam>();
  const ticks: { x: number; live: Map<string | null, number>; billable: Map<string | null, number> }[] = [];
  const get = (team: string | null) => {
    let t = teams.get(team);
    if (!t) teams.set(team, (t = { peak_active: 0, seat_ms: 0, billable_ms: 0 }));
    return t;
  };
  for (let x = window.from; x < window.to; x += TICK) {
    const present = holds
      .filter((h) => h.from <= x && (h.to === null || x < h.to))
      .sort((a, b) => a.from - b.from || (a.user_id < b.user_id ? -1 : a.user_id > b.user_id ? 1 : 0));
    const live = new Map<string | null, number>();
    for (const h of present) live.set(h.team, (live.get(h.team) ?? 0) + 1);
    for (const [team, n] of live) {
      const t = get(team);
      t.seat_ms += n * TICK;
      t.peak_active = Math.max(t.peak_active, n);
    }
    const billable = new Map<string | null, number>();
    for (const p of places.get(x) ?? []) {
      const team = p <= present.length ? present[p - 1].team : null;
      billable.set(team, (billable.get(team) ?? 0) + 1);
      get(team).billable_ms += TICK;
    }
    ticks.push({ x, live, billable });
  }
  return { teams, ticks };
}

// ---------------------------------------------------------------------------------------------
// Inputs

const stepLog = stepLogs({ move: [-2, 3], jumps: { max: 10, weight: 4 }, maxLimit: 6, limitFreq: 4, maxLimit0: 5, maxLength: 18 });

const TEAMS = ["blue", "red", "x.y", null] as const;

/** Holds that need not match the steps (then places without a holder go to null, and holders past `active` hold none). */
const looseHolds = (span: number) =>
  fc
    .array(
      fc.tuple(fc.integer({ min: -30, max: span }), fc.option(fc.integer({ min: 1, max: 900 }), { freq: 5 }), fc.constantFrom(...TEAMS), fc.constantFrom("a", "b", "c", "d", "e")),
      { maxLength: 10 },
    )
    .map((rows) => {
      const seen = new Set<string>();
      const holds: TeamHold[] = [];
      rows.forEach(([k, len, team, user], i) => {
        const from = T0 + k * TICK;
        const user_id = `${user}${i % 3}`;
        if (seen.has(`${from}|${user_id}`)) return;
        seen.add(`${from}|${user_id}`);
        holds.push({ user_id, from, to: len === null ? null : from + len * TICK, team });
      });
      return holds.sort((a, b) => a.from - b.from || (a.user_id < b.user_id ? -1 : 1));
    });

/**
 * Holds that make the steps (the service's case): each rise of active opens holds for new users
 * (ties at one instant in user order), each fall closes holds picked by `pick` among those present.
 */
function holdsOf(steps: readonly UsageStep[], picks: readonly number[], teams: readonly (string | null)[]): TeamHold[] {
  const present: TeamHold[] = [];
  const all: TeamHold[] = [];
  let n = 0;
  let p = 0;
  // Only the last step of an instant counts.
  const last = steps.filter((s, i) => i === steps.length - 1 || steps[i + 1].t !== s.t);
  for (const s of last) {
    while (present.length > s.active) {
      const i = (picks[p++ % picks.length] ?? 0) % present.length;
      const [h] = present.splice(i, 1);
      if (s.t > h.from) h.to = s.t;
      else all.splice(all.indexOf(h), 1);
    }
    while (present.length < s.active) {
      const h: TeamHold = { user_id: `u${String(1000 - (n % 1000)).padStart(4, "0")}-${n}`, from: s.t, to: null, team: teams[n % teams.length] ?? null };
      n++;
      present.push(h);
      all.push(h);
    }
  }
  return all.sort((a, b) => a.from - b.from || (a.user_id < b.user_id ? -1 : 1));
}

const graceSeconds = fc.oneof(fc.constant(0), fc.constant(1800), fc.integer({ min: 1, max: 1200 }));
const policy = fc.constantFrom<Policy>("per_overrun", "cumulative");

const caseOf = fc.tuple(stepLog, graceSeconds, policy, fc.boolean()).chain(([steps, grace, pol, matching]) => {
  const last = (steps[steps.length - 1].t - T0) / TICK;
  const at = fc.integer({ min: -30, max: last + 1800 }).map((k) => T0 + k * TICK);
  const holds = matching
    ? fc.tuple(fc.array(fc.nat(), { minLength: 1, maxLength: 12 }), fc.array(fc.constantFrom(...TEAMS), { minLength: 1, maxLength: 5 })).map(([picks, teams]) => holdsOf(steps, picks, teams))
    : looseHolds(last + 600);
  return fc.tuple(fc.constant(steps), fc.constant(grace), fc.constant(pol), holds, at, at);
});

/** Rules as `summarize` reads them: without cycle starts, cumulative time counts from the window's start. */
const rulesOf = (grace: number, pol: Policy): GraceRules => ({ graceSeconds: grace, policy: pol });

// ---------------------------------------------------------------------------------------------

describe("the engine's billable places", () => {
  it("are, at every tick, the places the reference finds billable (per_overrun: one range; cumulative: possibly several)", () => {
    fc.assert(
      fc.property(stepLog, graceSeconds, policy, (steps, grace, pol) => {
        const until = steps[steps.length - 1].t + 1900 * TICK;
        const seen: { a: number; b: number; places: [number, number][] }[] = [];
        OverageEngine.sweep(steps, { graceSeconds: grace, policy: pol, nextCycleStart: (t) => (t < T0 ? T0 : Infinity) }, until, {
          span(a, b, _active, _limit, billable, engine) {
            const places = engine.billablePlaces();
            expect(places.reduce((s, [lo, hi]) => s + hi - lo + 1, 0)).toBe(billable);
            seen.push({ a, b, places });
          },
        });
        const ref = refPlaces(steps, grace * 1000, pol, until, (x) => x === T0);
        let i = 0;
        for (const [x, set] of ref) {
          while (i < seen.length && seen[i].b <= x) i++;
          const span = i < seen.length && seen[i].a <= x ? seen[i] : undefined;
          const got = new Set((span?.places ?? []).flatMap(([lo, hi]) => Array.from({ length: hi - lo + 1 }, (_, i) => lo + i)));
          const [g, r] = [[...got].sort((p, q) => p - q).join(","), [...set].sort((p, q) => p - q).join(",")];
          if (g !== r) expect(g, `tick ${x}`).toBe(r);
          if (pol === "per_overrun") expect((span?.places ?? []).length).toBeLessThanOrEqual(1);
        }
      }),
      { numRuns: RUNS },
    );
  });
});

describe("teamUsage", () => {
  it("gives each team the reference's peak, seat time and billable time; the teams' billable time adds up to summarize's, whose figures it can collect in the same pass", () => {
    fc.assert(
      fc.property(caseOf, ([steps, grace, pol, holds, a, b]) => {
        const window = { from: Math.min(a, b), to: Math.max(a, b) };
        const rules = rulesOf(grace, pol);
        const got = teamUsage(steps, holds, window, rules);
        const ref = refTeams(steps, holds, grace * 1000, pol, window, (x) => x === window.from);
        const expected = [...ref.teams].filter(([, t]) => t.seat_ms > 0 || t.billable_ms > 0);
        expect(got.length).toBe(expected.length);
        for (const [team, t] of expected) expect(got.find((g) => g.team === team), String(team)).toEqual({ team, ...t });
        // Sorted by billable time descending, then team, null last.
        for (let i = 1; i < got.length; i++) {
          const [p, q] = [got[i - 1], got[i]];
          expect(p.billable_ms > q.billable_ms || (p.billable_ms === q.billable_ms && (q.team === null || (p.team !== null && p.team < q.team)))).toBe(true);
        }
        const total = got.reduce((s, g) => s + g.billable_ms, 0);
        expect(total).toBe(Math.round(summarize(steps, window, rules).billable_seat_seconds * 1000));
        // The pool's figures heard in the same sweep are summarize's.
        const collect = figuresCollector(window);
        expect(teamUsage(steps, holds, window, rules, collect.listener)).toEqual(got);
        expect(collect.figures()).toEqual(summarize(steps, window, rules));
      }),
      { numRuns: RUNS },
    );
  });

  it("many holders, few teams: places counted afresh after big jumps, and the compaction of arrival slots, agree with the reference", () => {
    // 3,000 arrivals one tick apart pass the first trees' 1,024 slots (compaction) and hold hundreds of places at once.
    const steps: UsageStep[] = [];
    const holds: TeamHold[] = [];
    for (let i = 0; i < 3000; i++) {
      const from = T0 + i * TICK;
      holds.push({ user_id: `u${String(i).padStart(5, "0")}`, from, to: from + (200 + ((i * 37) % 300)) * TICK, team: TEAMS[(i * 7) % 4] });
    }
    const times = [...new Set(holds.flatMap((h) => [h.from, h.to!]))].sort((x, y) => x - y);
    // The limit moves by hundreds now and then: the billable places jump (counted afresh, not place by place).
    const limitAt = (t: number) => [150, 20, 400, 150][Math.floor((t - T0) / (700 * TICK)) % 4];
    for (const t of new Set([...times, ...Array.from({ length: 6 }, (_, k) => T0 + (k + 1) * 700 * TICK)])) {
      steps.push({ t, active: holds.filter((h) => h.from <= t && t < h.to!).length, limit: limitAt(t) });
    }
    steps.sort((a, b) => a.t - b.t);
    const window = { from: T0 + 100 * TICK, to: T0 + 3300 * TICK };
    for (const grace of [0, 60]) {
      const got = teamUsage(steps, holds, window, grace);
      const ref = refTeams(steps, holds, grace * 1000, "per_overrun", window, () => false);
      for (const [team, t] of ref.teams) expect(got.find((g) => g.team === team)).toEqual({ team, ...t });
      expect(got.reduce((s, g) => s + g.billable_ms, 0)).toBe(summarize(steps, window, grace).billable_seat_seconds * 1000);
    }
  });

  it("rejects holds out of (from, user) order", () => {
    const steps: UsageStep[] = [{ t: T0, active: 2, limit: 1 }];
    const holds: TeamHold[] = [
      { user_id: "b", from: T0, to: null, team: null },
      { user_id: "a", from: T0, to: null, team: null },
    ];
    expect(() => teamUsage(steps, holds, { from: T0, to: T0 + MIN }, 0)).toThrow(RangeError);
  });
});

describe("teamColumns", () => {
  it("per bucket: the team's most members at once, seat time and billable time, as the reference's ticks say", () => {
    const input = fc.tuple(caseOf, fc.constantFrom(1, 7, 60, 600), fc.constantFrom(...TEAMS));
    fc.assert(
      fc.property(input, ([[steps, grace, pol, holds, a, b], stepSeconds, team]) => {
        const window = { from: Math.min(a, b), to: Math.max(a, b) };
        const c = teamColumns(steps, holds, window, rulesOf(grace, pol), team, stepSeconds);
        const ref = refTeams(steps, holds, grace * 1000, pol, window, (x) => x === window.from);
        const stepMs = stepSeconds * 1000;
        const n = Math.ceil((window.to - window.from) / stepMs);
        expect(c.max_active.length).toBe(n);
        for (let k = 0; k < n; k++) {
          const ticks = ref.ticks.filter((t) => t.x >= window.from + k * stepMs && t.x < window.from + (k + 1) * stepMs);
          expect(c.max_active[k], `bucket ${k}`).toBe(Math.max(0, ...ticks.map((t) => t.live.get(team) ?? 0)));
          expect(c.seat_ms[k]).toBe(ticks.reduce((s, t) => s + (t.live.get(team) ?? 0) * TICK, 0));
          expect(c.billable_ms[k]).toBe(ticks.reduce((s, t) => s + (t.billable.get(team) ?? 0) * TICK, 0));
        }
      }),
      { numRuns: RUNS },
    );
  });
});

describe("which places are billable (docs/licensing.md#chargeback-by-team)", () => {
  const placesAt = (steps: UsageStep[], grace: Grace, x: number) => {
    let out: [number, number][] = [];
    OverageEngine.sweep(steps, grace, x + 1, {
      span(a, b, _active, _limit, _billable, engine) {
        if (a <= x && x < b) out = engine.billablePlaces();
      },
    });
    return out;
  };

  it("a steady limit: the lowest places above it (they have been over longest)", () => {
    const steps: UsageStep[] = [
      { t: T0, active: 3, limit: 2 },
      { t: T0 + 10 * MIN, active: 4, limit: 2 },
    ];
    expect(placesAt(steps, 1800, T0 + 35 * MIN)).toEqual([[3, 3]]);
    expect(placesAt(steps, { graceSeconds: 1800, policy: "cumulative" }, T0 + 45 * MIN)).toEqual([[3, 4]]);
  });

  it("per_overrun, a limit drop: the places that came over with it wait their grace, the older ones above are billable", () => {
    // Limit 5, active 8 from 08:00 (places 6-8); the limit drops to 3 at 08:10 (places 4-5 come over).
    const steps: UsageStep[] = [
      { t: T0, active: 8, limit: 5 },
      { t: T0 + 10 * MIN, active: 8, limit: 3 },
    ];
    expect(placesAt(steps, 1800, T0 + 31 * MIN)).toEqual([[6, 8]]);
    expect(placesAt(steps, 1800, T0 + 41 * MIN)).toEqual([[4, 8]]);
  });

  it("cumulative, limits moving both ways: the billable places need not be one range", () => {
    // Limit 2, active 3 for 30 min (place 3 gathers 30 min); limit 4, active 5 for 30 min (place 5
    // gathers 30); then limit 2 again: places 3 and 5 are past a 25-minute grace, place 4 has nothing.
    const steps: UsageStep[] = [
      { t: T0, active: 3, limit: 2 },
      { t: T0 + 30 * MIN, active: 5, limit: 4 },
      { t: T0 + 60 * MIN, active: 5, limit: 2 },
    ];
    expect(placesAt(steps, { graceSeconds: 1500, policy: "cumulative" }, T0 + 61 * MIN)).toEqual([
      [3, 3],
      [5, 5],
    ]);
  });
});

describe("worked example of docs/licensing.md#chargeback-by-team", () => {
  // Limit 2, grace 30 minutes, per_overrun. Times in minutes after 08:00.
  const at = (m: number) => T0 + m * MIN;
  const holds: TeamHold[] = [
    { user_id: "ana", from: at(0), to: at(180), team: "support" },
    { user_id: "ben", from: at(10), to: at(180), team: "sales" },
    { user_id: "cy", from: at(20), to: at(100), team: "support" },
    { user_id: "dee", from: at(40), to: at(180), team: "sales" },
  ];
  const steps: UsageStep[] = [...new Set(holds.flatMap((h) => [h.from, h.to!]))]
    .sort((x, y) => x - y)
    .map((t) => ({ t, active: holds.filter((h) => h.from <= t && t < h.to!).length, limit: 2 }));
  const window = { from: at(0), to: at(180) };

  it("gives support 50 minutes (cy in place 3 from 08:50 to 09:40) and sales 110 (dee in place 4 from 09:10 to 09:40, then in place 3 to 11:00)", () => {
    const got = teamUsage(steps, holds, window, 1800);
    expect(got.map((g) => [g.team, g.peak_active, g.seat_ms / MIN, g.billable_ms / MIN])).toEqual([
      ["sales", 2, 310, 110],
      ["support", 2, 260, 50],
    ]);
    expect(summarize(steps, window, 1800).billable_seat_seconds).toBe(160 * 60);
  });
});
