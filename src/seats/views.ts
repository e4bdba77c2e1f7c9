import { parsePoolId, type PoolId } from "../domain/catalog";
import type { IntervalFigures, LiveStatus, TrackerEvent } from "../domain/overage";
import type { EventRecord, IntervalRecord } from "../records";
import { iso } from "../time";
import type { PoolSettings } from "./roster";
import { DEFAULT_ALERTS } from "../domain/thresholds";

/** Reply shapes the Durable Object hands to the routes (plain data: they cross the RPC boundary). */

export interface PoolView {
  id: PoolId;
  tier: string;
  model: string;
  quantity: number;
  max_active: number | null;
  assigned: number | null;
  members: number | null;
  active: number;
  over_limit: boolean;
  /** Users in the pool's waitlist (docs/licensing.md#the-waitlist). */
  waiting: number;
  /** Threshold alerts, percentages of the quantity (docs/licensing.md#thresholds). */
  alerts: number[];
}

export interface CheckoutView {
  user_id: string;
  pool: PoolId;
  tier: string;
  model: string;
  session_id: string;
  expires_at: string;
  heartbeat_interval_seconds: number;
  limit: number;
  active: number;
  over_limit: boolean;
  grace_ends_at: string | null;
}

export interface PoolSeatsView {
  limit: number;
  active: number;
  over_limit: boolean;
  /** Places over the limit that are billable now, under the account's grace policy. */
  billable_now: number;
  /** When the next place becomes billable if nothing changes (under the grace policy), or null. */
  grace_ends_at: string | null;
  interval: IntervalRecord | null;
  items: { user_id: string; sessions: number; since: string; expires_at: string }[];
}

/** Interval ids are stable (pool and start), so every copy of an interval upserts one row. */
export const intervalId = (pool: PoolId, startedAt: number) => `ov_${pool}_${startedAt}`;

export function intervalRecord(pool: PoolId, f: IntervalFigures): IntervalRecord {
  return {
    id: intervalId(pool, f.started_at),
    pool,
    started_at: iso(f.started_at),
    ended_at: f.ended_at === null ? null : iso(f.ended_at),
    peak_active: f.peak_active,
    peak_overage: f.peak_overage,
    overage_seat_seconds: f.overage_seat_seconds,
    billable: f.billable,
    billable_overage_seats: f.billable_overage_seats,
    billable_seat_seconds: f.billable_seat_seconds,
  };
}

/** The webhook event for a tracker event; its id names exactly one event of one interval. */
export function eventRecord(accountId: string, record: IntervalRecord, event: TrackerEvent, now: number): EventRecord {
  const billable = event.type === "overage.billable";
  const suffix = billable ? `billable_${event.at}` : event.type.slice("overage.".length);
  return {
    id: `evt_${record.id}_${suffix}`,
    type: event.type,
    account_id: accountId,
    created_at: iso(billable ? event.at : now),
    data: billable ? { interval: record, billable_now: event.billable_now } : { interval: record },
  };
}

export function poolView(pool: PoolId, settings: PoolSettings, active: number, assigned: number, waiting = 0): PoolView {
  const { tier, model } = parsePoolId(pool)!;
  return {
    id: pool,
    tier,
    model,
    quantity: settings.quantity,
    max_active: settings.maxActive,
    assigned: model === "named" ? assigned : null,
    members: model === "concurrent" ? assigned : null,
    active,
    over_limit: model === "concurrent" && active > settings.quantity,
    waiting,
    alerts: [...(settings.alerts ?? DEFAULT_ALERTS)],
  };
}

export interface CheckoutInput {
  userId: string;
  sessionId: string;
  pool: PoolId;
  expiresAt: number;
  roster: { pools: ReadonlyMap<PoolId, PoolSettings>; settings: { leaseTtlSeconds: number } };
  active: number;
  /** The pool's live over-limit status (concurrent pools). */
  live: { grace_ends_at: number | null } | null;
}

export function checkoutView(c: CheckoutInput): CheckoutView {
  const { tier, model } = parsePoolId(c.pool)!;
  const limit = c.roster.pools.get(c.pool)!.quantity;
  return {
    user_id: c.userId,
    pool: c.pool,
    tier,
    model,
    session_id: c.sessionId,
    expires_at: iso(c.expiresAt),
    heartbeat_interval_seconds: Math.max(1, Math.floor(c.roster.settings.leaseTtlSeconds / 3)),
    limit,
    active: c.active,
    over_limit: model === "concurrent" && c.active > limit,
    grace_ends_at: c.live?.grace_ends_at != null ? iso(c.live.grace_ends_at) : null,
  };
}

export function poolSeatsView(pool: PoolId, settings: PoolSettings, active: number, live: LiveStatus | null, items: PoolSeatsView["items"]): PoolSeatsView {
  return {
    limit: settings.quantity,
    active,
    over_limit: parsePoolId(pool)!.model === "concurrent" && active > settings.quantity,
    billable_now: live?.billable_now ?? 0,
    grace_ends_at: live?.grace_ends_at != null ? iso(live.grace_ends_at) : null,
    interval: live?.interval ? intervalRecord(pool, live.interval) : null,
    items,
  };
}
