import type { House } from "./house";
import type { Roster } from "./roster";

/**
 * The account object's part of offboarding (docs/architecture.md#offboarding). The Worker calls
 * `closeAccount`, finalizes the last cycle from this object's step log, purges D1, then `wipe`s.
 * Each step is safe to repeat: a DELETE that failed half-way runs them again.
 */

const GONE = "The account was deleted.";

/** A roster read from D1 of a deleted account (or none yet): no agent token is accepted. */
export function onRosterLoaded(h: House, roster: Roster): void {
  h.tokens.accountGone = !roster.exists || roster.deleted;
}

/**
 * Refuses every agent from now on, ends every session (the seats free at this instant, which is
 * the last cycle's end) and closes the sockets; stores what the outbox owes D1, so the last
 * over-limit events are delivered like any other. Answers this object's clock.
 */
export async function closeAccount(h: House): Promise<number> {
  await h.sync.ready().catch(() => undefined);
  h.tokens.accountGone = true;
  const now = h.now();
  for (const userId of [...h.seats.holders.keys()]) h.activity.endSessionsOf(userId, now);
  h.presence.revoke(h.presence.open(), "tokens_revoked", GONE);
  await h.activity.flushOutbox();
  return now;
}

/**
 * Empties the object: its sockets closed, its alarm cleared, every row of its SQLite deleted
 * (sessions, usage steps, trackers, outbox, tickets, token generations, stats). The instance stays
 * inert (every agent refused) until `reset` drops it from memory.
 */
export async function wipe(h: House, ctx: DurableObjectState): Promise<void> {
  h.tokens.accountGone = true;
  h.presence.revoke(h.presence.open(), "tokens_revoked", GONE);
  await ctx.storage.deleteAlarm();
  await ctx.storage.deleteAll();
}

/**
 * Drops the instance and everything it held in memory; the next call builds a new one from empty
 * storage and a D1 roster of a deleted account (agents refused). `abort` throws into this very
 * call: the caller expects that error.
 */
export function reset(ctx: DurableObjectState): never {
  ctx.abort(RESET);
  throw new Error(RESET);
}

export const RESET = "offboarded: the object was reset";
