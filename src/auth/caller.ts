import type { Context, MiddlewareHandler } from "hono";
import { database } from "../db/client";
import { findAccount, findAccountRow, findApiKey, touchApiKey } from "../db/accounts";
import type { Env } from "../env";
import { ApiError, notFound } from "../errors";
import { verifyAgentToken } from "./agent-tokens";
import { iso } from "../time";
import { API_KEY_PATTERN, hashApiKey, LAST_USED_RESOLUTION_MS } from "./api-keys";
import { constantTimeEqual } from "./crypto";
import { parseScopes, type Scope } from "./scopes";

/** Who is calling, from the bearer credential (docs/api.md#who-may-call). */
export type Caller =
  | { kind: "operator" }
  | { kind: "admin"; accountId: string; keyId: string; scopes: Scope[] }
  /** `generation`: the token's, checked by the account's object on every call (no D1 read). */
  | { kind: "agent"; accountId: string; userId: string; generation: number };

export type AppEnv = { Bindings: Env; Variables: { caller: Caller } };

const unauthorized = (detail: string) => new ApiError("unauthorized", detail);
const forbidden = (detail: string) => new ApiError("forbidden", detail);

/** Resolves the caller or answers 401. Revoked keys fail at once: every admin request looks its key up. */
export const authenticate: MiddlewareHandler<AppEnv> = async (c, next) => {
  const header = c.req.header("authorization") ?? "";
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (!match) throw unauthorized("Send a credential as `Authorization: Bearer <token>`.");
  const token = match[1];
  c.set("caller", await identify(c.env, token, (work) => c.executionCtx.waitUntil(work)));
  await next();
};

async function identify(env: Env, token: string, later: (work: Promise<unknown>) => void): Promise<Caller> {
  if (token.startsWith("sk_")) {
    if (!API_KEY_PATTERN.test(token)) throw unauthorized("The API key is malformed.");
    const key = await findApiKey(database(env.DB), await hashApiKey(token));
    if (!key) throw unauthorized("The API key is unknown or revoked.");
    const now = Date.now();
    if (key.lastUsedAt === null || now - Date.parse(key.lastUsedAt) >= LAST_USED_RESOLUTION_MS) {
      // Off the request's path; a lost write only makes last_used_at a minute older.
      later(touchApiKey(database(env.DB), key.id, iso(now)).catch((err) => console.warn("api key last_used_at not written", err)));
    }
    return { kind: "admin", accountId: key.accountId, keyId: key.id, scopes: parseScopes(key.scopes) };
  }
  if (token.split(".").length === 3) {
    const claims = await verifyAgentToken(env, token);
    if (!claims) throw unauthorized("The agent token is invalid or expired.");
    return { kind: "agent", accountId: claims.acct, userId: claims.sub, generation: claims.gen };
  }
  if (env.OPERATOR_TOKEN && (await constantTimeEqual(token, env.OPERATOR_TOKEN))) return { kind: "operator" };
  throw unauthorized("The credential is not valid.");
}

export function requireOperator(c: Context<AppEnv>): void {
  if (c.get("caller").kind !== "operator") throw forbidden("Only the operator may do this.");
}

/**
 * An admin of this account or the operator, for an account that exists. Another account's key
 * gets 404 (ids of other tenants cannot be probed); an agent token gets 403.
 */
export async function requireAccountAdmin(c: Context<AppEnv>, accountId: string, opts: { deleted?: "operator may read" } = {}): Promise<void> {
  const caller = c.get("caller");
  if (caller.kind === "agent") throw forbidden("Agent tokens may call only /v1/seats/* and /v1/me.");
  if (caller.kind === "admin") {
    if (caller.accountId !== accountId) throw notFound(`Account ${accountId}`);
    return;
  }
  // A deleted account is gone, but for the operator's reads of what offboarding keeps (summaries, deliveries).
  const find = opts.deleted ? findAccountRow : findAccount;
  if (!(await find(database(c.env.DB), accountId))) throw notFound(`Account ${accountId}`);
}

export function requireAgent(c: Context<AppEnv>): { accountId: string; userId: string; generation: number } {
  const caller = c.get("caller");
  if (caller.kind !== "agent") throw forbidden("Only agent tokens may call the seat endpoints.");
  return caller;
}

/** The audit log's name for the caller. */
export function actorOf(caller: Caller): string {
  switch (caller.kind) {
    case "operator":
      return "operator";
    case "admin":
      return `api_key:${caller.keyId}`;
    case "agent":
      return `agent:${caller.userId}`;
  }
}
