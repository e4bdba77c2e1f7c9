/**
 * Pool thresholds (docs/licensing.md#thresholds): a pool's `alerts` are percentages of its quantity;
 * each upward crossing is announced once (`pool.threshold`), and a threshold re-arms once the pool
 * has fallen 5 points below it. Pure rules: integers only (no rounding of percentages).
 */

export const DEFAULT_ALERTS: readonly number[] = [80, 100];
export const MAX_ALERTS = 10;
export const MIN_PERCENT = 1;
export const MAX_PERCENT = 1000;
/** Points below a threshold the pool must fall to before it can be announced again. */
export const REARM_POINTS = 5;

/**
 * Threshold p is reached when active / quantity >= p %, i.e. 100·active >= p·quantity, with at
 * least one seat in use (a pool of quantity 0 reaches every threshold with its first seat).
 */
export const reached = (p: number, active: number, quantity: number): boolean => active > 0 && 100 * active >= p * quantity;

/** Threshold p re-arms when active / quantity <= (p − 5) % (an empty pool re-arms every threshold). */
export const rearms = (p: number, active: number, quantity: number): boolean => 100 * active <= Math.max(0, p - REARM_POINTS) * quantity;

/** percent -> armed */
export type ThresholdState = ReadonlyMap<number, boolean>;

/**
 * The state for a (new) list of thresholds: kept ones keep their state; a new one is armed unless
 * the pool is at or above it already (setting a threshold is not a crossing).
 */
export function configure(state: ThresholdState, alerts: readonly number[], active: number, quantity: number): Map<number, boolean> {
  return new Map(alerts.map((p) => [p, state.get(p) ?? !reached(p, active, quantity)]));
}

/** The pool now has `active` seats in use against `quantity`: the thresholds crossed upward (ascending) and the new state. */
export function step(state: ThresholdState, active: number, quantity: number): { state: Map<number, boolean>; fired: number[] } {
  const next = new Map<number, boolean>();
  const fired: number[] = [];
  for (const [p, armed] of [...state.entries()].sort(([a], [b]) => a - b)) {
    if (armed && reached(p, active, quantity)) {
      fired.push(p);
      next.set(p, false);
    } else if (!armed && rearms(p, active, quantity)) next.set(p, true);
    else next.set(p, armed);
  }
  return { state: next, fired };
}

/** A list as the API takes it: integers 1..1000, at most 10, no repeats; stored ascending. */
export function normalizeAlerts(alerts: readonly number[]): number[] {
  return [...new Set(alerts)].sort((a, b) => a - b);
}
