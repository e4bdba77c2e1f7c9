import { describe, expect, it } from "vitest";
import type { PoolId } from "../../src/domain/catalog";
import { agentToken, auditOf, call, licensedUsers, OPERATOR, api, replyOf } from "../helpers";
import { EXT, expectScimError, GROUP, licenseOf, PATCH_OP, provisioned, scim, USER } from "./support";

const u = (userName: string, extra: Record<string, unknown> = {}) => ({ schemas: [USER], userName, ...extra });

describe("SCIM authentication and tenancy", () => {
  it("needs an API key with the provisioning or admin scope; other credentials get SCIM errors", async () => {
    const f = await provisioned();
    const read = (await replyOf(api(f.key).accounts[":account_id"]["api-keys"].$post({ param: { account_id: f.accountId }, json: { scopes: ["read"] } }))).body.key;
    const billing = (await replyOf(api(f.key).accounts[":account_id"]["api-keys"].$post({ param: { account_id: f.accountId }, json: { scopes: ["billing"] } }))).body.key;
    expectScimError(await scim("GET", "/Users", null), 401);
    expect((await scim("GET", "/Users", null)).headers.get("www-authenticate")).toMatch(/^Bearer/);
    expectScimError(await scim("GET", "/Users", OPERATOR), 401);
    expectScimError(await scim("GET", "/Users", `sk_${"A".repeat(43)}`), 401);
    for (const key of [read, billing]) {
      const res = await scim("POST", "/Users", key, u("nope@x.io"));
      expectScimError(res, 403);
      expect(res.body.detail).toMatch(/provisioning/);
    }
    // read may not even list: SCIM is the provisioning family, GET or not... except that read allows GETs.
    expect((await scim("GET", "/Users", read)).status).toBe(200);
    expectScimError(await scim("GET", "/Users", billing), 403);
    expect((await scim("GET", "/Users", f.key)).status).toBe(200); // admin
    await licensedUsers(f, "premium-concurrent", 1);
    expectScimError(await scim("GET", "/Users", await agentToken(f, "agent-0")), 401);
  });

  it("the key's account is the tenant: another account's users are invisible and untouchable", async () => {
    const a = await provisioned();
    const b = await provisioned();
    expect((await scim("POST", "/Users", a.scimKey, u("shared@x.io"))).status).toBe(201);
    expect((await scim("GET", "/Users", b.scimKey)).body.totalResults).toBe(0);
    expectScimError(await scim("GET", "/Users/shared@x.io", b.scimKey), 404);
    expectScimError(await scim("DELETE", "/Users/shared@x.io", b.scimKey), 404);
    // The same userName may exist in both accounts.
    expect((await scim("POST", "/Users", b.scimKey, u("shared@x.io"))).status).toBe(201);
    expect(await licenseOf(a, "shared@x.io")).toEqual({ pool: null, addons: [] });
  });
});

describe("SCIM discovery", () => {
  it("serves ServiceProviderConfig, ResourceTypes and Schemas, with the Seatkeeper extension", async () => {
    const f = await provisioned();
    const spc = await scim("GET", "/ServiceProviderConfig", f.scimKey);
    expect(spc.body).toMatchObject({ patch: { supported: true }, filter: { supported: true, maxResults: 200 }, bulk: { supported: false }, etag: { supported: false } });
    const types = await scim("GET", "/ResourceTypes", f.scimKey);
    expect(types.body.Resources.map((r: { id: string }) => r.id)).toEqual(["User", "Group"]);
    expect(types.body.Resources[0].schemaExtensions).toEqual([{ schema: EXT, required: false }]);
    const schemas = await scim("GET", "/Schemas", f.scimKey);
    const ext = schemas.body.Resources.find((s: { id: string }) => s.id === EXT);
    expect(ext.attributes.map((a: { name: string }) => a.name)).toEqual(["pool", "team", "addons"]);
    expect((await scim("GET", `/Schemas/${EXT}`, f.scimKey)).body.id).toBe(EXT);
    expectScimError(await scim("GET", "/Schemas/urn:nope", f.scimKey), 404);
    expectScimError(await scim("GET", "/Nowhere", f.scimKey), 404);
  });
});

describe("SCIM lists, filters and pagination", () => {
  it("pages with startIndex/count and filters with eq, and, or", async () => {
    const f = await provisioned();
    for (let i = 0; i < 5; i++) {
      const res = await scim("POST", "/Users", f.scimKey, u(`p${i}@x.io`, { externalId: `ext-${i}`, emails: [{ value: `mail${i}@x.io`, primary: true }] }));
      expect(res.status).toBe(201);
    }
    const page = await scim("GET", "/Users?startIndex=2&count=2", f.scimKey);
    expect(page.body).toMatchObject({ totalResults: 5, startIndex: 2, itemsPerPage: 2 });
    expect(page.body.Resources.map((r: { id: string }) => r.id)).toEqual(["p1@x.io", "p2@x.io"]);
    expect((await scim("GET", "/Users?count=0", f.scimKey)).body).toMatchObject({ totalResults: 5, itemsPerPage: 0, Resources: [] });
    expect((await scim("GET", "/Users?startIndex=-3&count=1", f.scimKey)).body.startIndex).toBe(1);
    const q = async (filter: string) => (await scim("GET", `/Users?filter=${encodeURIComponent(filter)}`, f.scimKey)).body.Resources.map((r: { id: string }) => r.id).sort();
    expect(await q('externalId eq "ext-3"')).toEqual(["p3@x.io"]);
    expect(await q('emails.value eq "MAIL4@x.io"')).toEqual(["p4@x.io"]);
    expect(await q('emails[value eq "mail2@x.io"]')).toEqual(["p2@x.io"]);
    expect(await q('userName eq "p0@x.io" or externalId eq "ext-1"')).toEqual(["p0@x.io", "p1@x.io"]);
    expect(await q('userName eq "p0@x.io" and externalId eq "ext-1"')).toEqual([]);
    expect(await q('(userName eq "p0@x.io" or userName eq "p2@x.io") and active eq true')).toEqual(["p0@x.io", "p2@x.io"]);
    for (const bad of ['userName co "p"', "userName eq", 'title eq "x"', 'not (userName eq "x")']) {
      expectScimError(await scim("GET", `/Users?filter=${encodeURIComponent(bad)}`, f.scimKey), 400, "invalidFilter");
    }
    expectScimError(await scim("GET", "/Users?count=abc", f.scimKey), 400, "invalidValue");
  });
});

describe("SCIM refusals change nothing", () => {
  it("answers invalid bodies, duplicates and unknown pools with SCIM errors", async () => {
    const f = await provisioned();
    expect((await scim("POST", "/Users", f.scimKey, u("dup@x.io"))).status).toBe(201);
    const before = await auditOf(f);
    expectScimError(await scim("POST", "/Users", f.scimKey, u("DUP@x.io")), 409, "uniqueness");
    expectScimError(await scim("POST", "/Users", f.scimKey, { schemas: [USER] }), 400, "invalidValue");
    expectScimError(await scim("POST", "/Users", f.scimKey, u("has space@x.io")), 400, "invalidValue");
    expectScimError(await scim("POST", "/Users", f.scimKey, "{not json"), 400, "invalidSyntax");
    expectScimError(await scim("POST", "/Users", f.scimKey, u("p@x.io", { [EXT]: { pool: "gold-named" } })), 400, "invalidValue");
    expectScimError(await scim("POST", "/Users", f.scimKey, u("p@x.io", { [EXT]: { pool: "essentials-named" } })), 400, "invalidValue"); // not bought
    expectScimError(await scim("POST", "/Users", f.scimKey, u("p@x.io", { [EXT]: { team: "no spaces" } })), 400, "invalidValue");
    expectScimError(await scim("POST", "/Users", f.scimKey, u("p@x.io", { [EXT]: { addons: ["virtual_agent"] } })), 400, "invalidValue");
    expectScimError(await scim("POST", "/Users", f.scimKey, u("p@x.io", { [EXT]: { addons: ["workforce_management"] } })), 409); // no license
    expectScimError(await scim("POST", "/Users", f.scimKey, u("p@x.io", { active: "maybe" })), 400, "invalidValue");
    expectScimError(await scim("PATCH", "/Users/dup@x.io", f.scimKey, { Operations: [] }), 400, "invalidSyntax");
    expectScimError(await scim("PATCH", "/Users/dup@x.io", f.scimKey, { schemas: [PATCH_OP], Operations: [{ op: "move", path: "active" }] }), 400, "invalidSyntax");
    expectScimError(await scim("PATCH", "/Users/dup@x.io", f.scimKey, { schemas: [PATCH_OP], Operations: [{ op: "remove" }] }), 400, "noTarget");
    expectScimError(await scim("POST", "/Groups", f.scimKey, { schemas: [GROUP], displayName: "G", members: [{ value: "ghost@x.io" }] }), 400, "invalidValue");
    expect(await auditOf(f)).toEqual(before);
    expect((await scim("GET", "/Users", f.scimKey)).body.totalResults).toBe(1);
  });

  it("team and add-ons from the extension land on the user (comma-separated add-ons accepted)", async () => {
    const f = await provisioned({ "premium-concurrent": 5 });
    await replyOf(api(f.key).accounts[":account_id"].addons[":product"].$put({ param: { account_id: f.accountId, product: "workforce_management" }, json: { quantity: 1 } }));
    await replyOf(api(f.key).accounts[":account_id"].addons[":product"].$put({ param: { account_id: f.accountId, product: "quality_management" }, json: { quantity: 1 } }));
    const res = await scim("POST", "/Users", f.scimKey, u("t@x.io", { [EXT]: { pool: "premium-concurrent", team: "north.1", addons: "workforce_management, quality_management" } }));
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    expect(res.body[EXT]).toEqual({ pool: "premium-concurrent", team: "north.1", addons: ["quality_management", "workforce_management"] });
    expect(await licenseOf(f, "t@x.io")).toEqual({ pool: "premium-concurrent", addons: ["quality_management", "workforce_management"] });
    // Removing one add-on by PATCH unassigns just that one.
    const patched = await scim("PATCH", "/Users/t@x.io", f.scimKey, { schemas: [PATCH_OP], Operations: [{ op: "replace", path: `${EXT}:addons`, value: ["workforce_management"] }] });
    expect(patched.status, JSON.stringify(patched.body)).toBe(200);
    expect(await licenseOf(f, "t@x.io")).toEqual({ pool: "premium-concurrent", addons: ["workforce_management"] });
    // A second user asking for the last WFM seat is refused whole.
    expectScimError(await scim("POST", "/Users", f.scimKey, u("t2@x.io", { [EXT]: { pool: "premium-concurrent", addons: ["workforce_management"] } })), 409);
    expect(await licenseOf(f, "t2@x.io")).toBeNull();
  });
});

describe("provisioning rules", () => {
  it("GET and PUT the rules; a new rule applies to current members at once, all or nothing", async () => {
    const f = await provisioned({ "elite-named": 1, "premium-concurrent": 5 });
    const rules = `/v1/accounts/${f.accountId}/provisioning/rules`;
    const putRules = (token: string, json: { rules: Array<{ group: string; pool?: PoolId; team?: string }> }) =>
      replyOf(api(token).accounts[":account_id"].provisioning.rules.$put({ param: { account_id: f.accountId }, json }));
    expect((await call("GET", rules, f.key)).body).toEqual({ rules: [], updated_at: null });
    for (const id of ["r1@x.io", "r2@x.io"]) expect((await scim("POST", "/Users", f.scimKey, u(id))).status).toBe(201);
    const gid = (await scim("POST", "/Groups", f.scimKey, { schemas: [GROUP], displayName: "Floor", members: [{ value: "r1@x.io" }, { value: "r2@x.io" }] })).body.id;
    expect(gid).toBeDefined();
    // Mapping the 2-member group to a 1-seat named pool is refused, and the rules stay as they were.
    const full = await putRules(f.key, { rules: [{ group: "floor", pool: "elite-named" }] });
    expect(full.status).toBe(409);
    expect(full.body.code).toBe("named_pool_full");
    expect((await call("GET", rules, f.key)).body.rules).toEqual([]);
    // A concurrent pool fits everyone.
    const ok = await putRules(f.key, { rules: [{ group: "Floor", pool: "premium-concurrent", team: "floor" }] });
    expect(ok.status, JSON.stringify(ok.body)).toBe(200);
    expect(ok.body.applied).toEqual({ assigned: 2, revoked: 0, addons_assigned: 0, addons_unassigned: 0 });
    expect(await licenseOf(f, "r1@x.io")).toEqual({ pool: "premium-concurrent", addons: [] });
    // The user's own attribute wins over the group's pool.
    await scim("PATCH", "/Users/r2@x.io", f.scimKey, { schemas: [PATCH_OP], Operations: [{ op: "add", path: `${EXT}:pool`, value: "elite-named" }] });
    expect(await licenseOf(f, "r2@x.io")).toEqual({ pool: "elite-named", addons: [] });
    // Dropping the rule revokes what it gave, and only that.
    const none = await putRules(f.key, { rules: [] });
    expect(none.body.applied).toEqual({ assigned: 0, revoked: 1, addons_assigned: 0, addons_unassigned: 0 });
    expect(await licenseOf(f, "r1@x.io")).toEqual({ pool: null, addons: [] });
    expect(await licenseOf(f, "r2@x.io")).toEqual({ pool: "elite-named", addons: [] });
    // Bad rules: 400 problem. Malformed on purpose: through `call`, since the typed client would not compile them.
    for (const body of [{ rules: [{ group: "x" }] }, { rules: [{ group: "x", pool: "gold" }] }, { rules: [{ group: "a", pool: "elite-named" }, { group: "A", team: "t" }] }, { rules: [{ group: "x", team: "bad team" }] }]) {
      expect((await call("PUT", rules, f.key, body)).status).toBe(400);
    }
    // A read key may read the rules, not change them; a provisioning key may change them.
    const read = (await replyOf(api(f.key).accounts[":account_id"]["api-keys"].$post({ param: { account_id: f.accountId }, json: { scopes: ["read"] } }))).body.key;
    expect((await call("GET", rules, read)).status).toBe(200);
    expect((await putRules(read, { rules: [] })).status).toBe(403);
    expect((await putRules(f.scimKey, { rules: [] })).status).toBe(200);
    const audit = await auditOf(f);
    expect(audit.filter((e) => e.action === "provisioning.rules.put").length).toBe(3);
  });
});
