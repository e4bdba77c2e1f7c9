import { iso } from "../db/client";
import type { PoolId } from "../domain/catalog";
import type { IntervalFigures } from "../domain/overage";
import type { IntervalRecord } from "./outbox";

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
