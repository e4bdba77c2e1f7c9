import type { Context } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";

/** SCIM 2.0 (RFC 7643, RFC 7644) names and the error shape every /scim/v2 reply uses. */

export const SCIM_CONTENT_TYPE = "application/scim+json";

export const USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User";
export const GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group";
export const ENTERPRISE_SCHEMA = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
/** Seatkeeper's own extension: the license an identity provider sets on a user. */
export const SEATKEEPER_SCHEMA = "urn:ietf:params:scim:schemas:extension:seatkeeper:2.0:User";
export const LIST_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
export const PATCH_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
export const ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error";

/** RFC 7644 section 3.12 `scimType` values. */
export type ScimType =
  | "invalidFilter"
  | "tooMany"
  | "uniqueness"
  | "mutability"
  | "invalidSyntax"
  | "invalidPath"
  | "noTarget"
  | "invalidValue"
  | "invalidVers"
  | "sensitive";

/** A refused SCIM request; rendered once, in the SCIM error shape. */
export class ScimError extends Error {
  constructor(
    readonly status: ContentfulStatusCode,
    readonly detail: string,
    readonly scimType?: ScimType,
    /** The Seatkeeper problem code behind it (e.g. named_pool_full), for clients that read it. */
    readonly code?: string,
  ) {
    super(detail);
    this.name = "ScimError";
  }
}

export const invalidValue = (detail: string) => new ScimError(400, detail, "invalidValue");

export function scimErrorBody(err: ScimError) {
  return {
    schemas: [ERROR_SCHEMA],
    status: String(err.status),
    ...(err.scimType ? { scimType: err.scimType } : {}),
    detail: err.detail,
    ...(err.code ? { "urn:ietf:params:scim:api:messages:seatkeeper:2.0:Error": { code: err.code } } : {}),
  };
}

export function scimResponse(c: Context, body: unknown, status: ContentfulStatusCode = 200, headers: Record<string, string> = {}): Response {
  return c.newResponse(JSON.stringify(body), status, { "content-type": SCIM_CONTENT_TYPE, ...headers });
}

export function scimErrorResponse(c: Context, err: ScimError): Response {
  return scimResponse(c, scimErrorBody(err), err.status);
}
