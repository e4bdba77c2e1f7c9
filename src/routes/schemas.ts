import { TEAM_PATTERN } from "../domain/teams";
import { z } from "@hono/zod-openapi";
import {
  ADDON_KEYS,
  FEATURE_KEYS,
  MAX_QUANTITY,
  PER_SEAT_PRODUCTS,
  POOL_IDS,
  type AddonProduct,
  type PerSeatProduct,
  type PoolId,
} from "../domain/catalog";

/** Shared request and response schemas: the API contract (docs/api.md), in one place. */

const ID = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,127}$/;

export const AccountId = z.string().regex(ID, "must match ^[A-Za-z0-9][A-Za-z0-9._@-]{0,127}$").openapi({ example: "acme" });
export const UserId = z.string().regex(ID, "must match ^[A-Za-z0-9][A-Za-z0-9._@-]{0,127}$").openapi({ example: "ada@acme.example" });
/** Typed at the edge: a parsed pool id or product is the catalog's type, so no route casts it. */
export const PoolIdSchema = z.enum(POOL_IDS as [PoolId, ...PoolId[]]).openapi({ example: "elite-concurrent" });
export const ProductSchema = z.enum(ADDON_KEYS as [AddonProduct, ...AddonProduct[]]).openapi({ example: "workforce_management" });
export const PerSeatProductSchema = z.enum(PER_SEAT_PRODUCTS as [PerSeatProduct, ...PerSeatProduct[]]);
/** The same enums in replies, where the values come from storage as plain strings. */
export const PoolIdOut = z.enum(POOL_IDS as [string, ...string[]]).openapi({ example: "elite-concurrent" });
export const ProductOut = z.enum(ADDON_KEYS as [string, ...string[]]).openapi({ example: "workforce_management" });
export const PerSeatProductOut = z.enum(PER_SEAT_PRODUCTS as [string, ...string[]]);
export const SessionId = z.string().regex(/^[A-Za-z0-9_-]{1,128}$/, "must match ^[A-Za-z0-9_-]{1,128}$").openapi({ example: "desk-7f3a" });
export const Quantity = z.number().int().min(0).max(MAX_QUANTITY);
export const Timestamp = z.string().openapi({ example: "2026-11-27T08:00:00.000Z" });

export const AccountParams = z.object({ account_id: AccountId.openapi({ param: { name: "account_id", in: "path" } }) });
export const UserParams = AccountParams.extend({ user_id: UserId.openapi({ param: { name: "user_id", in: "path" } }) });
export const PoolParams = AccountParams.extend({ pool_id: PoolIdSchema.openapi({ param: { name: "pool_id", in: "path" } }) });
/** A team name, as SCIM's `team` attribute spells it (src/domain/teams.ts). */
export const TeamName = z.string().regex(TEAM_PATTERN, "must match ^[A-Za-z0-9_.-]{1,64}$").openapi({ example: "billing" });
export const TeamParams = PoolParams.extend({ team: TeamName.openapi({ param: { name: "team", in: "path" } }) });

export const Page = z.object({
  limit: z.coerce.number().int().min(1).max(1000).default(100).openapi({ param: { name: "limit", in: "query" }, example: 100 }),
  cursor: z.string().max(512).optional().openapi({ param: { name: "cursor", in: "query" } }),
});

export const Problem = z
  .object({
    type: z.string(),
    title: z.string(),
    status: z.number().int(),
    detail: z.string(),
    code: z.string(),
    instance: z.string().optional(),
    errors: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
  })
  .passthrough()
  .openapi("Problem");

export const problem = (description: string) => ({
  description,
  content: { "application/problem+json": { schema: Problem } },
});

/** The error replies every authenticated route may give. */
export const commonErrors = {
  400: problem("invalid_request: the body, path or query is not valid"),
  401: problem("unauthorized: missing or bad credential"),
  403: problem("forbidden: this kind of credential may not call this route"),
  404: problem("not_found: unknown, or not yours"),
} as const;

export const json = <T extends z.ZodType>(schema: T, description = "OK") => ({
  description,
  content: { "application/json": { schema } },
});

/**
 * A JSON request body. Its top-level object is strict: an unknown field is 400 `invalid_request`
 * naming it (a misspelt setting must not answer 200 and change nothing). Nested objects are
 * declared with `z.strictObject` where they are defined.
 */
export const body = <T extends z.ZodType>(schema: T) => ({
  required: true,
  content: { "application/json": { schema: (schema instanceof z.ZodObject ? schema.strict() : schema) as T } },
});

export const noContent = { description: "Done" } as const;

export const pageOf = <T extends z.ZodType>(item: T) => z.object({ items: z.array(item), next_cursor: z.string().nullable() });

export const Account = z
  .object({
    id: AccountId,
    name: z.string(),
    billing_day: z.number().int(),
    grace_seconds: z.number().int(),
    grace_policy: z.enum(["per_overrun", "cumulative"]),
    lease_ttl_seconds: z.number().int(),
    reconnect_grace_seconds: z.number().int(),
    max_sessions_per_user: z.number().int(),
    warn_before_grace_end_seconds: z.number().int(),
    webhook_url: z.string().nullable(),
    created_at: Timestamp,
  })
  .openapi("Account");

export const AccountSettings = z.object({
  billing_day: z.number().int().min(1).max(28).optional(),
  grace_seconds: z.number().int().min(0).max(86_400).optional(),
  grace_policy: z
    .enum(["per_overrun", "cumulative"])
    .optional()
    .openapi({ description: "per_overrun (default): each over-run of a place gets its own grace. cumulative: a place is billable once its over-limit time in the cycle, summed over its over-runs, reaches the grace." }),
  lease_ttl_seconds: z.number().int().min(5).max(3_600).optional(),
  reconnect_grace_seconds: z
    .number()
    .int()
    .min(0)
    .max(300)
    .optional()
    .openapi({ description: "Seconds a closed presence socket keeps its seat so the same session can reconnect (default 15)" }),
  max_sessions_per_user: z
    .number()
    .int()
    .min(1)
    .max(50)
    .optional()
    .openapi({ description: "Sessions one user may hold at once (default 5); a checkout with a new session id beyond it ends the user's least recently renewed session" }),
  warn_before_grace_end_seconds: z
    .number()
    .int()
    .min(0)
    .max(86_400)
    .optional()
    .openapi({ description: "Seconds before an over-run's grace ends at which an `overage.grace_ending` event is sent with the places that will become billable (default 300; 0 = off; at or above the grace: sent as soon as the over-run is decided)." }),
});

export const Pool = z
  .object({
    id: PoolIdOut,
    tier: z.string(),
    model: z.string(),
    quantity: z.number().int(),
    max_active: z.number().int().nullable(),
    assigned: z.number().int().nullable().openapi({ description: "Users assigned (named pools)" }),
    members: z.number().int().nullable().openapi({ description: "Members (concurrent pools)" }),
    active: z.number().int(),
    over_limit: z.boolean(),
    waiting: z.number().int().openapi({ description: "Users in the pool's waitlist at its ceiling (docs/licensing.md#the-waitlist)" }),
    alerts: z.array(z.number().int()).openapi({ description: "Threshold alerts: percentages of the quantity, ascending (default [80, 100]); each upward crossing sends `pool.threshold`" }),
  })
  .openapi("Pool");

export const Interval = z
  .object({
    id: z.string(),
    pool: PoolIdOut,
    started_at: Timestamp,
    ended_at: Timestamp.nullable(),
    peak_active: z.number().int(),
    peak_overage: z.number().int(),
    overage_seat_seconds: z.number(),
    billable: z.boolean(),
    billable_overage_seats: z.number().int(),
    billable_seat_seconds: z.number(),
  })
  .openapi("OverLimitInterval");

export const User = z
  .object({
    id: UserId,
    display_name: z.string().nullable(),
    email: z.string().nullable(),
    pool: PoolIdOut.nullable(),
    addons: z.array(PerSeatProductOut),
    team: z.string().nullable().openapi({ description: "The user's team (docs/licensing.md#teams), or null" }),
    created_at: Timestamp,
  })
  .openapi("User");

export const GrantSourceSchema = z.enum(["included", "bundled", "purchased"]);

export const Entitlements = z
  .object({
    user_id: UserId,
    pool: PoolIdOut.nullable(),
    tier: z.string().nullable(),
    model: z.string().nullable(),
    features: z.object(Object.fromEntries(FEATURE_KEYS.map((k) => [k, z.boolean()]))),
    addons: z.object(Object.fromEntries(PER_SEAT_PRODUCTS.map((k) => [k, GrantSourceSchema.nullable()]))),
    account_addons: z.object({ virtual_agent: z.boolean() }),
  })
  .openapi("Entitlements");
