import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { actorOf, requireAccountAdmin, type AppEnv } from "../auth/caller";
import { database } from "../db/client";
import { getRules } from "../db/scim";
import { validationHook } from "../errors";
import { GroupRuleSchema, RulesSchema } from "../scim/rules";
import * as service from "../scim/service";
import { AccountParams, body, commonErrors, json, problem } from "./schemas";

/** Group rules for SCIM provisioning: which group gives which pool, team and add-ons. */

const RulesView = z
  .object({
    rules: z.array(GroupRuleSchema),
    updated_at: z.string().nullable(),
  })
  .openapi("ProvisioningRulesView");

const RulesApplied = RulesView.extend({
  applied: z
    .object({ assigned: z.number().int(), revoked: z.number().int(), addons_assigned: z.number().int(), addons_unassigned: z.number().int() })
    .openapi({ description: "What the new rules changed for the groups' current members" }),
});

const getRulesRoute = createRoute({
  method: "get",
  path: "/v1/accounts/{account_id}/provisioning/rules",
  operationId: "getProvisioningRules",
  tags: ["provisioning"],
  summary: "Read the group rules of SCIM provisioning",
  request: { params: AccountParams },
  responses: { 200: json(RulesView), ...commonErrors },
});

const putRulesRoute = createRoute({
  method: "put",
  path: "/v1/accounts/{account_id}/provisioning/rules",
  operationId: "putProvisioningRules",
  tags: ["provisioning"],
  summary: "Replace the group rules; current members are assigned or revoked at once, all or nothing",
  description:
    "Each rule maps a SCIM group (by displayName, case-insensitive) to a pool, a team and/or add-ons. A member gets the pool and team of the first rule (in order) whose group they are in, unless their own SCIM attributes set one; add-ons add up. Joining a mapped group assigns, leaving revokes. The same refusals as the admin API apply (a full named pool answers 409 named_pool_full) and then nothing changes.",
  request: { params: AccountParams, body: body(RulesSchema) },
  responses: {
    200: json(RulesApplied),
    ...commonErrors,
    409: problem("named_pool_full, addon_seats_exhausted or no_license for a member: nothing was applied"),
  },
});

export const provisioningRoutes = new OpenAPIHono<AppEnv>({ defaultHook: validationHook })
  .openapi(getRulesRoute, async (c) => {
    const { account_id } = c.req.valid("param");
    await requireAccountAdmin(c, account_id);
    return c.json(await getRules(database(c.env.DB), account_id), 200);
  })
  .openapi(putRulesRoute, async (c) => {
    const { account_id } = c.req.valid("param");
    await requireAccountAdmin(c, account_id);
    const { rules } = c.req.valid("json");
    const db = database(c.env.DB);
    const plan = await service.inTurn(c.env, account_id, () => service.putRules(c.env, db, account_id, rules, actorOf(c.get("caller"))));
    const view = await getRules(db, account_id);
    return c.json(
      {
        ...view,
        applied: { assigned: plan.assign.length, revoked: plan.revoke.length, addons_assigned: plan.addonsAdd.length, addons_unassigned: plan.addonsRemove.length },
      },
      200,
    );
  });
