/**
 * Provisioning changes (SCIM users, groups and group rules) as one all-or-nothing step: license
 * assignments, moves and revocations together with add-on assignments, judged on the state they
 * leave with the same rules as the admin API (docs/decisions/074-provisioning-is-one-atomic-step.md).
 * Pure: the account's Durable Object holds the state and writes only when this answers a plan.
 */

import { assignOutcome, consumption, type AddonState } from "./addons";
import { PER_SEAT_PRODUCTS, type PerSeatProduct, type PoolId } from "./catalog";
import { batchEndState, refuseBatch, type LicenseState, type Refusal } from "./licenses";

export interface ProvisioningChange {
  user_id: string;
  /** A pool to assign or move to; null revokes the license and its add-on assignments; absent leaves it. */
  pool?: PoolId | null;
  addons_add?: readonly PerSeatProduct[];
  addons_remove?: readonly PerSeatProduct[];
}

/** What to write: only real changes (a no-op change yields nothing). */
export interface ProvisioningPlan {
  revoke: string[];
  assign: { user_id: string; pool: PoolId; previous: PoolId | null }[];
  addonsAdd: { user_id: string; product: PerSeatProduct }[];
  addonsRemove: { user_id: string; product: PerSeatProduct }[];
}

export const emptyPlan = (p: ProvisioningPlan) => p.revoke.length + p.assign.length + p.addonsAdd.length + p.addonsRemove.length === 0;

/**
 * Why these changes may not be applied together, or the plan that applies them. Refusals are
 * those of the admin API: a named pool past its quantity (named_pool_full), an add-on past its
 * purchased seats (addon_seats_exhausted), an add-on for a user left without a license
 * (no_license, as a conflict), an unknown pool (not_found).
 */
export function planProvisioning(state: LicenseState, changes: readonly ProvisioningChange[]): { refusal: Refusal } | { plan: ProvisioningPlan } {
  const held = state.licenses;
  const assign = changes.filter((c) => c.pool != null && held.get(c.user_id) !== c.pool).map((c) => ({ user_id: c.user_id, pool: c.pool! }));
  const revoke = changes.filter((c) => c.pool === null && held.has(c.user_id)).map((c) => c.user_id);
  const batch = { assign, revoke };
  // Named pools are judged here; add-on seats below, on the real end state: the batch alone would
  // wake a dormant assignment that this same request removes (a move out of elite-concurrent that
  // drops ai_expert_assist must not be refused for it).
  const batchRefusal = refuseBatch(state, batch);
  if (batchRefusal && batchRefusal.code !== "addon_seats_exhausted") return { refusal: withoutIndex(batchRefusal, assign) };
  const end = batchEndState(state, batch);
  if ("unknownPool" in end) return { refusal: { code: "not_found", detail: `Pool ${assign[end.unknownPool].pool} was not found.` } };

  const assignments = new Map(end.state.assignments);
  const addonsAdd: ProvisioningPlan["addonsAdd"] = [];
  const addonsRemove: ProvisioningPlan["addonsRemove"] = [];
  let order = Number.MAX_SAFE_INTEGER - changes.length * PER_SEAT_PRODUCTS.length;
  for (const c of changes) {
    if (c.pool === null) continue; // revoked: the user keeps no add-on assignment
    const mine = new Map(assignments.get(c.user_id) ?? []);
    for (const product of c.addons_remove ?? []) {
      if (mine.delete(product)) addonsRemove.push({ user_id: c.user_id, product });
    }
    for (const product of c.addons_add ?? []) {
      if (!end.state.licenses.has(c.user_id)) {
        return { refusal: { code: "no_license", detail: `User ${c.user_id} has no license, so ${product} cannot be assigned; give them a pool first.`, extra: { user_id: c.user_id, product } } };
      }
      if (mine.has(product) || assignOutcome(end.state, c.user_id, product) === "included") continue;
      mine.set(product, order++); // the newest assignments: last in line for a pool's bundle
      addonsAdd.push({ user_id: c.user_id, product });
    }
    assignments.set(c.user_id, mine);
  }
  const after: AddonState = { ...end.state, assignments };
  for (const product of PER_SEAT_PRODUCTS) {
    const will = consumption(after, product);
    if (will.consumed > will.purchased && will.consumed > consumption(state, product).consumed) {
      const culprit = addonsAdd.find((a) => a.product === product)?.user_id ?? assign[0]?.user_id;
      return {
        refusal: {
          code: "addon_seats_exhausted",
          detail: `This change needs ${will.consumed} purchased ${product} seats but ${will.purchased} are bought; buy more first. Nothing was applied.`,
          extra: { product, ...(culprit ? { user_id: culprit } : {}) },
        },
      };
    }
  }
  return {
    plan: { revoke, assign: assign.map((a) => ({ ...a, previous: held.get(a.user_id) ?? null })), addonsAdd, addonsRemove },
  };
}

/** A batch refusal names `assign[i]`; provisioning names the user instead. */
function withoutIndex(refusal: Refusal, assign: readonly { user_id: string }[]): Refusal {
  const index = refusal.extra?.index;
  const { index: _drop, ...extra } = refusal.extra ?? {};
  const user = typeof index === "number" ? assign[index]?.user_id : undefined;
  return {
    code: refusal.code,
    detail: refusal.detail.replace(/^assign\[\d+\]: /, user ? `User ${user}: ` : ""),
    extra: { ...extra, ...(user ? { user_id: user } : {}) },
  };
}
