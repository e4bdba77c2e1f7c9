// What the last refresh received, shared by the sections that draw it. One object, mutated in
// place, so every module sees the same figures; reset on sign-out.

const fresh = () => ({
  account: null,
  pools: [],
  seats: new Map(),
  /** pool -> its team caps and reservations (GET …/pools/{pool_id}/teams items) */
  teams: new Map(),
  overages: [],
  lastRefresh: null,
});

export const state = fresh();

export function resetState() {
  Object.assign(state, fresh());
}

export function graceSeconds() {
  return state.account?.grace_seconds ?? 1800;
}

/** The account's grace policy: "per_overrun" (each over-run has its own grace) or "cumulative". */
export function gracePolicy() {
  return state.account?.grace_policy === "cumulative" ? "cumulative" : "per_overrun";
}
