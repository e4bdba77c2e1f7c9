/**
 * Overage of a concurrent pool, the grace period and what is billable (docs/licensing.md#concurrent-overage).
 *
 * Pure rules: no I/O, no clock. Every time is an integer of epoch milliseconds and every period
 * is half-open. Positions limit+1..active are over the limit. Under the `per_overrun` grace
 * policy a position is billable at t when its current over-run began at s with s + grace <= t;
 * under `cumulative` when its over-limit time since the cycle start, summed over all its
 * over-runs up to t, is at least the grace. (The rules say "more than"; the readings differ only
 * at single instants and give the same figures: billable_now is a step function and every
 * figure is a max or an integral of it over positive lengths.)
 *
 * Steps that share a millisecond are one instant: the pool's state at t is the last step at t,
 * and the states in between never existed. So the outcome of an instant (an interval starting or
 * ending, positions becoming billable) is decided only once time has moved past it.
 *
 * One engine (`OverageEngine`) serves both views and costs O(log runs) per step, nothing copied:
 * - batch: `summarize`, `overLimitIntervals`, `usageColumns`/`usageBuckets` read a step log
 *   (any iterable: the Durable Object streams it from SQLite);
 * - online: the Durable Object keeps one engine per pool and persists its runs row by row
 *   (`journal`); `newTracker` / `applyStep` / `advanceTo` / `liveStatus` are the same engine
 *   over a plain JSON snapshot, for callers that keep the state as one value.
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

export type GracePolicy = "per_overrun" | "cumulative";
export const GRACE_POLICIES: readonly GracePolicy[] = ["per_overrun", "cumulative"];

/** The grace rules of an account. A bare number is `per_overrun` with that grace in seconds. */
export interface GraceRules {
  graceSeconds: number;
  policy?: GracePolicy;
  /**
   * `cumulative` only: the first cycle start strictly after t (over-limit time counts from each
   * cycle's start). Without it, `summarize` counts from the window's start and the tracker from
   * its first step.
   */
  nextCycleStart?: (t: number) => number;
}

export type Grace = number | GraceRules;

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

/** The figures of an open over-limit interval so far, seat time in ms to stay exact. */
export interface OpenInterval {
  started_at: number;
  peak_active: number;
  peak_overage: number;
  overage_seat_ms: number;
  billable_seat_ms: number;
  billable_overage_seats: number;
}

/**
 * Positions lo..hi (inclusive) are over the limit; they are billable from `start + grace` on.
 * `start` is when their current over-run began (per_overrun), or that moment less the over-limit
 * time they had already gathered in the cycle (cumulative). Runs are kept sorted by position
 * and together cover exactly (limit, active].
 */
export interface OverRun {
  lo: number;
  hi: number;
  start: number;
  /** Whether `start + grace` has been passed (and announced). */
  billable: boolean;
  /** The instant (ms) whose steps made this run, or -1: lets a later step in that ms undo it. */
  born: number;
}

/** Idle positions lo..hi that gathered `acc` ms over the limit this cycle (cumulative only). */
export interface IdlePiece {
  lo: number;
  hi: number;
  acc: number;
  born: number;
}

export type TrackerEvent =
  | { type: "overage.started"; interval: IntervalFigures }
  | { type: "overage.billable"; at: number; billable_now: number; interval: IntervalFigures }
  | { type: "overage.ended"; interval: IntervalFigures };

export interface LiveStatus {
  over_limit: boolean;
  overage: number;
  billable_now: number;
  /** The earliest moment after now at which another position becomes billable, or null. */
  grace_ends_at: number | null;
  /** The open interval with figures so far (maxima include the instant now), or null. */
  interval: IntervalFigures | null;
}

/** Grace arrives in seconds (account setting); everything below works in ms. */
export function graceMs(graceSeconds: number): number {
  if (!Number.isFinite(graceSeconds) || graceSeconds < 0) {
    throw new RangeError(`grace must be a non-negative number of seconds, got ${graceSeconds}`);
  }
  return Math.round(graceSeconds * 1000);
}

interface Rules {
  grace: number;
  cumulative: boolean;
  nextCycleStart: ((t: number) => number) | null;
}

function rulesOf(g: Grace): Rules {
  if (typeof g === "number") return { grace: graceMs(g), cumulative: false, nextCycleStart: null };
  const policy = g.policy ?? "per_overrun";
  if (!GRACE_POLICIES.includes(policy)) throw new RangeError(`unknown grace policy ${String(policy)}`);
  return { grace: graceMs(g.graceSeconds), cumulative: policy === "cumulative", nextCycleStart: g.nextCycleStart ?? null };
}

const seatsOf = (r: { lo: number; hi: number }): number => r.hi - r.lo + 1;

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

const freshInterval = (t: number): OpenInterval => ({
  started_at: t,
  peak_active: 0,
  peak_overage: 0,
  overage_seat_ms: 0,
  billable_seat_ms: 0,
  billable_overage_seats: 0,
});

// ---------------------------------------------------------------------------------------------
// Small containers: a deque of runs (changes happen only at its two ends) and a min-heap of the
// runs still inside their grace, keyed by start (lazy: stale entries are skipped, and the heap is
// rebuilt when they outnumber the live runs, so it stays O(runs)).

interface Run extends OverRun {
  dead: boolean;
}

class Deque<T> {
  private items: (T | undefined)[] = [];
  private head = 0;
  get size(): number {
    return this.items.length - this.head;
  }
  first(): T | undefined {
    return this.items[this.head];
  }
  last(): T | undefined {
    return this.size > 0 ? this.items[this.items.length - 1] : undefined;
  }
  pushBack(x: T): void {
    this.items.push(x);
  }
  popBack(): T | undefined {
    return this.size > 0 ? (this.items.pop() as T) : undefined;
  }
  pushFront(x: T): void {
    if (this.head > 0) this.items[--this.head] = x;
    else this.items.unshift(x); // only when a limit drops: rare
  }
  popFront(): T | undefined {
    if (this.size === 0) return undefined;
    const x = this.items[this.head];
    this.items[this.head++] = undefined;
    if (this.size === 0) {
      this.items = [];
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return x;
  }
  *[Symbol.iterator](): IterableIterator<T> {
    for (let i = this.head; i < this.items.length; i++) yield this.items[i] as T;
  }
}

class RunHeap {
  items: Run[] = [];
  push(run: Run): void {
    const a = this.items;
    a.push(run);
    let i = a.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (a[p].start <= a[i].start) break;
      [a[p], a[i]] = [a[i], a[p]];
      i = p;
    }
  }
  pop(): void {
    const a = this.items;
    const last = a.pop();
    if (a.length === 0 || last === undefined) return;
    a[0] = last;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < a.length && a[l].start < a[m].start) m = l;
      if (r < a.length && a[r].start < a[m].start) m = r;
      if (m === i) break;
      [a[m], a[i]] = [a[i], a[m]];
      i = m;
    }
  }
  /** The earliest live entry (stale ones on top are dropped). */
  peek(): Run | undefined {
    while (this.items.length && (this.items[0].dead || this.items[0].billable)) this.pop();
    return this.items[0];
  }
}

/** The pool just before an undecided instant, and what the instant took from each end (to undo it). */
export interface InstantLog {
  active: number;
  limit: number;
  billable: number;
  top: OverRun[];
  bottom: OverRun[];
  above: IdlePiece[];
  below: IdlePiece[];
}

/** A plain-data copy of an engine: what `applyStep` and friends pass around (JSON-safe). */
export interface TrackerState {
  v: 2;
  /** Time is accounted up to here; instants before it are decided. */
  clock: number;
  /** The pool after the last step. */
  active: number;
  limit: number;
  /** Steps arrived at `clock` and their instant is not decided yet. */
  instant: InstantLog | null;
  runs: OverRun[];
  /** Cumulative only: idle positions that gathered over-limit time, below and above the over ones. */
  below: IdlePiece[];
  above: IdlePiece[];
  open: OpenInterval | null;
  /** The grace (ms) the runs' billable flags were set with. */
  grace: number;
}

/** The scalar part of a TrackerState: a store keeps it as one small value and the runs as rows. */
export type TrackerScalars = Omit<TrackerState, "runs" | "below" | "above">;

export type IdleRow = IdlePiece & { side: "above" | "below" };

/** Row changes for a store that keeps runs (by lo) and idle pieces (by side and lo): null = deleted. */
export interface Journal {
  runs: Map<number, OverRun | null>;
  idle: Map<string, IdleRow | null>;
}

export type SweepListener = Listener;

interface Listener {
  /** The pool is constant on [a, b) with `billable` positions billable. */
  /** `engine` is the engine itself in that state (its `billablePlaces()` say which places those are). */
  span?(a: number, b: number, active: number, limit: number, billable: number, engine: OverageEngine): void;
  event?(e: TrackerEvent): void;
}

const plainRun = ({ lo, hi, start, billable, born }: OverRun): OverRun => ({ lo, hi, start, billable, born });

// ---------------------------------------------------------------------------------------------
// The engine

/**
 * One pool's over-limit bookkeeping, in memory O(runs) <= O(positions over the limit) (+ idle
 * pieces under `cumulative`), O(log runs) amortized per step and per grace crossing.
 */
export class OverageEngine {
  private rules: Rules;
  /** Time is accounted up to here; instants before it are decided. */
  clock: number;
  active = 0;
  limit: number;
  /** The interval open just before `clock` (figures so far), or null. */
  open: OpenInterval | null = null;
  private runs = new Deque<Run>();
  private heap = new RunHeap();
  /** Positions in billable runs. */
  private billable = 0;
  private below: IdlePiece[] = []; // stack: last = highest position
  private above: IdlePiece[] = []; // stack: last = lowest position
  private instant: InstantLog | null = null;
  private events: TrackerEvent[] = [];
  private listener: Listener | null = null;
  private journal: Journal | null = null;

  constructor(grace: Grace, limit: number, t: number) {
    this.rules = rulesOf(grace);
    this.clock = t;
    this.limit = limit;
  }

  // ------------------------------------------------------------- state in and out

  static fromState(state: TrackerState, grace: Grace): OverageEngine {
    return OverageEngine.restore(grace, state, state.runs, [
      ...state.below.map((p) => ({ ...p, side: "below" as const })),
      ...state.above.map((p) => ({ ...p, side: "above" as const })),
    ]);
  }

  /** From a store's scalars and rows (in any order). */
  static restore(grace: Grace, s: TrackerScalars, runs: readonly OverRun[], idle: readonly IdleRow[]): OverageEngine {
    const e = new OverageEngine(grace, s.limit, s.clock);
    e.active = s.active;
    e.open = s.open ? { ...s.open } : null;
    for (const r of [...runs].sort((a, b) => a.lo - b.lo)) e.runs.pushBack({ ...plainRun(r), dead: false });
    const piece = ({ lo, hi, acc, born }: IdlePiece): IdlePiece => ({ lo, hi, acc, born });
    e.below = idle.filter((p) => p.side === "below").sort((a, b) => a.lo - b.lo).map(piece);
    e.above = idle.filter((p) => p.side === "above").sort((a, b) => b.lo - a.lo).map(piece);
    e.instant = s.instant ? structuredClone(s.instant) : null;
    e.rebuild(s.grace);
    return e;
  }

  scalars(): TrackerScalars {
    return {
      v: 2,
      clock: this.clock,
      active: this.active,
      limit: this.limit,
      instant: this.instant ? structuredClone(this.instant) : null,
      open: this.open ? { ...this.open } : null,
      grace: this.rules.grace,
    };
  }

  toState(): TrackerState {
    return {
      ...this.scalars(),
      runs: [...this.runs].map(plainRun),
      below: this.below.map((p) => ({ ...p })),
      above: [...this.above].reverse().map((p) => ({ ...p })),
    };
  }

  /** The over-runs as plain values (the grace-ending warning reads them). */
  overRuns(): OverRun[] {
    return [...this.runs].map(plainRun);
  }

  /**
   * The earliest `start + graceMs` of the runs still inside their grace that is after `after` and
   * not in `skip`, or null: what `overRuns()` would give the grace-ending warning's next deadline,
   * found best-first in the heap, so a seat change does not copy every over-run (O(k log k) for
   * the k entries it passes: stale ones, deadlines already past or skipped).
   */
  firstGraceEnd(after: number, graceMs: number, skip: ReadonlySet<number>): number | null {
    const items = this.heap.items;
    // A small heap of indices into `items`, by start: a parent's start never exceeds its children's.
    const open: number[] = items.length ? [0] : [];
    const less = (i: number, j: number) => items[open[i]].start < items[open[j]].start;
    while (open.length) {
      const i = open[0];
      const last = open.pop()!;
      if (open.length) {
        open[0] = last;
        for (let k = 0; ; ) {
          const l = 2 * k + 1;
          let m = k;
          if (l < open.length && less(l, m)) m = l;
          if (l + 1 < open.length && less(l + 1, m)) m = l + 1;
          if (m === k) break;
          [open[m], open[k]] = [open[k], open[m]];
          k = m;
        }
      }
      const run = items[i];
      const d = run.start + graceMs;
      if (!run.dead && !run.billable && d > after && !skip.has(d)) return d;
      for (const c of [2 * i + 1, 2 * i + 2]) {
        if (c >= items.length) continue;
        open.push(c);
        for (let k = open.length - 1; k > 0; ) {
          const p = (k - 1) >> 1;
          if (!less(k, p)) break;
          [open[p], open[k]] = [open[k], open[p]];
          k = p;
        }
      }
    }
    return null;
  }

  /**
   * Which places are billable now, as sorted, disjoint, maximal ranges [lo, hi] of place numbers
   * (docs/licensing.md#chargeback-by-team). Under `per_overrun` they are one range: a place above
   * the limit came over either with a rise of active (at the top, later than every place below it)
   * or with a drop of the limit (at the bottom, later than every place above it), so the over-runs'
   * starts fall from the bottom to the oldest and rise from there to the top, and the places past
   * their grace are the ones around the oldest. Found by skipping the few runs that came over with
   * recent limit drops. Under `cumulative` a place keeps its time over the limit when it goes idle
   * and limits can move either way, so the billable places may be several ranges: the runs are
   * walked from the bottom until all billable places are found.
   */
  billablePlaces(): [number, number][] {
    const out: [number, number][] = [];
    let left = this.billable;
    if (left === 0) return out;
    for (const run of this.runs) {
      if (!run.billable) continue;
      if (!this.rules.cumulative) return [[run.lo, run.lo + left - 1]];
      const last = out[out.length - 1];
      if (last && last[1] + 1 === run.lo) last[1] = run.hi;
      else out.push([run.lo, run.hi]);
      left -= seatsOf(run);
      if (left <= 0) break;
    }
    return out;
  }

  get runCount(): number {
    return this.runs.size;
  }

  /** Sets the rules; a changed grace re-derives which runs are billable (no events for the change). */
  setRules(grace: Grace): void {
    const before = this.rules.grace;
    this.rules = rulesOf(grace);
    if (before !== this.rules.grace) this.rebuild(before);
  }

  /** Re-derives billable flags (when the grace changed), the billable count and the heap. */
  private rebuild(flagsGrace: number): void {
    const { grace } = this.rules;
    this.billable = 0;
    this.heap = new RunHeap();
    for (const run of this.runs) {
      if (flagsGrace !== grace) {
        const billable = run.start + grace < this.clock;
        if (billable !== run.billable) {
          run.billable = billable;
          this.note(run);
        }
      }
      if (run.billable) this.billable += seatsOf(run);
      else this.heap.push(run);
    }
    if (this.instant && flagsGrace !== grace) this.instant.billable = this.billable; // approximate; flags changed under it
  }

  /** Turns row journaling on; `takeJournal` hands over the changes since the last call. */
  startJournal(): void {
    this.journal = { runs: new Map(), idle: new Map() };
  }

  takeJournal(): Journal {
    const j = this.journal ?? { runs: new Map(), idle: new Map() };
    if (this.journal) this.journal = { runs: new Map(), idle: new Map() };
    return j;
  }

  private note(run: Run): void {
    this.journal?.runs.set(run.lo, plainRun(run));
  }
  private forget(run: Run): void {
    this.journal?.runs.set(run.lo, null);
  }
  private noteIdle(side: "above" | "below", p: IdlePiece, present: boolean): void {
    this.journal?.idle.set(`${side}:${p.lo}`, present ? { side, ...p } : null);
  }

  // ------------------------------------------------------------- container edits (undoable within an instant)

  /** Whether this run or piece was made by the undecided instant (then undo just drops it). */
  private fresh(x: { born: number }): boolean {
    return this.instant !== null && x.born === this.clock;
  }

  private pushRun(end: "top" | "bottom", run: Omit<Run, "born" | "dead">): void {
    const r: Run = { ...run, born: this.instant ? this.clock : -1, dead: false };
    if (end === "top") this.runs.pushBack(r);
    else this.runs.pushFront(r);
    if (r.billable) this.billable += seatsOf(r);
    else this.heap.push(r);
    this.note(r);
  }

  private popRun(end: "top" | "bottom"): Run {
    const run = (end === "top" ? this.runs.popBack() : this.runs.popFront())!;
    run.dead = true;
    if (run.billable) this.billable -= seatsOf(run);
    this.forget(run);
    if (this.instant && !this.fresh(run)) this.instant[end].push(plainRun(run));
    return run;
  }

  private pushIdle(side: "above" | "below", p: Omit<IdlePiece, "born">): void {
    const piece: IdlePiece = { lo: p.lo, hi: p.hi, acc: p.acc, born: this.instant ? this.clock : -1 };
    this[side].push(piece);
    this.noteIdle(side, piece, true);
  }

  private popIdle(side: "above" | "below"): IdlePiece {
    const piece = this[side].pop()!;
    this.noteIdle(side, piece, false);
    if (this.instant && !this.fresh(piece)) this.instant[side].push({ ...piece });
    return piece;
  }

  /** Back to the pool just before the undecided instant (a later step in the same ms replaces it). */
  private undoInstant(): void {
    const log = this.instant!;
    for (const end of ["top", "bottom"] as const) {
      for (;;) {
        const run = end === "top" ? this.runs.last() : this.runs.first();
        if (!run || !this.fresh(run)) break;
        if (end === "top") this.runs.popBack();
        else this.runs.popFront();
        run.dead = true;
        this.forget(run);
      }
      for (let i = log[end].length - 1; i >= 0; i--) {
        const run: Run = { ...log[end][i], dead: false };
        if (end === "top") this.runs.pushBack(run);
        else this.runs.pushFront(run);
        if (!run.billable) this.heap.push(run);
        this.note(run);
      }
      log[end] = [];
    }
    for (const side of ["above", "below"] as const) {
      const stack = this[side];
      while (stack.length && this.fresh(stack[stack.length - 1])) this.noteIdle(side, stack.pop()!, false);
      for (let i = log[side].length - 1; i >= 0; i--) {
        stack.push(log[side][i]);
        this.noteIdle(side, log[side][i], true);
      }
      log[side] = [];
    }
    this.billable = log.billable;
    this.active = log.active;
    this.limit = log.limit;
  }

  // ------------------------------------------------------------- applying a state

  /** Takes the idle positions a..b out of the stacks, ascending, with their gathered time (0 if none). */
  private takeIdle(a: number, b: number): Omit<IdlePiece, "born">[] {
    if (!this.rules.cumulative) return [{ lo: a, hi: b, acc: 0 }];
    const top = (side: "above" | "below") => this[side][this[side].length - 1];
    // Pieces on the wrong side of the new over range move across first.
    while (this.below.length && top("below").hi > b) {
      const p = this.popIdle("below");
      if (p.lo > b) this.pushIdle("above", p);
      else {
        this.pushIdle("above", { lo: b + 1, hi: p.hi, acc: p.acc });
        this.pushIdle("below", { lo: p.lo, hi: b, acc: p.acc });
      }
    }
    while (this.above.length && top("above").lo < a) {
      const p = this.popIdle("above");
      if (p.hi < a) this.pushIdle("below", p);
      else {
        this.pushIdle("below", { lo: p.lo, hi: a - 1, acc: p.acc });
        this.pushIdle("above", { lo: a, hi: p.hi, acc: p.acc });
      }
    }
    const fromBelow: Omit<IdlePiece, "born">[] = [];
    while (this.below.length && top("below").hi >= a) {
      const p = this.popIdle("below");
      if (p.lo < a) {
        this.pushIdle("below", { lo: p.lo, hi: a - 1, acc: p.acc });
        fromBelow.push({ lo: a, hi: p.hi, acc: p.acc });
      } else fromBelow.push(p);
    }
    const got = fromBelow.reverse();
    while (this.above.length && top("above").lo <= b) {
      const p = this.popIdle("above");
      if (p.hi > b) {
        this.pushIdle("above", { lo: b + 1, hi: p.hi, acc: p.acc });
        got.push({ lo: p.lo, hi: b, acc: p.acc });
      } else got.push(p);
    }
    const out: Omit<IdlePiece, "born">[] = [];
    let next = a;
    for (const p of got) {
      if (p.lo > next) out.push({ lo: next, hi: p.lo - 1, acc: 0 });
      out.push({ lo: p.lo, hi: p.hi, acc: p.acc });
      next = p.hi + 1;
    }
    if (next <= b) out.push({ lo: next, hi: b, acc: 0 });
    return out;
  }

  /** Positions lo..hi stop being over having gathered `acc`: keep that (cumulative), merged with an equal neighbour. */
  private putIdle(side: "above" | "below", lo: number, hi: number, acc: number): void {
    if (!this.rules.cumulative || acc <= 0) return;
    const stack = this[side];
    const top = stack[stack.length - 1];
    if (top && top.acc === acc && (side === "above" ? top.lo === hi + 1 : top.hi + 1 === lo)) {
      this.popIdle(side);
      this.pushIdle(side, { lo: Math.min(lo, top.lo), hi: Math.max(hi, top.hi), acc });
    } else this.pushIdle(side, { lo, hi, acc });
  }

  /** Sets the runs to cover (limit, active] at t: the ends shrink or grow, the middle keeps its starts. */
  private apply(active: number, limit: number, t: number): void {
    const lo = limit + 1;
    const hi = active;
    for (let top = this.runs.last(); top && top.hi > hi; top = this.runs.last()) {
      const run = this.popRun("top");
      this.putIdle("above", Math.max(run.lo, hi + 1), run.hi, t - run.start);
      if (run.lo <= hi) this.pushRun("top", { lo: run.lo, hi, start: run.start, billable: run.billable });
    }
    for (let bottom = this.runs.first(); bottom && bottom.lo < lo; bottom = this.runs.first()) {
      const run = this.popRun("bottom");
      this.putIdle("below", run.lo, Math.min(run.hi, lo - 1), t - run.start);
      if (run.hi >= lo) this.pushRun("bottom", { lo, hi: run.hi, start: run.start, billable: run.billable });
    }
    if (hi < lo) return;
    if (this.runs.size === 0) {
      for (const p of this.takeIdle(lo, hi)) this.addRun("top", p.lo, p.hi, t - p.acc);
      return;
    }
    const first = this.runs.first()!;
    if (first.lo > lo) {
      const pieces = this.takeIdle(lo, first.lo - 1);
      for (let i = pieces.length - 1; i >= 0; i--) this.addRun("bottom", pieces[i].lo, pieces[i].hi, t - pieces[i].acc);
    }
    const last = this.runs.last()!;
    if (last.hi < hi) for (const p of this.takeIdle(last.hi + 1, hi)) this.addRun("top", p.lo, p.hi, t - p.acc);
  }

  /** A new run at one end, merged into its neighbour when both start together and are not billable. */
  private addRun(end: "top" | "bottom", lo: number, hi: number, start: number): void {
    const next = end === "top" ? this.runs.last() : this.runs.first();
    if (next && next.start === start && !next.billable) {
      this.popRun(end);
      this.pushRun(end, { lo: Math.min(lo, next.lo), hi: Math.max(hi, next.hi), start, billable: false });
    } else this.pushRun(end, { lo, hi, start, billable: false });
  }

  // ------------------------------------------------------------- time

  private emit(e: TrackerEvent): void {
    this.events.push(e);
    this.listener?.event?.(e);
  }

  /** The pool is constant on [clock, x): add it to the open interval and tell the listener. */
  private span(x: number): void {
    if (x <= this.clock) return;
    const overage = Math.max(0, this.active - this.limit);
    const dt = x - this.clock;
    if (this.open) {
      this.open.overage_seat_ms += overage * dt;
      this.open.billable_seat_ms += this.billable * dt;
    }
    this.listener?.span?.(this.clock, x, this.active, this.limit, this.billable, this);
    this.clock = x;
  }

  /** The current instant's maxima on the open interval. */
  private mark(): void {
    if (!this.open) return;
    this.open.peak_active = Math.max(this.open.peak_active, this.active);
    this.open.peak_overage = Math.max(this.open.peak_overage, this.active - this.limit);
    this.open.billable_overage_seats = Math.max(this.open.billable_overage_seats, this.billable);
  }

  /** Runs whose grace ends at or before t become billable; returns how many positions did. */
  private cross(t: number): number {
    const { grace } = this.rules;
    let n = 0;
    for (let run = this.heap.peek(); run && run.start + grace <= t; run = this.heap.peek()) {
      this.heap.pop();
      run.billable = true;
      this.billable += seatsOf(run);
      n += seatsOf(run);
      this.note(run);
    }
    if (this.heap.items.length > 2 * this.runs.size + 64) this.rebuild(this.rules.grace);
    return n;
  }

  /** The next cycle start after `clock`, when it matters (cumulative, something gathered). */
  private nextReset(): number | null {
    if (!this.rules.cumulative || !this.rules.nextCycleStart) return null;
    if (this.runs.size === 0 && this.below.length === 0 && this.above.length === 0) return null;
    return this.rules.nextCycleStart(this.clock);
  }

  /** A cycle starts at r: every position's gathered time goes back to zero. */
  private reset(r: number): void {
    const lo = this.runs.first()?.lo;
    const hi = this.runs.last()?.hi;
    while (this.runs.size) this.popRun("top");
    while (this.below.length) this.popIdle("below");
    while (this.above.length) this.popIdle("above");
    this.billable = 0;
    this.heap = new RunHeap();
    // With no grace, places stay billable across the cycle start (nothing to announce).
    if (lo !== undefined && hi !== undefined) this.pushRun("top", { lo, hi, start: r, billable: this.rules.grace === 0 });
  }

  /** Accounts time up to x (exclusive): grace crossings and cycle starts before x, in order. */
  private carry(x: number): void {
    const { grace } = this.rules;
    for (;;) {
      const run = this.heap.peek();
      const c = run ? run.start + grace : Infinity;
      const r = this.nextReset() ?? Infinity;
      if (r <= x && r <= c) {
        this.span(r);
        this.reset(r);
        continue;
      }
      if (c >= x) break;
      this.span(c);
      if (this.cross(c) > 0 && this.open) {
        this.mark();
        this.emit({ type: "overage.billable", at: c, billable_now: this.billable, interval: toIntervalFigures(this.open, null) });
      }
    }
    this.span(x);
  }

  /** Decides the instant at `clock`: its last step is the pool's state; tells what changed. */
  private decide(): void {
    if (!this.instant) return;
    this.instant = null;
    const t = this.clock;
    const crossed = this.cross(t);
    const over = this.active > this.limit;
    if (this.open && !over) {
      this.emit({ type: "overage.ended", interval: toIntervalFigures(this.open, t) });
      this.open = null;
    }
    if (!this.open && over) {
      this.open = freshInterval(t);
      this.mark();
      this.emit({ type: "overage.started", interval: toIntervalFigures(this.open, null) });
    } else this.mark();
    if (over && crossed > 0) {
      this.emit({ type: "overage.billable", at: t, billable_now: this.billable, interval: toIntervalFigures(this.open!, null) });
    }
  }

  private drain(): TrackerEvent[] {
    const out = this.events;
    this.events = [];
    return out;
  }

  // ------------------------------------------------------------- the public moves

  /**
   * The pool has `active` seats in use against `limit` from t on (t >= clock). Decides the
   * instants before t, whose events come out now; a step in the same ms as the previous one
   * replaces it (the instant is undone and redone), so only the last state of a ms counts.
   */
  step(t: number, active: number, limit: number): TrackerEvent[] {
    if (!(t >= this.clock)) throw new RangeError(`step at ${t} is before the tracker's time ${this.clock}`);
    if (t > this.clock) {
      this.decide();
      this.carry(t);
    }
    if (this.instant) this.undoInstant();
    else this.instant = { active: this.active, limit: this.limit, billable: this.billable, top: [], bottom: [], above: [], below: [] };
    this.apply(active, limit, t);
    this.active = active;
    this.limit = limit;
    return this.drain();
  }

  /** Moves to `now` with no change (the alarm): decides the instants and crossings before now. */
  advance(now: number): TrackerEvent[] {
    if (now > this.clock) {
      this.decide();
      this.carry(now);
    }
    return this.drain();
  }

  /** Whether steps at `clock` await their decision. */
  get undecided(): boolean {
    return this.instant !== null;
  }

  /**
   * When to call `advance` next so that nothing waits: just after an undecided instant that will
   * tell something, else just after the next grace crossing (or a cycle start while over, under
   * `cumulative`). null: nothing to do until the next step.
   */
  nextWake(): number | null {
    const run = this.heap.peek();
    const crossing = run ? run.start + this.rules.grace : null;
    if (this.instant) {
      const wasOver = this.instant.active > this.instant.limit;
      if (wasOver !== this.active > this.limit || (crossing !== null && crossing <= this.clock)) return this.clock + 1;
    }
    let next = crossing !== null ? Math.max(crossing, this.clock) + 1 : null;
    const r = this.active > this.limit ? this.nextReset() : null;
    if (r !== null && (next === null || r + 1 < next)) next = r + 1;
    return next;
  }

  /** The pool as of `now` >= clock (after `advance(now)`): nothing changes. */
  live(now: number): LiveStatus {
    const { grace } = this.rules;
    // Positions crossing at or before now that the clock has not passed yet, and the next crossing after now.
    let crossingNow = 0;
    let graceEnds: number | null = null;
    const items = this.heap.items;
    const stack = items.length ? [0] : [];
    while (stack.length) {
      const i = stack.pop()!;
      const run = items[i];
      const c = run.start + grace;
      const stale = run.dead || run.billable;
      if (!stale && c > now) {
        if (graceEnds === null || c < graceEnds) graceEnds = c;
        continue;
      }
      if (!stale) crossingNow += seatsOf(run);
      if (2 * i + 1 < items.length) stack.push(2 * i + 1);
      if (2 * i + 2 < items.length) stack.push(2 * i + 2);
    }
    const over = this.active > this.limit;
    // A cycle start takes every place's gathered time back to zero: the places over the limit then
    // cross again a grace later (with no grace they never stop being billable).
    if (over && grace > 0) {
      const r = this.nextReset();
      // A reset at the very moment of a crossing wins, as in `advance`.
      if (r !== null && r <= (graceEnds ?? Infinity)) graceEnds = r + grace;
    }
    const billableNow = this.billable + crossingNow;
    let interval: IntervalFigures | null = null;
    if (over) {
      const figures = this.open ? { ...this.open } : freshInterval(now);
      figures.peak_active = Math.max(figures.peak_active, this.active);
      figures.peak_overage = Math.max(figures.peak_overage, this.active - this.limit);
      figures.billable_overage_seats = Math.max(figures.billable_overage_seats, billableNow);
      interval = toIntervalFigures(figures, null);
    }
    return { over_limit: over, overage: Math.max(0, this.active - this.limit), billable_now: billableNow, grace_ends_at: graceEnds, interval };
  }

  // ------------------------------------------------------------- batch driving

  /**
   * Feeds sorted steps with t < until to a new engine, then accounts time up to `until`. Returns
   * the engine (null for no steps) and the last step at exactly `until`, if any.
   */
  static sweep(steps: Iterable<UsageStep>, grace: Grace, until: number, listener: Listener): { engine: OverageEngine | null; atUntil: UsageStep | null } {
    let engine: OverageEngine | null = null;
    let atUntil: UsageStep | null = null;
    let lastT = -Infinity;
    for (const step of steps) {
      if (step.t < lastT) throw new RangeError("usage steps must be sorted by t");
      lastT = step.t;
      if (step.t >= until) {
        if (step.t > until) break;
        atUntil = step;
        continue;
      }
      if (!engine) {
        engine = new OverageEngine(grace, step.limit, step.t);
        engine.listener = listener;
      }
      engine.step(step.t, step.active, step.limit);
    }
    if (engine && until > engine.clock) engine.advance(until);
    return { engine, atUntil };
  }
}

// ---------------------------------------------------------------------------------------------
// Batch view

/** The rules a window's figures use: under `cumulative` without cycle starts, time over the limit counts from the window's start. */
export function windowGrace(grace: Grace, from: number): Grace {
  const rules = rulesOf(grace);
  return typeof grace !== "number" && rules.cumulative && !grace.nextCycleStart ? { ...grace, nextCycleStart: (t: number) => (t < from ? from : Infinity) } : grace;
}

/** The figures of a concurrent pool over the window [from, to). */
export function summarize(steps: Iterable<UsageStep>, window: Window, grace: Grace): OverageFigures {
  const effective = windowGrace(grace, window.from);
  const collect = figuresCollector(window);
  if (window.from < window.to) OverageEngine.sweep(steps, effective, window.to, collect.listener);
  return collect.figures();
}

/**
 * What `summarize` adds up, as a listener of an engine sweep over the window's steps (with
 * `windowGrace`): a sweep that does more (chargeback by team) gives the same figures in the same pass.
 */
export function figuresCollector(window: Window): { listener: SweepListener; figures(): OverageFigures } {
  const { from, to } = window;
  const total = { peak_active: 0, peak_overage: 0, overage_ms: 0, billable_ms: 0, billable_max: 0 };
  let intervals = 0;
  let billableIntervals = 0;
  // The interval being swept: counted once it overlaps the window, billable once its billable part does.
  let current = { counted: false, billableCounted: false };
  const listener: SweepListener = {
    span(a, b, active, limit, billable) {
      const x = Math.max(a, from);
      const y = Math.min(b, to);
      if (x >= y) return;
      const overage = Math.max(0, active - limit);
      total.peak_active = Math.max(total.peak_active, active);
      total.peak_overage = Math.max(total.peak_overage, overage);
      total.overage_ms += overage * (y - x);
      total.billable_ms += billable * (y - x);
      total.billable_max = Math.max(total.billable_max, billable);
      if (overage > 0 && !current.counted) {
        current.counted = true;
        intervals++;
      }
      if (billable > 0 && !current.billableCounted) {
        current.billableCounted = true;
        billableIntervals++;
      }
    },
    event(e) {
      if (e.type === "overage.started") current = { counted: false, billableCounted: false };
    },
  };
  const figures = (): OverageFigures => ({
    peak_active: total.peak_active,
    peak_overage: total.peak_overage,
    overage_seat_seconds: total.overage_ms / 1000,
    billable_overage_seats: total.billable_max,
    billable_seat_seconds: total.billable_ms / 1000,
    intervals,
    billable_intervals: billableIntervals,
  });
  return { listener, figures };
}

/**
 * The over-limit intervals that overlap [from, to) for a positive length, in time order, each
 * with its figures from its start (not clipped at `from`). One still open at `to` has
 * ended_at null and its figures over [started_at, to).
 */
export function overLimitIntervals(steps: Iterable<UsageStep>, window: Window, grace: Grace): IntervalFigures[] {
  rulesOf(grace);
  const { from, to } = window;
  if (from >= to) return [];
  const out: IntervalFigures[] = [];
  const { engine, atUntil } = OverageEngine.sweep(steps, grace, to, {
    event(e) {
      if (e.type === "overage.ended" && e.interval.ended_at! > from) out.push(e.interval);
    },
  });
  if (engine?.open) {
    // The last step at `to` itself (if any) decides whether the interval ends exactly there.
    const endsAtTo = atUntil !== null && atUntil.active <= atUntil.limit;
    out.push(toIntervalFigures(engine.open, endsAtTo ? to : null));
  }
  return out;
}

/** Usage chart in columns: bucket k is [from + k*step, from + (k+1)*step) cut at `to`. */
export interface UsageColumns {
  from: number;
  step_ms: number;
  max_active: number[];
  limit: number[];
}

/**
 * Each bucket's max active and max limit held at any moment of it (the state carried in at its
 * start counts). One pass over the steps and the buckets. The caller bounds the bucket count.
 */
export function usageColumns(steps: Iterable<UsageStep>, window: Window, stepSeconds: number): UsageColumns {
  const stepMs = Math.round(stepSeconds * 1000);
  if (!Number.isFinite(stepMs) || stepMs <= 0) throw new RangeError(`step must be positive, got ${stepSeconds}`);
  const { from, to } = window;
  const n = to > from ? Math.ceil((to - from) / stepMs) : 0;
  const maxActive = new Array<number>(n).fill(0);
  const maxLimit = new Array<number>(n).fill(0);
  // The pool holds (active, limit) on [segFrom, t): mark the buckets it overlaps.
  const paint = (segFrom: number, segTo: number, active: number, limit: number) => {
    const a = Math.max(segFrom, from);
    const b = Math.min(segTo, to);
    if (a >= b) return;
    const k0 = Math.floor((a - from) / stepMs);
    const k1 = Math.ceil((b - from) / stepMs);
    for (let k = k0; k < k1 && k < n; k++) {
      if (active > maxActive[k]) maxActive[k] = active;
      if (limit > maxLimit[k]) maxLimit[k] = limit;
    }
  };
  let segFrom = -Infinity;
  let cur: { active: number; limit: number } | null = null;
  let pending: UsageStep | null = null; // the last step seen at its t (steps at one t collapse)
  for (const step of steps) {
    if (pending && step.t < pending.t) throw new RangeError("usage steps must be sorted by t");
    if (pending && step.t !== pending.t) {
      paint(segFrom, pending.t, cur!.active, cur!.limit);
      segFrom = pending.t;
      cur = { active: pending.active, limit: pending.limit };
    }
    if (!cur) cur = { active: 0, limit: step.limit };
    pending = step;
    if (step.t >= to) break;
  }
  if (pending) {
    paint(segFrom, pending.t, cur!.active, cur!.limit);
    segFrom = pending.t;
    cur = { active: pending.active, limit: pending.limit };
  }
  paint(segFrom, Infinity, cur?.active ?? 0, cur?.limit ?? 0);
  return { from, step_ms: stepMs, max_active: maxActive, limit: maxLimit };
}

/** Usage chart as rows (see usageColumns). */
export function usageBuckets(
  steps: Iterable<UsageStep>,
  window: Window,
  stepSeconds: number,
): { t: number; max_active: number; limit: number }[] {
  const c = usageColumns(steps, window, stepSeconds);
  return c.max_active.map((m, k) => ({ t: c.from + k * c.step_ms, max_active: m, limit: c.limit[k] }));
}

// ---------------------------------------------------------------------------------------------
// Online view over a plain snapshot (tests and simple callers; the Durable Object keeps engines)

export interface TrackerResult {
  state: TrackerState;
  events: TrackerEvent[];
}

/** A pool with nothing active at time t. */
export function newTracker(limit: number, t: number): TrackerState {
  return new OverageEngine(0, limit, t).toState();
}

/**
 * Applies a step at step.t >= the tracker's time. Events come out for the instants before
 * step.t only: an instant is decided once time has moved past it, so steps that share a ms
 * collapse to the last and never announce a state that did not last. Returns a new state.
 */
export function applyStep(state: TrackerState, step: UsageStep, grace: Grace): TrackerResult {
  const engine = OverageEngine.fromState(state, grace);
  const events = engine.step(step.t, step.active, step.limit);
  return { state: engine.toState(), events };
}

/**
 * Moves the tracker to t with no change (the alarm): decides the instants before t and
 * announces grace crossings before t. A t at or before the tracker's time changes nothing.
 */
export function advanceTo(state: TrackerState, t: number, grace: Grace): TrackerResult {
  if (t <= state.clock) return { state, events: [] };
  const engine = OverageEngine.fromState(state, grace);
  const events = engine.advance(t);
  return { state: engine.toState(), events };
}

/** The earliest moment at or after the tracker's time at which a position becomes billable, or null. */
export function nextGraceDeadline(state: TrackerState, grace: Grace): number | null {
  const g = rulesOf(grace).grace;
  let next: number | null = null;
  for (const run of state.runs) {
    const c = run.start + g;
    if (!run.billable && (next === null || c < next)) next = c;
  }
  return next;
}

/** When to call advanceTo next so that no decision waits (see OverageEngine.nextWake). */
export function nextWake(state: TrackerState, grace: Grace): number | null {
  return OverageEngine.fromState(state, grace).nextWake();
}

/** The pool as of `now` (a now before the tracker's time is read as that time). Changes nothing. */
export function liveStatus(state: TrackerState, now: number, grace: Grace): LiveStatus {
  const engine = OverageEngine.fromState(state, grace);
  const at = Math.max(now, state.clock);
  engine.advance(at);
  return engine.live(at);
}
