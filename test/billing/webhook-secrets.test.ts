import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { open, seal, sealedKeyId, secretKeys } from "../../src/billing/secret-box";
import { verifySignature } from "../../src/billing/signature";
import { PREVIOUS_SECRET_HOURS, resealWebhookSecrets } from "../../src/billing/webhook-secrets";
import type { Env } from "../../src/env";
import { auditOf, call, MIN, newAccount, setClock, type Fixture, api, replyOf } from "../helpers";
import { cyclesOf, harness, iso, runQueue, storedEvents, type Harness } from "./support";

/**
 * Webhook secrets at rest (AES-GCM under an HKDF-derived key), their rotation (two signatures for
 * a stated period) and the rotation of the key that seals them.
 */

const HOOK = "https://hooks.example.test/seatkeeper";
const SECRET_A = "secret-a-0123456789";
const SECRET_B = "secret-b-9876543210";
const NEW_ROOT = "a-new-webhook-key-of-at-least-32-characters";

interface Received {
  headers: Headers;
  body: string;
}

function receiver(): Received[] {
  const received: Received[] = [];
  vi.spyOn(globalThis, "fetch").mockImplementation(async (input: RequestInfo | URL, init?: RequestInit) => {
    const request = new Request(input, init);
    received.push({ headers: request.headers, body: await request.text() });
    return new Response("ok");
  });
  return received;
}

afterEach(() => {
  vi.restoreAllMocks();
});

const accountRow = async (f: Fixture) => (await env.DB.prepare("SELECT * FROM accounts WHERE id = ?").bind(f.accountId).first<Record<string, string | null>>())!;

async function putHook(f: Fixture, secret: string) {
  const res = await replyOf(api(f.key).accounts[":account_id"].webhook.$put({ param: { account_id: f.accountId }, json: { url: HOOK, secret } }));
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body;
}

/** A stored billing.summary event of `f` and its queue message. */
async function summaryEvent(h: Harness, f: Fixture) {
  const [c0] = await cyclesOf(f, 1);
  await setClock(f, c0.end + 60 * MIN);
  await runQueue(h, "seatkeeper-billing", [{ account_id: f.accountId, cycle_start: iso(c0.start), cycle_end: iso(c0.end) }]);
  return h.events.sent.find((m) => m.account_id === f.accountId)!;
}

const v1Count = (header: string | null) => (header ?? "").split(",").filter((p) => p.startsWith("v1=")).length;

describe("webhook secrets at rest", () => {
  it("are stored sealed: D1 never holds the secret, and deliveries are signed with it", async () => {
    const h = harness();
    const f = await newAccount();
    await putHook(f, SECRET_A);
    const row = await accountRow(f);
    expect(row.webhook_secret).toMatch(/^v1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
    expect(JSON.stringify(row)).not.toContain(SECRET_A);
    expect(row.webhook_secret_plain).toBeNull();
    expect(JSON.stringify(await auditOf(f))).not.toContain(SECRET_A);

    const message = await summaryEvent(h, f);
    const received = receiver();
    await runQueue(h, "seatkeeper-events", [message]);
    expect(received).toHaveLength(1);
    expect(await verifySignature(SECRET_A, received[0].body, received[0].headers.get("Seat-Signature")!, Date.now() / 1000)).toBe(true);
  });

  it("sealing is AES-GCM with a fresh IV, bound to the account: another account's row does not open it", async () => {
    const keys = await secretKeys(env as unknown as Env);
    const one = await seal(keys, "acct-1", SECRET_A);
    const two = await seal(keys, "acct-1", SECRET_A);
    expect(one).not.toBe(two);
    expect(await open(keys, "acct-1", one)).toBe(SECRET_A);
    expect(await open(keys, "acct-2", one)).toBeNull();
    const [v, kid, iv, ct] = one.split(".");
    const flipped = `${v}.${kid}.${iv}.${ct.startsWith("A") ? "B" : "A"}${ct.slice(1)}`;
    expect(await open(keys, "acct-1", flipped)).toBeNull();
    // Another root derives another key, with another id.
    const other = await secretKeys({ OPERATOR_TOKEN: "x", WEBHOOK_KEY: NEW_ROOT });
    expect(other.current.id).not.toBe(keys.current.id);
    expect(await open(other, "acct-1", one)).toBeNull();
  });

  it("a sealed secret copied into another account's row is not used: the event settles as no_endpoint", async () => {
    const h = harness();
    const victim = await newAccount();
    await putHook(victim, SECRET_A);
    const f = await newAccount();
    await putHook(f, SECRET_B);
    await env.DB.prepare("UPDATE accounts SET webhook_secret = ? WHERE id = ?").bind((await accountRow(victim)).webhook_secret, f.accountId).run();
    const message = await summaryEvent(h, f);
    const received = receiver();
    await runQueue(h, "seatkeeper-events", [message]);
    expect(received).toHaveLength(0);
    expect((await storedEvents(f)).find((e) => e.id === message.event_id)).toMatchObject({ last_error: "secret_unreadable", no_endpoint_at: expect.any(String) });
  });
});

describe("rotating a webhook secret", () => {
  it(`signs with the new and the replaced secret for ${PREVIOUS_SECRET_HOURS} hours, then with the new one only`, async () => {
    const h = harness();
    const f = await newAccount();
    expect((await putHook(f, SECRET_A)).previous_secret_until).toBeNull();
    const before = Date.now();
    const rotated = await putHook(f, SECRET_B);
    const until = Date.parse(rotated.previous_secret_until);
    expect(until).toBeGreaterThanOrEqual(before + PREVIOUS_SECRET_HOURS * 3_600_000);
    expect(until).toBeLessThanOrEqual(Date.now() + PREVIOUS_SECRET_HOURS * 3_600_000);
    expect((await auditOf(f))[0]).toMatchObject({ action: "webhook.put", detail: { url: HOOK, secret_rotated: true } });
    const row = await accountRow(f);
    expect(JSON.stringify(row)).not.toContain(SECRET_A);
    expect(JSON.stringify(row)).not.toContain(SECRET_B);

    const message = await summaryEvent(h, f);
    const received = receiver();
    await runQueue(h, "seatkeeper-events", [message]);
    const header = received[0].headers.get("Seat-Signature")!;
    expect(v1Count(header)).toBe(2);
    const now = Date.now() / 1000;
    expect(await verifySignature(SECRET_A, received[0].body, header, now)).toBe(true);
    expect(await verifySignature(SECRET_B, received[0].body, header, now)).toBe(true);
    expect(await verifySignature("some-other-secret-xyz", received[0].body, header, now)).toBe(false);

    // PUT again with the same secret: not a rotation, the window is kept as it was.
    expect((await putHook(f, SECRET_B)).previous_secret_until).toBe(rotated.previous_secret_until);
    expect((await auditOf(f))[0].detail).toMatchObject({ secret_rotated: false });

    // Once the window has passed, only the new secret signs.
    await env.DB.prepare("UPDATE accounts SET webhook_secret_previous_until = ? WHERE id = ?").bind(iso(Date.now() - 1000), f.accountId).run();
    await call("POST", `/v1/accounts/${f.accountId}/webhook/deliveries/${message.event_id}/redeliver`, f.key);
    await env.DB.prepare("UPDATE webhook_events SET delivered_at = NULL, attempts = 0 WHERE account_id = ? AND id = ?").bind(f.accountId, message.event_id).run();
    vi.restoreAllMocks();
    const later = receiver();
    await runQueue(h, "seatkeeper-events", [message]);
    const last = later[later.length - 1];
    expect(v1Count(last.headers.get("Seat-Signature"))).toBe(1);
    expect(await verifySignature(SECRET_B, last.body, last.headers.get("Seat-Signature")!, Date.now() / 1000)).toBe(true);
    expect(await verifySignature(SECRET_A, last.body, last.headers.get("Seat-Signature")!, Date.now() / 1000)).toBe(false);
    // A PUT after the window drops the expired secret for good.
    expect((await putHook(f, SECRET_B)).previous_secret_until).toBeNull();
    expect((await accountRow(f)).webhook_secret_previous).toBeNull();
  });

  it("DELETE removes the secrets with the webhook", async () => {
    const f = await newAccount();
    await putHook(f, SECRET_A);
    await putHook(f, SECRET_B);
    expect((await call("DELETE", `/v1/accounts/${f.accountId}/webhook`, f.key)).status).toBe(204);
    expect(await accountRow(f)).toMatchObject({ webhook_url: null, webhook_secret: null, webhook_secret_previous: null, webhook_secret_previous_until: null });
  });
});

describe("rotating the key that seals the secrets", () => {
  it("with WEBHOOK_KEY_PREVIOUS the old secrets still open; the hourly job reseals them; then the old key can go", async () => {
    const h = harness();
    const f = await newAccount();
    await putHook(f, SECRET_A);
    await putHook(f, SECRET_B); // a replaced secret too, so both columns are resealed
    const oldRoot = (env as unknown as Env).OPERATOR_TOKEN; // WEBHOOK_KEY is unset in the tests
    const rotated: Env = { ...h.env, WEBHOOK_KEY: NEW_ROOT, WEBHOOK_KEY_PREVIOUS: oldRoot };
    const newKeyId = (await secretKeys(rotated)).current.id;
    expect(sealedKeyId((await accountRow(f)).webhook_secret!)).not.toBe(newKeyId);

    // Mid-rotation: deliveries still work.
    const message = await summaryEvent(h, f);
    const received = receiver();
    await runQueue({ ...h, env: rotated }, "seatkeeper-events", [message]);
    expect(received).toHaveLength(1);
    expect(await verifySignature(SECRET_B, received[0].body, received[0].headers.get("Seat-Signature")!, Date.now() / 1000)).toBe(true);

    // The job reseals every secret (other test accounts of this file included) under the new key.
    let result;
    do result = await resealWebhookSecrets(rotated);
    while (result.resealed > 0 && result.resealed === 1000);
    const row = await accountRow(f);
    expect(sealedKeyId(row.webhook_secret!)).toBe(newKeyId);
    expect(sealedKeyId(row.webhook_secret_previous!)).toBe(newKeyId);
    expect((await resealWebhookSecrets(rotated)).resealed).toBe(0); // idempotent

    // The old key removed: the resealed secrets still open, both signatures still made.
    const done: Env = { ...h.env, WEBHOOK_KEY: NEW_ROOT, WEBHOOK_KEY_PREVIOUS: undefined };
    await env.DB.prepare("UPDATE webhook_events SET delivered_at = NULL, attempts = 0 WHERE account_id = ? AND id = ?").bind(f.accountId, message.event_id).run();
    await runQueue({ ...h, env: done }, "seatkeeper-events", [message]);
    expect(received).toHaveLength(2);
    const header = received[1].headers.get("Seat-Signature")!;
    expect(await verifySignature(SECRET_B, received[1].body, header, Date.now() / 1000)).toBe(true);
    expect(await verifySignature(SECRET_A, received[1].body, header, Date.now() / 1000)).toBe(true);
  });

  it("a new key without WEBHOOK_KEY_PREVIOUS cannot open the old secrets: nothing is sent, the event settles as no_endpoint", async () => {
    const h = harness();
    const f = await newAccount();
    await putHook(f, SECRET_A);
    const message = await summaryEvent(h, f);
    const received = receiver();
    await runQueue({ ...h, env: { ...h.env, WEBHOOK_KEY: NEW_ROOT } }, "seatkeeper-events", [message]);
    expect(received).toHaveLength(0);
    expect((await storedEvents(f)).find((e) => e.id === message.event_id)).toMatchObject({ last_error: "secret_unreadable", no_endpoint_at: expect.any(String) });
  });
});

describe("plain secrets from before migration 0003", () => {
  it("are sealed by the first delivery, which is signed with them", async () => {
    const h = harness();
    const f = await newAccount();
    await putHook(f, SECRET_B);
    // As migration 0003 leaves a pre-0003 row: the plain secret moved aside, nothing sealed yet.
    await env.DB.prepare("UPDATE accounts SET webhook_secret = NULL, webhook_secret_plain = ? WHERE id = ?").bind(SECRET_A, f.accountId).run();
    const message = await summaryEvent(h, f);
    const received = receiver();
    await runQueue(h, "seatkeeper-events", [message]);
    expect(await verifySignature(SECRET_A, received[0].body, received[0].headers.get("Seat-Signature")!, Date.now() / 1000)).toBe(true);
    const row = await accountRow(f);
    expect(row.webhook_secret_plain).toBeNull();
    expect(JSON.stringify(row)).not.toContain(SECRET_A);
    expect(await open(await secretKeys(h.env), f.accountId, row.webhook_secret!)).toBe(SECRET_A);
  });

  it("are sealed by the hourly job when no delivery comes first, and a PUT in between wins", async () => {
    const f = await newAccount();
    const g = await newAccount();
    for (const x of [f, g]) {
      await putHook(x, SECRET_B);
      await env.DB.prepare("UPDATE accounts SET webhook_secret = NULL, webhook_secret_plain = ? WHERE id = ?").bind(SECRET_A, x.accountId).run();
    }
    await putHook(g, SECRET_B); // g's admin set the webhook again: the plain copy is gone with it
    expect((await accountRow(g)).webhook_secret_plain).toBeNull();
    await resealWebhookSecrets(env as unknown as Env);
    const keys = await secretKeys(env as unknown as Env);
    const row = await accountRow(f);
    expect(row.webhook_secret_plain).toBeNull();
    expect(await open(keys, f.accountId, row.webhook_secret!)).toBe(SECRET_A);
    expect(await open(keys, g.accountId, (await accountRow(g)).webhook_secret!)).toBe(SECRET_B);
  });
});
