/**
 * Who counted (docs/licensing.md#who-counted): which seat holds overlap the billable part of an
 * over-limit interval, and who held a seat while the billable peak was reached.
 *
 * Pure rules over epoch milliseconds and half-open periods. Seats are not numbered per user (a
 * place over the limit is a count, not a person), so the users who counted are everyone who held
 * a seat in the pool while some place was billable: the billable part is the set of instants where
 * `billable_now > 0`, the billable peak the instants where it equals its maximum.
 */
import { OverageEngine, type Grace, type UsageStep, type Window } from "./overage";

/** A user's seat in a pool on [from, to); `to` null while the seat is still held. */
export interface Hold {
  user_id: string;
  from: number;
  to: number | null;
}

/** The pool had `billable` places billable throughout [from, to) (> 0). */
export interface BillableSpan {
  from: number;
  to: number;
  billable: number;
  /** The start of the over-limit interval the span lies in. */
  interval_start: number;
}

/** A hold that counted, with how long it overlapped the billable part and whether it was there at the peak. */
export interface HolderRow extends Hold {
  billable_ms: number;
  at_peak: boolean;
}

/**
 * The spans of `window` where places were billable, in time order, neighbours with the same count
 * merged: the same engine (and so the same figures) as `summarize`. Pass the steps from a calm
 * instant before the window (the over-runs' grace began there).
 */
export function billableSpans(steps: Iterable<UsageStep>, window: Window, grace: Grace): BillableSpan[] {
  const out: BillableSpan[] = [];
  if (window.from >= window.to) return out;
  let intervalStart = -Infinity;
  OverageEngine.sweep(steps, grace, window.to, {
    event(e) {
      if (e.type === "overage.started") intervalStart = e.interval.started_at;
    },
    span(a, b, _active, _limit, billable) {
      const from = Math.max(a, window.from);
      const to = Math.min(b, window.to);
      if (from >= to || billable === 0) return;
      const last = out[out.length - 1];
      if (last && last.to === from && last.billable === billable && last.interval_start === intervalStart) last.to = to;
      else out.push({ from, to, billable, interval_start: intervalStart });
    },
  });
  return out;
}

/** The billable peak (the most places billable at once) and the spans where it was reached. */
export function peakSpans(spans: readonly BillableSpan[]): { peak: number; spans: BillableSpan[] } {
  const peak = spans.reduce((m, s) => Math.max(m, s.billable), 0);
  return { peak, spans: peak > 0 ? spans.filter((s) => s.billable === peak) : [] };
}

/** How long [from, to) overlaps the sorted, disjoint spans, in ms (to null: still held). */
export function overlapMs(hold: Pick<Hold, "from" | "to">, spans: readonly { from: number; to: number }[]): number {
  const end = hold.to ?? Infinity;
  let total = 0;
  for (const s of spans) {
    if (s.from >= end) break;
    total += Math.max(0, Math.min(end, s.to) - Math.max(hold.from, s.from));
  }
  return total;
}

/**
 * The holds that overlap the billable part for a positive length, with that length and whether
 * they overlap the peak too; in the order given. A hold that ended exactly when the billable part
 * began, or began exactly when it ended, did not count (half-open periods).
 */
export function countedHolds(holds: Iterable<Hold>, spans: readonly BillableSpan[]): HolderRow[] {
  const peak = peakSpans(spans).spans;
  const out: HolderRow[] = [];
  for (const h of holds) {
    const billable_ms = overlapMs(h, spans);
    if (billable_ms > 0) out.push({ ...h, billable_ms, at_peak: overlapMs(h, peak) > 0 });
  }
  return out;
}

/** The users (sorted, each once) who held a seat at some instant of the peak spans. */
export function peakHolders(holds: Iterable<Hold>, peak: readonly BillableSpan[]): string[] {
  const users = new Set<string>();
  for (const h of holds) if (overlapMs(h, peak) > 0) users.add(h.user_id);
  return [...users].sort();
}
