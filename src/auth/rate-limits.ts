import type { MiddlewareHandler } from "hono";
import type { Context } from "hono";
import { ApiError } from "../errors";
import { seatsOf } from "../seats/stub";
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
    if (caller.kind === "agent") reportRefusedCheckout(c, caller.accountId, caller.userId);
    c.header("retry-after", String(RATE_LIMIT_PERIOD_SECONDS));
    throw new ApiError("rate_limited", `Too many requests; try again in ${RATE_LIMIT_PERIOD_SECONDS} seconds.`, {
      retry_after_seconds: RATE_LIMIT_PERIOD_SECONDS,
    });
  }
  await next();
};

/** The agent routes whose refusal is a refused checkout (docs/licensing.md#denials). */
const CHECKOUT_PATHS = new Set(["/v1/seats/checkout", "/v1/seats/connect-ticket"]);
/** Per isolate: the minute each agent's last 429 was reported in. Cleared when it grows past this. */
const reported = new Map<string, number>();
const MAX_REPORTED = 10_000;

/**
 * A checkout refused here never reaches the account's object, which counts denials: tell it, after
 * the reply, at most once per agent and minute from this isolate (the object counts at most one
 * `rate_limited` per user and minute anyway), so a flood that the limit refuses does not become a
 * flood of object calls (decision 141).
 */
function reportRefusedCheckout(c: Context<AppEnv>, accountId: string, userId: string): void {
  if (c.req.method !== "POST" || !CHECKOUT_PATHS.has(new URL(c.req.url).pathname)) return;
  const key = `${accountId}\n${userId}`;
  const minute = Math.floor(Date.now() / 60_000);
  if (reported.get(key) === minute) return;
  if (reported.size >= MAX_REPORTED) reported.clear();
  reported.set(key, minute);
  const report = seatsOf(c.env, accountId)
    .noteRateLimited(userId)
    .catch((err: unknown) => console.warn("rate-limited checkout not counted", err));
  try {
    c.executionCtx.waitUntil(report);
  } catch {
    // No execution context (a direct app.request in a test): the report still runs.
  }
}
