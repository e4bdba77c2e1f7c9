import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { requireAccountAdmin, type AppEnv } from "../auth/caller";
import { listAudit } from "../db/audit";
import { database } from "../db/client";
import { listOverages, overageView } from "../db/overages";
import { validationHook } from "../errors";
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
  });
