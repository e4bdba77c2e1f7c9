import { describe, expect, it } from "vitest";
import { call, eventually, expectProblem, newAccount, type Fixture, api, replyOf } from "../helpers";

/** GET …/api-keys: what an admin may see of the account's keys (README Security). */

const acct = (f: Fixture, rest = "") => `/v1/accounts/${f.accountId}${rest}`;

describe("GET …/api-keys", () => {
  it("lists id, name, prefix, scopes, created, last used and revoked — never the key or its hash", async () => {
    const f = await newAccount();
    const bi = await replyOf(api(f.key).accounts[":account_id"]["api-keys"].$post({ param: { account_id: f.accountId }, json: { name: "bi", scopes: ["read"] } }));
    expect(bi.status).toBe(201);
    expect(bi.body.prefix).toBe(bi.body.key.slice(0, 11));

    const before = await call("GET", acct(f, "/api-keys"), f.key);
    expect(before.status).toBe(200);
    const listed = before.body.items.find((k: any) => k.id === bi.body.id);
    expect(listed).toEqual({ id: bi.body.id, name: "bi", prefix: bi.body.prefix, scopes: ["read"], created_at: bi.body.created_at, last_used_at: null, revoked_at: null });
    const text = JSON.stringify(before.body);
    expect(text).not.toContain(bi.body.key);
    expect(text).not.toMatch(/hash/i);

    // A use is recorded (off the request's path) and shows in the list.
    expect((await call("GET", acct(f, "/pools"), bi.body.key)).status).toBe(200);
    await eventually(async () => {
      const after = (await call("GET", acct(f, "/api-keys"), f.key)).body.items.find((k: any) => k.id === bi.body.id);
      expect(after.last_used_at).not.toBeNull();
      expect(Date.parse(after.last_used_at)).toBeGreaterThanOrEqual(Date.parse(bi.body.created_at));
    });

    expect((await call("DELETE", acct(f, `/api-keys/${bi.body.id}`), f.key)).status).toBe(204);
    const revoked = (await call("GET", acct(f, "/api-keys"), f.key)).body.items.find((k: any) => k.id === bi.body.id);
    expect(revoked.revoked_at).not.toBeNull();
  });

  it("another account's key gets 404 and sees nothing of them", async () => {
    const f = await newAccount();
    const other = await newAccount();
    expectProblem(await call("GET", acct(f, "/api-keys"), other.key), 404, "not_found");
    const own = (await call("GET", acct(other, "/api-keys"), other.key)).body.items;
    expect(own.map((k: any) => k.id)).toEqual([other.keyId]);
  });
});
