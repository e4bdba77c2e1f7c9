import { describe, expect, it } from "vitest";
import { signPayload, verifySignature } from "../../src/billing/signature";

const SECRET = "whsec_test_secret";
const BODY = JSON.stringify({ id: "evt_1", type: "billing.summary", account_id: "acme", created_at: "2026-11-27T08:00:00.000Z", data: {} });
const NOW = 1_795_000_000;

/** The vector, computed here straight from WebCrypto, independently of the module. */
async function referenceHex(secret: string, message: string): Promise<string> {
  const enc = new TextEncoder();
  const key = await crypto.subtle.importKey("raw", enc.encode(secret), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  const mac = new Uint8Array(await crypto.subtle.sign("HMAC", key, enc.encode(message)));
  return [...mac].map((b) => b.toString(16).padStart(2, "0")).join("");
}

describe("webhook signatures", () => {
  it("matches a known vector: t=<seconds>,v1=<hex HMAC-SHA256 of '<t>.<body>'>", async () => {
    const header = await signPayload("secret", '{"a":1}', 1_700_000_000);
    expect(header).toBe(`t=1700000000,v1=${await referenceHex("secret", '1700000000.{"a":1}')}`);
    expect(header).toMatch(/^t=1700000000,v1=[0-9a-f]{64}$/);
  });

  it("round trips", async () => {
    const header = await signPayload(SECRET, BODY, NOW);
    expect(await verifySignature(SECRET, BODY, header, NOW)).toBe(true);
    expect(await verifySignature(SECRET, BODY, header, NOW + 300)).toBe(true);
  });

  it("fails with the wrong secret", async () => {
    const header = await signPayload(SECRET, BODY, NOW);
    expect(await verifySignature("another secret", BODY, header, NOW)).toBe(false);
  });

  it("fails for a tampered body", async () => {
    const header = await signPayload(SECRET, BODY, NOW);
    expect(await verifySignature(SECRET, BODY.replace("acme", "evil"), header, NOW)).toBe(false);
    expect(await verifySignature(SECRET, BODY + " ", header, NOW)).toBe(false);
  });

  it("fails for a timestamp more than 5 minutes old or ahead", async () => {
    const header = await signPayload(SECRET, BODY, NOW);
    expect(await verifySignature(SECRET, BODY, header, NOW + 301)).toBe(false);
    expect(await verifySignature(SECRET, BODY, header, NOW - 301)).toBe(false);
    expect(await verifySignature(SECRET, BODY, header, NOW + 3600, 3600)).toBe(true);
  });

  it("fails when the timestamp is changed (it is signed too)", async () => {
    const header = await signPayload(SECRET, BODY, NOW);
    const moved = header.replace(`t=${NOW}`, `t=${NOW + 10}`);
    expect(await verifySignature(SECRET, BODY, moved, NOW)).toBe(false);
  });

  it("accepts any of several v1 values (secret rotation), in any order, and ignores unknown schemes", async () => {
    const good = (await signPayload(SECRET, BODY, NOW)).split("v1=")[1];
    const other = (await signPayload("old secret", BODY, NOW)).split("v1=")[1];
    expect(await verifySignature(SECRET, BODY, `t=${NOW},v1=${other},v1=${good}`, NOW)).toBe(true);
    expect(await verifySignature(SECRET, BODY, `v1=${good}, t=${NOW}, v0=legacy`, NOW)).toBe(true);
    expect(await verifySignature(SECRET, BODY, `t=${NOW},v1=${other}`, NOW)).toBe(false);
  });

  it("rejects malformed headers", async () => {
    const good = (await signPayload(SECRET, BODY, NOW)).split("v1=")[1];
    for (const header of [
      "",
      "garbage",
      `v1=${good}`, // no timestamp
      `t=${NOW}`, // no signature
      `t=${NOW},t=${NOW},v1=${good}`, // two timestamps
      `t=abc,v1=${good}`,
      `t=-${NOW},v1=${good}`,
      `t=${NOW},v1=${good.slice(0, 63)}`, // short digest
      `t=${NOW},v1=${good}zz`,
      `t=${NOW},v1=${"g".repeat(64)}`,
      `t=${NOW},${good}`,
    ]) {
      expect(await verifySignature(SECRET, BODY, header, NOW), header).toBe(false);
    }
  });
});
