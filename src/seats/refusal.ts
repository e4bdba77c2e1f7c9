import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { Refusal } from "../domain/licenses";
import { ApiError } from "../errors";

/**
 * A domain refusal as an API error, its status from the code (src/errors.ts). `extra` adds fields
 * the caller knows (the user, the product); `status` overrides only where the contract says so.
 */
export function refusalError(refusal: Refusal, extra: Record<string, unknown> = {}, status?: ContentfulStatusCode): ApiError {
  return new ApiError(refusal.code, refusal.detail, { ...extra, ...refusal.extra }, status);
}
