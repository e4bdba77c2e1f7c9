/**
 * Property tests of src/domain/overage.ts against the tick-by-tick reference in
 * overage-reference.ts. All times are multiples of TICK so the reference is exact.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  advanceTo,
  applyStep,
  liveStatus,
  newTracker,
  nextGraceDeadline,
  overLimitIntervals,
  summarize,
  usageBuckets,
  type IntervalFigures,
  type TrackerEvent,
  type TrackerState,
  type UsageStep,
} from "../../src/domain/overage";
import { TICK, refBuckets, refIntervals, refSummarize, simulate } from "./overage-reference";

const T0 = Date.UTC(2025, 0, 15, 8);
const RUNS = 150;

/** One generated change: dt ticks after the previous (0 = same ms), an active move, maybe a new limit. */
const change = fc.record({
  dt: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 600 }), fc.integer({ min: 1, max: 30 })),
  active: fc.oneof(
    { arbitrary: fc.integer({ min: -2, max: 2 }).map((d) => ({ by: d })), weight: 3 },
    { arbitrary: fc.integer({ min: 0, max: 14 }).map((n) => ({ to: n })), weight: 1 },
  ),
  limit: fc.option(fc.integer({ min: 0, max: 10 }), { freq: 4 }),
});

/** A sorted step log (equal times included) of up to a few hours. */
const stepLog = (opts: { distinctTimes?: boolean } = {}) =>
  fc.tuple(fc.integer({ min: 0, max: 8 }), fc.array(change, { minLength: 1, maxLength: 24 })).map(([limit0, changes]) => {
    const steps: UsageStep[] = [];
    let t = T0;
    let active = 0;
    let limit = limit0;
    for (const c of changes) {
      t += (opts.distinctTimes ? Math.max(1, c.dt) : c.dt) * TICK;
      active = "to" in c.active ? c.active.to : Math.max(0, active + c.active.by);
      if (c.limit !== null) limit = c.limit;
      steps.push({ t, active, limit });
    }
    return steps;
  });

const graceSeconds = fc.oneof(fc.constant(0), fc.constant(1800), fc.integer({ min: 1, max: 3600 }));

/** A tick-aligned time around the log: a bit before its first step to a bit after its last. */
const timeAround = (steps: UsageStep[]) =>
  fc.integer({ min: -60, max: (steps[steps.length - 1].t - T0) / TICK + 3600 }).map((k) => T0 + k * TICK);

const windowAround = (steps: UsageStep[]) =>
  fc.tuple(timeAround(steps), timeAround(steps)).map(([a, b]) => ({ from: Math.min(a, b), to: Math.max(a, b) }));

const logWithWindow = fc.tuple(stepLog(), graceSeconds).chain(([steps, grace]) =>
  fc.tuple(fc.constant(steps), fc.constant(grace), windowAround(steps)),
);

describe("summarize and overLimitIntervals match the tick-by-tick reference", () => {
  it("summarize", () => {
    fc.assert(
      fc.property(logWithWindow, ([steps, grace, window]) => {
        expect(summarize(steps, window, grace)).toEqual(refSummarize(steps, window.from, window.to, grace * 1000));
      }),
      { numRuns: RUNS },
    );
  });

  it("summarize over a window starting inside an over-run or cutting a billable part", () => {
    // Windows chosen at the interesting moments: interval starts/ends and grace crossings.
    const pointed = fc.tuple(stepLog(), graceSeconds).chain(([steps, grace]) => {
      const sim = simulate(steps, grace * 1000, T0, T0);
      const moments = sim.ticks.filter((tick) => tick.crossing > 0).map((tick) => tick.x);
      for (const iv of sim.intervals) moments.push(iv.start, iv.start + TICK);
      const point = moments.length ? fc.oneof(fc.constantFrom(...moments), timeAround(steps)) : timeAround(steps);
      return fc.tuple(fc.constant(steps), fc.constant(grace), point, fc.integer({ min: -5, max: 5 }), timeAround(steps));
    });
    fc.assert(
      fc.property(pointed, ([steps, grace, point, shift, other]) => {
        const a = point + shift * TICK;
        const window = { from: Math.min(a, other), to: Math.max(a, other) };
        expect(summarize(steps, window, grace)).toEqual(refSummarize(steps, window.from, window.to, grace * 1000));
      }),
      { numRuns: RUNS },
    );
  });

  it("overLimitIntervals (an empty window overlaps nothing)", () => {
    expect(overLimitIntervals([{ t: T0, active: 5, limit: 2 }], { from: T0 + TICK, to: T0 + TICK }, 1800)).toEqual([]);

    fc.assert(
      fc.property(logWithWindow, ([steps, grace, window]) => {
        expect(overLimitIntervals(steps, window, grace)).toEqual(refIntervals(steps, window.from, window.to, grace * 1000));
      }),
      { numRuns: RUNS },
    );
  });

  it("usageBuckets", () => {
    const withStep = fc.tuple(stepLog(), fc.integer({ min: 1, max: 1800 })).chain(([steps, stepSeconds]) =>
      fc.tuple(fc.constant(steps), fc.constant(stepSeconds), windowAround(steps)),
    );
    fc.assert(
      fc.property(withStep, ([steps, stepSeconds, window]) => {
        fc.pre((window.to - window.from) / (stepSeconds * 1000) <= 400);
        expect(usageBuckets(steps, window, stepSeconds)).toEqual(
          refBuckets(steps, window.from, window.to, stepSeconds * 1000),
        );
      }),
      { numRuns: RUNS },
    );
  });
});

describe("summarize over adjacent windows", () => {
  it("[a,b) and [b,c): seat-seconds add up, billable seats and peaks are the max of the halves", () => {
    const split = fc.tuple(stepLog(), graceSeconds).chain(([steps, grace]) =>
      fc.tuple(fc.constant(steps), fc.constant(grace), timeAround(steps), timeAround(steps), timeAround(steps)),
    );
    fc.assert(
      fc.property(split, ([steps, grace, x, y, z]) => {
        const [a, b, c] = [x, y, z].sort((p, q) => p - q);
        const left = summarize(steps, { from: a, to: b }, grace);
        const right = summarize(steps, { from: b, to: c }, grace);
        const whole = summarize(steps, { from: a, to: c }, grace);
        expect(left.overage_seat_seconds + right.overage_seat_seconds).toBeCloseTo(whole.overage_seat_seconds, 6);
        expect(left.billable_seat_seconds + right.billable_seat_seconds).toBeCloseTo(whole.billable_seat_seconds, 6);
        expect(whole.billable_overage_seats).toBe(Math.max(left.billable_overage_seats, right.billable_overage_seats));
        expect(whole.peak_overage).toBe(Math.max(left.peak_overage, right.peak_overage));
        expect(whole.peak_active).toBe(Math.max(left.peak_active, right.peak_active));
        // An interval across b is counted in both halves, once in the whole.
        expect(whole.intervals).toBeLessThanOrEqual(left.intervals + right.intervals);
        expect(whole.intervals).toBeGreaterThanOrEqual(Math.max(left.intervals, right.intervals));
      }),
      { numRuns: RUNS },
    );
  });
});

/** Feeds the log to a tracker, firing advanceTo at each grace deadline on the way (the DO alarm) and at extra times. */
function runTracker(steps: UsageStep[], grace: number, extraTimes: number[], until: number) {
  let state: TrackerState = newTracker(steps[0].limit, T0 - TICK);
  const events: TrackerEvent[] = [];
  const feed = (r: { state: TrackerState; events: TrackerEvent[] }) => {
    state = JSON.parse(JSON.stringify(r.state)) as TrackerState; // as the DO stores it
    events.push(...r.events);
  };
  const extras = [...extraTimes].sort((a, b) => a - b);
  // Alarms before a step's ms only: an alarm and a step in the same ms is the one case where an
  // overage.billable may announce an over-run that the step then ends at its grace (see applyStep).
  const catchUp = (t: number, inclusive: boolean) => {
    const due = (x: number) => (inclusive ? x <= t : x < t);
    for (;;) {
      const deadline = nextGraceDeadline(state, grace);
      const extra = extras.length && due(extras[0]) ? extras[0] : null;
      const next = deadline !== null && due(deadline) && (extra === null || deadline <= extra) ? deadline : extra;
      if (next === null) return;
      if (next === extra) extras.shift();
      feed(advanceTo(state, next, grace));
    }
  };
  for (const step of steps) {
    catchUp(step.t, false);
    feed(applyStep(state, step, grace));
  }
  catchUp(until, true);
  feed(advanceTo(state, until, grace));
  return { state, events };
}

const trackerCase = (opts: { distinctTimes?: boolean }) =>
  fc.tuple(stepLog(opts), graceSeconds).chain(([steps, grace]) =>
    fc.tuple(
      fc.constant(steps),
      fc.constant(grace),
      fc.array(timeAround(steps), { maxLength: 6 }),
      timeAround(steps).map((t) => Math.max(t, steps[steps.length - 1].t)),
    ),
  );

/**
 * The closed intervals as a consumer keyed by start would store them: the last overage.ended per
 * start, dropped again when an overage.started reopens it (a same-ms reversal), and without
 * zero-length ones (an interval undone within its own ms).
 */
function closedIntervals(events: TrackerEvent[]): IntervalFigures[] {
  const byStart = new Map<number, IntervalFigures>();
  for (const e of events) {
    if (e.type === "overage.started") byStart.delete(e.interval.started_at);
    if (e.type === "overage.ended" && e.interval.ended_at !== e.interval.started_at) byStart.set(e.interval.started_at, e.interval);
  }
  return [...byStart.values()].sort((a, b) => a.started_at - b.started_at);
}

describe("the online tracker agrees with the batch view", () => {
  it("each closed interval's figures equal overLimitIntervals (equal times included)", () => {
    fc.assert(
      fc.property(trackerCase({}), ([steps, grace, extras, until]) => {
        const { state, events } = runTracker(steps, grace, extras, until);
        const batch = overLimitIntervals(steps, { from: T0 - TICK, to: until }, grace);
        expect(closedIntervals(events)).toEqual(batch.filter((iv) => iv.ended_at !== null));

        // The open one: integrals up to `until`, maxima including the instant `until`.
        const live = liveStatus(state, until, grace).interval;
        const openSoFar = batch.find((iv) => iv.ended_at === null) ?? null;
        const openWithInstant = overLimitIntervals(steps, { from: T0 - TICK, to: until + 1 }, grace).find(
          (iv) => iv.ended_at === null,
        );
        if (!openWithInstant) {
          expect(live).toBeNull();
        } else {
          // (An interval opened exactly at `until` has no length yet: no integrals.)
          expect(live).toEqual({
            ...openWithInstant,
            overage_seat_seconds: openSoFar?.overage_seat_seconds ?? 0,
            billable_seat_seconds: openSoFar?.billable_seat_seconds ?? 0,
          });
        }
      }),
      { numRuns: RUNS },
    );
  });

  it("with strictly increasing times, the event stream is exactly the reference's", () => {
    fc.assert(
      fc.property(trackerCase({ distinctTimes: true }), ([steps, grace, extras, until]) => {
        const { state, events } = runTracker(steps, grace, extras, until);
        const sim = simulate(steps, grace * 1000, T0, until);
        const upTo = sim.ticks.filter((tick) => tick.x <= until);

        // started/ended alternate, one pair per reference interval.
        const expected: string[] = [];
        for (const iv of sim.intervals.filter((i) => i.start <= until)) {
          expected.push(`started@${iv.start}`);
          if (iv.end <= until) expected.push(`ended@${iv.end}`);
        }
        const got = events.flatMap((e) =>
          e.type === "overage.started"
            ? [`started@${e.interval.started_at}`]
            : e.type === "overage.ended"
              ? [`ended@${e.interval.ended_at}`]
              : [],
        );
        expect(got).toEqual(expected);

        // One overage.billable per moment an over-run passes its grace, with billable_now after it.
        const billable = events.flatMap((e) => (e.type === "overage.billable" ? [[e.at, e.billable_now]] : []));
        expect(billable).toEqual(upTo.filter((tick) => tick.crossing > 0).map((tick) => [tick.x, tick.billable]));

        // Live status at `until`.
        const now = upTo[upTo.length - 1];
        const pending = [...now.starts.values()].map((s) => s + grace * 1000).filter((c) => c > until);
        expect(liveStatus(state, until, grace)).toMatchObject({
          over_limit: now.overage > 0,
          overage: now.overage,
          billable_now: now.billable,
          grace_ends_at: pending.length ? Math.min(...pending) : null,
        });
      }),
      { numRuns: RUNS },
    );
  });
});
