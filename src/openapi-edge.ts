/**
 * The refusals the edge middleware gives (src/app.ts), added to the OpenAPI document where they
 * can occur: 413 and 415 on every operation with a body, 429 where a rate limit applies, 503 on
 * every /v1 operation (fail closed on secrets). Routes declare only their own answers.
 */
const WRITES = ["post", "put", "patch", "delete"] as const;
const ref = { $ref: "#/components/schemas/Problem" };
const problem = (description: string) => ({ description, content: { "application/problem+json": { schema: ref } } });

type Operation = { requestBody?: unknown; responses?: Record<string, unknown> };

export function describeEdge<D extends { paths?: object }>(doc: D): D {
  for (const [path, item] of Object.entries((doc.paths ?? {}) as Record<string, Record<string, Operation>>)) {
    for (const [method, op] of Object.entries(item)) {
      if (!op || typeof op !== "object" || !("responses" in op)) continue;
      const responses = (op.responses ??= {});
      const add = (status: string, description: string) => {
        if (!(status in responses)) responses[status] = problem(description);
      };
      if (op.requestBody) {
        add("413", "payload_too_large: the body is over 1 MiB");
        add("415", "unsupported_media_type: the body is not application/json");
      }
      const agentRoute = path.startsWith("/v1/seats/") && method === "post"; // the presence upgrade is bounded by its ticket
      const adminWrite = path.startsWith("/v1/accounts/{account_id}") && (WRITES as readonly string[]).includes(method);
      if (agentRoute || adminWrite) add("429", "rate_limited: over the rate limit of this agent or API key; see Retry-After");
      if (path.startsWith("/v1/")) add("503", "not_configured: the deployment's secrets are missing or too short");
    }
  }
  return doc;
}
