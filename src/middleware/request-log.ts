import type { Context, MiddlewareHandler } from "hono";
import { matchedRoutes } from "hono/route";
import type { AppEnv, Caller } from "../auth/caller";

/**
 * One JSON log line per request (README "Operations", docs/architecture.md#operations): what an
 * on-call engineer needs to find a request, and nothing a log reader could misuse. The route is the
 * matched pattern (`/v1/accounts/:account_id/users/:user_id`), never the URL: a query string can
 * carry a connect ticket. No header value is logged but a well-formed request id.
 */
export const REQUEST_ID_HEADER = "x-request-id";

/** Letters, digits and `-_.:`, 1-128 characters: a UUID, a trace id, a load balancer's id. */
const REQUEST_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$/;
const ACCOUNT_IN_PATH = /^\/v1\/accounts\/([A-Za-z0-9_-]{1,64})(?:\/|$)/;

export interface RequestLogLine {
  msg: "request";
  request_id: string;
  method: string;
  route: string;
  account_id: string | null;
  status: number;
  duration_ms: number;
  code: string | null;
}

/**
 * The client's id when it is well formed and is not a credential (an API key, a JWT, or any
 * credential this very request carries); otherwise a fresh one. So a client that puts a secret
 * in the header by mistake never sees it logged.
 */
function requestIdOf(c: Context<AppEnv>): string {
  const sent = c.req.header(REQUEST_ID_HEADER);
  if (sent !== undefined && REQUEST_ID_PATTERN.test(sent) && !looksSecret(c, sent)) return sent;
  return crypto.randomUUID();
}

function looksSecret(c: Context<AppEnv>, id: string): boolean {
  if (/^sk_/i.test(id) || id.split(".").length === 3) return true;
  const bearer = /^Bearer\s+(\S+)/i.exec(c.req.header("authorization") ?? "")?.[1];
  const ticket = new URL(c.req.url).searchParams.get("ticket");
  const secrets = [bearer, ticket, c.env.OPERATOR_TOKEN, c.env.AGENT_SIGNING_KEY, c.env.WEBHOOK_KEY, c.env.WEBHOOK_KEY_PREVIOUS];
  return secrets.some((s) => s && (s.includes(id) || id.includes(s)));
}

/** The pattern of the route that answered: the last matched handler that is not a middleware. */
function routeOf(c: Context<AppEnv>): string {
  const routes = matchedRoutes(c).filter((r) => r.method !== "ALL");
  return routes.at(-1)?.path ?? "(none)";
}

function accountOf(c: Context<AppEnv>): string | null {
  const caller = c.get("caller") as Caller | undefined;
  if (caller && caller.kind !== "operator") return caller.accountId;
  return ACCOUNT_IN_PATH.exec(new URL(c.req.url).pathname)?.[1] ?? null;
}

async function problemCode(res: Response): Promise<string | null> {
  if (!res.headers.get("content-type")?.startsWith("application/problem+json")) return null;
  try {
    const code = ((await res.clone().json()) as { code?: unknown }).code;
    return typeof code === "string" ? code : null;
  } catch {
    return null;
  }
}

/** Sets `x-request-id` on a response; one whose headers are immutable (from a fetch, a socket's 101) is copied. */
function withRequestId(res: Response, id: string): Response {
  try {
    res.headers.set(REQUEST_ID_HEADER, id);
    return res;
  } catch {
    const headers = new Headers(res.headers);
    headers.set(REQUEST_ID_HEADER, id);
    return new Response(res.body, { status: res.status, statusText: res.statusText, headers, webSocket: res.webSocket ?? null } as ResponseInit);
  }
}

/** First in the chain, so every answer — a 413, a 503 before any credential, an unknown route — has its line and its id. */
export const requestLog: MiddlewareHandler<AppEnv> = async (c, next) => {
  const started = Date.now();
  const id = requestIdOf(c);
  await next();
  const res = withRequestId(c.res, id);
  if (res !== c.res) c.res = res;
  const line: RequestLogLine = {
    msg: "request",
    request_id: id,
    method: c.req.method,
    route: routeOf(c),
    account_id: accountOf(c),
    status: c.res.status,
    duration_ms: Date.now() - started,
    code: await problemCode(c.res),
  };
  console.log(JSON.stringify(line));
};
