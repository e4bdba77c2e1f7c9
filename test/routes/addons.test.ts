import { describe, expect, it } from "vitest";
import { agentToken, call, licensedUsers, newAccount, putPool, type Fixture, api, replyOf } from "../helpers";

const base = (f: Fixture) => `/v1/accounts/${f.accountId}`;
const assign = (f: Fixture, user: string, product: string) => call("PUT", `${base(f)}/users/${user}/addons/${product}`, f.key);
const addon = async (f: Fixture, product: string) => {
  const res = await call("GET", `${base(f)}/addons`, f.key);
  return res.body.items.find((i: { product: string }) => i.product === product);
};

describe("the seed's concurrent-Elite example", () => {
  it("shows the shortfall, bundles 25, refuses the 26th until one is bought", async () => {
    const f = await newAccount();
    await putPool(f, "elite-concurrent", 25);
    const users = await licensedUsers(f, "elite-concurrent", 100);

    const report = await call("GET", `${base(f)}/compliance`, f.key);
    expect(report.status).toBe(200);
    const byProduct = Object.fromEntries(report.body.addon_shortfall.map((r: { product: string }) => [r.product, r]));
    expect(byProduct.workforce_management).toMatchObject({ needed: 100, covered: 25, shortfall: 75 });
    expect(byProduct.quality_management).toMatchObject({ needed: 100, covered: 25, shortfall: 75 });
    expect(byProduct.ai_expert_assist.shortfall).toBe(0);
    expect(report.body.recommendations.join(" ")).toMatch(/75 more workforce_management/);

    for (const u of users.slice(0, 25)) {
      const res = await assign(f, u, "workforce_management");
      expect(res.status).toBe(200);
      expect(res.body.source).toBe("bundled");
    }
    const refused = await assign(f, users[25], "workforce_management");
    expect(refused.status).toBe(409);
    expect(refused.body.code).toBe("addon_seats_exhausted");
    expect(await addon(f, "workforce_management")).toMatchObject({ purchased: 0, bundled: 25, consumed: 0, available: 0 });

    expect((await replyOf(api(f.key).accounts[":account_id"].addons[":product"].$put({ param: { account_id: f.accountId, product: "workforce_management" }, json: { quantity: 1 } }))).status).toBe(200);
    const bought = await assign(f, users[25], "workforce_management");
    expect(bought.status).toBe(200);
    expect(bought.body.source).toBe("purchased");
    expect(await addon(f, "workforce_management")).toMatchObject({ purchased: 1, bundled: 25, consumed: 1, available: 0 });

    // AI Expert Assist is included for every concurrent-Elite member.
    const ai = await assign(f, users[99], "ai_expert_assist");
    expect(ai.body.source).toBe("included");
    const ent = await call("GET", `${base(f)}/users/${users[99]}/entitlements`, f.key);
    expect(ent.body.features).toMatchObject({ ai_expert_assist: true, workforce_management: false, quality_management: false });

    // Lowering the purchase below what is consumed, or the pool below the bundle in use, is refused.
    const lower = await replyOf(api(f.key).accounts[":account_id"].addons[":product"].$put({ param: { account_id: f.accountId, product: "workforce_management" }, json: { quantity: 0 } }));
    expect(lower.status).toBe(409);
    expect(lower.body.code).toBe("quantity_below_assigned");
    const shrink = await replyOf(api(f.key).accounts[":account_id"].pools[":pool_id"].$put({ param: { account_id: f.accountId, pool_id: "elite-concurrent" }, json: { quantity: 24 } }));
    expect(shrink.status).toBe(409);
    expect(shrink.body.code).toBe("quantity_below_assigned");
  });
});

describe("per-seat add-ons by pool", () => {
  it("elite named gets all three included; essentials and premium need purchased seats", async () => {
    const f = await newAccount();
    await putPool(f, "elite-named", 2);
    await putPool(f, "premium-named", 2);
    await putPool(f, "essentials-concurrent", 2);
    const [elite] = await licensedUsers(f, "elite-named", 1, "elite");
    const [premium] = await licensedUsers(f, "premium-named", 1, "premium");
    const [essentials] = await licensedUsers(f, "essentials-concurrent", 1, "ess");

    const ent = await call("GET", `${base(f)}/users/${elite}/entitlements`, f.key);
    expect(ent.body.addons).toEqual({ workforce_management: "included", quality_management: "included", ai_expert_assist: "included" });
    expect((await assign(f, elite, "quality_management")).body.source).toBe("included");
    expect(await addon(f, "quality_management")).toMatchObject({ consumed: 0 });

    for (const user of [premium, essentials]) {
      const refused = await assign(f, user, "ai_expert_assist");
      expect(refused.status).toBe(409);
      expect(refused.body.code).toBe("addon_seats_exhausted");
    }
    await replyOf(api(f.key).accounts[":account_id"].addons[":product"].$put({ param: { account_id: f.accountId, product: "ai_expert_assist" }, json: { quantity: 2 } }));
    expect((await assign(f, premium, "ai_expert_assist")).body.source).toBe("purchased");
    expect((await assign(f, essentials, "ai_expert_assist")).body.source).toBe("purchased");
    expect(await addon(f, "ai_expert_assist")).toMatchObject({ purchased: 2, consumed: 2, available: 0 });
    const me = await call("GET", "/v1/me", await agentToken(f, premium));
    expect(me.body.features.ai_expert_assist).toBe(true);
    expect(me.body.addons.ai_expert_assist).toBe("purchased");
  });

  it("refuses add-ons for users without a license, and products that are not per seat", async () => {
    const f = await newAccount();
    await replyOf(api(f.key).accounts[":account_id"].users[":user_id"].$put({ param: { account_id: f.accountId, user_id: "nobody" }, json: {} }));
    const res = await assign(f, "nobody", "workforce_management");
    expect(res.status).toBe(409);
    expect(res.body.code).toBe("no_license");
    const ent = await call("GET", `${base(f)}/users/nobody/entitlements`, f.key);
    expect(Object.values(ent.body.features).every((v) => v === false)).toBe(true);
    expect(Object.keys(ent.body.features)).toHaveLength(18);
    expect((await assign(f, "nobody", "virtual_agent")).status).toBe(400);
    expect((await assign(f, "nobody", "espresso_machine")).status).toBe(400);
    expect((await replyOf(api(f.key).accounts[":account_id"].addons[":product"].$put({ param: { account_id: f.accountId, product: "virtual_agent" }, json: { quantity: 2 } }))).status).toBe(400);
    expect((await replyOf(api(f.key).accounts[":account_id"].addons[":product"].$put({ param: { account_id: f.accountId, product: "virtual_agent" }, json: { quantity: 1 } }))).status).toBe(200);
    expect((await call("GET", `${base(f)}/users/nobody/entitlements`, f.key)).body.account_addons).toEqual({ virtual_agent: true });
    expect((await call("GET", `${base(f)}/users/ghost/entitlements`, f.key)).status).toBe(404);
  });

  it("20 parallel assignments racing for 5 purchased seats give exactly 5", async () => {
    const f = await newAccount();
    await putPool(f, "premium-concurrent", 10);
    const users = await licensedUsers(f, "premium-concurrent", 20);
    await replyOf(api(f.key).accounts[":account_id"].addons[":product"].$put({ param: { account_id: f.accountId, product: "quality_management" }, json: { quantity: 5 } }));
    const results = await Promise.all(users.map((u) => assign(f, u, "quality_management")));
    expect(results.filter((r) => r.status === 200)).toHaveLength(5);
    expect(results.filter((r) => r.status === 409 && r.body.code === "addon_seats_exhausted")).toHaveLength(15);
    expect(await addon(f, "quality_management")).toMatchObject({ purchased: 5, consumed: 5, available: 0 });
  });

  it("moving a user between pools keeps consumption right; revoking removes add-ons", async () => {
    const f = await newAccount();
    await putPool(f, "elite-named", 1);
    await putPool(f, "premium-named", 2);
    const [u, v] = await licensedUsers(f, "premium-named", 2);
    await replyOf(api(f.key).accounts[":account_id"].addons[":product"].$put({ param: { account_id: f.accountId, product: "workforce_management" }, json: { quantity: 1 } }));
    expect((await assign(f, u, "workforce_management")).body.source).toBe("purchased");
    expect(await addon(f, "workforce_management")).toMatchObject({ consumed: 1, available: 0 });

    // Into elite-named: included there, so the purchased seat frees up.
    expect((await replyOf(api(f.key).accounts[":account_id"].users[":user_id"].license.$put({ param: { account_id: f.accountId, user_id: u }, json: { pool: "elite-named" } }))).status).toBe(200);
    expect(await addon(f, "workforce_management")).toMatchObject({ consumed: 0, available: 1 });
    expect((await assign(f, v, "workforce_management")).body.source).toBe("purchased");

    // Back to premium would need a second purchased seat: refused, nothing changes.
    const back = await replyOf(api(f.key).accounts[":account_id"].users[":user_id"].license.$put({ param: { account_id: f.accountId, user_id: u }, json: { pool: "premium-named" } }));
    expect(back.status).toBe(409);
    expect(back.body.code).toBe("addon_seats_exhausted");
    expect((await call("GET", `${base(f)}/users/${u}`, f.key)).body.pool).toBe("elite-named");

    expect((await call("DELETE", `${base(f)}/users/${v}/license`, f.key)).status).toBe(204);
    expect((await call("GET", `${base(f)}/users/${v}`, f.key)).body.addons).toEqual([]);
    expect(await addon(f, "workforce_management")).toMatchObject({ consumed: 0, available: 1 });
  });
});
