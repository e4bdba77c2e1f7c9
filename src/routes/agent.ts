import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { requireAgent, type AppEnv } from "../auth/caller";
import { unwrap, validationHook } from "../errors";
import { seatsOf } from "../seats/stub";
import { body, commonErrors, Entitlements, json, noContent, PoolIdOut, problem, SessionId, Timestamp } from "./schemas";

const SessionBody = z.object({ session_id: SessionId });

const Checkout = z
  .object({
    user_id: z.string(),
    pool: PoolIdOut,
    tier: z.string(),
    model: z.string(),
    session_id: SessionId,
    expires_at: Timestamp,
    heartbeat_interval_seconds: z.number().int(),
    limit: z.number().int(),
    active: z.number().int(),
    over_limit: z.boolean(),
    grace_ends_at: Timestamp.nullable(),
  })
  .openapi("Checkout");

const checkout = createRoute({
  method: "post",
  path: "/v1/seats/checkout",
  operationId: "checkoutSeat",
  tags: ["agent"],
  summary: "Take (or renew) a seat for this desktop session",
  request: { body: body(SessionBody) },
  responses: {
    200: json(Checkout),
    ...commonErrors,
    403: problem("no_license, or forbidden for a non-agent credential"),
    409: problem("pool_at_ceiling"),
  },
});

const heartbeat = createRoute({
  method: "post",
  path: "/v1/seats/heartbeat",
  operationId: "heartbeatSeat",
  tags: ["agent"],
  summary: "Renew the session's lease",
  request: { body: body(SessionBody) },
  responses: { 200: json(z.object({ expires_at: Timestamp })), ...commonErrors, 404: problem("session_not_found: check out again") },
});

const release = createRoute({
  method: "post",
  path: "/v1/seats/release",
  operationId: "releaseSeat",
  tags: ["agent"],
  summary: "End the session (idempotent)",
  request: { body: body(SessionBody) },
  responses: { 204: noContent, ...commonErrors },
});

const me = createRoute({
  method: "get",
  path: "/v1/me",
  operationId: "getMe",
  tags: ["agent"],
  summary: "The calling agent's entitlements",
  responses: { 200: json(Entitlements), ...commonErrors },
});

export const agentRoutes = new OpenAPIHono<AppEnv>({ defaultHook: validationHook })
  .openapi(checkout, async (c) => {
    const agent = requireAgent(c);
    const { session_id } = c.req.valid("json");
    return c.json(unwrap(await seatsOf(c.env, agent.accountId).checkout(agent.userId, agent.generation, session_id)), 200);
  })
  .openapi(heartbeat, async (c) => {
    const agent = requireAgent(c);
    const { session_id } = c.req.valid("json");
    return c.json(unwrap(await seatsOf(c.env, agent.accountId).heartbeat(agent.userId, agent.generation, session_id)), 200);
  })
  .openapi(release, async (c) => {
    const agent = requireAgent(c);
    const { session_id } = c.req.valid("json");
    unwrap(await seatsOf(c.env, agent.accountId).release(agent.userId, agent.generation, session_id));
    return c.body(null, 204);
  })
  .openapi(me, async (c) => {
    const agent = requireAgent(c);
    return c.json(unwrap(await seatsOf(c.env, agent.accountId).agentEntitlements(agent.userId, agent.generation)), 200);
  });
