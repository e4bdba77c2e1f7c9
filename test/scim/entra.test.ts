import { describe, expect, it } from "vitest";
import { agentToken, call, checkout, expectProblem, api, replyOf } from "../helpers";
import { EXT, GROUP, licenseOf, PATCH_OP, provisioned, scim, USER } from "./support";

/**
 * The request sequences of Microsoft Entra ID's SCIM endpoint documentation (create, query,
 * update multi- and single-valued attributes, disable, group create/update/members, delete),
 * including the forms Entra sends: capitalised ops, "False" strings, path-less replace objects.
 */

const ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

const entraUser = (userName: string, extra: Record<string, unknown> = {}) => ({
  schemas: [USER, ENTERPRISE],
  externalId: "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef",
  userName,
  active: true,
  emails: [{ primary: true, type: "work", value: userName }],
  meta: { resourceType: "User" },
  name: { formatted: "givenName familyName", familyName: "familyName", givenName: "givenName" },
  roles: [],
  [ENTERPRISE]: { department: "Contact Center", employeeNumber: "1234" },
  ...extra,
});

const user = (id: string) => `/Users/${encodeURIComponent(id)}`;

describe("Entra ID: users", () => {
  it("creates, queries, updates, disables (with the string \"False\"), re-enables and deletes", async () => {
    const f = await provisioned({ "premium-concurrent": 10, "elite-named": 1 });
    const name = "Test_User_ab6490ee@testuser.com";
    const created = await scim("POST", "/Users", f.scimKey, entraUser(name, { [`${EXT}:pool`]: "premium-concurrent" }));
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    expect(await licenseOf(f, name)).toEqual({ pool: "premium-concurrent", addons: [] });

    // Query by userName and by externalId; a miss answers an empty list.
    for (const filter of [`userName eq "${name}"`, 'externalId eq "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef"', `emails[type eq "work" and value eq "${name}"]`.replace(/type eq "work" and /, "")]) {
      const res = await scim("GET", `/Users?filter=${encodeURIComponent(filter)}`, f.scimKey);
      expect({ filter, total: res.body.totalResults }).toEqual({ filter, total: 1 });
    }
    expect((await scim("GET", `/Users?filter=${encodeURIComponent('userName eq "non-existent user"')}`, f.scimKey)).body.totalResults).toBe(0);

    // Update multi-valued and single-valued attributes (capitalised ops, a filtered path).
    const multi = await scim("PATCH", user(name), f.scimKey, {
      schemas: [PATCH_OP],
      Operations: [
        { op: "Replace", path: 'emails[type eq "work"].value', value: "updatedEmail@microsoft.com" },
        { op: "Replace", path: "name.familyName", value: "updatedFamilyName" },
      ],
    });
    expect(multi.status, JSON.stringify(multi.body)).toBe(200);
    expect(multi.body.emails[0].value).toBe("updatedEmail@microsoft.com");
    expect(multi.body.name.familyName).toBe("updatedFamilyName");
    const single = await scim("PATCH", user(name), f.scimKey, { schemas: [PATCH_OP], Operations: [{ op: "Replace", path: "userName", value: "renamed@testuser.com" }] });
    expect(single.status).toBe(200);
    expect(single.body).toMatchObject({ id: name, userName: "renamed@testuser.com" }); // the id stays
    expect((await scim("GET", `/Users?filter=${encodeURIComponent('userName eq "renamed@testuser.com"')}`, f.scimKey)).body.Resources[0].id).toBe(name);

    // Set the license through the extension path, as Entra's attribute mapping does.
    const elite = await scim("PATCH", user(name), f.scimKey, { schemas: [PATCH_OP], Operations: [{ op: "Add", path: `${EXT}:pool`, value: "elite-named" }] });
    expect(elite.status, JSON.stringify(elite.body)).toBe(200);
    expect(await licenseOf(f, name)).toEqual({ pool: "elite-named", addons: [] });

    // Disable with the string "False" (Entra's older form): license revoked, seat ended.
    const token = await agentToken(f, name);
    expect((await checkout(token)).status).toBe(200);
    const off = await scim("PATCH", user(name), f.scimKey, { schemas: [PATCH_OP], Operations: [{ op: "Replace", path: "active", value: "False" }] });
    expect(off.status, JSON.stringify(off.body)).toBe(200);
    expect(off.body.active).toBe(false);
    expect(await licenseOf(f, name)).toEqual({ pool: null, addons: [] });
    expect((await checkout(token)).status).toBe(403);
    // A disabled user reads back as disabled (what Entra's validator checks).
    expect((await scim("GET", `/Users?filter=${encodeURIComponent('userName eq "renamed@testuser.com"')}`, f.scimKey)).body.Resources[0].active).toBe(false);

    // Re-enable with a path-less replace object (Entra's other form): the license comes back.
    const on = await scim("PATCH", user(name), f.scimKey, { schemas: [PATCH_OP], Operations: [{ op: "Replace", value: { active: "True", "name.givenName": "Back", [EXT]: { team: "north" } } }] });
    expect(on.status, JSON.stringify(on.body)).toBe(200);
    expect(on.body).toMatchObject({ active: true, name: { givenName: "Back" }, [EXT]: { pool: "elite-named", team: "north" } });

    // Delete: the user, their license, and their agent tokens go.
    expect((await scim("DELETE", user(name), f.scimKey)).status).toBe(204);
    expect(await licenseOf(f, name)).toBeNull();
    expect((await scim("GET", user(name), f.scimKey)).status).toBe(404);
    expect((await call("GET", "/v1/me", token)).status).toBe(401);
    expect((await checkout(token)).status).toBe(401);
    expect((await scim("DELETE", user(name), f.scimKey)).status).toBe(404);
    // The seat is free for another user of the named pool.
    expect((await scim("POST", "/Users", f.scimKey, entraUser("next@testuser.com", { [EXT]: { pool: "elite-named" } }))).status).toBe(201);
  });
});

describe("Entra ID: groups", () => {
  it("creates a group, checks it exists without members, renames it, adds and removes members (both remove forms)", async () => {
    const f = await provisioned({ "elite-named": 3 });
    expect((await replyOf(api(f.key).accounts[":account_id"].provisioning.rules.$put({ param: { account_id: f.accountId }, json: { rules: [{ group: "Agents", pool: "elite-named" }] } }))).status).toBe(200);
    const ids = ["a1@contoso.com", "a2@contoso.com"];
    for (const id of ids) expect((await scim("POST", "/Users", f.scimKey, entraUser(id, { externalId: id }))).status).toBe(201);

    const created = await scim("POST", "/Groups", f.scimKey, {
      schemas: [GROUP, "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"],
      externalId: "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159",
      displayName: "Staging",
      meta: { resourceType: "Group" },
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const gid = created.body.id;
    const exists = await scim("GET", `/Groups?excludedAttributes=members&filter=${encodeURIComponent('displayName eq "Staging"')}`, f.scimKey);
    expect(exists.body.totalResults).toBe(1);
    expect(exists.body.Resources[0].members).toBeUndefined();

    const rename = await scim("PATCH", `/Groups/${gid}`, f.scimKey, { schemas: [PATCH_OP], Operations: [{ op: "Replace", path: "displayName", value: "Agents" }] });
    expect(rename.status).toBe(204);
    const add = await scim("PATCH", `/Groups/${gid}`, f.scimKey, { schemas: [PATCH_OP], Operations: [{ op: "Add", path: "members", value: ids.map((value) => ({ $ref: null, value })) }] });
    expect(add.status, JSON.stringify(add.body)).toBe(204);
    for (const id of ids) expect(await licenseOf(f, id)).toEqual({ pool: "elite-named", addons: [] });
    // Is a1 a member? (Entra asks with a members filter.)
    const member = await scim("GET", `/Groups?excludedAttributes=members&filter=${encodeURIComponent(`id eq "${gid}" and members[value eq "${ids[0]}"]`)}`, f.scimKey);
    expect(member.body.totalResults).toBe(1);

    // The older remove form: path "members" with a value list.
    const remove1 = await scim("PATCH", `/Groups/${gid}`, f.scimKey, { schemas: [PATCH_OP], Operations: [{ op: "Remove", path: "members", value: [{ value: ids[0] }] }] });
    expect(remove1.status).toBe(204);
    expect(await licenseOf(f, ids[0])).toEqual({ pool: null, addons: [] });
    // The newer one: a filtered path.
    const remove2 = await scim("PATCH", `/Groups/${gid}`, f.scimKey, { schemas: [PATCH_OP], Operations: [{ op: "Remove", path: `members[value eq "${ids[1]}"]` }] });
    expect(remove2.status).toBe(204);
    expect(await licenseOf(f, ids[1])).toEqual({ pool: null, addons: [] });
    expect((await scim("DELETE", `/Groups/${gid}`, f.scimKey)).status).toBe(204);
  });

  it("a group push that would overfill a named pool is refused with 409 and nothing is half-applied", async () => {
    const f = await provisioned({ "elite-named": 1 });
    expect((await replyOf(api(f.key).accounts[":account_id"].provisioning.rules.$put({ param: { account_id: f.accountId }, json: { rules: [{ group: "Elite", pool: "elite-named" }] } }))).status).toBe(200);
    const ids = ["x1@contoso.com", "x2@contoso.com"];
    for (const id of ids) expect((await scim("POST", "/Users", f.scimKey, entraUser(id, { externalId: id }))).status).toBe(201);
    const gid = (await scim("POST", "/Groups", f.scimKey, { schemas: [GROUP], displayName: "Elite" })).body.id;
    const add = await scim("PATCH", `/Groups/${gid}`, f.scimKey, { schemas: [PATCH_OP], Operations: [{ op: "Add", path: "members", value: ids.map((value) => ({ value })) }] });
    expect(add.status).toBe(409);
    expect(add.headers.get("content-type")).toMatch(/^application\/scim\+json/);
    expect(add.body.detail).toMatch(/named pool elite-named/i);
    expect(add.body["urn:ietf:params:scim:api:messages:seatkeeper:2.0:Error"].code).toBe("named_pool_full");
    // Neither the membership nor any license changed.
    expect((await scim("GET", `/Groups/${gid}`, f.scimKey)).body.members).toEqual([]);
    for (const id of ids) expect(await licenseOf(f, id)).toEqual({ pool: null, addons: [] });
    // One member fits.
    expect((await scim("PATCH", `/Groups/${gid}`, f.scimKey, { schemas: [PATCH_OP], Operations: [{ op: "Add", path: "members", value: [{ value: ids[0] }] }] })).status).toBe(204);
    expect(await licenseOf(f, ids[0])).toEqual({ pool: "elite-named", addons: [] });
    // A user create asking for the full pool is refused too, and the user is not created.
    const third = await scim("POST", "/Users", f.scimKey, entraUser("x3@contoso.com", { [EXT]: { pool: "elite-named" } }));
    expect(third.status).toBe(409);
    expect(third.body.detail).toMatch(/full|seats/);
    expect(await licenseOf(f, "x3@contoso.com")).toBeNull();
    // The admin API refuses the same way.
    expectProblem(await replyOf(api(f.key).accounts[":account_id"].users[":user_id"].license.$put({ param: { account_id: f.accountId, user_id: ids[1] }, json: { pool: "elite-named" } })), 409, "named_pool_full");
  });
});
