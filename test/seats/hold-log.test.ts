import { runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { PoolId } from "../../src/domain/catalog";
import { HoldLog } from "../../src/seats/hold-log";
import { MIGRATIONS } from "../../src/seats/sqlite-schema";
import { newAccount, seatsStub } from "../helpers";

/** The seat-hold log in the account's SQLite (src/seats/hold-log.ts). */

const P = "premium-concurrent" as PoolId;
const Q = "essentials-concurrent" as PoolId;

describe("HoldLog", () => {
  it("finds every hold overlapping a window (long, open, other pools apart), in (from, user) order, after a key; prunes with retention", async () => {
    const f = await newAccount();
    const out = await runInDurableObject(seatsStub(f), (_instance, state) => {
      const sql = state.storage.sql;
      const log = new HoldLog(sql);
      log.open("long", P, 0, null);
      log.close("long", P, 10_000); // the longest hold: 10 s
      log.open("a", P, 1_000, null);
      log.close("a", P, 2_000);
      log.open("b", P, 5_000, null);
      log.close("b", P, 5_000); // lasted no time: not kept
      log.open("b", P, 5_500, null);
      log.open("other", Q, 6_000, null);
      log.open("b2", P, 5_500, null);
      log.close("b2", P, 7_000);
      const ids = (from: number, to: number, after: [number, string] | null = null) =>
        [...log.overlapping(P, from, to, after)].map((h) => `${h.user_id}@${h.from}-${h.to ?? "open"}`);
      const result = {
        window: ids(9_000, 9_500),
        early: ids(1_500, 1_600),
        all: ids(0, 100_000),
        after: ids(0, 100_000, [5_500, "b"]),
        // [2000, …) does not overlap a's [1000, 2000): half-open.
        edge: ids(2_000, 3_000),
        pruned: [] as string[],
      };
      // A fresh log reads the bound back from storage.
      const again = new HoldLog(sql);
      expect([...again.overlapping(P, 9_000, 9_500)].map((h) => h.user_id)).toEqual(["long", "b"]);
      log.prune(7_001);
      result.pruned = ids(0, 100_000);
      return result;
    });
    expect(out.window).toEqual(["long@0-10000", "b@5500-open"]);
    expect(out.early).toEqual(["long@0-10000", "a@1000-2000"]);
    expect(out.all).toEqual(["long@0-10000", "a@1000-2000", "b@5500-open", "b2@5500-7000"]);
    expect(out.after).toEqual(["b2@5500-7000"]);
    expect(out.edge).toEqual(["long@0-10000"]);
    // Ended before 7001: a and b2 go; the long one ended later; the open one stays.
    expect(out.pruned).toEqual(["long@0-10000", "b@5500-open"]);
  });
});

describe("HoldLog teams (docs/licensing.md#chargeback-by-team)", () => {
  it("keeps the team a hold opened with; the upgrade gives older holds the user's team at the time", async () => {
    const f = await newAccount();
    const out = await runInDurableObject(seatsStub(f), (_instance, state) => {
      const sql = state.storage.sql;
      const log = new HoldLog(sql);
      log.open("a", P, 1_000, "blue");
      log.open("b", P, 2_000, null);
      const opened = [...log.overlapping(P, 0, 10_000)].map((h) => [h.user_id, h.team]);
      // An object from before the column: its holds have no team; the step's UPDATE reads roster_teams.
      sql.exec("ALTER TABLE holds DROP COLUMN team");
      sql.exec("INSERT INTO roster_teams (user_id, team) VALUES ('a', 'red') ON CONFLICT(user_id) DO UPDATE SET team = excluded.team");
      sql.exec(MIGRATIONS.find((m) => m.includes("ALTER TABLE holds ADD team"))!);
      const upgraded = [...new HoldLog(sql).overlapping(P, 0, 10_000)].map((h) => [h.user_id, h.team]);
      return { opened, upgraded };
    });
    expect(out.opened).toEqual([
      ["a", "blue"],
      ["b", null],
    ]);
    expect(out.upgraded).toEqual([
      ["a", "red"],
      ["b", null],
    ]);
  });
});
