/**
 * A brute-force model of the cumulative grace policy (docs/licensing.md#grace-policies), in the
 * style of overage-reference.ts: it walks time tick by tick and follows every numbered place by
 * itself, with the place's over-limit time since the cycle start. Exact when every step time,
 * window bound, cycle start and grace is a multiple of TICK.
 */
import type { UsageStep } from "../../src/domain/overage";
import { TICK } from "./overage-reference";

export interface CumulativeTick {
  x: number;
  active: number;
  limit: number;
  overage: number;
  /** Places over the limit whose over-limit time in the cycle, before x, is at least the grace. */
  billable: number;
  /** Of those, the ones that were not billable at the previous tick (they become billable at x). */
  crossing: number;
}

function stateAt(steps: readonly UsageStep[], x: number): { active: number; limit: number } {
  let state = { active: 0, limit: steps.length ? steps[0].limit : 0 };
  for (const step of steps) if (step.t <= x) state = { active: step.active, limit: step.limit };
  return state;
}

/** Ticks from before the first step to past `to`; `isCycleStart(x)` resets every place's time. */
export function simulateCumulative(steps: readonly UsageStep[], graceMs: number, from: number, to: number, isCycleStart: (x: number) => boolean) {
  const first = Math.min(steps.length ? steps[0].t : from, from) - TICK;
  const last = Math.max(steps.length ? steps[steps.length - 1].t : from, to) + TICK;
  const acc = new Map<number, number>(); // place -> over-limit ms in the cycle before the current tick
  let wasBillable = new Set<number>();
  const ticks: CumulativeTick[] = [];
  for (let x = first; x <= last; x += TICK) {
    if (isCycleStart(x)) acc.clear();
    const { active, limit } = stateAt(steps, x);
    const billableNow = new Set<number>();
    for (let n = limit + 1; n <= active; n++) if ((acc.get(n) ?? 0) >= graceMs) billableNow.add(n);
    let crossing = 0;
    for (const n of billableNow) if (!wasBillable.has(n)) crossing++;
    ticks.push({ x, active, limit, overage: Math.max(0, active - limit), billable: billableNow.size, crossing });
    for (let n = limit + 1; n <= active; n++) acc.set(n, (acc.get(n) ?? 0) + TICK);
    wasBillable = billableNow;
  }
  return ticks;
}

/** The figures of the ticks in [from, to), intervals as in overage-reference.ts. */
export function refSummarizeCumulative(steps: readonly UsageStep[], from: number, to: number, graceMs: number, isCycleStart: (x: number) => boolean) {
  const ticks = simulateCumulative(steps, graceMs, from, to, isCycleStart);
  const inWindow = ticks.filter((t) => t.x >= from && t.x < to);
  let intervals = 0;
  let billableIntervals = 0;
  let open: { billable: boolean } | null = null;
  for (const t of ticks) {
    if (t.overage === 0) {
      open = null;
      continue;
    }
    const inside = t.x >= from && t.x < to;
    if (!open) open = { billable: false };
    if (inside && !("counted" in open)) {
      Object.assign(open, { counted: true });
      intervals++;
    }
    if (inside && t.billable > 0 && !open.billable) {
      open.billable = true;
      billableIntervals++;
    }
  }
  return {
    peak_active: Math.max(0, ...inWindow.map((t) => t.active)),
    peak_overage: Math.max(0, ...inWindow.map((t) => t.overage)),
    overage_seat_seconds: inWindow.reduce((a, t) => a + (t.overage * TICK) / 1000, 0),
    billable_overage_seats: Math.max(0, ...inWindow.map((t) => t.billable)),
    billable_seat_seconds: inWindow.reduce((a, t) => a + (t.billable * TICK) / 1000, 0),
    intervals,
    billable_intervals: billableIntervals,
  };
}
