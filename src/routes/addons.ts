import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { actorOf, requireAccountAdmin, type AppEnv } from "../auth/caller";
import { database } from "../db/client";
import { userExists } from "../db/roster-writes";
import { isPerSeatProduct, type AddonProduct, type PerSeatProduct } from "../domain/catalog";
import { invalid, notFound, unwrap, validationHook } from "../errors";
import { seatsOf } from "../seats/stub";
import {
  AccountParams,
  body,
  commonErrors,
  Entitlements,
  GrantSourceSchema,
  Interval,
  json,
  noContent,
  PoolIdOut,
  problem,
  ProductOut,
  ProductSchema,
  Quantity,
  UserParams,
} from "./schemas";

const Addon = z
  .object({
    product: ProductOut,
    kind: z.enum(["per_seat", "account_wide", "quantity"]),
    purchased: z.number().int(),
    bundled: z.number().int(),
    consumed: z.number().int(),
    available: z.number().int(),
    assigned: z.number().int(),
  })
  .openapi("Addon");

const ProductParams = AccountParams.extend({ product: ProductSchema.openapi({ param: { name: "product", in: "path" } }) });
const UserProductParams = UserParams.extend({ product: ProductSchema.openapi({ param: { name: "product", in: "path" } }) });

const Compliance = z
  .object({
    addon_shortfall: z.array(z.object({ product: z.string(), needed: z.number().int(), covered: z.number().int(), shortfall: z.number().int() })),
    named_pools_over_assigned: z.array(z.object({ pool: PoolIdOut, quantity: z.number().int(), assigned: z.number().int() })),
    open_overages: z.array(Interval),
    recommendations: z.array(z.string()),
  })
  .openapi("Compliance");

const putAddon = createRoute({
  method: "put",
  path: "/v1/accounts/{account_id}/addons/{product}",
  operationId: "putAddon",
  tags: ["add-ons"],
  summary: "Set an add-on's purchased quantity (virtual_agent: 0 or 1)",
  request: { params: ProductParams, body: body(z.object({ quantity: Quantity })) },
  responses: { 200: json(Addon), ...commonErrors, 409: problem("quantity_below_assigned") },
});

const listAddons = createRoute({
  method: "get",
  path: "/v1/accounts/{account_id}/addons",
  operationId: "listAddons",
  tags: ["add-ons"],
  summary: "Every add-on product: purchased, bundled, consumed, available",
  request: { params: AccountParams },
  responses: { 200: json(z.object({ items: z.array(Addon) })), ...commonErrors },
});

const assignAddon = createRoute({
  method: "put",
  path: "/v1/accounts/{account_id}/users/{user_id}/addons/{product}",
  operationId: "assignAddon",
  tags: ["add-ons"],
  summary: "Grant a per-seat add-on to a user",
  request: { params: UserProductParams },
  responses: {
    200: json(z.object({ user_id: z.string(), product: ProductOut, source: GrantSourceSchema })),
    ...commonErrors,
    409: problem("addon_seats_exhausted, or no_license"),
  },
});

const unassignAddon = createRoute({
  method: "delete",
  path: "/v1/accounts/{account_id}/users/{user_id}/addons/{product}",
  operationId: "unassignAddon",
  tags: ["add-ons"],
  summary: "Take a per-seat add-on away from a user",
  request: { params: UserProductParams },
  responses: { 204: noContent, ...commonErrors },
});

const userEntitlements = createRoute({
  method: "get",
  path: "/v1/accounts/{account_id}/users/{user_id}/entitlements",
  operationId: "getUserEntitlements",
  tags: ["add-ons"],
  summary: "Everything the user may use: 18 features, per-seat add-ons with their source, account add-ons",
  request: { params: UserParams },
  responses: { 200: json(Entitlements), ...commonErrors },
});

const complianceRoute = createRoute({
  method: "get",
  path: "/v1/accounts/{account_id}/compliance",
  operationId: "getCompliance",
  tags: ["add-ons"],
  summary: "Add-on shortfall, over-assigned named pools, open overages, and what to do",
  request: { params: AccountParams },
  responses: { 200: json(Compliance), ...commonErrors },
});

function perSeat(product: AddonProduct): PerSeatProduct {
  if (!isPerSeatProduct(product)) {
    throw invalid(`${product} is not a per-seat add-on; set its quantity with PUT …/addons/${product}.`, [
      { path: "product", message: "must be workforce_management, quality_management or ai_expert_assist" },
    ]);
  }
  return product;
}

export const addonRoutes = new OpenAPIHono<AppEnv>({ defaultHook: validationHook })
  .openapi(putAddon, async (c) => {
    const { account_id, product } = c.req.valid("param");
    await requireAccountAdmin(c, account_id);
    const { quantity } = c.req.valid("json");
    const row = unwrap(await seatsOf(c.env, account_id).putAddonPurchase(product, quantity, actorOf(c.get("caller"))));
    return c.json(row, 200);
  })
  .openapi(listAddons, async (c) => {
    const { account_id } = c.req.valid("param");
    await requireAccountAdmin(c, account_id);
    return c.json({ items: await seatsOf(c.env, account_id).addons() }, 200);
  })
  .openapi(assignAddon, async (c) => {
    const { account_id, user_id, product } = c.req.valid("param");
    await requireAccountAdmin(c, account_id);
    const result = unwrap(await seatsOf(c.env, account_id).assignAddon(user_id, perSeat(product), actorOf(c.get("caller"))));
    return c.json(result, 200);
  })
  .openapi(unassignAddon, async (c) => {
    const { account_id, user_id, product } = c.req.valid("param");
    await requireAccountAdmin(c, account_id);
    unwrap(await seatsOf(c.env, account_id).unassignAddon(user_id, perSeat(product), actorOf(c.get("caller"))));
    return c.body(null, 204);
  })
  .openapi(userEntitlements, async (c) => {
    const { account_id, user_id } = c.req.valid("param");
    await requireAccountAdmin(c, account_id);
    if (!(await userExists(database(c.env.DB), account_id, user_id))) throw notFound(`User ${user_id}`);
    return c.json(await seatsOf(c.env, account_id).entitlements(user_id), 200);
  })
  .openapi(complianceRoute, async (c) => {
    const { account_id } = c.req.valid("param");
    await requireAccountAdmin(c, account_id);
    return c.json(await seatsOf(c.env, account_id).compliance(), 200);
  });
