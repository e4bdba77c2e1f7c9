import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { BROAD_SEARCH } from "../../src/db/users";
import { auditOf, call, expectProblem, licensedUsers, newAccount, putPool, putUsers, stateOf, usersOf, type Fixture, type Reply, api, replyOf } from "../helpers";

/** Users: PUT, GET, list with cursor pagination, DELETE; agent tokens. */

const acct = (f: Fixture, rest = "") => `/v1/accounts/${f.accountId}${rest}`;
const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

describe("PUT /v1/accounts/{account_id}/users/{user_id}", () => {
  it("creates a user without a license, audited as user.put", async () => {
    const f = await newAccount();
    const res = await replyOf(api(f.key).accounts[":account_id"].users[":user_id"].$put({ param: { account_id: f.accountId, user_id: "ada@acme.example" }, json: { display_name: "Ada Lovelace", email: "ada@acme.example" } }));
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      id: "ada@acme.example",
      display_name: "Ada Lovelace",
      email: "ada@acme.example",
      pool: null,
      addons: [],
      team: null,
      created_at: expect.stringMatching(ISO),
    });
    const [last] = await auditOf(f);
    expect(last).toMatchObject({ action: "user.put", target: "ada@acme.example", actor: `api_key:${f.keyId}` });
  });

  it("creates a user with an empty body or none", async () => {
    const f = await newAccount();
    expect((await replyOf(api(f.key).accounts[":account_id"].users[":user_id"].$put({ param: { account_id: f.accountId, user_id: "u1" }, json: {} }))).body).toMatchObject({ id: "u1", display_name: null, email: null, pool: null });
    expect((await call("PUT", acct(f, "/users/u2"), f.key)).status).toBe(200);
  });

  it("replaces an existing user's fields, keeping created_at and the license", async () => {
    const f = await newAccount();
    await putPool(f, "elite-named", 2);
    const [u] = await licensedUsers(f, "elite-named", 1);
    const first = (await call("GET", acct(f, `/users/${u}`), f.key)).body;
    const res = await replyOf(api(f.key).accounts[":account_id"].users[":user_id"].$put({ param: { account_id: f.accountId, user_id: u }, json: { display_name: "Grace" } }));
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ id: u, display_name: "Grace", pool: "elite-named", created_at: first.created_at });
    expect((await auditOf(f)).filter((e) => e.action === "user.put" && e.target === u)).toHaveLength(2);
  });

  it("accepts the id alphabet and a 128-character id", async () => {
    const f = await newAccount();
    for (const id of ["A", "9", "a.b_c-d@e.f", "x".repeat(128)]) {
      const res = await replyOf(api(f.key).accounts[":account_id"].users[":user_id"].$put({ param: { account_id: f.accountId, user_id: encodeURIComponent(id) }, json: {} }));
      expect({ id, status: res.status }).toEqual({ id, status: 200 });
      expect(res.body.id).toBe(id);
    }
  });

  it("refuses bad ids and fields with 400 and changes nothing", async () => {
    const f = await newAccount();
    await putUsers(f, ["keep"]);
    const before = await stateOf(f);
    const cases: Array<[string, unknown]> = [
      ["x".repeat(129), {}],
      ["-dash-first", {}],
      [".dot-first", {}],
      ["has space", {}],
      ["semi;colon", {}],
      ["quote'd", {}],
      ["per%cent", {}],
      ["ümlaut", {}],
      ["keep", { email: "not an email" }],
      ["keep", { email: 5 }],
      ["keep", { display_name: 42 }],
      ["keep", { display_name: "x".repeat(201) }],
      ["keep", [1, 2]],
      ["keep", "\"just a string\""],
    ];
    for (const [id, input] of cases) {
      // Malformed on purpose: through `call`, since the typed client would not compile this body.
      const res = await call("PUT", acct(f, `/users/${encodeURIComponent(id)}`), f.key, input);
      expect({ id, input, status: res.status }).toEqual({ id, input, status: 400 });
      expectProblem(res, 400, "invalid_request");
    }
    expect(await stateOf(f)).toEqual(before);
  });
});

describe("GET /v1/accounts/{account_id}/users/{user_id}", () => {
  it("answers the user with license and add-ons", async () => {
    const f = await newAccount();
    await putPool(f, "premium-concurrent", 2);
    const [u] = await licensedUsers(f, "premium-concurrent", 1);
    const res = await call("GET", acct(f, `/users/${u}`), f.key);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ id: u, display_name: null, email: null, pool: "premium-concurrent", addons: [], team: null, created_at: expect.stringMatching(ISO) });
  });

  it("is 404 for an unknown user, 400 for a malformed id", async () => {
    const f = await newAccount();
    expectProblem(await call("GET", acct(f, "/users/nobody"), f.key), 404, "not_found");
    expectProblem(await call("GET", acct(f, `/users/${"y".repeat(129)}`), f.key), 400, "invalid_request");
  });
});

describe("GET /v1/accounts/{account_id}/users", () => {
  it("pages through every user exactly once, in id order", async () => {
    const f = await newAccount();
    const ids = ["u-c", "u-a", "u-e", "u-b", "u-d"];
    await putUsers(f, ids);
    const pages: string[][] = [];
    let cursor: string | null = null;
    do {
      const res: Reply = await call("GET", acct(f, `/users?limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`), f.key);
      expect(res.status).toBe(200);
      expect(Object.keys(res.body).sort()).toEqual(["items", "next_cursor"]);
      pages.push(res.body.items.map((u: { id: string }) => u.id));
      cursor = res.body.next_cursor;
    } while (cursor && pages.length < 10);
    expect(pages).toEqual([["u-a", "u-b"], ["u-c", "u-d"], ["u-e"]]);
  });

  it("an exact multiple of the page ends with next_cursor null, not an empty extra page", async () => {
    const f = await newAccount();
    await putUsers(f, ["a", "b", "c", "d"]);
    const first = await call("GET", acct(f, "/users?limit=2"), f.key);
    const second = await call("GET", acct(f, `/users?limit=2&cursor=${first.body.next_cursor}`), f.key);
    expect(second.body.items.map((u: { id: string }) => u.id)).toEqual(["c", "d"]);
    expect(second.body.next_cursor).toBeNull();
  });

  it("defaults to 100 per page, and shows licenses", async () => {
    const f = await newAccount();
    await putPool(f, "essentials-concurrent", 1);
    await licensedUsers(f, "essentials-concurrent", 3);
    await putUsers(f, ["nolicense"]);
    const res = await call("GET", acct(f, "/users"), f.key);
    expect(res.status).toBe(200);
    expect(res.body.next_cursor).toBeNull();
    expect(res.body.items.map((u: { id: string; pool: string | null }) => [u.id, u.pool])).toEqual([
      ["agent-0", "essentials-concurrent"],
      ["agent-1", "essentials-concurrent"],
      ["agent-2", "essentials-concurrent"],
      ["nolicense", null],
    ]);
  });

  it("pages 100 at a time by default, and at most 1000", async () => {
    const f = await newAccount();
    const ids = Array.from({ length: 150 }, (_, i) => `p-${String(i).padStart(3, "0")}`);
    await env.DB.prepare("INSERT INTO users (account_id, id, display_name, email, created_at) SELECT ?, value, NULL, NULL, ? FROM json_each(?)")
      .bind(f.accountId, new Date().toISOString(), JSON.stringify(ids))
      .run();
    const first = await call("GET", acct(f, "/users"), f.key);
    expect(first.body.items).toHaveLength(100);
    expect(first.body.next_cursor).toEqual(expect.any(String));
    const rest = await call("GET", acct(f, `/users?cursor=${first.body.next_cursor}`), f.key);
    expect(rest.body.items).toHaveLength(50);
    expect(rest.body.next_cursor).toBeNull();
    expect([...first.body.items, ...rest.body.items].map((u: { id: string }) => u.id)).toEqual(ids);
    const all = await call("GET", acct(f, "/users?limit=1000"), f.key);
    expect(all.body.items).toHaveLength(150);
    expect(all.body.next_cursor).toBeNull();
  });

  it("is an empty page for an account without users", async () => {
    const f = await newAccount();
    expect((await call("GET", acct(f, "/users"), f.key)).body).toEqual({ items: [], next_cursor: null });
  });

  it("refuses bad pagination parameters with 400", async () => {
    const f = await newAccount();
    for (const q of ["limit=0", "limit=-1", "limit=1001", "limit=ten", "limit=2.5", "cursor=!!!", "cursor=MTIz"]) {
      const res = await call("GET", acct(f, `/users?${q}`), f.key);
      expect({ q, status: res.status }).toEqual({ q, status: 400 });
      expectProblem(res, 400, "invalid_request");
    }
  });
});

describe("DELETE /v1/accounts/{account_id}/users/{user_id}", () => {
  it("deletes the user and frees the named seat, audited as user.delete", async () => {
    const f = await newAccount();
    await putPool(f, "elite-named", 2);
    const [u0, u1] = await licensedUsers(f, "elite-named", 2);
    await putUsers(f, ["third"]);
    expect((await call("DELETE", acct(f, `/users/${u0}`), f.key)).status).toBe(204);
    expectProblem(await call("GET", acct(f, `/users/${u0}`), f.key), 404, "not_found");
    expect((await usersOf(f)).map((u) => u.id)).toEqual([u1, "third"]);
    const [last] = await auditOf(f);
    expect(last).toMatchObject({ action: "user.delete", target: u0, actor: `api_key:${f.keyId}` });
    expect(last.detail).toMatchObject({ pool: "elite-named" });
    // The freed seat can be given to someone else.
    expect((await replyOf(api(f.key).accounts[":account_id"].users[":user_id"].license.$put({ param: { account_id: f.accountId, user_id: "third" }, json: { pool: "elite-named" } }))).status).toBe(200);
    expect((await call("GET", acct(f, "/pools"), f.key)).body.items[0]).toMatchObject({ assigned: 2 });
  });

  it("a user created again after deletion starts without a license", async () => {
    const f = await newAccount();
    await putPool(f, "elite-named", 1);
    const [u] = await licensedUsers(f, "elite-named", 1);
    await call("DELETE", acct(f, `/users/${u}`), f.key);
    const again = await replyOf(api(f.key).accounts[":account_id"].users[":user_id"].$put({ param: { account_id: f.accountId, user_id: u }, json: {} }));
    expect(again.body.pool).toBeNull();
    expect((await call("GET", acct(f, "/pools"), f.key)).body.items[0]).toMatchObject({ assigned: 0 });
  });

  it("deleting an unknown (or already deleted) user is 404 and writes no audit entry", async () => {
    const f = await newAccount();
    await putUsers(f, ["gone"]);
    expect((await call("DELETE", acct(f, "/users/gone"), f.key)).status).toBe(204);
    const before = await stateOf(f);
    expectProblem(await call("DELETE", acct(f, "/users/gone"), f.key), 404, "not_found");
    expectProblem(await call("DELETE", acct(f, "/users/never"), f.key), 404, "not_found");
    expect(await stateOf(f)).toEqual(before);
  });
});

describe("POST /v1/accounts/{account_id}/users/{user_id}/agent-token", () => {
  it("mints a token valid for 12 h by default", async () => {
    const f = await newAccount();
    await putUsers(f, ["desk"]);
    const t0 = Date.now();
    const res = await replyOf(api(f.key).accounts[":account_id"].users[":user_id"]["agent-token"].$post({ param: { account_id: f.accountId, user_id: "desk" }, json: {} }));
    expect(res.status).toBe(201);
    expect(res.body).toEqual({ token: expect.any(String), expires_at: expect.stringMatching(ISO) });
    const ttl = Date.parse(res.body.expires_at) - t0;
    expect(ttl).toBeGreaterThan(12 * 3600_000 - 5_000);
    expect(ttl).toBeLessThan(12 * 3600_000 + 5_000);
    expect((await call("GET", "/v1/me", res.body.token)).status).toBe(200);
  });

  it("honours ttl_seconds and refuses silly ones", async () => {
    const f = await newAccount();
    await putUsers(f, ["desk"]);
    const t0 = Date.now();
    const res = await replyOf(api(f.key).accounts[":account_id"].users[":user_id"]["agent-token"].$post({ param: { account_id: f.accountId, user_id: "desk" }, json: { ttl_seconds: 3600 } }));
    expect(res.status).toBe(201);
    expect(Math.abs(Date.parse(res.body.expires_at) - t0 - 3600_000)).toBeLessThan(5_000);
    for (const ttl_seconds of [0, -60, 1.5, "3600"]) {
      // Malformed on purpose: through `call`, since the typed client would not compile this body.
      expectProblem(await call("POST", acct(f, "/users/desk/agent-token"), f.key, { ttl_seconds }), 400, "invalid_request");
    }
  });

  it("is 404 for an unknown user", async () => {
    const f = await newAccount();
    expectProblem(await replyOf(api(f.key).accounts[":account_id"].users[":user_id"]["agent-token"].$post({ param: { account_id: f.accountId, user_id: "ghost" }, json: {} })), 404, "not_found");
  });
});

/**
 * Search: GET …/users?q=&pool=&addon=. Every result is compared with a brute-force reference that
 * filters the account's whole user list by the documented rule.
 */
describe("GET /v1/accounts/{account_id}/users with q, pool and addon", () => {
  const PEOPLE: Array<[id: string, name: string | null, email: string | null]> = [
    ["ada", "Ada Lovelace", "ada@acme.example"],
    ["ADAM-7", "Adam Smith", "a.smith@acme.example"],
    ["grace", "Grace Hopper", "GRACE.H@Navy.example"],
    ["alan.t", "Alan Turing", "alan@bletchley.example"],
    ["lin", "Linus Torvalds", null],
    ["noname", null, "anon@acme.example"],
    ["eli", "Élodie Lovell", "elodie@acme.example"],
    ["bob", "Bob", "bob@lovelace.example"],
  ];

  /** An account with the people above: ada, ADAM-7, grace in premium-named; alan.t, lin, eli in elite-concurrent; WFM for ada? no: for alan.t and lin. */
  async function people() {
    const f = await newAccount();
    await putPool(f, "premium-named", 10);
    await putPool(f, "elite-concurrent", 10);
    for (const [id, display_name, email] of PEOPLE) {
      expect((await replyOf(api(f.key).accounts[":account_id"].users[":user_id"].$put({ param: { account_id: f.accountId, user_id: encodeURIComponent(id) }, json: { display_name, email } }))).status).toBe(200);
    }
    const batch = await replyOf(
      api(f.key).accounts[":account_id"]["licenses:batch"].$post({
        param: { account_id: f.accountId },
        json: {
          assign: [
            ...["ada", "ADAM-7", "grace"].map((user_id) => ({ user_id, pool: "premium-named" as const })),
            ...["alan.t", "lin", "eli"].map((user_id) => ({ user_id, pool: "elite-concurrent" as const })),
          ],
        },
      }),
    );
    expect(batch.status).toBe(200);
    for (const u of ["alan.t", "lin"]) expect((await call("PUT", acct(f, `/users/${u}/addons/workforce_management`), f.key)).status).toBe(200);
    expect((await call("PUT", acct(f, `/users/eli/addons/quality_management`), f.key)).status).toBe(200);
    return f;
  }

  type U = Awaited<ReturnType<typeof usersOf>>[number];
  const fold = (s: string) => s.replace(/[A-Z]/g, (c) => c.toLowerCase());
  /** The rule, written plainly: a prefix of the id, e-mail, display name, or the name after its first space. */
  function reference(all: U[], { q: raw, pool, addon }: Filters): string[] {
    const q = raw?.trim();
    return all
      .filter((u) => {
        if (pool && u.pool !== pool) return false;
        if (addon && !u.addons.includes(addon)) return false;
        if (!q) return true;
        const name = u.display_name ?? "";
        const fields = [u.id, u.email ?? "", name, u.display_name === null ? "" : name.slice(name.indexOf(" ") + 1)];
        return fields.some((v) => v !== "" && fold(v).startsWith(fold(q)));
      })
      .map((u) => u.id);
  }

  /** Every page of a search, following next_cursor with the same filters. */
  type Filters = { q?: string; pool?: string; addon?: string };
  async function search(f: Fixture, params: Filters, limit = 1000): Promise<{ ids: string[]; pages: number }> {
    const ids: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const qs: string = new URLSearchParams({ ...(params as Record<string, string>), limit: String(limit), ...(cursor ? { cursor } : {}) }).toString();
      const res: Reply = await call("GET", acct(f, `/users?${qs}`), f.key);
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      ids.push(...res.body.items.map((u: U) => u.id));
      cursor = res.body.next_cursor;
      pages++;
    } while (cursor);
    return { ids, pages };
  }

  it("q is a case-insensitive prefix of the id, e-mail, display name or its second word", async () => {
    const f = await people();
    const all = await usersOf(f);
    const expectations: Array<[string, string[]]> = [
      ["ada", ["ADAM-7", "ada"]], // id "ada", id "ADAM-7" (any case), names "Ada …", "Adam …"
      ["ADA", ["ADAM-7", "ada"]],
      ["adam-", ["ADAM-7"]],
      ["lov", ["ada", "eli"]], // second words Lovelace, Lovell; not the e-mail domain of bob
      ["grace.h@navy", ["grace"]], // e-mail, stored in mixed case
      ["a.smith@", ["ADAM-7"]],
      ["alan turing", ["alan.t"]], // the whole display name
      ["velace", []], // a prefix, not a substring
      ["anon", ["noname"]], // no display name
      ["smith", ["ADAM-7"]],
      ["élodie", []], // only ASCII letters fold: É is not é
      ["Élo", ["eli"]],
      ["zzz", []],
    ];
    for (const [q, want] of expectations) {
      const { ids } = await search(f, { q });
      expect({ q, ids }).toEqual({ q, ids: want });
      expect({ q, ids }).toEqual({ q, ids: reference(all, { q }) });
    }
  });

  it("pool and addon filter, and combine with q and with each other", async () => {
    const f = await people();
    const all = await usersOf(f);
    const cases: Array<[Filters, string[]]> = [
      [{ pool: "premium-named" }, ["ADAM-7", "ada", "grace"]],
      [{ pool: "elite-concurrent" }, ["alan.t", "eli", "lin"]],
      [{ pool: "essentials-named" }, []],
      [{ addon: "workforce_management" }, ["alan.t", "lin"]],
      [{ addon: "quality_management" }, ["eli"]],
      [{ addon: "ai_expert_assist" }, []],
      [{ pool: "elite-concurrent", addon: "workforce_management" }, ["alan.t", "lin"]],
      [{ pool: "premium-named", addon: "workforce_management" }, []],
      [{ q: "a", pool: "premium-named" }, ["ADAM-7", "ada"]],
      [{ q: "l", pool: "elite-concurrent", addon: "workforce_management" }, ["lin"]],
      [{ q: "lov", addon: "quality_management" }, ["eli"]],
      [{ q: "  ", pool: "premium-named" }, ["ADAM-7", "ada", "grace"]], // a blank search is no search
    ];
    for (const [params, want] of cases) {
      const { ids } = await search(f, params);
      expect({ params, ids }).toEqual({ params, ids: want });
      expect({ params, ids }).toEqual({ params, ids: reference(all, params) });
    }
  });

  it("pages through a filtered list: every match exactly once, in id order, for each filter and page size", async () => {
    const f = await people();
    const all = await usersOf(f);
    for (const params of <Filters[]>[{ q: "a" }, { pool: "premium-named" }, { addon: "workforce_management" }, { q: "l", pool: "elite-concurrent" }, {}]) {
      const want = reference(all, params);
      for (const limit of [1, 2, 3]) {
        const { ids, pages } = await search(f, params, limit);
        expect({ params, limit, ids }).toEqual({ params, limit, ids: want });
        expect(pages).toBe(Math.max(1, Math.ceil(want.length / limit)));
      }
    }
  });

  it("a broad search (more matches than BROAD_SEARCH) pages the same way, alone and with a pool", async () => {
    const f = await newAccount();
    // 1,100 users written straight into D1 (the API would take minutes): search reads only D1.
    const at = new Date().toISOString();
    const rows = Array.from({ length: BROAD_SEARCH + 100 }, (_, i) => `bulk-${String(i).padStart(5, "0")}`);
    const stmts = rows.flatMap((id, i) => [
      env.DB.prepare("INSERT INTO users (account_id, id, display_name, email, created_at) VALUES (?, ?, ?, ?, ?)").bind(f.accountId, id, `Bulk ${i}`, `${id}@bulk.example`, at),
      ...(i % 3 === 0 ? [env.DB.prepare("INSERT INTO licenses (account_id, user_id, pool_id, assigned_at) VALUES (?, ?, 'premium-concurrent', ?)").bind(f.accountId, id, at)] : []),
    ]);
    for (let i = 0; i < stmts.length; i += 500) await env.DB.batch(stmts.slice(i, i + 500));
    const all = await usersOf(f);
    for (const params of <Filters[]>[{ q: "BULK" }, { q: "bulk-0", pool: "premium-concurrent" }, { q: "bulk-01" }]) {
      const want = reference(all, params);
      const { ids } = await search(f, params, 300);
      expect({ params, n: ids.length, ids }).toEqual({ params, n: want.length, ids: want });
    }
    expect(reference(all, { q: "bulk" })).toHaveLength(BROAD_SEARCH + 100);
  });

  it("never returns another account's users, whatever the filters", async () => {
    const a = await people();
    const b = await people(); // the same ids, names, pools and add-ons in another account
    await replyOf(api(b.key).accounts[":account_id"].users[":user_id"].$put({ param: { account_id: b.accountId, user_id: "ada-only-in-b" }, json: { display_name: "Ada B" } }));
    const bIds = new Set((await usersOf(b)).map((u) => u.id));
    expect(bIds.has("ada-only-in-b")).toBe(true);
    for (const params of <Filters[]>[{ q: "ada" }, { q: "a", pool: "premium-named" }, { addon: "workforce_management" }, { pool: "elite-concurrent" }, {}]) {
      const { ids } = await search(a, params);
      expect(ids).not.toContain("ada-only-in-b");
      expect(ids).toEqual(reference(await usersOf(a), params));
    }
    // b's key on a's list finds no account, filters or not.
    expectProblem(await call("GET", `/v1/accounts/${a.accountId}/users?q=ada`, b.key), 404, "not_found");
  });

  it("refuses bad filters with 400 and changes nothing", async () => {
    const f = await people();
    const before = await stateOf(f);
    for (const qs of [
      "pool=nope",
      "pool=",
      "pool=PREMIUM-NAMED",
      "addon=virtual_agent", // account-wide: no user holds it
      "addon=cloud_storage_gb",
      "addon=",
      "addon=nope",
      `q=${"a".repeat(321)}`,
      "q=ad%00a",
      "q=a%0Ab",
      "q=a&cursor=not-a-cursor",
    ]) {
      const res = await call("GET", acct(f, `/users?${qs}`), f.key);
      expectProblem(res, 400, "invalid_request");
    }
    expect((await call("GET", acct(f, `/users?q=${"a".repeat(320)}`), f.key)).status).toBe(200);
    expect(await stateOf(f)).toEqual(before);
  });
});
