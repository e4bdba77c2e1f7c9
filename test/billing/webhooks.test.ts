import { afterEach, describe, expect, it, vi } from "vitest";
import { MAX_DELIVERY_ATTEMPTS, retryDelaySeconds, summaryEventId } from "../../src/billing/consumers";
import { verifySignature } from "../../src/billing/signature";
import { env } from "cloudflare:workers";
import { agentTokens, auditOf, call, checkout, eventually, expectProblem, licensedUsers, MIN, newAccount, passTime, putPool, setClock, type Fixture, api, replyOf } from "../helpers";
import { cyclesOf, harness, iso, runQueue, storedEvents, type Harness } from "./support";

/**
 * The "events" queue consumer: signed POSTs to the account's webhook, retried with backoff until a
 * 2xx, with a dead-letter record after the last try. Outbound fetches are mocked.
 */

const HOOK = "https://hooks.example.test/seatkeeper";
const SECRET = "whsec_0123456789abcdef";

interface Received {
  url: string;
  headers: Headers;
  body: string;
}

/** Mocks fetch with a receiver that answers `statuses` in turn (the last one repeats). */
function receiver(statuses: (number | Error)[]): Received[] {
  const received: Received[] = [];
  vi.spyOn(globalThis, "fetch").mockImplementation(async (input: RequestInfo | URL, init?: RequestInit) => {
    const request = new Request(input, init);
    received.push({ url: request.url, headers: request.headers, body: await request.text() });
    const answer = statuses[Math.min(received.length - 1, statuses.length - 1)];
    if (answer instanceof Error) throw answer;
    return new Response("thanks", { status: answer });
  });
  return received;
}

afterEach(() => {
  vi.restoreAllMocks();
});

/** An account with a webhook and one stored `billing.summary` event; returns the event's queue message. */
async function accountWithSummaryEvent(h: Harness, webhook = true): Promise<{ f: Fixture; message: { account_id: string; event_id: string } }> {
  const f = await newAccount();
  if (webhook) expect((await replyOf(api(f.key).accounts[":account_id"].webhook.$put({ param: { account_id: f.accountId }, json: { url: HOOK, secret: SECRET } }))).status).toBe(200);
  const [c0] = await cyclesOf(f, 1);
  await setClock(f, c0.end + 60 * MIN);
  await runQueue(h, "seatkeeper-billing", [{ account_id: f.accountId, cycle_start: iso(c0.start), cycle_end: iso(c0.end) }]);
  const message = h.events.sent.find((m) => m.account_id === f.accountId)!;
  expect(message).toEqual({ account_id: f.accountId, event_id: summaryEventId(iso(c0.start)) });
  return { f, message };
}

const eventRow = async (f: Fixture, id: string) => (await storedEvents(f)).find((e) => e.id === id);

describe("webhook delivery", () => {
  it("a receiver that fails twice gets the event on the third try, with the same id and a valid signature", async () => {
    const h = harness();
    const { f, message } = await accountWithSummaryEvent(h);
    const received = receiver([500, 503, 200]);

    const first = await runQueue(h, "seatkeeper-events", [message], 1);
    expect(first.retried).toHaveLength(1);
    expect(await eventRow(f, message.event_id)).toMatchObject({ attempts: 1, delivered_at: null, dead_at: null, last_error: "http_500" });
    const second = await runQueue(h, "seatkeeper-events", [message], 2);
    expect(second.retried).toHaveLength(1);
    expect(await eventRow(f, message.event_id)).toMatchObject({ attempts: 2, last_error: "http_503" });
    const third = await runQueue(h, "seatkeeper-events", [message], 3);
    expect(third.acked).toHaveLength(1);
    const row = await eventRow(f, message.event_id);
    expect(row).toMatchObject({ attempts: 3, last_error: null, dead_at: null });
    expect(row.delivered_at).toEqual(expect.any(String));

    expect(received).toHaveLength(3);
    const now = Date.now() / 1000;
    for (const r of received) {
      expect(r.url).toBe(HOOK);
      expect(r.headers.get("content-type")).toBe("application/json");
      expect(r.headers.get("Seat-Event-Id")).toBe(message.event_id);
      expect(r.body).toBe(row.body); // the stored body, byte for byte, every time
      expect(await verifySignature(SECRET, r.body, r.headers.get("Seat-Signature")!, now)).toBe(true);
      expect(await verifySignature("another-secret-of-16", r.body, r.headers.get("Seat-Signature")!, now)).toBe(false);
    }
    const event = JSON.parse(received[2].body);
    expect(event).toMatchObject({ id: message.event_id, type: "billing.summary", account_id: f.accountId, created_at: expect.any(String) });
    expect(event.data).toMatchObject({ account_id: f.accountId, final: true, pools: expect.any(Array), addons: expect.any(Array) });

    // A redelivery after success sends nothing: receivers dedupe by id, but need not have to.
    expect((await runQueue(h, "seatkeeper-events", [message], 4)).acked).toHaveLength(1);
    expect(received).toHaveLength(3);
  });

  it("retries with growing delays and leaves a dead-letter record after the last try", async () => {
    expect([1, 2, 3, 4].map(retryDelaySeconds)).toEqual([30, 90, 270, 810]);
    expect(retryDelaySeconds(20)).toBe(43_200); // the Queues maximum

    const h = harness();
    const { f, message } = await accountWithSummaryEvent(h);
    const received = receiver([new TypeError("connection refused")]);
    for (let attempt = 1; attempt < MAX_DELIVERY_ATTEMPTS; attempt++) {
      expect((await runQueue(h, "seatkeeper-events", [message], attempt)).retried).toHaveLength(1);
    }
    const last = await runQueue(h, "seatkeeper-events", [message], MAX_DELIVERY_ATTEMPTS);
    expect(last.acked).toHaveLength(1);
    expect(received).toHaveLength(MAX_DELIVERY_ATTEMPTS);
    const row = await eventRow(f, message.event_id);
    expect(row).toMatchObject({ attempts: MAX_DELIVERY_ATTEMPTS, delivered_at: null, last_error: "connection_failed" });
    expect(row.dead_at).toEqual(expect.any(String));

    // The admin sees the dead letter, and can put it back in line.
    const dead = await call("GET", `/v1/accounts/${f.accountId}/webhook/deliveries?status=dead`, f.key);
    expect(dead.status).toBe(200);
    expect(dead.body.items).toEqual([
      expect.objectContaining({ id: message.event_id, type: "billing.summary", attempts: MAX_DELIVERY_ATTEMPTS, dead_at: row.dead_at }),
    ]);
    const redeliver = await call("POST", `/v1/accounts/${f.accountId}/webhook/deliveries/${message.event_id}/redeliver`, f.key);
    expect(redeliver.status).toBe(202);
    // (The real queue now has it: its consumer may already have tried once more, so only the reset is checked.)
    const revived = await eventRow(f, message.event_id);
    expect(revived.dead_at).toBeNull();
    expect(revived.attempts).toBeLessThan(MAX_DELIVERY_ATTEMPTS);
  });

  it("a receiver that does not answer in time counts as a failed attempt", async () => {
    const h = harness();
    const { f, message } = await accountWithSummaryEvent(h);
    const received = receiver([new DOMException("The operation was aborted due to timeout", "TimeoutError")]);
    expect((await runQueue(h, "seatkeeper-events", [message])).retried).toHaveLength(1);
    expect(received).toHaveLength(1);
    expect(await eventRow(f, message.event_id)).toMatchObject({ attempts: 1, last_error: "timeout" });
  });

  it("redirects are not followed: a 3xx is a failure", async () => {
    const h = harness();
    const { f, message } = await accountWithSummaryEvent(h);
    receiver([302]);
    expect((await runQueue(h, "seatkeeper-events", [message])).retried).toHaveLength(1);
    expect(await eventRow(f, message.event_id)).toMatchObject({ attempts: 1, last_error: "redirect_refused" });
  });

  it("last_error is a coarse class: a closed port, an unknown name and a TLS failure do not tell the network apart", async () => {
    const h = harness();
    const cases: Array<[Error | number, string]> = [
      [new TypeError("Network connection lost."), "connection_failed"],
      [new Error("connect ECONNREFUSED 10.0.0.7:443"), "connection_failed"],
      [new TypeError("getaddrinfo ENOTFOUND hooks.example.test"), "connection_failed"],
      [new Error("TLS peer's certificate is not trusted; reason = Hostname mismatch"), "tls_error"],
      [new Error("SSL handshake failed"), "tls_error"],
      [new DOMException("The operation was aborted due to timeout", "TimeoutError"), "timeout"],
      [301, "redirect_refused"],
      [307, "redirect_refused"],
      [404, "http_404"],
      [429, "http_429"],
    ];
    for (const [answer, expected] of cases) {
      const { f, message } = await accountWithSummaryEvent(h);
      receiver([answer]);
      await runQueue(h, "seatkeeper-events", [message]);
      const row = await eventRow(f, message.event_id);
      expect({ answer: String(answer), last_error: row.last_error }).toEqual({ answer: String(answer), last_error: expected });
      vi.restoreAllMocks();
    }
  });

  it("without a webhook the event is stored, marked and not sent", async () => {
    const h = harness();
    const { f, message } = await accountWithSummaryEvent(h, false);
    const received = receiver([200]);
    expect((await runQueue(h, "seatkeeper-events", [message])).acked).toHaveLength(1);
    expect(received).toHaveLength(0);
    const row = await eventRow(f, message.event_id);
    expect(row).toMatchObject({ attempts: 0, delivered_at: null, dead_at: null, last_error: null, no_endpoint_at: expect.any(String) });
    const listed = await call("GET", `/v1/accounts/${f.accountId}/webhook/deliveries?status=no_endpoint`, f.key);
    expect(listed.body.items).toEqual([expect.objectContaining({ id: message.event_id, status: "no_endpoint", attempts: 0 })]);
    expect((await call("GET", `/v1/accounts/${f.accountId}/webhook/deliveries?status=pending`, f.key)).body.items).toEqual([]);
  });

  it("a no_endpoint event is not sent when a webhook is set later, only when the admin redelivers it", async () => {
    const h = harness();
    const { f, message } = await accountWithSummaryEvent(h, false);
    const received = receiver([200]);
    await runQueue(h, "seatkeeper-events", [message]);
    expect((await replyOf(api(f.key).accounts[":account_id"].webhook.$put({ param: { account_id: f.accountId }, json: { url: HOOK, secret: SECRET } }))).status).toBe(200);
    // A late copy of the message (the queue is at least once) does not send it either.
    expect((await runQueue(h, "seatkeeper-events", [message])).acked).toHaveLength(1);
    expect(received).toHaveLength(0);
    expect((await eventRow(f, message.event_id)).no_endpoint_at).toEqual(expect.any(String));

    const redeliver = await call("POST", `/v1/accounts/${f.accountId}/webhook/deliveries/${message.event_id}/redeliver`, f.key);
    expect(redeliver.status).toBe(202);
    expect(await eventRow(f, message.event_id)).toMatchObject({ no_endpoint_at: null, attempts: expect.any(Number) });
    expect((await runQueue(h, "seatkeeper-events", [message])).acked).toHaveLength(1);
    expect(received.filter((r) => r.headers.get("Seat-Event-Id") === message.event_id).length).toBeGreaterThanOrEqual(1);
    expect((await eventRow(f, message.event_id)).delivered_at).toEqual(expect.any(String));
  });

  it("racing redelivers of one dead event: exactly one revives, audits and queues it; the others get 409 not_dead", async () => {
    const h = harness();
    const { f, message } = await accountWithSummaryEvent(h);
    receiver([200]); // the real queue may deliver the revived event while the test runs
    await env.DB.prepare("UPDATE webhook_events SET attempts = ?, dead_at = ?, last_error = 'http_500' WHERE account_id = ? AND id = ?")
      .bind(MAX_DELIVERY_ATTEMPTS, iso(Date.now()), f.accountId, message.event_id)
      .run();
    const path = `/v1/accounts/${f.accountId}/webhook/deliveries/${message.event_id}/redeliver`;
    const answers = await Promise.all(Array.from({ length: 12 }, () => call("POST", path, f.key)));
    expect(answers.filter((a) => a.status === 202)).toHaveLength(1);
    for (const refused of answers.filter((a) => a.status !== 202)) expectProblem(refused, 409, "not_dead");
    expect((await auditOf(f)).filter((e) => e.action === "webhook.redeliver")).toHaveLength(1);
  });

  it("redeliver of an event that is not dead is 409 not_dead and changes nothing", async () => {
    const h = harness();
    const { f, message } = await accountWithSummaryEvent(h);
    const path = `/v1/accounts/${f.accountId}/webhook/deliveries/${message.event_id}/redeliver`;
    // Pending, after a failed attempt: it has a retry chain already.
    receiver([500]);
    await runQueue(h, "seatkeeper-events", [message]);
    const pending = await eventRow(f, message.event_id);
    const refused = await call("POST", path, f.key);
    expectProblem(refused, 409, "not_dead");
    expect(refused.body.event_status).toBe("pending");
    expect(await eventRow(f, message.event_id)).toEqual(pending);
    // Delivered.
    vi.restoreAllMocks();
    receiver([200]);
    await runQueue(h, "seatkeeper-events", [message], 2);
    const delivered = await eventRow(f, message.event_id);
    expect(delivered.delivered_at).toEqual(expect.any(String));
    expectProblem(await call("POST", path, f.key), 409, "not_dead");
    expect(await eventRow(f, message.event_id)).toEqual(delivered);
  });

  it("unknown events and malformed messages are acknowledged and dropped", async () => {
    const h = harness();
    const received = receiver([200]);
    const result = await runQueue(h, "seatkeeper-events", [{ account_id: "nobody", event_id: "evt_none" }, { nonsense: true }]);
    expect(result.acked).toHaveLength(2);
    expect(received).toHaveLength(0);
  });

  it("overage events from the account's outbox are delivered the same way", async () => {
    const h = harness();
    const f = await newAccount({ grace_seconds: 0 });
    expect((await replyOf(api(f.key).accounts[":account_id"].webhook.$put({ param: { account_id: f.accountId }, json: { url: HOOK, secret: SECRET } }))).status).toBe(200);
    await putPool(f, "premium-concurrent", 1);
    const tokens = await agentTokens(f, await licensedUsers(f, "premium-concurrent", 2));
    const received = receiver([200]);
    await setClock(f, Date.UTC(2031, 0, 15, 8));
    for (const token of tokens) expect((await checkout(token)).status).toBe(200);
    await passTime(f, Date.UTC(2031, 0, 15, 8) + 1); // the instant is decided once it has passed
    const started = await eventually(async () => {
      const row = (await storedEvents(f, "overage.started"))[0];
      expect(row).toBeDefined();
      return row;
    });
    // Delivered here directly; the real queue may deliver it too, which changes nothing but the count.
    expect((await runQueue(h, "seatkeeper-events", [{ account_id: f.accountId, event_id: started.id }])).acked).toHaveLength(1);
    const post = received.find((r) => r.headers.get("Seat-Event-Id") === started.id)!;
    expect(JSON.parse(post.body)).toMatchObject({ id: started.id, type: "overage.started", account_id: f.accountId, data: { interval: { pool: "premium-concurrent" } } });
    expect(await verifySignature(SECRET, post.body, post.headers.get("Seat-Signature")!, Date.now() / 1000)).toBe(true);
    expect((await eventRow(f, started.id)).delivered_at).toEqual(expect.any(String));
  });
});
