import { addonReport } from "../domain/addons";
import { parsePoolId, type PoolId } from "../domain/catalog";
import { figuresCollector, summarize, type GraceRules, type OverageFigures, type Window } from "../domain/overage";
import type { CycleSummary, PoolSummary, TeamLine } from "../records";
import { iso } from "../time";
import type { HoldLog } from "./hold-log";
import { windowPeakHolders } from "./interval-holders";
import { poolTeams } from "./team-usage";
import type { Roster } from "./roster";
import type { UsageLedger } from "./usage-ledger";

export interface CycleSummaryInput {
  accountId: string;
  roster: Roster;
  ledger: UsageLedger;
  /** The cycle, [from, to) in epoch ms. */
  window: Window;
  /** The account's grace rules (seconds, policy, cycle starts). */
  rules: GraceRules;
  /** The Durable Object's clock. */
  now: number;
  /** Refusals in the cycle per pool (null: users with no license), src/seats/denial-log.ts. */
  denials?: ReadonlyMap<string | null, { denials: number; users_denied: number }>;
  /** The seat-hold log: who held seats at the billable peak. */
  holds: HoldLog;
}

/**
 * The summary of a cycle from the usage step log. A cycle that is still running is summarized up
 * to `now` only: the log says nothing about the rest, and carrying today's state to the cycle's
 * end would bill seat-seconds that have not happened.
 *
 * Membership counts and add-on figures are the roster's current ones: the log keeps the history of
 * seats in use and quantities, not of assignments. The scheduled job runs minutes after a cycle
 * ends, so they are the figures at the cycle's end unless an admin changed them in between.
 */
export function cycleSummary(input: CycleSummaryInput): CycleSummary {
  const { window, now } = input;
  const upTo: Window = { from: window.from, to: Math.max(window.from, Math.min(window.to, now)) };
  const pools = [...input.roster.pools.keys()].sort().flatMap((pool) => {
    const line = poolSummary(input, pool, upTo);
    return line ? [line] : [];
  });
  const addons = addonReport(input.roster.state()).map(({ product, purchased, consumed }) => ({ product, purchased, consumed }));
  const unlicensed = input.denials?.get(null) ?? { denials: 0, users_denied: 0 };
  return {
    account_id: input.accountId,
    cycle_start: iso(window.from),
    cycle_end: iso(window.to),
    pools,
    addons,
    unlicensed_denials: unlicensed.denials,
    unlicensed_users_denied: unlicensed.users_denied,
    generated_at: iso(now),
    final: now >= window.to,
  };
}

/** The pool's line, or null for a pool bought after the window (it had no part in the cycle). */
function poolSummary(input: CycleSummaryInput, pool: PoolId, upTo: Window): PoolSummary | null {
  const { tier, model } = parsePoolId(pool)!;
  const last = input.ledger.lastStepBefore(pool, upTo.to);
  // Every pool logs a step when it is created, so a pool with steps only after the window is newer.
  if (!last && input.ledger.hasStepsFrom(pool, upTo.to)) return null;
  // One pass over the log, streamed from SQLite: memory stays O(seats over the limit). The teams'
  // chargeback hears the same pass, so their billable time adds up to the pool's.
  let teams: TeamLine[];
  let figures: OverageFigures;
  if (model === "concurrent") {
    const collect = figuresCollector(upTo);
    teams = poolTeams(input.ledger, input.holds, input.rules, pool, upTo, upTo.from, collect.listener);
    figures = collect.figures();
  } else {
    figures = summarize(input.ledger.stepsForSummary(pool, upTo), upTo, input.rules);
    teams = poolTeams(input.ledger, input.holds, input.rules, pool, upTo, upTo.from);
  }
  const assigned = input.roster.assigned(pool);
  return {
    pool,
    tier,
    model,
    // The quantity in force at the window's end (the last logged step), else the roster's.
    quantity: last ? last.limit : input.roster.pools.get(pool)!.quantity,
    assigned: model === "named" ? assigned : null,
    members: model === "concurrent" ? assigned : null,
    // Named seats are never over the limit (an assignment beyond the quantity is refused).
    ...(model === "named" ? { ...NO_OVERAGE, peak_active: figures.peak_active } : figures),
    denials: input.denials?.get(pool)?.denials ?? 0,
    users_denied: input.denials?.get(pool)?.users_denied ?? 0,
    peak_holders: model === "concurrent" && figures.billable_overage_seats > 0 ? windowPeakHolders(input.ledger, input.holds, input.rules, pool, upTo, upTo.from) : null,
    teams,
  };
}

const NO_OVERAGE: OverageFigures = {
  peak_active: 0,
  peak_overage: 0,
  overage_seat_seconds: 0,
  billable_overage_seats: 0,
  billable_seat_seconds: 0,
  intervals: 0,
  billable_intervals: 0,
};
