import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { requireAgent, type AppEnv } from "../auth/caller";
import { unwrap, validationHook } from "../errors";
import { seatsOf } from "../seats/stub";
import { body, commonErrors, Entitlements, json, noContent, PoolIdOut, problem, SessionId, Timestamp } from "./schemas";

const SessionBody = z.object({ session_id: SessionId });

const CheckoutBody = z.object({
  session_id: SessionId,
  wait: z
    .boolean()
    .optional()
    .openapi({ description: "At the pool's ceiling or the team's cap, join the pool's waitlist (202) instead of a 409 (docs/licensing.md#the-waitlist)." }),
});

const SessionParams = z.object({ session_id: SessionId.openapi({ param: { name: "session_id", in: "path" } }) });

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

const Waiting = z
  .object({
    status: z.literal("waiting"),
    user_id: z.string(),
    session_id: SessionId,
    pool: PoolIdOut,
    position: z.number().int().min(1).openapi({ description: "1-based place of this user in the pool's queue" }),
    waiting: z.number().int().openapi({ description: "Users waiting in the pool" }),
    reason: z.string().openapi({ description: "Why no seat was given at once: pool_at_ceiling or team_at_ceiling" }),
    expires_at: Timestamp.openapi({ description: "The entry ends then unless renewed by a poll (or held by a socket)" }),
    poll_interval_seconds: z.number().int().openapi({ description: "Poll POST /v1/seats/wait/{session_id} this often (a third of the lease)" }),
  })
  .openapi("Waiting");

const checkout = createRoute({
  method: "post",
  path: "/v1/seats/checkout",
  operationId: "checkoutSeat",
  tags: ["agent"],
  summary: "Take (or renew) a seat for this desktop session",
  description:
    'With `"wait": true`, a checkout refused for the ceiling (`pool_at_ceiling`, `team_at_ceiling`) joins the pool\'s waitlist instead and answers 202 with the position; renew it with `POST /v1/seats/wait/{session_id}`, which answers 200 with this checkout once a seat was granted (docs/licensing.md#the-waitlist). `no_license` is never queued.',
  request: { body: body(CheckoutBody) },
  responses: {
    200: json(Checkout),
    202: json(Waiting, "Waiting: the pool (or the team) is at its ceiling and the session joined the waitlist"),
    ...commonErrors,
    403: problem("no_license, or forbidden for a non-agent credential"),
    409: problem("pool_at_ceiling, team_at_ceiling (without wait)"),
  },
});

const pollWait = createRoute({
  method: "post",
  path: "/v1/seats/wait/{session_id}",
  operationId: "pollSeatWait",
  tags: ["agent"],
  summary: "Renew a waitlist entry; once granted, the checkout",
  description:
    "Renews the session's waitlist entry for another lease and answers its place (202), or, once a seat was granted to it, the checkout answer (200; the poll renews the seat's lease like a checkout, and the desktop heartbeats from then on). An entry not renewed within a lease expires (404).",
  request: { params: SessionParams },
  responses: {
    200: json(Checkout, "Granted: exactly the checkout answer"),
    202: json(Waiting, "Still waiting"),
    ...commonErrors,
    403: problem("no_license: the license was revoked while waiting (the entry is gone)"),
    404: problem("wait_not_found: the entry expired, was left, or never existed; `reason` says license_moved when the user was moved to another pool"),
  },
});

const leaveWait = createRoute({
  method: "delete",
  path: "/v1/seats/wait/{session_id}",
  operationId: "leaveSeatWait",
  tags: ["agent"],
  summary: "Leave the waitlist (idempotent); a seat granted and not yet collected is released",
  request: { params: SessionParams },
  responses: { 204: noContent, ...commonErrors },
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
    const { session_id, wait } = c.req.valid("json");
    const answer = unwrap(await seatsOf(c.env, agent.accountId).checkout(agent.userId, agent.generation, session_id, wait ?? false));
    return "status" in answer ? c.json(answer, 202) : c.json(answer, 200);
  })
  .openapi(pollWait, async (c) => {
    const agent = requireAgent(c);
    const { session_id } = c.req.valid("param");
    const answer = unwrap(await seatsOf(c.env, agent.accountId).pollWait(agent.userId, agent.generation, session_id));
    return "status" in answer ? c.json(answer, 202) : c.json(answer, 200);
  })
  .openapi(leaveWait, async (c) => {
    const agent = requireAgent(c);
    const { session_id } = c.req.valid("param");
    unwrap(await seatsOf(c.env, agent.accountId).leaveWait(agent.userId, agent.generation, session_id));
    return c.body(null, 204);
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
