import { env } from "cloudflare:workers";
import { drizzle } from "drizzle-orm/d1";
import { describe, expect, it } from "vitest";
import * as schema from "../../src/db/schema";
import { BROAD_SEARCH, foldAscii, prefixEnd, searchUsers, type UserFilter } from "../../src/db/users";
import { newAccount } from "../helpers";

/**
 * User search answers from indexes (migration 0005): EXPLAIN QUERY PLAN of every statement that
 * searchUsers sends, for each filter and both search plans, reads no table in full and sorts at
 * most the matches of a narrow search.
 */

/** The statements searchUsers sends (captured through Drizzle's logger) for one call. */
async function statementsOf(accountId: string, filter: UserFilter) {
  const sent: Array<{ query: string; params: unknown[] }> = [];
  const db = drizzle(env.DB, { schema, logger: { logQuery: (query, params) => sent.push({ query, params }) } });
  await searchUsers(db, accountId, filter, 50, null);
  return sent;
}

async function planOf(query: string, params: unknown[]): Promise<string[]> {
  const { results } = await env.DB.prepare(`EXPLAIN QUERY PLAN ${query}`).bind(...params).all<{ detail: string }>();
  return results.map((r) => r.detail);
}

describe("searchUsers: query plans", () => {
  it("every filter, alone and combined, is answered from an index, never a table scan", async () => {
    const f = await newAccount();
    // A few rows so that both the narrow and the broad search plans can be taken.
    const at = new Date().toISOString();
    const ids = Array.from({ length: BROAD_SEARCH + 5 }, (_, i) => `wide-${String(i).padStart(5, "0")}`);
    const stmts = ids.map((id) =>
      env.DB.prepare("INSERT INTO users (account_id, id, display_name, email, created_at) VALUES (?, ?, ?, ?, ?)").bind(f.accountId, id, `Wide ${id}`, `${id}@x.example`, at),
    );
    for (let i = 0; i < stmts.length; i += 500) await env.DB.batch(stmts.slice(i, i + 500));

    const cases: Array<[UserFilter, RegExp[]]> = [
      [{}, [/SEARCH u USING (COVERING )?INDEX sqlite_autoindex_users_1 \(account_id=\? AND id>\?\)/]],
      [{ q: "ada" }, [/users_search_id/, /users_search_email/, /users_search_name/, /users_search_surname/]],
      [{ q: "wide" }, [/sqlite_autoindex_users_1 \(account_id=\? AND id>\?\)/]], // broad: id order
      [{ pool: "premium-named" }, [/licenses_pool_user \(account_id=\? AND pool_id=\? AND user_id>\?\)/]],
      [{ addon: "workforce_management" }, [/addon_assignments_product_user \(account_id=\? AND product=\? AND user_id>\?\)/]],
      [{ q: "ada", pool: "premium-named", addon: "workforce_management" }, [/users_search_name/, /SEARCH l USING .*INDEX (licenses_pool_user|sqlite_autoindex_licenses_1)/, /sqlite_autoindex_addon_assignments_1/]],
      [{ q: "wide", pool: "premium-named" }, [/licenses_pool_user/]],
      [{ pool: "premium-named", addon: "workforce_management" }, [/licenses_pool_user/, /sqlite_autoindex_addon_assignments_1/]],
      [{ q: "wide", addon: "workforce_management" }, [/addon_assignments_product_user/]],
      [{ team: "billing" }, [/users_team \(account_id=\? AND team=\? AND id>\?\)/]],
      [{ q: "wide", team: "billing" }, [/users_team/]],
      [{ pool: "premium-named", team: "billing" }, [/licenses_pool_user/]],
    ];
    for (const [filter, expected] of cases) {
      const sent = await statementsOf(f.accountId, filter);
      const plans = await Promise.all(sent.map((s) => planOf(s.query, s.params)));
      const lines = plans.flat();
      for (const want of expected) expect({ filter, lines }).toEqual({ filter, lines: expect.arrayContaining([expect.stringMatching(want)]) });
      // No full scan of a table (a SCAN of a subquery or a constant row is not one).
      const scans = lines.filter((l) => /^SCAN (?!m$|\(subquery|CONSTANT)/.test(l));
      expect({ filter, scans }).toEqual({ filter, scans: [] });
      // A sort only in the narrow search, over its (at most 4 × BROAD_SEARCH) matches.
      const sorts = lines.filter((l) => /TEMP B-TREE FOR ORDER BY/.test(l));
      if (!(filter.q === "ada")) expect({ filter, sorts }).toEqual({ filter, sorts: [] });
    }
  });
});

describe("search text helpers", () => {
  it("foldAscii folds A-Z only, like SQLite's lower()", () => {
    expect(foldAscii("AdA-É-Ω-z")).toBe("ada-É-Ω-z");
  });

  it("prefixEnd bounds exactly the strings that start with the prefix", () => {
    expect(prefixEnd("ada")).toBe("adb");
    expect(prefixEnd("a\u{10FFFF}")).toBe("b");
    expect(prefixEnd("\u{10FFFF}")).toBeNull();
    expect(prefixEnd("a\uD7FF")).toBe("a\uE000"); // the surrogate range is not a character
    expect(prefixEnd("😀")).toBe("😁");
    // Every string that starts with p sorts in [p, prefixEnd(p)) by code point (= UTF-8 byte) order.
    const byCodePoint = (a: string, b: string) => {
      const x = Array.from(a, (c) => c.codePointAt(0)!);
      const y = Array.from(b, (c) => c.codePointAt(0)!);
      for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return x[i] - y[i];
      return x.length - y.length;
    };
    for (const p of ["ad", "z", "é", "a\uD7FF", "ab\u{10FFFF}"]) {
      const end = prefixEnd(p)!;
      for (const s of [p, `${p}a`, `${p}\u{10FFFE}`, `${p}😀x`]) expect(byCodePoint(s, end) < 0 && byCodePoint(s, p) >= 0).toBe(true);
      for (const s of [end, `${end}a`]) expect(byCodePoint(s, end) >= 0).toBe(true);
    }
  });
});
