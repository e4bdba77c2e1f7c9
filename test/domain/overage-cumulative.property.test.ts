/**
 * The cumulative grace policy against its tick-by-tick reference (grace-policy-reference.ts), and
 * its worked examples. Times are multiples of TICK so the reference is exact.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { OverageEngine, overLimitIntervals, summarize, type GraceRules, type TrackerEvent, type UsageStep } from "../../src/domain/overage";
import { refSummarizeCumulative, simulateCumulative } from "./grace-policy-reference";
import { TICK } from "./overage-reference";
import { stepLogs, T0 } from "./step-logs";

const MIN = 60_000;
const RUNS = 150;

const stepLog = stepLogs({ move: [-2, 2], jumps: { max: 14, weight: 3 }, maxLimit: 10, limitFreq: 4, maxLimit0: 8, maxLength: 24 });

const graceSeconds = fc.oneof(fc.constant(0), fc.constant(1800), fc.integer({ min: 1, max: 3600 }));
/** Cycles of `period` ticks starting `offset` ticks after T0 (short, so logs cross several). */
const cycles = fc.tuple(fc.constantFrom(600, 1800, 5400), fc.integer({ min: 0, max: 599 })).map(([period, offset]) => {
  const P = period * TICK;
  const O = T0 + offset * TICK;
  return {
    period: P,
    isCycleStart: (x: number) => (x - O) % P === 0,
    nextCycleStart: (t: number) => O + (Math.floor((t - O) / P) + 1) * P,
  };
});

const timeAround = (steps: UsageStep[]) =>
  fc.integer({ min: -60, max: (steps[steps.length - 1].t - T0) / TICK + 3600 }).map((k) => T0 + k * TICK);

const caseOf = fc.tuple(stepLog, graceSeconds, cycles).chain(([steps, grace, cyc]) =>
  fc.tuple(fc.constant(steps), fc.constant(grace), fc.constant(cyc), timeAround(steps), timeAround(steps)),
);

const rulesOf = (grace: number, cyc: { nextCycleStart: (t: number) => number }): GraceRules => ({
  graceSeconds: grace,
  policy: "cumulative",
  nextCycleStart: cyc.nextCycleStart,
});

describe("cumulative grace policy: the engine matches the tick-by-tick reference", () => {
  it("summarize over any window", () => {
    fc.assert(
      fc.property(caseOf, ([steps, grace, cyc, a, b]) => {
        const window = { from: Math.min(a, b), to: Math.max(a, b) };
        expect(summarize(steps, window, rulesOf(grace, cyc))).toEqual(
          refSummarizeCumulative(steps, window.from, window.to, grace * 1000, cyc.isCycleStart),
        );
      }),
      { numRuns: RUNS },
    );
  });

  it("the tracker announces each place becoming billable once, when it does, with billable_now after it", () => {
    fc.assert(
      fc.property(caseOf, ([steps, grace, cyc, a]) => {
        const until = Math.max(a, steps[steps.length - 1].t);
        const engine = new OverageEngine(rulesOf(grace, cyc), steps[0].limit, T0 - TICK);
        const events: TrackerEvent[] = [];
        const catchUp = (t: number) => {
          for (let w = engine.nextWake(); w !== null && w <= t; w = engine.nextWake()) events.push(...engine.advance(w));
        };
        for (const s of steps) {
          catchUp(s.t);
          events.push(...engine.step(s.t, s.active, s.limit));
        }
        catchUp(until);
        events.push(...engine.advance(until + 1));
        const ticks = simulateCumulative(steps, grace * 1000, T0, until, cyc.isCycleStart).filter((t) => t.x <= until);
        const billable = events.flatMap((e) => (e.type === "overage.billable" ? [[e.at, e.billable_now]] : []));
        expect(billable).toEqual(ticks.filter((t) => t.crossing > 0).map((t) => [t.x, t.billable]));
        // Intervals do not depend on the policy.
        const ended = events.flatMap((e) => (e.type === "overage.ended" ? [e.interval.ended_at] : []));
        const batch = overLimitIntervals(steps, { from: T0 - TICK, to: until + 1 }, rulesOf(grace, cyc));
        expect(ended).toEqual(batch.filter((iv) => iv.ended_at !== null).map((iv) => iv.ended_at));
      }),
      { numRuns: RUNS },
    );
  });
});

describe("cumulative grace policy: the live status matches the reference", () => {
  it("billable_now, and grace_ends_at: the first moment another place would become billable if nothing changed (a cycle start included)", () => {
    fc.assert(
      fc.property(caseOf, ([steps, grace, cyc, a]) => {
        // A real cycle (28 days or more) is always longer than the grace (at most a day).
        fc.pre(grace * 1000 < cyc.period);
        const until = Math.max(a, T0); // the engine starts at T0 - TICK
        const engine = new OverageEngine(rulesOf(grace, cyc), steps[0].limit, T0 - TICK);
        const catchUp = (t: number) => {
          for (let w = engine.nextWake(); w !== null && w <= t; w = engine.nextWake()) engine.advance(w);
        };
        const past = steps.filter((s) => s.t <= until);
        for (const s of past) {
          catchUp(s.t);
          engine.step(s.t, s.active, s.limit);
        }
        catchUp(until);
        engine.advance(until);
        const live = engine.live(until);
        // The reference with the pool frozen as it is at `until`, far enough ahead for a cycle start and a whole grace.
        const horizon = until + (5400 + grace + 2) * TICK;
        const ticks = simulateCumulative(past, grace * 1000, T0, horizon, cyc.isCycleStart);
        const now = ticks.find((t) => t.x === until)!;
        const next = ticks.find((t) => t.x > until && t.crossing > 0);
        expect(live).toMatchObject({
          over_limit: now.overage > 0,
          overage: now.overage,
          billable_now: now.billable,
          grace_ends_at: now.overage > 0 && next ? next.x : null,
        });
      }),
      { numRuns: RUNS },
    );
  });
});

describe("cumulative grace policy: the live status at a cycle start", () => {
  it("a place that would finish its grace exactly at a cycle start starts again from zero: its grace ends a whole grace later", () => {
    // Cycles every 30 minutes from T0, grace 10 minutes; one place over from 00:20.
    const P = 30 * MIN;
    const rules: GraceRules = { graceSeconds: 600, policy: "cumulative", nextCycleStart: (t) => T0 + (Math.floor((t - T0) / P) + 1) * P };
    const engine = new OverageEngine(rules, 0, T0 - TICK);
    engine.step(T0 + 20 * MIN, 1, 0);
    engine.advance(T0 + 25 * MIN);
    expect(engine.live(T0 + 25 * MIN)).toMatchObject({ billable_now: 0, grace_ends_at: T0 + 40 * MIN });
    const billable: number[] = [];
    for (let w = engine.nextWake(); w !== null && w <= T0 + 50 * MIN; w = engine.nextWake()) {
      for (const e of engine.advance(w)) if (e.type === "overage.billable") billable.push(e.at);
    }
    expect(billable).toEqual([T0 + 40 * MIN]);
  });
});

describe("grace policies: worked examples (quantity 100, grace 30 min)", () => {
  const at = (mm: number) => T0 + mm * MIN;
  const day = { from: T0 - 60 * MIN, to: T0 + 23 * 60 * MIN };
  const cumulative: GraceRules = { graceSeconds: 1800, policy: "cumulative" };

  it("29 minutes over, 1 under, 29 over: per_overrun bills 0; cumulative bills that place for 28 minutes", () => {
    const steps = [
      { t: at(0), active: 101, limit: 100 },
      { t: at(29), active: 100, limit: 100 },
      { t: at(30), active: 101, limit: 100 },
      { t: at(59), active: 100, limit: 100 },
    ];
    expect(summarize(steps, day, 1800)).toMatchObject({ billable_overage_seats: 0, billable_seat_seconds: 0, intervals: 2, billable_intervals: 0 });
    // Place 101 gathers 29 minutes, then 1 more at 00:31: billable from 00:31 to 00:59.
    expect(summarize(steps, day, cumulative)).toMatchObject({ billable_overage_seats: 1, billable_seat_seconds: 28 * 60, intervals: 2, billable_intervals: 1 });
    const [first, second] = overLimitIntervals(steps, day, cumulative);
    expect(first).toMatchObject({ billable: false, billable_seat_seconds: 0 });
    expect(second).toMatchObject({ billable: true, billable_overage_seats: 1, billable_seat_seconds: 28 * 60 });
  });

  it("a cycle start resets the gathered time: 20 minutes over before it and 20 after bill nothing", () => {
    const cycleStart = at(20);
    const rules: GraceRules = { ...cumulative, nextCycleStart: (t) => (t < cycleStart ? cycleStart : Infinity) };
    const steps = [
      { t: at(0), active: 101, limit: 100 },
      { t: at(40), active: 100, limit: 100 },
    ];
    expect(summarize(steps, { from: cycleStart, to: at(120) }, rules)).toMatchObject({ billable_seat_seconds: 0 });
    // per_overrun: one over-run of 40 minutes, billable from 00:30 (10 minutes, inside the second cycle).
    expect(summarize(steps, { from: cycleStart, to: at(120) }, 1800)).toMatchObject({ billable_seat_seconds: 600 });
  });

  it("places are counted separately: a second place's own time decides for it", () => {
    // 102 active 00:00-00:20 (places 101, 102), then 101 until 00:45.
    const steps = [
      { t: at(0), active: 102, limit: 100 },
      { t: at(20), active: 101, limit: 100 },
      { t: at(45), active: 100, limit: 100 },
    ];
    // Place 101: 45 minutes, billable from 00:30 (15 min); place 102: 20 minutes, never.
    expect(summarize(steps, day, cumulative)).toMatchObject({ billable_overage_seats: 1, billable_seat_seconds: 15 * 60 });
    expect(summarize(steps, day, 1800)).toMatchObject({ billable_overage_seats: 1, billable_seat_seconds: 15 * 60 });
  });
});
