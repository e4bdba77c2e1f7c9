import { describe, expect, it } from "vitest";
import { MAX_BODY_BYTES } from "../../src/app";
import type { Scope } from "../../src/auth/scopes";
import { ADDON_KEYS, POOL_IDS } from "../../src/domain/catalog";
import { ERROR_CODES, statusOf } from "../../src/errors";
import { agentToken, call, fetchWorker, licensedUsers, newAccount, OPERATOR, putPool, replyOf, type Fixture, api } from "../helpers";

/**
 * The OpenAPI document lists 401, 403, 404, 409, 413, 415 and 429 where they can occur (README
 * "Security", docs/api.md "Rate limits and request size"). This walks every operation of the served
 * document and checks each route class, and where a refusal can be provoked without changing
 * anything, that the document and the app agree both ways: what the app answers is listed, and
 * what is listed is answered.
 */

type Operation = {
  operationId: string;
  tags?: string[];
  security?: unknown[];
  requestBody?: { content: Record<string, unknown> };
  responses: Record<string, { description: string; content?: Record<string, unknown> }>;
  "x-required-scopes"?: string[];
};
type Doc = { security: unknown[]; paths: Record<string, Record<string, Operation>> };
type Op = { method: string; path: string; op: Operation };

const METHODS = ["get", "put", "post", "patch", "delete"];

async function operations(): Promise<{ doc: Doc; ops: Op[] }> {
  const doc = (await call<Doc>("GET", "/openapi.json")).body;
  const ops: Op[] = [];
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const method of METHODS) if (item[method]) ops.push({ method, path, op: item[method] });
  }
  return { doc, ops };
}

const name = ({ method, path }: Op) => `${method.toUpperCase()} ${path}`;
const has = (o: Op, status: number) => String(status) in o.op.responses;
const authenticated = (o: Op, doc: Doc) => (o.op.security ?? doc.security).length > 0;
const accountRoute = (o: Op) => o.path.startsWith("/v1/accounts/{account_id}");
const scim = (o: Op) => o.path.startsWith("/scim/v2/");

/** A concrete path for a template: well-formed values for every parameter, so only the refusal under test can apply. */
const concrete = (path: string, accountId: string) =>
  path
    .replace("{account_id}", encodeURIComponent(accountId))
    .replace("{pool_id}", POOL_IDS[0])
    .replace("{product}", ADDON_KEYS[0])
    .replace("{key_id}", "key_nope")
    .replace("{event_id}", "evt_nope")
    .replace(/\{[a-z_]+\}/g, "nope");

async function send(o: Op, accountId: string, token: string | null, init: { contentType?: string; body?: string } = {}) {
  const headers: Record<string, string> = {};
  if (token) headers.authorization = `Bearer ${token}`;
  if (init.contentType) headers["content-type"] = init.contentType;
  return replyOf(fetchWorker(`http://seatkeeper.test${concrete(o.path, accountId)}`, { method: o.method.toUpperCase(), headers, body: init.body }));
}

/** The credential kind an operation is for: the operator's routes, the agents', or an account key's. */
function credentialFor(o: Op, f: Fixture, agent: string): string {
  if (o.op.tags?.includes("operator")) return OPERATOR;
  if (o.path.startsWith("/v1/seats/") || o.path === "/v1/me") return agent;
  return f.key;
}

/** An API key of `f` with one scope. */
async function keyWith(f: Fixture, scope: Scope): Promise<string> {
  const res = await replyOf(api(f.key).accounts[":account_id"]["api-keys"].$post({ param: { account_id: f.accountId }, json: { name: `only-${scope}`, scopes: [scope] } }));
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body.key;
}

describe("the OpenAPI document's refusals", () => {
  it("has operations to walk: every route class is present", async () => {
    const { doc, ops } = await operations();
    expect(ops.length).toBeGreaterThan(60);
    expect(ops.filter((o) => o.op.requestBody).length).toBeGreaterThan(20);
    expect(ops.filter((o) => o.op["x-required-scopes"]).length).toBeGreaterThan(30);
    expect(ops.filter((o) => authenticated(o, doc)).length).toBe(ops.length - 2); // /healthz and the presence upgrade
  });

  it("401: listed on every operation that needs a credential, and answered there without one", async () => {
    const { doc, ops } = await operations();
    const f = await newAccount();
    const mismatches: string[] = [];
    for (const o of ops) {
      const res = await send(o, f.accountId, null);
      if (has(o, 401) !== authenticated(o, doc)) mismatches.push(`${name(o)}: documented 401 ${has(o, 401)}, needs a credential ${authenticated(o, doc)}`);
      if ((res.status === 401) !== has(o, 401)) mismatches.push(`${name(o)}: answers ${res.status} without a credential, documents 401 ${has(o, 401)}`);
    }
    expect(mismatches).toEqual([]);
  });

  it("403 insufficient_scope: listed wherever API key scopes apply, and answered to a key outside them", async () => {
    const { ops } = await operations();
    const f = await newAccount();
    const keys = Object.fromEntries(await Promise.all((["read", "provisioning", "billing"] as const).map(async (s) => [s, await keyWith(f, s)] as const)));
    const mismatches: string[] = [];
    for (const o of ops.filter((o) => o.op["x-required-scopes"])) {
      const accepted = o.op["x-required-scopes"]!;
      const outside = Object.keys(keys).find((s) => !accepted.includes(s));
      if (!outside) {
        mismatches.push(`${name(o)}: every narrow scope is accepted, nothing to probe`);
        continue;
      }
      const forbidden = o.op.responses["403"];
      if (!forbidden) mismatches.push(`${name(o)}: no 403`);
      else if (!scim(o) && !forbidden.description.includes("insufficient_scope")) mismatches.push(`${name(o)}: 403 does not name insufficient_scope`);
      const res = await send(o, f.accountId, keys[outside]);
      const code = scim(o) ? res.body?.["urn:ietf:params:scim:api:messages:seatkeeper:2.0:Error"]?.code : res.body?.code;
      if (res.status !== 403 || code !== "insufficient_scope") mismatches.push(`${name(o)}: a \`${outside}\` key got ${res.status} ${code}`);
    }
    expect(mismatches).toEqual([]);
  });

  it("404: listed on every operation that names an account or a resource, and answered for another account's", async () => {
    const { ops } = await operations();
    const [mine, theirs] = await Promise.all([newAccount(), newAccount()]);
    const mismatches: string[] = [];
    for (const o of ops) {
      const namesSomething = accountRoute(o) || /\{[a-z_]+\}/.test(o.path);
      if (namesSomething && !has(o, 404)) mismatches.push(`${name(o)}: no 404`);
      // Without a body the route is reached as it is: another account's path is 404, tenants stay unprobeable.
      if (!accountRoute(o) || o.op.requestBody) continue;
      const operator = o.op.tags?.includes("operator");
      const res = await send(o, operator ? `no-such-${theirs.accountId}` : theirs.accountId, operator ? OPERATOR : mine.key);
      if (res.status !== 404 || res.body?.code !== "not_found") mismatches.push(`${name(o)}: another account's path got ${res.status} ${res.body?.code}`);
    }
    expect(mismatches).toEqual([]);
  });

  it("409: listed on the operations that can conflict, each naming conflict codes the error table answers with 409", async () => {
    const { ops } = await operations();
    // no_license is 403 at checkout and overridden to 409 for add-on assignments (src/errors.ts).
    const conflictCodes = [...ERROR_CODES.filter((c) => statusOf(c) === 409), "no_license"];
    // Where a 409 comes from: already_exists (account), quantity_below_assigned (pool, add-on quantity),
    // named_pool_full (license, batch, rules), addon_seats_exhausted and no_license (assignments),
    // pool_at_ceiling (checkout), not_dead (redelivery), SCIM uniqueness and license refusals.
    const CONFLICTS = [
      "createAccount",
      "putPool",
      "assignLicense",
      "batchLicenses",
      "putAddon",
      "assignAddon",
      "checkoutSeat",
      "redeliverWebhookEvent",
      "putProvisioningRules",
      "scimCreateUser",
      "scimReplaceUser",
      "scimPatchUser",
      "scimCreateGroup",
      "scimReplaceGroup",
      "scimPatchGroup",
    ];
    const byId = new Map(ops.map((o) => [o.op.operationId, o]));
    for (const id of CONFLICTS) expect(byId.get(id) && has(byId.get(id)!, 409), `${id} lists 409`).toBe(true);
    for (const o of ops.filter((o) => has(o, 409) && !scim(o))) {
      const named = (o.op.responses["409"].description.match(/[a-z]+(?:_[a-z]+)+|\bconflict\b/g) ?? []).filter((w) => (ERROR_CODES as string[]).includes(w));
      expect(named.length, `${name(o)} names the codes of its 409`).toBeGreaterThan(0);
      for (const c of named) expect(conflictCodes, `${name(o)}: ${c}`).toContain(c);
    }
  });

  it("413 and 415: listed on every operation with a body (and only there), and answered there", async () => {
    const { ops } = await operations();
    const f = await newAccount();
    await putPool(f, POOL_IDS[0], 5);
    const [user] = await licensedUsers(f, POOL_IDS[0], 1);
    const agent = await agentToken(f, user);
    const big = JSON.stringify({ pad: "x".repeat(MAX_BODY_BYTES) });
    const mismatches: string[] = [];
    for (const o of ops) {
      const withBody = Boolean(o.op.requestBody);
      for (const status of [413, 415]) if (has(o, status) !== withBody) mismatches.push(`${name(o)}: documents ${status} ${has(o, status)}, has a body ${withBody}`);
      if (!withBody) continue;
      const json = Object.keys(o.op.requestBody!.content)[0];
      // Too large: refused before anything else, credential or not.
      const large = await send(o, f.accountId, null, { contentType: json, body: big });
      if (large.status !== 413) mismatches.push(`${name(o)}: a body over 1 MiB got ${large.status}`);
      // Not JSON: refused with the caller's own credential, so no other refusal can come first.
      const text = await send(o, f.accountId, credentialFor(o, f, agent), { contentType: "text/plain", body: "hello" });
      if (text.status !== 415) mismatches.push(`${name(o)}: a text/plain body got ${text.status} ${JSON.stringify(text.body)}`);
    }
    expect(mismatches).toEqual([]);
  });

  // That these classes are the limiter's own (src/auth/rate-limits.ts) is shown by test/routes/limits.test.ts, which drives both over their limits.
  it("429: listed on every rate-limited operation (agents on /v1/seats/*, API key writes), and only there", async () => {
    const { ops } = await operations();
    const mismatches: string[] = [];
    for (const o of ops) {
      // The upgrade (GET) carries a ticket, not a caller; leaving the waitlist (DELETE) is an agent call like the POSTs.
      const agentSeat = o.path.startsWith("/v1/seats/") && (o.method === "post" || o.method === "delete");
      const keyWrite = accountRoute(o) && o.method !== "get";
      if (has(o, 429) !== (agentSeat || keyWrite)) mismatches.push(`${name(o)}: documents 429 ${has(o, 429)}, rate-limited ${agentSeat || keyWrite}`);
    }
    expect(mismatches).toEqual([]);
  });

  it("every refusal listed is a problem document (SCIM's are SCIM errors)", async () => {
    const { ops } = await operations();
    for (const o of ops) {
      for (const [status, response] of Object.entries(o.op.responses)) {
        if (!/^4\d\d$/.test(status) || !response.content) continue;
        const types = Object.keys(response.content);
        expect(types.some((t) => t === "application/problem+json" || (scim(o) && t === "application/scim+json")), `${name(o)} ${status}: ${types}`).toBe(true);
      }
    }
  });

  it("names every operation once", async () => {
    const { ops } = await operations();
    const ids = ops.map((o) => o.op.operationId);
    expect(ids.every((id) => /^[a-z][A-Za-z0-9]+$/.test(id)), ids.join(" ")).toBe(true);
    expect(new Set(ids).size).toBe(ids.length);
    // Stable names are part of the contract: generated clients call them.
    expect(ops.find((o) => o.path === "/v1/seats/checkout")!.op.operationId).toBe("checkoutSeat");
  });
});
