import { sql } from "drizzle-orm";
import { ACCOUNT_DEFAULTS } from "../domain/account-defaults";
import { index, integer, primaryKey, real, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";

/**
 * The D1 schema: the system of record (docs/architecture.md#the-write-path). Every table but `accounts` is keyed by
 * `account_id` first, so every query is scoped to one tenant and uses the primary key or an index.
 * Times are ISO 8601 UTC strings (they sort as text), except where noted.
 */

export const accounts = sqliteTable("accounts", {
  id: text("id").primaryKey(),
  name: text("name").notNull(),
  billingDay: integer("billing_day").notNull().default(ACCOUNT_DEFAULTS.billingDay),
  graceSeconds: integer("grace_seconds").notNull().default(ACCOUNT_DEFAULTS.graceSeconds),
  leaseTtlSeconds: integer("lease_ttl_seconds").notNull().default(ACCOUNT_DEFAULTS.leaseTtlSeconds),
  reconnectGraceSeconds: integer("reconnect_grace_seconds").notNull().default(ACCOUNT_DEFAULTS.reconnectGraceSeconds),
  maxSessionsPerUser: integer("max_sessions_per_user").notNull().default(ACCOUNT_DEFAULTS.maxSessionsPerUser),
  /** Seconds before an over-run's grace ends that overage.grace_ending is sent; 0 = off (migration 0014). */
  warnBeforeGraceEndSeconds: integer("warn_before_grace_end_seconds").notNull().default(ACCOUNT_DEFAULTS.warnBeforeGraceEndSeconds),
  /** "per_overrun" or "cumulative" (src/domain/overage.ts GracePolicy). */
  gracePolicy: text("grace_policy").notNull().default(ACCOUNT_DEFAULTS.gracePolicy),
  webhookUrl: text("webhook_url"),
  /** Sealed (src/billing/secret-box.ts), never plain. */
  webhookSecret: text("webhook_secret"),
  /** A plain secret from before migration 0003, until it is sealed; null afterwards. */
  webhookSecretPlain: text("webhook_secret_plain"),
  /** The secret a PUT replaced, sealed: deliveries are signed with it too until `…_until`. */
  webhookSecretPrevious: text("webhook_secret_previous"),
  webhookSecretPreviousUntil: text("webhook_secret_previous_until"),
  /** "seatkeeper" (Seat-Signature) or "standard" (Standard Webhooks headers). */
  webhookFormat: text("webhook_format").notNull().default("seatkeeper"),
  createdAt: text("created_at").notNull(),
  /** Raised with every roster write of the account's object, in the same batch (migration 0001). */
  rosterVersion: integer("roster_version").notNull().default(0),
  /** Offboarding (migration 0012): set by DELETE; the account is gone for every credential and the scheduler. */
  deletedAt: text("deleted_at"),
  /** The end of its short last cycle, by the account object's clock; set once. */
  finalCycleEnd: text("final_cycle_end"),
  /** Every offboarding step is done: a second DELETE is 404. */
  offboardedAt: text("offboarded_at"),
});

export const apiKeys = sqliteTable(
  "api_keys",
  {
    id: text("id").primaryKey(),
    accountId: text("account_id").notNull().references(() => accounts.id),
    name: text("name").notNull(),
    /** SHA-256 of the key, hex. The key itself is shown once and never stored. */
    keyHash: text("key_hash").notNull(),
    /** Space-separated scopes (src/auth/scopes.ts); keys made before scopes are `admin`. */
    scopes: text("scopes").notNull().default("admin"),
    /** The key's first characters (`sk_` + 8), to tell keys apart in a list; null for keys made before it was kept. */
    prefix: text("prefix"),
    createdAt: text("created_at").notNull(),
    revokedAt: text("revoked_at"),
    /** Updated at most once a minute per key, off the request's path. */
    lastUsedAt: text("last_used_at"),
  },
  (t) => [uniqueIndex("api_keys_hash").on(t.keyHash), index("api_keys_account").on(t.accountId)],
);

export const users = sqliteTable(
  "users",
  {
    accountId: text("account_id").notNull().references(() => accounts.id),
    id: text("id").notNull(),
    displayName: text("display_name"),
    email: text("email"),
    /** ^[A-Za-z0-9_.-]{1,64}$ or null; set by SCIM and group rules. */
    team: text("team"),
    createdAt: text("created_at").notNull(),
    /** Agent tokens carry it (`gen`); raised by a revocation or deletion (migration 0001). */
    tokenGeneration: integer("token_generation").notNull().default(0),
  },
  // User search (migration 0005): prefixes of the id, e-mail, display name and its part after
  // the first space, lower-cased; src/db/users.ts spells the same expressions.
  (t) => [
    primaryKey({ columns: [t.accountId, t.id] }),
    index("users_search_id").on(t.accountId, sql`lower(${t.id})`),
    index("users_search_email").on(t.accountId, sql`lower(${t.email})`),
    index("users_search_name").on(t.accountId, sql`lower(${t.displayName})`),
    index("users_search_surname").on(t.accountId, sql`lower(substr(${t.displayName}, instr(${t.displayName}, ' ') + 1))`),
    index("users_token_generation").on(t.accountId).where(sql`${t.tokenGeneration} > 0`),
    // Users with a team (migration 0015): the object's roster load and the user list's `team` filter.
    index("users_team").on(t.accountId, t.team, t.id).where(sql`${t.team} IS NOT NULL`),
  ],
);

export const pools = sqliteTable(
  "pools",
  {
    accountId: text("account_id").notNull().references(() => accounts.id),
    id: text("id").notNull(),
    tier: text("tier").notNull(),
    model: text("model").notNull(),
    quantity: integer("quantity").notNull(),
    maxActive: integer("max_active"),
    /** Threshold alerts: a JSON array of percentages of the quantity; null = the default [80, 100] (migration 0014). */
    alerts: text("alerts"),
    createdAt: text("created_at").notNull(),
    updatedAt: text("updated_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.accountId, t.id] })],
);

/** Per concurrent pool and team: a hard cap and a reservation (docs/licensing.md#teams, migration 0015). */
export const poolTeams = sqliteTable(
  "pool_teams",
  {
    accountId: text("account_id").notNull().references(() => accounts.id),
    poolId: text("pool_id").notNull(),
    team: text("team").notNull(),
    maxActive: integer("max_active"),
    reserve: integer("reserve").notNull().default(0),
    updatedAt: text("updated_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.accountId, t.poolId, t.team] })],
);

/** A user's one contact-center license: the pool they hold a named seat in or are a member of. */
export const licenses = sqliteTable(
  "licenses",
  {
    accountId: text("account_id").notNull(),
    userId: text("user_id").notNull(),
    poolId: text("pool_id").notNull(),
    assignedAt: text("assigned_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.accountId, t.userId] }), index("licenses_pool_user").on(t.accountId, t.poolId, t.userId)],
);

export const addonPurchases = sqliteTable(
  "addon_purchases",
  {
    accountId: text("account_id").notNull(),
    product: text("product").notNull(),
    quantity: integer("quantity").notNull(),
    updatedAt: text("updated_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.accountId, t.product] })],
);

export const addonAssignments = sqliteTable(
  "addon_assignments",
  {
    accountId: text("account_id").notNull(),
    userId: text("user_id").notNull(),
    product: text("product").notNull(),
    /** Order of assignment (ms since epoch, made unique per account by the DO): decides bundled vs purchased. */
    seq: integer("seq").notNull(),
    assignedAt: text("assigned_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.accountId, t.userId, t.product] }), index("addon_assignments_product_user").on(t.accountId, t.product, t.userId)],
);

/** Over-limit intervals, written by the account's DO through its outbox (upserted: open, then closed). */
export const overageIntervals = sqliteTable(
  "overage_intervals",
  {
    accountId: text("account_id").notNull(),
    id: text("id").notNull(),
    poolId: text("pool_id").notNull(),
    startedAt: text("started_at").notNull(),
    endedAt: text("ended_at"),
    peakActive: integer("peak_active").notNull(),
    peakOverage: integer("peak_overage").notNull(),
    overageSeatSeconds: real("overage_seat_seconds").notNull(),
    billable: integer("billable", { mode: "boolean" }).notNull(),
    billableOverageSeats: integer("billable_overage_seats").notNull(),
    billableSeatSeconds: real("billable_seat_seconds").notNull(),
  },
  (t) => [primaryKey({ columns: [t.accountId, t.id] }), index("overage_intervals_started").on(t.accountId, t.startedAt)],
);

/** Exactly one per (account, cycle): the primary key makes finalizing idempotent. */
export const billingSummaries = sqliteTable(
  "billing_summaries",
  {
    accountId: text("account_id").notNull(),
    cycleStart: text("cycle_start").notNull(),
    cycleEnd: text("cycle_end").notNull(),
    /** The summary as served (JSON). */
    body: text("body").notNull(),
    generatedAt: text("generated_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.accountId, t.cycleStart] })],
);

/** Webhook events, stored before delivery so a retry sends the same id and body. */
export const webhookEvents = sqliteTable(
  "webhook_events",
  {
    accountId: text("account_id").notNull(),
    id: text("id").notNull(),
    type: text("type").notNull(),
    body: text("body").notNull(),
    createdAt: text("created_at").notNull(),
    attempts: integer("attempts").notNull().default(0),
    deliveredAt: text("delivered_at"),
    /** Set when the last retry failed: the dead-letter record. */
    deadAt: text("dead_at"),
    lastError: text("last_error"),
    /** Set when the event was settled without a usable webhook; only a redeliver sends it. */
    noEndpointAt: text("no_endpoint_at"),
  },
  (t) => [primaryKey({ columns: [t.accountId, t.id] }), index("webhook_events_created").on(t.accountId, t.createdAt)],
);

export const auditLog = sqliteTable(
  "audit_log",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    accountId: text("account_id").notNull(),
    at: text("at").notNull(),
    actor: text("actor").notNull(),
    action: text("action").notNull(),
    target: text("target").notNull(),
    detail: text("detail").notNull().default(sql`'{}'`),
  },
  (t) => [index("audit_log_account").on(t.accountId, t.id)],
);

/** SCIM (issue 16): what an identity provider told us about a user beyond the users row. */
export const scimUsers = sqliteTable(
  "scim_users",
  {
    accountId: text("account_id").notNull(),
    userId: text("user_id").notNull(),
    userName: text("user_name").notNull(),
    /** userName in lower case: unique per account (SCIM userName is case-insensitive). */
    userNameKey: text("user_name_key").notNull(),
    externalId: text("external_id"),
    active: integer("active", { mode: "boolean" }).notNull().default(true),
    /** The SCIM `name` complex attribute, JSON. */
    name: text("name").notNull().default("{}"),
    /** The SCIM `emails` list, JSON. */
    emails: text("emails").notNull().default("[]"),
    /** The extension's `pool`, `addons` and `team` as the identity provider last set them. */
    poolAttr: text("pool_attr"),
    addonsAttr: text("addons_attr").notNull().default("[]"),
    teamAttr: text("team_attr"),
    version: integer("version").notNull().default(1),
    createdAt: text("created_at").notNull(),
    updatedAt: text("updated_at").notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.accountId, t.userId] }),
    uniqueIndex("scim_users_user_name").on(t.accountId, t.userNameKey),
    index("scim_users_external_id").on(t.accountId, t.externalId),
  ],
);

export const scimGroups = sqliteTable(
  "scim_groups",
  {
    accountId: text("account_id").notNull(),
    id: text("id").notNull(),
    displayName: text("display_name").notNull(),
    displayNameKey: text("display_name_key").notNull(),
    externalId: text("external_id"),
    version: integer("version").notNull().default(1),
    createdAt: text("created_at").notNull(),
    updatedAt: text("updated_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.accountId, t.id] }), uniqueIndex("scim_groups_display_name").on(t.accountId, t.displayNameKey)],
);

export const scimGroupMembers = sqliteTable(
  "scim_group_members",
  {
    accountId: text("account_id").notNull(),
    groupId: text("group_id").notNull(),
    userId: text("user_id").notNull(),
  },
  (t) => [primaryKey({ columns: [t.accountId, t.groupId, t.userId] }), index("scim_group_members_user").on(t.accountId, t.userId)],
);

/** Group rules (JSON list, in priority order): which group gives which pool, team and add-ons. */
export const provisioningRules = sqliteTable("provisioning_rules", {
  accountId: text("account_id").primaryKey(),
  rules: text("rules").notNull().default("[]"),
  updatedAt: text("updated_at").notNull(),
});

/** The account's optional price list: integer minor units of one currency, as JSON (`PriceList`). */
export const accountPrices = sqliteTable("account_prices", {
  accountId: text("account_id")
    .primaryKey()
    .references(() => accounts.id),
  currency: text("currency").notNull(),
  prices: text("prices", { mode: "json" }).notNull(),
  updatedAt: text("updated_at").notNull(),
});

/**
 * Idempotency-Key on admin writes (migration 0011): per scope (`account:<id>` or `operator`) and
 * key (its SHA-256 only), the request it was first used for and, once answered, that answer
 * sealed. `status` null: the first request is still running.
 */
export const idempotencyKeys = sqliteTable(
  "idempotency_keys",
  {
    scope: text("scope").notNull(),
    keyHash: text("key_hash").notNull(),
    /** The account the request was about, for offboarding; null for operator requests outside an account. */
    accountId: text("account_id"),
    requestHash: text("request_hash").notNull(),
    status: integer("status"),
    contentType: text("content_type"),
    /** The first answer's body, sealed (src/billing/secret-box.ts): it may carry a new API key. */
    body: text("body"),
    createdAt: text("created_at").notNull(),
    expiresAt: text("expires_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.scope, t.keyHash] }), index("idempotency_keys_expires").on(t.expiresAt), index("idempotency_keys_account").on(t.accountId)],
);
