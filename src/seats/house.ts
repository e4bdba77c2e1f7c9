import type { PoolId } from "../domain/catalog";
import { entitlementsBy, type Entitlements } from "../domain/entitlements";
import type { Db } from "../db/client";
import * as writes from "../db/roster-writes";
import { ApiError, fail, notFound, type Result } from "../errors";
import type { AdminWriter } from "./admin-write";
import type { Alerts } from "./alerts";
import type { ConnectTickets } from "./connect-tickets";
import type { InvocationStats } from "./invocation-stats";
import type { Presence, RevokeReason } from "./presence";
import type { Roster } from "./roster";
import type { RosterSync } from "./roster-sync";
import type { SeatActivity } from "./seat-activity";
import type { SeatBook } from "./seat-book";
import type { TokenGenerations } from "./token-generations";
import type { UsageLedger } from "./usage-ledger";
import { poolView, type PoolView } from "./views";
import { dropWaits } from "./wait-seat";
import type { WaitlistService } from "./waitlist";

/**
 * The parts of one account's object that its concerns share (built once by AccountSeats). The
 * agent path (./agent-seat.ts), the sockets (./sockets.ts) and the admin writes (./*-writes.ts)
 * are functions over it, so the class keeps only its entry points.
 */
export interface House {
  readonly accountId: string;
  /** Read through the object at each use (tests swap it to prove a path never reaches D1). */
  readonly db: Db;
  /** The roster as last loaded (./roster-sync.ts). */
  readonly roster: Roster;
  readonly sync: RosterSync;
  readonly admin: AdminWriter;
  readonly seats: SeatBook;
  readonly ledger: UsageLedger;
  readonly activity: SeatActivity;
  readonly tokens: TokenGenerations;
  readonly presence: Presence;
  readonly tickets: ConnectTickets;
  readonly calls: InvocationStats;
  /** Denials, thresholds, the warning before grace ends (./alerts.ts). */
  readonly alerts: Alerts;
  /** The queue at the ceiling (./waitlist.ts, ./wait-seat.ts). */
  readonly waitlist: WaitlistService;
  now(): number;
}

/** The House over the object's parts; its account id, database and roster are read at each use. */
export function assembleHouse(
  live: { accountId: () => string; db: () => Db; sync: RosterSync },
  parts: Omit<House, "accountId" | "db" | "roster" | "sync">,
): House {
  return {
    get accountId() {
      return live.accountId();
    },
    get db() {
      return live.db();
    },
    get roster() {
      return live.sync.roster;
    },
    sync: live.sync,
    ...parts,
  };
}

/** The roster, loaded once (the agent path never waits for anything else). */
export async function rosterLoaded(h: House): Promise<void> {
  if (!h.sync.loaded) await h.sync.ready();
}

/** Ends every session of the user; their open sockets are told why and closed. */
export function endSessionsOf(h: House, userId: string, now: number, reason: RevokeReason): void {
  h.activity.endSessionsOf(userId, now);
  dropWaits(h, userId, now);
  h.presence.revokeUser(userId, reason);
}

/** What the user may use: by key (a woken object does not read every user for it). */
export function entitlementsOf(h: House, userId: string): Entitlements {
  return entitlementsBy(h.roster, userId, { virtual_agent: (h.roster.purchased.get("virtual_agent") ?? 0) > 0 });
}

export function poolViewOf(h: House, pool: PoolId): PoolView {
  return poolView(pool, h.roster.pools.get(pool)!, h.seats.active(pool), h.roster.assigned(pool), h.waitlist.store.counts(h.now()).get(pool) ?? 0);
}

/** A 404 for a user the account does not have (read from D1: users are not in the roster). */
export async function unknownUser(h: House, userId: string): Promise<Result<never> | null> {
  return (await writes.userExists(h.db, h.accountId, userId)) ? null : fail(notFound(`User ${userId}`));
}

/** Runs a change (an add-on write) and tells every connected user whose entitlements it changed. */
export async function pushingEntitlements<T>(h: House, change: () => Promise<T>): Promise<T> {
  const users = h.presence.users();
  const before = new Map(users.map((u) => [u, JSON.stringify(entitlementsOf(h, u))]));
  const result = await change();
  for (const u of users) {
    const after = entitlementsOf(h, u);
    if (JSON.stringify(after) !== before.get(u)) h.presence.pushEntitlements(u, after);
  }
  return result;
}

export const revoked = () => new ApiError("unauthorized", "The agent token is invalid, expired or revoked.");
