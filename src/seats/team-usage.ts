import { parsePoolId, type PoolId } from "../domain/catalog";
import { teamColumns, teamUsage, type TeamUsage } from "../domain/chargeback";
import { cycleContaining } from "../domain/cycles";
import type { GraceRules, SweepListener, UsageStep, Window } from "../domain/overage";
import { fail, notFound, ok, type Result } from "../errors";
import type { TeamLine } from "../records";
import { iso } from "../time";
import type { HoldLog } from "./hold-log";
import type { House } from "./house";
import { readFrom } from "./interval-holders";
import type { UsageLedger } from "./usage-ledger";

/** One team's usage buckets (docs/licensing.md#chargeback-by-team), the columnar answer of `…/usage?team=`. */
export interface TeamColumnsView {
  from: string;
  step_seconds: number;
  team: string;
  max_active: number[];
  seat_seconds: number[];
  billable_seat_seconds: number[];
}

export type ChargebackQuery =
  | { kind: "usage"; pool: PoolId; window: Window; stepSeconds: number; team: string }
  | { kind: "teams"; pool: PoolId; window: Window };

export type ChargebackView = { kind: "usage"; columns: TeamColumnsView } | { kind: "teams"; items: TeamLine[] };

const NO_STEPS: UsageStep[] = [];

export const teamLine = (u: TeamUsage): TeamLine => ({
  team: u.team,
  peak_active: u.peak_active,
  seat_seconds: u.seat_ms / 1000,
  billable_seat_seconds: u.billable_ms / 1000,
});

/**
 * Every team's figures in a pool over `window` from the step log read from `stepsFrom` (as the
 * pool's figures are: the same engine, so the teams' billable time adds up to the pool's). Named
 * pools are never over their limit: nothing billable, seat time only. `also` hears the engine's
 * sweep (the pool's own figures in the same pass over the log).
 */
export function poolTeams(ledger: UsageLedger, holds: HoldLog, rules: GraceRules, pool: PoolId, window: Window, stepsFrom: number, also?: SweepListener): TeamLine[] {
  const steps = parsePoolId(pool)!.model === "concurrent" ? ledger.stepsForSummary(pool, { from: stepsFrom, to: window.to }) : NO_STEPS;
  return teamUsage(steps, holds.overlapping(pool, window.from, window.to), window, rules, also).map(teamLine);
}

/**
 * The object's entry point: one team's buckets, or every team of a pool over a window. Both stop
 * at now (the log says nothing about later: buckets after now are zeros); leases due by now end first.
 */
export function chargebackOf(h: House, q: ChargebackQuery): Result<ChargebackView> {
  if (!h.roster.pools.has(q.pool)) return fail(notFound(`Pool ${q.pool}`));
  const now = h.now();
  h.activity.expireDue(now);
  const rules = h.activity.graceRules();
  const upTo: Window = { from: q.window.from, to: Math.max(q.window.from, Math.min(q.window.to, now)) };
  const stepsFrom = readFrom(rules, upTo.from, (t) => cycleContaining(t, h.roster.settings.billingDay).start);
  if (q.kind === "teams") return ok({ kind: "teams", items: poolTeams(h.ledger, h.activity.holds, rules, q.pool, upTo, stepsFrom) });
  const concurrent = parsePoolId(q.pool)!.model === "concurrent";
  const steps = concurrent ? h.ledger.stepsForSummary(q.pool, { from: stepsFrom, to: upTo.to }) : NO_STEPS;
  const c = teamColumns(steps, h.activity.holds.overlapping(q.pool, upTo.from, upTo.to), upTo, rules, q.team, q.stepSeconds);
  // Buckets after now: zeros, so the answer always has the window's bucket count.
  const n = Math.ceil((q.window.to - q.window.from) / c.step_ms);
  const pad = (xs: number[], scale: number) => Array.from({ length: n }, (_, k) => (xs[k] ?? 0) / scale);
  return ok({
    kind: "usage",
    columns: {
      from: iso(q.window.from),
      step_seconds: q.stepSeconds,
      team: q.team,
      max_active: pad(c.max_active, 1),
      seat_seconds: pad(c.seat_ms, 1000),
      billable_seat_seconds: pad(c.billable_ms, 1000),
    },
  });
}
