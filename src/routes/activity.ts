import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { and, desc, eq, gte, isNull, lt, or } from "drizzle-orm";
import { requireAccountAdmin, type AppEnv } from "../auth/caller";
import { listAudit } from "../db/audit";
import { database } from "../db/client";
import { overageIntervals } from "../db/schema";
import { validationHook } from "../errors";
import { seatsOf } from "../seats/stub";
import { decodeCursor, encodeCursor } from "./cursor";
import { AccountParams, commonErrors, Interval, json, Page, pageOf, Timestamp } from "./schemas";

const AuditEntry = z
  .object({ id: z.number().int(), at: Timestamp, actor: z.string(), action: z.string(), target: z.string(), detail: z.record(z.string(), z.unknown()) })
  .openapi("AuditEntry");

const audit = createRoute({
  method: "get",
  path: "/v1/accounts/{account_id}/audit",
  tags: ["account"],
  summary: "The audit log, newest first",
  request: { params: AccountParams, query: Page },
  responses: { 200: json(pageOf(AuditEntry)), ...commonErrors },
});

const overages = createRoute({
  method: "get",
  path: "/v1/accounts/{account_id}/overages",
  tags: ["seats"],
  summary: "Over-limit intervals (open ones with live figures), newest first",
  request: {
    params: AccountParams,
    query: Page.extend({
      from: z.iso.datetime().optional().openapi({ param: { name: "from", in: "query" } }),
      to: z.iso.datetime().optional().openapi({ param: { name: "to", in: "query" } }),
    }),
  },
  responses: { 200: json(pageOf(Interval)), ...commonErrors },
});

export const activityRoutes = new OpenAPIHono<AppEnv>({ defaultHook: validationHook })
  .openapi(audit, async (c) => {
    const { account_id } = c.req.valid("param");
    await requireAccountAdmin(c, account_id);
    const { limit, cursor } = c.req.valid("query");
    const page = await listAudit(database(c.env.DB), account_id, limit, decodeCursor<number>(cursor, "number"));
    return c.json({ items: page.items, next_cursor: encodeCursor(page.next) }, 200);
  })
  .openapi(overages, async (c) => {
    const { account_id } = c.req.valid("param");
    await requireAccountAdmin(c, account_id);
    const q = c.req.valid("query");
    const after = decodeCursor<string>(q.cursor, "string");
    const [afterStart, afterId] = after ? after.split("|") : [null, null];
    // The account's object first: it decides what is due and hands D1 its pending records, so the
    // rows read next agree with the seats view and the webhooks (decision 030).
    const live = await seatsOf(c.env, account_id).openIntervals();
    const rows = await database(c.env.DB)
      .select()
      .from(overageIntervals)
      .where(
        and(
          eq(overageIntervals.accountId, account_id),
          // An interval is in [from, to) when it overlaps it: started before `to`, not ended before `from`.
          q.to ? lt(overageIntervals.startedAt, new Date(q.to).toISOString()) : undefined,
          q.from ? or(gte(overageIntervals.endedAt, new Date(q.from).toISOString()), isNull(overageIntervals.endedAt)) : undefined,
          afterStart && afterId
            ? or(lt(overageIntervals.startedAt, afterStart), and(eq(overageIntervals.startedAt, afterStart), lt(overageIntervals.id, afterId)))
            : undefined,
        ),
      )
      .orderBy(desc(overageIntervals.startedAt), desc(overageIntervals.id))
      .limit(q.limit + 1)
      .all();
    const page = rows.slice(0, q.limit);
    const liveById = new Map(live.map((i) => [i.id, i]));
    const items = page.map(
      (r) =>
        liveById.get(r.id) ?? {
          id: r.id,
          pool: r.poolId,
          started_at: r.startedAt,
          ended_at: r.endedAt,
          peak_active: r.peakActive,
          peak_overage: r.peakOverage,
          overage_seat_seconds: r.overageSeatSeconds,
          billable: r.billable,
          billable_overage_seats: r.billableOverageSeats,
          billable_seat_seconds: r.billableSeatSeconds,
        },
    );
    const last = page[page.length - 1];
    return c.json({ items, next_cursor: rows.length > q.limit ? encodeCursor(`${last.startedAt}|${last.id}`) : null }, 200);
  });
