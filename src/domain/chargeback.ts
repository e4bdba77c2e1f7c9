/**
 * Chargeback by team (docs/licensing.md#chargeback-by-team): per pool and team, the most members
 * holding a seat at once, their seat time, and the billable seat time attributed to the team.
 *
 * Pure rules over epoch milliseconds and half-open periods. Attribution is "last in, first over":
 * at each instant the pool's holders are numbered by arrival (earliest hold start first, ties by
 * user id); the holder numbered n holds place n; the billable places are the ones the over-limit
 * engine says are billable at that instant (`OverageEngine.billablePlaces`), so the teams' billable
 * seat time adds up to the pool's `billable_seat_seconds` exactly. A billable place with no holder
 * in the log (the log and the step log disagree, e.g. history from before the hold log) counts
 * under `team: null`.
 *
 * One sweep in time order: the engine's spans (the same engine and steps as `summarize`) cut at
 * every hold start and end. Holders sit in a Fenwick tree over arrival order, so "who holds place
 * n" costs O(log holders) and nothing is sorted per instant; the teams' counts of billable places
 * are kept up to date as holders come and go (a departure moves the holders above it down a place:
 * each range of billable places loses one holder and gains one). Holds arrive sorted by (from,
 * user), which is the arrival order itself; only the holders present are kept (the tree is
 * compacted as arrivals grow), so memory is O(holders at once), not O(holds).
 */
import type { Hold } from "./holders";
import { OverageEngine, windowGrace, type Grace, type SweepListener, type UsageStep, type Window } from "./overage";

/** A hold with the holder's team when the hold opened (null: no team). */
export interface TeamHold extends Hold {
  team: string | null;
}

/** One team's figures in one pool over a window, seat time in ms (exact integers). */
export interface TeamUsage {
  team: string | null;
  /** The most of the team's members holding a seat at once. */
  peak_active: number;
  seat_ms: number;
  billable_ms: number;
}

/** One team's usage in buckets: bucket k is [from + k*step_ms, from + (k+1)*step_ms) cut at the window's end. */
export interface TeamColumns {
  from: number;
  step_ms: number;
  team: string | null;
  max_active: number[];
  seat_ms: number[];
  billable_ms: number[];
}

// ---------------------------------------------------------------------------------------------
// The holders present, over arrival slots

class Fenwick {
  readonly tree: Int32Array;
  constructor(readonly size: number) {
    this.tree = new Int32Array(size + 1);
  }
  add(i: number, d: number): void {
    for (let x = i + 1; x <= this.size; x += x & -x) this.tree[x] += d;
  }
  /** Sum of slots [0, i). */
  prefix(i: number): number {
    let s = 0;
    for (let x = i; x > 0; x -= x & -x) s += this.tree[x];
    return s;
  }
  /** The slot holding the k-th (1-based) unit; size is a power of two. */
  kth(k: number): number {
    let pos = 0;
    for (let step = this.size; step > 0; step >>= 1) {
      const next = pos + step;
      if (next <= this.size && this.tree[next] < k) {
        pos = next;
        k -= this.tree[next];
      }
    }
    return pos; // 0-based slot
  }
  /** Linear-time build from per-slot values. */
  static of(size: number, values: ArrayLike<number>): Fenwick {
    const f = new Fenwick(size);
    for (let i = 0; i < values.length; i++) f.tree[i + 1] = values[i];
    for (let x = 1; x <= size; x++) {
      const p = x + (x & -x);
      if (p <= size) f.tree[p] += f.tree[x];
    }
    return f;
  }
}

const EMPTY = -1;

/**
 * The holders present, in arrival order: slot i holds a team id (EMPTY once its holder left).
 * Plain typed arrays, no object per holder: holds can run into the hundreds of thousands a month.
 */
class Holders {
  private teams: Int32Array;
  private next = 0;
  private all: Fenwick;
  /** Holders present per team id. */
  readonly live: number[] = [];
  count = 0;

  /** `moved(from, to)` renumbers slots when the arrays are compacted (to: -1 for none). */
  constructor(private readonly moved: (map: Int32Array) => void) {
    this.all = new Fenwick(1024);
    this.teams = new Int32Array(1024).fill(EMPTY);
  }

  /** A holder of `team` arrives (last in order); returns its slot. */
  arrive(team: number): number {
    if (this.next === this.all.size) this.compact();
    const slot = this.next++;
    this.teams[slot] = team;
    this.all.add(slot, 1);
    while (this.live.length <= team) this.live.push(0);
    this.live[team]++;
    this.count++;
    return slot;
  }

  leave(slot: number): void {
    this.live[this.teams[slot]]--;
    this.teams[slot] = EMPTY;
    this.all.add(slot, -1);
    this.count--;
  }

  teamOf(slot: number): number {
    return this.teams[slot];
  }

  /** Renumbers the present holders 0..count-1 (order kept) into a tree twice their number. */
  private compact(): void {
    let size = 1024;
    while (size < 2 * this.count + 1) size *= 2;
    const teams = new Int32Array(size).fill(EMPTY);
    const ones = new Int32Array(this.count);
    const map = new Int32Array(this.next).fill(-1);
    let j = 0;
    for (let i = 0; i < this.next; i++) {
      if (this.teams[i] === EMPTY) continue;
      teams[j] = this.teams[i];
      ones[j] = 1;
      map[i] = j++;
    }
    this.teams = teams;
    this.all = Fenwick.of(size, ones);
    this.next = j;
    this.moved(map);
  }

  /** The place (1-based) of a present holder. */
  rankOf(slot: number): number {
    return this.all.prefix(slot + 1);
  }

  /** The team of the holder in place `rank` (1-based). */
  teamAt(rank: number): number {
    return this.teams[this.all.kth(rank)];
  }

  /**
   * Adds to `out[team]` how many of places a+1..b (0 <= a < b <= count) each team holds: a walk
   * over the arrival slots from place a+1 (a slot is empty only between compactions, so the walk
   * is at most twice the holders present). Only when many places change at once.
   */
  tally(a: number, b: number, out: number[]): void {
    let left = b - a;
    for (let slot = this.all.kth(a + 1); left > 0; slot++) {
      const team = this.teams[slot];
      if (team === EMPTY) continue;
      while (out.length <= team) out.push(0);
      out[team]++;
      left--;
    }
  }
}

/** Places lo..hi (inclusive), sorted and disjoint. */
type Places = [number, number][];

/** The places of `a` that are not in `b`, and how many. */
function minus(a: Places, b: Places): { ranges: Places; size: number } {
  const ranges: Places = [];
  let size = 0;
  let j = 0;
  for (const [lo0, hi] of a) {
    let lo = lo0;
    while (j < b.length && b[j][1] < lo) j++;
    for (let k = j; k < b.length && b[k][0] <= hi && lo <= hi; k++) {
      if (b[k][0] > lo) {
        ranges.push([lo, b[k][0] - 1]);
        size += b[k][0] - lo;
      }
      lo = Math.max(lo, b[k][1] + 1);
    }
    if (lo <= hi) {
      ranges.push([lo, hi]);
      size += hi - lo + 1;
    }
  }
  return { ranges, size };
}

/** Below this many places changed, the counts are moved place by place; above, counted afresh. */
const DELTA_MAX = 64;

/**
 * Which teams hold the billable places, kept up to date as holders come and go and the places
 * change: a departure moves the holders above it down a place, so each range of places loses at
 * most one holder and gains one (O(ranges × log holders)); an arrival takes the next place.
 */
class Attribution {
  private places: Places = [];
  /** Per team id, the billable places its holders hold; NULL_TEAM also counts places no holder holds. */
  readonly counts: number[] = [];

  constructor(private readonly holders: Holders) {}

  private bump(team: number, d: number): void {
    while (this.counts.length <= team) this.counts.push(0);
    this.counts[team] += d;
  }

  /** The team holding place p now (NULL_TEAM: nobody does). */
  private teamAt(p: number): number {
    return p <= this.holders.count ? this.holders.teamAt(p) : NULL_TEAM;
  }

  /** Just before the holder in place r (of `team`) leaves. */
  leaving(r: number, team: number): void {
    for (const [lo, hi] of this.places) {
      if (r > hi) continue;
      this.bump(r < lo ? this.teamAt(lo) : team, -1);
      this.bump(this.teamAt(hi + 1), 1);
    }
  }

  /** Just after a holder of `team` arrived (it holds the last place). */
  arrived(team: number): void {
    const n = this.holders.count;
    for (const [lo, hi] of this.places) {
      if (lo <= n && n <= hi) {
        this.bump(NULL_TEAM, -1);
        this.bump(team, 1);
      }
    }
  }

  /** The billable places are now `next`. */
  set(next: Places): void {
    if (samePlaces(this.places, next)) return;
    const gone = minus(this.places, next);
    const come = minus(next, this.places);
    this.places = next;
    if (gone.size + come.size <= DELTA_MAX) {
      for (const [lo, hi] of gone.ranges) for (let p = lo; p <= hi; p++) this.bump(this.teamAt(p), -1);
      for (const [lo, hi] of come.ranges) for (let p = lo; p <= hi; p++) this.bump(this.teamAt(p), 1);
      return;
    }
    this.counts.fill(0);
    const n = this.holders.count;
    for (const [lo, hi] of next) {
      const a = Math.min(lo - 1, n);
      const b = Math.min(hi, n);
      this.bump(NULL_TEAM, hi - lo + 1 - (b - a)); // places no holder holds
      if (b > a) this.holders.tally(a, b, this.counts);
    }
  }
}

/** A min-heap of present holders' slots by end time, in typed arrays (sifted with a hole). */
class Ends {
  private slots = new Int32Array(1024);
  private keys = new Float64Array(1024);
  size = 0;
  topKey(): number {
    return this.size > 0 ? this.keys[0] : Infinity;
  }
  topSlot(): number {
    return this.slots[0];
  }
  push(slot: number, key: number): void {
    if (this.size === this.slots.length) {
      const slots = new Int32Array(this.size * 2);
      slots.set(this.slots);
      const keys = new Float64Array(this.size * 2);
      keys.set(this.keys);
      [this.slots, this.keys] = [slots, keys];
    }
    const { slots, keys } = this;
    let i = this.size++;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (keys[p] <= key) break;
      slots[i] = slots[p];
      keys[i] = keys[p];
      i = p;
    }
    slots[i] = slot;
    keys[i] = key;
  }
  pop(): void {
    const { slots, keys } = this;
    const n = --this.size;
    if (n === 0) return;
    const slot = slots[n];
    const key = keys[n];
    let i = 0;
    for (;;) {
      let c = 2 * i + 1;
      if (c >= n) break;
      if (c + 1 < n && keys[c + 1] < keys[c]) c++;
      if (keys[c] >= key) break;
      slots[i] = slots[c];
      keys[i] = keys[c];
      i = c;
    }
    slots[i] = slot;
    keys[i] = key;
  }
  /** Slots renumbered (the heap order is by key, so it stands). */
  renumber(map: Int32Array): void {
    for (let i = 0; i < this.size; i++) this.slots[i] = map[this.slots[i]];
  }
}

// ---------------------------------------------------------------------------------------------
// The sweep

/** Receives the window cut into pieces where nothing changes: per team id, holders and billable places. */
interface Sink {
  piece(x: number, y: number, live: readonly number[], billable: readonly number[]): void;
}

const NULL_TEAM = 0;

/**
 * Sweeps the pool over `window`. `steps` as for `summarize` (from a calm instant before the window,
 * or the cycle's start under `cumulative`); `holds` sorted by (from, user_id), those that overlap the
 * window at least. `only` is named first, so its id is known before the sweep (1, or 0 for null).
 * Returns the team ids' names (id 0 is `null`, which also collects billable places with no holder).
 */
function sweep(steps: Iterable<UsageStep>, holds: Iterable<TeamHold>, window: Window, grace: Grace, sink: Sink, only?: string | null, also?: SweepListener): (string | null)[] {
  const names: (string | null)[] = [null];
  const ids = new Map<string | null, number>([[null, NULL_TEAM]]);
  const idOf = (team: string | null): number => {
    let id = ids.get(team);
    if (id === undefined) {
      id = names.length;
      ids.set(team, id);
      names.push(team);
    }
    return id;
  };
  if (only !== undefined) idOf(only); // named first: id 1 (or 0 for null)
  const ends = new Ends();
  const holders = new Holders((map) => ends.renumber(map));
  const it = holds[Symbol.iterator]();
  let pending: TeamHold | null = it.next().value ?? null;
  let lastFrom = -Infinity;
  let lastUser = "";
  let cursor = -Infinity;
  const attribution = new Attribution(holders);

  /** Arrivals and departures at or before `t` (all of them before anything at t is measured). */
  const applyUpTo = (t: number) => {
    while (ends.topKey() <= t) {
      const slot = ends.topSlot();
      ends.pop();
      attribution.leaving(holders.rankOf(slot), holders.teamOf(slot));
      holders.leave(slot);
    }
    while (pending && pending.from <= t) {
      if (pending.from < lastFrom || (pending.from === lastFrom && pending.user_id < lastUser)) throw new RangeError("holds must be sorted by (from, user_id)");
      lastFrom = pending.from;
      lastUser = pending.user_id;
      const end = pending.to;
      if (end === null || end > t) {
        const team = idOf(pending.team);
        const slot = holders.arrive(team);
        attribution.arrived(team);
        if (end !== null) ends.push(slot, end);
      }
      pending = it.next().value ?? null;
    }
  };

  const NONE: number[] = [];
  const NO_PLACES: Places = [];
  /** The pool is constant on [cursor, y): cut it at hold changes and hand the pieces on. */
  const runTo = (y: number, count: number, engine: OverageEngine | null) => {
    attribution.set(count > 0 && engine ? engine.billablePlaces() : NO_PLACES);
    for (;;) {
      applyUpTo(cursor);
      const nextEnd = ends.topKey();
      const nextStart = pending?.from ?? Infinity;
      const end = Math.min(y, nextEnd, nextStart);
      const x = Math.max(cursor, window.from);
      const z = Math.min(end, window.to);
      if (x < z) {
        while (holders.live.length < names.length) holders.live.push(0);
        sink.piece(x, z, holders.live, count > 0 ? attribution.counts : NONE);
      }
      cursor = end;
      if (end >= y) return;
    }
  };

  if (window.from < window.to) {
    OverageEngine.sweep(steps, windowGrace(grace, window.from), window.to, {
      event: also?.event,
      span(a, b, active, limit, count, eng) {
        also?.span?.(a, b, active, limit, count, eng);
        if (cursor === -Infinity) {
          // Before the first step nothing is billable; holds still count.
          cursor = Math.min(a, window.from);
          runTo(a, 0, null);
        }
        runTo(b, count, eng);
      },
    });
    // Without steps nothing is billable; holds still count.
    if (cursor === -Infinity) cursor = window.from;
    if (cursor < window.to) runTo(window.to, 0, null);
  }
  return names;
}

function samePlaces(a: Places, b: Places): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i][0] !== b[i][0] || a[i][1] !== b[i][1]) return false;
  return true;
}

/**
 * Per team, the pool's figures over `window`: every team with seat time or billable time in it
 * (`null`: users without a team, and billable places no logged holder held), sorted by billable
 * time descending, then team (null last). `also` hears the same engine sweep (`figuresCollector`:
 * the pool's own figures in the same pass).
 */
export function teamUsage(steps: Iterable<UsageStep>, holds: Iterable<TeamHold>, window: Window, grace: Grace, also?: SweepListener): TeamUsage[] {
  const peak: number[] = [];
  const seat: number[] = [];
  const bill: number[] = [];
  const names = sweep(steps, holds, window, grace, {
    piece(x, y, live, billable) {
      const dt = y - x;
      for (let t = 0; t < live.length; t++) {
        const n = live[t];
        if (n > 0) {
          seat[t] = (seat[t] ?? 0) + n * dt;
          if (n > (peak[t] ?? 0)) peak[t] = n;
        }
      }
      for (let t = 0; t < billable.length; t++) if (billable[t] > 0) bill[t] = (bill[t] ?? 0) + billable[t] * dt;
    },
  }, undefined, also);
  const out: TeamUsage[] = [];
  names.forEach((team, t) => {
    if ((seat[t] ?? 0) > 0 || (bill[t] ?? 0) > 0) out.push({ team, peak_active: peak[t] ?? 0, seat_ms: seat[t] ?? 0, billable_ms: bill[t] ?? 0 });
  });
  return out.sort(byBillable);
}

/** Billable time descending, then team name ascending, `null` last. */
export function byBillable(a: { team: string | null; billable_ms: number }, b: { team: string | null; billable_ms: number }): number {
  if (a.billable_ms !== b.billable_ms) return b.billable_ms - a.billable_ms;
  if (a.team === b.team) return 0;
  if (a.team === null) return 1;
  if (b.team === null) return -1;
  return a.team < b.team ? -1 : 1;
}

/**
 * One team's usage in buckets: per bucket the most members holding a seat at once (the state
 * carried in at its start counts), their seat time and the billable time attributed to the team.
 * The caller bounds the bucket count.
 */
export function teamColumns(steps: Iterable<UsageStep>, holds: Iterable<TeamHold>, window: Window, grace: Grace, team: string | null, stepSeconds: number): TeamColumns {
  const stepMs = Math.round(stepSeconds * 1000);
  if (!Number.isFinite(stepMs) || stepMs <= 0) throw new RangeError(`step must be positive, got ${stepSeconds}`);
  const { from, to } = window;
  const n = to > from ? Math.ceil((to - from) / stepMs) : 0;
  const maxActive = new Array<number>(n).fill(0);
  const seat = new Array<number>(n).fill(0);
  const bill = new Array<number>(n).fill(0);
  // The sweep names null first (id 0) and `only` next (id 1).
  const id = team === null ? NULL_TEAM : 1;
  sweep(
    steps,
    holds,
    window,
    grace,
    {
      piece(x, y, live, billable) {
        const c = live[id] ?? 0;
        const b = billable[id] ?? 0;
        if (c === 0 && b === 0) return;
        const k0 = Math.floor((x - from) / stepMs);
        const k1 = Math.min(n, Math.ceil((y - from) / stepMs));
        for (let k = k0; k < k1; k++) {
          const dt = Math.min(y, from + (k + 1) * stepMs) - Math.max(x, from + k * stepMs);
          if (c > maxActive[k]) maxActive[k] = c;
          seat[k] += c * dt;
          bill[k] += b * dt;
        }
      },
    },
    team,
  );
  return { from, step_ms: stepMs, team, max_active: maxActive, seat_ms: seat, billable_ms: bill };
}
