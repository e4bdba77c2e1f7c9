/**
 * Checkouts and releases hammered at a pool's limit on the real clock, so seat changes share
 * milliseconds: the overage list, the seats view, compliance and the webhook events must agree
 * (issue 10 item 6: a same-ms reversal is no interval at all or one interval end to end).
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { agentTokens, call, checkout, licensedUsers, MIN, newAccount, passTime, release, putPool, setClock, T0, type Fixture } from "../helpers";

const base = (f: Fixture) => `/v1/accounts/${f.accountId}`;

interface StoredEvent {
  id: string;
  type: string;
  interval: { id: string; started_at: string; ended_at: string | null };
}

/** The over-limit events (pool.threshold and seat.denied are other tests' concern). */
async function storedEvents(f: Fixture): Promise<StoredEvent[]> {
  const rows = await env.DB.prepare("SELECT id, type, body FROM webhook_events WHERE account_id = ? AND type LIKE 'overage.%' ORDER BY created_at, id")
    .bind(f.accountId)
    .all<{ id: string; type: string; body: string }>();
  return rows.results.map((r) => ({ id: r.id, type: r.type, interval: JSON.parse(r.body).data.interval }));
}

async function allIntervals(f: Fixture) {
  const out: { id: string; started_at: string; ended_at: string | null; billable: boolean }[] = [];
  let cursor: string | null = null;
  do {
    const res: { body: { items: typeof out; next_cursor: string | null } } = await call("GET", `${base(f)}/overages?limit=200${cursor ? `&cursor=${cursor}` : ""}`, f.key);
    out.push(...res.body.items);
    cursor = res.body.next_cursor;
  } while (cursor);
  return out;
}

describe("checkout/release pairs at the limit, at once, round after round", () => {
  it("on the test clock, every round in one ms: a spike undone in its ms is no interval; swaps while over keep one interval", async () => {
    const f = await newAccount({ grace_seconds: 0, lease_ttl_seconds: 3600 });
    await putPool(f, "premium-concurrent", 1);
    const tokens = await agentTokens(f, await licensedUsers(f, "premium-concurrent", 7));
    await setClock(f, T0 - MIN);
    expect((await checkout(tokens[0])).status).toBe(200);
    // Six agents check out and release at once, each round in a single ms.
    for (let round = 0; round < 5; round++) {
      await setClock(f, T0 + round * MIN);
      await Promise.all(tokens.slice(1).map((t) => checkout(t).then(() => release(t))));
    }
    await passTime(f, T0 + 5 * MIN);
    expect(await allIntervals(f)).toEqual([]);
    expect(await storedEvents(f)).toEqual([]);

    // Over from 10:00; each round one extra holder leaves as another arrives, in the same ms.
    await setClock(f, T0 + 10 * MIN);
    expect((await checkout(tokens[1])).status).toBe(200);
    for (let round = 1; round <= 5; round++) {
      await setClock(f, T0 + (10 + round) * MIN);
      await Promise.all([release(tokens[round]), checkout(tokens[round + 1])]);
    }
    await setClock(f, T0 + 20 * MIN);
    await release(tokens[6]);
    await passTime(f, T0 + 20 * MIN + 1);
    const list = await allIntervals(f);
    expect(list).toEqual([
      expect.objectContaining({ started_at: new Date(T0 + 10 * MIN).toISOString(), ended_at: new Date(T0 + 20 * MIN).toISOString(), billable_seat_seconds: 600 }),
    ]);
    const events = await storedEvents(f);
    expect(events.map((e) => e.type).sort()).toEqual(["overage.billable", "overage.ended", "overage.started"]);
  });

  it("on the real clock: the list, the seats view, compliance and the webhook events agree; every event id names one event", async () => {
    const f = await newAccount({ grace_seconds: 0, lease_ttl_seconds: 3600 });
    await putPool(f, "premium-concurrent", 1);
    const tokens = await agentTokens(f, await licensedUsers(f, "premium-concurrent", 7));
    expect((await checkout(tokens[0])).status).toBe(200); // the pool's one seat, held throughout
    const rest = tokens.slice(1);
    for (let round = 0; round < 12; round++) {
      const replies = await Promise.all(rest.map((t) => checkout(t).then(() => release(t))));
      expect(replies.every((r) => r.status === 204)).toBe(true);
    }
    // Let the last instant pass; the list call decides what is due and drains the outbox first.
    await new Promise((r) => setTimeout(r, 20));
    const list = await allIntervals(f);
    const seats = await call("GET", `${base(f)}/pools/premium-concurrent/seats`, f.key);
    const report = await call("GET", `${base(f)}/compliance`, f.key);
    const events = await storedEvents(f);

    expect(seats.body).toMatchObject({ active: 1, over_limit: false, interval: null });
    expect(report.body.open_overages).toEqual([]);
    expect(list.filter((i) => i.ended_at === null)).toEqual([]);
    expect(list.every((i) => i.ended_at! > i.started_at)).toBe(true);

    // One started and one ended per interval, ended after started, with the list's own figures.
    const ids = new Set(events.map((e) => e.id));
    expect(ids.size).toBe(events.length);
    const byInterval = new Map<string, StoredEvent[]>();
    for (const e of events) byInterval.set(e.interval.id, [...(byInterval.get(e.interval.id) ?? []), e]);
    expect([...byInterval.keys()].sort()).toEqual(list.map((i) => i.id).sort());
    for (const interval of list) {
      const mine = byInterval.get(interval.id)!;
      expect(mine.filter((e) => e.type === "overage.started")).toHaveLength(1);
      const ended = mine.filter((e) => e.type === "overage.ended");
      expect(ended).toHaveLength(1);
      expect(ended[0].interval.ended_at).toBe(interval.ended_at);
    }
    // Intervals of one pool never overlap.
    const sorted = [...list].sort((a, b) => a.started_at.localeCompare(b.started_at));
    for (let i = 1; i < sorted.length; i++) expect(sorted[i].started_at >= sorted[i - 1].ended_at!).toBe(true);
  });

  it("mid-burst, an interval open in the seats view is the list's open one and compliance's", async () => {
    const f = await newAccount({ grace_seconds: 0, lease_ttl_seconds: 3600 });
    await putPool(f, "premium-concurrent", 1);
    const tokens = await agentTokens(f, await licensedUsers(f, "premium-concurrent", 7));
    expect((await checkout(tokens[0])).status).toBe(200);
    for (let round = 0; round < 6; round++) {
      // Everyone checks out at once; some releases land in the same ms as others' checkouts.
      await Promise.all(tokens.slice(1).map((t, i) => (i % 2 ? checkout(t).then(() => release(t)) : checkout(t))));
      await new Promise((r) => setTimeout(r, 5));
      const list = await allIntervals(f);
      const seats = await call("GET", `${base(f)}/pools/premium-concurrent/seats`, f.key);
      const report = await call("GET", `${base(f)}/compliance`, f.key);
      const open = list.filter((i) => i.ended_at === null).map((i) => i.id);
      expect(open.length).toBeLessThanOrEqual(1);
      if (seats.body.interval) expect(open).toEqual([seats.body.interval.id]);
      expect(report.body.open_overages.map((i: { id: string }) => i.id)).toEqual(open);
      await Promise.all(tokens.slice(1).map((t) => release(t)));
    }
  });
});
