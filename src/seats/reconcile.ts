import type { Roster } from "./roster";
import type { PoolId } from "../domain/catalog";
import type { SeatBook } from "./seat-book";
import type { UsageLedger } from "./usage-ledger";

/**
 * Brings the object's own state in line with a roster just read from D1, for writes that reached
 * D1 but not the object (a crash between the two, or a D1 error after the commit):
 * - sessions whose license D1 no longer holds end (decision 011);
 * - a pool whose quantity differs from the limit of its last usage step logs a step now, so
 *   billing and the over-limit tracker count against the quantity D1 holds.
 */
export function reconcileWithRoster(
  roster: Roster,
  seats: SeatBook,
  ledger: UsageLedger,
  act: { endSessions: (userId: string, reason: "license_moved" | "license_revoked") => void; logQuantity: (pool: PoolId) => void },
): void {
  for (const [userId, holder] of [...seats.holders]) {
    if (roster.licenseOf(userId) !== holder.pool) act.endSessions(userId, roster.licenseOf(userId) !== undefined ? "license_moved" : "license_revoked");
  }
  for (const [pool, settings] of roster.pools) {
    const last = ledger.lastStepBefore(pool, Number.MAX_SAFE_INTEGER);
    if (last?.limit !== settings.quantity) act.logQuantity(pool);
  }
}
