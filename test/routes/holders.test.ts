import { describe, expect, it } from "vitest";
import { cyclesOf, forAccount, harness, iso, runQueue, runScheduled, storedSummaries } from "../billing/support";
import { agentTokens, api, call, checkout, expectProblem, fetchWorker, heartbeat, licensedUsers, MIN, newAccount, putPool, release, replyOf, setClock, type Fixture } from "../helpers";

/**
 * Who counted (docs/licensing.md#who-counted): GET …/overages/{interval_id}/holders and the
 * summaries' peak holders, driven by real checkouts on the account's clock. The timeline is the
 * worked example of the docs (a and b from 07:10 here, so their leases of an hour are renewed).
 */

const acct = (f: Fixture, rest = "") => `/v1/accounts/${f.accountId}${rest}`;

function parseCsv(text: string): string[][] {
  // Holder rows hold no quotes, commas or line breaks: CRLF lines of comma-separated cells.
  expect(text.endsWith("\r\n")).toBe(true);
  return text.slice(0, -2).split("\r\n").map((line) => line.split(","));
}

interface Scene {
  f: Fixture;
  at: (hhmm: string) => number;
  /** Moves the clock and renews every seat held (leases last an hour). */
  to: (hhmm: string) => Promise<void>;
  token: Record<string, string>;
}

async function scene(): Promise<Scene> {
  const f = await newAccount({ grace_seconds: 1800, lease_ttl_seconds: 3600 });
  await putPool(f, "premium-concurrent", 2);
  const users = ["a", "b", "c", "d", "e", "f", "g"];
  await licensedUsers(f, "premium-concurrent", 0);
  for (const u of users) expect((await replyOf(api(f.key).accounts[":account_id"].users[":user_id"].$put({ param: { account_id: f.accountId, user_id: u }, json: {} }))).status).toBe(200);
  expect((await replyOf(api(f.key).accounts[":account_id"]["licenses:batch"].$post({ param: { account_id: f.accountId }, json: { assign: users.map((user_id) => ({ user_id, pool: "premium-concurrent" as const })) } }))).status).toBe(200);
  const tokens = await agentTokens(f, users);
  const token = Object.fromEntries(users.map((u, i) => [u, tokens[i]]));
  // Inside the account's first cycle, so the preview covers it.
  const [c0] = await cyclesOf(f, 1);
  const base = c0.end - 6 * 60 * MIN; // "07:00"
  const at = (hhmm: string) => base + (Number(hhmm.slice(0, 2)) - 7) * 60 * MIN + Number(hhmm.slice(3)) * MIN;
  const held = new Set<string>();
  const s: Scene = {
    f,
    at,
    token,
    to: async (hhmm) => {
      await setClock(f, at(hhmm));
      for (const u of held) expect((await heartbeat(token[u])).status).toBe(200);
    },
  };
  const take = async (u: string) => {
    expect((await checkout(token[u])).status).toBe(200);
    held.add(u);
  };
  const free = async (u: string) => {
    expect((await release(token[u])).status).toBe(204);
    held.delete(u);
  };
  Object.assign(s, { take, free });
  return s;
}

type Driven = Scene & { take: (u: string) => Promise<void>; free: (u: string) => Promise<void> };

/** The worked example up to `until` ("09:20": the interval still open; "10:00": all gone). */
async function play(until: "09:20" | "10:00"): Promise<Driven> {
  const s = (await scene()) as Driven;
  const steps: [string, "take" | "free", string][] = [
    ["07:10", "take", "a"],
    ["07:10", "take", "b"],
    ["08:00", "take", "c"],
    ["08:05", "take", "e"],
    ["08:15", "free", "e"],
    ["08:20", "take", "d"],
    ["09:00", "take", "f"],
    ["09:05", "free", "f"],
    ["09:10", "free", "d"],
    ["09:15", "take", "g"],
    ["09:25", "free", "g"],
    ["09:30", "free", "c"],
    ["10:00", "free", "a"],
    ["10:00", "free", "b"],
  ];
  for (const [hhmm, move, user] of steps) {
    if (s.at(hhmm) > s.at(until)) break;
    await s.to(hhmm);
    await s[move](user);
  }
  await s.to(until);
  return s;
}

const holdersOf = (f: Fixture, id: string, query = "") => call("GET", acct(f, `/overages/${id}/holders${query}`), f.key);

describe("GET …/overages/{interval_id}/holders", () => {
  it("lists the holds that overlapped the billable part, unclipped, with their billable time and presence at the peak; pages; CSV", async () => {
    const s = await play("10:00");
    const { f, at } = s;
    const overages = await call("GET", acct(f, "/overages"), f.key);
    expect(overages.body.items).toHaveLength(1);
    const interval = overages.body.items[0];
    expect(interval).toMatchObject({ started_at: iso(at("08:00")), ended_at: iso(at("09:30")), billable_overage_seats: 2, billable_seat_seconds: 80 * 60 });

    const res = await holdersOf(f, interval.id);
    expect(res.status).toBe(200);
    expect(res.body.interval).toEqual(interval);
    expect(res.body.next_cursor).toBeNull();
    const row = (user: string, from: string, to: string, minutes: number, atPeak: boolean) => ({
      user_id: user,
      held_from: iso(at(from)),
      held_to: iso(at(to)),
      billable_seconds: minutes * 60,
      at_peak: atPeak,
    });
    // e left at 08:15, before the billable part (08:30-09:30): not listed. f arrived while the
    // peak of 2 billable seats held (08:50-09:10); g came after it.
    const expected = [
      row("a", "07:10", "10:00", 60, true),
      row("b", "07:10", "10:00", 60, true),
      row("c", "08:00", "09:30", 60, true),
      row("d", "08:20", "09:10", 40, true),
      row("f", "09:00", "09:05", 5, true),
      row("g", "09:15", "09:25", 10, false),
    ];
    expect(res.body.items).toEqual(expected);

    // Pages of 4 then 2, by cursor; the peak filter.
    const first = await holdersOf(f, interval.id, "?limit=4");
    expect(first.body.items).toEqual(expected.slice(0, 4));
    const second = await holdersOf(f, interval.id, `?limit=4&cursor=${first.body.next_cursor}`);
    expect(second.body).toMatchObject({ items: expected.slice(4), next_cursor: null });
    expect((await holdersOf(f, interval.id, "?at_peak=true")).body.items.map((h: any) => h.user_id)).toEqual(["a", "b", "c", "d", "f"]);

    // CSV: the same rows, streamed, as a download.
    const csv = await fetchWorker(`http://seatkeeper.test${acct(f, `/overages/${interval.id}/holders`)}`, { headers: { authorization: `Bearer ${f.key}`, accept: "text/csv" } });
    expect(csv.status).toBe(200);
    expect(csv.headers.get("content-type")).toBe("text/csv; charset=utf-8");
    expect(csv.headers.get("content-disposition")).toContain(`holders-${interval.id}.csv`);
    const rows = parseCsv(await csv.text());
    expect(rows[0]).toEqual(["interval_id", "pool", "user_id", "held_from", "held_to", "billable_seconds", "at_peak"]);
    expect(rows.slice(1)).toEqual(expected.map((h) => [interval.id, "premium-concurrent", h.user_id, h.held_from, h.held_to, String(h.billable_seconds), String(h.at_peak)]));
    const viaQuery = await fetchWorker(`http://seatkeeper.test${acct(f, `/overages/${interval.id}/holders?format=csv&at_peak=true`)}`, { headers: { authorization: `Bearer ${f.key}` } });
    expect(parseCsv(await viaQuery.text()).slice(1).map((r) => r[2])).toEqual(["a", "b", "c", "d", "f"]);
  }, 60_000);

  it("an open interval: holds still held have held_to null, billable time up to now", async () => {
    const s = await play("09:20");
    const { f, at } = s;
    const [open] = (await call("GET", acct(f, "/overages"), f.key)).body.items;
    expect(open).toMatchObject({ started_at: iso(at("08:00")), ended_at: null });
    const res = await holdersOf(f, open.id);
    expect(res.status).toBe(200);
    expect(res.body.items.map((h: any) => [h.user_id, h.held_to === null ? null : h.held_to, h.billable_seconds / 60, h.at_peak])).toEqual([
      ["a", null, 50, true],
      ["b", null, 50, true],
      ["c", null, 50, true],
      ["d", iso(at("09:10")), 40, true],
      ["f", iso(at("09:05")), 5, true],
      ["g", null, 5, false],
    ]);
  }, 60_000);

  it("refuses another account's interval, an unknown one, and a bad cursor, like every list", async () => {
    const s = await play("10:00");
    const [interval] = (await call("GET", acct(s.f, "/overages"), s.f.key)).body.items;
    const other = await newAccount();
    expectProblem(await call("GET", acct(s.f, `/overages/${interval.id}/holders`), other.key), 404, "not_found");
    // Their own account does not have it either.
    expectProblem(await call("GET", acct(other, `/overages/${interval.id}/holders`), other.key), 404, "not_found");
    expectProblem(await holdersOf(s.f, "ov_premium-concurrent_1"), 404, "not_found");
    expectProblem(await holdersOf(s.f, interval.id, "?cursor=nope"), 400, "invalid_request");
    expectProblem(await holdersOf(s.f, interval.id, "?at_peak=maybe"), 400, "invalid_request");
  }, 60_000);

  it("an interval that never became billable has no holders", async () => {
    const f = await newAccount({ grace_seconds: 1800, lease_ttl_seconds: 3600 });
    await putPool(f, "premium-concurrent", 1);
    const tokens = await agentTokens(f, await licensedUsers(f, "premium-concurrent", 2));
    const [c0] = await cyclesOf(f, 1);
    await setClock(f, c0.end - 3 * 60 * MIN);
    for (const t of tokens) expect((await checkout(t)).status).toBe(200);
    await setClock(f, c0.end - 3 * 60 * MIN + 10 * MIN);
    expect((await release(tokens[1])).status).toBe(204);
    const [interval] = (await call("GET", acct(f, "/overages"), f.key)).body.items;
    expect(interval).toMatchObject({ billable: false });
    expect((await holdersOf(f, interval.id)).body).toMatchObject({ items: [], next_cursor: null });
  });
});

describe("summaries carry the peak holders", () => {
  it("the preview and the final summary (JSON and CSV) name who held seats at the billable peak", async () => {
    const s = await play("10:00");
    const { f, at } = s;
    const [interval] = (await call("GET", acct(f, "/overages"), f.key)).body.items;
    const peak = { reached_at: iso(at("08:50")), interval_id: interval.id, count: 5, users: ["a", "b", "c", "d", "f"], truncated: false };

    const preview = await call("GET", acct(f, "/billing/preview"), f.key);
    expect(preview.status).toBe(200);
    expect(preview.body.pools[0]).toMatchObject({ pool: "premium-concurrent", billable_overage_seats: 2, peak_holders: peak });

    const [c0] = await cyclesOf(f, 1);
    const h = harness();
    await setClock(f, c0.end + 60 * MIN);
    await runScheduled(h, c0.end + 7 * MIN);
    await runQueue(h, "seatkeeper-billing", forAccount(h.billing.sent, f));
    const [summary] = await storedSummaries(f);
    expect(summary.pools[0].peak_holders).toEqual(peak);

    const csv = await fetchWorker(`http://seatkeeper.test${acct(f, "/billing/summaries?format=csv")}`, { headers: { authorization: `Bearer ${f.key}` } });
    const rows = parseCsv(await csv.text());
    const line = Object.fromEntries(rows[0].map((k, i) => [k, rows[1][i]]));
    expect(line).toMatchObject({
      peak_holders_reached_at: peak.reached_at,
      peak_holders_interval_id: interval.id,
      peak_holders_count: "5",
      peak_holders_users: "a b c d f",
    });
  }, 60_000);
});
