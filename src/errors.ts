import type { Context } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { z } from "@hono/zod-openapi";

/**
 * Every machine-readable error code the API can answer with, its HTTP status and its title: one
 * table, so the status of an error follows from its code (docs/api.md#error-codes). A new code is one
 * row here; a status different from the table's is an explicit override at the one place the
 * contract needs it (see `ApiError`).
 */
const CODES = {
  invalid_request: { status: 400, title: "Invalid request" },
  unauthorized: { status: 401, title: "Unauthorized" },
  forbidden: { status: 403, title: "Forbidden" },
  insufficient_scope: { status: 403, title: "Insufficient scope" },
  not_found: { status: 404, title: "Not found" },
  already_exists: { status: 409, title: "Already exists" },
  named_pool_full: { status: 409, title: "Named pool is full" },
  quantity_below_assigned: { status: 409, title: "Quantity below what is assigned" },
  pool_at_ceiling: { status: 409, title: "Pool at its ceiling" },
  // The user's team holds as many seats in the pool as its cap allows (docs/licensing.md#teams).
  team_at_ceiling: { status: 409, title: "Team at its ceiling" },
  // 403 at checkout (the agent may not take a seat); add-on assignment overrides it to 409.
  no_license: { status: 403, title: "No license" },
  addon_seats_exhausted: { status: 409, title: "Add-on seats exhausted" },
  session_not_found: { status: 404, title: "Session not found" },
  // The waitlist entry of a session: expired (not renewed within a lease), left, or never made.
  wait_not_found: { status: 404, title: "Waitlist entry not found" },
  upgrade_required: { status: 426, title: "Upgrade required" },
  conflict: { status: 409, title: "Conflict" },
  not_dead: { status: 409, title: "Event is not dead" },
  payload_too_large: { status: 413, title: "Payload too large" },
  unsupported_media_type: { status: 415, title: "Unsupported media type" },
  idempotency_key_reused: { status: 422, title: "Idempotency key reused" },
  idempotency_key_in_use: { status: 409, title: "Idempotency key in use" },
  rate_limited: { status: 429, title: "Too many requests" },
  internal: { status: 500, title: "Internal error" },
  not_configured: { status: 503, title: "Not configured" },
  // A D1 write reported an error: it may have landed. The object re-reads its roster; the client reads back.
  outcome_unknown: { status: 503, title: "Outcome unknown" },
} as const satisfies Record<string, { status: ContentfulStatusCode; title: string }>;

export type ErrorCode = keyof typeof CODES;

export const ERROR_CODES = Object.keys(CODES) as ErrorCode[];

/** The HTTP status an error code answers with, unless a call site overrides it. */
export const statusOf = (code: ErrorCode): ContentfulStatusCode => CODES[code].status;
export const titleOf = (code: ErrorCode): string => CODES[code].title;

export interface FieldError {
  path: string;
  message: string;
}

/**
 * A refused request. Thrown anywhere; rendered once, as RFC 9457 problem details. The status comes
 * from the code's row in the table; `status` overrides it only where the contract says so.
 */
export class ApiError extends Error {
  readonly status: ContentfulStatusCode;
  readonly code: ErrorCode;
  readonly detail: string;
  readonly extra: Record<string, unknown>;

  constructor(code: ErrorCode, detail: string, extra?: Record<string, unknown>, status?: ContentfulStatusCode);
  /** @deprecated status-first form, kept only until src/seats constructs errors by code. */
  constructor(status: ContentfulStatusCode, code: ErrorCode, detail: string, extra?: Record<string, unknown>);
  constructor(...args: [ErrorCode, string, Record<string, unknown>?, ContentfulStatusCode?] | [ContentfulStatusCode, ErrorCode, string, Record<string, unknown>?]) {
    const [code, detail, extra, status] =
      typeof args[0] === "number"
        ? [args[1] as ErrorCode, args[2] as string, args[3] as Record<string, unknown> | undefined, args[0]]
        : [args[0], args[1] as string, args[2] as Record<string, unknown> | undefined, args[3] as ContentfulStatusCode | undefined];
    super(detail);
    this.name = "ApiError";
    this.code = code;
    this.detail = detail;
    this.extra = extra ?? {};
    this.status = status ?? statusOf(code);
  }

  /** Plain data, so the error survives a Durable Object RPC boundary (which keeps only message). */
  toJSON(): SerializedApiError {
    return { status: this.status, code: this.code, detail: this.detail, extra: this.extra };
  }
}

export interface SerializedApiError {
  status: ContentfulStatusCode;
  code: ErrorCode;
  detail: string;
  extra: Record<string, unknown>;
}

export const notFound = (what: string) => new ApiError("not_found", `${what} was not found.`);
export const invalid = (detail: string, errors: FieldError[] = []) => new ApiError("invalid_request", detail, errors.length ? { errors } : {});

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: ErrorCode;
  [extra: string]: unknown;
}

export function problemBody(err: Pick<ApiError, "status" | "code" | "detail" | "extra">, instance?: string): Problem {
  return {
    type: `https://seatkeeper.dev/problems/${err.code.replace(/_/g, "-")}`,
    title: titleOf(err.code),
    status: err.status,
    detail: err.detail,
    code: err.code,
    ...(instance ? { instance } : {}),
    ...err.extra,
  };
}

export function problemResponse(c: Context, err: Pick<ApiError, "status" | "code" | "detail" | "extra">): Response {
  return c.newResponse(JSON.stringify(problemBody(err, new URL(c.req.url).pathname)), err.status, {
    "content-type": "application/problem+json",
  });
}

/** Hono's own refusals (malformed JSON, a body of another media type) as the API's codes. */
export function fromHttpException(err: { status: number; message: string }): ApiError {
  const detail = err.message || "The request could not be read.";
  if (err.status === 415) return new ApiError("unsupported_media_type", `${detail}: send application/json.`);
  if (err.status === 413) return new ApiError("payload_too_large", detail);
  // Any other 4xx of the framework is an unreadable request: 400 with the body named.
  return invalid(detail, [{ path: "(body)", message: detail }]);
}

/** Zod issues as `{ path, message }` fields, the `errors` member of a 400. */
export function fieldErrors(error: z.ZodError): FieldError[] {
  return error.issues.flatMap((issue) => {
    const at = issue.path.map(String);
    // A strict object's unknown fields: one entry per field, named by its own path.
    if (issue.code === "unrecognized_keys") return issue.keys.map((key) => ({ path: [...at, key].join("."), message: "unknown field" }));
    return [{ path: at.join(".") || "(body)", message: issue.message }];
  });
}

/** The validation hook of every route: a zod failure becomes 400 invalid_request with the fields. */
export function validationHook(
  result: { success: true } | { success: false; error: z.ZodError; target?: string },
  c: Context,
): Response | undefined {
  if (result.success) return undefined;
  const where = "target" in result && result.target ? ` in ${result.target}` : "";
  return problemResponse(c, invalid(`The request is not valid${where}.`, fieldErrors(result.error)));
}

/**
 * What a Durable Object method answers: errors cross the RPC boundary as data (an Error would keep
 * only its message), and the Worker turns them back into an ApiError with `unwrap`.
 */
export type Result<T> = { ok: true; value: T } | { ok: false; error: SerializedApiError };

export const ok = <T>(value: T): Result<T> => ({ ok: true, value });
export const fail = (err: ApiError): { ok: false; error: SerializedApiError } => ({ ok: false, error: err.toJSON() });

export function unwrap<T>(result: Result<T>): T {
  if (result.ok) return result.value;
  const { status, code, detail, extra } = result.error;
  throw new ApiError(code, detail, extra, status);
}
