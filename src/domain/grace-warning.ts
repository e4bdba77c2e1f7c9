/**
 * The warning before an over-run's grace ends (docs/licensing.md#grace-ending-warning).
 *
 * Pure rules: no I/O, no clock. Given the pool's over-runs (positions lo..hi, billable from
 * `start + grace` on, as the overage engine keeps them under either grace policy), the warning
 * for a grace deadline D is due from D − warn on, once per deadline, and carries the positions
 * that will be billable at D if nothing changes (those already billable plus those crossing at or
 * before D), which is the `billable_now` of the `overage.billable` that D would bring.
 */

/** The part of an over-run the warning needs (OverRun satisfies it). */
export interface WarnRun {
  lo: number;
  hi: number;
  start: number;
  billable: boolean;
}

export interface GraceWarning {
  /** The grace deadline (ms) this warning is about. */
  graceEndsAt: number;
  /** Positions billable at graceEndsAt if nothing changes. */
  seats: number;
}

export interface WarningPlan {
  /** Warnings due now, earliest deadline first. */
  due: GraceWarning[];
  /** When the next warning falls due (ms), or null while no deadline is left to warn about. */
  wakeAt: number | null;
}

/**
 * Which warnings are due at `now`. `warned`: deadlines already warned about (never warned twice;
 * a set, not a watermark: under `cumulative` a later over-run can have an earlier deadline). Only deadlines still ahead (D > now) are warned
 * about: a crossing that is due already is announced by `overage.billable`. When warn >= grace the
 * warning moment is at or before the over-run's start: it is due at once (the first look after it).
 * warn 0 is off.
 */
export function planGraceWarnings(runs: readonly WarnRun[], graceMs: number, warnMs: number, warned: ReadonlySet<number>, now: number): WarningPlan {
  if (warnMs <= 0) return { due: [], wakeAt: null };
  const deadlines = [...new Set(runs.filter((r) => !r.billable).map((r) => r.start + graceMs))]
    .filter((d) => d > now && !warned.has(d))
    .sort((a, b) => a - b);
  const due: GraceWarning[] = [];
  for (const d of deadlines) {
    if (d - warnMs > now) return { due, wakeAt: d - warnMs };
    due.push({ graceEndsAt: d, seats: billableAt(runs, graceMs, d) });
  }
  return { due, wakeAt: null };
}

/** Positions billable at t if nothing changes: already billable, or their grace ended by t. */
export function billableAt(runs: readonly WarnRun[], graceMs: number, t: number): number {
  let n = 0;
  for (const r of runs) if (r.billable || r.start + graceMs <= t) n += r.hi - r.lo + 1;
  return n;
}

/**
 * When a seat change should wake the object for the warnings, from the first deadline still to
 * warn about (`OverageEngine.firstGraceEnd`) alone: what `planGraceWarnings` answers with nothing
 * sent (just after now when one is due, else the first one's warning time), without every run.
 */
export function warningWake(first: number | null, warnMs: number, now: number): number | null {
  if (first === null || !(warnMs > 0)) return null;
  return first - warnMs > now ? first - warnMs : now + 1;
}
