import { OpenAPIHono } from "@hono/zod-openapi";
import type { AppEnv } from "../auth/caller";
import { validationHook } from "../errors";

/** Billing summaries, preview and the webhook (issue 5). */
export const billingRoutes = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });
