/**
 * A brute-force model of docs/licensing.md#concurrent-overage for the property tests: it walks time tick by tick
 * and follows every numbered position by itself. Slow and obviously right, provided every
 * step time, window bound and grace is a multiple of TICK (then nothing changes inside a tick).
 */
import type { UsageStep } from "../../src/domain/overage";

export const TICK = 1000;

/** The pool at one tick: the state on [x, x + TICK). */
export interface TickState {
  x: number;
  active: number;
  limit: number;
  overage: number;
  /** Positions whose current over-run started at least grace ago. */
  billable: number;
  /** Positions whose grace ends exactly at x (and that are still over at x). */
  crossing: number;
  /** Position -> start of its current over-run. */
  starts: Map<number, number>;
}

export interface RefInterval {
  start: number;
  /** Infinity if still over at the end of the simulation (the last state lasts forever). */
  end: number;
}

export interface Simulation {
  ticks: TickState[];
  intervals: RefInterval[];
}

/** The state at x: the last step with t <= x; before any step, active 0 at the first step's limit. */
function stateAt(steps: readonly UsageStep[], x: number): { active: number; limit: number } {
  let state = { active: 0, limit: steps.length ? steps[0].limit : 0 };
  for (const step of steps) if (step.t <= x) state = { active: step.active, limit: step.limit };
  return state;
}

/** Simulates every tick from before the first step (or `from`) to past the last step (and `to`). */
export function simulate(steps: readonly UsageStep[], graceMs: number, from: number, to: number): Simulation {
  const lastStep = steps.length ? steps[steps.length - 1].t : from;
  const first = Math.min(steps.length ? steps[0].t : from, from) - TICK;
  const last = Math.max(lastStep, to) + TICK;
  const starts = new Map<number, number>();
  const ticks: TickState[] = [];
  const intervals: RefInterval[] = [];
  for (let x = first; x <= last; x += TICK) {
    const { active, limit } = stateAt(steps, x);
    const top = Math.max(active, ...starts.keys());
    for (let n = 1; n <= top; n++) {
      const over = active >= n && n > limit;
      if (over && !starts.has(n)) starts.set(n, x);
      if (!over) starts.delete(n);
    }
    let billable = 0;
    let crossing = 0;
    for (const s of starts.values()) {
      if (s + graceMs <= x) billable++;
      if (s + graceMs === x) crossing++;
    }
    const overage = Math.max(0, active - limit);
    ticks.push({ x, active, limit, overage, billable, crossing, starts: new Map(starts) });

    const open = intervals[intervals.length - 1];
    if (overage > 0 && !(open && open.end === Infinity)) intervals.push({ start: x, end: Infinity });
    if (overage === 0 && open && open.end === Infinity) open.end = x;
  }
  return { ticks, intervals };
}

export interface RefFigures {
  peak_active: number;
  peak_overage: number;
  overage_seat_seconds: number;
  billable_overage_seats: number;
  billable_seat_seconds: number;
}

/** The figures of the ticks in [from, to). */
export function figuresOver(sim: Simulation, from: number, to: number): RefFigures {
  const out: RefFigures = {
    peak_active: 0,
    peak_overage: 0,
    overage_seat_seconds: 0,
    billable_overage_seats: 0,
    billable_seat_seconds: 0,
  };
  for (const tick of sim.ticks) {
    if (tick.x < from || tick.x >= to) continue;
    out.peak_active = Math.max(out.peak_active, tick.active);
    out.peak_overage = Math.max(out.peak_overage, tick.overage);
    out.overage_seat_seconds += (tick.overage * TICK) / 1000;
    out.billable_overage_seats = Math.max(out.billable_overage_seats, tick.billable);
    out.billable_seat_seconds += (tick.billable * TICK) / 1000;
  }
  return out;
}

export function refSummarize(steps: readonly UsageStep[], from: number, to: number, graceMs: number) {
  const sim = simulate(steps, graceMs, from, to);
  let intervals = 0;
  let billableIntervals = 0;
  for (const iv of sim.intervals) {
    const a = Math.max(iv.start, from);
    const b = Math.min(iv.end, to);
    if (a >= b) continue;
    intervals++;
    if (figuresOver(sim, a, b).billable_overage_seats > 0) billableIntervals++;
  }
  return { ...figuresOver(sim, from, to), intervals, billable_intervals: billableIntervals };
}

export function refIntervals(steps: readonly UsageStep[], from: number, to: number, graceMs: number) {
  const sim = simulate(steps, graceMs, from, to);
  return sim.intervals
    .filter((iv) => Math.max(iv.start, from) < Math.min(iv.end, to)) // a positive-length overlap
    .map((iv) => {
      const figures = figuresOver(sim, iv.start, Math.min(iv.end, to));
      return {
        started_at: iv.start,
        ended_at: iv.end <= to ? iv.end : null,
        ...figures,
        billable: figures.billable_overage_seats > 0,
      };
    });
}

/** Usage chart: max active and max limit over the ticks of each bucket. */
export function refBuckets(steps: readonly UsageStep[], from: number, to: number, stepMs: number) {
  const sim = simulate(steps, 0, from, to);
  const out: { t: number; max_active: number; limit: number }[] = [];
  for (let b = from; b < to; b += stepMs) {
    const ticks = sim.ticks.filter((tick) => tick.x >= b && tick.x < Math.min(b + stepMs, to));
    out.push({
      t: b,
      max_active: Math.max(0, ...ticks.map((tick) => tick.active)),
      limit: Math.max(0, ...ticks.map((tick) => tick.limit)),
    });
  }
  return out;
}
