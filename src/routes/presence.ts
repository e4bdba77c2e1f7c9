import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { requireAgent, requireOperator, type AppEnv } from "../auth/caller";
import { database } from "../db/client";
import { findAccount } from "../db/accounts";
import { ApiError, notFound, problemBody, unwrap, validationHook } from "../errors";
import { parseTicket } from "../seats/connect-tickets";
import { CLOSE, refuseUpgrade } from "../seats/presence";
import { seatsOf } from "../seats/stub";
import { AccountParams, body, commonErrors, json, problem, SessionId, Timestamp } from "./schemas";

/** The path the authentication middleware lets through: the ticket is the credential. */
export const CONNECT_PATH = "/v1/seats/connect";

const Ticket = z
  .object({
    ticket: z.string().openapi({ description: "One-time: valid 60 s, for one upgrade of this session. Never log it." }),
    expires_at: Timestamp,
  })
  .openapi("ConnectTicket");

const connectTicket = createRoute({
  method: "post",
  path: "/v1/seats/connect-ticket",
  operationId: "createConnectTicket",
  tags: ["agent"],
  summary: "A one-time ticket for the presence WebSocket (browsers cannot send Authorization on a socket)",
  request: { body: body(z.object({ session_id: SessionId })) },
  responses: { 201: json(Ticket, "Issued"), ...commonErrors },
});

const CONNECT_DESCRIPTION = `Upgrade to a WebSocket that holds this session's seat while it is open (see docs/api.md, "WebSocket presence").

The object checks the seat out under the same rules as \`POST /v1/seats/checkout\`, then sends JSON messages:
- \`seat.granted\`: the checkout answer's fields plus \`entitlements\`;
- \`seat.denied\`: \`{ problem }\` (RFC 9457, e.g. \`no_license\`, \`pool_at_ceiling\`, \`unauthorized\`), then the socket closes;
- \`seat.revoked\`: \`{ reason, detail }\` with reason \`license_revoked\`, \`license_moved\`, \`seat_released\`, \`user_deleted\`, \`tokens_revoked\`, \`session_evicted\` or \`session_ended\`, then the socket closes with 4410;
- \`entitlements.changed\`: \`{ entitlements }\` after an add-on is granted or removed.

The client sends the text \`ping\` (answered \`pong\` without waking the object) at least every \`heartbeat_interval_seconds\`, and \`{"type":"release"}\` to free the seat at once. A socket silent for longer than the lease is closed (4408); a closed socket frees its seat after the account's \`reconnect_grace_seconds\` unless the same session reconnects.

Waiting (\`?wait=true\`, docs/api.md#waiting-on-the-socket): a checkout refused for the ceiling (\`pool_at_ceiling\`, \`team_at_ceiling\`) keeps the socket open and sends \`seat.waiting\` (\`position\`, \`waiting\`, \`reason\`, \`expires_at\`), again whenever the place changes, then \`seat.granted\` when a seat is handed to the session (docs/licensing.md#the-waitlist). The open socket keeps the entry alive; \`{"type":"release"}\` leaves the queue; a closed socket keeps the place for the reconnect grace. A waiter whose license is revoked or moved gets \`seat.revoked\` (\`license_revoked\`, \`license_moved\`) and 4410.

Close codes: 1000 released or ended; 4400 bad message; 4401 ticket unknown, used or expired, or tokens revoked; 4403 no license (or not an agent); 4408 silent longer than the lease; 4409 pool at its ceiling; 4410 seat revoked.`;

const connect = createRoute({
  method: "get",
  path: CONNECT_PATH,
  operationId: "connectPresence",
  tags: ["agent"],
  summary: "WebSocket presence: hold a seat for as long as the socket is open",
  description: CONNECT_DESCRIPTION,
  security: [],
  request: {
    query: z.object({
      ticket: z.string().max(300).openapi({ param: { name: "ticket", in: "query" }, description: "From POST /v1/seats/connect-ticket" }),
      wait: z
        .enum(["true", "false"])
        .optional()
        .openapi({ param: { name: "wait", in: "query" }, description: "`true`: at the pool's ceiling or the team's cap, wait on the socket (seat.waiting, then seat.granted) instead of seat.denied and 4409" }),
    }),
  },
  responses: {
    101: { description: "Switching Protocols: the socket is open; a refused ticket or checkout is reported on it (seat.denied, then a 44xx close)" },
    400: problem("invalid_request: no ticket"),
    426: problem("upgrade_required: not a WebSocket upgrade"),
  },
});

const Stats = z
  .object({
    account_id: z.string(),
    invocations: z.number().int().openapi({ description: "Everything that ran the object's code: requests + socket_messages + socket_closes + alarms" }),
    requests: z.number().int().openapi({ description: "Agent calls into the object (checkout, heartbeat, release, tickets, /v1/me) and WebSocket upgrades" }),
    checkouts: z.number().int(),
    heartbeats: z.number().int(),
    releases: z.number().int(),
    tickets: z.number().int(),
    socket_connects: z.number().int(),
    socket_messages: z.number().int().openapi({ description: "Messages the object handled; auto-answered pings are not among them" }),
    socket_closes: z.number().int(),
    alarms: z.number().int(),
    open_sockets: z.number().int(),
    connected_users: z.number().int(),
  })
  .openapi("AccountStats");

const stats = createRoute({
  method: "get",
  path: "/v1/accounts/{account_id}/stats",
  operationId: "getAccountStats",
  tags: ["operator"],
  summary: "What woke the account's Durable Object, counted by the object (operator only)",
  request: { params: AccountParams },
  responses: { 200: json(Stats), ...commonErrors },
});

export const presenceRoutes = new OpenAPIHono<AppEnv>({ defaultHook: validationHook })
  .openapi(connectTicket, async (c) => {
    const agent = requireAgent(c);
    const { session_id } = c.req.valid("json");
    return c.json(unwrap(await seatsOf(c.env, agent.accountId).issueTicket(agent.userId, agent.generation, session_id)), 201);
  })
  .openapi(
    connect,
    async (c) => {
      if (c.req.header("upgrade")?.toLowerCase() !== "websocket") {
        throw new ApiError("upgrade_required", "Connect with a WebSocket upgrade (Upgrade: websocket).");
      }
      const parsed = parseTicket(c.req.valid("query").ticket);
      if (!parsed) {
        const refusal = new ApiError("unauthorized", "The ticket is not valid; get a new one from POST /v1/seats/connect-ticket.");
        return refuseUpgrade(problemBody(refusal, CONNECT_PATH), CLOSE.unauthorized) as never;
      }
      // The account's object checks and consumes the ticket and holds the socket.
      return (await seatsOf(c.env, parsed.accountId).fetch(c.req.raw)) as never;
    },
  )
  .openapi(stats, async (c) => {
    requireOperator(c);
    const { account_id } = c.req.valid("param");
    if (!(await findAccount(database(c.env.DB), account_id))) throw notFound(`Account ${account_id}`);
    return c.json(await seatsOf(c.env, account_id).stats(), 200);
  });
