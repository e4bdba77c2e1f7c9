/**
 * License rules (docs/licensing.md#pools) as pure functions on plain data: who may
 * be given a license in which pool, what a batch of changes leaves behind, what a pool quantity
 * may be lowered to, and when a checkout meets a pool's ceiling. No I/O: the account's Durable
 * Object holds the state, asks a `refuse*` function, and writes only when it answers null.
 *
 * Decisions made here (docs/decisions/002-batches-are-judged-on-their-end-state.md and
 * docs/decisions/020-a-batch-names-its-smallest-culprit.md):
 * - A batch is judged on the state it leaves, not step by step: nobody sees the states between,
 *   so swapping users between two full named pools is fine.
 * - A named pool that the batch takes past its quantity is blamed on the arrival that does not
 *   fit once every departure is counted first. A pool that was already over and receives no
 *   arrival is not this batch's doing.
 * - Several breaches: a named pool's breach comes before an add-on's (the same precedence as a
 *   single assignment), and among breaches of one kind the smallest culprit index is named.
 */

import { checkMove, checkPoolQuantity, consumption, type AddonState, type Refusal as AddonRefusal } from "./addons";
import { parsePoolId, PER_SEAT_PRODUCTS, type PerSeatProduct, type PoolId } from "./catalog";
import type { ErrorCode } from "../errors";

/** The licensing state the rules read: the add-on state plus how many users each pool has assigned. */
export interface LicenseState extends AddonState {
  /** pool id -> users holding a license in it */
  assignedCount: ReadonlyMap<PoolId, number>;
}

/** Why a change is refused, as data: the Durable Object turns it into an API error. */
export interface Refusal {
  code: ErrorCode;
  detail: string;
  extra?: Record<string, unknown>;
}

export interface LicenseBatch {
  assign: readonly { user_id: string; pool: PoolId }[];
  revoke: readonly string[];
}

const assignedIn = (state: LicenseState, pool: PoolId) => state.assignedCount.get(pool) ?? 0;
const isNamed = (pool: PoolId) => parsePoolId(pool)!.model === "named";

const fromAddons = (refusal: AddonRefusal | null, extra: Record<string, unknown> = {}): Refusal | null =>
  refusal ? { code: refusal.code, detail: refusal.detail, extra } : null;

// ------------------------------------------------------------------ single changes

/** Why `userId` may not be given (or moved to) a license in `pool`, or null. */
export function refuseAssignment(state: LicenseState, userId: string, pool: PoolId): Refusal | null {
  const quantity = state.poolQuantities.get(pool);
  if (quantity === undefined) return { code: "not_found", detail: `Pool ${pool} was not found.` };
  if (state.licenses.get(userId) === pool) return null;
  if (isNamed(pool) && assignedIn(state, pool) >= quantity) {
    return {
      code: "named_pool_full",
      detail: `Named pool ${pool} has all ${quantity} seats assigned; revoke one first.`,
      extra: { user_id: userId, pool },
    };
  }
  return fromAddons(checkMove(state, userId, pool), { user_id: userId, pool });
}

/** Why `pool` may not be set to `quantity` with the ceiling `maxActive`, or null. */
export function refusePoolQuantity(state: LicenseState, pool: PoolId, quantity: number, maxActive: number | null): Refusal | null {
  if (isNamed(pool) && maxActive !== null) {
    return {
      code: "invalid_request",
      detail: "max_active applies to concurrent pools only: a named pool's quantity is its cap.",
      extra: { errors: [{ path: "max_active", message: "only for concurrent pools" }] },
    };
  }
  const assigned = assignedIn(state, pool);
  if (isNamed(pool) && quantity < assigned) {
    return {
      code: "quantity_below_assigned",
      detail: `Pool ${pool} has ${assigned} users assigned; revoke licenses before lowering it to ${quantity}.`,
      extra: { assigned },
    };
  }
  return fromAddons(checkPoolQuantity(state, pool, quantity));
}

/**
 * Whether a user who holds no seat yet may take one in `pool` with `active` seats in use. Only
 * the `max_active` ceiling refuses: a concurrent pool above its quantity goes into overage.
 */
export function refuseSeat(pool: PoolId, maxActive: number | null, active: number): Refusal | null {
  if (maxActive === null || active < maxActive) return null;
  return { code: "pool_at_ceiling", detail: `Pool ${pool} is at its ceiling of ${maxActive} active seats.`, extra: { pool, max_active: maxActive, active } };
}

// ------------------------------------------------------------------ batches

/** A mutable copy of the state, for trying a batch. */
interface Trial {
  licenses: Map<string, PoolId>;
  assignments: Map<string, ReadonlyMap<PerSeatProduct, number>>;
  poolQuantities: ReadonlyMap<PoolId, number>;
  purchased: AddonState["purchased"];
  assignedCount: Map<PoolId, number>;
}

/**
 * The state a batch leaves: revocations first (they free seats and drop the user's add-on
 * assignments), then assignments in order (a move keeps the user's assignments). Null with the
 * index of the first assignment to an unknown pool.
 */
export function batchEndState(state: LicenseState, batch: LicenseBatch): { state: LicenseState } | { unknownPool: number } {
  const trial: Trial = {
    licenses: new Map(state.licenses),
    assignments: new Map(state.assignments),
    poolQuantities: state.poolQuantities,
    purchased: state.purchased,
    assignedCount: new Map(state.assignedCount),
  };
  const drop = (userId: string) => {
    const old = trial.licenses.get(userId);
    if (old === undefined) return;
    trial.licenses.delete(userId);
    trial.assignedCount.set(old, (trial.assignedCount.get(old) ?? 1) - 1);
  };
  for (const userId of batch.revoke) {
    drop(userId);
    trial.assignments.delete(userId);
  }
  for (const [index, { user_id, pool }] of batch.assign.entries()) {
    if (!state.poolQuantities.has(pool)) return { unknownPool: index };
    drop(user_id);
    trial.licenses.set(user_id, pool);
    trial.assignedCount.set(pool, (trial.assignedCount.get(pool) ?? 0) + 1);
  }
  return { state: trial };
}

/**
 * Why a batch may not be applied, or null: an unknown pool, a named pool it takes past its
 * quantity, or an add-on it takes past its purchased seats (only when it raises consumption).
 * `extra.index` names the assignment to blame.
 */
export function refuseBatch(before: LicenseState, batch: LicenseBatch): Refusal | null {
  const end = batchEndState(before, batch);
  if ("unknownPool" in end) {
    const { pool } = batch.assign[end.unknownPool];
    return { code: "not_found", detail: `assign[${end.unknownPool}]: Pool ${pool} was not found.`, extra: { index: end.unknownPool, pool } };
  }
  const after = end.state;
  const incoming = batch.assign.map((a, index) => ({ ...a, index })).filter((a) => before.licenses.get(a.user_id) !== a.pool);
  return namedBreach(after, incoming) ?? addonBreach(before, after, incoming);
}

type Incoming = { user_id: string; pool: PoolId; index: number };

function namedBreach(after: LicenseState, incoming: readonly Incoming[]): Refusal | null {
  let worst: { culprit: Incoming; assigned: number; quantity: number } | null = null;
  for (const [pool, quantity] of after.poolQuantities) {
    const assigned = assignedIn(after, pool);
    if (!isNamed(pool) || assigned <= quantity) continue;
    const arrivals = incoming.filter((a) => a.pool === pool);
    if (arrivals.length === 0) continue; // over before this batch: not this batch's doing
    // With every departure counted first, the culprit is the arrival that takes the pool past its quantity.
    const culprit = arrivals[quantity - (assigned - arrivals.length)] ?? arrivals[0];
    if (!worst || culprit.index < worst.culprit.index) worst = { culprit, assigned, quantity };
  }
  if (!worst) return null;
  const { culprit, assigned, quantity } = worst;
  return {
    code: "named_pool_full",
    detail: `assign[${culprit.index}]: named pool ${culprit.pool} would have ${assigned} users assigned but has ${quantity} seats. Nothing was applied.`,
    extra: { index: culprit.index, user_id: culprit.user_id, pool: culprit.pool },
  };
}

function addonBreach(before: LicenseState, after: LicenseState, incoming: readonly Incoming[]): Refusal | null {
  let worst: { culprit: Incoming; product: PerSeatProduct; consumed: number; purchased: number } | null = null;
  for (const product of PER_SEAT_PRODUCTS) {
    const { consumed, purchased } = consumption(after, product);
    if (consumed <= purchased || consumed <= consumption(before, product).consumed) continue;
    const culprit = incoming.find((a) => after.assignments.get(a.user_id)?.has(product)) ?? incoming[0];
    if (!culprit) continue;
    if (!worst || culprit.index < worst.culprit.index) worst = { culprit, product, consumed, purchased };
  }
  if (!worst) return null;
  const { culprit, product, consumed, purchased } = worst;
  return {
    code: "addon_seats_exhausted",
    detail: `assign[${culprit.index}]: the batch would need ${consumed} purchased ${product} seats but ${purchased} are bought. Nothing was applied.`,
    extra: { index: culprit.index, user_id: culprit.user_id, product },
  };
}
