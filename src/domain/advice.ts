/**
 * The right-sizing advisor: from a pool's own history over past billing cycles, the quantity
 * that would have billed no overage, the quantity that would have cost least, and what a named
 * pool would have needed as a concurrent one. Pure functions, no I/O, no clock.
 *
 * The key fact (per-over-run grace, docs/licensing.md#concurrent-overage): with a constant
 * quantity q, place n > q is billable at t exactly when at least n seats were active throughout
 * [t - grace, t]. So billable_now(t) = max(0, m(t) - q) where m(t) is the least active count
 * over the last grace period, and a cycle's billed seats are max(0, M - q) with M the largest
 * m(t) inside the cycle: one number per cycle answers the question for every q at once.
 */
import type { UsageStep, Window } from "./overage";
import { graceMs } from "./overage";

/**
 * M: the largest over t in [from, to) of the least active count on [t - grace, t]. The lowest
 * constant quantity at which the window bills no overage. `steps` must start at or before
 * `from - grace` with the state carried in (earlier than the first step counts as 0 active);
 * steps at the same t collapse to the last, as everywhere.
 */
export function sustainedPeak(steps: Iterable<UsageStep>, window: Window, graceSeconds: number): number {
  return peaks(steps, window, graceSeconds).sustained_peak;
}

/** The most seats active at once in the window, and its sustained peak (above), in one pass over the steps. */
export function peaks(steps: Iterable<UsageStep>, window: Window, graceSeconds: number): { peak_active: number; sustained_peak: number } {
  const grace = graceMs(graceSeconds);
  if (window.from >= window.to) return { peak_active: 0, sustained_peak: 0 };
  // Constant segments [start, end) of active, as two number arrays (a month of steps stays small);
  // before the first step, 0. A step at the same t as the previous one replaces it.
  const starts: number[] = [-Infinity];
  const values: number[] = [0];
  for (const step of steps) {
    const last = starts.length - 1;
    if (step.t < starts[last]) throw new RangeError("usage steps must be sorted by t");
    if (step.t === starts[last]) values[last] = step.active;
    else {
      starts.push(step.t);
      values.push(step.active);
    }
  }
  const endOf = (i: number) => (i + 1 < starts.length ? starts[i + 1] : Infinity);
  let peakActive = 0;
  for (let i = 0; i < starts.length; i++) {
    if (starts[i] < window.to && endOf(i) > window.from) peakActive = Math.max(peakActive, values[i]);
  }

  // m(t) changes only where a segment enters (t = start) or leaves (t = end + grace): the max
  // over the window is reached at one of those moments, or at `from`.
  const moments = [window.from];
  for (let i = 1; i < starts.length; i++) {
    if (starts[i] > window.from && starts[i] < window.to) moments.push(starts[i]);
    const leaves = endOf(i - 1) + grace;
    if (leaves > window.from && leaves < window.to) moments.push(leaves);
  }
  moments.sort((a, b) => a - b);

  // Sliding-window minimum over the segments that meet [t - grace, t], with a monotonic deque.
  const deque: number[] = [];
  let head = 0;
  let next = 0; // next segment not yet entered
  let best = 0;
  for (const t of moments) {
    while (next < starts.length && starts[next] <= t) {
      while (deque.length > head && values[deque[deque.length - 1]] >= values[next]) deque.pop();
      deque.push(next++);
    }
    while (deque.length > head && endOf(deque[head]) <= t - grace) head++;
    if (deque.length > head) best = Math.max(best, values[deque[head]]);
  }
  return { peak_active: peakActive, sustained_peak: best };
}

/** A pool's prices, integer minor units: a seat for one cycle, and one billable overage seat for one cycle. */
export interface PoolPrice {
  seat: number;
  overage_seat: number;
}

/** What one past cycle says about a pool. */
export interface CycleFigures {
  cycle_start: string;
  cycle_end: string;
  /** The most seats active at once. */
  peak_active: number;
  /** The lowest quantity that would have billed no overage in this cycle (sustainedPeak). */
  sustained_peak: number;
}

/** The cost of `quantity` over the cycles: seats every cycle, plus each cycle's billable overage. */
export function costAt(quantity: number, cycles: readonly Pick<CycleFigures, "sustained_peak">[], price: PoolPrice): number {
  let cost = 0;
  for (const c of cycles) cost += quantity * price.seat + Math.max(0, c.sustained_peak - quantity) * price.overage_seat;
  return cost;
}

/**
 * The quantity that costs least over the cycles. The cost is convex and piecewise linear in q
 * with corners at 0 and each cycle's sustained peak, so one of those is a minimum. Ties go to
 * the larger quantity: the same money buys fewer billable seats.
 */
export function cheapestQuantity(cycles: readonly Pick<CycleFigures, "sustained_peak">[], price: PoolPrice): number {
  const candidates = [0, ...cycles.map((c) => c.sustained_peak)];
  let best = 0;
  let bestCost = Infinity;
  for (const q of candidates) {
    const cost = costAt(q, cycles, price);
    if (cost < bestCost || (cost === bestCost && q > best)) {
      best = q;
      bestCost = cost;
    }
  }
  return best;
}

export interface ConcurrentPoolAdvice {
  pool: string;
  model: "concurrent";
  quantity: number;
  /** The cycles every figure rests on, oldest first. */
  cycles: CycleFigures[];
  /** The lowest quantity at which none of these cycles would have billed overage. */
  no_billable_overage_quantity: number;
  /** Null without a price for the pool. */
  cheapest_quantity: number | null;
  cost_today: number | null;
  cost_cheapest: number | null;
  saving: number | null;
}

export interface NamedPoolAdvice {
  pool: string;
  model: "named";
  quantity: number;
  cycles: CycleFigures[];
  /** The most named seats in use at once in these cycles. */
  peak_concurrency: number;
  /** The concurrent pool of the same tier, and the quantity that would have covered this use with no billable overage. */
  concurrent_pool: string;
  concurrent_quantity: number;
  /** Named cost minus concurrent cost over the cycles; null unless both pools have a price. */
  saving: number | null;
}

export interface AddonAdvice {
  product: string;
  needed: number;
  covered: number;
  shortfall: number;
}

export interface PoolHistory {
  pool: string;
  model: "named" | "concurrent";
  quantity: number;
  cycles: CycleFigures[];
}

export interface AdviceInput {
  pools: readonly PoolHistory[];
  /** pool id -> price; pools without one get no money figures. */
  prices: ReadonlyMap<string, PoolPrice>;
  addons: readonly AddonAdvice[];
}

export interface Advice {
  pools: (ConcurrentPoolAdvice | NamedPoolAdvice)[];
  addons: AddonAdvice[];
}

/** The advice for every pool with at least one past cycle, and every add-on short of seats. */
export function advise(input: AdviceInput): Advice {
  const pools: Advice["pools"] = [];
  for (const p of input.pools) {
    if (p.cycles.length === 0) continue;
    const price = input.prices.get(p.pool) ?? null;
    if (p.model === "concurrent") {
      const cheapest = price ? cheapestQuantity(p.cycles, price) : null;
      const costToday = price ? costAt(p.quantity, p.cycles, price) : null;
      const costCheapest = price && cheapest !== null ? costAt(cheapest, p.cycles, price) : null;
      pools.push({
        pool: p.pool,
        model: "concurrent",
        quantity: p.quantity,
        cycles: p.cycles,
        no_billable_overage_quantity: Math.max(0, ...p.cycles.map((c) => c.sustained_peak)),
        cheapest_quantity: cheapest,
        cost_today: costToday,
        cost_cheapest: costCheapest,
        saving: costToday !== null && costCheapest !== null ? costToday - costCheapest : null,
      });
    } else {
      const concurrentPool = p.pool.replace(/-named$/, "-concurrent");
      const covering = Math.max(0, ...p.cycles.map((c) => c.sustained_peak));
      const concurrentPrice = input.prices.get(concurrentPool) ?? null;
      pools.push({
        pool: p.pool,
        model: "named",
        quantity: p.quantity,
        cycles: p.cycles,
        peak_concurrency: Math.max(0, ...p.cycles.map((c) => c.peak_active)),
        concurrent_pool: concurrentPool,
        concurrent_quantity: covering,
        saving:
          price && concurrentPrice
            ? p.cycles.length * p.quantity * price.seat - costAt(covering, p.cycles, concurrentPrice)
            : null,
      });
    }
  }
  return { pools, addons: input.addons.filter((a) => a.shortfall > 0) };
}
