import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { requireAccountAdmin, type AppEnv } from "../auth/caller";
import { DENIAL_REASONS } from "../domain/denials";
import { POOL_IDS } from "../domain/catalog";
import { invalid, validationHook } from "../errors";
import { seatsOf } from "../seats/stub";
import { CursorKeys, decodeCursor, encodeCursor } from "./cursor";
import { CSV_PAGE, CsvFormat, csvContent, csvResponse, paged, wantsCsv } from "./csv";
import { AccountParams, commonErrors, json, Page, pageOf, PoolIdOut, Timestamp } from "./schemas";

/** The longest window one query reads: the usage log's retention. */
const MAX_WINDOW_MS = 400 * 86_400_000;

const Denial = z
  .object({
    user_id: z.string(),
    pool: PoolIdOut.nullable().openapi({ description: "The pool the refusal counted under; null for a user with no license" }),
    at: Timestamp.openapi({ description: "The user's last refusal in the window" }),
    reason: z.enum(DENIAL_REASONS),
    refusals: z.number().int().openapi({ description: "The user's refusals in the window (under the pool filter)" }),
    true_denial: z
      .boolean()
      .nullable()
      .openapi({ description: "true: the user held no seat in the 5 minutes after `at`; false: they did; null: those 5 minutes have not passed yet" }),
  })
  .openapi("Denial");

const denials = createRoute({
  method: "get",
  path: "/v1/accounts/{account_id}/denials",
  operationId: "listDenials",
  tags: ["seats"],
  summary: "Refused checkouts: per user, the last refusal in the window, its reason and whether it was a true denial",
  request: {
    params: AccountParams,
    query: Page.extend({
      from: z.iso.datetime().optional().openapi({ param: { name: "from", in: "query" }, description: "default: `to` minus 24 h; read at whole minutes" }),
      to: z.iso.datetime().optional().openapi({ param: { name: "to", in: "query" }, description: "default: now; read at whole minutes" }),
      pool: z
        .enum(["none", ...POOL_IDS] as [string, ...string[]])
        .optional()
        .openapi({ param: { name: "pool", in: "query" }, description: "Only refusals under this pool; `none`: users with no license" }),
      format: CsvFormat,
    }),
  },
  responses: { 200: { description: "OK", content: { ...json(pageOf(Denial)).content, ...csvContent } }, ...commonErrors },
});

const COLUMNS = ["user_id", "pool", "at", "reason", "refusals", "true_denial"] as const;

export const denialRoutes = new OpenAPIHono<AppEnv>({ defaultHook: validationHook }).openapi(denials, async (c) => {
  const { account_id } = c.req.valid("param");
  await requireAccountAdmin(c, account_id);
  const q = c.req.valid("query");
  const to = q.to ? Date.parse(q.to) : Date.now();
  const from = q.from ? Date.parse(q.from) : to - 86_400_000;
  if (from >= to) throw invalid("`from` must be before `to`.", [{ path: "from", message: "must be before to" }]);
  if (to - from > MAX_WINDOW_MS) throw invalid("The window is at most 400 days.", [{ path: "from", message: "window longer than 400 days" }]);
  const query = { from, to, ...(q.pool === undefined ? {} : { pool: q.pool === "none" ? null : q.pool }) };
  const seats = seatsOf(c.env, account_id);
  if (wantsCsv(c, q.format)) {
    const pages = paged((after: string | null) => seats.denials(query, after, CSV_PAGE));
    return csvResponse(`denials-${account_id}.csv`, COLUMNS, pages, (d) => COLUMNS.map((k) => d[k])) as never;
  }
  const after = decodeCursor(q.cursor, CursorKeys.denial);
  const page = await seats.denials(query, after?.[0] ?? null, q.limit);
  return c.json({ items: page.items, next_cursor: encodeCursor(page.next === null ? null : [page.next]) }, 200);
});
