/**
 * A roster woken from its SQLite copy answers users by key (src/seats/roster-users.ts) until
 * something needs them all (docs/architecture.md#waking-and-the-roster-copy). Property: over random
 * rosters (licenses, add-on assignments with tied orders, assignments of unlicensed users, teams,
 * purchases, pool quantities), every per-user answer of the lazily woken roster equals the brute
 * force over plain maps (src/domain/addons.ts's `grantLookup`, the reference), none of them loads
 * every user, and the changes applied to it afterwards are written through to the copy.
 */
import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { grantLookup, grantSource, grantSourceBy, type AddonState } from "../../src/domain/addons";
import { ADDON_KEYS, PER_SEAT_PRODUCTS, POOL_IDS, type AddonProduct, type PerSeatProduct, type PoolId } from "../../src/domain/catalog";
import { entitlements, entitlementsBy } from "../../src/domain/entitlements";
import type { AccountSeats } from "../../src/seats/account-seats";
import { Roster } from "../../src/seats/roster";
import { RosterCopy } from "../../src/seats/roster-copy";
import { uniqueId } from "../helpers";

// ASCII ids as the API takes them, chosen so that byte order and case matter in ties.
const USERS = ["a", "B", "a-1", "a.b", "Z9", "ann@x.example", "b", "c_2", "z"];
const TEAMS = ["t1", "t2", "ops"];

/** The reference: plain maps, as a roster read from D1 would hold them. */
interface Plain {
  quantities: Map<PoolId, number>;
  licenses: Map<string, PoolId>;
  assignments: Map<string, Map<PerSeatProduct, number>>;
  teamOf: Map<string, string>;
  purchased: Map<AddonProduct, number>;
}

const plainArb = fc
  .record({
    quantities: fc.dictionary(fc.constantFrom(...POOL_IDS), fc.nat({ max: 4 }), { minKeys: 1 }),
    licenses: fc.dictionary(fc.constantFrom(...USERS), fc.constantFrom(...POOL_IDS)),
    // Small seqs: ties between users are common, so the user-id tiebreak is exercised.
    assignments: fc.array(fc.tuple(fc.constantFrom(...USERS), fc.constantFrom(...PER_SEAT_PRODUCTS), fc.integer({ min: 1, max: 4 })), { maxLength: 20 }),
    teams: fc.dictionary(fc.constantFrom(...USERS), fc.constantFrom(...TEAMS)),
    purchased: fc.dictionary(fc.constantFrom(...ADDON_KEYS), fc.nat({ max: 3 })),
  })
  .map((r): Plain => {
    const quantities = new Map(Object.entries(r.quantities) as [PoolId, number][]);
    // Licenses only in pools the account has (what the API allows).
    const licenses = new Map((Object.entries(r.licenses) as [string, PoolId][]).filter(([, p]) => quantities.has(p)));
    const assignments = new Map<string, Map<PerSeatProduct, number>>();
    for (const [u, product, seq] of r.assignments) {
      if (!assignments.has(u)) assignments.set(u, new Map());
      assignments.get(u)!.set(product, seq);
    }
    return { quantities, licenses, assignments, teamOf: new Map(Object.entries(r.teams)), purchased: new Map(Object.entries(r.purchased) as [AddonProduct, number][]) };
  });

const addonState = (p: Plain): AddonState => ({ licenses: p.licenses, assignments: p.assignments, poolQuantities: p.quantities, purchased: p.purchased });
const countIn = (p: Plain, pool: PoolId) => [...p.licenses.values()].filter((q) => q === pool).length;

/** A roster with every user in memory, built through the roster's own changes (as from D1). */
function rosterOf(p: Plain): Roster {
  const r = new Roster();
  r.exists = true;
  for (const [pool, quantity] of p.quantities) r.setPool(pool, { quantity, maxActive: null });
  for (const [u, pool] of p.licenses) r.setLicense(u, pool);
  for (const [u, products] of p.assignments) for (const [product, seq] of products) r.assign(u, product, seq);
  for (const [u, team] of p.teamOf) r.setTeam(u, team);
  for (const [product, q] of p.purchased) r.setPurchase(product, q);
  return r;
}

/** Every per-user answer of `r` against the reference. */
function expectSameAnswers(r: Roster, p: Plain, atMost: number): void {
  const ref = addonState(p);
  const lookup = grantLookup(ref);
  for (const u of [...USERS, "nobody"]) {
    expect(r.licenseOf(u)).toBe(p.licenses.get(u));
    expect(r.teamOf(u)).toBe(p.teamOf.get(u));
    expect(r.assignmentsOf(u)).toEqual(p.assignments.get(u));
    for (const product of PER_SEAT_PRODUCTS) {
      expect(grantSourceBy(r, u, product), `${u} ${product}`).toBe(grantSource(ref, u, product));
      for (const pool of POOL_IDS) {
        // Around the small seqs (ties) and the user's own order, as the grant asks.
        for (const order of new Set([2, 3, p.assignments.get(u)?.get(product) ?? 0])) expect(r.earlierInPool(pool, product, u, order, atMost), `${pool} ${product} ${u} ${order}`).toBe(lookup.earlierInPool(pool, product, u, order, atMost));
      }
    }
    for (const va of [false, true]) expect(entitlementsBy(r, u, { virtual_agent: va })).toEqual(entitlements(ref, u, { virtual_agent: va }));
  }
  for (const pool of POOL_IDS) expect(r.assigned(pool)).toBe(countIn(p, pool));
}

const opArb = fc.oneof(
  fc.record({ kind: fc.constant("license" as const), user: fc.constantFrom(...USERS), pool: fc.constantFrom(...POOL_IDS) }),
  fc.record({ kind: fc.constant("revoke" as const), user: fc.constantFrom(...USERS) }),
  fc.record({ kind: fc.constant("assign" as const), user: fc.constantFrom(...USERS), product: fc.constantFrom(...PER_SEAT_PRODUCTS) }),
  fc.record({ kind: fc.constant("unassign" as const), user: fc.constantFrom(...USERS), product: fc.constantFrom(...PER_SEAT_PRODUCTS) }),
  fc.record({ kind: fc.constant("team" as const), user: fc.constantFrom(...USERS), team: fc.option(fc.constantFrom(...TEAMS)) }),
);
type Op = typeof opArb extends fc.Arbitrary<infer T> ? T : never;

/** The reference's meaning of each change (revoking drops the user's assignments; a move keeps them). */
function applyPlain(p: Plain, op: Op, seq: number): void {
  if (op.kind === "license") p.licenses.set(op.user, op.pool);
  if (op.kind === "revoke") {
    p.licenses.delete(op.user);
    p.assignments.delete(op.user);
  }
  if (op.kind === "assign") {
    if (!p.assignments.has(op.user)) p.assignments.set(op.user, new Map());
    p.assignments.get(op.user)!.set(op.product, seq);
  }
  if (op.kind === "unassign") {
    p.assignments.get(op.user)?.delete(op.product);
    if (p.assignments.get(op.user)?.size === 0) p.assignments.delete(op.user);
  }
  if (op.kind === "team") {
    if (op.team === null) p.teamOf.delete(op.user);
    else p.teamOf.set(op.user, op.team);
  }
}

function applyRoster(r: Roster, op: Op, seq: number): void {
  if (op.kind === "license") r.setLicense(op.user, op.pool);
  if (op.kind === "revoke") r.revokeLicense(op.user);
  if (op.kind === "assign") r.assign(op.user, op.product, seq);
  if (op.kind === "unassign") r.unassign(op.user, op.product);
  if (op.kind === "team") r.setTeam(op.user, op.team);
}

/** Runs `body` with a SQLite of its own: a fresh account object's storage (the account is not in D1). */
const inObjectSql = (body: (sql: SqlStorage) => void) =>
  runInDurableObject<AccountSeats, void>(env.SEATS.getByName(uniqueId("lazy-prop")) as DurableObjectStub<AccountSeats>, (_i, state) => body(state.storage.sql));

describe("a roster woken from its copy, by key", () => {
  it("answers every user's license, team, assignments, add-on grants and entitlements as the plain maps do, without loading every user", async () => {
    await inObjectSql((sql) => {
      const copy = new RosterCopy(sql);
      fc.assert(
        fc.property(plainArb, fc.nat({ max: 5 }), (p, atMost) => {
          copy.replace(rosterOf(p));
          const woken = copy.load();
          expect(woken.complete).toBe(false);
          expectSameAnswers(woken, p, atMost);
          expect(woken.complete).toBe(false);
          // Everything, once asked for, is the reference too (and the next seq follows the largest).
          const s = woken.state();
          expect(woken.complete).toBe(true);
          expect({ licenses: s.licenses, assignments: s.assignments, teamOf: s.teamOf }).toEqual({ licenses: p.licenses, assignments: p.assignments, teamOf: p.teamOf });
          for (const pool of POOL_IDS) expect(woken.assigned(pool)).toBe(countIn(p, pool));
          const largest = Math.max(0, ...[...p.assignments.values()].flatMap((m) => [...m.values()]));
          expect(woken.nextSeq(0)).toBe(largest + 1);
          expectSameAnswers(woken, p, atMost);
        }),
        { numRuns: 100 },
      );
    });
  });

  it("changes applied after a lazy wake load every user first and are written through: the next wake agrees with the reference", async () => {
    await inObjectSql((sql) => {
      const copy = new RosterCopy(sql);
      fc.assert(
        fc.property(plainArb, fc.array(opArb, { minLength: 1, maxLength: 8 }), (p, ops) => {
          copy.replace(rosterOf(p));
          const woken = copy.load();
          ops.forEach((op, i) => {
            applyRoster(woken, op, 10 + i);
            applyPlain(p, op, 10 + i);
          });
          expect(woken.complete).toBe(true);
          expectSameAnswers(woken, p, 3);
          const again = copy.load();
          expect(again.complete).toBe(false);
          expectSameAnswers(again, p, 3);
        }),
        { numRuns: 60 },
      );
    });
  });
});
