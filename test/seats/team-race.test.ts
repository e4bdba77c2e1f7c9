/**
 * Team caps and reservations under concurrency, in workerd (docs/licensing.md#teams): rounds of
 * member and non-member checkouts and releases sent at once to one account's object. After each
 * round the API's figures must equal the grants exactly, no team may hold more than its cap, the
 * unused reservations must still fit under the ceiling (so no outsider took a reserved seat), and
 * every refusal must carry the code and figures the rules give. The waitlist variant: waiters of a
 * team at its cap against others, as seats free in bursts.
 */
import { describe, expect, it } from "vitest";
import { agentTokens, api, call, checkout, licensedUsers, newAccount, putPool, release, replyOf, type Fixture, type Reply } from "../helpers";

const POOL = "elite-concurrent" as const;
const acct = (f: Fixture, rest = "") => `/v1/accounts/${f.accountId}${rest}`;

/** mulberry32: the same rounds on every run, so a failure can be replayed. */
function rng(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function shuffle<T>(xs: T[], next: () => number): T[] {
  const out = [...xs];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

async function setTeams(f: Fixture, items: { user_id: string; team: string | null }[]) {
  const res = await replyOf(api(f.key).accounts[":account_id"].users["teams:batch"].$post({ param: { account_id: f.accountId }, json: { items } }));
  expect(res.status, JSON.stringify(res.body)).toBe(200);
}

async function putTeam(f: Fixture, pool: typeof POOL, team: string, json: { max_active?: number | null; reserve?: number }) {
  const res = await replyOf(api(f.key).accounts[":account_id"].pools[":pool_id"].teams[":team"].$put({ param: { account_id: f.accountId, pool_id: pool, team }, json }));
  expect(res.status, JSON.stringify(res.body)).toBe(200);
}

interface TeamRow {
  team: string;
  max_active: number | null;
  reserve: number;
  active: number;
  unused_reserve: number;
}

/** What the admin API says about the pool now: its seat holders, its active count, its teams. */
async function observed(f: Fixture, pool: string) {
  const [seats, pools, teams] = await Promise.all([
    call("GET", acct(f, `/pools/${pool}/seats`), f.key),
    call("GET", acct(f, "/pools"), f.key),
    call("GET", acct(f, `/pools/${pool}/teams`), f.key),
  ]);
  expect([seats.status, pools.status, teams.status]).toEqual([200, 200, 200]);
  const holders: string[] = seats.body.items.map((i: { user_id: string }) => i.user_id);
  const poolRow = pools.body.items.find((p: { id: string }) => p.id === pool);
  return { holders, seatsActive: seats.body.active as number, poolActive: poolRow.active as number, waiting: poolRow.waiting as number, teams: teams.body.items as TeamRow[] };
}

describe("team caps and reservations under concurrent checkouts and releases", () => {
  it("30 rounds of interleaved member and outsider checkouts and releases: caps hold, reserved seats stay the team's, refusals are right, counts equal the grants", async () => {
    const CEILING = 6;
    const LIMITS: Record<string, { max_active: number; reserve: number }> = { billing: { max_active: 3, reserve: 2 }, sales: { max_active: 2, reserve: 1 } };
    const f = await newAccount({ lease_ttl_seconds: 600 });
    await putPool(f, POOL, 10, CEILING);
    const users = await licensedUsers(f, POOL, 17);
    // agent-0..4 billing, agent-5..8 sales, agent-9..16 no team.
    const teamOf = new Map<string, string | null>(users.map((u, i) => [u, i < 5 ? "billing" : i < 9 ? "sales" : null]));
    await setTeams(f, users.filter((u) => teamOf.get(u) !== null).map((u) => ({ user_id: u, team: teamOf.get(u)! })));
    for (const [team, limits] of Object.entries(LIMITS)) await putTeam(f, POOL, team, limits);
    const tokens = await agentTokens(f, users);
    const tokenOf = new Map(users.map((u, i) => [u, tokens[i]]));

    const next = rng(20261128);
    const holders = new Set<string>();
    const seen = { granted: 0, team_at_ceiling: 0, pool_at_ceiling: 0, outsiderRefusedWhileReserved: 0, released: 0 };
    const heldBy = (team: string) => [...holders].filter((u) => teamOf.get(u) === team).length;
    const unused = (team: string) => Math.max(0, LIMITS[team].reserve - heldBy(team));

    for (let round = 0; round < 30; round++) {
      // Each user acts at most once a round: a holder may release, anyone else may check out.
      const ops: { user: string; kind: "checkout" | "release" }[] = [];
      for (const u of users) {
        if (holders.has(u)) {
          if (next() < 0.35) ops.push({ user: u, kind: "release" });
        } else if (next() < 0.6) ops.push({ user: u, kind: "checkout" });
      }
      const startHeld = Object.fromEntries(Object.keys(LIMITS).map((t) => [t, heldBy(t)]));
      const sent = shuffle(ops, next);
      const replies: Reply[] = await Promise.all(sent.map((op) => (op.kind === "checkout" ? checkout(tokenOf.get(op.user)!) : release(tokenOf.get(op.user)!))));

      const grantedByTeam: Record<string, number> = { billing: 0, sales: 0 };
      const askedByTeam: Record<string, number> = { billing: 0, sales: 0 };
      sent.forEach((op, k) => {
        const res = replies[k];
        const team = teamOf.get(op.user) ?? null;
        const what = `round ${round}: ${op.kind} by ${op.user} (${team ?? "no team"}) → ${res.status} ${JSON.stringify(res.body)}`;
        if (op.kind === "release") {
          expect(res.status, what).toBe(204);
          holders.delete(op.user);
          seen.released++;
          return;
        }
        if (team) askedByTeam[team]++;
        if (res.status === 200) {
          expect(res.body.user_id, what).toBe(op.user);
          holders.add(op.user);
          seen.granted++;
          if (team) grantedByTeam[team]++;
          return;
        }
        expect(res.status, what).toBe(409);
        if (res.body.code === "team_at_ceiling") {
          // Only a member of a capped team, and only with the team at its cap when decided.
          expect(team, what).not.toBeNull();
          expect(res.body, what).toMatchObject({ pool: POOL, team, team_max_active: LIMITS[team!].max_active });
          expect(res.body.team_active, what).toBeGreaterThanOrEqual(LIMITS[team!].max_active);
          seen.team_at_ceiling++;
        } else {
          expect(res.body.code, what).toBe("pool_at_ceiling");
          if (res.body.reserved === undefined) {
            // No other team's reservation was unused: the plain ceiling rule.
            expect(res.body.detail, what).toMatch(new RegExp(`at its ceiling of ${CEILING} active seats\\.$`));
            expect(res.body, what).toMatchObject({ pool: POOL, max_active: CEILING, active: CEILING });
          } else {
            // Decided with the pool at its ceiling once the other teams' unused reservations count as taken.
            expect(res.body, what).toMatchObject({ pool: POOL, max_active: CEILING });
            expect(res.body.active, what).toBeLessThanOrEqual(CEILING);
            expect(res.body.reserved, what).toBeGreaterThan(0);
            expect(res.body.active + res.body.reserved, what).toBeGreaterThanOrEqual(CEILING);
            if (team === null && res.body.active < CEILING) seen.outsiderRefusedWhileReserved++;
          }
          seen.pool_at_ceiling++;
        }
      });

      // A team below its reservation is let in whatever the order: its reserved seats were kept for it.
      for (const team of Object.keys(LIMITS)) {
        const owed = Math.max(0, LIMITS[team].reserve - startHeld[team]);
        expect(grantedByTeam[team], `round ${round}: ${team} asked ${askedByTeam[team]} from ${startHeld[team]} held`).toBeGreaterThanOrEqual(Math.min(owed, askedByTeam[team]));
      }

      // The API's figures are exactly the grants.
      const now = await observed(f, POOL);
      expect([...now.holders].sort(), `round ${round}`).toEqual([...holders].sort());
      expect(now.seatsActive).toBe(holders.size);
      expect(now.poolActive).toBe(holders.size);
      expect(holders.size).toBeLessThanOrEqual(CEILING);
      expect(now.teams.map((t) => t.team)).toEqual(Object.keys(LIMITS).sort());
      let unusedSum = 0;
      for (const t of now.teams) {
        expect(t, `round ${round}`).toEqual({ team: t.team, max_active: LIMITS[t.team].max_active, reserve: LIMITS[t.team].reserve, active: heldBy(t.team), unused_reserve: unused(t.team) });
        expect(t.active).toBeLessThanOrEqual(LIMITS[t.team].max_active);
        unusedSum += t.unused_reserve;
      }
      // No outsider took a reserved seat: the reservations not in use still fit under the ceiling.
      expect(holders.size + unusedSum, `round ${round}: ${holders.size} active, ${unusedSum} reserved unused`).toBeLessThanOrEqual(CEILING);
    }
    // The rounds reached every case: grants, both refusals, and an outsider kept off a reserved seat.
    expect(seen.granted).toBeGreaterThan(20);
    expect(seen.released).toBeGreaterThan(10);
    expect(seen.team_at_ceiling).toBeGreaterThan(0);
    expect(seen.pool_at_ceiling).toBeGreaterThan(0);
    expect(seen.outsiderRefusedWhileReserved).toBeGreaterThan(0);
  });

  it("everyone at once on an empty pool, five times: the reserved seats always go to the team, outsiders share only the rest", async () => {
    const CEILING = 5;
    const f = await newAccount({ lease_ttl_seconds: 600 });
    await putPool(f, POOL, 10, CEILING);
    const users = await licensedUsers(f, POOL, 14);
    const billing = users.slice(0, 4);
    const outsiders = users.slice(4);
    await setTeams(f, billing.map((u) => ({ user_id: u, team: "billing" })));
    await putTeam(f, POOL, "billing", { reserve: 3 });
    const tokens = await agentTokens(f, users);
    const tokenOf = new Map(users.map((u, i) => [u, tokens[i]]));
    for (let round = 0; round < 5; round++) {
      // Everyone at once: 2 seats for outsiders, 3 kept for billing, whoever arrives first.
      // Outsiders first in the burst on odd rounds, so they would take billing's seats if they could.
      const all = round % 2 ? [...outsiders, ...billing] : [...billing, ...outsiders];
      const replies = await Promise.all(all.map((u) => checkout(tokenOf.get(u)!)));
      const granted = all.filter((_, k) => replies[k].status === 200);
      // Billing gets its 3 reserved seats whoever came first (a 4th only in a race with the outsiders for the other 2).
      const billingIn = granted.filter((u) => billing.includes(u)).length;
      expect(billingIn, `round ${round}`).toBeGreaterThanOrEqual(3);
      expect(granted.filter((u) => outsiders.includes(u)).length, `round ${round}`).toBe(CEILING - billingIn);
      all.forEach((u, k) => {
        if (replies[k].status !== 200) {
          expect(replies[k].status).toBe(409);
          expect(replies[k].body.code).toBe("pool_at_ceiling");
        }
      });
      const now = await observed(f, POOL);
      expect([...now.holders].sort()).toEqual([...granted].sort());
      expect(now.poolActive).toBe(CEILING);
      expect(now.teams).toEqual([{ team: "billing", max_active: null, reserve: 3, active: billingIn, unused_reserve: 0 }]);
      // Everyone leaves at once.
      expect((await Promise.all(granted.map((u) => release(tokenOf.get(u)!)))).every((r) => r.status === 204)).toBe(true);
      expect((await observed(f, POOL)).poolActive).toBe(0);
    }
  });
});

describe("the waitlist with team caps and reservations", () => {
  const waitCheckout = (token: string) => replyOf(api(token).seats.checkout.$post({ json: { session_id: "desk-1", wait: true } }));
  const poll = (token: string) => replyOf(api(token).seats.wait[":session_id"].$post({ param: { session_id: "desk-1" } }));

  it("seats freed at once go to the first waiters the rules allow: a capped team's waiters are skipped until their team frees a seat, outsiders wait behind a reservation", async () => {
    const CEILING = 4;
    const f = await newAccount({ lease_ttl_seconds: 600 });
    await putPool(f, POOL, 10, CEILING);
    const ids = ["s0", "s1", "s2", "b0", "b1", "b2", "n0", "n1", "n2", "n3", "n4", "n5"].map((x) => `agent-${x}`);
    for (const id of ids) expect((await call("PUT", acct(f, `/users/${id}`), f.key, {})).status).toBe(200);
    expect((await call("POST", acct(f, "/licenses:batch"), f.key, { assign: ids.map((user_id) => ({ user_id, pool: POOL })) })).status).toBe(200);
    await setTeams(f, ids.filter((u) => /-[sb]\d$/.test(u)).map((u) => ({ user_id: u, team: u.includes("-s") ? "sales" : "billing" })));
    await putTeam(f, POOL, "sales", { max_active: 1 });
    await putTeam(f, POOL, "billing", { reserve: 1 });
    const tokenList = await agentTokens(f, ids);
    const t = Object.fromEntries(ids.map((u, i) => [u.slice("agent-".length), tokenList[i]]));
    const holdersNow = async () => (await observed(f, POOL)).holders.map((u) => u.slice("agent-".length)).sort();

    // s0, n0, n1 hold; billing's unused reserved seat makes the pool full for everyone else.
    for (const u of ["s0", "n0", "n1"]) expect((await checkout(t[u])).status).toBe(200);
    // In this order: s1 (sales at its cap), n2 (the reserved seat is not theirs) wait; b0 takes billing's seat at once.
    const s1 = await waitCheckout(t.s1);
    expect(s1.status).toBe(202);
    expect(s1.body).toMatchObject({ position: 1, reason: "team_at_ceiling" });
    expect(await waitCheckout(t.n2)).toMatchObject({ status: 202, body: { position: 2, reason: "pool_at_ceiling" } });
    expect((await checkout(t.b0)).status).toBe(200);
    expect(await waitCheckout(t.n3)).toMatchObject({ status: 202, body: { position: 3, reason: "pool_at_ceiling" } });
    expect(await waitCheckout(t.b1)).toMatchObject({ status: 202, body: { position: 4, reason: "pool_at_ceiling" } });
    expect(await waitCheckout(t.s2)).toMatchObject({ status: 202, body: { position: 5, reason: "team_at_ceiling" } });
    expect((await observed(f, POOL)).waiting).toBe(5);

    // Two outsiders leave while every waiter polls: s1 is skipped (sales still at its cap), n2 and n3 get the seats.
    const queue = ["s1", "n2", "n3", "b1", "s2"];
    await Promise.all([release(t.n0), release(t.n1), ...queue.map((u) => poll(t[u]))]);
    expect(await holdersNow()).toEqual(["b0", "n2", "n3", "s0"]);
    let polls = await Promise.all(queue.map((u) => poll(t[u])));
    expect(polls.map((r) => r.status)).toEqual([202, 200, 200, 202, 202]);
    expect(polls.map((r) => r.body.position ?? null)).toEqual([1, null, null, 2, 3]);

    // The sales holder and the billing holder leave at once: s1 (first, now allowed) and b1 get them, s2 stays (sales at its cap again).
    await Promise.all([release(t.s0), release(t.b0), ...["s1", "b1", "s2"].map((u) => poll(t[u]))]);
    expect(await holdersNow()).toEqual(["b1", "n2", "n3", "s1"]);
    let seen = await observed(f, POOL);
    expect(seen.teams).toEqual([
      { team: "billing", max_active: null, reserve: 1, active: 1, unused_reserve: 0 },
      { team: "sales", max_active: 1, reserve: 0, active: 1, unused_reserve: 0 },
    ]);
    expect(seen.waiting).toBe(1);

    // Outsiders queue behind billing's reservation: when b1 leaves, its seat stays billing's.
    expect(await waitCheckout(t.n4)).toMatchObject({ status: 202, body: { position: 2, reason: "pool_at_ceiling" } });
    await Promise.all([release(t.b1), poll(t.n4), poll(t.s2)]);
    expect(await holdersNow()).toEqual(["n2", "n3", "s1"]);
    polls = await Promise.all(["s2", "n4"].map((u) => poll(t[u])));
    expect(polls.map((r) => [r.status, r.body.position])).toEqual([
      [202, 1],
      [202, 2],
    ]);
    // A billing member takes the kept seat at once, past the waiting outsiders (none of whom could).
    expect((await checkout(t.b2)).status).toBe(200);
    // An outsider leaving frees a seat no reservation holds: the first waiter allowed is n4 (s2 is still capped).
    await Promise.all([release(t.n2), poll(t.s2), poll(t.n4)]);
    expect(await holdersNow()).toEqual(["b2", "n3", "n4", "s1"]);
    seen = await observed(f, POOL);
    expect(seen.poolActive).toBe(CEILING);
    expect(seen.waiting).toBe(1);
    expect(await poll(t.s2)).toMatchObject({ status: 202, body: { position: 1, reason: "team_at_ceiling" } });
  });
});
