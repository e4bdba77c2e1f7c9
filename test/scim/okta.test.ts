import { describe, expect, it } from "vitest";
import { agentToken, auditOf, call, checkout, api, replyOf } from "../helpers";
import { EXT, GROUP, licenseOf, PATCH_OP, provisioned, scim, scimUserBody } from "./support";

/**
 * The request sequences of Okta's SCIM 2.0 reference (create, update, deactivate, reactivate,
 * group push), replayed against /scim/v2, with the licenses that result.
 */

/** What Okta sends: the common body plus its locale, externalId, an empty groups list and a password. */
const oktaUser = (userName: string, extra: Record<string, unknown> = {}) =>
  scimUserBody(userName, { locale: "en-US", externalId: "00ujl29u0le5T6Aj10h7", groups: [], password: "1mz050nq", ...extra });

describe("Okta: create, update, deactivate, reactivate", () => {
  it("looks the user up, creates them with a license, updates by PUT, deactivates and reactivates by PATCH", async () => {
    const f = await provisioned();
    // 1. Does the user exist? (Okta asks by userName first.)
    const lookup = await scim("GET", `/Users?filter=${encodeURIComponent('userName eq "test.user@okta.local"')}&startIndex=1&count=100`, f.scimKey);
    expect(lookup.status).toBe(200);
    expect(lookup.headers.get("content-type")).toMatch(/^application\/scim\+json/);
    expect(lookup.body).toMatchObject({ schemas: ["urn:ietf:params:scim:api:messages:2.0:ListResponse"], totalResults: 0, startIndex: 1, itemsPerPage: 0, Resources: [] });

    // 2. Create, with the license in the extension.
    const created = await scim("POST", "/Users", f.scimKey, oktaUser("test.user@okta.local", { [EXT]: { pool: "elite-named", addons: ["workforce_management"] } }));
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    expect(created.body).toMatchObject({
      id: "test.user@okta.local",
      userName: "test.user@okta.local",
      externalId: "00ujl29u0le5T6Aj10h7",
      active: true,
      displayName: "Test User",
      name: { givenName: "Test", familyName: "User" },
      [EXT]: { pool: "elite-named", addons: [] }, // elite includes WFM for named seats: nothing to record
      meta: { resourceType: "User", location: "https://seatkeeper.test/scim/v2/Users/test.user%40okta.local" },
    });
    expect(created.body.password).toBeUndefined();
    expect(created.headers.get("location")).toBe(created.body.meta.location);
    const id = created.body.id;
    expect(await licenseOf(f, id)).toEqual({ pool: "elite-named", addons: [] });

    // 3. Read back by id, and by the lookup.
    expect((await scim("GET", `/Users/${encodeURIComponent(id)}`, f.scimKey)).body.userName).toBe("test.user@okta.local");
    expect((await scim("GET", `/Users?filter=${encodeURIComponent('userName eq "TEST.USER@okta.local"')}`, f.scimKey)).body.totalResults).toBe(1);

    // 4. Update: Okta sends the whole user with PUT (here: a new name and another pool).
    const put = await scim("PUT", `/Users/${encodeURIComponent(id)}`, f.scimKey, {
      ...oktaUser("test.user@okta.local", { [EXT]: { pool: "premium-concurrent" } }),
      id,
      name: { givenName: "Another", familyName: "User" },
    });
    expect(put.status, JSON.stringify(put.body)).toBe(200);
    expect(put.body.name.givenName).toBe("Another");
    expect(await licenseOf(f, id)).toEqual({ pool: "premium-concurrent", addons: [] });

    // 5. Deactivate: the license goes, the desktop's seat ends.
    const token = await agentToken(f, id);
    expect((await checkout(token)).status).toBe(200);
    const off = await scim("PATCH", `/Users/${encodeURIComponent(id)}`, f.scimKey, { schemas: [PATCH_OP], Operations: [{ op: "replace", value: { active: false } }] });
    expect(off.status, JSON.stringify(off.body)).toBe(200);
    expect(off.body.active).toBe(false);
    expect(await licenseOf(f, id)).toEqual({ pool: null, addons: [] });
    expect((await call("GET", `/v1/accounts/${f.accountId}/pools/premium-concurrent/seats`, f.key)).body.items).toEqual([]);
    expect((await checkout(token)).status).toBe(403);

    // 6. Reactivate: what the provider set comes back.
    const on = await scim("PATCH", `/Users/${encodeURIComponent(id)}`, f.scimKey, { schemas: [PATCH_OP], Operations: [{ op: "replace", value: { active: true } }] });
    expect(on.status).toBe(200);
    expect(await licenseOf(f, id)).toEqual({ pool: "premium-concurrent", addons: [] });

    // Every change is audited as the SCIM key.
    const audit = await auditOf(f);
    const scimEntries = audit.filter((e) => e.actor === `scim:${f.scimKeyId}`);
    expect(scimEntries.map((e) => e.action)).toEqual(
      expect.arrayContaining(["scim.user.create", "scim.user.replace", "scim.user.patch", "license.assign", "license.revoke"]),
    );
    expect(JSON.stringify(audit)).not.toContain("1mz050nq");
  });

  it("a PUT that asks for an add-on without purchased seats is refused whole (409) and changes nothing", async () => {
    const f = await provisioned();
    const id = "qm.user@okta.local";
    expect((await scim("POST", "/Users", f.scimKey, oktaUser(id, { [EXT]: { pool: "premium-concurrent" } }))).status).toBe(201);
    const before = await scim("GET", `/Users/${encodeURIComponent(id)}`, f.scimKey);
    const put = await scim("PUT", `/Users/${encodeURIComponent(id)}`, f.scimKey, {
      ...oktaUser(id, { [EXT]: { pool: "premium-concurrent", addons: ["quality_management"] } }),
      displayName: "Changed",
    });
    expect(put.status).toBe(409);
    expect(put.body.detail).toMatch(/quality_management/);
    expect((await scim("GET", `/Users/${encodeURIComponent(id)}`, f.scimKey)).body).toEqual(before.body);
  });
});

describe("Okta: group push", () => {
  it("creates the group, renames it, adds and removes members by PATCH, deletes it; group rules follow", async () => {
    const f = await provisioned({ "elite-named": 5, "premium-concurrent": 10 });
    expect((await replyOf(api(f.key).accounts[":account_id"].provisioning.rules.$put({ param: { account_id: f.accountId }, json: { rules: [{ group: "CC Elite", pool: "elite-named", team: "tier2" }] } }))).status).toBe(200);
    const ids: string[] = [];
    for (const name of ["ann@okta.local", "bob@okta.local"]) {
      const res = await scim("POST", "/Users", f.scimKey, oktaUser(name, { externalId: name }));
      expect(res.status).toBe(201);
      ids.push(res.body.id);
    }
    // Push: Okta looks the group up, then creates it empty.
    expect((await scim("GET", `/Groups?filter=${encodeURIComponent('displayName eq "CC Elite (staging)"')}`, f.scimKey)).body.totalResults).toBe(0);
    const group = await scim("POST", "/Groups", f.scimKey, { schemas: [GROUP], displayName: "CC Elite (staging)", members: [] });
    expect(group.status, JSON.stringify(group.body)).toBe(201);
    const gid = group.body.id;
    // Rename into the mapped name (Okta sends id and displayName with a path-less replace).
    const renamed = await scim("PATCH", `/Groups/${gid}`, f.scimKey, { schemas: [PATCH_OP], Operations: [{ op: "replace", value: { id: gid, displayName: "CC Elite" } }] });
    expect(renamed.status, JSON.stringify(renamed.body)).toBe(204);
    // Add both members: the rule assigns their licenses.
    const add = await scim("PATCH", `/Groups/${gid}`, f.scimKey, {
      schemas: [PATCH_OP],
      Operations: [{ op: "add", path: "members", value: ids.map((value) => ({ value, display: value })) }],
    });
    expect(add.status, JSON.stringify(add.body)).toBe(204);
    expect(await licenseOf(f, ids[0])).toEqual({ pool: "elite-named", addons: [] });
    expect(await licenseOf(f, ids[1])).toEqual({ pool: "elite-named", addons: [] });
    const read = await scim("GET", `/Groups/${gid}`, f.scimKey);
    expect(read.body.members.map((m: { value: string }) => m.value).sort()).toEqual([...ids].sort());
    expect((await scim("GET", `/Users/${encodeURIComponent(ids[0])}`, f.scimKey)).body).toMatchObject({ groups: [{ value: gid, display: "CC Elite" }], [EXT]: { team: "tier2" } });
    // Remove one member by filter: their license goes.
    const remove = await scim("PATCH", `/Groups/${gid}`, f.scimKey, { schemas: [PATCH_OP], Operations: [{ op: "remove", path: `members[value eq "${ids[0]}"]` }] });
    expect(remove.status).toBe(204);
    expect(await licenseOf(f, ids[0])).toEqual({ pool: null, addons: [] });
    expect(await licenseOf(f, ids[1])).toEqual({ pool: "elite-named", addons: [] });
    // Delete the group: the last member leaves it.
    expect((await scim("DELETE", `/Groups/${gid}`, f.scimKey)).status).toBe(204);
    expect(await licenseOf(f, ids[1])).toEqual({ pool: null, addons: [] });
    expect((await scim("GET", `/Groups/${gid}`, f.scimKey)).status).toBe(404);
  });
});
