import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { database } from "../../src/db/client";
import { insertEvent } from "../../src/db/billing";
import { overageIntervals } from "../../src/db/schema";
import { ApiError } from "../../src/errors";
import { CursorKeys, decodeCursor, encodeCursor } from "../../src/routes/cursor";
import { call, expectProblem, newAccount, putUsers, type Fixture, type Reply } from "../helpers";

/** docs/api.md "Pagination": one cursor format, read in one place; a tampered cursor is 400. */

const b64url = (text: string) => btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
const T = "2030-01-15T08:00:00.000Z";

describe("the cursor format", () => {
  it("round-trips every list's key", () => {
    const keys = [
      [CursorKeys.user, ["ada@acme.example"]],
      [CursorKeys.audit, [42]],
      [CursorKeys.summary, [T]],
      [CursorKeys.delivery, [T, "evt_iv_1_started"]],
      [CursorKeys.overage, [T, "iv_ü|x"]],
    ] as const;
    for (const [schema, key] of keys) expect(decodeCursor(encodeCursor(key)!, schema)).toEqual(key);
    expect(encodeCursor(null)).toBeNull();
    expect(decodeCursor(undefined, CursorKeys.user)).toBeNull();
  });

  it("refuses anything it did not issue, as invalid_request naming `cursor`", () => {
    const tampered = [
      "!!!", // not base64url
      "a b",
      b64url("not json"),
      b64url('"2030-01-15T08:00:00.000Z|iv_1"'), // the old `a|b` string format
      b64url("[]"), // wrong arity
      b64url(`["${T}"]`),
      b64url(`["${T}","iv_1","extra"]`),
      b64url('["yesterday","iv_1"]'), // not a time
      b64url(`[1,"iv_1"]`),
      b64url(`["${T}",""]`),
      b64url("{}"),
      b64url("null"),
    ];
    for (const cursor of tampered) {
      let err: unknown;
      try {
        decodeCursor(cursor, CursorKeys.overage);
      } catch (e) {
        err = e;
      }
      expect(err, cursor).toBeInstanceOf(ApiError);
      expect([(err as ApiError).status, (err as ApiError).code, (err as ApiError).extra.errors]).toEqual([
        400,
        "invalid_request",
        [{ path: "cursor", message: expect.any(String) }],
      ]);
    }
    // A cursor of another list does not fit this one's key either.
    expect(() => decodeCursor(encodeCursor([5]) ?? undefined, CursorKeys.user)).toThrow(ApiError);
    expect(() => decodeCursor(encodeCursor(["ada"]) ?? undefined, CursorKeys.audit)).toThrow(ApiError);
    expect(() => decodeCursor(encodeCursor([0]) ?? undefined, CursorKeys.audit)).toThrow(ApiError);
  });
});

const lists = (f: Fixture) => ["/users", "/audit", "/overages", "/billing/summaries", "/webhook/deliveries"].map((p) => `/v1/accounts/${f.accountId}${p}`);

describe("tampered cursors over HTTP", () => {
  it("are 400 invalid_request on every list, never a silent first page", async () => {
    const f = await newAccount();
    for (const path of lists(f)) {
      for (const cursor of ["garbage!", b64url('"abc"'), b64url("[]"), b64url('["a","b","c"]'), b64url("[true]")]) {
        const res = await call("GET", `${path}?cursor=${encodeURIComponent(cursor)}`, f.key);
        expect({ path, cursor, status: res.status }).toEqual({ path, cursor, status: 400 });
        expectProblem(res, 400, "invalid_request");
        expect(res.body.errors[0].path).toBe("cursor");
      }
    }
  });
});

async function walk(path: string, token: string, limit: number): Promise<string[][]> {
  const pages: string[][] = [];
  let cursor: string | null = null;
  do {
    const res: Reply = await call("GET", `${path}?limit=${limit}${cursor ? `&cursor=${cursor}` : ""}`, token);
    expect(res.status).toBe(200);
    pages.push(res.body.items.map((i: { id: string | number }) => String(i.id)));
    cursor = res.body.next_cursor;
  } while (cursor && pages.length < 20);
  return pages;
}

describe("walking the pages", () => {
  it("webhook deliveries: newest first, ties on created_at broken by id, each row once", async () => {
    const f = await newAccount();
    const db = database(env.DB);
    const ids = ["evt_a", "evt_b", "evt_c", "evt_d", "evt_e"];
    for (const id of ids) await insertEvent(db, { id, type: "test.event", account_id: f.accountId, created_at: T, data: {} });
    await insertEvent(db, { id: "evt_0", type: "test.event", account_id: f.accountId, created_at: "2030-01-16T00:00:00.000Z", data: {} });
    expect(await walk(`/v1/accounts/${f.accountId}/webhook/deliveries`, f.key, 2)).toEqual([["evt_0", "evt_e"], ["evt_d", "evt_c"], ["evt_b", "evt_a"]]);
  });

  it("overages: ties on started_at broken by id, each interval once", async () => {
    const f = await newAccount();
    const row = { accountId: f.accountId, poolId: "elite-concurrent", startedAt: T, endedAt: "2030-01-15T09:00:00.000Z", peakActive: 2, peakOverage: 1, overageSeatSeconds: 60, billable: true, billableOverageSeats: 1, billableSeatSeconds: 60 };
    await database(env.DB)
      .insert(overageIntervals)
      .values(["iv_1", "iv_2", "iv_3"].map((id) => ({ ...row, id })));
    expect(await walk(`/v1/accounts/${f.accountId}/overages`, f.key, 2)).toEqual([["iv_3", "iv_2"], ["iv_1"]]);
  });

  it("users and audit: every row once, in order", async () => {
    const f = await newAccount();
    await putUsers(f, ["u1", "u2", "u3", "u4", "u5"]);
    expect((await walk(`/v1/accounts/${f.accountId}/users`, f.key, 2)).flat()).toEqual(["u1", "u2", "u3", "u4", "u5"]);
    const audit = (await walk(`/v1/accounts/${f.accountId}/audit`, f.key, 2)).flat().map(Number);
    expect(audit.length).toBeGreaterThanOrEqual(6);
    expect([...audit].sort((a, b) => b - a)).toEqual(audit);
    expect(new Set(audit).size).toBe(audit.length);
  });
});
