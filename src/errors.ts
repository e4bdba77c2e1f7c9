import type { Context } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { z } from "@hono/zod-openapi";

/** Every machine-readable error code the API can answer with (docs/api.md#error-codes). */
export type ErrorCode =
  | "invalid_request"
  | "unauthorized"
  | "forbidden"
  | "not_found"
  | "already_exists"
  | "named_pool_full"
  | "quantity_below_assigned"
  | "pool_at_ceiling"
  | "no_license"
  | "addon_seats_exhausted"
  | "session_not_found"
  | "conflict"
  | "internal";

const TITLES: Record<ErrorCode, string> = {
  invalid_request: "Invalid request",
  unauthorized: "Unauthorized",
  forbidden: "Forbidden",
  not_found: "Not found",
  already_exists: "Already exists",
  named_pool_full: "Named pool is full",
  quantity_below_assigned: "Quantity below what is assigned",
  pool_at_ceiling: "Pool at its ceiling",
  no_license: "No license",
  addon_seats_exhausted: "Add-on seats exhausted",
  session_not_found: "Session not found",
  conflict: "Conflict",
  internal: "Internal error",
};

export interface FieldError {
  path: string;
  message: string;
}

/** A refused request. Thrown anywhere; rendered once, as RFC 9457 problem details. */
export class ApiError extends Error {
  constructor(
    readonly status: ContentfulStatusCode,
    readonly code: ErrorCode,
    readonly detail: string,
    readonly extra: Record<string, unknown> = {},
  ) {
    super(detail);
    this.name = "ApiError";
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

export const notFound = (what: string) => new ApiError(404, "not_found", `${what} was not found.`);
export const invalid = (detail: string, errors: FieldError[] = []) =>
  new ApiError(400, "invalid_request", detail, errors.length ? { errors } : {});

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
    title: TITLES[err.code],
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

/** Zod issues as `{ path, message }` fields, the `errors` member of a 400. */
export function fieldErrors(error: z.ZodError): FieldError[] {
  return error.issues.map((issue) => ({
    path: issue.path.map(String).join(".") || "(body)",
    message: issue.message,
  }));
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
  throw new ApiError(status, code, detail, extra);
}
