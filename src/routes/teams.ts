import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { actorOf, requireAccountAdmin, type AppEnv } from "../auth/caller";
import { TEAM_LIMIT_MAX } from "../domain/teams";
import { unwrap, validationHook } from "../errors";
import { seatsOf } from "../seats/stub";
import { body, commonErrors, json, noContent, PoolParams, TeamParams } from "./schemas";

/** A team's cap and reservation in a concurrent pool (docs/licensing.md#teams). */
const PutTeam = z.object({
  max_active: z
    .number()
    .int()
    .min(0)
    .max(TEAM_LIMIT_MAX)
    .nullable()
    .optional()
    .openapi({ description: "Hard cap on the seats the team's members hold in the pool. Omitted keeps it; null removes it." }),
  reserve: z
    .number()
    .int()
    .min(0)
    .max(TEAM_LIMIT_MAX)
    .optional()
    .openapi({ description: "Seats under the pool's max_active only the team may take. Omitted keeps it (0 for a new team). Needs a pool ceiling." }),
});

const TeamLimit = z
  .object({
    team: z.string(),
    max_active: z.number().int().nullable(),
    reserve: z.number().int(),
    active: z.number().int().openapi({ description: "Seats the team's members hold in the pool now" }),
    unused_reserve: z.number().int().openapi({ description: "Seats of the reservation not in use now" }),
  })
  .openapi("TeamLimit");

const putTeam = createRoute({
  operationId: "putPoolTeam",
  method: "put",
  path: "/v1/accounts/{account_id}/pools/{pool_id}/teams/{team}",
  tags: ["teams"],
  summary: "Set a team's cap and reservation in a concurrent pool",
  description:
    "400 when the pool is named, the reserve exceeds the team's max_active, the pool has no max_active and a reserve is asked, or the pool's reserves would add up past its max_active.",
  request: { params: TeamParams, body: body(PutTeam) },
  responses: { 200: json(TeamLimit), ...commonErrors },
});

const listTeams = createRoute({
  operationId: "listPoolTeams",
  method: "get",
  path: "/v1/accounts/{account_id}/pools/{pool_id}/teams",
  tags: ["teams"],
  summary: "The pool's team caps and reservations, with the seats each team holds now",
  request: { params: PoolParams },
  responses: { 200: json(z.object({ items: z.array(TeamLimit) })), ...commonErrors },
});

const getTeam = createRoute({
  operationId: "getPoolTeam",
  method: "get",
  path: "/v1/accounts/{account_id}/pools/{pool_id}/teams/{team}",
  tags: ["teams"],
  summary: "One team's cap and reservation in the pool (404 when it has none)",
  request: { params: TeamParams },
  responses: { 200: json(TeamLimit), ...commonErrors },
});

const deleteTeam = createRoute({
  operationId: "deletePoolTeam",
  method: "delete",
  path: "/v1/accounts/{account_id}/pools/{pool_id}/teams/{team}",
  tags: ["teams"],
  summary: "Remove a team's cap and reservation in the pool (its members stay in the team)",
  request: { params: TeamParams },
  responses: { 204: noContent, ...commonErrors },
});

export const teamRoutes = new OpenAPIHono<AppEnv>({ defaultHook: validationHook })
  .openapi(putTeam, async (c) => {
    const { account_id, pool_id, team } = c.req.valid("param");
    await requireAccountAdmin(c, account_id);
    const patch = c.req.valid("json");
    return c.json(unwrap(await seatsOf(c.env, account_id).putTeam(pool_id, team, patch, actorOf(c.get("caller")))), 200);
  })
  .openapi(listTeams, async (c) => {
    const { account_id, pool_id } = c.req.valid("param");
    await requireAccountAdmin(c, account_id);
    return c.json({ items: unwrap(await seatsOf(c.env, account_id).listTeams(pool_id)) }, 200);
  })
  .openapi(getTeam, async (c) => {
    const { account_id, pool_id, team } = c.req.valid("param");
    await requireAccountAdmin(c, account_id);
    return c.json(unwrap(await seatsOf(c.env, account_id).getTeam(pool_id, team)), 200);
  })
  .openapi(deleteTeam, async (c) => {
    const { account_id, pool_id, team } = c.req.valid("param");
    await requireAccountAdmin(c, account_id);
    unwrap(await seatsOf(c.env, account_id).deleteTeam(pool_id, team, actorOf(c.get("caller"))));
    return c.body(null, 204);
  });
