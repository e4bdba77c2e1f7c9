import type { AddonProduct, Model, PoolId, Tier } from "./domain/catalog";
import type { OverageFigures } from "./domain/overage";
import type { SummaryAmounts } from "./domain/pricing";

/**
 * Plain-data records that cross a boundary: D1 rows as the API shows them, queue messages, and
 * what the account's Durable Object hands the billing consumer. No behaviour, no imports of
 * `db/` or `seats/`, so every layer can name them.
 */

/** An over-limit interval as D1 and the API show it. */
export interface IntervalRecord {
  id: string;
  pool: string;
  started_at: string;
  ended_at: string | null;
  peak_active: number;
  peak_overage: number;
  overage_seat_seconds: number;
  billable: boolean;
  billable_overage_seats: number;
  billable_seat_seconds: number;
}

/** A webhook event: stored in D1 with a stable id before it is queued, so every retry sends the same. */
export interface EventRecord {
  id: string;
  type: string;
  account_id: string;
  created_at: string;
  data: unknown;
}

/** A billing cycle that has ended and needs its summary (ISO 8601 UTC bounds, [cycle_start, cycle_end)). */
export interface BillingMessage {
  account_id: string;
  cycle_start: string;
  cycle_end: string;
}

/** A webhook event to deliver: the row in D1 `webhook_events` holds the body and the attempts so far. */
export interface EventMessage {
  account_id: string;
  event_id: string;
}

/** Who held seats while a window's billable peak was reached (a summary's pool line). */
export interface PeakHolders {
  /** The first instant of the window at which the billable peak was reached. */
  reached_at: string;
  /** The over-limit interval of that instant: all its holders at GET …/overages/{interval_id}/holders. */
  interval_id: string;
  /** Users who held a seat at some instant of the window at which the peak was reached. */
  count: number;
  /** Those users, sorted, at most 100 (the rest are counted, and listed by the interval's holders). */
  users: string[];
  truncated: boolean;
}

/** One team's figures in a pool over a window (docs/licensing.md#chargeback-by-team). */
export interface TeamLine {
  /** null: users without a team (and billable places no logged holder held). */
  team: string | null;
  /** The most of the team's members holding a seat in the pool at once. */
  peak_active: number;
  /** The team's seat time in the pool. */
  seat_seconds: number;
  /** The pool's billable seat time attributed to the team (last in, first over); the teams' add up to the pool's. */
  billable_seat_seconds: number;
}

/** One pool's line of a summary (docs/api.md#billing-summaries; the figures of docs/licensing.md#concurrent-overage over the cycle). */
export interface PoolSummary extends OverageFigures {
  pool: PoolId;
  tier: Tier;
  model: Model;
  /** The quantity at the cycle's end (or now, for a preview). */
  quantity: number;
  /** Users assigned, for named pools; null for concurrent ones. */
  assigned: number | null;
  /** Members, for concurrent pools; null for named ones. */
  members: number | null;
  /** Refused checkouts under the pool in the cycle, and the distinct users refused (docs/licensing.md#denials). */
  denials: number;
  users_denied: number;
  /** Who held seats while the billable peak was reached (docs/licensing.md#who-counted); null when nothing was billable. */
  peak_holders: PeakHolders | null;
  /** Per team, sorted by billable seat time descending, then team (null last); [] when nobody held a seat. */
  teams: TeamLine[];
}

export interface AddonSummary {
  product: AddonProduct;
  purchased: number;
  consumed: number;
}

/** A billing summary (docs/licensing.md#summaries): final once the cycle has ended, a preview before. */
export interface CycleSummary {
  account_id: string;
  cycle_start: string;
  cycle_end: string;
  pools: PoolSummary[];
  addons: AddonSummary[];
  /** Refused checkouts of users with no license (they have no pool), and the distinct users. */
  unlicensed_denials: number;
  unlicensed_users_denied: number;
  /** The account's clock when the figures were taken. */
  generated_at: string;
  /** True when the cycle had ended: the figures cover all of it and will not change. */
  final: boolean;
  /** Money from the account's price list, added outside the object (it keeps no prices); null without a list. */
  amounts?: SummaryAmounts | null;
}
