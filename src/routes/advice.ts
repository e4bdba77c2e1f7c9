import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { actorOf, requireAccountAdmin, type AppEnv } from "../auth/caller";
import { auditInsert } from "../db/audit";
import { writeBatch } from "../db/batch";
import { database } from "../db/client";
import { iso } from "../time";
import { deletePrices, findPrices, upsertPrices, type PriceList } from "../db/prices";
import { advise } from "../domain/advice";
import { ADDON_KEYS, POOL_IDS } from "../domain/catalog";
import { notFound, validationHook } from "../errors";
import { seatsOf } from "../seats/stub";
import { AccountParams, body, commonErrors, json, noContent } from "./schemas";

const Money = z.number().int().min(0).max(1_000_000_000).openapi({ description: "Integer minor units (cents) of the list's currency" });

const PoolPrice = z
  .object({
    seat: Money.openapi({ description: "One seat for one billing cycle" }),
    overage_seat: Money.openapi({ description: "One billable overage seat for one billing cycle" }),
  })
  .strict();

const AddonPrice = z.object({ seat: Money.openapi({ description: "One seat (or the account-wide add-on) for one billing cycle" }) }).strict();

const poolEntries = Object.fromEntries(POOL_IDS.map((id) => [id, PoolPrice.optional()])) as Record<string, z.ZodOptional<typeof PoolPrice>>;
const addonEntries = Object.fromEntries(ADDON_KEYS.map((key) => [key, AddonPrice.optional()])) as Record<string, z.ZodOptional<typeof AddonPrice>>;

const Prices = z
  .object({
    currency: z.string().regex(/^[A-Z]{3}$/, "an ISO 4217 code such as EUR").openapi({ example: "EUR" }),
    pools: z.object(poolEntries).strict().default({}),
    addons: z.object(addonEntries).strict().default({}),
  })
  .strict()
  .openapi("PriceList");

const CycleFigures = z.object({
  cycle_start: z.string(),
  cycle_end: z.string(),
  peak_active: z.number().int(),
  sustained_peak: z.number().int().openapi({ description: "The lowest quantity that would have billed no overage in this cycle" }),
});

const PoolAdvice = z
  .object({
    pool: z.string(),
    model: z.enum(["named", "concurrent"]),
    quantity: z.number().int(),
    cycles: z.array(CycleFigures).openapi({ description: "The cycles every figure of this pool rests on, oldest first" }),
    no_billable_overage_quantity: z.number().int().optional(),
    cheapest_quantity: z.number().int().nullable().optional(),
    cost_today: z.number().int().nullable().optional(),
    cost_cheapest: z.number().int().nullable().optional(),
    peak_concurrency: z.number().int().optional(),
    concurrent_pool: z.string().optional(),
    concurrent_quantity: z.number().int().optional(),
    saving: z.number().int().nullable(),
  })
  .openapi("PoolAdvice");

const Advice = z
  .object({
    currency: z.string().nullable(),
    pools: z.array(PoolAdvice),
    addons: z.array(z.object({ product: z.string(), needed: z.number().int(), covered: z.number().int(), shortfall: z.number().int() })),
  })
  .openapi("Advice");

const putPrices = createRoute({
  method: "put",
  path: "/v1/accounts/{account_id}/prices",
  operationId: "putPrices",
  tags: ["billing"],
  summary: "Set the account's price list (one currency, integer minor units)",
  request: { params: AccountParams, body: body(Prices) },
  responses: { 200: json(Prices), ...commonErrors },
});

const getPrices = createRoute({
  method: "get",
  path: "/v1/accounts/{account_id}/prices",
  operationId: "getPrices",
  tags: ["billing"],
  summary: "The account's price list",
  request: { params: AccountParams },
  responses: { 200: json(Prices), ...commonErrors },
});

const removePrices = createRoute({
  method: "delete",
  path: "/v1/accounts/{account_id}/prices",
  operationId: "deletePrices",
  tags: ["billing"],
  summary: "Remove the price list: summaries and advice carry no amounts",
  request: { params: AccountParams },
  responses: { 204: noContent, ...commonErrors },
});

const getAdvice = createRoute({
  method: "get",
  path: "/v1/accounts/{account_id}/advice",
  operationId: "getAdvice",
  tags: ["billing"],
  summary: "Right-sizing: per pool the quantity that would have billed no overage and the cheapest one over the last cycles",
  request: {
    params: AccountParams,
    query: z.object({ cycles: z.coerce.number().int().min(1).max(12).default(3).openapi({ param: { name: "cycles", in: "query" }, example: 3 }) }),
  },
  responses: { 200: json(Advice), ...commonErrors },
});

export const adviceRoutes = new OpenAPIHono<AppEnv>({ defaultHook: validationHook })
  .openapi(putPrices, async (c) => {
    const { account_id } = c.req.valid("param");
    await requireAccountAdmin(c, account_id);
    const input = c.req.valid("json") as PriceList;
    const db = database(c.env.DB);
    const at = iso(Date.now());
    await writeBatch(c.env.DB, [
      upsertPrices(db, account_id, input, at),
      auditInsert(db, account_id, at, { actor: actorOf(c.get("caller")), action: "prices.put", target: account_id, detail: { ...input } }),
    ]);
    return c.json(input, 200);
  })
  .openapi(getPrices, async (c) => {
    const { account_id } = c.req.valid("param");
    await requireAccountAdmin(c, account_id);
    const prices = await findPrices(database(c.env.DB), account_id);
    if (!prices) throw notFound(`The price list of account ${account_id}`);
    return c.json(prices, 200);
  })
  .openapi(removePrices, async (c) => {
    const { account_id } = c.req.valid("param");
    await requireAccountAdmin(c, account_id);
    const db = database(c.env.DB);
    await writeBatch(c.env.DB, [
      deletePrices(db, account_id),
      auditInsert(db, account_id, iso(Date.now()), { actor: actorOf(c.get("caller")), action: "prices.delete", target: account_id }),
    ]);
    return c.body(null, 204);
  })
  .openapi(getAdvice, async (c) => {
    const { account_id } = c.req.valid("param");
    await requireAccountAdmin(c, account_id);
    const { cycles } = c.req.valid("query");
    const [prices, history] = await Promise.all([findPrices(database(c.env.DB), account_id), seatsOf(c.env, account_id).advisorHistory(cycles)]);
    const advice = advise({
      pools: history.pools,
      prices: new Map(Object.entries(prices?.pools ?? {})),
      addons: history.addons,
    });
    return c.json({ currency: prices?.currency ?? null, ...advice }, 200);
  });
