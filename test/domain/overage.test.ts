/** Overage, grace and billable figures (docs/licensing.md#concurrent-overage): the worked examples and edge cases. */
import { describe, expect, it } from "vitest";
import {
  advanceTo,
  applyStep,
  liveStatus,
  newTracker,
  nextGraceDeadline,
  nextWake,
  overLimitIntervals,
  summarize,
  usageBuckets,
  type IntervalFigures,
  type TrackerEvent,
  type TrackerState,
  type UsageStep,
} from "../../src/domain/overage";

const DAY = 86_400_000;
const MIN = 60_000;
const BASE = Date.UTC(2025, 0, 15); // a day at 00:00 UTC
/** hh:mm on the base day, or `day` days later. */
const at = (hh: number, mm: number, day = 0) => BASE + day * DAY + hh * 3_600_000 + mm * MIN;
const GRACE = 1800; // the default 30 minutes, in seconds as the API has it
const wholeDay = (day = 0) => ({ from: BASE + day * DAY, to: BASE + (day + 1) * DAY });
const step = (t: number, active: number, limit = 100): UsageStep => ({ t, active, limit });

/**
 * Feeds steps to a fresh tracker, firing the alarm (advanceTo) at each `nextWake` on the way, as
 * the DO does, and lets time pass the last step (or `until`) so its instant is decided.
 */
function track(steps: UsageStep[], grace = GRACE, until?: number) {
  let state: TrackerState = newTracker(steps[0].limit, steps[0].t - MIN);
  const events: TrackerEvent[] = [];
  const run = (r: { state: TrackerState; events: TrackerEvent[] }) => {
    state = r.state;
    events.push(...r.events);
  };
  const alarmsUntil = (t: number) => {
    for (let d = nextWake(state, grace); d !== null && d <= t; d = nextWake(state, grace)) {
      run(advanceTo(state, d, grace));
    }
  };
  for (const s of steps) {
    alarmsUntil(s.t);
    run(applyStep(state, s, grace));
  }
  const end = until ?? steps[steps.length - 1].t + 1;
  alarmsUntil(end);
  run(advanceTo(state, end, grace));
  return { state, events };
}

const types = (events: TrackerEvent[]) => events.map((e) => e.type);
const ended = (events: TrackerEvent[]): IntervalFigures[] =>
  events.flatMap((e) => (e.type === "overage.ended" ? [e.interval] : []));
const billables = (events: TrackerEvent[]) =>
  events.flatMap((e) => (e.type === "overage.billable" ? [{ at: e.at, billable_now: e.billable_now }] : []));

describe("docs/licensing.md#concurrent-overage worked examples (quantity 100, grace 30 min)", () => {
  it("1. 105 active from 08:00, 5 release at 08:20: one 20 min interval, not billable", () => {
    const steps = [step(at(8, 0), 105), step(at(8, 20), 100)];
    expect(summarize(steps, wholeDay(), GRACE)).toEqual({
      peak_active: 105,
      peak_overage: 5,
      overage_seat_seconds: 5 * 20 * 60,
      billable_overage_seats: 0,
      billable_seat_seconds: 0,
      intervals: 1,
      billable_intervals: 0,
    });
    const [interval] = overLimitIntervals(steps, wholeDay(), GRACE);
    expect(interval).toMatchObject({ started_at: at(8, 0), ended_at: at(8, 20), billable: false });
    expect(interval.ended_at! - interval.started_at).toBe(20 * MIN);

    const { state, events } = track(steps);
    expect(types(events)).toEqual(["overage.started", "overage.ended"]);
    expect(ended(events)).toEqual([interval]);
    expect(nextGraceDeadline(state, GRACE)).toBeNull();
  });

  it("2. 105 active from 08:00 to 08:45: billable, 5 seats, 4,500 billable seat-seconds", () => {
    const steps = [step(at(8, 0), 105), step(at(8, 45), 100)];
    const figures = summarize(steps, wholeDay(), GRACE);
    expect(figures).toMatchObject({ billable_overage_seats: 5, billable_seat_seconds: 4500, billable_intervals: 1 });
    const [interval] = overLimitIntervals(steps, wholeDay(), GRACE);
    expect(interval).toMatchObject({ billable: true, billable_overage_seats: 5, billable_seat_seconds: 4500 });

    const { events } = track(steps);
    expect(types(events)).toEqual(["overage.started", "overage.billable", "overage.ended"]);
    expect(billables(events)).toEqual([{ at: at(8, 30), billable_now: 5 }]);
    expect(ended(events)).toEqual([interval]);
  });

  it("3. 101 active 09:00-10:00 and 130 from 09:25 to 09:35: 1 seat, 1,800 seat-seconds, peak overage 30", () => {
    const steps = [step(at(9, 0), 101), step(at(9, 25), 130), step(at(9, 35), 101), step(at(10, 0), 100)];
    expect(summarize(steps, wholeDay(), GRACE)).toEqual({
      peak_active: 130,
      peak_overage: 30,
      overage_seat_seconds: 1 * 3600 + 29 * 600,
      billable_overage_seats: 1,
      billable_seat_seconds: 1800,
      intervals: 1,
      billable_intervals: 1,
    });

    const { events } = track(steps);
    expect(types(events)).toEqual(["overage.started", "overage.billable", "overage.ended"]);
    // Positions 102-130 would pass their grace at 09:55 but were released at 09:35.
    expect(billables(events)).toEqual([{ at: at(9, 30), billable_now: 1 }]);
    expect(ended(events)).toEqual(overLimitIntervals(steps, wholeDay(), GRACE));
  });

  it("4. 110 active 23:50 to 00:40 across a cycle boundary: the first cycle bills 0, the second 10 seats", () => {
    const steps = [step(at(23, 50), 110), step(at(0, 40, 1), 100)];
    expect(summarize(steps, wholeDay(0), GRACE)).toEqual({
      peak_active: 110,
      peak_overage: 10,
      overage_seat_seconds: 10 * 600,
      billable_overage_seats: 0,
      billable_seat_seconds: 0,
      intervals: 1,
      billable_intervals: 0,
    });
    expect(summarize(steps, wholeDay(1), GRACE)).toEqual({
      peak_active: 110,
      peak_overage: 10,
      overage_seat_seconds: 10 * 2400,
      billable_overage_seats: 10,
      billable_seat_seconds: 10 * 20 * 60,
      intervals: 1,
      billable_intervals: 1,
    });
    // Listed in both cycles with its figures from its start; still open at the first cycle's end.
    expect(overLimitIntervals(steps, wholeDay(0), GRACE)).toEqual([
      expect.objectContaining({ started_at: at(23, 50), ended_at: null, billable: false }),
    ]);
    const [whole] = overLimitIntervals(steps, wholeDay(1), GRACE);
    expect(whole).toMatchObject({ started_at: at(23, 50), ended_at: at(0, 40, 1), billable_seat_seconds: 12000 });

    const { events } = track(steps);
    expect(billables(events)).toEqual([{ at: at(0, 20, 1), billable_now: 10 }]);
    expect(ended(events)).toEqual([whole]);
  });

  it("5. quantity raised 100 -> 110 at 08:10 while 110 active since 08:00: ends at 08:10, nothing billable", () => {
    const steps = [step(at(8, 0), 110, 100), step(at(8, 10), 110, 110)];
    expect(summarize(steps, wholeDay(), GRACE)).toMatchObject({
      overage_seat_seconds: 10 * 600,
      billable_overage_seats: 0,
      intervals: 1,
      billable_intervals: 0,
    });
    const [interval] = overLimitIntervals(steps, wholeDay(), GRACE);
    expect(interval).toMatchObject({ started_at: at(8, 0), ended_at: at(8, 10), billable: false });

    const { state, events } = track(steps, GRACE, at(9, 0));
    expect(types(events)).toEqual(["overage.started", "overage.ended"]);
    expect(ended(events)).toEqual([interval]);
    expect(nextGraceDeadline(state, GRACE)).toBeNull();
  });
});

describe("over-runs, position by position", () => {
  it("a limit that drops and comes back restarts only the positions it uncovered", () => {
    // 105 active; limit 100 -> 103 at t1 -> 100 at t2: 101-103 restart at t2, 104-105 keep t0.
    const t0 = at(8, 0);
    const runsAfter = (steps: UsageStep[]) =>
      track(steps).state.runs.map(({ lo, hi, start }) => ({ lo, hi, start }));
    expect(runsAfter([step(t0, 105, 100)])).toEqual([{ lo: 101, hi: 105, start: t0 }]);
    expect(runsAfter([step(t0, 105, 100), step(at(8, 10), 105, 103)])).toEqual([{ lo: 104, hi: 105, start: t0 }]);
    expect(runsAfter([step(t0, 105, 100), step(at(8, 10), 105, 103), step(at(8, 20), 105, 100)])).toEqual([
      { lo: 101, hi: 103, start: at(8, 20) },
      { lo: 104, hi: 105, start: t0 },
    ]);

    const steps = [step(t0, 105, 100), step(at(8, 10), 105, 103), step(at(8, 20), 105, 100), step(at(9, 0), 100)];
    expect(summarize(steps, { from: at(8, 30), to: at(8, 31) }, GRACE).billable_overage_seats).toBe(2);
    expect(summarize(steps, { from: at(8, 50), to: at(8, 51) }, GRACE).billable_overage_seats).toBe(5);
    const { events } = track(steps);
    expect(billables(events)).toEqual([
      { at: at(8, 30), billable_now: 2 },
      { at: at(8, 50), billable_now: 5 },
    ]);
  });

  it("positions above a falling active lose their over-run; rising again starts a new one", () => {
    const steps = [step(at(8, 0), 105), step(at(8, 20), 102), step(at(8, 25), 105), step(at(9, 30), 100)];
    // 101-102 over since 08:00 (billable from 08:30), 103-105 restart at 08:25 (billable from 08:55).
    expect(summarize(steps, wholeDay(), GRACE)).toMatchObject({
      billable_overage_seats: 5,
      billable_seat_seconds: 2 * 60 * 60 + 3 * 35 * 60,
    });
    expect(billables(track(steps).events)).toEqual([
      { at: at(8, 30), billable_now: 2 },
      { at: at(8, 55), billable_now: 5 },
    ]);
  });

  it("an over-run ending exactly at its grace has an empty billable part", () => {
    const steps = [step(at(8, 0), 101), step(at(8, 30), 100)];
    expect(summarize(steps, wholeDay(), GRACE)).toMatchObject({ billable_overage_seats: 0, billable_intervals: 0 });
    const { events } = track(steps.slice(0, 1));
    const released = applyStep(track(steps.slice(0, 1)).state, steps[1], GRACE);
    // The release's instant is decided once time has moved past it.
    expect(released.events).toEqual([]);
    const after = advanceTo(released.state, at(8, 30) + 1, GRACE);
    expect(types([...events, ...after.events])).toEqual(["overage.started", "overage.ended"]);
    expect(ended(after.events)[0].billable).toBe(false);
  });

  it("one ms past its grace is billable for that ms", () => {
    const steps = [step(at(8, 0), 101), step(at(8, 30) + 1, 100)];
    expect(summarize(steps, wholeDay(), GRACE)).toMatchObject({ billable_overage_seats: 1, billable_seat_seconds: 0.001 });
    expect(billables(track(steps).events)).toEqual([{ at: at(8, 30), billable_now: 1 }]);
  });

  it("grace 0: every over seat is billable at once", () => {
    const steps = [step(at(8, 0), 103), step(at(8, 10), 100)];
    expect(summarize(steps, wholeDay(), 0)).toMatchObject({
      peak_overage: 3,
      billable_overage_seats: 3,
      billable_seat_seconds: 1800,
      billable_intervals: 1,
    });
    const { events } = track(steps, 0);
    expect(types(events)).toEqual(["overage.started", "overage.billable", "overage.ended"]);
    expect(billables(events)).toEqual([{ at: at(8, 0), billable_now: 3 }]);
  });

  it("an alarm at the exact grace deadline and a release in that same ms: no billable event (issue 10)", () => {
    // 101 active from 08:00, grace 30 min; the alarm runs at 08:30, a release lands in that ms.
    let state = newTracker(100, at(7, 0));
    const events: TrackerEvent[] = [];
    const run = (r: { state: TrackerState; events: TrackerEvent[] }) => {
      state = r.state;
      events.push(...r.events);
    };
    run(applyStep(state, step(at(8, 0), 101), GRACE));
    run(advanceTo(state, at(8, 30), GRACE)); // the alarm, at the deadline itself
    run(applyStep(state, step(at(8, 30), 100), GRACE));
    run(advanceTo(state, at(8, 30) + 1, GRACE));
    expect(types(events)).toEqual(["overage.started", "overage.ended"]);
    expect(ended(events)[0]).toMatchObject({ started_at: at(8, 0), ended_at: at(8, 30), billable: false, billable_seat_seconds: 0 });
    expect(ended(events)).toEqual(overLimitIntervals([step(at(8, 0), 101), step(at(8, 30), 100)], wholeDay(), GRACE));
  });

  it("steps in the same ms collapse to the last: a release and a checkout keep the seat over", () => {
    const steps = [step(at(8, 0), 101), step(at(8, 20), 100), step(at(8, 20), 101), step(at(8, 40), 100)];
    expect(summarize(steps, wholeDay(), GRACE)).toMatchObject({
      intervals: 1,
      billable_overage_seats: 1,
      billable_seat_seconds: 600,
    });
    const [interval] = overLimitIntervals(steps, wholeDay(), GRACE);
    expect(interval).toMatchObject({ started_at: at(8, 0), ended_at: at(8, 40) });

    // One interval end to end: the 08:20 release that the checkout undid in the same ms never ended it.
    const { events } = track(steps);
    expect(types(events)).toEqual(["overage.started", "overage.billable", "overage.ended"]);
    expect(billables(events)).toEqual([{ at: at(8, 30), billable_now: 1 }]);
    expect(ended(events)).toEqual([interval]);
  });

  it("an interval opened and undone in the same ms is no interval at all", () => {
    const steps = [step(at(8, 0), 101), step(at(8, 0), 100)];
    expect(overLimitIntervals(steps, wholeDay(), GRACE)).toEqual([]);
    expect(summarize(steps, wholeDay(), GRACE).intervals).toBe(0);
    expect(track(steps).events).toEqual([]);
  });

  it("a seat released and taken back in the same ms as its over-run's grace ends stays billable from then", () => {
    const steps = [step(at(8, 0), 101), step(at(8, 30), 100), step(at(8, 30), 101), step(at(8, 40), 100)];
    expect(summarize(steps, wholeDay(), GRACE)).toMatchObject({ intervals: 1, billable_overage_seats: 1, billable_seat_seconds: 600 });
    const { events } = track(steps);
    expect(types(events)).toEqual(["overage.started", "overage.billable", "overage.ended"]);
    expect(billables(events)).toEqual([{ at: at(8, 30), billable_now: 1 }]);
  });
});

describe("summarize windows", () => {
  const steps = [step(at(8, 0), 105), step(at(8, 45), 100)];

  it("a window inside the billable part", () => {
    expect(summarize(steps, { from: at(8, 35), to: at(8, 40) }, GRACE)).toEqual({
      peak_active: 105,
      peak_overage: 5,
      overage_seat_seconds: 5 * 300,
      billable_overage_seats: 5,
      billable_seat_seconds: 5 * 300,
      intervals: 1,
      billable_intervals: 1,
    });
  });

  it("a window inside the grace counts the interval but not as billable", () => {
    expect(summarize(steps, { from: at(8, 10), to: at(8, 30) }, GRACE)).toMatchObject({
      intervals: 1,
      billable_intervals: 0,
      billable_overage_seats: 0,
    });
  });

  it("a window ending where the interval starts, or starting where it ends, does not overlap it", () => {
    expect(summarize(steps, { from: at(7, 0), to: at(8, 0) }, GRACE)).toMatchObject({ intervals: 0, peak_active: 0 });
    expect(summarize(steps, { from: at(8, 45), to: at(9, 0) }, GRACE)).toMatchObject({ intervals: 0, peak_active: 100 });
    expect(overLimitIntervals(steps, { from: at(8, 45), to: at(9, 0) }, GRACE)).toEqual([]);
  });

  it("an empty window and an empty log give zeros", () => {
    const zero = summarize([], wholeDay(), GRACE);
    expect(zero).toEqual(summarize(steps, { from: at(9, 0), to: at(9, 0) }, GRACE));
    expect(zero).toMatchObject({ peak_active: 0, intervals: 0, billable_seat_seconds: 0 });
  });

  it("steps before the window give the state at its start; an interval still open has ended_at null", () => {
    const open = [step(at(8, 0), 103)];
    expect(summarize(open, { from: at(9, 0), to: at(10, 0) }, GRACE)).toMatchObject({
      billable_overage_seats: 3,
      billable_seat_seconds: 3 * 3600,
      intervals: 1,
    });
    expect(overLimitIntervals(open, { from: at(9, 0), to: at(10, 0) }, GRACE)).toEqual([
      {
        started_at: at(8, 0),
        ended_at: null,
        peak_active: 103,
        peak_overage: 3,
        overage_seat_seconds: 3 * 7200,
        billable_overage_seats: 3,
        billable_seat_seconds: 3 * 5400,
        billable: true,
      },
    ]);
  });

  it("rejects unsorted steps and a negative grace", () => {
    expect(() => summarize([step(at(9, 0), 1), step(at(8, 0), 1)], wholeDay(), GRACE)).toThrow(RangeError);
    expect(() => summarize(steps, wholeDay(), -1)).toThrow(RangeError);
  });
});

describe("usageBuckets", () => {
  it("max active and max limit per bucket, with the state carried in", () => {
    const steps = [step(at(8, 0), 90), step(at(8, 20), 105), step(at(8, 25), 95), step(at(9, 10), 95, 120)];
    expect(usageBuckets(steps, { from: at(7, 30), to: at(9, 45) }, 1800)).toEqual([
      { t: at(7, 30), max_active: 0, limit: 100 }, // before the first step: empty
      { t: at(8, 0), max_active: 105, limit: 100 },
      { t: at(8, 30), max_active: 95, limit: 100 },
      { t: at(9, 0), max_active: 95, limit: 120 },
      { t: at(9, 30), max_active: 95, limit: 120 }, // cut at `to`
    ]);
  });

  it("before the first step the pool is empty at the first step's limit", () => {
    expect(usageBuckets([step(at(8, 0), 5, 10)], { from: at(7, 0), to: at(8, 0) }, 3600)).toEqual([
      { t: at(7, 0), max_active: 0, limit: 10 },
    ]);
  });

  it("rejects a non-positive step", () => {
    expect(() => usageBuckets([], wholeDay(), 0)).toThrow(RangeError);
  });
});

describe("the online tracker", () => {
  const steps = [step(at(8, 0), 105), step(at(8, 45), 100)];

  it("liveStatus: figures so far, billable_now and when the grace ends", () => {
    const { state } = track(steps.slice(0, 1));
    expect(liveStatus(state, at(8, 15), GRACE)).toEqual({
      over_limit: true,
      overage: 5,
      billable_now: 0,
      grace_ends_at: at(8, 30),
      interval: expect.objectContaining({ started_at: at(8, 0), ended_at: null, overage_seat_seconds: 5 * 900 }),
    });
    expect(liveStatus(state, at(8, 40), GRACE)).toMatchObject({
      billable_now: 5,
      grace_ends_at: null,
      interval: { billable: true, billable_overage_seats: 5, billable_seat_seconds: 5 * 600 },
    });
    // Reading the past reads the last step.
    expect(liveStatus(state, at(7, 0), GRACE)).toMatchObject({ overage: 5, billable_now: 0 });
    expect(liveStatus(newTracker(100, at(7, 0)), at(8, 0), GRACE)).toEqual({
      over_limit: false,
      overage: 0,
      billable_now: 0,
      grace_ends_at: null,
      interval: null,
    });
  });

  it("without an alarm, the next step still reports the crossings before it, in order", () => {
    const { events } = track(steps.slice(0, 1));
    const stateAt8 = track(steps.slice(0, 1)).state;
    const r = applyStep(stateAt8, steps[1], GRACE);
    expect(types(events)).toEqual(["overage.started"]);
    // The crossing before the step comes out with it; the step's own outcome once its ms passed.
    expect(types(r.events)).toEqual(["overage.billable"]);
    expect(r.events[0]).toMatchObject({ at: at(8, 30), billable_now: 5 });
    expect(types(advanceTo(r.state, at(8, 45) + 1, GRACE).events)).toEqual(["overage.ended"]);
  });

  it("the alarm is idempotent: advancing again or to an earlier time emits nothing", () => {
    const { state } = track(steps.slice(0, 1));
    // At the deadline itself nothing is decided yet (a step may still land in that ms).
    expect(advanceTo(state, at(8, 30), GRACE).events).toEqual([]);
    expect(nextWake(state, GRACE)).toBe(at(8, 30) + 1);
    const first = advanceTo(state, at(8, 30) + 1, GRACE);
    expect(billables(first.events)).toEqual([{ at: at(8, 30), billable_now: 5 }]);
    expect(advanceTo(first.state, at(8, 30) + 1, GRACE).events).toEqual([]);
    expect(advanceTo(first.state, at(8, 20), GRACE).events).toEqual([]);
    expect(advanceTo(first.state, at(8, 31), GRACE).events).toEqual([]);
    expect(nextGraceDeadline(first.state, GRACE)).toBeNull();
  });

  it("does not modify its input and survives a JSON round trip", () => {
    const { state } = track(steps.slice(0, 1));
    const frozen = JSON.stringify(state);
    const direct = applyStep(state, steps[1], GRACE);
    expect(JSON.stringify(state)).toBe(frozen);
    const revived = applyStep(JSON.parse(frozen) as TrackerState, steps[1], GRACE);
    expect(revived).toEqual(direct);
  });

  it("rejects a step before its last one", () => {
    const { state } = track(steps.slice(0, 1));
    expect(() => applyStep(state, step(at(7, 0), 100), GRACE)).toThrow(RangeError);
  });

  it("nextGraceDeadline is the earliest start + grace not yet passed", () => {
    let state = newTracker(100, at(7, 0));
    expect(nextGraceDeadline(state, GRACE)).toBeNull();
    state = applyStep(state, step(at(8, 0), 101), GRACE).state;
    expect(nextGraceDeadline(state, GRACE)).toBe(at(8, 30));
    state = applyStep(state, step(at(8, 10), 104), GRACE).state;
    expect(nextGraceDeadline(state, GRACE)).toBe(at(8, 30));
    state = advanceTo(state, at(8, 30) + 1, GRACE).state;
    expect(nextGraceDeadline(state, GRACE)).toBe(at(8, 40));
  });
});
