/**
 * Denials: refused checkouts, counted per pool per minute, and the "true denial" rule
 * (docs/licensing.md#denials). Pure rules: no I/O, no clock; times are epoch ms.
 *
 * The account's object keeps one row per user, minute and pool (`UserMinute`): the last refusal of
 * that minute, how many there were, and the first time the user held a seat after it. These
 * functions are how such a row changes; `lastDenials` reads rows the way the denials list does.
 * The property test checks rows kept this way against a plain reading of every refusal and seat.
 */

export const DENIAL_REASONS = ["no_license", "pool_at_ceiling", "team_at_ceiling", "session_evicted", "rate_limited"] as const;
export type DenialReason = (typeof DENIAL_REASONS)[number];

/** A refusal is a true denial when its user held no seat in the following 5 minutes (RLM's term). */
export const TRUE_DENIAL_MS = 5 * 60_000;
export const MINUTE_MS = 60_000;

export const minuteOf = (t: number): number => Math.floor(t / MINUTE_MS) * MINUTE_MS;

/** The pool a refusal counts under: the user's pool, or null for a user with no license. */
export type DenialPool = string | null;

export interface Refusal {
  user: string;
  pool: DenialPool;
  reason: DenialReason;
  t: number;
}

/** One user's refusals in one minute under one pool. */
export interface UserMinute {
  user: string;
  pool: DenialPool;
  minute: number;
  /** The minute's last refusal and its reason. */
  t: number;
  reason: DenialReason;
  n: number;
  /** When the user first held a seat after `t`, or null (not yet). */
  seated_at: number | null;
}

/** The row after a refusal (`prev` is the row of the same user, minute and pool, if any). */
export function onRefusal(prev: UserMinute | null, r: Refusal): UserMinute {
  // A seat before this refusal says nothing about it: only what follows the last refusal counts.
  return { user: r.user, pool: r.pool, minute: minuteOf(r.t), t: r.t, reason: r.reason, n: (prev?.n ?? 0) + 1, seated_at: null };
}

/**
 * The row after its user held a seat at `t` (t at or after the row's refusal), or null when it
 * does not change: the first seat after the refusal is the one that decides.
 */
export function onSeated(row: UserMinute, t: number): UserMinute | null {
  if (row.seated_at !== null || t < row.t) return null;
  return { ...row, seated_at: t };
}

/**
 * Whether the row's refusal is a true denial as of `now`: false once the user held a seat within
 * 5 minutes of it (inclusive), true once those 5 minutes have passed without one, null before.
 */
export function trueDenial(row: Pick<UserMinute, "t" | "seated_at">, now: number): boolean | null {
  if (row.seated_at !== null && row.seated_at <= row.t + TRUE_DENIAL_MS) return false;
  if (now > row.t + TRUE_DENIAL_MS) return true;
  return null;
}

export interface DenialItem {
  user_id: string;
  pool: DenialPool;
  t: number;
  reason: DenialReason;
  /** Refusals of the user in the window (under the filtered pool, if any). */
  refusals: number;
  true_denial: boolean | null;
}

/** `pool` filter: a pool id, `null` (users with no license), or undefined (every pool). */
export interface DenialQuery {
  from: number;
  to: number;
  pool?: DenialPool;
}

/** Windows are read at whole minutes: the counts are per minute. */
export const minuteWindow = (from: number, to: number) => ({ from: minuteOf(from), to: minuteOf(to) });

/**
 * Per user, the last refusal in the window (rows whose minute is in [from, to), rounded down to
 * minutes) with its reason and whether it was a true denial; sorted by user id. Among rows of one
 * user, the later `t` wins, and at equal `t` (two pools in one ms) the larger pool id, no license
 * ("") smallest: an arbitrary but fixed order, the one the object's SQL uses.
 */
export function lastDenials(rows: Iterable<UserMinute>, q: DenialQuery, now: number): DenialItem[] {
  const w = minuteWindow(q.from, q.to);
  const last = new Map<string, { row: UserMinute; refusals: number }>();
  for (const row of rows) {
    if (row.minute < w.from || row.minute >= w.to) continue;
    if (q.pool !== undefined && row.pool !== q.pool) continue;
    const seen = last.get(row.user);
    if (!seen) last.set(row.user, { row, refusals: row.n });
    else {
      seen.refusals += row.n;
      const pool = row.pool ?? "";
      const seenPool = seen.row.pool ?? "";
      if (row.t > seen.row.t || (row.t === seen.row.t && pool > seenPool)) seen.row = row;
    }
  }
  return [...last.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([user, { row, refusals }]) => ({ user_id: user, pool: row.pool, t: row.t, reason: row.reason, refusals, true_denial: trueDenial(row, now) }));
}

/** The counts of one pool's minute: what a `seat.denied` event carries. */
export interface MinuteCounts {
  denials: number;
  users_denied: number;
  by_reason: Record<DenialReason, number>;
}

export const emptyByReason = (): Record<DenialReason, number> => ({ no_license: 0, pool_at_ceiling: 0, team_at_ceiling: 0, session_evicted: 0, rate_limited: 0 });

/**
 * Refusal counts into chart buckets: bucket k is [from + k*step, from + (k+1)*step); a minute's
 * count goes to the bucket holding the minute's start, or to bucket 0 for the minute `from` falls in.
 */
export function deniedColumn(minutes: Iterable<{ minute: number; n: number }>, from: number, to: number, stepMs: number): number[] {
  const n = to > from ? Math.ceil((to - from) / stepMs) : 0;
  const out = new Array<number>(n).fill(0);
  for (const m of minutes) {
    if (m.minute + MINUTE_MS <= from || m.minute >= to) continue;
    const k = Math.max(0, Math.floor((m.minute - from) / stepMs));
    if (k < n) out[k] += m.n;
  }
  return out;
}
