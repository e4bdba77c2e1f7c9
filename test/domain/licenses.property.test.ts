/**
 * The batch judgement against a brute-force reference: a random account (legacy over-assignment
 * included), a random batch, the batch applied to a plain model, and the end state judged by
 * counting users one by one and letting arrivals in one at a time. The refusal code and the
 * culprit index must agree with `refuseBatch`; an accepted batch must leave no new breach.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { grantRule } from "../../src/domain/addons";
import { PER_SEAT_PRODUCTS, POOL_IDS, parsePoolId, type PerSeatProduct, type PoolId } from "../../src/domain/catalog";
import { refuseBatch, type LicenseBatch, type LicenseState } from "../../src/domain/licenses";

const USERS = ["u0", "u1", "u2", "u3", "u4", "u5", "u6", "u7", "u8", "u9"];

interface Model {
  licenses: Record<string, PoolId>;
  assignments: Record<string, PerSeatProduct[]>;
  quantities: Partial<Record<PoolId, number>>;
  purchased: Partial<Record<PerSeatProduct, number>>;
}

const pool = fc.constantFrom(...POOL_IDS);
const model: fc.Arbitrary<Model> = fc.record({
  quantities: fc.dictionary(pool, fc.integer({ min: 0, max: 4 }), { maxKeys: 6 }) as fc.Arbitrary<Partial<Record<PoolId, number>>>,
  licenses: fc.dictionary(fc.constantFrom(...USERS), pool, { maxKeys: USERS.length }),
  assignments: fc.dictionary(fc.constantFrom(...USERS), fc.subarray([...PER_SEAT_PRODUCTS]), { maxKeys: USERS.length }),
  purchased: fc.dictionary(fc.constantFrom(...PER_SEAT_PRODUCTS), fc.integer({ min: 0, max: 4 })) as fc.Arbitrary<Partial<Record<PerSeatProduct, number>>>,
});

/** A batch as the route lets it through: every user named at most once. */
const batch: fc.Arbitrary<LicenseBatch> = fc
  .tuple(fc.shuffledSubarray(USERS), fc.integer({ min: 0, max: USERS.length }), fc.array(pool, { minLength: USERS.length, maxLength: USERS.length }))
  .map(([users, cut, pools]) => ({
    revoke: users.slice(0, Math.min(cut, users.length) >> 1),
    assign: users.slice(Math.min(cut, users.length) >> 1, cut).map((user_id, i) => ({ user_id, pool: pools[i] })),
  }));

/** The model as the rules read it (a held license in a pool that was never bought is dropped, as the roster load does not have one). */
function stateOf(m: Model): LicenseState {
  const licenses = new Map(Object.entries(m.licenses).filter(([, p]) => m.quantities[p] !== undefined));
  const assignedCount = new Map<PoolId, number>();
  for (const p of licenses.values()) assignedCount.set(p, (assignedCount.get(p) ?? 0) + 1);
  return {
    licenses,
    assignedCount,
    assignments: new Map(Object.entries(m.assignments).map(([u, ps]) => [u, new Map(ps.map((p, i) => [p, i + 1] as const))])),
    poolQuantities: new Map(Object.entries(m.quantities) as [PoolId, number][]),
    purchased: new Map(Object.entries(m.purchased) as [PerSeatProduct, number][]),
  };
}

// ------------------------------------------------------------------ the reference, written out plainly

function applyToModel(m: Model, b: LicenseBatch): Model | { unknownPool: number } {
  const end: Model = { licenses: { ...m.licenses }, assignments: { ...m.assignments }, quantities: m.quantities, purchased: m.purchased };
  for (const u of b.revoke) {
    delete end.licenses[u];
    delete end.assignments[u];
  }
  for (let i = 0; i < b.assign.length; i++) {
    if (m.quantities[b.assign[i].pool] === undefined) return { unknownPool: i };
    end.licenses[b.assign[i].user_id] = b.assign[i].pool;
  }
  return end;
}

const usersIn = (m: Model, p: PoolId) => USERS.filter((u) => m.licenses[u] === p).length;

/** Purchased seats in use, user by user: dormant assignments are free, bundling pools cover their quantity. */
function consumed(m: Model, product: PerSeatProduct): number {
  let total = 0;
  for (const p of POOL_IDS) {
    if (m.quantities[p] === undefined) continue;
    const holders = USERS.filter((u) => m.licenses[u] === p && (m.assignments[u] ?? []).includes(product)).length;
    const rule = grantRule(p, product);
    if (rule === "purchased") total += holders;
    if (rule === "bundled") total += Math.max(0, holders - m.quantities[p]!);
  }
  return total;
}

function reference(m: Model, b: LicenseBatch): { code: string; index: number } | null {
  const end = applyToModel(m, b);
  if ("unknownPool" in end) return { code: "not_found", index: end.unknownPool };
  const before = { ...m, licenses: Object.fromEntries(Object.entries(m.licenses).filter(([, p]) => m.quantities[p] !== undefined)) };
  const incoming = b.assign.map((a, index) => ({ ...a, index })).filter((a) => before.licenses[a.user_id] !== a.pool);
  const named: number[] = [];
  for (const p of POOL_IDS) {
    const q = m.quantities[p];
    if (q === undefined || parsePoolId(p)!.model !== "named" || usersIn(end, p) <= q) continue;
    const arrivals = incoming.filter((a) => a.pool === p);
    if (arrivals.length === 0) continue;
    // Everyone who stays or leaves is counted first; then arrivals come in one at a time.
    let n = usersIn(end, p) - arrivals.length;
    for (const a of arrivals) {
      n += 1;
      if (n > q) {
        named.push(a.index);
        break;
      }
    }
  }
  if (named.length) return { code: "named_pool_full", index: Math.min(...named) };
  const addon: number[] = [];
  for (const product of PER_SEAT_PRODUCTS) {
    const after = consumed(end, product);
    if (after <= (m.purchased[product] ?? 0) || after <= consumed(before, product)) continue;
    const culprit = incoming.find((a) => (end.assignments[a.user_id] ?? []).includes(product)) ?? incoming[0];
    if (culprit) addon.push(culprit.index);
  }
  if (addon.length) return { code: "addon_seats_exhausted", index: Math.min(...addon) };
  return null;
}

describe("refuseBatch against a brute-force reference", () => {
  it("refuses exactly when the reference does, with the same code and culprit index", () => {
    fc.assert(
      fc.property(model, batch, (m, b) => {
        const got = refuseBatch(stateOf(m), b);
        const want = reference(m, b);
        expect(got && { code: got.code, index: got.extra?.index }).toEqual(want);
        if (got && got.code !== "not_found") expect(got.extra?.user_id).toBe(b.assign[got.extra?.index as number].user_id);
      }),
      { numRuns: 3000 },
    );
  });

  it("an accepted batch leaves no named pool it adds to over its quantity and raises no add-on past its purchase", () => {
    fc.assert(
      fc.property(model, batch, (m, b) => {
        if (refuseBatch(stateOf(m), b) !== null) return;
        const end = applyToModel(m, b) as Model;
        for (const a of b.assign) {
          if (parsePoolId(a.pool)!.model === "named" && m.licenses[a.user_id] !== a.pool) expect(usersIn(end, a.pool)).toBeLessThanOrEqual(m.quantities[a.pool]!);
        }
        for (const product of PER_SEAT_PRODUCTS) {
          const after = consumed(end, product);
          if (after > (m.purchased[product] ?? 0)) expect(after).toBeLessThanOrEqual(consumed(m, product));
        }
      }),
      { numRuns: 3000 },
    );
  });

  it("the judgement depends on the end state only: reordering revocations never changes it", () => {
    fc.assert(
      fc.property(model, batch, (m, b) => {
        const reversed = { revoke: [...b.revoke].reverse(), assign: b.assign };
        expect(refuseBatch(stateOf(m), reversed)).toEqual(refuseBatch(stateOf(m), b));
      }),
    );
  });
});
