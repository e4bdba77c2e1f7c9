/**
 * A plain model of a concurrent pool's seat rules for the waitlist tests: the pool's ceiling, team
 * caps and team reservations (as issue 15 states them), counted from the list of holders every
 * time, with no running counters.
 */
import type { ErrorCode } from "../../src/errors";
import type { GrantRules } from "../../src/domain/waitlist";

export interface TeamRule {
  max_active: number | null;
  reserve: number;
}

export interface PoolModel {
  maxActive: number | null;
  teams: Record<string, TeamRule>;
  /** user -> team (absent: no team) */
  teamOf: Record<string, string>;
  /** users holding a seat */
  holders: string[];
  /** users whose license is gone / moved (for the re-check) */
  revoked: string[];
  moved: string[];
}

const activeOf = (m: PoolModel, team: string) => m.holders.filter((u) => m.teamOf[u] === team).length;

/** The checkout rule for a user who holds no seat yet, counted from scratch. */
export function refuseIn(m: PoolModel, user: string): ErrorCode | null {
  if (m.holders.includes(user)) return null;
  const team = m.teamOf[user];
  const rule = team === undefined ? undefined : m.teams[team];
  if (rule && rule.max_active !== null && activeOf(m, team!) >= rule.max_active) return "team_at_ceiling";
  if (m.maxActive === null) return null;
  let unusedOther = 0;
  for (const [t, r] of Object.entries(m.teams)) if (t !== team) unusedOther += Math.max(0, r.reserve - activeOf(m, t));
  return m.holders.length + unusedOther >= m.maxActive ? "pool_at_ceiling" : null;
}

export const modelRules: GrantRules<PoolModel> = {
  dropReason: () => null,
  refuse: refuseIn,
  take: (m, user) => ({ ...m, holders: [...m.holders, user] }),
};

/** The same rules with the license re-check reading `revoked` and `moved`. */
export const rulesWithLicenses = (m: PoolModel): GrantRules<PoolModel> => ({
  ...modelRules,
  dropReason: (u) => (m.revoked.includes(u) ? "license_revoked" : m.moved.includes(u) ? "license_moved" : null),
});
