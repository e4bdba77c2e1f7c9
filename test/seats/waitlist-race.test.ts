import { describe, expect, it } from "vitest";
import { agentTokens, api, call, checkout, licensedUsers, newAccount, putPool, release, replyOf, type Fixture } from "../helpers";

/**
 * The waitlist under concurrency, in workerd: many agents wait at once at a ceiling of N, seats
 * free in bursts, polls race the releases. Every grant respects the ceiling, grants follow the
 * queue order, no seat goes to two waiters and no waiter is granted twice.
 */

const waitCheckout = (token: string) => replyOf(api(token).seats.checkout.$post({ json: { session_id: "desk-1", wait: true } }));
const poll = (token: string) => replyOf(api(token).seats.wait[":session_id"].$post({ param: { session_id: "desk-1" } }));
const seats = async (f: Fixture) => (await call("GET", `/v1/accounts/${f.accountId}/pools/premium-concurrent/seats`, f.key)).body;

describe("waitlist races", () => {
  it("40 agents wait at once at a ceiling of 5; bursts of releases serve them in queue order, never over the ceiling, each once", async () => {
    const N = 5;
    const f = await newAccount({ lease_ttl_seconds: 600 });
    await putPool(f, "premium-concurrent", N, N);
    const users = await licensedUsers(f, "premium-concurrent", N + 40);
    const tokens = await agentTokens(f, users);
    const userOf = new Map(tokens.map((t, i) => [t, users[i]]));
    for (const t of tokens.slice(0, N)) expect((await checkout(t)).status).toBe(200);

    // 40 at once: each gets a distinct place 1..40.
    const joined = await Promise.all(tokens.slice(N).map((t) => waitCheckout(t)));
    expect(joined.every((r) => r.status === 202)).toBe(true);
    expect(joined.map((r) => r.body.position).sort((a, b) => a - b)).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
    const queue = tokens.slice(N).sort((a, b) => joined[tokens.indexOf(a) - N].body.position - joined[tokens.indexOf(b) - N].body.position);

    let holding = tokens.slice(0, N);
    const grantedOrder: string[] = [];
    const everGranted = new Set<string>();
    const bursts = [3, 1, 5, 2, 4, 5, 5, 5, 5, 5];
    for (const burst of bursts) {
      const leaving = holding.slice(0, burst);
      // Releases race polls from everyone still waiting.
      const waiting = queue.filter((t) => !everGranted.has(t));
      const [releases, polls] = await Promise.all([Promise.all(leaving.map((t) => release(t))), Promise.all(waiting.map((t) => poll(t)))]);
      expect(releases.every((r) => r.status === 204)).toBe(true);
      expect(polls.every((r) => r.status === 200 || r.status === 202)).toBe(true);
      holding = holding.slice(burst);
      const now = await seats(f);
      // Never above the ceiling, every holder distinct.
      expect(now.active).toBeLessThanOrEqual(N);
      const holderIds: string[] = now.items.map((i: { user_id: string }) => i.user_id);
      expect(new Set(holderIds).size).toBe(holderIds.length);
      // Exactly the next waiters in queue order got the freed seats.
      const expected = waiting.slice(0, Math.min(burst, waiting.length));
      const newlyHeld = waiting.filter((t) => holderIds.includes(userOf.get(t)!));
      expect(newlyHeld).toEqual(expected);
      for (const t of newlyHeld) {
        expect(everGranted.has(t)).toBe(false);
        everGranted.add(t);
        grantedOrder.push(t);
      }
      holding.push(...newlyHeld);
      // Their polls now answer the checkout; the others their new places, 1..k in queue order.
      const after = await Promise.all(waiting.map((t) => poll(t)));
      waiting.forEach((t, i) => {
        if (everGranted.has(t)) expect(after[i].status).toBe(200);
        else expect(after[i].body.position).toBe(waiting.filter((w) => !everGranted.has(w)).indexOf(t) + 1);
      });
    }
    expect(grantedOrder).toEqual(queue);
    expect(everGranted.size).toBe(40);
  });

  it("simultaneous joins, releases, leaves and polls: the ceiling holds and each seat has one holder", async () => {
    const N = 4;
    const f = await newAccount({ lease_ttl_seconds: 600 });
    await putPool(f, "premium-concurrent", N, N);
    const users = await licensedUsers(f, "premium-concurrent", N + 24);
    const tokens = await agentTokens(f, users);
    for (const t of tokens.slice(0, N)) expect((await checkout(t)).status).toBe(200);
    const first = tokens.slice(N, N + 12);
    await Promise.all(first.map((t) => waitCheckout(t)));
    const late = tokens.slice(N + 12);
    const leavers = first.filter((_, i) => i % 3 === 0);
    await Promise.all([
      ...tokens.slice(0, N).map((t) => release(t)),
      ...late.map((t) => waitCheckout(t)),
      ...leavers.map((t) => replyOf(api(t).seats.wait[":session_id"].$delete({ param: { session_id: "desk-1" } }))),
      ...first.map((t) => poll(t)),
    ]);
    const now = await seats(f);
    expect(now.active).toBe(N);
    const holderIds: string[] = now.items.map((i: { user_id: string }) => i.user_id);
    expect(new Set(holderIds).size).toBe(N);
    // Whoever holds a seat now answers its poll with the checkout; a leaver granted first released it again.
    const polled = await Promise.all(tokens.slice(N).map((t) => poll(t)));
    const granted = polled.filter((r) => r.status === 200).map((r) => r.body.user_id).sort();
    expect(granted).toEqual([...holderIds].sort());
    const waitingPositions = polled.filter((r) => r.status === 202).map((r) => r.body.position).sort((a, b) => a - b);
    expect(waitingPositions).toEqual(Array.from({ length: waitingPositions.length }, (_, i) => i + 1));
  });
});
