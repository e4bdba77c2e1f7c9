import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { mintAgentToken } from "../auth/agent-tokens";
import { actorOf, requireAccountAdmin, type AppEnv } from "../auth/caller";
import { writeBatch } from "../db/batch";
import { auditInsert } from "../db/audit";
import { database } from "../db/client";
import { iso } from "../time";
import { getUser, searchUsers, upsertUser } from "../db/users";
import { invalid, notFound, unwrap, validationHook } from "../errors";
import { seatsOf } from "../seats/stub";
import { CSV_PAGE, CsvFormat, csvContent, csvResponse, paged, wantsCsv } from "./csv";
import { CursorKeys, decodeCursor, encodeCursor } from "./cursor";
import {
  AccountParams,
  body,
  commonErrors,
  json,
  noContent,
  Page,
  pageOf,
  PerSeatProductSchema,
  PoolIdOut,
  PoolIdSchema,
  problem,
  TeamName,
  User,
  UserId,
  UserParams,
} from "./schemas";

const PutUser = z.object({
  display_name: z.string().trim().max(200).nullable().optional(),
  email: z.string().trim().email().max(320).nullable().optional(),
  team: TeamName.nullable().optional().openapi({ description: "The user's team (docs/licensing.md#teams). Omitted keeps it; null clears it." }),
});

const TeamBatch = z.object({
  items: z.array(z.strictObject({ user_id: UserId, team: TeamName.nullable() })).min(1).max(1000),
});

/** The most assignments plus revocations in one batch. */
const MAX_BATCH = 1000;

const License = z.object({ user_id: UserId, pool: PoolIdOut }).openapi("License");

const LicenseBatch = z
  .object({
    // Each list is bounded on its own, so a 100,000-item batch is refused by its length alone.
    assign: z.array(z.strictObject({ user_id: UserId, pool: PoolIdSchema })).max(MAX_BATCH).default([]),
    revoke: z.array(UserId).max(MAX_BATCH).default([]),
  })
  .refine((b) => b.assign.length + b.revoke.length <= MAX_BATCH, { message: `at most ${MAX_BATCH} assignments and revocations in all` });

const AgentToken = z.object({ token: z.string(), expires_at: z.string() }).openapi("AgentToken");

const putUser = createRoute({
  method: "put",
  path: "/v1/accounts/{account_id}/users/{user_id}",
  operationId: "putUser",
  tags: ["users"],
  summary: "Create or replace a user",
  request: { params: UserParams, body: { ...body(PutUser), required: false } },
  responses: { 200: json(User), ...commonErrors },
});

/** Search filters of the user list (each optional; given ones must all hold). */
const UserSearch = Page.extend({
  q: z
    .string()
    .trim()
    .max(320)
    .regex(/^[^\u0000-\u001f\u007f]*$/, "must not contain control characters")
    .optional()
    .openapi({
      param: { name: "q", in: "query" },
      description:
        "Prefix of the user id, the e-mail, the display name or the display name's part after its first space; ASCII letters match in either case. Empty: no search.",
      example: "ada",
    }),
  pool: PoolIdSchema.optional().openapi({ param: { name: "pool", in: "query" }, description: "Only users licensed in this pool." }),
  addon: PerSeatProductSchema.optional().openapi({ param: { name: "addon", in: "query" }, description: "Only users holding this per-seat add-on.", example: "workforce_management" }),
  team: TeamName.optional().openapi({ param: { name: "team", in: "query" }, description: "Only users of this team." }),
});

const listUsersRoute = createRoute({
  method: "get",
  path: "/v1/accounts/{account_id}/users",
  operationId: "listUsers",
  tags: ["users"],
  summary: "List or search users with their license and add-ons",
  description:
    "Users in id order, paged by cursor. `q`, `pool`, `addon` and `team` narrow the list (all given ones must hold); a cursor continues the list it came from, so pass the same filters with it.",
  request: { params: AccountParams, query: UserSearch.extend({ format: CsvFormat }) },
  responses: { 200: { description: "OK", content: { ...json(pageOf(User)).content, ...csvContent } }, ...commonErrors },
});

const getUserRoute = createRoute({
  method: "get",
  path: "/v1/accounts/{account_id}/users/{user_id}",
  operationId: "getUser",
  tags: ["users"],
  summary: "Read a user",
  request: { params: UserParams },
  responses: { 200: json(User), ...commonErrors },
});

const deleteUserRoute = createRoute({
  method: "delete",
  path: "/v1/accounts/{account_id}/users/{user_id}",
  operationId: "deleteUser",
  tags: ["users"],
  summary: "Delete a user: revokes the license and add-ons, ends the sessions",
  request: { params: UserParams },
  responses: { 204: noContent, ...commonErrors },
});

const putLicense = createRoute({
  method: "put",
  path: "/v1/accounts/{account_id}/users/{user_id}/license",
  operationId: "assignLicense",
  tags: ["licenses"],
  summary: "Assign (or move) the user's contact-center license",
  request: { params: UserParams, body: body(z.object({ pool: PoolIdSchema })) },
  responses: {
    200: json(License),
    ...commonErrors,
    409: problem("named_pool_full, or addon_seats_exhausted when the move would overdraw an add-on"),
  },
});

const deleteLicense = createRoute({
  method: "delete",
  path: "/v1/accounts/{account_id}/users/{user_id}/license",
  operationId: "revokeLicense",
  tags: ["licenses"],
  summary: "Revoke the user's license (and add-ons); ends their sessions",
  request: { params: UserParams },
  responses: { 204: noContent, ...commonErrors },
});

const batchLicenses = createRoute({
  method: "post",
  path: "/v1/accounts/{account_id}/licenses:batch",
  operationId: "batchLicenses",
  tags: ["licenses"],
  summary: "Assign and revoke up to 1000 licenses, all or nothing",
  request: { params: AccountParams, body: body(LicenseBatch) },
  responses: {
    200: json(z.object({ assigned: z.number().int(), revoked: z.number().int() })),
    ...commonErrors,
    409: problem("named_pool_full or addon_seats_exhausted for the first refused item, named by index; nothing was applied"),
  },
});

const teamBatch = createRoute({
  operationId: "setUserTeams",
  method: "post",
  path: "/v1/accounts/{account_id}/users/teams:batch",
  tags: ["users"],
  summary: "Set the teams of up to 1000 users (null clears), all or nothing",
  request: { params: AccountParams, body: body(TeamBatch) },
  responses: { 200: json(z.object({ updated: z.number().int() })), ...commonErrors },
});

const agentToken = createRoute({
  method: "post",
  path: "/v1/accounts/{account_id}/users/{user_id}/agent-token",
  operationId: "mintAgentToken",
  tags: ["users"],
  summary: "Mint an agent token for the user's desktop",
  request: {
    params: UserParams,
    body: { ...body(z.object({ ttl_seconds: z.number().int().min(60).max(7 * 86_400).optional() })), required: false },
  },
  responses: { 201: json(AgentToken, "Created"), ...commonErrors },
});

const revokeAgentTokens = createRoute({
  method: "post",
  path: "/v1/accounts/{account_id}/users/{user_id}/agent-tokens:revoke",
  operationId: "revokeAgentTokens",
  tags: ["users"],
  summary: "Revoke every agent token minted for the user so far, and end the user's sessions",
  request: { params: UserParams },
  responses: { 204: noContent, ...commonErrors },
});

export const userRoutes = new OpenAPIHono<AppEnv>({ defaultHook: validationHook })
  .openapi(putUser, async (c) => {
    const { account_id, user_id } = c.req.valid("param");
    await requireAccountAdmin(c, account_id);
    const { team, ...input } = c.req.valid("json");
    const db = database(c.env.DB);
    const at = iso(Date.now());
    await writeBatch(c.env.DB, [
      upsertUser(db, account_id, user_id, input.display_name ?? null, input.email ?? null, at),
      auditInsert(db, account_id, at, { actor: actorOf(c.get("caller")), action: "user.put", target: user_id, detail: { ...input } }),
    ]);
    // The team goes through the account's object: checkouts read it from there.
    if (team !== undefined) unwrap(await seatsOf(c.env, account_id).setUserTeams([{ user_id, team }], actorOf(c.get("caller"))));
    return c.json((await getUser(db, account_id, user_id))!, 200);
  })
  .openapi(listUsersRoute, async (c) => {
    const { account_id } = c.req.valid("param");
    await requireAccountAdmin(c, account_id);
    const { limit, cursor, q, pool, addon, team, format } = c.req.valid("query");
    const db = database(c.env.DB);
    const filter = { q: q || undefined, pool, addon, team };
    if (wantsCsv(c, format)) {
      // The filters hold for the export too: "the users of this pool" as a spreadsheet.
      const pages = paged((after: readonly [string] | null) => searchUsers(db, account_id, filter, CSV_PAGE, after));
      return csvResponse(`users-${account_id}.csv`, ["id", "display_name", "email", "pool", "addons", "created_at", "team"], pages, (u) => [
        u.id,
        u.display_name,
        u.email,
        u.pool,
        u.addons.join(" "),
        u.created_at,
        u.team,
      ]) as never;
    }
    const page = await searchUsers(db, account_id, filter, limit, decodeCursor(cursor, CursorKeys.user));
    return c.json({ items: page.items, next_cursor: encodeCursor(page.next) }, 200);
  })
  .openapi(getUserRoute, async (c) => {
    const { account_id, user_id } = c.req.valid("param");
    await requireAccountAdmin(c, account_id);
    const user = await getUser(database(c.env.DB), account_id, user_id);
    if (!user) throw notFound(`User ${user_id}`);
    return c.json(user, 200);
  })
  .openapi(deleteUserRoute, async (c) => {
    const { account_id, user_id } = c.req.valid("param");
    await requireAccountAdmin(c, account_id);
    unwrap(await seatsOf(c.env, account_id).deleteUser(user_id, actorOf(c.get("caller"))));
    return c.body(null, 204);
  })
  .openapi(putLicense, async (c) => {
    const { account_id, user_id } = c.req.valid("param");
    await requireAccountAdmin(c, account_id);
    const { pool } = c.req.valid("json");
    const result = unwrap(await seatsOf(c.env, account_id).assignLicense(user_id, pool, actorOf(c.get("caller"))));
    return c.json(result, 200);
  })
  .openapi(deleteLicense, async (c) => {
    const { account_id, user_id } = c.req.valid("param");
    await requireAccountAdmin(c, account_id);
    unwrap(await seatsOf(c.env, account_id).revokeLicense(user_id, actorOf(c.get("caller"))));
    return c.body(null, 204);
  })
  .openapi(batchLicenses, async (c) => {
    const { account_id } = c.req.valid("param");
    await requireAccountAdmin(c, account_id);
    const batch = c.req.valid("json");
    const seen = new Set<string>();
    for (const id of [...batch.revoke, ...batch.assign.map((a) => a.user_id)]) {
      if (seen.has(id)) throw invalid(`User ${id} appears more than once in the batch.`, [{ path: "assign/revoke", message: `duplicate user ${id}` }]);
      seen.add(id);
    }
    const assign = batch.assign.map((a) => ({ user_id: a.user_id, pool: a.pool }));
    const result = unwrap(await seatsOf(c.env, account_id).applyLicenseBatch({ assign, revoke: batch.revoke }, actorOf(c.get("caller"))));
    return c.json(result, 200);
  })
  .openapi(teamBatch, async (c) => {
    const { account_id } = c.req.valid("param");
    await requireAccountAdmin(c, account_id);
    const { items } = c.req.valid("json");
    const seen = new Set<string>();
    for (const { user_id } of items) {
      if (seen.has(user_id)) throw invalid(`User ${user_id} appears more than once in the batch.`, [{ path: "items", message: `duplicate user ${user_id}` }]);
      seen.add(user_id);
    }
    return c.json(unwrap(await seatsOf(c.env, account_id).setUserTeams(items, actorOf(c.get("caller")))), 200);
  })
  .openapi(agentToken, async (c) => {
    const { account_id, user_id } = c.req.valid("param");
    await requireAccountAdmin(c, account_id);
    const { ttl_seconds } = c.req.valid("json");
    const ttl = ttl_seconds ?? 12 * 3600;
    // The object knows the user's token generation, and audits the mint (never the token).
    const generation = unwrap(await seatsOf(c.env, account_id).agentTokenGeneration(user_id, ttl, actorOf(c.get("caller"))));
    const minted = await mintAgentToken(c.env, account_id, user_id, generation, Math.floor(Date.now() / 1000), ttl);
    return c.json({ token: minted.token, expires_at: iso(minted.exp * 1000) }, 201);
  })
  .openapi(revokeAgentTokens, async (c) => {
    const { account_id, user_id } = c.req.valid("param");
    await requireAccountAdmin(c, account_id);
    unwrap(await seatsOf(c.env, account_id).revokeAgentTokens(user_id, actorOf(c.get("caller"))));
    return c.body(null, 204);
  });
