import { describe, expect, it } from "vitest";
import {
  addonReport,
  assignOutcome,
  bundle,
  checkAssign,
  checkMove,
  checkPoolQuantity,
  checkPurchase,
  compliance,
  consumption,
  grantSource,
  recommendations,
  type AddonState,
} from "../../src/domain/addons";
import type { AddonProduct, PerSeatProduct, PoolId } from "../../src/domain/catalog";

/** A mutable state the tests change the way the Durable Object would, after a check allows it. */
class Account implements AddonState {
  licenses = new Map<string, PoolId>();
  assignments = new Map<string, Map<PerSeatProduct, number>>();
  poolQuantities = new Map<PoolId, number>();
  purchased = new Map<AddonProduct, number>();
  private clock = 0;

  pool(pool: PoolId, quantity: number): this {
    this.poolQuantities.set(pool, quantity);
    return this;
  }
  buy(product: AddonProduct, quantity: number): this {
    this.purchased.set(product, quantity);
    return this;
  }
  license(user: string, pool: PoolId): this {
    this.licenses.set(user, pool);
    return this;
  }
  /** Checks, then records (unless included), as the DO does. Returns the refusal or the grant source. */
  assign(user: string, product: PerSeatProduct) {
    const refusal = checkAssign(this, user, product);
    if (refusal) return refusal;
    if (assignOutcome(this, user, product) === "record" && !this.assignments.get(user)?.has(product)) {
      const mine = this.assignments.get(user) ?? new Map<PerSeatProduct, number>();
      mine.set(product, ++this.clock);
      this.assignments.set(user, mine);
    }
    return grantSource(this, user, product);
  }
}

const users = (n: number, prefix = "agent") => Array.from({ length: n }, (_, i) => `${prefix}${String(i).padStart(3, "0")}`);

/** The source example: 100 agents in elite-concurrent with quantity 25, nothing bought. */
function seedExample(): Account {
  const account = new Account().pool("elite-concurrent", 25);
  for (const user of users(100)) account.license(user, "elite-concurrent");
  return account;
}

describe("the source example (docs/licensing.md#the-seed-example)", () => {
  it("shows a shortfall of 75 for WFM and QM and none for AI Expert Assist", () => {
    const rows = compliance(seedExample());
    const byProduct = Object.fromEntries(rows.map((r) => [r.product, { needed: r.needed, covered: r.covered, shortfall: r.shortfall }]));
    expect(byProduct).toEqual({
      workforce_management: { needed: 100, covered: 25, shortfall: 75 },
      quality_management: { needed: 100, covered: 25, shortfall: 75 },
      ai_expert_assist: { needed: 0, covered: 0, shortfall: 0 },
    });
  });

  it("recommends buying 75 of each, in plain words", () => {
    expect(recommendations(compliance(seedExample()))).toEqual([
      "Buy 75 more workforce_management seats: 100 elite-concurrent members need it and 25 are covered by the bundle.",
      "Buy 75 more quality_management seats: 100 elite-concurrent members need it and 25 are covered by the bundle.",
    ]);
  });

  it("bundles 25 assignments, refuses the 26th until one more is bought, which is then purchased", () => {
    const account = seedExample();
    const [first, ...rest] = users(100);
    expect(account.assign(first, "workforce_management")).toBe("bundled");
    for (const user of rest.slice(0, 24)) expect(account.assign(user, "workforce_management")).toBe("bundled");
    expect(consumption(account, "workforce_management")).toMatchObject({ purchased: 0, bundled: 25, consumed: 0, available: 0 });

    const twentySixth = rest[24];
    expect(account.assign(twentySixth, "workforce_management")).toMatchObject({ code: "addon_seats_exhausted" });
    expect(grantSource(account, twentySixth, "workforce_management")).toBeNull();

    expect(checkPurchase(account, "workforce_management", 1)).toBeNull();
    account.buy("workforce_management", 1);
    expect(account.assign(twentySixth, "workforce_management")).toBe("purchased");
    expect(consumption(account, "workforce_management")).toMatchObject({ purchased: 1, bundled: 25, consumed: 1, available: 0 });
    // QM has its own bundle, untouched by the WFM assignments.
    expect(account.assign(twentySixth, "quality_management")).toBe("bundled");
  });

  it("gives every member AI Expert Assist as included, consuming nothing", () => {
    const account = seedExample();
    expect(grantSource(account, "agent000", "ai_expert_assist")).toBe("included");
    expect(account.assign("agent000", "ai_expert_assist")).toBe("included");
    expect(account.assignments.size).toBe(0);
    expect(consumption(account, "ai_expert_assist").consumed).toBe(0);
  });

  it("says nothing is needed once bought", () => {
    const account = seedExample().buy("workforce_management", 75).buy("quality_management", 80);
    expect(compliance(account).every((r) => r.shortfall === 0)).toBe(true);
    expect(recommendations(compliance(account))).toEqual(["Nothing to buy: every user's add-ons are covered."]);
  });
});

describe("grants by pool", () => {
  it("elite named includes all three add-ons, with no assignment and no consumption", () => {
    const account = new Account().pool("elite-named", 5).license("ann", "elite-named");
    for (const product of ["workforce_management", "quality_management", "ai_expert_assist"] as const) {
      expect(grantSource(account, "ann", product)).toBe("included");
      expect(checkAssign(account, "ann", product)).toBeNull();
      expect(assignOutcome(account, "ann", product)).toBe("included");
      expect(consumption(account, product).consumed).toBe(0);
    }
    expect(compliance(account).map((r) => r.needed)).toEqual([0, 0, 0]);
  });

  it.each(["essentials-named", "essentials-concurrent", "premium-named", "premium-concurrent"] as const)(
    "%s needs a purchased seat for every per-seat add-on",
    (pool) => {
      const account = new Account().pool(pool, 10).license("bob", pool).license("cid", pool);
      for (const product of ["workforce_management", "quality_management", "ai_expert_assist"] as const) {
        expect(grantSource(account, "bob", product)).toBeNull();
        expect(account.assign("bob", product)).toMatchObject({ code: "addon_seats_exhausted" });
        account.buy(product, 1);
        expect(account.assign("bob", product)).toBe("purchased");
        expect(account.assign("cid", product)).toMatchObject({ code: "addon_seats_exhausted" });
        expect(consumption(account, product)).toMatchObject({ purchased: 1, bundled: 0, consumed: 1, available: 0 });
      }
    },
  );

  it("refuses an assignment to a user without a license", () => {
    const account = new Account().buy("workforce_management", 10);
    expect(checkAssign(account, "nobody", "workforce_management")).toMatchObject({ code: "no_license" });
    expect(grantSource(account, "nobody", "workforce_management")).toBeNull();
  });

  it("refuses a product that is not per seat", () => {
    const account = new Account().license("bob", "premium-named");
    expect(checkAssign(account, "bob", "virtual_agent" as PerSeatProduct)).toMatchObject({ code: "invalid_request" });
  });

  it("assigning again is allowed and changes nothing", () => {
    const account = new Account().license("bob", "premium-named").buy("ai_expert_assist", 1);
    expect(account.assign("bob", "ai_expert_assist")).toBe("purchased");
    expect(checkAssign(account, "bob", "ai_expert_assist")).toBeNull();
  });

  it("shares purchased seats across pools and the bundle overflow", () => {
    const account = new Account().pool("elite-concurrent", 1).buy("workforce_management", 2);
    account.license("e1", "elite-concurrent").license("e2", "elite-concurrent").license("p1", "premium-named").license("p2", "essentials-concurrent");
    expect(account.assign("e1", "workforce_management")).toBe("bundled");
    expect(account.assign("e2", "workforce_management")).toBe("purchased");
    expect(account.assign("p1", "workforce_management")).toBe("purchased");
    expect(account.assign("p2", "workforce_management")).toMatchObject({ code: "addon_seats_exhausted" });
  });
});

describe("moving users between pools", () => {
  function mixed(): Account {
    const account = new Account().pool("elite-concurrent", 2).pool("premium-named", 5).pool("elite-named", 5);
    account.buy("workforce_management", 1).buy("ai_expert_assist", 1);
    account.license("e1", "elite-concurrent").license("e2", "elite-concurrent").license("p1", "premium-named");
    account.assign("e1", "workforce_management");
    account.assign("e2", "workforce_management");
    account.assign("p1", "workforce_management");
    account.assign("p1", "ai_expert_assist");
    return account;
  }

  it("is refused when it would need a purchased seat nobody has", () => {
    const account = mixed();
    expect(consumption(account, "workforce_management").consumed).toBe(1);
    // Into premium, e1's WFM leaves the bundle and needs a purchased seat: all are taken.
    expect(checkMove(account, "e1", "premium-named")).toMatchObject({ code: "addon_seats_exhausted" });
  });

  it("keeps consumption right when allowed, and frees seats for others", () => {
    const account = mixed();
    // p1 into elite-concurrent: its WFM now competes for a bundle of 2 already used by e1, e2.
    expect(checkMove(account, "p1", "elite-concurrent")).toBeNull();
    account.license("p1", "elite-concurrent");
    expect(consumption(account, "workforce_management").consumed).toBe(1);
    expect(grantSource(account, "p1", "workforce_management")).toBe("purchased");
    // AI Expert Assist is included there: its purchased seat is free again, the assignment dormant.
    expect(grantSource(account, "p1", "ai_expert_assist")).toBe("included");
    expect(consumption(account, "ai_expert_assist")).toMatchObject({ consumed: 0, available: 1 });
  });

  it("to elite named drops nothing but consumes nothing; moving back wakes the assignments", () => {
    const account = mixed();
    expect(checkMove(account, "p1", "elite-named")).toBeNull();
    account.license("p1", "elite-named");
    expect(consumption(account, "workforce_management").consumed).toBe(0);
    expect(consumption(account, "ai_expert_assist").consumed).toBe(0);
    // Someone else takes the freed AI seat; now p1 cannot go back to premium without it.
    account.license("p9", "premium-named");
    expect(account.assign("p9", "ai_expert_assist")).toBe("purchased");
    expect(checkMove(account, "p1", "premium-named")).toMatchObject({ code: "addon_seats_exhausted" });
  });

  it("a first license for a user without assignments is always fine", () => {
    expect(checkMove(mixed(), "newcomer", "essentials-named")).toBeNull();
  });
});

describe("quantities", () => {
  it("refuses lowering an add-on below what is consumed", () => {
    const account = new Account().license("p1", "premium-named").buy("quality_management", 3);
    account.assign("p1", "quality_management");
    expect(checkPurchase(account, "quality_management", 1)).toBeNull();
    expect(checkPurchase(account, "quality_management", 0)).toMatchObject({ code: "quantity_below_assigned" });
  });

  it("virtual_agent is 0 or 1; quantities are whole and in range", () => {
    const account = new Account();
    expect(checkPurchase(account, "virtual_agent", 1)).toBeNull();
    expect(checkPurchase(account, "virtual_agent", 2)).toMatchObject({ code: "invalid_request" });
    expect(checkPurchase(account, "toll_free_numbers", 500)).toBeNull();
    expect(checkPurchase(account, "cloud_storage_gb", -1)).toMatchObject({ code: "invalid_request" });
    expect(checkPurchase(account, "cloud_storage_gb", 1.5)).toMatchObject({ code: "invalid_request" });
    expect(checkPoolQuantity(account, "premium-named", Number.NaN)).toMatchObject({ code: "invalid_request" });
  });

  it("refuses shrinking elite-concurrent when the overflow would exceed purchased seats", () => {
    const account = new Account().pool("elite-concurrent", 3).buy("workforce_management", 1);
    for (const user of ["a", "b", "c"]) account.license(user, "elite-concurrent").assign(user, "workforce_management");
    expect(bundle(account, "workforce_management")).toBe(3);
    expect(bundle(account, "ai_expert_assist")).toBe(0);
    expect(checkPoolQuantity(account, "elite-concurrent", 2)).toBeNull(); // the overflow of 1 fits the 1 bought
    expect(checkPoolQuantity(account, "elite-concurrent", 1)).toMatchObject({ code: "quantity_below_assigned" });
    expect(checkPoolQuantity(account, "elite-concurrent", 10)).toBeNull();
    expect(checkPoolQuantity(account, "premium-concurrent", 0)).toBeNull();
  });

  it("lowering the bundle turns the latest bundled assignments into purchased ones", () => {
    const account = new Account().pool("elite-concurrent", 2).buy("workforce_management", 1);
    for (const user of ["a", "b"]) account.license(user, "elite-concurrent").assign(user, "workforce_management");
    account.poolQuantities.set("elite-concurrent", 1);
    expect(grantSource(account, "a", "workforce_management")).toBe("bundled");
    expect(grantSource(account, "b", "workforce_management")).toBe("purchased");
  });
});

describe("the add-on report", () => {
  it("lists all seven products in catalog order", () => {
    const account = seedExample().buy("virtual_agent", 1).buy("toll_free_numbers", 20);
    expect(addonReport(account).map(({ product, kind, purchased, bundled, consumed, available }) => ({ product, kind, purchased, bundled, consumed, available }))).toEqual([
      { product: "workforce_management", kind: "per_seat", purchased: 0, bundled: 25, consumed: 0, available: 0 },
      { product: "quality_management", kind: "per_seat", purchased: 0, bundled: 25, consumed: 0, available: 0 },
      { product: "ai_expert_assist", kind: "per_seat", purchased: 0, bundled: 0, consumed: 0, available: 0 },
      { product: "virtual_agent", kind: "account_wide", purchased: 1, bundled: 0, consumed: 0, available: 1 },
      { product: "toll_free_numbers", kind: "quantity", purchased: 20, bundled: 0, consumed: 0, available: 20 },
      { product: "cloud_storage_gb", kind: "quantity", purchased: 0, bundled: 0, consumed: 0, available: 0 },
      { product: "global_numbers", kind: "quantity", purchased: 0, bundled: 0, consumed: 0, available: 0 },
    ]);
  });
});

describe("recommendations", () => {
  it("names users outside elite pools and purchased seats when they matter", () => {
    const account = seedExample().buy("quality_management", 5);
    account.license("p1", "premium-named");
    account.assign("p1", "quality_management");
    const qm = compliance(account).find((r) => r.product === "quality_management");
    expect(qm).toMatchObject({ needed: 101, covered: 30, shortfall: 71 });
    expect(recommendations(compliance(account))[1]).toBe(
      "Buy 71 more quality_management seats: 100 elite-concurrent members and 1 user in other pools need it and 25 are covered by the bundle and 5 by purchased seats.",
    );
  });

  it("appends extra advice and drops the all-clear when there is some", () => {
    expect(recommendations([], ["Raise premium-concurrent: it was over its limit for 3 hours."])).toEqual([
      "Raise premium-concurrent: it was over its limit for 3 hours.",
    ]);
  });
});
