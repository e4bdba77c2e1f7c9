/**
 * Random sequences of account changes, each applied only when the add-on checks allow it (as the
 * Durable Object does). After every step: consumed <= purchased for every per-seat product, and
 * consumption() agrees with a recount written out plainly here, without the module's helpers.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  assignOutcome,
  checkAssign,
  checkMove,
  checkPoolQuantity,
  checkPurchase,
  consumption,
  grantSource,
  type AddonState,
} from "../../src/domain/addons";
import { ADDON_KEYS, PER_SEAT_PRODUCTS, POOL_IDS, type AddonProduct, type PerSeatProduct, type PoolId } from "../../src/domain/catalog";

const USERS = ["u0", "u1", "u2", "u3", "u4", "u5", "u6", "u7"];

type Op =
  | { kind: "purchase"; product: AddonProduct; quantity: number }
  | { kind: "poolQuantity"; pool: PoolId; quantity: number }
  | { kind: "license"; user: string; pool: PoolId }
  | { kind: "revoke"; user: string }
  | { kind: "assign"; user: string; product: PerSeatProduct }
  | { kind: "unassign"; user: string; product: PerSeatProduct };

const user = fc.constantFrom(...USERS);
const pool = fc.constantFrom(...POOL_IDS);
const perSeat = fc.constantFrom(...PER_SEAT_PRODUCTS);
const quantity = fc.integer({ min: 0, max: 6 });

// Assignments and licenses are weighted up: they are where the interesting conflicts are.
const op: fc.Arbitrary<Op> = fc.oneof(
  { arbitrary: fc.record({ kind: fc.constant("purchase" as const), product: fc.constantFrom(...ADDON_KEYS), quantity }), weight: 2 },
  { arbitrary: fc.record({ kind: fc.constant("poolQuantity" as const), pool, quantity }), weight: 2 },
  { arbitrary: fc.record({ kind: fc.constant("license" as const), user, pool }), weight: 3 },
  { arbitrary: fc.record({ kind: fc.constant("revoke" as const), user }), weight: 1 },
  { arbitrary: fc.record({ kind: fc.constant("assign" as const), user, product: perSeat }), weight: 5 },
  { arbitrary: fc.record({ kind: fc.constant("unassign" as const), user, product: perSeat }), weight: 1 },
);

interface World extends AddonState {
  licenses: Map<string, PoolId>;
  assignments: Map<string, Map<PerSeatProduct, number>>;
  poolQuantities: Map<PoolId, number>;
  purchased: Map<AddonProduct, number>;
}

const emptyWorld = (): World => ({ licenses: new Map(), assignments: new Map(), poolQuantities: new Map(), purchased: new Map() });

/** A deep copy, to show that a refused change would in fact have broken the invariant. */
const copy = (w: World): World => ({
  licenses: new Map(w.licenses),
  assignments: new Map([...w.assignments].map(([u, a]) => [u, new Map(a)])),
  poolQuantities: new Map(w.poolQuantities),
  purchased: new Map(w.purchased),
});

/** Applies `op` without asking anything (the refused ones too, on a copy, for the check's sake). */
function apply(w: World, op: Op, order: number): void {
  switch (op.kind) {
    case "purchase":
      w.purchased.set(op.product, op.quantity);
      break;
    case "poolQuantity":
      w.poolQuantities.set(op.pool, op.quantity);
      break;
    case "license":
      w.licenses.set(op.user, op.pool);
      break;
    case "revoke": // docs/licensing.md#add-ons: revoking a license removes the add-on assignments
      w.licenses.delete(op.user);
      w.assignments.delete(op.user);
      break;
    case "assign": {
      if (assignOutcome(w, op.user, op.product) === "included") break;
      const mine = w.assignments.get(op.user) ?? new Map<PerSeatProduct, number>();
      if (!mine.has(op.product)) mine.set(op.product, order);
      w.assignments.set(op.user, mine);
      break;
    }
    case "unassign":
      w.assignments.get(op.user)?.delete(op.product);
      break;
  }
}

function check(w: World, op: Op) {
  switch (op.kind) {
    case "purchase":
      return checkPurchase(w, op.product, op.quantity);
    case "poolQuantity":
      return checkPoolQuantity(w, op.pool, op.quantity);
    case "license":
      return checkMove(w, op.user, op.pool);
    case "assign":
      return checkAssign(w, op.user, op.product);
    case "revoke":
    case "unassign":
      return null; // only ever lower consumption
  }
}

/** docs/licensing.md#consumption, counted by hand: users per pool class with the product assigned. */
function recount(w: World, product: PerSeatProduct): number {
  let outsideElite = 0;
  let eliteConcurrent = 0;
  for (const [u, p] of w.licenses) {
    if (!w.assignments.get(u)?.has(product)) continue;
    if (p === "elite-named") continue; // everything included
    if (p === "elite-concurrent") {
      if (product !== "ai_expert_assist") eliteConcurrent++; // AI Expert Assist is included there
      continue;
    }
    outsideElite++;
  }
  const bundle = product === "ai_expert_assist" ? 0 : (w.poolQuantities.get("elite-concurrent") ?? 0);
  return outsideElite + Math.max(0, eliteConcurrent - bundle);
}

describe("add-on invariants under random changes", () => {
  it("consumed <= purchased always, consumption matches a recount, refusals are never spurious", () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 60 }), (ops) => {
        const w = emptyWorld();
        ops.forEach((o, step) => {
          const refusal = check(w, o);
          if (refusal === null) {
            apply(w, o, step);
          } else if (refusal.code === "addon_seats_exhausted" || refusal.code === "quantity_below_assigned") {
            // Had it gone through, some product would be over its purchased seats.
            const would = copy(w);
            apply(would, o, step);
            expect(PER_SEAT_PRODUCTS.some((p) => recount(would, p) > (would.purchased.get(p) ?? 0))).toBe(true);
          }
          for (const product of PER_SEAT_PRODUCTS) {
            const c = consumption(w, product);
            expect(c.consumed).toBe(recount(w, product));
            expect(c.consumed).toBeLessThanOrEqual(c.purchased);
            expect(c.available).toBe(c.purchased - c.consumed);
            // Every consumed seat is one user's "purchased" grant, and the bundle is never overdrawn.
            const sources = USERS.map((u) => grantSource(w, u, product));
            expect(sources.filter((s) => s === "purchased").length).toBe(c.consumed);
            expect(sources.filter((s) => s === "bundled").length).toBeLessThanOrEqual(c.bundled);
          }
        });
      }),
      { numRuns: 300 },
    );
  });

  it("checks never modify the state they are given (a refused change changes nothing)", () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 40 }), (ops) => {
        const w = emptyWorld();
        ops.forEach((o, step) => {
          const before = JSON.stringify(snapshot(w));
          const refusal = check(w, o);
          expect(JSON.stringify(snapshot(w))).toBe(before);
          if (refusal === null) apply(w, o, step);
        });
      }),
      { numRuns: 100 },
    );
  });
});

const snapshot = (w: World) => ({
  licenses: [...w.licenses],
  assignments: [...w.assignments].map(([u, a]) => [u, [...a]]),
  poolQuantities: [...w.poolQuantities],
  purchased: [...w.purchased],
});
