import { z } from "@hono/zod-openapi";
import { PER_SEAT_PRODUCTS, POOL_IDS, type PerSeatProduct, type PoolId } from "../domain/catalog";
import type { LicenseAttrs } from "./resources";

/**
 * Group rules and what a SCIM user should hold (docs/decisions/073-scim-license-sources.md).
 * Pure: the service reads the state before and after a SCIM request, and sends only the
 * difference to the account's Durable Object.
 */

export const GroupRuleSchema = z
  .object({
    group: z.string().trim().min(1).max(256).openapi({ description: "The SCIM group's displayName (case-insensitive)", example: "CC Elite Agents" }),
    pool: z.enum(POOL_IDS as [PoolId, ...PoolId[]]).optional(),
    team: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, "must match ^[A-Za-z0-9_.-]{1,64}$").optional(),
    addons: z.array(z.enum(PER_SEAT_PRODUCTS as [PerSeatProduct, ...PerSeatProduct[]])).max(PER_SEAT_PRODUCTS.length).optional(),
  })
  .strict()
  .refine((r) => r.pool !== undefined || r.team !== undefined || (r.addons?.length ?? 0) > 0, { message: "a rule maps its group to a pool, a team or add-ons" })
  .openapi("GroupRule");

export const RulesSchema = z
  .object({ rules: z.array(GroupRuleSchema).max(100) })
  .strict()
  .refine((b) => new Set(b.rules.map((r) => r.group.toLowerCase())).size === b.rules.length, { message: "each group appears in one rule" })
  .openapi("ProvisioningRules");

export type GroupRule = z.infer<typeof GroupRuleSchema>;

/** What SCIM knows about a user, as far as licensing goes. */
export interface UserState {
  active: boolean;
  attrs: LicenseAttrs;
  /** Display names of the user's groups. */
  groups: readonly string[];
}

export interface Desired {
  pool: PoolId | null;
  addons: PerSeatProduct[];
  team: string | null;
}

export const EMPTY_STATE: UserState = { active: true, attrs: { pool: null, addons: [], team: null }, groups: [] };

/**
 * The user's own attributes win; otherwise the first rule (in order) whose group the user is in
 * gives the pool and the team. Add-ons add up from the attributes and every matching rule.
 */
export function desired(state: UserState, rules: readonly GroupRule[]): Desired {
  const mine = new Set(state.groups.map((g) => g.toLowerCase()));
  const matching = rules.filter((r) => mine.has(r.group.toLowerCase()));
  const addons = new Set<PerSeatProduct>(state.attrs.addons);
  for (const r of matching) for (const a of r.addons ?? []) addons.add(a);
  return {
    pool: state.attrs.pool ?? matching.find((r) => r.pool)?.pool ?? null,
    addons: [...addons].sort(),
    team: state.attrs.team ?? matching.find((r) => r.team)?.team ?? null,
  };
}

/** A change to one user's license, add-ons and team; omitted parts stay as they are. */
export interface LicenseChange {
  user_id: string;
  /** A pool to assign or move to; null revokes the license (and with it the add-on assignments). */
  pool?: PoolId | null;
  addons_add?: PerSeatProduct[];
  addons_remove?: PerSeatProduct[];
  /** The team to store on the user (null clears it). */
  team?: string | null;
}

const minus = (a: readonly PerSeatProduct[], b: readonly PerSeatProduct[]) => a.filter((x) => !b.includes(x));

/**
 * What changes between two states of a user. Only the difference is applied, so a license an
 * admin gave by hand is left alone until SCIM itself says something about it — except that
 * deactivating a user always revokes their license, and reactivating applies all that SCIM asks.
 */
export function licenseChange(userId: string, before: UserState, after: UserState, rules: readonly GroupRule[], beforeRules: readonly GroupRule[] = rules): LicenseChange | null {
  const b = desired(before, beforeRules);
  const a = desired(after, rules);
  const change: LicenseChange = { user_id: userId };
  if (a.team !== b.team) change.team = a.team;
  if (!after.active) {
    change.pool = null;
  } else if (!before.active) {
    if (a.pool) change.pool = a.pool;
    if (a.addons.length) change.addons_add = a.addons;
  } else {
    if (a.pool !== b.pool) change.pool = a.pool;
    if (a.pool !== null || change.pool === undefined) {
      const add = minus(a.addons, b.addons);
      const remove = minus(b.addons, a.addons);
      if (add.length) change.addons_add = add;
      if (remove.length) change.addons_remove = remove;
    }
  }
  return Object.keys(change).length > 1 ? change : null;
}
