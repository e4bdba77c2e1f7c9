import type { PoolId } from "../domain/catalog";
import type { GraceWarning } from "../domain/grace-warning";
import type { EventRecord } from "../records";
import { iso } from "../time";

/**
 * One warning before an over-run's grace ends (docs/licensing.md#grace-ending-warning). The id
 * names the interval and the deadline, so a retried alarm or a repeated wake is the same event.
 */
export function graceEndingEvent(accountId: string, pool: PoolId, intervalId: string, w: GraceWarning, active: number, limit: number, now: number): EventRecord {
  return {
    id: `evt_${intervalId}_grace_ending_${w.graceEndsAt}`,
    type: "overage.grace_ending",
    account_id: accountId,
    created_at: iso(now),
    data: { pool, interval_id: intervalId, grace_ends_at: iso(w.graceEndsAt), seats: w.seats, active, limit },
  };
}
