import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { newApiKey } from "../auth/api-keys";
import { actorOf, requireAccountAdmin, requireOperator, type AppEnv } from "../auth/caller";
import { accountView, findAccount, findAccountKey, findAccountRow, insertAccount, insertApiKey, listApiKeys, revokeApiKey } from "../db/accounts";
import { writeBatch } from "../db/batch";
import { auditInsert } from "../db/audit";
import { database } from "../db/client";
import { iso } from "../time";
import { ApiError, notFound, unwrap, validationHook } from "../errors";
import { ACCOUNT_DEFAULTS } from "../domain/account-defaults";
import { seatsOf } from "../seats/stub";
import { offboardAccount } from "../billing/offboarding";
import { randomToken } from "../auth/crypto";
import { formatScopes, parseScopes, SCOPES } from "../auth/scopes";
import { Account, AccountId, AccountParams, AccountSettings, body, commonErrors, json, noContent, problem } from "./schemas";

const CreateAccount = AccountSettings.extend({
  id: AccountId.optional(),
  name: z.string().trim().min(1).max(200),
});

const PatchAccount = AccountSettings.extend({ name: z.string().trim().min(1).max(200).optional() });

const ScopeSchema = z.enum(SCOPES).openapi("Scope");

const CreateKey = z
  .object({
    name: z.string().trim().min(1).max(200).optional(),
    scopes: z
      .array(ScopeSchema)
      .min(1)
      .max(SCOPES.length)
      .optional()
      .openapi({ description: "What the key may do (default `[\"admin\"]`): see the bearer scheme's description." }),
  })
  .strict();

const ApiKeyCreated = z
  .object({ id: z.string(), name: z.string(), key: z.string(), prefix: z.string(), scopes: z.array(ScopeSchema), created_at: z.string() })
  .openapi("ApiKeyCreated");

const ApiKeyListed = z
  .object({
    id: z.string(),
    name: z.string(),
    prefix: z.string().nullable().openapi({ description: "The key's first 11 characters (`sk_` + 8); null for keys made before prefixes were kept" }),
    scopes: z.array(ScopeSchema),
    created_at: z.string(),
    last_used_at: z.string().nullable().openapi({ description: "To the minute: written at most once a minute per key" }),
    revoked_at: z.string().nullable(),
  })
  .openapi("ApiKey");

const listKeys = createRoute({
  method: "get",
  path: "/v1/accounts/{account_id}/api-keys",
  operationId: "listApiKeys",
  tags: ["account"],
  summary: "The account's API keys, oldest first: never the key or its hash",
  request: { params: AccountParams },
  responses: { 200: json(z.object({ items: z.array(ApiKeyListed) })), ...commonErrors },
});

const createAccount = createRoute({
  method: "post",
  path: "/v1/accounts",
  operationId: "createAccount",
  tags: ["operator"],
  summary: "Create an account (operator only)",
  request: { body: body(CreateAccount) },
  responses: { 201: json(Account, "Created"), ...commonErrors, 409: problem("already_exists: the id is taken") },
});

const getAccount = createRoute({
  method: "get",
  path: "/v1/accounts/{account_id}",
  operationId: "getAccount",
  tags: ["account"],
  summary: "Read the account and its settings",
  request: { params: AccountParams },
  responses: { 200: json(Account), ...commonErrors },
});

const patchAccount = createRoute({
  method: "patch",
  path: "/v1/accounts/{account_id}",
  operationId: "updateAccount",
  tags: ["account"],
  summary: "Change the account's name or settings",
  request: { params: AccountParams, body: body(PatchAccount) },
  responses: { 200: json(Account), ...commonErrors },
});

const deleteAccount = createRoute({
  method: "delete",
  path: "/v1/accounts/{account_id}",
  operationId: "deleteAccount",
  tags: ["operator"],
  summary: "Offboard an account (operator only): its last cycle ends now and is billed; everything but its summaries and webhook events is removed",
  description:
    "The running cycle ends now (a short final cycle, summarized and sent by webhook like any other); then the account's users, licenses, add-ons, pools, API keys, sessions, usage and audit log are removed from D1 and its object. Its keys and agent tokens get 401 from the start. A DELETE that answers 503 `outcome_unknown` stopped half-way: send it again to complete it. A completed one: a second DELETE is 404.",
  request: { params: AccountParams },
  responses: {
    204: noContent,
    ...commonErrors,
    503: problem("outcome_unknown: offboarding stopped half-way (the account is already refused to its keys and agents); send the DELETE again"),
  },
});

const createKey = createRoute({
  method: "post",
  path: "/v1/accounts/{account_id}/api-keys",
  operationId: "createApiKey",
  tags: ["account"],
  summary: "Create an API key; the key is shown only in this reply",
  request: { params: AccountParams, body: { ...body(CreateKey), required: false } },
  responses: { 201: json(ApiKeyCreated, "Created"), ...commonErrors },
});

const revokeKey = createRoute({
  method: "delete",
  path: "/v1/accounts/{account_id}/api-keys/{key_id}",
  operationId: "revokeApiKey",
  tags: ["account"],
  summary: "Revoke an API key; it stops working at once",
  request: { params: AccountParams.extend({ key_id: z.string().regex(/^key_[A-Za-z0-9_-]{1,64}$/) }) },
  responses: { 204: noContent, ...commonErrors },
});

export const accountRoutes = new OpenAPIHono<AppEnv>({ defaultHook: validationHook })
  .openapi(createAccount, async (c) => {
    requireOperator(c);
    const input = c.req.valid("json");
    const db = database(c.env.DB);
    const id = input.id ?? `acct_${randomToken(9)}`;
    const createdAt = iso(Date.now());
    const row = {
      id,
      name: input.name,
      billingDay: input.billing_day ?? ACCOUNT_DEFAULTS.billingDay,
      graceSeconds: input.grace_seconds ?? ACCOUNT_DEFAULTS.graceSeconds,
      gracePolicy: input.grace_policy ?? ACCOUNT_DEFAULTS.gracePolicy,
      leaseTtlSeconds: input.lease_ttl_seconds ?? ACCOUNT_DEFAULTS.leaseTtlSeconds,
      reconnectGraceSeconds: input.reconnect_grace_seconds ?? ACCOUNT_DEFAULTS.reconnectGraceSeconds,
      maxSessionsPerUser: input.max_sessions_per_user ?? ACCOUNT_DEFAULTS.maxSessionsPerUser,
      warnBeforeGraceEndSeconds: input.warn_before_grace_end_seconds ?? ACCOUNT_DEFAULTS.warnBeforeGraceEndSeconds,
      webhookUrl: null,
      webhookSecret: null,
      webhookSecretPlain: null,
      webhookSecretPrevious: null,
      webhookSecretPreviousUntil: null,
      webhookFormat: "seatkeeper",
      createdAt,
      rosterVersion: 0,
      deletedAt: null,
      finalCycleEnd: null,
      offboardedAt: null,
    };
    try {
      await writeBatch(c.env.DB, [
        insertAccount(db, row),
        auditInsert(db, id, createdAt, { actor: "operator", action: "account.create", target: id, detail: { name: input.name } }),
      ]);
    } catch (err) {
      // The primary key refused it, so the batch (and its audit entry) did not apply. A deleted
      // account's id stays taken: its summaries are still kept under it.
      if (await findAccountRow(db, id)) throw new ApiError("already_exists", `Account ${id} already exists.`);
      throw err;
    }
    return c.json(accountView(row), 201);
  })
  .openapi(getAccount, async (c) => {
    const { account_id } = c.req.valid("param");
    await requireAccountAdmin(c, account_id);
    const row = await findAccount(database(c.env.DB), account_id);
    if (!row) throw notFound(`Account ${account_id}`);
    return c.json(accountView(row), 200);
  })
  .openapi(patchAccount, async (c) => {
    const { account_id } = c.req.valid("param");
    await requireAccountAdmin(c, account_id);
    const patch = c.req.valid("json");
    unwrap(await seatsOf(c.env, account_id).updateSettings(patch, actorOf(c.get("caller"))));
    const row = await findAccount(database(c.env.DB), account_id);
    return c.json(accountView(row!), 200);
  })
  .openapi(deleteAccount, async (c) => {
    requireOperator(c);
    const { account_id } = c.req.valid("param");
    await offboardAccount(c.env, account_id);
    return c.body(null, 204);
  })
  .openapi(createKey, async (c) => {
    const { account_id } = c.req.valid("param");
    await requireAccountAdmin(c, account_id);
    const { name, scopes: asked } = (c.req.valid("json") ?? {}) as z.infer<typeof CreateKey>;
    const db = database(c.env.DB);
    const key = await newApiKey();
    const createdAt = iso(Date.now());
    const keyName = name ?? "api key";
    const scopes = parseScopes(formatScopes(asked ?? ["admin"]));
    await writeBatch(c.env.DB, [
      insertApiKey(db, { id: key.id, accountId: account_id, name: keyName, keyHash: key.hash, prefix: key.prefix, scopes: formatScopes(scopes), createdAt }),
      auditInsert(db, account_id, createdAt, { actor: actorOf(c.get("caller")), action: "api_key.create", target: key.id, detail: { name: keyName, scopes } }),
    ]);
    return c.json({ id: key.id, name: keyName, key: key.key, prefix: key.prefix, scopes, created_at: createdAt }, 201);
  })
  .openapi(listKeys, async (c) => {
    const { account_id } = c.req.valid("param");
    await requireAccountAdmin(c, account_id);
    const rows = await listApiKeys(database(c.env.DB), account_id);
    const items = rows.map((k) => ({
      id: k.id,
      name: k.name,
      prefix: k.prefix,
      scopes: parseScopes(k.scopes),
      created_at: k.createdAt,
      last_used_at: k.lastUsedAt,
      revoked_at: k.revokedAt,
    }));
    return c.json({ items }, 200);
  })
  .openapi(revokeKey, async (c) => {
    const { account_id, key_id } = c.req.valid("param");
    await requireAccountAdmin(c, account_id);
    const db = database(c.env.DB);
    const at = iso(Date.now());
    const key = await findAccountKey(db, account_id, key_id);
    if (!key) throw notFound(`API key ${key_id}`);
    if (key.revokedAt === null) {
      await writeBatch(c.env.DB, [
        revokeApiKey(db, account_id, key_id, at),
        auditInsert(db, account_id, at, { actor: actorOf(c.get("caller")), action: "api_key.revoke", target: key_id }),
      ]);
    }
    return c.body(null, 204);
  });
