import { OpenAPIHono } from "@hono/zod-openapi";
import type { AppEnv } from "../auth/caller";
import { validationHook } from "../errors";

/** Add-on purchases and assignments, entitlements, compliance (issue 4). */
export const addonRoutes = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });
