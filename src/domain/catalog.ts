/**
 * The product catalog as data (docs/licensing.md#tiers-and-features, #add-ons): tiers, license models, the feature
 * matrix and the add-on products. Every rule that depends on "what does tier X include" reads it
 * from here; nothing else spells the matrix out.
 */

export const TIERS = ["essentials", "premium", "elite"] as const;
export type Tier = (typeof TIERS)[number];

export const MODELS = ["named", "concurrent"] as const;
export type Model = (typeof MODELS)[number];

export type PoolId = `${Tier}-${Model}`;
export const POOL_IDS = TIERS.flatMap((tier) => MODELS.map((model) => `${tier}-${model}` as PoolId));

export function parsePoolId(id: string): { tier: Tier; model: Model } | null {
  const [tier, model, ...rest] = id.split("-");
  if (rest.length || !TIERS.includes(tier as Tier) || !MODELS.includes(model as Model)) return null;
  return { tier: tier as Tier, model: model as Model };
}

export const isPoolId = (id: string): id is PoolId => parsePoolId(id) !== null;

/** How a tier grants a feature: always, never, or only through a per-seat add-on. */
export type Availability = "yes" | "no" | "addon" | "included";

const ALL: Record<Tier, Availability> = { essentials: "yes", premium: "yes", elite: "yes" };
const PREMIUM_UP: Record<Tier, Availability> = { essentials: "no", premium: "yes", elite: "yes" };
const ADDON_BELOW_ELITE: Record<Tier, Availability> = { essentials: "addon", premium: "addon", elite: "included" };

/** The seed's feature table, in its order. `included` = included with the tier, as the add-on product of the same key. */
export const FEATURE_MATRIX = {
  voice_video_chat_sms: ALL,
  flow_editor: ALL,
  interactive_voice_assistant: ALL,
  realtime_transcription: ALL,
  remote_control: ALL,
  agent_cti_integration: ALL,
  surveys: ALL,
  pii_redaction: ALL,
  customer_managed_keys: ALL,
  ai_companion: ALL,
  reporting_analytics: ALL,
  email_channel: PREMIUM_UP,
  social_messaging_channel: PREMIUM_UP,
  automated_outbound_dialer: PREMIUM_UP,
  cobrowse: PREMIUM_UP,
  ai_expert_assist: ADDON_BELOW_ELITE,
  quality_management: ADDON_BELOW_ELITE,
  workforce_management: ADDON_BELOW_ELITE,
} as const satisfies Record<string, Record<Tier, Availability>>;

export type FeatureKey = keyof typeof FEATURE_MATRIX;
export const FEATURE_KEYS = Object.keys(FEATURE_MATRIX) as FeatureKey[];

export type AddonKind = "per_seat" | "account_wide" | "quantity";

/** The add-on products and how each is granted. */
export const ADDON_PRODUCTS = {
  workforce_management: "per_seat",
  quality_management: "per_seat",
  ai_expert_assist: "per_seat",
  virtual_agent: "account_wide",
  toll_free_numbers: "quantity",
  cloud_storage_gb: "quantity",
  global_numbers: "quantity",
} as const satisfies Record<string, AddonKind>;

export type AddonProduct = keyof typeof ADDON_PRODUCTS;
export const ADDON_KEYS = Object.keys(ADDON_PRODUCTS) as AddonProduct[];

export type PerSeatProduct = {
  [P in AddonProduct]: (typeof ADDON_PRODUCTS)[P] extends "per_seat" ? P : never;
}[AddonProduct];
export const PER_SEAT_PRODUCTS = ADDON_KEYS.filter((p) => ADDON_PRODUCTS[p] === "per_seat") as PerSeatProduct[];

export const isAddonProduct = (key: string): key is AddonProduct => key in ADDON_PRODUCTS;
export const isPerSeatProduct = (key: string): key is PerSeatProduct =>
  isAddonProduct(key) && ADDON_PRODUCTS[key] === "per_seat";

/** The most a quantity of anything (seats, add-ons) may be: keeps arithmetic exact and rows sane. */
export const MAX_QUANTITY = 1_000_000;
