import type { PoolId } from "../domain/catalog";
import { billableSpans, countedHolds, peakHolders, peakSpans, type BillableSpan } from "../domain/holders";
import type { GraceRules, UsageStep, Window } from "../domain/overage";
import type { PeakHolders } from "../records";
import { iso } from "../time";
import { cycleContaining } from "../domain/cycles";
import type { HoldLog } from "./hold-log";
import type { SeatActivity } from "./seat-activity";
import type { UsageLedger } from "./usage-ledger";
import { intervalId } from "./views";

/** One hold that counted in an interval's billable part (docs/api.md#interval-holders). */
export interface HolderItem {
  user_id: string;
  /** The hold as it was, not clipped to the interval: when the user took the seat and freed it (null: still held). */
  held_from: string;
  held_to: string | null;
  /** How long the hold overlapped the billable part. */
  billable_seconds: number;
  /** Whether the user held the seat at some instant the interval's billable peak was reached. */
  at_peak: boolean;
}

export interface HoldersPage {
  items: HolderItem[];
  /** The key (held_from ms, user_id) of the page's last row when more follow. */
  next: [number, string] | null;
}

export interface HoldersQuery {
  pool: PoolId;
  /** The interval, [started_at, ended_at ?? now). */
  window: Window;
  /** Where the step log must be read from so the over-runs' grace is known (see `readFrom`). */
  readFrom: number;
  limit: number;
  after: readonly [number, string] | null;
  atPeakOnly: boolean;
}

/**
 * Where to start reading the step log for figures over a window that starts at `from`: under
 * `per_overrun` the last calm instant before it (the ledger finds it); under `cumulative` the
 * cycle's start, whose earlier over-runs count toward the grace.
 */
export function readFrom(rules: GraceRules, from: number, cycleStart: (t: number) => number): number {
  return rules.policy === "cumulative" ? Math.min(from, cycleStart(from)) : from;
}

/** The billable spans of a window: one pass over the steps, the same engine as the figures. */
function spansOf(ledger: UsageLedger, pool: PoolId, window: Window, from: number, rules: GraceRules): BillableSpan[] {
  const steps: Iterable<UsageStep> = ledger.stepsForSummary(pool, { from, to: window.to });
  return billableSpans(steps, window, rules);
}

/** A page of the holds that counted in an interval's billable part, in (held_from, user_id) order. */
export function intervalHolders(ledger: UsageLedger, holds: HoldLog, rules: GraceRules, q: HoldersQuery): HoldersPage {
  const spans = spansOf(ledger, q.pool, q.window, q.readFrom, rules);
  if (spans.length === 0) return { items: [], next: null };
  const hull = { from: spans[0].from, to: spans[spans.length - 1].to };
  const rows = [];
  for (const hold of holds.overlapping(q.pool, hull.from, hull.to, q.after)) {
    const [row] = countedHolds([hold], spans);
    if (!row || (q.atPeakOnly && !row.at_peak)) continue;
    rows.push(row);
    if (rows.length > q.limit) break;
  }
  const page = rows.slice(0, q.limit);
  const last = page[page.length - 1];
  return {
    items: page.map((r) => ({ user_id: r.user_id, held_from: iso(r.from), held_to: r.to === null ? null : iso(r.to), billable_seconds: r.billable_ms / 1000, at_peak: r.at_peak })),
    next: rows.length > q.limit ? [last.from, last.user_id] : null,
  };
}

/** What the route asks for: the interval (its pool and bounds) and the page. */
export type IntervalHoldersQuery = Omit<HoldersQuery, "window" | "readFrom"> & { startedAt: number; endedAt: number | null };

/** The object's entry point: an open interval runs to now; the grace rules are the account's. */
export function intervalHoldersOf(ledger: UsageLedger, activity: SeatActivity, billingDay: number, now: number, q: IntervalHoldersQuery): HoldersPage {
  const rules = activity.graceRules();
  const window = { from: q.startedAt, to: q.endedAt ?? Math.max(now, q.startedAt) };
  const from = readFrom(rules, q.startedAt, (t) => cycleContaining(t, billingDay).start);
  return intervalHolders(ledger, activity.holds, rules, { ...q, window, readFrom: from });
}

/** Users listed in a summary's peak holders at most; the rest are counted (and listed by the interval's holders). */
export const PEAK_HOLDERS_LISTED = 100;

/** The peak holders of a window, or null when nothing in it was billable. */
export function windowPeakHolders(ledger: UsageLedger, holds: HoldLog, rules: GraceRules, pool: PoolId, window: Window, from: number): PeakHolders | null {
  const { spans } = peakSpans(spansOf(ledger, pool, window, from, rules));
  if (spans.length === 0) return null;
  const users = new Set<string>();
  // One query per peak span: each reads only the holds around it.
  for (const span of spans) for (const u of peakHolders(holds.overlapping(pool, span.from, span.to), [span])) users.add(u);
  const sorted = [...users].sort();
  return {
    reached_at: iso(spans[0].from),
    interval_id: intervalId(pool, spans[0].interval_start),
    count: sorted.length,
    users: sorted.slice(0, PEAK_HOLDERS_LISTED),
    truncated: sorted.length > PEAK_HOLDERS_LISTED,
  };
}
