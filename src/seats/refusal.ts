import type { Refusal } from "../domain/licenses";
import { ApiError, type ErrorCode } from "../errors";

/** HTTP status of each refusal the license and add-on rules can give (until errors.ts derives it from the code). */
const REFUSAL_STATUS: Partial<Record<ErrorCode, 400 | 403 | 404 | 409>> = {
  invalid_request: 400,
  not_found: 404,
  named_pool_full: 409,
  quantity_below_assigned: 409,
  pool_at_ceiling: 409,
  addon_seats_exhausted: 409,
  no_license: 409,
};

/** A domain refusal as an API error; `extra` adds fields the caller knows (the user, the product). */
export function refusalError(refusal: Refusal, extra: Record<string, unknown> = {}): ApiError {
  return new ApiError(REFUSAL_STATUS[refusal.code] ?? 409, refusal.code, refusal.detail, { ...extra, ...refusal.extra });
}
