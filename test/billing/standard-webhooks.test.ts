import { env } from "cloudflare:workers";
import { Webhook, WebhookVerificationError } from "standardwebhooks";
import { afterEach, describe, expect, it, vi } from "vitest";
import { standardKey } from "../../src/billing/standard-signature";
import { auditOf, call, expectProblem, MIN, newAccount, setClock, type Fixture, api, replyOf } from "../helpers";
import { cyclesOf, harness, iso, runQueue, type Harness } from "./support";

/**
 * Standard Webhooks: a webhook with format "standard" is verified here as a receiver would, with
 * the `standardwebhooks` package (the reference JavaScript library of the spec).
 */

const HOOK = "https://hooks.example.test/standard";
/** `whsec_` + base64 of 32 random bytes, as a receiver's library generates them. */
const whsec = () => `whsec_${btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(32))))}`;

interface Received {
  headers: Headers;
  body: string;
}

function receiver(): Received[] {
  const received: Received[] = [];
  vi.spyOn(globalThis, "fetch").mockImplementation(async (input: RequestInfo | URL, init?: RequestInit) => {
    const request = new Request(input, init);
    received.push({ headers: request.headers, body: await request.text() });
    return new Response(null, { status: 204 });
  });
  return received;
}

afterEach(() => {
  vi.restoreAllMocks();
});

const headersOf = (r: Received) => Object.fromEntries(r.headers.entries());

// Untyped on purpose: some tests send a format the API refuses ("svix"), so this goes through `call`.
async function putHook(f: Fixture, body: Record<string, unknown>) {
  return call("PUT", `/v1/accounts/${f.accountId}/webhook`, f.key, { url: HOOK, ...body });
}

/** Stores a billing.summary event for `f` and delivers it once; returns what the receiver got. */
async function deliverOne(h: Harness, f: Fixture): Promise<{ received: Received; eventId: string }> {
  const [c0] = await cyclesOf(f, 1);
  await setClock(f, c0.end + 60 * MIN);
  await runQueue(h, "seatkeeper-billing", [{ account_id: f.accountId, cycle_start: iso(c0.start), cycle_end: iso(c0.end) }]);
  const message = h.events.sent.find((m) => m.account_id === f.accountId)!;
  const received = receiver();
  expect((await runQueue(h, "seatkeeper-events", [message])).acked).toHaveLength(1);
  expect(received).toHaveLength(1);
  vi.restoreAllMocks();
  return { received: received[0], eventId: message.event_id };
}

describe('format "standard"', () => {
  it("deliveries verify with the standardwebhooks library, and only with the right secret and body", async () => {
    const h = harness();
    const f = await newAccount();
    const secret = whsec();
    const put = await putHook(f, { secret, format: "standard" });
    expect(put.status, JSON.stringify(put.body)).toBe(200);
    expect(put.body).toEqual({ url: HOOK, format: "standard", previous_secret_until: null });
    expect((await call("GET", `/v1/accounts/${f.accountId}/webhook`, f.key)).body).toEqual({ url: HOOK, format: "standard", previous_secret_until: null });
    expect((await auditOf(f))[0]).toMatchObject({ action: "webhook.put", detail: { format: "standard" } });
    expect(JSON.stringify(await auditOf(f))).not.toContain(secret.slice(6));

    const { received, eventId } = await deliverOne(h, f);
    const headers = headersOf(received);
    // Unique across accounts (event ids are unique per account), the same on every retry.
    expect(headers["webhook-id"]).toBe(`${f.accountId}:${eventId}`);
    expect(Number(headers["webhook-timestamp"])).toBeCloseTo(Date.now() / 1000, -1);
    expect(headers["webhook-signature"]).toMatch(/^v1,[A-Za-z0-9+/]+={0,2}$/);
    expect(headers["seat-signature"]).toBeUndefined();

    const event = new Webhook(secret).verify(received.body, headers) as any;
    expect(event).toMatchObject({ id: eventId, type: "billing.summary", account_id: f.accountId, data: { final: true } });
    expect(() => new Webhook(whsec()).verify(received.body, headers)).toThrow(WebhookVerificationError);
    expect(() => new Webhook(secret).verify(received.body.replace(/"final":true/, '"final":false'), headers)).toThrow(WebhookVerificationError);
    expect(() => new Webhook(secret).verify(received.body, { ...headers, "webhook-id": `${f.accountId}:evt_other` })).toThrow(WebhookVerificationError);
  });

  it("while a secret is rotated, both the new and the replaced secret verify", async () => {
    const h = harness();
    const f = await newAccount();
    const oldSecret = whsec();
    const newSecret = whsec();
    expect((await putHook(f, { secret: oldSecret, format: "standard" })).status).toBe(200);
    // No format in the PUT: the webhook keeps the one it has.
    const rotated = await putHook(f, { secret: newSecret });
    expect(rotated.body).toMatchObject({ format: "standard", previous_secret_until: expect.any(String) });

    const { received } = await deliverOne(h, f);
    const headers = headersOf(received);
    expect(headers["webhook-signature"].split(" ")).toHaveLength(2);
    expect(new Webhook(newSecret).verify(received.body, headers)).toMatchObject({ account_id: f.accountId });
    expect(new Webhook(oldSecret).verify(received.body, headers)).toMatchObject({ account_id: f.accountId });
    expect(() => new Webhook(whsec()).verify(received.body, headers)).toThrow(WebhookVerificationError);
  });

  it("refuses a secret that is not whsec_ + base64 of 24 to 64 bytes, and changes nothing", async () => {
    const f = await newAccount();
    expect((await putHook(f, { secret: "plain-secret-0123456789" })).status).toBe(200);
    const before = await env.DB.prepare("SELECT webhook_url, webhook_secret, webhook_format FROM accounts WHERE id = ?").bind(f.accountId).first();
    const short = `whsec_${btoa("x".repeat(16))}`;
    const long = `whsec_${btoa("x".repeat(65))}`;
    for (const secret of ["plain-secret-0123456789", short, long, "whsec_not*base64*at*all*0123456789", `whsec_${btoa("y".repeat(32)).slice(0, -1)}`]) {
      const res = await putHook(f, { secret, format: "standard" });
      expectProblem(res, 400, "invalid_request");
      expect(res.body.errors).toEqual([{ path: "secret", message: expect.any(String) }]);
    }
    expectProblem(await putHook(f, { secret: whsec(), format: "svix" }), 400, "invalid_request");
    expect(await env.DB.prepare("SELECT webhook_url, webhook_secret, webhook_format FROM accounts WHERE id = ?").bind(f.accountId).first()).toEqual(before);
    expect(standardKey(`whsec_${btoa("z".repeat(24))}`)).toHaveLength(24);
    expect(standardKey(`whsec_${btoa("z".repeat(64))}`)).toHaveLength(64);
  });

  it('switching back to "seatkeeper" sends Seat-Signature again; GET …/webhook is 404 without a webhook', async () => {
    const h = harness();
    const f = await newAccount();
    expectProblem(await call("GET", `/v1/accounts/${f.accountId}/webhook`, f.key), 404, "not_found");
    const secret = whsec();
    expect((await putHook(f, { secret, format: "standard" })).status).toBe(200);
    expect((await putHook(f, { secret, format: "seatkeeper" })).body).toEqual({ url: HOOK, format: "seatkeeper", previous_secret_until: null });
    const { received } = await deliverOne(h, f);
    expect(received.headers.get("Seat-Signature")).toMatch(/^t=\d+,v1=[0-9a-f]{64}$/);
    expect(received.headers.get("webhook-signature")).toBeNull();
  });
});
