import { minuteOf, MINUTE_MS, type DenialPool, type DenialReason, type MinuteCounts } from "../domain/denials";
import type { EventRecord } from "../records";
import { iso } from "../time";
import { DEFAULT_ALERTS } from "../domain/thresholds";
import { DenialLog } from "./denial-log";
import { ThresholdWatch, type Crossing } from "./threshold-watch";
import type { Outbox } from "./outbox";
import { readMeta, writeMeta } from "./sqlite-schema";

export interface AlertsContext {
  sql: SqlStorage;
  outbox: Outbox;
  accountId: () => string;
  now: () => number;
  /** Sets the object's alarm to `at` unless an earlier one is set. */
  arm: (at: number) => void;
  /** Drains the outbox after the reply (events added outside the alarm). */
  flush: () => void;
  /** The pool's threshold alerts, or null for a pool the account does not have. */
  poolAlerts: (pool: string) => readonly number[] | null;
}

/**
 * What the account object tells admins before the invoice does (docs/licensing.md#denials): refused
 * checkouts counted per pool and minute, and a `seat.denied` event per pool and minute that had any,
 * sent once the minute is over (so it carries the minute's full counts). Kept apart from the class
 * so the object only calls in.
 */
export class Alerts {
  readonly denials: DenialLog;
  readonly thresholds: ThresholdWatch;

  constructor(private readonly c: AlertsContext) {
    this.denials = new DenialLog(c.sql, c.now());
    this.thresholds = new ThresholdWatch(c.sql);
  }

  /** The pool's seats in use or quantity changed (every usage step): thresholds crossed upward go out. */
  onStep(pool: string, t: number, active: number, quantity: number): void {
    const alerts = this.c.poolAlerts(pool);
    if (alerts === null) return;
    const crossings = this.thresholds.step(pool, alerts, active, quantity);
    if (crossings.length === 0) return;
    for (const x of crossings) this.c.outbox.add({ kind: "event", record: thresholdEvent(this.c.accountId(), x, t) });
    this.c.flush();
  }

  /** The pool's list was set: new thresholds start armed unless already reached (no event). */
  configurePool(pool: string, active: number, quantity: number): void {
    this.thresholds.configure(pool, this.c.poolAlerts(pool) ?? DEFAULT_ALERTS, active, quantity);
  }

  /** A refused checkout of `user` (pool null: the user has no license). */
  refused(user: string, pool: DenialPool, reason: DenialReason, t: number): void {
    if (this.denials.record(user, pool, reason, t)) this.c.arm(minuteOf(t) + MINUTE_MS);
  }

  /** A checkout that left `user` holding a seat at t. */
  seated(user: string, t: number): void {
    this.denials.seated(user, t);
  }

  /**
   * From the alarm: a `seat.denied` for each pool and minute that ended since the last time (the
   * outbox then carries it), at most one per pool and minute. Returns when to wake next, or null.
   */
  onAlarm(now: number): number | null {
    const through = Number(readMeta(this.c.sql, "denied_sent_through") ?? 0);
    const end = minuteOf(now);
    if (end > through) {
      for (const m of this.denials.minutes(through, end)) this.c.outbox.add({ kind: "event", record: deniedEvent(this.c.accountId(), m, now) });
      writeMeta(this.c.sql, "denied_sent_through", String(end));
    }
    const next = this.denials.firstMinuteFrom(end);
    return next === null ? null : next + MINUTE_MS;
  }

  prune(before: number): void {
    this.denials.prune(before);
  }
}

/** One pool's minute of refusals; the id names the pool and the minute, so a retry is the same event. */
export function deniedEvent(accountId: string, m: { pool: DenialPool; minute: number; counts: MinuteCounts }, now: number): EventRecord {
  return {
    id: `evt_denied_${m.pool ?? "none"}_${m.minute}`,
    type: "seat.denied",
    account_id: accountId,
    created_at: iso(now),
    data: { pool: m.pool, minute_start: iso(m.minute), minute_end: iso(m.minute + MINUTE_MS), ...m.counts },
  };
}

/** A threshold crossed upward; the id carries the account's crossing number, so each names one crossing. */
export function thresholdEvent(accountId: string, x: Crossing, t: number): EventRecord {
  return {
    id: `evt_threshold_${x.pool}_${x.percent}_${x.seq}`,
    type: "pool.threshold",
    account_id: accountId,
    created_at: iso(t),
    data: { pool: x.pool, percent: x.percent, active: x.active, quantity: x.quantity },
  };
}
