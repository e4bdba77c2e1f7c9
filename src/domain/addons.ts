/**
 * Add-on rules (docs/licensing.md#add-ons) as pure functions on plain data: who is granted a per-seat
 * add-on and how, how many purchased seats that consumes, and which changes would break
 * `consumed <= purchased`. No I/O: the Durable Object loads the state, asks a `check*` function,
 * and writes only when it answers null.
 *
 * Decisions made here (written down in docs/licensing.md#add-ons):
 * - A stored assignment of a product the user's pool includes (elite-named: all three;
 *   elite-concurrent: `ai_expert_assist`) is dormant: it grants nothing beyond the inclusion and
 *   consumes nothing. It wakes up if the user moves to a pool that does not include it, and the
 *   move is checked as if it were a new assignment. That is how "moving to elite-named drops
 *   nothing" and "included grants consume nothing" both hold.
 * - Assigning a product the user's pool includes is allowed and records nothing
 *   (`assignOutcome` says "included"); assigning one already assigned is allowed and changes nothing.
 * - Assignments of users without a license are ignored everywhere (they grant nothing); revoking a
 *   license is expected to delete them.
 * - A check refuses a change only when it would raise some product's `consumed` above its
 *   `purchased`; a change that keeps or lowers an already broken count is let through, so bad
 *   legacy data can always be repaired.
 */

import {
  ADDON_KEYS,
  ADDON_PRODUCTS,
  FEATURE_MATRIX,
  MAX_QUANTITY,
  PER_SEAT_PRODUCTS,
  POOL_IDS,
  isPerSeatProduct,
  parsePoolId,
  type AddonKind,
  type AddonProduct,
  type PerSeatProduct,
  type PoolId,
} from "./catalog";
import type { ErrorCode } from "../errors";

export interface AddonState {
  /** user -> pool id (only licensed users) */
  licenses: ReadonlyMap<string, PoolId>;
  /** user -> per-seat products assigned, with assignment order (monotonically increasing, e.g. assigned_at ms plus a tiebreak) */
  assignments: ReadonlyMap<string, ReadonlyMap<PerSeatProduct, number>>;
  /** pool id -> quantity, for the pools bought */
  poolQuantities: ReadonlyMap<PoolId, number>;
  /** product -> purchased quantity (missing = 0) */
  purchased: ReadonlyMap<AddonProduct, number>;
}

/** How a pool grants a per-seat product to its members. */
export type GrantRule =
  /** every member has it; nothing is assigned or consumed */
  | "included"
  /** needs an assignment; the pool's quantity covers that many assignments, the rest consume purchased seats */
  | "bundled"
  /** needs an assignment that consumes a purchased seat */
  | "purchased";

export type GrantSource = "included" | "bundled" | "purchased";

/** Why a change is refused; the caller turns it into a 409/400 (or 403) problem. */
export interface Refusal {
  code: Extract<ErrorCode, "addon_seats_exhausted" | "no_license" | "quantity_below_assigned" | "invalid_request">;
  detail: string;
}

/**
 * Per-seat products that a concurrent pool of an "included" tier bundles per seat instead of
 * including for every member (docs/licensing.md#add-ons: under concurrent Elite only AI Expert Assist
 * needs no license). The feature matrix in the catalog cannot say this, as it has no model column.
 */
const BUNDLED_UNDER_CONCURRENT: readonly PerSeatProduct[] = ["workforce_management", "quality_management"];

/** How `pool` grants `product`: the tier's matrix entry, refined by the license model. */
export function grantRule(pool: PoolId, product: PerSeatProduct): GrantRule {
  const parsed = parsePoolId(pool);
  if (!parsed || FEATURE_MATRIX[product][parsed.tier] !== "included") return "purchased";
  if (parsed.model === "concurrent" && BUNDLED_UNDER_CONCURRENT.includes(product)) return "bundled";
  return "included";
}

const quantityOf = (state: AddonState, pool: PoolId): number => state.poolQuantities.get(pool) ?? 0;
const purchasedOf = (state: AddonState, product: AddonProduct): number => state.purchased.get(product) ?? 0;

/** The assignment order of `product` for `user`, or undefined when not assigned. */
const assignedAt = (state: AddonState, user: string, product: PerSeatProduct): number | undefined =>
  state.assignments.get(user)?.get(product);

/** Assignments that count: licensed users whose pool does not include the product. */
function countingAssignments(state: AddonState, product: PerSeatProduct): Map<PoolId, number> {
  const perPool = new Map<PoolId, number>();
  for (const [user, pool] of state.licenses) {
    if (assignedAt(state, user, product) === undefined || grantRule(pool, product) === "included") continue;
    perPool.set(pool, (perPool.get(pool) ?? 0) + 1);
  }
  return perPool;
}

/** Assignments a pool's bundle covers for free: the `elite-concurrent` quantity for WFM and QM, else 0. */
export function bundle(state: AddonState, product: PerSeatProduct): number {
  let total = 0;
  for (const pool of POOL_IDS) if (grantRule(pool, product) === "bundled") total += quantityOf(state, pool);
  return total;
}

export interface Consumption {
  purchased: number;
  /** assignments the pool bundles cover (capacity, used or not) */
  bundled: number;
  /** purchased seats in use */
  consumed: number;
  /** purchased - consumed */
  available: number;
  /** assignments that count (not dormant), bundled or purchased */
  assigned: number;
}

/**
 * docs/licensing.md#consumption: `consumed(p) = assigned outside elite + max(0, assigned in elite-concurrent - bundle(p))`.
 * Written per pool, so each bundling pool's overflow is counted against its own quantity.
 * Products that are not per seat consume nothing: their purchased quantity is all available.
 */
export function consumption(state: AddonState, product: AddonProduct): Consumption {
  const purchased = purchasedOf(state, product);
  if (!isPerSeatProduct(product)) return { purchased, bundled: 0, consumed: 0, available: purchased, assigned: 0 };
  let consumed = 0;
  let assigned = 0;
  for (const [pool, count] of countingAssignments(state, product)) {
    assigned += count;
    consumed += grantRule(pool, product) === "bundled" ? Math.max(0, count - quantityOf(state, pool)) : count;
  }
  return { purchased, bundled: bundle(state, product), consumed, available: purchased - consumed, assigned };
}

export interface AddonReportRow extends Consumption {
  product: AddonProduct;
  kind: AddonKind;
}

/** The `GET …/addons` items: every product, in catalog order. */
export function addonReport(state: AddonState): AddonReportRow[] {
  return ADDON_KEYS.map((product) => ({ product, kind: ADDON_PRODUCTS[product], ...consumption(state, product) }));
}

/**
 * What the grant of one user's add-on reads, asked by key: the account's object answers it from an
 * index of its SQLite copy without reading every user (src/seats/roster-users.ts); `grantLookup`
 * answers it from the maps (the reference).
 */
export interface GrantLookup {
  licenseOf(user: string): PoolId | undefined;
  assignedAt(user: string, product: PerSeatProduct): number | undefined;
  quantityOf(pool: PoolId): number;
  /**
   * How many other licensed members of `pool` were assigned `product` before `order` (ties broken
   * by user id), counted up to `atMost`: `min(count, atMost)`.
   */
  earlierInPool(pool: PoolId, product: PerSeatProduct, user: string, order: number, atMost: number): number;
}

/** The grant lookups over plain maps: one pass over the licenses per rank. */
export function grantLookup(state: AddonState): GrantLookup {
  return {
    licenseOf: (user) => state.licenses.get(user),
    assignedAt: (user, product) => assignedAt(state, user, product),
    quantityOf: (pool) => quantityOf(state, pool),
    earlierInPool: (pool, product, user, order, atMost) => Math.min(atMost, rankInPool(state, pool, product, user, order)),
  };
}

/**
 * How `user` is granted `product`, or null when not granted (or unlicensed). In a bundling pool the
 * earliest assignments (by assignment order, then user id, so the answer is stable) take the
 * bundle; later ones are "purchased". So the number of "purchased" grants equals `consumed`.
 */
export function grantSource(state: AddonState, user: string, product: PerSeatProduct): GrantSource | null {
  return grantSourceBy(grantLookup(state), user, product);
}

/** `grantSource` through lookups by key. */
export function grantSourceBy(l: GrantLookup, user: string, product: PerSeatProduct): GrantSource | null {
  const pool = l.licenseOf(user);
  if (pool === undefined) return null;
  const rule = grantRule(pool, product);
  if (rule === "included") return "included";
  const order = l.assignedAt(user, product);
  if (order === undefined) return null;
  if (rule === "purchased") return "purchased";
  const quantity = l.quantityOf(pool);
  return l.earlierInPool(pool, product, user, order, quantity) < quantity ? "bundled" : "purchased";
}

/** How many members of `pool` were assigned `product` before `user` (ties broken by user id). */
function rankInPool(state: AddonState, pool: PoolId, product: PerSeatProduct, user: string, order: number): number {
  let earlier = 0;
  for (const [other, otherPool] of state.licenses) {
    if (otherPool !== pool || other === user) continue;
    const otherOrder = assignedAt(state, other, product);
    if (otherOrder === undefined) continue;
    if (otherOrder < order || (otherOrder === order && other < user)) earlier++;
  }
  return earlier;
}

/** What a successful assignment does: "included" means record nothing; otherwise record it. */
export function assignOutcome(state: AddonState, user: string, product: PerSeatProduct): "included" | "record" {
  const pool = state.licenses.get(user);
  return pool !== undefined && grantRule(pool, product) === "included" ? "included" : "record";
}

// --- Checks: null = allowed; a Refusal = refused, change nothing. ---

/** Per-seat products whose consumed count `after` raises above purchased, compared with `before`. */
function overdrawn(before: AddonState, after: AddonState): PerSeatProduct[] {
  return PER_SEAT_PRODUCTS.filter((product) => {
    const was = consumption(before, product).consumed;
    const will = consumption(after, product);
    return will.consumed > will.purchased && will.consumed > was;
  });
}

function exhausted(products: PerSeatProduct[], what: string): Refusal | null {
  if (products.length === 0) return null;
  return {
    code: "addon_seats_exhausted",
    detail: `${what} needs more purchased seats of ${products.join(", ")} than are available; buy more first.`,
  };
}

function invalidQuantity(quantity: number): Refusal | null {
  if (Number.isInteger(quantity) && quantity >= 0 && quantity <= MAX_QUANTITY) return null;
  return { code: "invalid_request", detail: `A quantity must be an integer from 0 to ${MAX_QUANTITY}.` };
}

/** Assigning a per-seat add-on to a user. */
export function checkAssign(state: AddonState, user: string, product: PerSeatProduct): Refusal | null {
  if (!isPerSeatProduct(product)) return { code: "invalid_request", detail: `${String(product)} is not a per-seat add-on.` };
  if (!state.licenses.has(user)) return { code: "no_license", detail: `User ${user} has no license; assign one first.` };
  if (assignOutcome(state, user, product) === "included" || assignedAt(state, user, product) !== undefined) return null;
  return exhausted(overdrawn(state, withAssignment(state, user, product)), `Assigning ${product} to ${user}`);
}

/** Giving `user` a license in `toPool` (or moving them there), keeping their assignments. */
export function checkMove(state: AddonState, user: string, toPool: PoolId): Refusal | null {
  if (state.licenses.get(user) === toPool) return null;
  return exhausted(overdrawn(state, withLicense(state, user, toPool)), `Moving ${user} to ${toPool}`);
}

/** Setting an add-on's purchased quantity. */
export function checkPurchase(state: AddonState, product: AddonProduct, quantity: number): Refusal | null {
  const invalid = invalidQuantity(quantity);
  if (invalid) return invalid;
  if (ADDON_PRODUCTS[product] === "account_wide" && quantity > 1) {
    return { code: "invalid_request", detail: `${product} is account-wide: its quantity is 0 or 1.` };
  }
  const { consumed } = consumption(state, product);
  if (quantity >= consumed) return null;
  return {
    code: "quantity_below_assigned",
    detail: `${consumed} purchased seats of ${product} are in use; unassign some before lowering it to ${quantity}.`,
  };
}

/**
 * Setting a pool's quantity, as far as add-ons care: lowering `elite-concurrent` shrinks its
 * bundle, pushing assignments onto purchased seats. (The named-pool rule, quantity >= assigned,
 * is section 2's and is checked by the caller.)
 */
export function checkPoolQuantity(state: AddonState, pool: PoolId, quantity: number): Refusal | null {
  const invalid = invalidQuantity(quantity);
  if (invalid) return invalid;
  const products = overdrawn(state, withPoolQuantity(state, pool, quantity));
  if (products.length === 0) return null;
  return {
    code: "quantity_below_assigned",
    detail: `Lowering ${pool} to ${quantity} would leave assignments of ${products.join(", ")} without a bundled or purchased seat; buy more of them or unassign first.`,
  };
}

// --- The state after a change, for the checks (copies; the input is never modified). ---

function withAssignment(state: AddonState, user: string, product: PerSeatProduct): AddonState {
  const mine = new Map(state.assignments.get(user) ?? []);
  mine.set(product, Number.MAX_SAFE_INTEGER); // the newest assignment: last in line for the bundle
  return { ...state, assignments: new Map(state.assignments).set(user, mine) };
}

function withLicense(state: AddonState, user: string, pool: PoolId): AddonState {
  return { ...state, licenses: new Map(state.licenses).set(user, pool) };
}

function withPoolQuantity(state: AddonState, pool: PoolId, quantity: number): AddonState {
  return { ...state, poolQuantities: new Map(state.poolQuantities).set(pool, quantity) };
}

// --- Compliance: what the account still needs to buy. ---

export interface ComplianceRow {
  product: PerSeatProduct;
  /** users who need an assignment: every member of a bundling pool, plus users assigned it elsewhere */
  needed: number;
  /** of those, how many the bundles and purchased seats cover (at most `needed`) */
  covered: number;
  /** needed - covered */
  shortfall: number;
  /** the parts of `needed` and `covered`, for the recommendation text */
  bundling_pool_members: number;
  assigned_elsewhere: number;
  bundled: number;
  purchased: number;
}

/**
 * The add-on shortfall (docs/licensing.md#shortfall; decision: every `elite-concurrent` member counts as
 * using WFM and QM, assigned or not). A bundle covers only its own pool's members, so unused
 * bundle capacity never hides a shortfall elsewhere.
 */
export function compliance(state: AddonState): ComplianceRow[] {
  return PER_SEAT_PRODUCTS.map((product) => {
    let members = 0;
    let elsewhere = 0;
    let bundleUsed = 0;
    for (const pool of POOL_IDS) {
      const rule = grantRule(pool, product);
      if (rule !== "bundled") continue;
      const poolMembers = membersOf(state, pool);
      members += poolMembers;
      bundleUsed += Math.min(poolMembers, quantityOf(state, pool));
    }
    for (const [pool, count] of countingAssignments(state, product)) {
      if (grantRule(pool, product) === "purchased") elsewhere += count;
    }
    const needed = members + elsewhere;
    const purchased = purchasedOf(state, product);
    const covered = Math.min(needed, bundleUsed + purchased);
    return {
      product,
      needed,
      covered,
      shortfall: needed - covered,
      bundling_pool_members: members,
      assigned_elsewhere: elsewhere,
      bundled: bundle(state, product),
      purchased,
    };
  });
}

function membersOf(state: AddonState, pool: PoolId): number {
  let count = 0;
  for (const held of state.licenses.values()) if (held === pool) count++;
  return count;
}

/**
 * Plain-language advice from the compliance rows; `extra` (advice from other rules, e.g. overage)
 * is appended. When nothing is short and there is no extra advice, says so.
 */
export function recommendations(shortfalls: readonly ComplianceRow[], extra: readonly string[] = []): string[] {
  const advice = shortfalls.filter((row) => row.shortfall > 0).map(shortfallAdvice);
  if (advice.length === 0 && extra.length === 0) return ["Nothing to buy: every user's add-ons are covered."];
  return [...advice, ...extra];
}

function shortfallAdvice(row: ComplianceRow): string {
  const who: string[] = [];
  if (row.bundling_pool_members > 0) who.push(`${row.bundling_pool_members} elite-concurrent members`);
  if (row.assigned_elsewhere > 0) who.push(`${row.assigned_elsewhere} ${row.assigned_elsewhere === 1 ? "user" : "users"} in other pools`);
  const fromBundle = Math.min(row.bundled, row.bundling_pool_members);
  const by: string[] = [];
  if (fromBundle > 0) by.push(`${fromBundle} are covered by the bundle`);
  if (row.purchased > 0) by.push(by.length ? `${row.purchased} by purchased seats` : `${row.purchased} are covered by purchased seats`);
  const covered = by.length ? by.join(" and ") : "none are covered";
  const noun = row.shortfall === 1 ? "seat" : "seats";
  return `Buy ${row.shortfall} more ${row.product} ${noun}: ${who.join(" and ")} need it and ${covered}.`;
}
