import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { bodyLimit } from "hono/body-limit";
import { HTTPException } from "hono/http-exception";
import { authenticate, type AppEnv } from "./auth/caller";
import { rateLimit } from "./auth/rate-limits";
import { idempotency } from "./middleware/idempotency";
import { requestLog } from "./middleware/request-log";
import { configProblems, isConfigured, notConfigured, requireConfigured } from "./auth/configured";
import { ApiError, fromHttpException, problemResponse, validationHook } from "./errors";
import { describeScopes, enforceScopes, SCOPES_DESCRIPTION } from "./auth/scopes";
import { accountRoutes } from "./routes/accounts";
import { activityRoutes } from "./routes/activity";
import { addonRoutes } from "./routes/addons";
import { adviceRoutes } from "./routes/advice";
import { agentRoutes } from "./routes/agent";
import { billingRoutes } from "./routes/billing";
import { denialRoutes } from "./routes/denials";
import { poolRoutes } from "./routes/pools";
import { teamRoutes } from "./routes/teams";
import { describeEdge } from "./openapi-edge";
import { docsPage } from "./docs-page";
import { problem } from "./routes/schemas";
import { CONNECT_PATH, presenceRoutes } from "./routes/presence";
import { userRoutes } from "./routes/users";
import { whoamiRoutes } from "./routes/whoami";
import { provisioningRoutes } from "./routes/provisioning";
import { registerScimPaths } from "./scim/openapi";
import { scimRoutes } from "./scim/routes";

const base = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });

/** The largest request body read: larger ones are refused from Content-Length or while streaming, before parsing. */
export const MAX_BODY_BYTES = 1024 * 1024;

// First: every answer, refusals included, gets its log line and x-request-id.
base.use("*", requestLog);
base.use(
  "*",
  bodyLimit({
    maxSize: MAX_BODY_BYTES,
    onError: () => {
      throw new ApiError("payload_too_large", `The request body is over ${MAX_BODY_BYTES} bytes (1 MiB); nothing was read or changed.`);
    },
  }),
);
// Order matters: refuse everything while unconfigured, then identify the caller, then its scopes.
base.use("/v1/*", requireConfigured);
// The presence socket's credential is its one-time ticket (browsers cannot send Authorization there).
base.use("/v1/*", (c, next) => (c.req.method === "GET" && c.req.path === CONNECT_PATH ? next() : authenticate(c, next)));
base.use("/v1/*", rateLimit);
base.use("/v1/*", enforceScopes);
// Last: only a request that may run spends its Idempotency-Key.
base.use("/v1/*", idempotency);

base.onError((err, c) => {
  if (err instanceof ApiError) return problemResponse(c, err);
  // Hono's own 4xx (malformed JSON, wrong content type) are invalid requests like any other.
  if (err instanceof HTTPException && err.status < 500) return problemResponse(c, fromHttpException(err));
  console.error("unhandled error", err);
  return problemResponse(c, new ApiError("internal", "Something went wrong on our side; nothing was changed."));
});

base.notFound((c) => problemResponse(c, new ApiError("not_found", `No route for ${c.req.method} ${new URL(c.req.url).pathname}.`)));

base.openAPIRegistry.registerComponent("securitySchemes", "bearer", {
  type: "http",
  scheme: "bearer",
  description: `The operator token, an account API key (\`sk_…\`), or an agent token (JWT), as each route says. ${SCOPES_DESCRIPTION}`,
});

/** The whole API, chained so `hc<AppType>` knows every route. */
const healthz = createRoute({
  method: "get",
  path: "/healthz",
  operationId: "getHealth",
  tags: ["service"],
  summary: "Liveness and configuration, without credentials",
  security: [],
  responses: {
    200: { description: "Up and configured", content: { "application/json": { schema: z.object({ ok: z.literal(true) }) } } },
    503: problem("not_configured: `missing` and `too_short` name the secrets to fix (names only, never values)"),
  },
});

export const app = base
  .openapi(healthz, (c) => {
    const problems = configProblems(c.env);
    if (!isConfigured(problems)) throw notConfigured(problems);
    return c.json({ ok: true as const }, 200);
  })
  .route("/", accountRoutes)
  .route("/", poolRoutes)
  .route("/", teamRoutes)
  .route("/", userRoutes)
  .route("/", addonRoutes)
  .route("/", activityRoutes)
  .route("/", denialRoutes)
  .route("/", billingRoutes)
  .route("/", adviceRoutes)
  .route("/", agentRoutes)
  .route("/", whoamiRoutes)
  .route("/", presenceRoutes)
  .route("/", provisioningRoutes);

// SCIM 2.0 speaks its own protocol (application/scim+json, its own errors): outside the OpenAPI document.
base.route("/", scimRoutes);
registerScimPaths(base);

const openApiConfig = {
  openapi: "3.1.0",
  info: {
    title: "Seatkeeper API",
    version: "1.0.0",
    description: "Seat licensing for contact centers: named and concurrent pools, add-ons, overage with a grace period, billing.",
    // The package is private (all rights reserved); an SPDX LicenseRef names it (docs/decisions/120).
    license: { name: "Proprietary", identifier: "LicenseRef-Seatkeeper-Proprietary" },
  },
  // Relative: the Worker that serves this document is the server, whatever its hostname.
  servers: [{ url: "/", description: "The Seatkeeper deployment that serves this document" }],
  security: [{ bearer: [] }],
};

// The document, with each account route's API key scopes (x-required-scopes) from src/auth/scopes.ts.
base.get("/openapi.json", (c) => c.json(describeEdge(describeScopes(base.getOpenAPI31Document(openApiConfig)))));

// Swagger UI from the Worker's own static assets, under a Content-Security-Policy (src/docs-page.ts).
base.get("/docs", docsPage);

export type AppType = typeof app;
