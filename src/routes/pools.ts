import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { actorOf, requireAccountAdmin, type AppEnv } from "../auth/caller";
import { invalid, unwrap, validationHook } from "../errors";
import { seatsOf } from "../seats/stub";
import { AccountParams, body, commonErrors, Interval, json, noContent, Pool, PoolParams, problem, Quantity, Timestamp, UserParams, PoolIdSchema } from "./schemas";
import { MAX_ALERTS, MAX_PERCENT, MIN_PERCENT, REARM_POINTS } from "../domain/thresholds";
import { csvContent, csvResponse, indexChunks, wantsCsv } from "./csv";

const PutPool = z.object({
  quantity: Quantity,
  max_active: z.number().int().min(1).max(1_000_000).nullable().optional().openapi({ description: "Concurrent pools: a hard ceiling of active seats. Omitted keeps the current ceiling; null removes it." }),
  alerts: z
    .array(z.number().int().min(MIN_PERCENT).max(MAX_PERCENT))
    .max(MAX_ALERTS)
    .refine((a) => new Set(a).size === a.length, "no percentage twice")
    .optional()
    .openapi({ description: `Threshold alerts: percentages of the quantity (${MIN_PERCENT} to ${MAX_PERCENT}, at most ${MAX_ALERTS}, no repeats; [] for none). Each upward crossing sends pool.threshold; a threshold re-arms once the pool falls ${REARM_POINTS} points below it. Omitted keeps the current list (default [80, 100]).` }),
});

const Seats = z
  .object({
    limit: z.number().int(),
    active: z.number().int(),
    over_limit: z.boolean(),
    interval: Interval.nullable(),
    items: z.array(z.object({ user_id: z.string(), sessions: z.number().int(), since: Timestamp, expires_at: Timestamp })),
  })
  .openapi("PoolSeats");

/** At most this many buckets per usage query: 30 days of minutes fits. */
const MAX_BUCKETS = 50_000;

const UsageQuery = z.object({
  from: z.iso.datetime().optional().openapi({ param: { name: "from", in: "query" }, description: "default: `to` minus 24 h" }),
  to: z.iso.datetime().optional().openapi({ param: { name: "to", in: "query" }, description: "default: now" }),
  step_seconds: z.coerce.number().int().min(1).max(31 * 86_400).default(60).openapi({ param: { name: "step_seconds", in: "query" } }),
  format: z
    .enum(["rows", "columnar", "csv"])
    .default("rows")
    .openapi({
      param: { name: "format", in: "query" },
      description:
        "`rows` (default): `items`, one object per bucket. `columnar`: `{from, step_seconds, max_active, limit, denied}`, bucket k starting at from + k × step_seconds; 30 days of minutes (43,200 buckets) stays well under 1 MB. `csv`: RFC 4180 rows `t,max_active,limit,denied`.",
    }),
});

const Denied = z.number().int().openapi({ description: "Refused checkouts under the pool (docs/licensing.md#denials), counted per minute: a minute's count lands in the bucket holding its start" });
const UsageRows = z.object({ items: z.array(z.object({ t: Timestamp, max_active: z.number().int(), limit: z.number().int(), denied: Denied })) }).openapi("UsageRows");
const UsageColumns = z
  .object({
    from: Timestamp,
    step_seconds: z.number().int(),
    max_active: z.array(z.number().int()).openapi({ description: "max seats in use in bucket k" }),
    limit: z.array(z.number().int()).openapi({ description: "max limit (quantity) in bucket k" }),
    denied: z.array(z.number().int()).openapi({ description: "refused checkouts in bucket k (per minute, see UsageRows)" }),
  })
  .openapi("UsageColumns");

const putPool = createRoute({
  method: "put",
  path: "/v1/accounts/{account_id}/pools/{pool_id}",
  operationId: "putPool",
  tags: ["pools"],
  summary: "Create a pool or change its quantity and ceiling",
  request: { params: PoolParams, body: body(PutPool) },
  responses: { 200: json(Pool), ...commonErrors, 409: problem("quantity_below_assigned") },
});

const listPools = createRoute({
  method: "get",
  path: "/v1/accounts/{account_id}/pools",
  operationId: "listPools",
  tags: ["pools"],
  summary: "The account's pools with live counts",
  request: { params: AccountParams },
  responses: { 200: json(z.object({ items: z.array(Pool) })), ...commonErrors },
});

const poolSeats = createRoute({
  method: "get",
  path: "/v1/accounts/{account_id}/pools/{pool_id}/seats",
  operationId: "listPoolSeats",
  tags: ["seats"],
  summary: "Who holds a seat in the pool now",
  request: { params: PoolParams },
  responses: { 200: json(Seats), ...commonErrors },
});

const forceRelease = createRoute({
  method: "delete",
  path: "/v1/accounts/{account_id}/pools/{pool_id}/seats/{user_id}",
  operationId: "forceReleaseSeat",
  tags: ["seats"],
  summary: "Force-release a user's seat (ends all their sessions)",
  request: { params: UserParams.extend({ pool_id: PoolIdSchema.openapi({ param: { name: "pool_id", in: "path" } }) }) },
  responses: { 204: noContent, ...commonErrors },
});

const usage = createRoute({
  method: "get",
  path: "/v1/accounts/{account_id}/pools/{pool_id}/usage",
  operationId: "getPoolUsage",
  tags: ["seats"],
  summary: "Seats in use over time: max active and the limit per bucket (rows, or columns with format=columnar)",
  request: { params: PoolParams, query: UsageQuery },
  responses: { 200: { description: "OK", content: { ...json(z.union([UsageRows, UsageColumns])).content, ...csvContent } }, ...commonErrors },
});

export const poolRoutes = new OpenAPIHono<AppEnv>({ defaultHook: validationHook })
  .openapi(putPool, async (c) => {
    const { account_id, pool_id } = c.req.valid("param");
    await requireAccountAdmin(c, account_id);
    const { quantity, max_active, alerts } = c.req.valid("json");
    const pool = unwrap(await seatsOf(c.env, account_id).putPool(pool_id, quantity, max_active, actorOf(c.get("caller")), alerts));
    return c.json(pool, 200);
  })
  .openapi(listPools, async (c) => {
    const { account_id } = c.req.valid("param");
    await requireAccountAdmin(c, account_id);
    return c.json({ items: await seatsOf(c.env, account_id).listPools() }, 200);
  })
  .openapi(poolSeats, async (c) => {
    const { account_id, pool_id } = c.req.valid("param");
    await requireAccountAdmin(c, account_id);
    return c.json(unwrap(await seatsOf(c.env, account_id).poolSeats(pool_id)), 200);
  })
  .openapi(forceRelease, async (c) => {
    const { account_id, pool_id, user_id } = c.req.valid("param");
    await requireAccountAdmin(c, account_id);
    unwrap(await seatsOf(c.env, account_id).forceRelease(pool_id, user_id, actorOf(c.get("caller"))));
    return c.body(null, 204);
  })
  .openapi(usage, async (c) => {
    const { account_id, pool_id } = c.req.valid("param");
    await requireAccountAdmin(c, account_id);
    const q = c.req.valid("query");
    const to = q.to ? Date.parse(q.to) : Date.now();
    const from = q.from ? Date.parse(q.from) : to - 86_400_000;
    if (from >= to) throw invalid("`from` must be before `to`.", [{ path: "from", message: "must be before to" }]);
    if ((to - from) / (q.step_seconds * 1000) > MAX_BUCKETS) {
      throw invalid(`At most ${MAX_BUCKETS} buckets per query; raise step_seconds.`, [{ path: "step_seconds", message: "too small for this range" }]);
    }
    const columns = unwrap(await seatsOf(c.env, account_id).usage(pool_id, { from, to }, q.step_seconds));
    if (q.format === "columnar") return c.json(columns, 200);
    if (q.format === "csv" || (c.req.query("format") === undefined && wantsCsv(c, undefined))) {
      const stepMs = q.step_seconds * 1000;
      return csvResponse(`usage-${pool_id}.csv`, ["t", "max_active", "limit", "denied"], indexChunks(columns.max_active.length), (k) => [new Date(from + k * stepMs).toISOString(), columns.max_active[k], columns.limit[k], columns.denied[k]]) as never;
    }
    const items = columns.max_active.map((m, k) => ({
      t: new Date(from + k * q.step_seconds * 1000).toISOString(),
      max_active: m,
      limit: columns.limit[k],
      denied: columns.denied[k],
    }));
    return c.json({ items }, 200);
  });
