import { compliance } from "../domain/addons";
import type { AddonAdvice, PoolHistory } from "../domain/advice";
import { peaks } from "../domain/advice";
import { parsePoolId } from "../domain/catalog";
import { cycleContaining, previousCycle, type Cycle } from "../domain/cycles";
import { graceMs } from "../domain/overage";
import { iso } from "../time";
import type { Roster } from "./roster";
import type { UsageLedger } from "./usage-ledger";

/**
 * What the advisor needs from the account's object: for each pool, each of the last `count`
 * ended cycles' peak and sustained peak (from the usage step log), and the add-on shortfall now.
 * Cycles before the account existed are left out, so a young account rests on fewer cycles.
 */
export function advisorHistory(roster: Roster, ledger: UsageLedger, now: number, count: number): { pools: PoolHistory[]; addons: AddonAdvice[] } {
  const { billingDay, createdAt, graceSeconds } = roster.settings;
  const cycles: Cycle[] = [];
  for (let c = previousCycle(cycleContaining(now, billingDay), billingDay); cycles.length < count && c.end > createdAt; c = previousCycle(c, billingDay)) {
    cycles.unshift(c);
  }
  const lookBack = graceMs(graceSeconds);
  const pools = [...roster.pools].sort(([a], [b]) => a.localeCompare(b)).map(([pool, settings]): PoolHistory => ({
    pool,
    model: parsePoolId(pool)!.model,
    quantity: settings.quantity,
    cycles: cycles.map((c) => {
      const window = { from: c.start, to: c.end };
      // The state from one grace before the cycle: a place that went over then is billable early in it.
      const figures = peaks(ledger.steps(pool, { from: c.start - lookBack, to: c.end }), window, graceSeconds);
      return { cycle_start: iso(c.start), cycle_end: iso(c.end), ...figures };
    }),
  }));
  const addons = compliance(roster.state()).map(({ product, needed, covered, shortfall }) => ({ product, needed, covered, shortfall }));
  return { pools, addons };
}
