import type { Window } from "../domain/overage";
import type { Roster } from "./roster";
import type { UsageLedger } from "./usage-ledger";

/** A billing summary's figures (DOMAIN.md section 5, API.md "Billing"). Filled in by issue 5. */
export interface CycleSummary {
  account_id: string;
  cycle_start: string;
  cycle_end: string;
  pools: unknown[];
  addons: unknown[];
}

export function cycleSummary(input: { accountId: string; roster: Roster; ledger: UsageLedger; window: Window }): CycleSummary {
  return {
    account_id: input.accountId,
    cycle_start: new Date(input.window.from).toISOString(),
    cycle_end: new Date(input.window.to).toISOString(),
    pools: [],
    addons: [],
  };
}
