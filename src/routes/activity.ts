import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { requireAccountAdmin, type AppEnv } from "../auth/caller";
import { listAudit } from "../db/audit";
import { database } from "../db/client";
import { findOverage, listOverages, overageView } from "../db/overages";
import { notFound, validationHook } from "../errors";
import type { PoolId } from "../domain/catalog";
import { seatsOf } from "../seats/stub";
import { CursorKeys, decodeCursor, encodeCursor } from "./cursor";
import { CSV_PAGE, CsvFormat, csvContent, csvResponse, paged, wantsCsv, type Cell } from "./csv";
import { AccountParams, commonErrors, Interval, json, Page, pageOf, Timestamp } from "./schemas";

const AuditEntry = z
  .object({ id: z.number().int(), at: Timestamp, actor: z.string(), action: z.string(), target: z.string(), detail: z.record(z.string(), z.unknown()) })
  .openapi("AuditEntry");

const audit = createRoute({
  method: "get",
  path: "/v1/accounts/{account_id}/audit",
  operationId: "listAudit",
  tags: ["account"],
  summary: "The audit log, newest first",
  request: { params: AccountParams, query: Page.extend({ format: CsvFormat }) },
  responses: { 200: { description: "OK", content: { ...json(pageOf(AuditEntry)).content, ...csvContent } }, ...commonErrors },
});

const overages = createRoute({
  method: "get",
  path: "/v1/accounts/{account_id}/overages",
  operationId: "listOverages",
  tags: ["seats"],
  summary: "Over-limit intervals (open ones with live figures), newest first",
  request: {
    params: AccountParams,
    query: Page.extend({
      from: z.iso.datetime().optional().openapi({ param: { name: "from", in: "query" } }),
      to: z.iso.datetime().optional().openapi({ param: { name: "to", in: "query" } }),
      format: CsvFormat,
    }),
  },
  responses: { 200: { description: "OK", content: { ...json(pageOf(Interval)).content, ...csvContent } }, ...commonErrors },
});

const INTERVAL_COLUMNS = Object.keys(Interval.shape);

const Holder = z
  .object({
    user_id: z.string(),
    held_from: Timestamp.openapi({ description: "When the user took the seat (not clipped to the interval)" }),
    held_to: Timestamp.nullable().openapi({ description: "When the seat was freed (not clipped); null while it is held" }),
    billable_seconds: z.number().openapi({ description: "How long this hold overlapped the interval's billable part" }),
    at_peak: z.boolean().openapi({ description: "Held at some instant the interval's billable peak (billable_overage_seats) was reached" }),
  })
  .openapi("IntervalHolder");

const HolderParams = AccountParams.extend({
  interval_id: z.string().min(1).max(256).openapi({ param: { name: "interval_id", in: "path" }, example: "ov_premium-concurrent_1893484800000" }),
});

const holders = createRoute({
  method: "get",
  path: "/v1/accounts/{account_id}/overages/{interval_id}/holders",
  operationId: "listIntervalHolders",
  tags: ["seats"],
  summary: "Who counted: the users who held seats during an interval's billable part, with their hold times",
  description:
    "One row per hold (a user who took a seat twice is listed twice), in `held_from` order; a hold is listed when it overlapped the billable part (the instants where billable_now > 0) for a positive length. Hold times are not clipped to the interval. Empty for an interval that never became billable. With `format=csv` (or `Accept: text/csv`) the whole list streams as CSV.",
  request: {
    params: HolderParams,
    query: Page.extend({
      at_peak: z.enum(["true", "false"]).optional().openapi({ param: { name: "at_peak", in: "query" }, description: "`true`: only the holds present when the billable peak was reached" }),
      format: CsvFormat,
    }),
  },
  responses: {
    200: { description: "OK", content: { ...json(pageOf(Holder).extend({ interval: Interval })).content, ...csvContent } },
    ...commonErrors,
  },
});

const HOLDER_COLUMNS = ["interval_id", "pool", "user_id", "held_from", "held_to", "billable_seconds", "at_peak"];

export const activityRoutes = new OpenAPIHono<AppEnv>({ defaultHook: validationHook })
  .openapi(audit, async (c) => {
    const { account_id } = c.req.valid("param");
    await requireAccountAdmin(c, account_id);
    const { limit, cursor, format } = c.req.valid("query");
    const db = database(c.env.DB);
    if (wantsCsv(c, format)) {
      const pages = paged((after: readonly [number] | null) => listAudit(db, account_id, CSV_PAGE, after));
      return csvResponse(`audit-${account_id}.csv`, ["id", "at", "actor", "action", "target", "detail"], pages, (e) => [e.id, e.at, e.actor, e.action, e.target, JSON.stringify(e.detail)]) as never;
    }
    const page = await listAudit(db, account_id, limit, decodeCursor(cursor, CursorKeys.audit));
    return c.json({ items: page.items, next_cursor: encodeCursor(page.next) }, 200);
  })
  .openapi(overages, async (c) => {
    const { account_id } = c.req.valid("param");
    await requireAccountAdmin(c, account_id);
    const q = c.req.valid("query");
    // The account's object first: it decides what is due and hands D1 its pending records, so the
    // rows read next agree with the seats view and the webhooks (decision 030). Open intervals
    // come live from it; closed ones are final in D1.
    const live = await seatsOf(c.env, account_id).openIntervals();
    const window = { from: q.from && new Date(q.from).toISOString(), to: q.to && new Date(q.to).toISOString() };
    const liveById = new Map(live.map((i) => [i.id, i]));
    if (wantsCsv(c, q.format)) {
      const db = database(c.env.DB);
      const pages = paged(async (after: readonly [string, string] | null) => {
        const page = await listOverages(db, account_id, window, CSV_PAGE, after);
        return { items: page.items.map((r) => liveById.get(r.id) ?? overageView(r)), next: page.next };
      });
      return csvResponse(`overages-${account_id}.csv`, INTERVAL_COLUMNS, pages, (i) => INTERVAL_COLUMNS.map((k) => (i as Record<string, Cell>)[k])) as never;
    }
    const page = await listOverages(database(c.env.DB), account_id, window, q.limit, decodeCursor(q.cursor, CursorKeys.overage));
    const items = page.items.map((r) => liveById.get(r.id) ?? overageView(r));
    return c.json({ items, next_cursor: encodeCursor(page.next) }, 200);
  })
  .openapi(holders, async (c) => {
    const { account_id, interval_id } = c.req.valid("param");
    await requireAccountAdmin(c, account_id);
    const q = c.req.valid("query");
    const seats = seatsOf(c.env, account_id);
    // As for the list: the object first, so an interval that just ended is in D1 with its end.
    const live = (await seats.openIntervals()).find((i) => i.id === interval_id);
    const row = live ?? (await findOverage(database(c.env.DB), account_id, interval_id).then((r) => r && overageView(r)));
    if (!row) throw notFound(`Interval ${interval_id}`);
    const base = {
      pool: row.pool as PoolId,
      startedAt: Date.parse(row.started_at),
      endedAt: row.ended_at === null ? null : Date.parse(row.ended_at),
      atPeakOnly: q.at_peak === "true",
    };
    const toMs = (key: readonly [string, string] | null) => (key ? ([Date.parse(key[0]), key[1]] as const) : null);
    const toKey = (next: readonly [number, string] | null) => (next ? ([new Date(next[0]).toISOString(), next[1]] as const) : null);
    if (wantsCsv(c, q.format)) {
      const pages = paged(async (after: readonly [number, string] | null) => {
        const page = await seats.intervalHolders({ ...base, limit: CSV_PAGE, after });
        return { items: page.items, next: page.next as [number, string] | null };
      });
      return csvResponse(`holders-${interval_id}.csv`, HOLDER_COLUMNS, pages, (h) => [row.id, row.pool, h.user_id, h.held_from, h.held_to, h.billable_seconds, h.at_peak]) as never;
    }
    const page = await seats.intervalHolders({ ...base, limit: q.limit, after: toMs(decodeCursor(q.cursor, CursorKeys.holder)) });
    return c.json({ interval: row, items: page.items, next_cursor: encodeCursor(toKey(page.next as [number, string] | null)) }, 200);
  });
