/**
 * Overage of a concurrent pool, the grace period and what is billable (docs/licensing.md#concurrent-overage).
 *
 * Pure functions: no I/O, no clock. Every time is an integer of epoch milliseconds and every
 * period is half-open. An over-run of a position lives on [s, e); its billable part is
 * [s + grace, e), so a position is billable at t when its current over-run began at s with
 * s + grace <= t. (The page says "more than grace before t"; the two readings differ only at
 * the single instant s + grace and give the same figures, because billable_now is a step
 * function and every figure is a max or an integral of it over a half-open window.)
 *
 * Two views of the same rules:
 * - batch: `summarize`, `overLimitIntervals`, `usageBuckets` read a pool's step log;
 * - online: `newTracker` / `applyStep` / `advanceTo` follow the pool event by event in the
 *   Durable Object and emit the `overage.*` events. Both share the over-run bookkeeping below,
 *   and a closed interval's figures are the same whichever view computed them.
 */

// ---------------------------------------------------------------------------------------------
// Public shapes

/** The pool's state from time t on: a step of the step functions active(t) and L(t). */
export interface UsageStep {
  t: number;
  active: number;
  limit: number;
}

/** [from, to), epoch ms. */
export interface Window {
  from: number;
  to: number;
}

export interface OverageFigures {
  peak_active: number;
  peak_overage: number;
  overage_seat_seconds: number;
  billable_overage_seats: number;
  billable_seat_seconds: number;
  /** Over-limit intervals that overlap the window for a positive length. */
  intervals: number;
  /** Of those, the ones whose billable part overlaps the window for a positive length. */
  billable_intervals: number;
}

export interface IntervalFigures {
  started_at: number;
  /** null while the interval is still open. */
  ended_at: number | null;
  peak_active: number;
  peak_overage: number;
  overage_seat_seconds: number;
  billable_overage_seats: number;
  billable_seat_seconds: number;
  billable: boolean;
}

/**
 * Positions lo..hi (inclusive) are over the limit and their current over-run began at `since`.
 * A pool's over-runs are kept sorted by position and together cover exactly (limit, active]:
 * start times are not monotonic in position (a limit that drops and comes back restarts the
 * positions it uncovered, not the ones above), so one run per block of equal starts.
 */
export interface OverRun {
  lo: number;
  hi: number;
  since: number;
}

/** The figures of an open over-limit interval so far, seat time in ms to stay exact. */
export interface OpenInterval {
  started_at: number;
  peak_active: number;
  peak_overage: number;
  overage_seat_ms: number;
  billable_seat_ms: number;
  billable_overage_seats: number;
}

// ---------------------------------------------------------------------------------------------
// Over-runs: the shared bookkeeping

/** Grace arrives in seconds (account setting); everything below works in ms. */
export function graceMs(graceSeconds: number): number {
  if (!Number.isFinite(graceSeconds) || graceSeconds < 0) {
    throw new RangeError(`grace must be a non-negative number of seconds, got ${graceSeconds}`);
  }
  return Math.round(graceSeconds * 1000);
}

const seatsOf = (run: OverRun): number => run.hi - run.lo + 1;

/** Appends a run, merging it into the previous one when they are adjacent and started together. */
function pushRun(out: OverRun[], run: OverRun): void {
  const last = out[out.length - 1];
  if (last && last.since === run.since && last.hi + 1 === run.lo) last.hi = run.hi;
  else out.push({ ...run });
}

/**
 * The over-runs from t on, when the pool changes to (active, limit) at t. A position over both
 * before and after keeps its over-run; one that becomes over starts a new over-run at t; one
 * that stops being over loses its over-run. Returns new objects; `runs` is not touched.
 */
export function continueRuns(runs: readonly OverRun[], limit: number, active: number, t: number): OverRun[] {
  const lo = limit + 1;
  const hi = active;
  const out: OverRun[] = [];
  let uncovered = lo; // lowest over position not yet given a run
  for (const run of runs) {
    const keepLo = Math.max(run.lo, lo);
    const keepHi = Math.min(run.hi, hi);
    if (keepLo > keepHi) continue;
    if (keepLo > uncovered) pushRun(out, { lo: uncovered, hi: keepLo - 1, since: t });
    pushRun(out, { lo: keepLo, hi: keepHi, since: run.since });
    uncovered = keepHi + 1;
  }
  if (uncovered <= hi) pushRun(out, { lo: uncovered, hi, since: t });
  return out;
}

/** billable_now(t): positions whose current over-run is past its grace at t (grace in ms, see graceMs). */
export function billableNow(runs: readonly OverRun[], t: number, grace: number): number {
  let n = 0;
  for (const run of runs) if (run.since + grace <= t) n += seatsOf(run);
  return n;
}

/** The distinct moments c with after < c < before at which some over-run passes its grace. */
function graceCrossings(runs: readonly OverRun[], grace: number, after: number, before: number): number[] {
  const moments = new Set<number>();
  for (const run of runs) {
    const c = run.since + grace;
    if (c > after && c < before) moments.add(c);
  }
  return [...moments].sort((a, b) => a - b);
}

/** The earliest start + grace strictly after t, or null: when the next position becomes billable. */
function nextCrossingAfter(runs: readonly OverRun[], grace: number, t: number): number | null {
  let next: number | null = null;
  for (const run of runs) {
    const c = run.since + grace;
    if (c > t && (next === null || c < next)) next = c;
  }
  return next;
}

// ---------------------------------------------------------------------------------------------
// Tallies: the section 4 figures of a period, accumulated piece by piece

interface PoolState {
  active: number;
  limit: number;
  runs: readonly OverRun[];
}

type Tally = Omit<OpenInterval, "started_at">;

const emptyTally = (): Tally => ({
  peak_active: 0,
  peak_overage: 0,
  overage_seat_ms: 0,
  billable_seat_ms: 0,
  billable_overage_seats: 0,
});

/** Adds the period [a, b), b > a, during which the pool stays in `state`. */
function addSpan<T extends Tally>(tally: T, state: PoolState, a: number, b: number, grace: number): T {
  const overage = Math.max(0, state.active - state.limit);
  let billableMs = 0;
  let billableMax = 0;
  for (const run of state.runs) {
    const billableFrom = Math.max(a, run.since + grace);
    if (billableFrom < b) {
      billableMs += seatsOf(run) * (b - billableFrom);
      billableMax += seatsOf(run); // billable_now only grows inside the span: its max is just before b
    }
  }
  return {
    ...tally,
    peak_active: Math.max(tally.peak_active, state.active),
    peak_overage: Math.max(tally.peak_overage, overage),
    overage_seat_ms: tally.overage_seat_ms + overage * (b - a),
    billable_seat_ms: tally.billable_seat_ms + billableMs,
    billable_overage_seats: Math.max(tally.billable_overage_seats, billableMax),
  };
}

/** Adds the single instant t (no duration): only the maxima can change. */
function addInstant<T extends Tally>(tally: T, state: PoolState, t: number, grace: number): T {
  return {
    ...tally,
    peak_active: Math.max(tally.peak_active, state.active),
    peak_overage: Math.max(tally.peak_overage, state.active - state.limit),
    billable_overage_seats: Math.max(tally.billable_overage_seats, billableNow(state.runs, t, grace)),
  };
}

function toIntervalFigures(open: OpenInterval, endedAt: number | null): IntervalFigures {
  return {
    started_at: open.started_at,
    ended_at: endedAt,
    peak_active: open.peak_active,
    peak_overage: open.peak_overage,
    overage_seat_seconds: open.overage_seat_ms / 1000,
    billable_overage_seats: open.billable_overage_seats,
    billable_seat_seconds: open.billable_seat_ms / 1000,
    billable: open.billable_overage_seats > 0,
  };
}

// ---------------------------------------------------------------------------------------------
// Batch view: the step log as a timeline of constant segments

/** The pool holds `state` on [from, to); the first segment starts at -Infinity, the last ends at +Infinity. */
interface Segment extends PoolState {
  from: number;
  to: number;
}

/** An over-limit interval [start, end) with its segments; end is +Infinity if never closed. */
interface Span {
  start: number;
  end: number;
  segments: Segment[];
}

/**
 * Turns the step log into constant segments. Steps at the same t collapse to the last one: the
 * pool has one state at each instant, so a release and a checkout in the same ms leave the
 * positions above the limit continuously over (they keep their over-run).
 */
function timeline(steps: readonly UsageStep[]): Segment[] {
  const first = steps[0];
  let current: Segment = { from: -Infinity, to: Infinity, active: 0, limit: first ? first.limit : 0, runs: [] };
  const out: Segment[] = [current];
  for (let i = 0; i < steps.length; i++) {
    const step = steps[i];
    if (i > 0 && step.t < steps[i - 1].t) throw new RangeError("usage steps must be sorted by t");
    const next = steps[i + 1];
    if (next && next.t === step.t) continue; // the last step of an instant wins
    // `current` is the state before step.t (earlier steps at step.t were skipped above).
    current.to = step.t;
    current = {
      from: step.t,
      to: Infinity,
      active: step.active,
      limit: step.limit,
      runs: continueRuns(current.runs, step.limit, step.active, step.t),
    };
    out.push(current);
  }
  return out;
}

/** The maximal runs of consecutive segments with active > limit. */
function overLimitSpans(segments: readonly Segment[]): Span[] {
  const spans: Span[] = [];
  let open: Span | null = null;
  for (const seg of segments) {
    if (seg.active > seg.limit) {
      if (!open) spans.push((open = { start: seg.from, end: Infinity, segments: [] }));
      open.segments.push(seg);
      open.end = seg.to;
    } else {
      open = null;
    }
  }
  return spans;
}

/** The figures of `segments` clipped to [a, b). */
function tallyOver<T extends Tally>(tally: T, segments: readonly Segment[], a: number, b: number, grace: number): T {
  let out = tally;
  for (const seg of segments) {
    const from = Math.max(seg.from, a);
    const to = Math.min(seg.to, b);
    if (from < to) out = addSpan(out, seg, from, to, grace);
  }
  return out;
}

/** The section 4 figures of a concurrent pool over the window [from, to). */
export function summarize(steps: readonly UsageStep[], window: Window, graceSeconds: number): OverageFigures {
  const grace = graceMs(graceSeconds);
  const { from, to } = window;
  const segments = timeline(steps);
  const total = from < to ? tallyOver(emptyTally(), segments, from, to, grace) : emptyTally();
  let intervals = 0;
  let billableIntervals = 0;
  for (const span of overLimitSpans(segments)) {
    const a = Math.max(span.start, from);
    const b = Math.min(span.end, to);
    if (a >= b) continue;
    intervals++;
    // Billable inside the window only if billable_now > 0 somewhere in the clipped part.
    if (tallyOver(emptyTally(), span.segments, a, b, grace).billable_overage_seats > 0) billableIntervals++;
  }
  return {
    peak_active: total.peak_active,
    peak_overage: total.peak_overage,
    overage_seat_seconds: total.overage_seat_ms / 1000,
    billable_overage_seats: total.billable_overage_seats,
    billable_seat_seconds: total.billable_seat_ms / 1000,
    intervals,
    billable_intervals: billableIntervals,
  };
}

/**
 * The over-limit intervals that overlap [from, to) for a positive length, in time order, each
 * with its figures from its start (not clipped at `from`). One still open at `to` has
 * ended_at null and its figures over [started_at, to).
 */
export function overLimitIntervals(steps: readonly UsageStep[], window: Window, graceSeconds: number): IntervalFigures[] {
  const grace = graceMs(graceSeconds);
  const { from, to } = window;
  if (from >= to) return [];
  const out: IntervalFigures[] = [];
  for (const span of overLimitSpans(timeline(steps))) {
    if (span.start >= to || span.end <= from) continue;
    const end = Math.min(span.end, to);
    const tally = tallyOver({ started_at: span.start, ...emptyTally() }, span.segments, span.start, end, grace);
    out.push(toIntervalFigures(tally, span.end <= to ? span.end : null));
  }
  return out;
}

/**
 * Usage chart: buckets [from + k*step, from + (k+1)*step) cut at `to`, each with the max active
 * and the max limit held at any moment of the bucket (the state carried in at its start counts).
 * The caller bounds the number of buckets ((to - from) / step).
 */
export function usageBuckets(
  steps: readonly UsageStep[],
  window: Window,
  stepSeconds: number,
): { t: number; max_active: number; limit: number }[] {
  const stepMs = Math.round(stepSeconds * 1000);
  if (!Number.isFinite(stepMs) || stepMs <= 0) throw new RangeError(`step must be positive, got ${stepSeconds}`);
  const segments = timeline(steps);
  const out: { t: number; max_active: number; limit: number }[] = [];
  let s = 0; // first segment that may still reach into the current bucket
  for (let start = window.from; start < window.to; start += stepMs) {
    const end = Math.min(start + stepMs, window.to);
    while (segments[s].to <= start) s++;
    let maxActive = 0;
    let maxLimit = 0;
    for (let i = s; i < segments.length && segments[i].from < end; i++) {
      maxActive = Math.max(maxActive, segments[i].active);
      maxLimit = Math.max(maxLimit, segments[i].limit);
    }
    out.push({ t: start, max_active: maxActive, limit: maxLimit });
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Online view: the tracker kept by the Durable Object

/** The pool at one instant: its state, over-runs and open interval (figures including that instant). */
export interface TrackerInstant {
  limit: number;
  active: number;
  runs: OverRun[];
  open: OpenInterval | null;
}

/**
 * Plain JSON data. `limit`/`active`/`runs`/`open` describe the pool from `lastT` on (after the
 * steps at lastT); `open`'s maxima include the instant lastT, its integrals run up to lastT.
 *
 * `before` is the pool just before lastT (open figures over [started_at, lastT)). A further step
 * at the same lastT is applied to `before`, not on top of the previous step, so that several
 * steps in one ms collapse to the last, exactly as `summarize` reads the step log.
 */
export interface TrackerState extends TrackerInstant {
  lastT: number;
  before: TrackerInstant;
  /** Seats whose grace ends exactly at lastT that an overage.billable event has already announced. */
  announced: number;
}

export type TrackerEvent =
  | { type: "overage.started"; interval: IntervalFigures }
  | { type: "overage.billable"; at: number; billable_now: number; interval: IntervalFigures }
  | { type: "overage.ended"; interval: IntervalFigures };

export interface TrackerResult {
  state: TrackerState;
  events: TrackerEvent[];
}

/** A pool with nothing active at time t. */
export function newTracker(limit: number, t: number): TrackerState {
  const idle = (): TrackerInstant => ({ limit, active: 0, runs: [], open: null });
  return { ...idle(), lastT: t, before: idle(), announced: 0 };
}

/**
 * The tracker carried from lastT to t > lastT with no change: the pool just before t. Emits
 * overage.billable for the grace crossings strictly between (one at t waits for the step at t,
 * which may end that over-run right there: then its billable part is empty).
 */
function carry(state: TrackerState, t: number, grace: number, events: TrackerEvent[]): TrackerInstant {
  let open = state.open;
  let cursor = state.lastT;
  if (open) {
    for (const c of graceCrossings(state.runs, grace, state.lastT, t)) {
      open = addInstant(addSpan(open, state, cursor, c, grace), state, c, grace);
      const billable = billableNow(state.runs, c, grace);
      events.push({ type: "overage.billable", at: c, billable_now: billable, interval: toIntervalFigures(open, null) });
      cursor = c;
    }
    open = addSpan(open, state, cursor, t, grace);
  }
  return { limit: state.limit, active: state.active, runs: state.runs, open };
}

/** Sets the pool to (active, limit) at t >= lastT; the core of applyStep and advanceTo. */
function moveTo(state: TrackerState, t: number, active: number, limit: number, grace: number): TrackerResult {
  if (!(t >= state.lastT)) throw new RangeError(`tracker step at ${t} is before its last step at ${state.lastT}`);
  const events: TrackerEvent[] = [];
  const fresh = t > state.lastT;
  const before = fresh ? carry(state, t, grace, events) : state.before;
  const runs = continueRuns(before.runs, limit, active, t);
  const pool = { active, limit, runs };
  const open =
    active > limit ? addInstant(before.open ?? { started_at: t, ...emptyTally() }, pool, t, grace) : null;

  // `told` is the interval the events so far say is open at t; tell only what changed.
  const told = state.open;
  if (told && !open) {
    // Closed at t: its figures are those up to t. No `before.open` means it opened and closed
    // within this same ms (a step at t undone by the next one): a zero-length interval.
    const closed = before.open ?? { started_at: told.started_at, ...emptyTally() };
    events.push({ type: "overage.ended", interval: toIntervalFigures(closed, t) });
  }
  if (!told && open) events.push({ type: "overage.started", interval: toIntervalFigures(open, null) });

  let announced = fresh ? 0 : state.announced;
  const dueNow = runs.filter((run) => run.since + grace === t).reduce((n, run) => n + seatsOf(run), 0);
  if (open && dueNow > announced) {
    const billable = billableNow(runs, t, grace);
    events.push({ type: "overage.billable", at: t, billable_now: billable, interval: toIntervalFigures(open, null) });
    announced = dueNow;
  }
  return { state: { limit, active, runs, open, lastT: t, before, announced }, events };
}

/**
 * Moves the tracker to step.t, emitting overage.billable for grace crossings before step.t in
 * time order, then applies the step and emits what it changes: overage.ended, overage.started,
 * and overage.billable for over-runs whose grace ends exactly at step.t and are still over
 * after the step (with grace 0, new over-runs are billable at once).
 * step.t must be >= state.lastT (RangeError otherwise). A step at the same t as the previous
 * one replaces it, as in `summarize`, so the figures agree; events already emitted for that ms
 * are not taken back: a reversal within one ms can yield an overage.ended with
 * started_at === ended_at (an interval that never was), or an overage.started again for an
 * interval just reported ended (its later overage.ended carries the final figures). Callers
 * that give each step of a pool a strictly later t than the previous never see either.
 * Returns a new state; the input is not modified.
 */
export function applyStep(state: TrackerState, step: UsageStep, graceSeconds: number): TrackerResult {
  return moveTo(state, step.t, step.active, step.limit, graceMs(graceSeconds));
}

/**
 * Moves the tracker to t with no change (the DO alarm), emitting overage.billable for every grace
 * crossing at or before t. A t at or before lastT changes nothing.
 */
export function advanceTo(state: TrackerState, t: number, graceSeconds: number): TrackerResult {
  if (t <= state.lastT) return { state, events: [] };
  return moveTo(state, t, state.active, state.limit, graceMs(graceSeconds));
}

/**
 * The earliest moment strictly after lastT at which an over-run passes its grace, or null.
 * Crossings at or before lastT have already been announced. Set the alarm to it and call
 * advanceTo(now) when it fires (any now >= the deadline works; an early or repeated call is harmless).
 */
export function nextGraceDeadline(state: TrackerState, graceSeconds: number): number | null {
  return nextCrossingAfter(state.runs, graceMs(graceSeconds), state.lastT);
}

export interface LiveStatus {
  over_limit: boolean;
  overage: number;
  billable_now: number;
  /** The earliest moment after now at which another position becomes billable, or null. */
  grace_ends_at: number | null;
  /** The open interval with figures so far (maxima include the instant now), or null. */
  interval: IntervalFigures | null;
}

/** The pool as of `now` (a now before lastT is read as lastT). Emits nothing and changes nothing. */
export function liveStatus(state: TrackerState, now: number, graceSeconds: number): LiveStatus {
  const grace = graceMs(graceSeconds);
  const at = advanceTo(state, now, graceSeconds).state;
  return {
    over_limit: at.active > at.limit,
    overage: Math.max(0, at.active - at.limit),
    billable_now: billableNow(at.runs, at.lastT, grace),
    grace_ends_at: nextCrossingAfter(at.runs, grace, at.lastT),
    interval: at.open ? toIntervalFigures(at.open, null) : null,
  };
}
