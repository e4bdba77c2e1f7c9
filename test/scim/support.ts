import { createExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { expect } from "vitest";
import worker from "../../src/index";
import { call, newAccount, putPool, type Fixture, type Reply, api, replyOf } from "../helpers";

export const EXT = "urn:ietf:params:scim:schemas:extension:seatkeeper:2.0:User";
export const PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
export const USER = "urn:ietf:params:scim:schemas:core:2.0:User";
export const GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group";

/** A SCIM user as a provider sends it: core user, one work e-mail, the Seatkeeper extension's schema; `extra` on top. */
export const scimUserBody = (userName: string, extra: Record<string, unknown> = {}) => ({
  schemas: [USER, EXT],
  userName,
  name: { givenName: "Test", familyName: "User" },
  emails: [{ primary: true, value: userName, type: "work" }],
  displayName: "Test User",
  active: true,
  ...extra,
});

/** A SCIM request as an identity provider sends it (application/scim+json). */
export async function scim<T = any>(method: string, path: string, key: string | null, body?: unknown): Promise<Reply<T>> {
  const headers: Record<string, string> = {};
  if (key) headers.authorization = `Bearer ${key}`;
  if (body !== undefined) headers["content-type"] = "application/scim+json";
  const res = await worker.fetch(
    new Request(`https://seatkeeper.test/scim/v2${path}`, { method, headers, body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body) }),
    env,
    createExecutionContext(),
  );
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    // keep the text
  }
  return { status: res.status, body: parsed as T, headers: res.headers };
}

/** An account with pools and a provisioning key (the identity provider's credential). */
export async function provisioned(pools: Record<string, number> = { "elite-named": 2, "premium-concurrent": 10 }) {
  const f = await newAccount();
  for (const [pool, quantity] of Object.entries(pools)) await putPool(f, pool as Parameters<typeof putPool>[1], quantity);
  const res = await replyOf(api(f.key).accounts[":account_id"]["api-keys"].$post({ param: { account_id: f.accountId }, json: { name: "okta", scopes: ["provisioning"] } }));
  expect(res.status).toBe(201);
  return { ...f, scimKey: res.body.key as string, scimKeyId: res.body.id as string };
}

/** The admin API's view of a user: the license and add-ons that result. */
export async function licenseOf(f: Fixture, userId: string): Promise<{ pool: string | null; addons: string[]; team?: string | null } | null> {
  const res = await call("GET", `/v1/accounts/${f.accountId}/users/${encodeURIComponent(userId)}`, f.key);
  if (res.status === 404) return null;
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return { pool: res.body.pool, addons: res.body.addons };
}

export function expectScimError(res: Reply, status: number, scimType?: string) {
  expect({ status: res.status, body: res.body }).toMatchObject({ status, body: { schemas: ["urn:ietf:params:scim:api:messages:2.0:Error"], status: String(status) } });
  expect(res.headers.get("content-type")).toMatch(/^application\/scim\+json/);
  if (scimType) expect(res.body.scimType).toBe(scimType);
}
