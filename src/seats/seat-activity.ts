import { parsePoolId, type PoolId } from "../domain/catalog";
import { cycleContaining } from "../domain/cycles";
import { planGraceWarnings, warningWake } from "../domain/grace-warning";
import { graceMs, type GraceRules, type TrackerEvent } from "../domain/overage";
import { DAY_MS } from "../time";
import { graceEndingEvent } from "./grace-ending";
import { HoldLog } from "./hold-log";
import type { Outbox } from "./outbox";
import type { Roster } from "./roster";
import type { SeatBook } from "./seat-book";
import { readMeta, writeMeta } from "./sqlite-schema";
import type { UsageLedger } from "./usage-ledger";
import { eventRecord, intervalId, intervalRecord } from "./views";

/** Retry delay for an outbox that D1 or the queue refused. */
const OUTBOX_RETRY_MS = 5_000;
const NONE_WARNED: ReadonlySet<number> = new Set();
/** The usage step log keeps this much history: more than a year of cycles, and the dashboard's 30 days. */
const STEP_RETENTION_MS = 400 * DAY_MS;

export interface ActivityContext {
  ctx: DurableObjectState;
  sql: SqlStorage;
  seats: SeatBook;
  ledger: UsageLedger;
  outbox: Outbox;
  roster: () => Roster;
  accountId: () => string;
  now: () => number;
  /** Whether an open presence socket holds this session (its lease must not end under it). */
  heldOpen?: (userId: string, sessionId: string) => boolean;
  /** Each usage step of a pool (thresholds). */
  onStep?: (pool: PoolId, t: number, active: number, limit: number) => void;
  /** Other logs pruned with the usage log (denials). */
  prune?: (before: number) => void;
  /** A seat of `pool` freed (after the step is logged): the waitlist hands it out (./waitlist.ts). */
  onFreed?: (pool: PoolId) => void;
}

/**
 * What follows a change of seats in use: the usage step, the over-limit tracker, its events in the
 * outbox, and the one alarm that covers lease expiry, grace deadlines and outbox retries. All
 * synchronous except the outbox flush, so a seat change and its step commit together.
 */
export class SeatActivity {
  private alarmAt: number | null = null;
  /** Who held a seat when (docs/licensing.md#who-counted), written with the usage step of each change. */
  readonly holds: HoldLog;

  constructor(private readonly c: ActivityContext) {
    this.holds = new HoldLog(c.sql);
  }

  /** The alarm already set in storage, read once when the object wakes. */
  async init(): Promise<void> {
    this.alarmAt = await this.c.ctx.storage.getAlarm();
  }

  /** Logs the pool's new (active, limit) and feeds its over-limit tracker; events go to the outbox. */
  record(pool: PoolId, t: number): void {
    const roster = this.c.roster();
    const settings = roster.pools.get(pool);
    if (!settings) return;
    const tracked = parsePoolId(pool)!.model === "concurrent";
    const events = this.c.ledger.record(pool, t, this.c.seats.active(pool), settings.quantity, tracked, this.graceRules());
    this.c.onStep?.(pool, t, this.c.seats.active(pool), settings.quantity);
    this.emit(
      events.map((event) => ({ pool, event })),
      t,
    );
    // An instant's outcome is decided once it has passed (decision 030): wake just after it.
    const wake = this.c.ledger.nextWake();
    if (wake !== null) this.arm(wake);
    // Only this pool's over-runs changed: the other pools' warnings stay armed as they were.
    const warn = this.graceWarnings(t, false, pool);
    if (warn !== null) this.arm(warn);
  }

  /**
   * The `overage.grace_ending` warnings (docs/licensing.md#grace-ending-warning): with `send`, those
   * due by now go to the outbox (after `settle(now)`, from the alarm). Returns when the next falls due
   * (of `only` when given, else of every pool).
   */
  private graceWarnings(now: number, send: boolean, only?: PoolId): number | null {
    const settings = this.c.roster().settings;
    const warnMs = settings.warnBeforeGraceEndSeconds * 1000;
    if (!(warnMs > 0)) return null;
    const rules = this.graceRules();
    let next: number | null = null;
    for (const [pool, poolSettings] of this.c.roster().pools) {
      if ((only !== undefined && pool !== only) || parsePoolId(pool)!.model !== "concurrent") continue;
      const key = `grace_warned_${pool}`;
      // Deadlines already warned about and still ahead (the past ones drop out as they pass).
      const warnedNow = () => (JSON.parse(readMeta(this.c.sql, key) ?? "[]") as number[]).filter((d) => d > now);
      // First only when to wake: the plan's first deadline, found in the tracker's heap without
      // copying every over-run (with 10,000 seats over, a checkout copied 10,000). With no deadline
      // ahead at all (a pool within its limit) the warned list is not read.
      const grace = graceMs(rules.graceSeconds);
      let first = this.c.ledger.firstGraceEnd(pool, rules, now, grace, NONE_WARNED);
      if (first !== null) {
        const warned = new Set(warnedNow());
        if (warned.has(first)) first = this.c.ledger.firstGraceEnd(pool, rules, now, grace, warned);
      }
      // A seat change only arms; so does an alarm (lease expiry, an instant, a retry) with no
      // warning due yet. Only a due warning needs the plan over every over-run (its seats).
      if (!send || first === null || first - warnMs > now) {
        const wake = warningWake(first, warnMs, now);
        if (wake !== null && (next === null || wake < next)) next = wake;
        continue;
      }
      const runs = this.c.ledger.overRuns(pool, rules, now);
      if (runs.length === 0) continue;
      const warned = warnedNow();
      const plan = planGraceWarnings(runs, graceMs(rules.graceSeconds), warnMs, new Set(warned), now);
      let wake = plan.wakeAt;
      if (plan.due.length > 0) {
        const interval = this.c.ledger.live(pool, now, rules)?.interval;
        if (interval) {
          const id = intervalId(pool, interval.started_at);
          for (const w of plan.due) this.c.outbox.add({ kind: "event", record: graceEndingEvent(this.c.accountId(), pool, id, w, this.c.seats.active(pool), poolSettings.quantity, now) });
          writeMeta(this.c.sql, key, JSON.stringify([...warned, ...plan.due.map((w) => w.graceEndsAt)]));
        } else wake = now + 1; // due, but not sent from here: the alarm sends it just after
      }
      if (wake !== null && (next === null || wake < next)) next = wake;
    }
    return next;
  }

  /** A user took a seat (their first session): the usage step, and their hold opens at the step's time. */
  taken(userId: string, pool: PoolId, t: number): void {
    this.record(pool, t);
    this.holds.open(userId, pool, Math.max(t, this.c.ledger.lastAt(pool) ?? t), this.c.roster().teamOf(userId) ?? null);
  }

  /** A user's seat was freed: the usage step, and their hold closes at the step's time (steps never run backwards). */
  private seatFreed(userId: string, pool: PoolId, t: number): void {
    this.record(pool, t);
    this.holds.close(userId, pool, Math.max(t, this.c.ledger.lastAt(pool) ?? t));
  }

  /** The account's grace rules for the over-limit engine. */
  graceRules(): GraceRules {
    const s = this.c.roster().settings;
    return { graceSeconds: s.graceSeconds, policy: s.gracePolicy, nextCycleStart: (t) => cycleContaining(t, s.billingDay).end };
  }

  /** Frees the seats of leases that ended, each at its own expiry time; then decides what overage has due. */
  expireDue(now: number): void {
    this.expireLeases(now);
    this.settle(now);
  }

  /** Over-limit decisions due by now (instants past, grace crossings) go out as events. */
  settle(now: number): void {
    const tracked = [...this.c.roster().pools.keys()].filter((pool) => parsePoolId(pool)!.model === "concurrent");
    this.emit(this.c.ledger.settle(now, this.graceRules(), tracked), now);
  }

  private expireLeases(now: number): void {
    const due = this.c.seats.due(now);
    if (due.length === 0) return;
    const renewed = now + this.c.roster().settings.leaseTtlSeconds * 1000;
    const freedPools = new Set<PoolId>();
    for (const s of due) {
      // A lease an open socket holds is renewed, not ended: a late alarm never frees a connected seat.
      if (this.c.heldOpen?.(s.user_id, s.session_id)) {
        this.c.seats.renew(s.user_id, s.session_id, renewed);
        continue;
      }
      const freed = this.c.seats.end(s.user_id, s.session_id);
      if (freed) {
        this.seatFreed(s.user_id, freed, s.expires_at);
        freedPools.add(freed);
      }
    }
    const next = this.c.seats.refreshExpiry();
    if (next !== null) this.arm(next);
    // After every expiry is logged (at its own time): grants happen now, later than all of them.
    for (const pool of freedPools) this.c.onFreed?.(pool);
  }

  /** Ends every session of a user (license gone or moved, user removed, forced release). */
  endSessionsOf(userId: string, now: number): void {
    const freed = this.c.seats.endAll(userId);
    if (freed) {
      this.seatFreed(userId, freed, now);
      this.c.onFreed?.(freed);
    }
  }

  /** Ends one session; frees the seat when it was the user's last. */
  endSession(userId: string, sessionId: string, now: number): void {
    const freed = this.c.seats.end(userId, sessionId);
    if (freed) {
      this.seatFreed(userId, freed, now);
      this.c.onFreed?.(freed);
    }
  }

  private emit(events: { pool: PoolId; event: TrackerEvent }[], now: number): void {
    if (events.length === 0) return;
    for (const { pool, event } of events) {
      const record = intervalRecord(pool, event.interval);
      this.c.outbox.add({ kind: "interval", record });
      this.c.outbox.add({ kind: "event", record: eventRecord(this.c.accountId(), record, event, now) });
    }
    const wake = this.c.ledger.nextWake();
    if (wake !== null) this.arm(wake);
    this.c.ctx.waitUntil(this.flushOutbox());
  }

  /** Drains the outbox now (a failure re-arms the alarm for a retry). */
  async flushOutbox(): Promise<void> {
    try {
      await this.c.outbox.flush();
    } catch (err) {
      console.warn(`outbox flush failed for ${this.c.accountId()}; retrying`, err);
      this.arm(this.c.now() + OUTBOX_RETRY_MS);
    }
  }

  /** Sets the alarm to `at` unless an earlier one is set already. */
  arm(at: number): void {
    if (this.alarmAt !== null && this.alarmAt <= at) return;
    this.alarmAt = at;
    void this.c.ctx.storage.setAlarm(at);
  }

  /** The alarm's work. Idempotent: expires leases, raises grace crossings, drains the outbox, re-arms. */
  async onAlarm(): Promise<void> {
    this.alarmAt = null;
    const now = this.c.now();
    this.expireDue(now);
    const warn = this.graceWarnings(now, true);
    this.pruneDaily(now);
    await this.flushOutbox();
    const candidates = [this.c.seats.refreshExpiry(), this.c.ledger.nextWake(), warn, this.c.outbox.pending() ? now + OUTBOX_RETRY_MS : null];
    const next = candidates.filter((t): t is number => t !== null);
    if (next.length) this.arm(Math.min(...next));
  }

  /** At most once a day, from the alarm: old steps and holds go, so the logs stay bounded. */
  private pruneDaily(now: number): void {
    const last = Number(readMeta(this.c.sql, "pruned_at") ?? 0);
    if (now - last < DAY_MS) return;
    this.c.ledger.prune(now - STEP_RETENTION_MS);
    this.c.prune?.(now - STEP_RETENTION_MS);
    this.holds.prune(now - STEP_RETENTION_MS);
    writeMeta(this.c.sql, "pruned_at", String(now));
  }
}
