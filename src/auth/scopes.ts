import type { MiddlewareHandler } from "hono";
import { ApiError } from "../errors";

/**
 * API key scopes: the one place that says which key may call which route.
 *
 * - `admin`: everything an account key can do (the default, and every key made before scopes).
 * - `read`: every GET of the account (dashboards, BI).
 * - `provisioning`: SCIM, users, licenses, add-on assignments, provisioning rules.
 * - `billing`: billing summaries and preview, prices, compliance advice.
 *
 * Each route belongs to one family (the table below, matched on the request path, first match
 * wins). A key may call a route when it holds `admin`, the route's family scope, or `read` for a
 * GET. A route the table does not name belongs to `admin`: a new route is closed to narrow keys
 * until someone decides otherwise.
 */
export const SCOPES = ["admin", "read", "provisioning", "billing"] as const;
export type Scope = (typeof SCOPES)[number];

export const isScope = (s: string): s is Scope => (SCOPES as readonly string[]).includes(s);

/** Stored as one space-separated string (as OAuth writes scopes); unknown words are dropped. */
export const parseScopes = (stored: string | null | undefined): Scope[] => {
  const words = (stored ?? "admin").split(/\s+/).filter(isScope);
  return words.length ? [...new Set(words)] : ["admin"];
};
export const formatScopes = (scopes: readonly Scope[]): string => [...new Set(scopes)].sort().join(" ");

type Family = Exclude<Scope, "read">;

interface Rule {
  /** Upper-case HTTP method, or "*" for any. */
  method: string;
  /** Matched against the path after `/v1/accounts/{account_id}`, or the whole path for /scim. */
  path: RegExp;
  family: Family;
}

/** Path after the account prefix. Order matters: the first rule that matches decides. */
const ACCOUNT_RULES: Rule[] = [
  // Minting a credential for an agent is an admin act, even under /users.
  { method: "*", path: /^\/users\/[^/]+\/agent-tokens?(?::[a-z]+)?$/, family: "admin" },
  { method: "*", path: /^\/users(\/|$)/, family: "provisioning" },
  { method: "*", path: /^\/licenses(:batch)?(\/|$)/, family: "provisioning" },
  { method: "*", path: /^\/provisioning(\/|$)/, family: "provisioning" },
  { method: "*", path: /^\/billing(\/|$)/, family: "billing" },
  { method: "*", path: /^\/prices(\/|$)/, family: "billing" },
  { method: "GET", path: /^\/(compliance|advice)(\/|$)/, family: "billing" },
];

const ACCOUNT_PREFIX = /^\/v1\/accounts\/([^/]+)(\/.*)?$/;

/** The account a path names (`/v1/accounts/{id}/…`), or null. */
export const accountOfPath = (path: string): string | null => {
  const m = ACCOUNT_PREFIX.exec(path);
  return m ? decodeURIComponent(m[1]) : null;
};

/** The family of a route, from its method and path (a concrete path or an OpenAPI template). */
export function familyOf(method: string, path: string): Family {
  if (path === "/scim/v2" || path.startsWith("/scim/v2/")) return "provisioning";
  const m = ACCOUNT_PREFIX.exec(path);
  if (!m) return "admin";
  const rest = m[2] ?? "";
  const upper = method.toUpperCase();
  for (const rule of ACCOUNT_RULES) {
    if ((rule.method === "*" || rule.method === upper) && rule.path.test(rest)) return rule.family;
  }
  return "admin";
}

/** The scopes any one of which lets a key call this route, the route's own family first. */
export function acceptedScopes(method: string, path: string): Scope[] {
  const family = familyOf(method, path);
  const out: Scope[] = family === "admin" ? ["admin"] : [family, "admin"];
  if (method.toUpperCase() === "GET" || method.toUpperCase() === "HEAD") out.push("read");
  return out;
}

export function allows(granted: readonly Scope[], method: string, path: string): boolean {
  return acceptedScopes(method, path).some((s) => granted.includes(s));
}

export function insufficientScope(granted: readonly Scope[], method: string, path: string): ApiError {
  const accepted = acceptedScopes(method, path);
  const needed = accepted[0];
  const others = accepted.slice(1).map((s) => `\`${s}\``);
  return new ApiError(
    "insufficient_scope",
    `This route needs the \`${needed}\` scope${others.length ? ` (or ${others.join(" or ")})` : ""}; this key has ${granted.map((s) => `\`${s}\``).join(", ")}.`,
    { required_scope: needed, accepted_scopes: accepted, granted_scopes: [...granted] },
  );
}

/**
 * After `authenticate`: an API key calling a route of its account outside its scopes gets 403
 * insufficient_scope. A path naming another account is left to the route, which answers 404
 * (tenants stay unprobeable); paths outside an account (`/v1/whoami`, the operator's and the
 * agents' routes) are left to the routes' own credential checks.
 */
export const enforceScopes: MiddlewareHandler<{ Variables: { caller: { kind: string; accountId?: string; scopes?: Scope[] } } }> = async (c, next) => {
  const caller = c.get("caller");
  if (caller?.kind === "admin" && caller.scopes) {
    const path = new URL(c.req.url).pathname;
    const account = accountOfPath(path);
    if (account === caller.accountId && !allows(caller.scopes, c.req.method, path)) {
      throw insufficientScope(caller.scopes, c.req.method, path);
    }
  }
  await next();
};

const HTTP_METHODS = ["get", "put", "post", "delete", "patch", "head"] as const;

/**
 * Writes each account route's scopes into the OpenAPI document (`x-required-scopes`, and a note in
 * the description), from the same table that enforces them.
 */
export function describeScopes<D extends { paths?: object }>(doc: D): D {
  for (const [path, item] of Object.entries((doc.paths ?? {}) as Record<string, Record<string, unknown>>)) {
    if (!path.startsWith("/v1/accounts/{account_id}") && !path.startsWith("/scim/v2")) continue;
    for (const method of HTTP_METHODS) {
      const op = item[method] as { description?: string; "x-required-scopes"?: Scope[] } | undefined;
      if (!op) continue;
      const accepted = acceptedScopes(method, path);
      op["x-required-scopes"] = accepted;
      const note = `API keys need one of the scopes: ${accepted.map((s) => `\`${s}\``).join(", ")}.`;
      op.description = op.description ? `${op.description}\n\n${note}` : note;
    }
  }
  return doc;
}

/** The security scheme's description of the scopes. */
export const SCOPES_DESCRIPTION = [
  "Account API keys carry scopes (chosen when the key is created; `GET /v1/whoami` tells a key its own):",
  "`admin` — everything an account key can do (the default);",
  "`read` — every GET of the account;",
  "`provisioning` — SCIM (`/scim/v2`), users, licenses, add-on assignments, provisioning rules;",
  "`billing` — billing summaries and preview, prices, compliance advice.",
  "A route outside a key's scopes answers 403 `insufficient_scope` naming the scope it needs;",
  "each operation lists the scopes it accepts in `x-required-scopes`.",
].join(" ");
