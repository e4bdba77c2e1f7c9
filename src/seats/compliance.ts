import { compliance, recommendations, type ComplianceRow } from "../domain/addons";
import { parsePoolId, type PoolId } from "../domain/catalog";
import type { IntervalRecord } from "../records";
import type { Roster } from "./roster";

export interface ComplianceReport {
  addon_shortfall: Pick<ComplianceRow, "product" | "needed" | "covered" | "shortfall">[];
  named_pools_over_assigned: { pool: PoolId; quantity: number; assigned: number }[];
  open_overages: IntervalRecord[];
  recommendations: string[];
}

/** What the account is missing before its agents find out: add-on shortfalls, over-assigned named pools, open overages. */
export function complianceReport(roster: Roster, open: IntervalRecord[], active: (pool: PoolId) => number): ComplianceReport {
  const shortfall = compliance(roster.state());
  const overAssigned = [...roster.pools]
    .filter(([pool, p]) => parsePoolId(pool)!.model === "named" && roster.assigned(pool) > p.quantity)
    .map(([pool, p]) => ({ pool, quantity: p.quantity, assigned: roster.assigned(pool) }));
  const advice = [
    ...overAssigned.map((p) => `Named pool ${p.pool} has ${p.assigned} users assigned but only ${p.quantity} licenses: buy ${p.assigned - p.quantity} more or revoke.`),
    ...open.map((i) => {
      const limit = roster.pools.get(i.pool as PoolId)?.quantity ?? 0;
      const over = active(i.pool as PoolId) - limit;
      return i.billable
        ? `Pool ${i.pool} is ${over} over its ${limit} seats past the grace period: this overage is billable. Buy ${i.billable_overage_seats} more seats or release idle agents.`
        : `Pool ${i.pool} is ${over} over its ${limit} seats, still inside the grace period: release idle agents or buy more seats before it ends.`;
    }),
  ];
  return {
    addon_shortfall: shortfall.map(({ product, needed, covered, shortfall: missing }) => ({ product, needed, covered, shortfall: missing })),
    named_pools_over_assigned: overAssigned,
    open_overages: open,
    recommendations: recommendations(shortfall, advice),
  };
}
