/** Worked examples of the license rules (docs/licensing.md#named-pools). */
import { describe, expect, it } from "vitest";
import type { PerSeatProduct, PoolId } from "../../src/domain/catalog";
import { refuseAssignment, refuseBatch, refusePoolQuantity, refuseSeat, type LicenseState } from "../../src/domain/licenses";

function account(opts: {
  pools: Partial<Record<PoolId, number>>;
  licenses?: Record<string, PoolId>;
  assignments?: Record<string, PerSeatProduct[]>;
  purchased?: Partial<Record<PerSeatProduct, number>>;
}): LicenseState {
  const licenses = new Map(Object.entries(opts.licenses ?? {}));
  const assignedCount = new Map<PoolId, number>();
  for (const p of licenses.values()) assignedCount.set(p, (assignedCount.get(p) ?? 0) + 1);
  return {
    licenses,
    assignedCount,
    assignments: new Map(Object.entries(opts.assignments ?? {}).map(([u, ps]) => [u, new Map(ps.map((p, i) => [p, i + 1] as const))])),
    poolQuantities: new Map(Object.entries(opts.pools) as [PoolId, number][]),
    purchased: new Map(Object.entries(opts.purchased ?? {}) as [PerSeatProduct, number][]),
  };
}

describe("refuseBatch: judged on the end state", () => {
  it("swapping users between two full named pools is fine", () => {
    const s = account({ pools: { "elite-named": 1, "essentials-named": 1 }, licenses: { e: "elite-named", x: "essentials-named" } });
    expect(refuseBatch(s, { revoke: [], assign: [{ user_id: "e", pool: "essentials-named" }, { user_id: "x", pool: "elite-named" }] })).toBeNull();
  });

  it("names the arrival that does not fit: pool of 3 holding 1, four arrivals -> the third (index 3 after one other item)", () => {
    const s = account({ pools: { "elite-named": 3, "premium-concurrent": 3 }, licenses: { held: "elite-named" } });
    const refusal = refuseBatch(s, {
      revoke: [],
      assign: [
        { user_id: "cc", pool: "premium-concurrent" },
        { user_id: "b0", pool: "elite-named" },
        { user_id: "b1", pool: "elite-named" },
        { user_id: "b2", pool: "elite-named" },
        { user_id: "b3", pool: "elite-named" },
      ],
    });
    expect(refusal).toMatchObject({ code: "named_pool_full", extra: { index: 3, user_id: "b2", pool: "elite-named" } });
  });

  it("counts every departure first: a later move out makes room for an earlier arrival", () => {
    const s = account({ pools: { "premium-named": 2, "premium-concurrent": 5 }, licenses: { a: "premium-named", b: "premium-named" } });
    expect(refuseBatch(s, { revoke: [], assign: [{ user_id: "c", pool: "premium-named" }, { user_id: "a", pool: "premium-concurrent" }] })).toBeNull();
  });

  it("revocations free seats for the batch's assignments", () => {
    const s = account({ pools: { "premium-named": 1 }, licenses: { a: "premium-named" } });
    expect(refuseBatch(s, { revoke: ["a"], assign: [{ user_id: "b", pool: "premium-named" }] })).toBeNull();
  });

  it("a pool over its quantity before the batch is not the batch's doing, unless the batch adds to it", () => {
    const s = account({ pools: { "premium-named": 1, "essentials-named": 5 }, licenses: { a: "premium-named", b: "premium-named" } });
    expect(refuseBatch(s, { revoke: [], assign: [{ user_id: "c", pool: "essentials-named" }] })).toBeNull();
    expect(refuseBatch(s, { revoke: [], assign: [{ user_id: "c", pool: "essentials-named" }, { user_id: "d", pool: "premium-named" }] })).toMatchObject({
      code: "named_pool_full",
      extra: { index: 1, user_id: "d" },
    });
  });

  it("two pools overfilled: the smaller culprit index is named", () => {
    const s = account({ pools: { "premium-named": 0, "elite-named": 0 } });
    const refusal = refuseBatch(s, { revoke: [], assign: [{ user_id: "x", pool: "elite-named" }, { user_id: "y", pool: "premium-named" }] });
    expect(refusal).toMatchObject({ code: "named_pool_full", extra: { index: 0, pool: "elite-named" } });
  });

  it("an unknown pool is a 404 naming its index, before any capacity rule", () => {
    const s = account({ pools: { "premium-named": 0 } });
    const refusal = refuseBatch(s, { revoke: [], assign: [{ user_id: "x", pool: "premium-named" }, { user_id: "y", pool: "elite-named" }] });
    expect(refusal).toMatchObject({ code: "not_found", extra: { index: 1, pool: "elite-named" } });
  });

  it("a dormant add-on wakes when its user moves out of elite-named: refused when no purchased seat is left", () => {
    const s = account({
      pools: { "elite-named": 5, "premium-named": 5 },
      licenses: { w: "elite-named" },
      assignments: { w: ["workforce_management"] },
    });
    expect(refuseBatch(s, { revoke: [], assign: [{ user_id: "w", pool: "premium-named" }] })).toMatchObject({
      code: "addon_seats_exhausted",
      extra: { index: 0, user_id: "w", product: "workforce_management" },
    });
    const bought = account({ ...{ pools: { "elite-named": 5, "premium-named": 5 } }, licenses: { w: "elite-named" }, assignments: { w: ["workforce_management"] }, purchased: { workforce_management: 1 } });
    expect(refuseBatch(bought, { revoke: [], assign: [{ user_id: "w", pool: "premium-named" }] })).toBeNull();
  });

  it("a named breach comes before an add-on breach", () => {
    const s = account({ pools: { "elite-named": 5, "premium-named": 0 }, licenses: { w: "elite-named" }, assignments: { w: ["quality_management"] } });
    expect(refuseBatch(s, { revoke: [], assign: [{ user_id: "w", pool: "premium-named" }] })?.code).toBe("named_pool_full");
  });
});

describe("single changes", () => {
  it("refuseAssignment: a full named pool, an unknown pool, the same pool again", () => {
    const s = account({ pools: { "premium-named": 1, "premium-concurrent": 1 }, licenses: { a: "premium-named" } });
    expect(refuseAssignment(s, "b", "premium-named")).toMatchObject({ code: "named_pool_full", extra: { user_id: "b", pool: "premium-named" } });
    expect(refuseAssignment(s, "a", "premium-named")).toBeNull();
    expect(refuseAssignment(s, "b", "elite-named")?.code).toBe("not_found");
    // A concurrent pool is never full: members beyond its quantity go into overage at checkout.
    expect(refuseAssignment(s, "b", "premium-concurrent")).toBeNull();
  });

  it("refusePoolQuantity: never below the users assigned to a named pool; max_active only on concurrent pools", () => {
    const s = account({ pools: { "premium-named": 3 }, licenses: { a: "premium-named", b: "premium-named" } });
    expect(refusePoolQuantity(s, "premium-named", 1, null)).toMatchObject({ code: "quantity_below_assigned", extra: { assigned: 2 } });
    expect(refusePoolQuantity(s, "premium-named", 2, null)).toBeNull();
    expect(refusePoolQuantity(s, "premium-named", 5, 3)?.code).toBe("invalid_request");
    expect(refusePoolQuantity(s, "premium-concurrent", 0, 3)).toBeNull();
  });

  it("refusePoolQuantity: lowering elite-concurrent may push bundled add-ons onto purchased seats", () => {
    const s = account({ pools: { "elite-concurrent": 2 }, licenses: { a: "elite-concurrent", b: "elite-concurrent" }, assignments: { a: ["workforce_management"], b: ["workforce_management"] } });
    expect(refusePoolQuantity(s, "elite-concurrent", 1, null)?.code).toBe("quantity_below_assigned");
  });

  it("refuseSeat: only the max_active ceiling refuses a seat", () => {
    expect(refuseSeat("premium-concurrent", null, 1000)).toBeNull();
    expect(refuseSeat("premium-concurrent", 3, 2)).toBeNull();
    expect(refuseSeat("premium-concurrent", 3, 3)).toEqual({
      code: "pool_at_ceiling",
      detail: "Pool premium-concurrent is at its ceiling of 3 active seats.",
      extra: { pool: "premium-concurrent", max_active: 3, active: 3 },
    });
  });
});
