import { describe, expect, it } from "vitest";
import type { AddonState } from "../../src/domain/addons";
import type { AddonProduct, PerSeatProduct, PoolId } from "../../src/domain/catalog";
import { entitlements } from "../../src/domain/entitlements";

/**
 * docs/licensing.md#tiers-and-features, copied by hand (not derived from the catalog): [essentials, premium, elite].
 * "addon" and "included" are spelled out so the test can say what each means for a user.
 */
const TABLE = {
  voice_video_chat_sms: ["yes", "yes", "yes"],
  flow_editor: ["yes", "yes", "yes"],
  interactive_voice_assistant: ["yes", "yes", "yes"],
  realtime_transcription: ["yes", "yes", "yes"],
  remote_control: ["yes", "yes", "yes"],
  agent_cti_integration: ["yes", "yes", "yes"],
  surveys: ["yes", "yes", "yes"],
  pii_redaction: ["yes", "yes", "yes"],
  customer_managed_keys: ["yes", "yes", "yes"],
  ai_companion: ["yes", "yes", "yes"],
  reporting_analytics: ["yes", "yes", "yes"],
  email_channel: ["no", "yes", "yes"],
  social_messaging_channel: ["no", "yes", "yes"],
  automated_outbound_dialer: ["no", "yes", "yes"],
  cobrowse: ["no", "yes", "yes"],
  ai_expert_assist: ["addon", "addon", "included"],
  quality_management: ["addon", "addon", "included"],
  workforce_management: ["addon", "addon", "included"],
} as const;

const TIER_COLUMN = { essentials: 0, premium: 1, elite: 2 } as const;
type Tier = keyof typeof TIER_COLUMN;

function state(licenses: [string, PoolId][], assignments: [string, PerSeatProduct[]][] = [], purchased: [AddonProduct, number][] = []): AddonState {
  return {
    licenses: new Map(licenses),
    assignments: new Map(assignments.map(([u, ps]) => [u, new Map(ps.map((p, i) => [p, i]))])),
    poolQuantities: new Map(licenses.map(([, pool]) => [pool, 10])),
    purchased: new Map(purchased),
  };
}

/** The features a user of `tier` has, with `granted` add-ons on top. */
function expected(tier: Tier, granted: readonly string[]): Record<string, boolean> {
  return Object.fromEntries(
    Object.entries(TABLE).map(([feature, row]) => {
      const cell = row[TIER_COLUMN[tier]];
      return [feature, cell === "yes" || ((cell === "addon" || cell === "included") && granted.includes(feature))];
    }),
  );
}

const NO_VA = { virtual_agent: false };
const ALL_ADDONS = ["workforce_management", "quality_management", "ai_expert_assist"] as const;

describe("entitlements", () => {
  it.each(["essentials-named", "essentials-concurrent", "premium-named", "premium-concurrent"] as const)(
    "%s without add-ons: the tier's column, add-on features off",
    (pool) => {
      const e = entitlements(state([["u", pool]]), "u", NO_VA);
      const tier = pool.split("-")[0] as Tier;
      expect(e.features).toEqual(expected(tier, []));
      expect(Object.keys(e.features)).toHaveLength(18);
      expect(e.addons).toEqual({ workforce_management: null, quality_management: null, ai_expert_assist: null });
      expect(e).toMatchObject({ user_id: "u", pool, tier, model: pool.split("-")[1] });
    },
  );

  it("premium with purchased add-ons: those features on", () => {
    const s = state([["u", "premium-named"]], [["u", ["workforce_management", "ai_expert_assist"]]], [
      ["workforce_management", 1],
      ["ai_expert_assist", 1],
    ]);
    const e = entitlements(s, "u", NO_VA);
    expect(e.features).toEqual(expected("premium", ["workforce_management", "ai_expert_assist"]));
    expect(e.addons).toEqual({ workforce_management: "purchased", quality_management: null, ai_expert_assist: "purchased" });
  });

  it("essentials: email and the other premium channels stay off even with every add-on", () => {
    const s = state([["u", "essentials-named"]], [["u", [...ALL_ADDONS]]], ALL_ADDONS.map((p) => [p, 1]));
    const e = entitlements(s, "u", NO_VA);
    expect(e.features).toEqual(expected("essentials", ALL_ADDONS));
    expect(e.features.email_channel).toBe(false);
    expect(e.features.cobrowse).toBe(false);
  });

  it("elite named: every feature, all add-ons included without assignment", () => {
    const e = entitlements(state([["u", "elite-named"]]), "u", NO_VA);
    expect(e.features).toEqual(expected("elite", ALL_ADDONS));
    expect(Object.values(e.features).every(Boolean)).toBe(true);
    expect(e.addons).toEqual({ workforce_management: "included", quality_management: "included", ai_expert_assist: "included" });
  });

  it("elite concurrent: AI Expert Assist included, WFM and QM only once assigned (bundled)", () => {
    const bare = entitlements(state([["u", "elite-concurrent"]]), "u", NO_VA);
    expect(bare.features).toEqual(expected("elite", ["ai_expert_assist"]));
    expect(bare.addons).toEqual({ workforce_management: null, quality_management: null, ai_expert_assist: "included" });

    const assigned = entitlements(state([["u", "elite-concurrent"]], [["u", ["workforce_management", "quality_management"]]]), "u", NO_VA);
    expect(assigned.features).toEqual(expected("elite", ALL_ADDONS));
    expect(assigned.addons).toEqual({ workforce_management: "bundled", quality_management: "bundled", ai_expert_assist: "included" });
  });

  it("no license: every feature false, no add-ons, even with leftover assignments", () => {
    const e = entitlements(state([], [["ghost", [...ALL_ADDONS]]], ALL_ADDONS.map((p) => [p, 5])), "ghost", { virtual_agent: true });
    expect(Object.keys(e.features)).toHaveLength(18);
    expect(Object.values(e.features).every((on) => on === false)).toBe(true);
    expect(e.addons).toEqual({ workforce_management: null, quality_management: null, ai_expert_assist: null });
    expect(e).toMatchObject({ pool: null, tier: null, model: null });
  });

  it("passes the account-wide virtual agent through", () => {
    expect(entitlements(state([["u", "premium-named"]]), "u", { virtual_agent: true }).account_addons).toEqual({ virtual_agent: true });
    expect(entitlements(state([["u", "premium-named"]]), "u", NO_VA).account_addons).toEqual({ virtual_agent: false });
  });
});
