import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import type { AppEnv } from "../auth/caller";
import { SCOPES } from "../auth/scopes";
import { validationHook } from "../errors";
import { json, problem } from "./schemas";

/** Who the credential is: lets a client (the dashboard) hide what its key may not do. */
const Whoami = z
  .object({
    kind: z.enum(["operator", "api_key", "agent"]),
    account_id: z.string().optional(),
    key_id: z.string().optional(),
    scopes: z.array(z.enum(SCOPES)).optional().openapi({ description: "An API key's scopes." }),
    user_id: z.string().optional(),
  })
  .openapi("Whoami");

const whoami = createRoute({
  method: "get",
  path: "/v1/whoami",
  operationId: "whoami",
  tags: ["account"],
  summary: "The calling credential: its kind, account and (for an API key) its scopes",
  description: "Any credential may call it. For an API key it answers the key's scopes, so a client can hide the actions they do not allow.",
  responses: { 200: json(Whoami), 401: problem("unauthorized: missing or bad credential") },
});

export const whoamiRoutes = new OpenAPIHono<AppEnv>({ defaultHook: validationHook }).openapi(whoami, (c) => {
  const caller = c.get("caller");
  switch (caller.kind) {
    case "operator":
      return c.json({ kind: "operator" as const }, 200);
    case "admin":
      return c.json({ kind: "api_key" as const, account_id: caller.accountId, key_id: caller.keyId, scopes: caller.scopes }, 200);
    case "agent":
      return c.json({ kind: "agent" as const, account_id: caller.accountId, user_id: caller.userId }, 200);
  }
});
