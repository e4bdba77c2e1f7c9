import type { OpenAPIHono } from "@hono/zod-openapi";
import { z } from "@hono/zod-openapi";
import { Problem } from "../routes/schemas";

/**
 * The SCIM endpoints in the OpenAPI document, for discovery only: SCIM's own schemas are served
 * at /scim/v2/Schemas (RFC 7643), so bodies are described loosely here.
 */

const ROUTES: [method: "get" | "post" | "put" | "patch" | "delete", path: string, operationId: string, summary: string][] = [
  ["get", "/scim/v2/ServiceProviderConfig", "scimGetServiceProviderConfig", "What this SCIM service supports"],
  ["get", "/scim/v2/ResourceTypes", "scimListResourceTypes", "The resource types: User, Group"],
  ["get", "/scim/v2/ResourceTypes/{id}", "scimGetResourceType", "One resource type"],
  ["get", "/scim/v2/Schemas", "scimListSchemas", "The schemas, the Seatkeeper user extension included"],
  ["get", "/scim/v2/Schemas/{id}", "scimGetSchema", "One schema"],
  ["get", "/scim/v2/Users", "scimListUsers", "List users (filter: userName, externalId, emails.value, id, displayName, active with eq/and/or; startIndex, count)"],
  ["post", "/scim/v2/Users", "scimCreateUser", "Create a user (the id is the userName), with a license through the extension"],
  ["get", "/scim/v2/Users/{id}", "scimGetUser", "Read a user"],
  ["put", "/scim/v2/Users/{id}", "scimReplaceUser", "Replace a user"],
  ["patch", "/scim/v2/Users/{id}", "scimPatchUser", "Change a user (add, replace, remove); active false revokes the license and ends the sessions"],
  ["delete", "/scim/v2/Users/{id}", "scimDeleteUser", "Delete a user, their license, add-ons, sessions and agent tokens"],
  ["get", "/scim/v2/Groups", "scimListGroups", "List groups (filter: displayName, externalId, id, members.value)"],
  ["post", "/scim/v2/Groups", "scimCreateGroup", "Create a group"],
  ["get", "/scim/v2/Groups/{id}", "scimGetGroup", "Read a group"],
  ["put", "/scim/v2/Groups/{id}", "scimReplaceGroup", "Replace a group"],
  ["patch", "/scim/v2/Groups/{id}", "scimPatchGroup", "Change a group's name or members; group rules assign and revoke"],
  ["delete", "/scim/v2/Groups/{id}", "scimDeleteGroup", "Delete a group"],
];

const Resource = z.object({}).passthrough().openapi("ScimResource");
const ScimError = z
  .object({ schemas: z.array(z.string()), status: z.string(), scimType: z.string().optional(), detail: z.string() })
  .openapi("ScimError");
const scimJson = (schema: z.ZodType, description: string) => ({ description, content: { "application/scim+json": { schema } } });

export function registerScimPaths(app: OpenAPIHono<any>): void {
  for (const [method, path, operationId, summary] of ROUTES) {
    const hasId = path.endsWith("{id}");
    const withBody = method === "post" || method === "put" || method === "patch";
    app.openAPIRegistry.registerPath({
      method,
      path,
      operationId,
      tags: ["scim"],
      summary,
      ...(hasId ? { request: { params: z.object({ id: z.string().openapi({ param: { name: "id", in: "path" } }) }) } } : {}),
      ...(withBody ? { request: { ...(hasId ? { params: z.object({ id: z.string().openapi({ param: { name: "id", in: "path" } }) }) } : {}), body: { required: true, content: { "application/scim+json": { schema: Resource } } } } } : {}),
      responses: {
        [method === "post" ? 201 : method === "delete" || (method === "patch" && path.startsWith("/scim/v2/Groups")) ? 204 : 200]:
          method === "delete" || (method === "patch" && path.startsWith("/scim/v2/Groups")) ? { description: "Done" } : scimJson(Resource, "OK"),
        400: scimJson(ScimError, "invalidValue, invalidFilter, invalidSyntax, noTarget, …"),
        401: scimJson(ScimError, "missing or bad API key"),
        403: scimJson(ScimError, "the key lacks the provisioning scope"),
        404: scimJson(ScimError, "not found (or another account's)"),
        409: scimJson(ScimError, "uniqueness, or a license refusal (named pool full, add-on seats exhausted): nothing was applied"),
        ...(withBody
          ? {
              // A Content-Length over 1 MiB is refused by the service's edge (problem+json) before SCIM reads anything.
              413: { description: "the body is over 1 MiB", content: { "application/problem+json": { schema: Problem }, "application/scim+json": { schema: ScimError } } },
              415: scimJson(ScimError, "the body is not application/scim+json (or application/json)"),
            }
          : {}),
      },
    });
  }
}
