import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { actorOf, requireAccountAdmin, type AppEnv } from "../auth/caller";
import { invalid, unwrap, validationHook } from "../errors";
import { seatsOf } from "../seats/stub";
import { AccountParams, body, commonErrors, Interval, json, noContent, Pool, PoolParams, problem, Quantity, TeamName, Timestamp, UserParams, PoolIdSchema } from "./schemas";
import { MAX_ALERTS, MAX_PERCENT, MIN_PERCENT, REARM_POINTS } from "../domain/thresholds";
import { CsvFormat, csvContent, csvResponse, indexChunks, wantsCsv } from "./csv";

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
    billable_now: z.number().int().openapi({ description: "Places over the limit billable now, under the account's grace policy" }),
    grace_ends_at: Timestamp.nullable().openapi({ description: "When the next place over the limit becomes billable if nothing changes (under the grace policy); null when none will" }),
    interval: Interval.nullable(),
    items: z.array(z.object({ user_id: z.string(), sessions: z.number().int(), since: Timestamp, expires_at: Timestamp })),
  })
  .openapi("PoolSeats");

/** At most this many buckets per usage query: 30 days of minutes fits. */
const MAX_BUCKETS = 50_000;

const WindowQuery = z.object({
  from: z.iso.datetime().optional().openapi({ param: { name: "from", in: "query" }, description: "default: `to` minus 24 h" }),
  to: z.iso.datetime().optional().openapi({ param: { name: "to", in: "query" }, description: "default: now" }),
});

const UsageQuery = WindowQuery.extend({
  step_seconds: z.coerce.number().int().min(1).max(31 * 86_400).default(60).openapi({ param: { name: "step_seconds", in: "query" } }),
  format: z
    .enum(["rows", "columnar", "csv"])
    .default("rows")
    .openapi({
      param: { name: "format", in: "query" },
      description:
        "`rows` (default): `items`, one object per bucket. `columnar`: `{from, step_seconds, max_active, limit, denied}`, bucket k starting at from + k × step_seconds; 30 days of minutes (43,200 buckets) stays well under 1 MB. `csv`: RFC 4180 rows `t,max_active,limit,denied`. With `team`: `{from, step_seconds, team, max_active, seat_seconds, billable_seat_seconds}`, rows `t,max_active,seat_seconds,billable_seat_seconds`, CSV `t,team,max_active,seat_seconds,billable_seat_seconds`.",
    }),
  team: TeamName.optional().openapi({
    param: { name: "team", in: "query" },
    description:
      "One team's buckets instead of the pool's (docs/licensing.md#chargeback-by-team): its members' most seats at once, seat time, and the billable seat time attributed to it. A team no user has answers zeros. Buckets after now are zeros.",
  }),
});

const TeamSeconds = z.number().openapi({ description: "seconds (may have a fractional part: times are kept in milliseconds)" });
const TeamUsageRows = z
  .object({
    team: z.string(),
    items: z.array(z.object({ t: Timestamp, max_active: z.number().int(), seat_seconds: TeamSeconds, billable_seat_seconds: TeamSeconds })),
  })
  .openapi("TeamUsageRows");
const TeamUsageColumns = z
  .object({
    from: Timestamp,
    step_seconds: z.number().int(),
    team: z.string(),
    max_active: z.array(z.number().int()).openapi({ description: "the most of the team's members holding a seat at once in bucket k" }),
    seat_seconds: z.array(TeamSeconds).openapi({ description: "the team's seat time in bucket k" }),
    billable_seat_seconds: z.array(TeamSeconds).openapi({ description: "the billable seat time attributed to the team in bucket k (last in, first over)" }),
  })
  .openapi("TeamUsageColumns");

const TeamLine = z
  .object({
    team: z.string().nullable().openapi({ description: "null: users without a team (and billable places no logged holder held)" }),
    peak_active: z.number().int().openapi({ description: "the most of the team's members holding a seat in the pool at once" }),
    seat_seconds: TeamSeconds,
    billable_seat_seconds: TeamSeconds.openapi({ description: "the pool's billable seat time attributed to the team; the teams' add up to the pool's" }),
  })
  .openapi("TeamChargeback");

const ChargebackQuery = WindowQuery.extend({ format: CsvFormat });
const Chargeback = z.object({ pool: z.string(), from: Timestamp, to: Timestamp, items: z.array(TeamLine) }).openapi("PoolChargeback");

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
  summary: "Seats in use over time: max active and the limit per bucket (rows, or columns with format=columnar); with team=, one team's usage and billable share",
  request: { params: PoolParams, query: UsageQuery },
  responses: { 200: { description: "OK", content: { ...json(z.union([UsageRows, UsageColumns, TeamUsageRows, TeamUsageColumns])).content, ...csvContent } }, ...commonErrors },
});

const chargeback = createRoute({
  method: "get",
  path: "/v1/accounts/{account_id}/pools/{pool_id}/chargeback",
  operationId: "getPoolChargeback",
  tags: ["seats"],
  summary: "Chargeback by team: per team of the pool, peak active, seat time and the billable seat time attributed to it",
  description:
    "Every team with seat time or billable time in the window (docs/licensing.md#chargeback-by-team), sorted by billable_seat_seconds descending, then team (null last). The window stops at now. `format=csv` (or `Accept: text/csv`): rows `team,peak_active,seat_seconds,billable_seat_seconds`.",
  request: { params: PoolParams, query: ChargebackQuery },
  responses: { 200: { description: "OK", content: { ...json(Chargeback).content, ...csvContent } }, ...commonErrors },
});

/** The query's window: default the last 24 h; `from` before `to` (400 otherwise). */
function windowOf(q: { from?: string; to?: string }): { from: number; to: number } {
  const to = q.to ? Date.parse(q.to) : Date.now();
  const from = q.from ? Date.parse(q.from) : to - 86_400_000;
  if (from >= to) throw invalid("`from` must be before `to`.", [{ path: "from", message: "must be before to" }]);
  return { from, to };
}

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
    const { from, to } = windowOf(q);
    if ((to - from) / (q.step_seconds * 1000) > MAX_BUCKETS) {
      throw invalid(`At most ${MAX_BUCKETS} buckets per query; raise step_seconds.`, [{ path: "step_seconds", message: "too small for this range" }]);
    }
    const csv = q.format === "csv" || (c.req.query("format") === undefined && wantsCsv(c, undefined));
    if (q.team !== undefined) {
      const view = unwrap(await seatsOf(c.env, account_id).chargeback({ kind: "usage", pool: pool_id, window: { from, to }, stepSeconds: q.step_seconds, team: q.team }));
      if (view.kind !== "usage") throw new Error("unexpected chargeback view");
      const t = view.columns;
      if (q.format === "columnar") return c.json(t, 200);
      const at = (k: number) => new Date(from + k * q.step_seconds * 1000).toISOString();
      if (csv) {
        return csvResponse(`usage-${pool_id}-${q.team}.csv`, ["t", "team", "max_active", "seat_seconds", "billable_seat_seconds"], indexChunks(t.max_active.length), (k) => [at(k), t.team, t.max_active[k], t.seat_seconds[k], t.billable_seat_seconds[k]]) as never;
      }
      const items = t.max_active.map((m, k) => ({ t: at(k), max_active: m, seat_seconds: t.seat_seconds[k], billable_seat_seconds: t.billable_seat_seconds[k] }));
      return c.json({ team: t.team, items }, 200);
    }
    const columns = unwrap(await seatsOf(c.env, account_id).usage(pool_id, { from, to }, q.step_seconds));
    if (q.format === "columnar") return c.json(columns, 200);
    if (csv) {
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
  })
  .openapi(chargeback, async (c) => {
    const { account_id, pool_id } = c.req.valid("param");
    await requireAccountAdmin(c, account_id);
    const q = c.req.valid("query");
    const window = windowOf(q);
    const view = unwrap(await seatsOf(c.env, account_id).chargeback({ kind: "teams", pool: pool_id, window }));
    if (view.kind !== "teams") throw new Error("unexpected chargeback view");
    if (wantsCsv(c, q.format)) {
      return csvResponse(`chargeback-${pool_id}.csv`, ["team", "peak_active", "seat_seconds", "billable_seat_seconds"], [view.items], (l) => [l.team, l.peak_active, l.seat_seconds, l.billable_seat_seconds]) as never;
    }
    return c.json({ pool: pool_id, from: new Date(window.from).toISOString(), to: new Date(window.to).toISOString(), items: view.items }, 200);
  });
