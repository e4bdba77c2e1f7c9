/**
 * The add-on bundling rank by binary search (src/domain/addon-ranks.ts) against the plain walk over
 * every license (`grantLookup`, src/domain/addons.ts): for random accounts, and through the Roster
 * as licenses and assignments change (the ranks must be dropped by every change).
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { AddonRanks } from "../../src/domain/addon-ranks";
import { grantLookup, type AddonState } from "../../src/domain/addons";
import { PER_SEAT_PRODUCTS, POOL_IDS, type PerSeatProduct, type PoolId } from "../../src/domain/catalog";
import { Roster } from "../../src/seats/roster";

// Ids that sort differently by code unit than by locale or by length, so ties are broken the same way.
const USERS = ["a", "B", "b", "a1", "a10", "a2", "Ä", "z", "_x", "é", "10", "9"];
const user = fc.constantFrom(...USERS);
const pool = fc.constantFrom(...POOL_IDS);
const product = fc.constantFrom(...PER_SEAT_PRODUCTS);
// Few distinct orders, so ties (same order, different users) are common.
const order = fc.integer({ min: 1, max: 4 });

const state = fc
  .record({
    licenses: fc.array(fc.tuple(user, pool), { maxLength: 12 }),
    assignments: fc.array(fc.tuple(user, product, order), { maxLength: 24 }),
  })
  .map(({ licenses, assignments }): AddonState => {
    const a = new Map<string, Map<PerSeatProduct, number>>();
    for (const [u, p, o] of assignments) {
      if (!a.has(u)) a.set(u, new Map());
      a.get(u)!.set(p, o);
    }
    return { licenses: new Map(licenses), assignments: a, poolQuantities: new Map(), purchased: new Map() };
  });

const query = fc.record({ pool, product, user, order, atMost: fc.integer({ min: 0, max: 14 }) });

function agree(fast: { earlierInPool: AddonRanks["earlierInPool"] }, s: AddonState, q: { pool: PoolId; product: PerSeatProduct; user: string; order: number; atMost: number }) {
  expect(fast.earlierInPool(q.pool, q.product, q.user, q.order, q.atMost)).toBe(grantLookup(s).earlierInPool(q.pool, q.product, q.user, q.order, q.atMost));
}

describe("AddonRanks", () => {
  it("a worked example: members of the pool assigned the product before (order, user id), others and the user not counted", () => {
    const s: AddonState = {
      licenses: new Map<string, PoolId>([["ann", "elite-concurrent"], ["bob", "elite-concurrent"], ["cid", "elite-concurrent"], ["dan", "premium-concurrent"]]),
      assignments: new Map([
        ["ann", new Map<PerSeatProduct, number>([["workforce_management", 5]])],
        ["bob", new Map<PerSeatProduct, number>([["workforce_management", 5]])],
        ["cid", new Map<PerSeatProduct, number>([["workforce_management", 3]])],
        ["dan", new Map<PerSeatProduct, number>([["workforce_management", 1]])],
      ]),
      poolQuantities: new Map(),
      purchased: new Map(),
    };
    const ranks = new AddonRanks(s);
    expect(ranks.earlierInPool("elite-concurrent", "workforce_management", "cid", 3, 10)).toBe(0);
    expect(ranks.earlierInPool("elite-concurrent", "workforce_management", "ann", 5, 10)).toBe(1); // cid
    expect(ranks.earlierInPool("elite-concurrent", "workforce_management", "bob", 5, 10)).toBe(2); // cid, then ann by id
    expect(ranks.earlierInPool("elite-concurrent", "workforce_management", "bob", 5, 1)).toBe(1); // capped
    expect(ranks.earlierInPool("elite-concurrent", "quality_management", "bob", 5, 10)).toBe(0);
  });

  it("answers as the walk over every license does, for any account and question", () => {
    fc.assert(
      fc.property(state, fc.array(query, { minLength: 1, maxLength: 20 }), (s, queries) => {
        const ranks = new AddonRanks(s);
        for (const q of queries) agree(ranks, s, q);
        // And for every member's own question (the one grantSourceBy asks).
        for (const [u, p] of s.licenses) for (const [prod, o] of s.assignments.get(u) ?? []) agree(ranks, s, { pool: p, product: prod, user: u, order: o, atMost: 99 });
      }),
      { numRuns: 300 },
    );
  });

  it("through the Roster: every change of licenses or assignments is seen by the next question", () => {
    type Op = { kind: "license"; user: string; pool: PoolId } | { kind: "revoke"; user: string } | { kind: "assign"; user: string; product: PerSeatProduct; order: number } | { kind: "unassign"; user: string; product: PerSeatProduct };
    // A small world (4 users, 2 pools, 2 products), so changes keep hitting ranks already built.
    const few = fc.constantFrom("a", "B", "b", "a1");
    const twoPools = fc.constantFrom<PoolId>("elite-concurrent", "premium-concurrent");
    const twoProducts = fc.constantFrom<PerSeatProduct>("workforce_management", "quality_management");
    const op: fc.Arbitrary<Op> = fc.oneof(
      fc.record({ kind: fc.constant("license" as const), user: few, pool: twoPools }),
      fc.record({ kind: fc.constant("revoke" as const), user: few }),
      fc.record({ kind: fc.constant("assign" as const), user: few, product: twoProducts, order }),
      fc.record({ kind: fc.constant("unassign" as const), user: few, product: twoProducts }),
    );
    fc.assert(
      fc.property(fc.array(fc.tuple(op, fc.array(query, { maxLength: 4 })), { maxLength: 30 }), (steps) => {
        const roster = new Roster();
        for (const [o, queries] of steps) {
          if (o.kind === "license") roster.setLicense(o.user, o.pool);
          else if (o.kind === "revoke") roster.revokeLicense(o.user);
          else if (o.kind === "assign") roster.assign(o.user, o.product, o.order);
          else roster.unassign(o.user, o.product);
          const s = roster.state();
          for (const q of queries) agree(roster, s, q);
          for (const [u, p] of s.licenses) for (const prod of PER_SEAT_PRODUCTS) agree(roster, s, { pool: p, product: prod, user: u, order: s.assignments.get(u)?.get(prod) ?? 2, atMost: 99 });
        }
      }),
      { numRuns: 500 },
    );
  });
});
