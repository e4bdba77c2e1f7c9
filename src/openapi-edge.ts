/**
 * The refusals the edge middleware gives (src/app.ts), added to the OpenAPI document where they
 * can occur: 401 on every operation that needs a credential, 403 `insufficient_scope` where API key
 * scopes apply, 413 and 415 on every operation with a body, 429 where a rate limit applies, 503 on
 * every /v1 operation (fail closed on secrets). Routes declare only their own answers.
 * test/routes/openapi-refusals.test.ts checks these against what the app really answers.
 */
const WRITES = ["post", "put", "patch", "delete"] as const;
const ref = { $ref: "#/components/schemas/Problem" };
const problem = (description: string) => ({ description, content: { "application/problem+json": { schema: ref } } });

type Response = { description?: string; content?: Record<string, unknown> };
type Operation = {
  operationId?: string;
  requestBody?: { content?: Record<string, unknown> };
  responses?: Record<string, Response>;
  security?: unknown[];
  "x-required-scopes"?: string[];
  parameters?: unknown[];
};

/** src/middleware/idempotency.ts: every admin or operator write under /v1 (not the agent routes). */
const idempotencyKey = {
  name: "Idempotency-Key",
  in: "header",
  required: false,
  description:
    "1-255 printable ASCII characters. The same key with the same request (method, path, body) within 24 h gets the first answer again (with `Idempotent-Replayed: true`) and writes nothing; see docs/api.md#idempotency.",
  schema: { type: "string", minLength: 1, maxLength: 255 },
};

const INSUFFICIENT_SCOPE = "insufficient_scope: the API key holds none of the scopes in `x-required-scopes`";

/**
 * A readable operationId for an operation whose route does not name one (every route should:
 * generated clients take their method names from it): the method and the path's words, e.g.
 * `get /v1/accounts/{account_id}/teams/{team_id}/members` → `getTeamsMembers`.
 */
export function derivedOperationId(method: string, path: string): string {
  const words = path
    .replace(/^\/v1\/accounts\/\{account_id\}/, "")
    .replace(/^\/v1\//, "/")
    .split(/[/:_-]+/)
    .filter((w) => w && !w.startsWith("{"));
  // The account itself (`/v1/accounts/{account_id}`) leaves no words: name it.
  return method + (words.length ? words : ["account"]).map((w) => w[0].toUpperCase() + w.slice(1)).join("");
}

export function describeEdge<D extends { paths?: object; security?: unknown[] }>(doc: D): D {
  for (const [path, item] of Object.entries((doc.paths ?? {}) as Record<string, Record<string, Operation>>)) {
    for (const [method, op] of Object.entries(item)) {
      if (!op || typeof op !== "object" || !("responses" in op)) continue;
      op.operationId ??= derivedOperationId(method, path);
      const responses = (op.responses ??= {});
      const add = (status: string, description: string) => {
        if (!(status in responses)) responses[status] = problem(description);
      };
      const v1 = path.startsWith("/v1/");
      const authenticated = (op.security ?? doc.security ?? []).length > 0;
      if (v1 && authenticated) add("401", "unauthorized: missing or bad credential");
      if (v1 && op["x-required-scopes"]) {
        const forbidden = responses["403"];
        if (!forbidden) add("403", INSUFFICIENT_SCOPE);
        else if (!forbidden.description?.includes("insufficient_scope")) forbidden.description = `${forbidden.description}; ${INSUFFICIENT_SCOPE}`;
      }
      if (op.requestBody) {
        add("413", "payload_too_large: the body is over 1 MiB");
        add("415", "unsupported_media_type: the body is not application/json");
      }
      const agentRoute = path.startsWith("/v1/seats/") && (method === "post" || method === "delete"); // the presence upgrade is bounded by its ticket
      const adminWrite = path.startsWith("/v1/accounts/{account_id}") && (WRITES as readonly string[]).includes(method);
      if (path.startsWith("/v1/") && !path.startsWith("/v1/seats/") && (WRITES as readonly string[]).includes(method)) {
        // A new array: the registry's own is not changed (the document is built on every request).
        op.parameters = [...(op.parameters ?? []).filter((p) => (p as { name?: string }).name !== idempotencyKey.name), idempotencyKey];
        const conflict = responses["409"];
        const IN_USE = "idempotency_key_in_use: a request with this Idempotency-Key is still running";
        if (!conflict) add("409", IN_USE);
        else if (!conflict.description?.includes("idempotency_key_in_use")) conflict.description = `${conflict.description}; ${IN_USE}`;
        add("422", "idempotency_key_reused: the Idempotency-Key was used for another request in the last 24 h");
      }
      if (agentRoute || adminWrite) add("429", "rate_limited: over the rate limit of this agent or API key; see Retry-After");
      if (v1) add("503", "not_configured: the deployment's secrets are missing or too short");
    }
  }
  return doc;
}
