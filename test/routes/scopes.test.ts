import { describe, expect, it } from "vitest";
import { acceptedScopes, familyOf, type Scope } from "../../src/auth/scopes";
import { agentToken, call, checkout, expectProblem, licensedUsers, newAccount, OPERATOR, putPool, putUsers, stateOf, type Fixture, api, replyOf } from "../helpers";

/** Scoped API keys (issue 16 part 2): each scope against representative routes. */

const acct = (f: Fixture, rest = "") => `/v1/accounts/${f.accountId}${rest}`;

async function keyWith(f: Fixture, scopes: Scope[] | undefined): Promise<{ key: string; id: string; scopes: string[] }> {
  const res = await replyOf(api(f.key).accounts[":account_id"]["api-keys"].$post({ param: { account_id: f.accountId }, json: scopes === undefined ? { name: "k" } : { name: "k", scopes } }));
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return { key: res.body.key, id: res.body.id, scopes: res.body.scopes };
}

/** An account with a concurrent pool, two licensed users, and one unlicensed user `spare`. */
async function setup() {
  const f = await newAccount();
  await putPool(f, "premium-concurrent", 5);
  await putPool(f, "elite-named", 2);
  await licensedUsers(f, "premium-concurrent", 2);
  await putUsers(f, ["spare"]);
  return f;
}

type Probe = readonly [method: string, path: string, body?: unknown];

/** Representative routes of each family; each is valid, so an allowed call gets a 2xx. */
const probes = (f: Fixture) => ({
  readAdmin: [
    ["GET", acct(f)],
    ["GET", acct(f, "/pools")],
    ["GET", acct(f, "/audit")],
    ["GET", acct(f, "/pools/premium-concurrent/seats")],
  ] as Probe[],
  writeAdmin: [
    ["PATCH", acct(f), { name: "Renamed" }],
    ["PUT", acct(f, "/pools/essentials-named"), { quantity: 3 }],
    ["PUT", acct(f, "/addons/workforce_management"), { quantity: 2 }],
    ["POST", acct(f, "/api-keys"), { name: "escalate" }],
    ["POST", acct(f, "/users/agent-0/agent-token"), {}],
  ] as Probe[],
  readProvisioning: [
    ["GET", acct(f, "/users")],
    ["GET", acct(f, "/users/agent-0")],
    ["GET", acct(f, "/users/agent-0/entitlements")],
  ] as Probe[],
  writeProvisioning: [
    ["PUT", acct(f, "/users/new-hire"), { display_name: "New Hire" }],
    ["PUT", acct(f, "/users/spare/license"), { pool: "elite-named" }],
    ["POST", acct(f, "/licenses:batch"), { assign: [{ user_id: "agent-1", pool: "elite-named" }] }],
    ["DELETE", acct(f, "/users/agent-1/license")],
  ] as Probe[],
  readBilling: [
    ["GET", acct(f, "/billing/preview")],
    ["GET", acct(f, "/billing/summaries")],
    ["GET", acct(f, "/compliance")],
  ] as Probe[],
});

async function expectAllowed(key: string, list: Probe[]) {
  for (const [method, path, body] of list) {
    // A table of routes: through `call`, since the typed client spells out one route per call.
    const res = await call(method, path, key, body);
    expect({ method, path, status: res.status < 300 ? "2xx" : res.status, body: res.status < 300 ? null : res.body }).toEqual({ method, path, status: "2xx", body: null });
  }
}

async function expectRefused(key: string, list: Probe[], granted: string[]) {
  for (const [method, path, body] of list) {
    // A table of routes: through `call`, since the typed client spells out one route per call.
    const res = await call(method, path, key, body);
    expectProblem(res, 403, "insufficient_scope");
    const accepted = acceptedScopes(method, new URL(`http://x${path}`).pathname);
    expect(res.body.required_scope, `${method} ${path}`).toBe(accepted[0]);
    expect(res.body.accepted_scopes).toEqual(accepted);
    expect(res.body.granted_scopes).toEqual(granted);
    expect(res.body.detail).toContain(`\`${accepted[0]}\``);
  }
}

describe("creating keys with scopes", () => {
  it("defaults to admin, echoes the scopes, and refuses unknown or empty scopes", async () => {
    const f = await newAccount();
    expect((await keyWith(f, undefined)).scopes).toEqual(["admin"]);
    expect((await keyWith(f, ["read", "billing", "read"])).scopes).toEqual(["billing", "read"]);
    for (const scopes of [[], ["superuser"], "read", [1]]) {
      // Malformed on purpose: through `call`, since the typed client would not compile this body.
      expectProblem(await call("POST", acct(f, "/api-keys"), f.key, { scopes }), 400, "invalid_request");
    }
    // An unknown field on purpose: through `call`, since the typed client would not compile it.
    expectProblem(await call("POST", acct(f, "/api-keys"), f.key, { scope: ["read"] }), 400, "invalid_request");
    const audit = (await call("GET", acct(f, "/audit"), f.key)).body.items.find((e: { action: string; detail: { scopes: string[] } }) => e.action === "api_key.create" && e.detail.scopes.includes("billing"));
    expect(audit.detail.scopes).toEqual(["billing", "read"]);
  });
});

describe("each scope against representative routes", () => {
  it("read: every GET, no write", async () => {
    const f = await setup();
    const { key } = await keyWith(f, ["read"]);
    const p = probes(f);
    await expectAllowed(key, [...p.readAdmin, ...p.readProvisioning, ...p.readBilling]);
    const before = await stateOf(f);
    await expectRefused(key, [...p.writeAdmin, ...p.writeProvisioning], ["read"]);
    expect(await stateOf(f)).toEqual(before);
  });

  it("provisioning: users, licenses, add-on assignments; not pools, purchases, keys, billing", async () => {
    const f = await setup();
    await replyOf(api(f.key).accounts[":account_id"].addons[":product"].$put({ param: { account_id: f.accountId, product: "workforce_management" }, json: { quantity: 5 } }));
    const { key } = await keyWith(f, ["provisioning"]);
    const p = probes(f);
    await expectAllowed(key, [
      ...p.readProvisioning,
      ...p.writeProvisioning,
      ["PUT", acct(f, "/users/agent-0/addons/workforce_management"), {}],
      ["DELETE", acct(f, "/users/agent-0/addons/workforce_management")],
      ["DELETE", acct(f, "/users/new-hire")],
    ]);
    const before = await stateOf(f);
    await expectRefused(key, [...p.readAdmin, ...p.writeAdmin, ...p.readBilling], ["provisioning"]);
    expect(await stateOf(f)).toEqual(before);
  });

  it("billing: summaries, preview, advice; not users or admin routes", async () => {
    const f = await setup();
    const { key } = await keyWith(f, ["billing"]);
    const p = probes(f);
    await expectAllowed(key, p.readBilling);
    await expectRefused(key, [...p.readAdmin, ...p.writeAdmin, ...p.readProvisioning, ...p.writeProvisioning], ["billing"]);
  });

  it("scopes add up: read + provisioning reads everything and writes only users and licenses", async () => {
    const f = await setup();
    const { key } = await keyWith(f, ["read", "provisioning"]);
    const p = probes(f);
    await expectAllowed(key, [...p.readAdmin, ...p.readProvisioning, ...p.readBilling, ...p.writeProvisioning]);
    await expectRefused(key, p.writeAdmin, ["provisioning", "read"]);
  });

  it("admin (explicit or default): everything, as before scopes", async () => {
    const f = await setup();
    const { key } = await keyWith(f, ["admin"]);
    const p = probes(f);
    await expectAllowed(key, [...p.readAdmin, ...p.readProvisioning, ...p.readBilling, ...p.writeProvisioning, ...p.writeAdmin]);
  });

  it("a narrow key gets 404, not 403, for another account: tenants stay unprobeable", async () => {
    const f = await setup();
    const other = await setup();
    const { key } = await keyWith(f, ["read"]);
    for (const [method, path, body] of [...probes(other).writeAdmin, ...probes(other).writeProvisioning, ...probes(other).readAdmin]) {
      // A table of routes: through `call`, since the typed client spells out one route per call.
      expectProblem(await call(method, path, key, body), 404, "not_found");
    }
  });

  it("a revoked narrow key fails with 401, not 403", async () => {
    const f = await setup();
    const { key, id } = await keyWith(f, ["read"]);
    expect((await call("DELETE", acct(f, `/api-keys/${id}`), f.key)).status).toBe(204);
    expectProblem(await replyOf(api(key).accounts[":account_id"].users[":user_id"].$put({ param: { account_id: f.accountId, user_id: "x" }, json: {} })), 401, "unauthorized");
  });
});

describe("credentials without scopes are unaffected", () => {
  it("the operator calls every family", async () => {
    const f = await setup();
    const p = probes(f);
    await expectAllowed(OPERATOR, [...p.readAdmin, ...p.readProvisioning, ...p.readBilling, ...p.writeProvisioning, ...p.writeAdmin]);
  });

  it("agent tokens still check out and read /v1/me, and still may not call admin routes", async () => {
    const f = await setup();
    const token = await agentToken(f, "agent-0");
    expect((await checkout(token)).status).toBe(200);
    expect((await call("GET", "/v1/me", token)).status).toBe(200);
    expectProblem(await call("GET", acct(f, "/users"), token), 403, "forbidden");
  });

  it("a key of any scope may not use the agent routes (403 forbidden, as before)", async () => {
    const f = await setup();
    const { key } = await keyWith(f, ["provisioning"]);
    expectProblem(await replyOf(api(key).seats.checkout.$post({ json: { session_id: "s" } })), 403, "forbidden");
  });
});

describe("GET /v1/whoami", () => {
  it("tells a key its scopes, and other credentials their kind", async () => {
    const f = await setup();
    const read = await keyWith(f, ["read", "billing"]);
    const prov = await keyWith(f, ["provisioning"]);
    expect((await call("GET", "/v1/whoami", read.key)).body).toEqual({ kind: "api_key", account_id: f.accountId, key_id: read.id, scopes: ["billing", "read"] });
    expect((await call("GET", "/v1/whoami", prov.key)).body).toEqual({ kind: "api_key", account_id: f.accountId, key_id: prov.id, scopes: ["provisioning"] });
    expect((await call("GET", "/v1/whoami", f.key)).body.scopes).toEqual(["admin"]);
    expect((await call("GET", "/v1/whoami", OPERATOR)).body).toEqual({ kind: "operator" });
    const token = await agentToken(f, "agent-0");
    expect((await call("GET", "/v1/whoami", token)).body).toEqual({ kind: "agent", account_id: f.accountId, user_id: "agent-0" });
    expectProblem(await call("GET", "/v1/whoami", null), 401, "unauthorized");
  });
});

describe("the route table", () => {
  it("classifies paths by family, closed by default", () => {
    expect(familyOf("PUT", "/v1/accounts/a/users/u")).toBe("provisioning");
    expect(familyOf("POST", "/v1/accounts/a/users/u/agent-token")).toBe("admin");
    expect(familyOf("POST", "/v1/accounts/a/users/u/agent-tokens:revoke")).toBe("admin");
    expect(familyOf("POST", "/v1/accounts/a/licenses:batch")).toBe("provisioning");
    expect(familyOf("GET", "/v1/accounts/a/billing/preview")).toBe("billing");
    expect(familyOf("PUT", "/v1/accounts/a/webhook")).toBe("admin");
    expect(familyOf("PATCH", "/scim/v2/Users/x")).toBe("provisioning");
    expect(familyOf("POST", "/v1/accounts/a/some-future-route")).toBe("admin");
    expect(acceptedScopes("GET", "/v1/accounts/a/some-future-route")).toEqual(["admin", "read"]);
  });
});

describe("OpenAPI", () => {
  it("describes the scopes in the security scheme and on every account route", async () => {
    const doc = (await call("GET", "/openapi.json")).body;
    expect(doc.components.securitySchemes.bearer.description).toMatch(/provisioning/);
    expect(doc.components.securitySchemes.bearer.description).toMatch(/insufficient_scope/);
    let count = 0;
    for (const [path, item] of Object.entries<Record<string, { "x-required-scopes"?: string[]; description?: string }>>(doc.paths)) {
      if (!path.startsWith("/v1/accounts/{account_id}")) continue;
      for (const [method, op] of Object.entries(item)) {
        if (!["get", "put", "post", "patch", "delete"].includes(method)) continue;
        expect(op["x-required-scopes"], `${method} ${path}`).toEqual(acceptedScopes(method, path));
        expect(op.description).toContain("scopes");
        count++;
      }
    }
    expect(count).toBeGreaterThan(20);
    expect(doc.paths["/v1/accounts/{account_id}/users/{user_id}"].put["x-required-scopes"]).toEqual(["provisioning", "admin"]);
    expect(doc.paths["/v1/accounts/{account_id}/billing/preview"].get["x-required-scopes"]).toEqual(["billing", "admin", "read"]);
    expect(doc.paths["/v1/accounts/{account_id}/pools/{pool_id}"].put["x-required-scopes"]).toEqual(["admin"]);
    expect(doc.paths["/v1/whoami"].get).toBeDefined();
  });
});
