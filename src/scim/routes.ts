import { Hono, type Context } from "hono";
import { API_KEY_PATTERN, hashApiKey } from "../auth/api-keys";
import { parseScopes, insufficientScope, allows } from "../auth/scopes";
import { findApiKey } from "../db/accounts";
import { database } from "../db/client";
import * as store from "../db/scim";
import type { Env } from "../env";
import { ApiError } from "../errors";
import { groupFilter, userFilter } from "./filter";
import { MAX_RESULTS, resourceTypes, schemas, serviceProviderConfig } from "./discovery";
import { LIST_SCHEMA, ScimError, scimErrorResponse, scimResponse } from "./protocol";
import { renderGroup, renderUser } from "./resources";
import * as service from "./service";

/**
 * SCIM 2.0 at /scim/v2 (RFC 7644). The tenant is the API key's account, so paths carry no
 * account id; the key needs the `provisioning` (or `admin`) scope. Every reply, errors included,
 * is `application/scim+json`.
 */

type ScimEnv = { Bindings: Env; Variables: { ctx: service.ScimContext } };

const MAX_BODY_BYTES = 1024 * 1024;

const unauthorized = (detail: string) => new ScimError(401, detail);

export const scimRoutes = new Hono<ScimEnv>().basePath("/scim/v2");

scimRoutes.onError((err, c) => {
  if (err instanceof ScimError) return scimErrorResponse(c, err);
  if (err instanceof ApiError) return scimErrorResponse(c, service.scimErrorFrom(err));
  console.error("scim: unhandled error", err);
  return scimErrorResponse(c, new ScimError(500, "Something went wrong on our side; read the resource back before retrying."));
});

scimRoutes.notFound((c) => scimErrorResponse(c, new ScimError(404, `No SCIM endpoint ${c.req.method} ${new URL(c.req.url).pathname}.`)));

scimRoutes.use("*", async (c, next) => {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(c.req.header("authorization") ?? "");
  if (!match || !API_KEY_PATTERN.test(match[1])) {
    c.header("www-authenticate", 'Bearer realm="seatkeeper-scim"');
    throw unauthorized("Send an account API key with the provisioning scope as `Authorization: Bearer sk_…`.");
  }
  const db = database(c.env.DB);
  const key = await findApiKey(db, await hashApiKey(match[1]));
  if (!key) throw unauthorized("The API key is unknown or revoked.");
  const scopes = parseScopes(key.scopes);
  const path = new URL(c.req.url).pathname;
  if (!allows(scopes, c.req.method, path)) {
    const refusal = insufficientScope(scopes, c.req.method, path);
    throw new ScimError(403, refusal.detail, undefined, "insufficient_scope");
  }
  const url = new URL(c.req.url);
  c.set("ctx", { env: c.env, db, accountId: key.accountId, actor: `scim:${key.id}`, base: `${url.origin}/scim/v2` });
  await next();
});

/** The JSON body (application/scim+json or application/json), at most 1 MiB. */
async function bodyOf(c: Context<ScimEnv>): Promise<unknown> {
  const type = (c.req.header("content-type") ?? "").split(";")[0].trim().toLowerCase();
  if (type !== "application/scim+json" && type !== "application/json") {
    throw new ScimError(415 as 400, "Send the body as application/scim+json (or application/json).", "invalidSyntax");
  }
  const text = await c.req.text();
  if (new TextEncoder().encode(text).length > MAX_BODY_BYTES) throw new ScimError(413 as 400, "The body is larger than 1 MiB.", "tooMany");
  try {
    return JSON.parse(text);
  } catch {
    throw new ScimError(400, "The body is not valid JSON.", "invalidSyntax");
  }
}

/** startIndex (1-based, below 1 means 1) and count (0..MAX_RESULTS), as RFC 7644 section 3.4.2.4 says. */
function paging(c: Context<ScimEnv>): { startIndex: number; count: number } {
  const int = (name: string, fallback: number) => {
    const raw = c.req.query(name);
    if (raw === undefined || raw === "") return fallback;
    if (!/^-?\d{1,9}$/.test(raw)) throw new ScimError(400, `${name} must be an integer.`, "invalidValue");
    return Number(raw);
  };
  return { startIndex: Math.max(1, int("startIndex", 1)), count: Math.min(MAX_RESULTS, Math.max(0, int("count", 100))) };
}

const listResponse = (c: Context<ScimEnv>, total: number, startIndex: number, resources: unknown[]) =>
  scimResponse(c, { schemas: [LIST_SCHEMA], totalResults: total, startIndex, itemsPerPage: resources.length, Resources: resources });

/** `excludedAttributes=members` (Entra ID asks it when it only checks a group exists). */
const excludesMembers = (c: Context<ScimEnv>) =>
  (c.req.query("excludedAttributes") ?? "").split(",").some((a) => a.trim().toLowerCase() === "members") ||
  ((c.req.query("attributes") ?? "") !== "" && !(c.req.query("attributes") ?? "").toLowerCase().split(",").map((a) => a.trim()).includes("members"));

// ------------------------------------------------------------------ discovery

scimRoutes.get("/ServiceProviderConfig", (c) => scimResponse(c, serviceProviderConfig(c.get("ctx").base)));
scimRoutes.get("/ResourceTypes", (c) => {
  const all = resourceTypes(c.get("ctx").base);
  return listResponse(c, all.length, 1, all);
});
scimRoutes.get("/ResourceTypes/:id", (c) => {
  const found = resourceTypes(c.get("ctx").base).find((r) => r.id === c.req.param("id"));
  if (!found) throw new ScimError(404, `Resource type ${c.req.param("id")} was not found.`);
  return scimResponse(c, found);
});
scimRoutes.get("/Schemas", (c) => {
  const all = schemas(c.get("ctx").base);
  return listResponse(c, all.length, 1, all);
});
scimRoutes.get("/Schemas/:id", (c) => {
  const found = schemas(c.get("ctx").base).find((s) => s.id === c.req.param("id"));
  if (!found) throw new ScimError(404, `Schema ${c.req.param("id")} was not found.`);
  return scimResponse(c, found);
});

// ------------------------------------------------------------------ users

scimRoutes.get("/Users", async (c) => {
  const ctx = c.get("ctx");
  const { startIndex, count } = paging(c);
  const page = await store.listUsers(ctx.db, ctx.accountId, userFilter(c.req.query("filter")), startIndex, count);
  return listResponse(c, page.total, startIndex, page.items.map((u) => renderUser(u, ctx.base)));
});

scimRoutes.post("/Users", async (c) => {
  const ctx = c.get("ctx");
  const input = await bodyOf(c);
  const user = await service.inTurn(ctx.env, ctx.accountId, () => service.createUser(ctx, input));
  const body = renderUser(user, ctx.base);
  return scimResponse(c, body, 201, { location: body.meta.location });
});

scimRoutes.get("/Users/:id", async (c) => scimResponse(c, renderUser(await service.getUser(c.get("ctx"), c.req.param("id")), c.get("ctx").base)));

scimRoutes.put("/Users/:id", async (c) => {
  const ctx = c.get("ctx");
  const body = await bodyOf(c);
  return scimResponse(c, renderUser(await service.inTurn(ctx.env, ctx.accountId, () => service.replaceUser(ctx, c.req.param("id"), body)), ctx.base));
});

scimRoutes.patch("/Users/:id", async (c) => {
  const ctx = c.get("ctx");
  const body = await bodyOf(c);
  return scimResponse(c, renderUser(await service.inTurn(ctx.env, ctx.accountId, () => service.patchUser(ctx, c.req.param("id"), body)), ctx.base));
});

scimRoutes.delete("/Users/:id", async (c) => {
  const ctx = c.get("ctx");
  await service.inTurn(ctx.env, ctx.accountId, () => service.deleteUser(ctx, c.req.param("id")));
  return c.body(null, 204);
});

// ------------------------------------------------------------------ groups

scimRoutes.get("/Groups", async (c) => {
  const ctx = c.get("ctx");
  const { startIndex, count } = paging(c);
  const members = !excludesMembers(c);
  const page = await store.listGroups(ctx.db, ctx.accountId, groupFilter(c.req.query("filter")), startIndex, count, members);
  return listResponse(c, page.total, startIndex, page.items.map((g) => renderGroup(g, ctx.base, members)));
});

scimRoutes.post("/Groups", async (c) => {
  const ctx = c.get("ctx");
  const input = await bodyOf(c);
  const group = await service.inTurn(ctx.env, ctx.accountId, () => service.createGroup(ctx, input));
  const body = renderGroup(group, ctx.base);
  return scimResponse(c, body, 201, { location: body.meta.location });
});

scimRoutes.get("/Groups/:id", async (c) => {
  const ctx = c.get("ctx");
  return scimResponse(c, renderGroup(await service.getGroup(ctx, c.req.param("id")), ctx.base, !excludesMembers(c)));
});

scimRoutes.put("/Groups/:id", async (c) => {
  const ctx = c.get("ctx");
  const body = await bodyOf(c);
  return scimResponse(c, renderGroup(await service.inTurn(ctx.env, ctx.accountId, () => service.replaceGroup(ctx, c.req.param("id"), body)), ctx.base));
});

scimRoutes.patch("/Groups/:id", async (c) => {
  const ctx = c.get("ctx");
  const body = await bodyOf(c);
  await service.inTurn(ctx.env, ctx.accountId, () => service.patchGroup(ctx, c.req.param("id"), body));
  // RFC 7644 section 3.5.2: 204 when the reply carries no resource (Entra ID and Okta accept both).
  return c.body(null, 204);
});

scimRoutes.delete("/Groups/:id", async (c) => {
  const ctx = c.get("ctx");
  await service.inTurn(ctx.env, ctx.accountId, () => service.deleteGroup(ctx, c.req.param("id")));
  return c.body(null, 204);
});

// Anything else under /scim/v2 answers in the SCIM error shape too.
scimRoutes.all("/*", (c) => scimErrorResponse(c, new ScimError(404, `No SCIM endpoint ${c.req.method} ${new URL(c.req.url).pathname}.`)));
