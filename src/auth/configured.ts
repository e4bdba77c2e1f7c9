import type { MiddlewareHandler } from "hono";
import type { Env } from "../env";
import { ApiError } from "../errors";
import type { AppEnv } from "./caller";

/** The least length of a secret the service accepts: 32 characters (`openssl rand -hex 32` gives 64). */
export const MIN_SECRET_LENGTH = 32;

export interface ConfigProblems {
  /** Required secrets that are not set. */
  missing: string[];
  /** Secrets that are set but shorter than MIN_SECRET_LENGTH. */
  too_short: string[];
}

/**
 * What is wrong with the deployment's secrets, by name only (never a value). OPERATOR_TOKEN is
 * required; AGENT_SIGNING_KEY is checked when it is set at all (an empty value is a mistake too).
 */
export function configProblems(env: Pick<Env, "OPERATOR_TOKEN" | "AGENT_SIGNING_KEY">): ConfigProblems {
  const problems: ConfigProblems = { missing: [], too_short: [] };
  if (!env.OPERATOR_TOKEN) problems.missing.push("OPERATOR_TOKEN");
  else if (env.OPERATOR_TOKEN.length < MIN_SECRET_LENGTH) problems.too_short.push("OPERATOR_TOKEN");
  if (env.AGENT_SIGNING_KEY !== undefined && env.AGENT_SIGNING_KEY.length < MIN_SECRET_LENGTH) problems.too_short.push("AGENT_SIGNING_KEY");
  return problems;
}

export const isConfigured = (p: ConfigProblems) => p.missing.length === 0 && p.too_short.length === 0;

export function notConfigured(p: ConfigProblems): ApiError {
  const names = [...p.missing.map((n) => `${n} is not set`), ...p.too_short.map((n) => `${n} is shorter than ${MIN_SECRET_LENGTH} characters`)];
  return new ApiError("not_configured", `The service is not configured: ${names.join("; ")}. No credential is accepted until it is.`, {
    missing: p.missing,
    too_short: p.too_short,
  });
}

/**
 * Fail closed: with a missing or weak secret, agent tokens would be forgeable (a key derived from
 * the empty string) or the operator token guessable offline. So every request this guards answers
 * 503 before any credential is read. It runs before `authenticate`, as its own middleware.
 */
export const requireConfigured: MiddlewareHandler<AppEnv> = async (c, next) => {
  const problems = configProblems(c.env);
  if (!isConfigured(problems)) throw notConfigured(problems);
  await next();
};
