/**
 * What one user may use (docs/licensing.md#entitlements): the feature matrix for their tier, with the
 * add-on features true only when the add-on is granted. Pure: the caller supplies the state.
 */

import { FEATURE_KEYS, FEATURE_MATRIX, PER_SEAT_PRODUCTS, isPerSeatProduct, parsePoolId } from "./catalog";
import type { FeatureKey, Model, PerSeatProduct, PoolId, Tier } from "./catalog";
import { grantLookup, grantSourceBy, type AddonState, type GrantLookup, type GrantSource } from "./addons";

export interface Entitlements {
  user_id: string;
  pool: PoolId | null;
  tier: Tier | null;
  model: Model | null;
  /** all 18 features of the matrix */
  features: Record<FeatureKey, boolean>;
  /** how each per-seat add-on is granted, null when it is not */
  addons: Record<PerSeatProduct, GrantSource | null>;
  account_addons: { virtual_agent: boolean };
}

export function entitlements(state: AddonState, user: string, accountAddons: { virtual_agent: boolean }): Entitlements {
  return entitlementsBy(grantLookup(state), user, accountAddons);
}

/** The same through lookups by key (the account's object, without reading every user). */
export function entitlementsBy(lookup: GrantLookup, user: string, accountAddons: { virtual_agent: boolean }): Entitlements {
  const pool = lookup.licenseOf(user) ?? null;
  const parsed = pool ? parsePoolId(pool) : null;
  const addons = fromKeys(PER_SEAT_PRODUCTS, (product) => (parsed ? grantSourceBy(lookup, user, product) : null));

  // No license, no service at all (docs/licensing.md#pools): every feature false, even "yes" ones.
  const features = fromKeys(FEATURE_KEYS, (feature) => {
    if (!parsed) return false;
    const availability = FEATURE_MATRIX[feature][parsed.tier];
    if (availability === "yes") return true;
    if (availability === "no") return false;
    // "addon" and "included" features are the per-seat product of the same key: on only when granted.
    return isPerSeatProduct(feature) && addons[feature] !== null;
  });

  return {
    user_id: user,
    pool: parsed ? pool : null,
    tier: parsed?.tier ?? null,
    model: parsed?.model ?? null,
    features,
    addons,
    account_addons: { virtual_agent: accountAddons.virtual_agent },
  };
}

function fromKeys<K extends string, V>(keys: readonly K[], value: (key: K) => V): Record<K, V> {
  return Object.fromEntries(keys.map((key) => [key, value(key)])) as Record<K, V>;
}
