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
  nextWake,
  overLimitIntervals,
  summarize,
  usageBuckets,
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

/**
 * Feeds the log to a tracker as the Durable Object does: the alarm fires at each `nextWake` on
 * the way, and at extra times (exact grace deadlines and step times included, so an alarm can
 * share a ms with a step). Returns the live status at `until` (steps at `until` applied), then
 * the events once `until` has passed (its instant decided).
 */
function runTracker(steps: UsageStep[], grace: number, extraTimes: number[], until: number) {
  let state: TrackerState = newTracker(steps[0].limit, T0 - TICK);
  const events: TrackerEvent[] = [];
  const feed = (r: { state: TrackerState; events: TrackerEvent[] }) => {
    state = JSON.parse(JSON.stringify(r.state)) as TrackerState; // as a store keeps it
    events.push(...r.events);
  };
  const extras = [...extraTimes].sort((a, b) => a - b);
  const catchUp = (t: number) => {
    for (;;) {
      const wake = nextWake(state, grace);
      const extra = extras.length && extras[0] <= t ? extras[0] : null;
      const next = wake !== null && wake <= t && (extra === null || wake <= extra) ? wake : extra;
      if (next === null) return;
      if (next === extra) extras.shift();
      feed(advanceTo(state, next, grace));
    }
  };
  for (const step of steps) {
    catchUp(step.t);
    feed(applyStep(state, step, grace));
  }
  catchUp(until);
  feed(advanceTo(state, until, grace));
  const live = liveStatus(state, until, grace);
  feed(advanceTo(state, until + 1, grace));
  return { state, events, live };
}

/** Alarm times: anywhere around the log, at the exact grace deadlines, and at the steps' own ms. */
const alarmTimes = (steps: UsageStep[], grace: number) => {
  const sim = simulate(steps, grace * 1000, T0, T0);
  const deadlines = sim.ticks.flatMap((tick) => [...tick.starts.values()].map((s) => s + grace * 1000));
  const special = [...deadlines, ...steps.map((s) => s.t)];
  const one = special.length ? fc.oneof(timeAround(steps), fc.constantFrom(...special)) : timeAround(steps);
  return fc.array(one, { maxLength: 8 });
};

const trackerCase = (opts: { distinctTimes?: boolean }) =>
  fc.tuple(stepLog(opts), graceSeconds).chain(([steps, grace]) =>
    fc.tuple(
      fc.constant(steps),
      fc.constant(grace),
      alarmTimes(steps, grace),
      timeAround(steps).map((t) => Math.max(t, steps[steps.length - 1].t)),
    ),
  );

describe("the online tracker agrees with the batch view", () => {
  it("each interval is reported once, started then ended, with the figures of overLimitIntervals (same-ms steps included)", () => {
    fc.assert(
      fc.property(trackerCase({}), ([steps, grace, extras, until]) => {
        const { events, live } = runTracker(steps, grace, extras, until);
        const batch = overLimitIntervals(steps, { from: T0 - TICK, to: until }, grace);
        const started = events.flatMap((e) => (e.type === "overage.started" ? [e.interval.started_at] : []));
        const ended = events.flatMap((e) => (e.type === "overage.ended" ? [e.interval] : []));
        // Every interval starts once and ends at most once, never with zero length.
        expect(new Set(started).size).toBe(started.length);
        expect(ended.every((iv) => iv.ended_at! > iv.started_at)).toBe(true);
        // Closed: exactly the batch view's, figures included. (An interval closed exactly at
        // `until` is open in a window that ends there: compare it through a longer window.)
        const closedBatch = overLimitIntervals(steps, { from: T0 - TICK, to: until + 1 }, grace).filter((iv) => iv.ended_at !== null);
        expect(ended).toEqual(closedBatch);

        // The open one: integrals up to `until`, maxima including the instant `until`.
        const openSoFar = batch.find((iv) => iv.ended_at === null) ?? null;
        const openWithInstant = overLimitIntervals(steps, { from: T0 - TICK, to: until + 1 }, grace).find((iv) => iv.ended_at === null);
        if (!openWithInstant) {
          expect(live.interval).toBeNull();
        } else {
          // (An interval opened exactly at `until` has no length yet: no integrals.)
          expect(live.interval).toEqual({
            ...openWithInstant,
            overage_seat_seconds: openSoFar?.overage_seat_seconds ?? 0,
            billable_seat_seconds: openSoFar?.billable_seat_seconds ?? 0,
          });
        }
      }),
      { numRuns: RUNS },
    );
  });

  it("the event stream is exactly the reference's, same-ms steps and alarms at exact deadlines included", () => {
    fc.assert(
      fc.property(trackerCase({}), ([steps, grace, extras, until]) => {
        const { events, live } = runTracker(steps, grace, extras, until);
        const sim = simulate(steps, grace * 1000, T0, until);
        const upTo = sim.ticks.filter((tick) => tick.x <= until);

        // started/ended alternate, one pair per reference interval: no state that did not last.
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
        expect(live).toMatchObject({
          over_limit: now.overage > 0,
          overage: now.overage,
          billable_now: now.billable,
          grace_ends_at: pending.length ? Math.min(...pending) : null,
        });
      }),
      { numRuns: RUNS },
    );
  });

  it("with strictly increasing times too", () => {
    fc.assert(
      fc.property(trackerCase({ distinctTimes: true }), ([steps, grace, extras, until]) => {
        const { events } = runTracker(steps, grace, extras, until);
        const sim = simulate(steps, grace * 1000, T0, until);
        const starts = events.flatMap((e) => (e.type === "overage.started" ? [e.interval.started_at] : []));
        expect(starts).toEqual(sim.intervals.filter((i) => i.start <= until).map((i) => i.start));
      }),
      { numRuns: RUNS },
    );
  });
});
