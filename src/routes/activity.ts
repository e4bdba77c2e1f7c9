import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { requireAccountAdmin, type AppEnv } from "../auth/caller";
import { listAudit } from "../db/audit";
import { database } from "../db/client";
import { listOverages, overageView } from "../db/overages";
import { validationHook } from "../errors";
import { seatsOf } from "../seats/stub";
import { CursorKeys, decodeCursor, encodeCursor } from "./cursor";
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
    const page = await listAudit(database(c.env.DB), account_id, limit, decodeCursor(cursor, CursorKeys.audit));
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
    const page = await listOverages(database(c.env.DB), account_id, window, q.limit, decodeCursor(q.cursor, CursorKeys.overage));
    const liveById = new Map(live.map((i) => [i.id, i]));
    const items = page.items.map((r) => liveById.get(r.id) ?? overageView(r));
    return c.json({ items, next_cursor: encodeCursor(page.next) }, 200);
  });
