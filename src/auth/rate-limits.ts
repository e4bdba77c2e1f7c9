import type { MiddlewareHandler } from "hono";
import { ApiError } from "../errors";
import type { AppEnv } from "./caller";

/**
 * The periods of the two [[ratelimits]] bindings in wrangler.toml (the binding does not report its
 * own): a refused caller is told to wait one period, the most the window can take to move on.
 */
export const RATE_LIMIT_PERIOD_SECONDS = 60;

const WRITES = new Set(["POST", "PUT", "PATCH", "DELETE"]);

/**
 * 429 `rate_limited` with Retry-After past the limit: each agent (account + user) on /v1/seats/*,
 * and each API key on admin writes. Runs after `authenticate`, so the key is the verified caller,
 * never a header a client chooses. The operator token is not limited (it is the deployment's own).
 */
export const rateLimit: MiddlewareHandler<AppEnv> = async (c, next) => {
  // Unset only on the presence socket's upgrade, whose one-time ticket is its own bound.
  const caller = c.get("caller") as AppEnv["Variables"]["caller"] | undefined;
  if (!caller) return next();
  let outcome: { success: boolean } | null = null;
  if (caller.kind === "agent" && new URL(c.req.url).pathname.startsWith("/v1/seats/")) {
    outcome = await c.env.AGENT_RATE_LIMITER.limit({ key: `${caller.accountId}\n${caller.userId}` });
  } else if (caller.kind === "admin" && WRITES.has(c.req.method)) {
    outcome = await c.env.ADMIN_WRITE_RATE_LIMITER.limit({ key: caller.keyId });
  }
  if (outcome && !outcome.success) {
    c.header("retry-after", String(RATE_LIMIT_PERIOD_SECONDS));
    throw new ApiError("rate_limited", `Too many requests; try again in ${RATE_LIMIT_PERIOD_SECONDS} seconds.`, {
      retry_after_seconds: RATE_LIMIT_PERIOD_SECONDS,
    });
  }
  await next();
};
