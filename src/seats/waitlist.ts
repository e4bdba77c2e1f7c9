import type { PoolId } from "../domain/catalog";
import { mayTakeSeat, type TeamSeatState } from "../domain/teams";
import { planGrants, positions, type DropReason, type GrantRules, type Waiter } from "../domain/waitlist";
import type { ErrorCode } from "../errors";
import { iso } from "../time";

/**
 * The waitlist at the ceiling (docs/licensing.md#the-waitlist, decision 170), in the account
 * object's SQLite (table `waitlist`), so a queue survives a restart. One row per waiting desktop
 * session: `waiting` until a seat is granted, then `granted` (the session holds the seat; the row
 * lets its next poll answer with the checkout) or `dropped` (the license re-check failed; the next
 * poll says why). Rows end at `expires_at`: a lease for a waiting entry, renewed by polls or held by
 * a socket.
 */

export type EntryState = "waiting" | "granted" | "dropped";

export interface Entry {
  user_id: string;
  session_id: string;
  pool: PoolId;
  seq: number;
  expires_at: number;
  state: EntryState;
  reason: DropReason | null;
}

/** The 202 answer while waiting (checkout with `wait`, and the poll). */
export interface WaitingView {
  status: "waiting";
  user_id: string;
  session_id: string;
  pool: PoolId;
  /** 1-based place of the user in the pool's queue. */
  position: number;
  /** Users waiting in the pool. */
  waiting: number;
  /** Why the seat was not given at once (`pool_at_ceiling`, `team_at_ceiling`). */
  reason: ErrorCode;
  /** The entry ends then unless renewed (poll, or an open socket). */
  expires_at: string;
  poll_interval_seconds: number;
}

type Row = {
  user_id: string;
  session_id: string;
  pool_id: string;
  seq: number;
  expires_at: number;
  state: string;
  reason: string | null;
};

const entryOf = (r: Row): Entry => ({
  user_id: r.user_id,
  session_id: r.session_id,
  pool: r.pool_id as PoolId,
  seq: r.seq,
  expires_at: r.expires_at,
  state: r.state as EntryState,
  reason: r.reason as DropReason | null,
});

export class WaitlistStore {
  constructor(
    private readonly sql: SqlStorage,
    /** Whether an open presence socket holds this session (its entry does not expire under it). */
    private readonly heldOpen: (userId: string, sessionId: string) => boolean = () => false,
  ) {}

  entry(userId: string, sessionId: string): Entry | null {
    const r = this.sql.exec<Row>("SELECT * FROM waitlist WHERE user_id = ? AND session_id = ?", userId, sessionId).toArray()[0];
    return r ? entryOf(r) : null;
  }

  /** Whether the session holds a live place in the pool's queue (a checkout with wait would renew it). */
  waitingIn(userId: string, sessionId: string, pool: PoolId, now: number): boolean {
    const existing = this.entry(userId, sessionId);
    return existing !== null && this.placeIn(existing, pool, now);
  }

  private placeIn(e: Entry, pool: PoolId, now: number): boolean {
    return e.state === "waiting" && e.pool === pool && this.live(e, now);
  }

  /**
   * Joins the pool's queue at the end, or renews the session's live entry in place (it keeps its
   * seq). An entry whose time is up (not purged yet) is gone: it does not give its place back.
   */
  join(userId: string, sessionId: string, pool: PoolId, now: number, expiresAt: number): Entry {
    const existing = this.entry(userId, sessionId);
    if (existing && this.placeIn(existing, pool, now)) {
      this.renew(userId, sessionId, expiresAt);
      return { ...existing, expires_at: expiresAt };
    }
    const seq = this.sql.exec<{ n: number }>("SELECT coalesce(max(seq), 0) + 1 AS n FROM waitlist").one().n;
    this.sql.exec(
      `INSERT INTO waitlist (user_id, session_id, pool_id, seq, expires_at, state, reason) VALUES (?, ?, ?, ?, ?, 'waiting', NULL)
       ON CONFLICT (user_id, session_id) DO UPDATE SET pool_id = excluded.pool_id, seq = excluded.seq, expires_at = excluded.expires_at, state = 'waiting', reason = NULL`,
      userId,
      sessionId,
      pool,
      seq,
      expiresAt,
    );
    return { user_id: userId, session_id: sessionId, pool, seq, expires_at: expiresAt, state: "waiting", reason: null };
  }

  renew(userId: string, sessionId: string, expiresAt: number): boolean {
    return this.sql.exec("UPDATE waitlist SET expires_at = ? WHERE user_id = ? AND session_id = ?", expiresAt, userId, sessionId).rowsWritten > 0;
  }

  /** Renews a waiting entry only (a socket's sweep, a poll). */
  renewWaiting(userId: string, sessionId: string, expiresAt: number): boolean {
    return (
      this.sql.exec("UPDATE waitlist SET expires_at = ? WHERE user_id = ? AND session_id = ? AND state = 'waiting'", expiresAt, userId, sessionId).rowsWritten > 0
    );
  }

  /** Removes the session's entry, whatever its state. True when there was one. */
  leave(userId: string, sessionId: string): boolean {
    return this.sql.exec("DELETE FROM waitlist WHERE user_id = ? AND session_id = ?", userId, sessionId).rowsWritten > 0;
  }

  /** The user's waiting entries end (license gone, user deleted, tokens revoked): kept as dropped for the next poll. */
  dropUser(userId: string, reason: DropReason, expiresAt: number): number {
    return this.sql.exec("UPDATE waitlist SET state = 'dropped', reason = ?, expires_at = ? WHERE user_id = ? AND state = 'waiting'", reason, expiresAt, userId)
      .rowsWritten;
  }

  markGranted(userId: string, sessionId: string, expiresAt: number): void {
    this.sql.exec("UPDATE waitlist SET state = 'granted', expires_at = ? WHERE user_id = ? AND session_id = ?", expiresAt, userId, sessionId);
  }

  markDropped(userId: string, sessionId: string, reason: DropReason): void {
    this.sql.exec("UPDATE waitlist SET state = 'dropped', reason = ? WHERE user_id = ? AND session_id = ?", reason, userId, sessionId);
  }

  /** Whether the entry is still alive at `now` (an open socket keeps a waiting entry alive). */
  live(e: Entry, now: number): boolean {
    return e.expires_at > now || (e.state === "waiting" && this.heldOpen(e.user_id, e.session_id));
  }

  /** The pool's live waiting entries, in queue order. */
  waiters(pool: PoolId, now: number): Waiter[] {
    return this.sql
      .exec<Row>("SELECT * FROM waitlist WHERE pool_id = ? AND state = 'waiting' ORDER BY seq", pool)
      .toArray()
      .map(entryOf)
      .filter((e) => this.live(e, now))
      .map((e) => ({ user_id: e.user_id, session_id: e.session_id, seq: e.seq }));
  }

  /** Pools with at least one waiting entry. */
  pools(): PoolId[] {
    return this.sql.exec<{ pool_id: string }>("SELECT DISTINCT pool_id FROM waitlist WHERE state = 'waiting'").toArray().map((r) => r.pool_id as PoolId);
  }

  /** Users waiting in each pool (live entries only): the pool card's figure. */
  counts(now: number): Map<PoolId, number> {
    const out = new Map<PoolId, number>();
    for (const pool of this.pools()) {
      const n = new Set(this.waiters(pool, now).map((w) => w.user_id)).size;
      if (n > 0) out.set(pool, n);
    }
    return out;
  }

  /** Rows whose time is up go (an open socket keeps a waiting one). */
  purge(now: number): void {
    const rows = this.sql.exec<Row>("SELECT * FROM waitlist WHERE expires_at <= ?", now).toArray().map(entryOf);
    for (const e of rows) if (!this.live(e, now)) this.leave(e.user_id, e.session_id);
  }
}

/** What the object gives the waitlist to hand out seats with: its seat rules and its way to open a session. */
export interface WaitlistContext {
  store: WaitlistStore;
  now: () => number;
  leaseMs: () => number;
  /** The user's pool now (null: no license). */
  licenseOf: (userId: string) => PoolId | null;
  holdsSeat: (userId: string) => boolean;
  /** The pool's seat state as the checkout reads it (ceiling, seats in use, team counts and limits). */
  seatState: (pool: PoolId) => TeamSeatState;
  teamOf: (userId: string) => string | null;
  /** Opens the session on a seat exactly as a checkout would (the seat book, the usage step, the alarm). Returns its lease end. */
  open: (userId: string, sessionId: string, pool: PoolId, now: number) => number;
  /** Tells an open socket of the session that it holds the seat now. */
  granted: (userId: string, sessionId: string, pool: PoolId, expiresAt: number) => void;
  /** Tells open sockets of the session that it was dropped from the queue. */
  dropped: (userId: string, sessionId: string, reason: DropReason) => void;
  /** Tells waiting sockets their new place. */
  moved: (userId: string, sessionId: string, view: WaitingView) => void;
}

/**
 * Hands out seats to waiters: after every change that can free capacity, the pool's live waiters
 * go through `planGrants` with the checkout's own rules, and each grant opens its sessions at
 * once. Re-entrant calls (a grant that evicts a session beyond the user's cap frees nothing, but a
 * free inside a grant may call back) are folded into the running pass.
 */
export class WaitlistService {
  private serving = false;
  private again = new Set<PoolId>();

  constructor(private readonly c: WaitlistContext) {}

  get store(): WaitlistStore {
    return this.c.store;
  }

  /** The seat rules for `pool`, over a snapshot that each grant advances. */
  private rules(pool: PoolId): GrantRules<TeamSeatState> {
    return {
      dropReason: (userId) => {
        const held = this.c.licenseOf(userId);
        return held === null ? "license_revoked" : held !== pool ? "license_moved" : null;
      },
      refuse: (s, userId) => (this.c.holdsSeat(userId) ? null : (mayTakeSeat(s, this.c.teamOf(userId))?.code ?? null)),
      take: (s, userId) => {
        if (this.c.holdsSeat(userId)) return s;
        const team = this.c.teamOf(userId);
        const activeByTeam = new Map(s.activeByTeam);
        if (team !== null) activeByTeam.set(team, (activeByTeam.get(team) ?? 0) + 1);
        return { ...s, active: s.active + 1, activeByTeam };
      },
    };
  }

  /** Serves the given pools' queues (every pool with waiters when none is given). */
  serve(pools?: Iterable<PoolId>): void {
    for (const p of pools ?? this.c.store.pools()) this.again.add(p);
    if (this.serving) return;
    this.serving = true;
    try {
      while (this.again.size > 0) {
        const [pool] = this.again;
        this.again.delete(pool);
        this.servePool(pool);
      }
    } finally {
      this.serving = false;
    }
  }

  private servePool(pool: PoolId): void {
    const now = this.c.now();
    this.c.store.purge(now);
    const waiters = this.c.store.waiters(pool, now);
    if (waiters.length === 0) return;
    const plan = planGrants(waiters, this.c.seatState(pool), this.rules(pool));
    for (const d of plan.drops) {
      for (const sessionId of d.sessions) {
        this.c.store.markDropped(d.user_id, sessionId, d.reason);
        this.c.dropped(d.user_id, sessionId, d.reason);
      }
    }
    for (const g of plan.grants) {
      for (const sessionId of g.sessions) {
        const expiresAt = this.c.open(g.user_id, sessionId, pool, now);
        this.c.store.markGranted(g.user_id, sessionId, expiresAt);
        this.c.granted(g.user_id, sessionId, pool, expiresAt);
      }
    }
    if (plan.grants.length + plan.drops.length > 0) this.tellPositions(pool, now);
  }

  /** Pushes each waiting socket its new place (only sockets: HTTP waiters read it when they poll). */
  private tellPositions(pool: PoolId, now: number): void {
    const waiters = this.c.store.waiters(pool, now);
    for (const w of waiters) this.c.moved(w.user_id, w.session_id, this.view(pool, w.user_id, w.session_id, now, waiters));
  }

  /** The waiting answer for a session's entry. */
  view(pool: PoolId, userId: string, sessionId: string, now: number, waiters = this.c.store.waiters(pool, now), reason: ErrorCode = this.reasonFor(pool, userId)): WaitingView {
    const pos = positions(waiters);
    const entry = this.c.store.entry(userId, sessionId);
    return {
      status: "waiting",
      user_id: userId,
      session_id: sessionId,
      pool,
      position: pos.get(userId) ?? pos.size + 1,
      waiting: pos.size,
      reason,
      expires_at: iso(entry?.expires_at ?? now),
      poll_interval_seconds: Math.max(1, Math.floor(this.c.leaseMs() / 3000)),
    };
  }

  /** Why the user waits now: the refusal a checkout of theirs would get. */
  private reasonFor(pool: PoolId, userId: string): ErrorCode {
    return mayTakeSeat(this.c.seatState(pool), this.c.teamOf(userId))?.code ?? "pool_at_ceiling";
  }
}
