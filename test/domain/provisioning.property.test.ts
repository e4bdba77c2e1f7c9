/**
 * planProvisioning (license and add-on changes as one step) against a plain reference: the changes
 * applied one user at a time to plain maps, then the end state judged by counting. An accepted
 * plan leaves no new breach and does what was asked; a refusal names a breach the end state has.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { consumption, grantRule } from "../../src/domain/addons";
import { PER_SEAT_PRODUCTS, POOL_IDS, parsePoolId, type PerSeatProduct, type PoolId } from "../../src/domain/catalog";
import type { LicenseState } from "../../src/domain/licenses";
import { planProvisioning, type ProvisioningChange } from "../../src/domain/provisioning";

const USERS = ["u0", "u1", "u2", "u3", "u4", "u5"];
const pool = fc.constantFrom(...POOL_IDS);
const product = fc.constantFrom(...PER_SEAT_PRODUCTS);

function stateOf(m: { quantities: Partial<Record<PoolId, number>>; licenses: Record<string, PoolId>; assignments: Record<string, PerSeatProduct[]>; purchased: Partial<Record<PerSeatProduct, number>> }): LicenseState {
  const licenses = new Map(Object.entries(m.licenses).filter(([, p]) => m.quantities[p] !== undefined));
  const assignedCount = new Map<PoolId, number>();
  for (const p of licenses.values()) assignedCount.set(p, (assignedCount.get(p) ?? 0) + 1);
  let seq = 1;
  return {
    licenses,
    assignedCount,
    poolQuantities: new Map(Object.entries(m.quantities) as [PoolId, number][]),
    purchased: new Map(Object.entries(m.purchased) as [PerSeatProduct, number][]),
    assignments: new Map(
      Object.entries(m.assignments)
        .filter(([u]) => licenses.has(u))
        .map(([u, ps]) => [u, new Map(ps.map((p) => [p, seq++] as const))]),
    ),
  };
}

const arb = fc.record({
  model: fc.record({
    quantities: fc.dictionary(pool, fc.integer({ min: 0, max: 3 }), { minKeys: 1, maxKeys: 6 }) as fc.Arbitrary<Partial<Record<PoolId, number>>>,
    licenses: fc.dictionary(fc.constantFrom(...USERS), pool, { maxKeys: 4 }),
    assignments: fc.dictionary(fc.constantFrom(...USERS), fc.subarray([...PER_SEAT_PRODUCTS]), { maxKeys: 4 }),
    purchased: fc.dictionary(product, fc.integer({ min: 0, max: 3 })) as fc.Arbitrary<Partial<Record<PerSeatProduct, number>>>,
  }),
  changes: fc.uniqueArray(
    fc.record({
      user_id: fc.constantFrom(...USERS),
      pool: fc.option(fc.option(pool, { nil: null }), { nil: undefined }),
      addons_add: fc.subarray([...PER_SEAT_PRODUCTS]),
      addons_remove: fc.subarray([...PER_SEAT_PRODUCTS]),
    }),
    { selector: (c) => c.user_id, maxLength: 4 },
  ),
});

describe("planProvisioning against a plain reference", () => {
  it("accepts only end states without a new breach, and refuses only for a breach the end state has", () => {
    fc.assert(
      fc.property(arb, ({ model, changes }) => {
        const before = stateOf(model);
        const cs: ProvisioningChange[] = changes.map((c) => ({ ...c, addons_remove: c.addons_remove.filter((p) => !c.addons_add.includes(p)) }));
        // The reference end state, one user at a time.
        const licenses = new Map(before.licenses);
        const assignments = new Map([...before.assignments].map(([u, m]) => [u, new Map(m)]));
        let seq = 1e9;
        let noLicense = false;
        for (const c of cs) {
          if (c.pool === null) {
            licenses.delete(c.user_id);
            assignments.delete(c.user_id);
            continue;
          }
          if (c.pool !== undefined) licenses.set(c.user_id, c.pool);
          const mine = assignments.get(c.user_id) ?? new Map();
          for (const p of c.addons_remove ?? []) mine.delete(p);
          for (const p of c.addons_add ?? []) {
            if (!licenses.has(c.user_id)) noLicense = true;
            else if (!mine.has(p) && grantRule(licenses.get(c.user_id)!, p) !== "included") mine.set(p, seq++);
          }
          assignments.set(c.user_id, mine);
        }
        const unknownPool = cs.some((c) => c.pool && !before.poolQuantities.has(c.pool) && before.licenses.get(c.user_id) !== c.pool);
        const count = (p: PoolId, m: Map<string, PoolId>) => [...m.values()].filter((x) => x === p).length;
        const namedBreach = [...before.poolQuantities].some(
          ([p, q]) => parsePoolId(p)!.model === "named" && count(p, licenses) > q && cs.some((c) => c.pool === p && before.licenses.get(c.user_id) !== p),
        );
        const after = { ...before, licenses, assignments };
        const addonBreach = PER_SEAT_PRODUCTS.some((p) => {
          const will = consumption(after, p);
          return will.consumed > will.purchased && will.consumed > consumption(before, p).consumed;
        });
        const result = planProvisioning(before, cs);
        if ("plan" in result) {
          expect({ unknownPool, namedBreach, addonBreach, noLicense }).toEqual({ unknownPool: false, namedBreach: false, addonBreach: false, noLicense: false });
          expect(new Set(result.plan.revoke)).toEqual(new Set(cs.filter((c) => c.pool === null && before.licenses.has(c.user_id)).map((c) => c.user_id)));
          expect(result.plan.assign.map((a) => `${a.user_id}:${a.pool}`).sort()).toEqual(
            cs.filter((c) => c.pool && before.licenses.get(c.user_id) !== c.pool).map((c) => `${c.user_id}:${c.pool}`).sort(),
          );
        } else {
          const code = result.refusal.code;
          if (code === "named_pool_full") expect(namedBreach).toBe(true);
          else if (code === "addon_seats_exhausted") expect(addonBreach || namedBreach).toBe(true);
          else if (code === "no_license") expect(noLicense).toBe(true);
          else if (code === "not_found") expect(unknownPool).toBe(true);
          else throw new Error(`unexpected refusal ${code}`);
        }
      }),
      { numRuns: 500 },
    );
  });

  it("worked example: a move and an add-on together, all or nothing", () => {
    const before = stateOf({ quantities: { "elite-named": 1, "premium-concurrent": 5 }, licenses: { a: "elite-named", b: "premium-concurrent" }, assignments: {}, purchased: { quality_management: 0 } });
    // b into the full elite pool: refused, naming b.
    const full = planProvisioning(before, [{ user_id: "b", pool: "elite-named" }]);
    expect("refusal" in full && full.refusal).toMatchObject({ code: "named_pool_full", extra: { user_id: "b" } });
    // a leaves it in the same step: fine.
    const swap = planProvisioning(before, [{ user_id: "a", pool: "premium-concurrent" }, { user_id: "b", pool: "elite-named", addons_add: ["quality_management"] }]);
    expect("plan" in swap && swap.plan).toMatchObject({ assign: [{ user_id: "a", pool: "premium-concurrent" }, { user_id: "b", pool: "elite-named" }], addonsAdd: [] });
    // QM under premium needs a purchased seat: the whole step is refused.
    const qm = planProvisioning(before, [{ user_id: "b", addons_add: ["quality_management"] }]);
    expect("refusal" in qm && qm.refusal.code).toBe("addon_seats_exhausted");
    expect(planProvisioning(before, [{ user_id: "c", addons_add: ["quality_management"] }])).toMatchObject({ refusal: { code: "no_license" } });
  });

  it("a move that would wake a dormant add-on is fine when the same request removes that add-on", () => {
    // Found by the property above: AI Expert Assist is dormant under elite-concurrent (included) and
    // would need a purchased seat under essentials-named, but the request drops it.
    const before = stateOf({ quantities: { "essentials-named": 1, "elite-concurrent": 0 }, licenses: { u0: "elite-concurrent" }, assignments: { u0: ["ai_expert_assist"] }, purchased: {} });
    const plan = planProvisioning(before, [{ user_id: "u0", pool: "essentials-named", addons_remove: ["ai_expert_assist"] }]);
    expect("plan" in plan && plan.plan).toMatchObject({ assign: [{ user_id: "u0", pool: "essentials-named" }], addonsRemove: [{ user_id: "u0", product: "ai_expert_assist" }] });
    // Keeping it is refused: it would consume a seat nobody bought.
    const keep = planProvisioning(before, [{ user_id: "u0", pool: "essentials-named" }]);
    expect("refusal" in keep && keep.refusal.code).toBe("addon_seats_exhausted");
  });
});
