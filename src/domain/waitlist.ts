/**
 * The waitlist at a pool's ceiling (docs/licensing.md#the-waitlist), as pure functions: the order
 * of the queue, each waiter's position, and who gets the seats that are free now.
 *
 * The seat rules themselves (the pool's `max_active`, a team's cap, reservations) are not repeated
 * here: the caller passes them in as `GrantRules`, the same predicates a checkout is judged by, so
 * a waiter is granted exactly when a checkout of theirs would have been let through.
 *
 * Decisions (docs/decisions/171-fifo-within-the-rules.md):
 * - A seat is held by a user, so the queue is ordered by user: a user's place is that of their
 *   earliest entry, and a grant serves all of that user's waiting sessions with one seat.
 * - FIFO within the rules: each grant goes to the first waiter in queue order whom the rules allow
 *   at that moment. A waiter is *skipped* when a waiter behind it is granted while it stays
 *   waiting; that happens only when the rules refuse it (its team is at its cap, a reservation of
 *   another team holds the seat). So a waiter is never passed over for a seat it may take, and a
 *   skipped waiter is served before everyone behind it as soon as the rules allow it.
 * - The license is checked again at grant time, for every waiter: a waiter whose user lost their
 *   license, or was moved to another pool, is dropped with that reason before anyone is granted.
 */

import type { ErrorCode } from "../errors";

/** One waiting desktop session. */
export interface Waiter {
  user_id: string;
  session_id: string;
  /** Queue order: strictly increasing in the order entries joined. */
  seq: number;
}

export type DropReason = "license_revoked" | "license_moved";

/** The seat rules as the caller knows them, over a state `S` of the pool (seats in use, per team). */
export interface GrantRules<S> {
  /** The license re-check: null while the user still holds a license in the waited-for pool. */
  dropReason(userId: string): DropReason | null;
  /** Why the user may not take a seat in `state` (a refusal code such as `pool_at_ceiling`), or null. */
  refuse(state: S, userId: string): ErrorCode | null;
  /** The state once the user holds a seat. */
  take(state: S, userId: string): S;
}

/** A user's place in the queue: their waiting sessions, the earliest first. */
export interface QueuedUser {
  user_id: string;
  sessions: string[];
  /** The seq of the user's earliest entry: the user's place. */
  seq: number;
}

export interface Skip {
  user_id: string;
  /** The user granted instead, from behind. */
  by: string;
  /** Why the rules refused the skipped user at that moment. */
  code: ErrorCode;
}

export interface GrantPlan<S> {
  /** Granted users in grant order, with every waiting session each one had. */
  grants: QueuedUser[];
  /** Users dropped by the license re-check, in queue order. */
  drops: (QueuedUser & { reason: DropReason })[];
  /** Who was passed over by which grant (for the no-starvation rule and its tests). */
  skips: Skip[];
  /** The state after the grants. */
  state: S;
}

/** The queue by user: each user once, at the place of their earliest entry (ties by user id). */
export function queueByUser(waiters: readonly Waiter[]): QueuedUser[] {
  const byUser = new Map<string, { seq: number; entries: Waiter[] }>();
  for (const w of waiters) {
    const u = byUser.get(w.user_id);
    if (!u) byUser.set(w.user_id, { seq: w.seq, entries: [w] });
    else {
      u.entries.push(w);
      u.seq = Math.min(u.seq, w.seq);
    }
  }
  return [...byUser.entries()]
    .map(([user_id, u]) => ({
      user_id,
      seq: u.seq,
      sessions: u.entries.sort((a, b) => a.seq - b.seq || cmp(a.session_id, b.session_id)).map((e) => e.session_id),
    }))
    .sort((a, b) => a.seq - b.seq || cmp(a.user_id, b.user_id));
}

/** Each user's 1-based position in the queue (the same for all of a user's sessions). */
export function positions(waiters: readonly Waiter[]): Map<string, number> {
  return new Map(queueByUser(waiters).map((u, i) => [u.user_id, i + 1]));
}

/**
 * Who gets a seat now: drops every waiter whose license is gone, then grants, one at a time, the
 * first remaining waiter the rules allow in the state left by the grants before, until the rules
 * allow nobody. Each grant re-reads the rules, so a burst of freed seats is handed out one by one.
 */
export function planGrants<S>(waiters: readonly Waiter[], state: S, rules: GrantRules<S>): GrantPlan<S> {
  const drops: GrantPlan<S>["drops"] = [];
  const queue: QueuedUser[] = [];
  for (const u of queueByUser(waiters)) {
    const reason = rules.dropReason(u.user_id);
    if (reason) drops.push({ ...u, reason });
    else queue.push(u);
  }
  const grants: QueuedUser[] = [];
  const skips: Skip[] = [];
  let s = state;
  for (;;) {
    const refused: { user_id: string; code: ErrorCode }[] = [];
    let chosen = -1;
    for (let i = 0; i < queue.length; i++) {
      const code = rules.refuse(s, queue[i].user_id);
      if (code === null) {
        chosen = i;
        break;
      }
      refused.push({ user_id: queue[i].user_id, code });
    }
    if (chosen < 0) break;
    const [granted] = queue.splice(chosen, 1);
    for (const r of refused) skips.push({ user_id: r.user_id, by: granted.user_id, code: r.code });
    grants.push(granted);
    s = rules.take(s, granted.user_id);
  }
  return { grants, drops, skips, state: s };
}

const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
