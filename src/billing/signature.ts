/**
 * Webhook signatures (docs/api.md#events-and-webhooks):
 * `Seat-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>" with the secret>`.
 * Signing the timestamp with the body lets a receiver refuse replays of old deliveries; several
 * `v1=` values are allowed so a secret can be rotated while both old and new are in use.
 */

export const SIGNATURE_HEADER = "Seat-Signature";

/** How far a signature's timestamp may be from the receiver's clock, either way. */
export const DEFAULT_TOLERANCE_SECONDS = 300;

const encoder = new TextEncoder();

function hmacKey(secret: string, usage: "sign" | "verify"): Promise<CryptoKey> {
  return crypto.subtle.importKey("raw", encoder.encode(secret), { name: "HMAC", hash: "SHA-256" }, false, [usage]);
}

const signedPayload = (t: number, body: string): Uint8Array => encoder.encode(`${t}.${body}`);

const toHex = (bytes: ArrayBuffer): string =>
  Array.from(new Uint8Array(bytes), (byte) => byte.toString(16).padStart(2, "0")).join("");

/** Hex to bytes; null unless it is exactly a SHA-256 digest (64 hex digits). */
function digestFromHex(hex: string): Uint8Array | null {
  if (!/^[0-9a-fA-F]{64}$/.test(hex)) return null;
  return Uint8Array.from(hex.match(/../g) ?? [], (pair) => parseInt(pair, 16));
}

/**
 * The `Seat-Signature` header value for `body`, sent at `nowSeconds`: one `v1=` per secret (the
 * current one first, then the one a rotation replaced, while it is still honoured).
 */
export async function signPayload(secrets: string | readonly string[], body: string, nowSeconds: number): Promise<string> {
  const t = Math.floor(nowSeconds);
  const macs = await Promise.all(
    (typeof secrets === "string" ? [secrets] : secrets).map(async (secret) => toHex(await crypto.subtle.sign("HMAC", await hmacKey(secret, "sign"), signedPayload(t, body)))),
  );
  return [`t=${t}`, ...macs.map((mac) => `v1=${mac}`)].join(",");
}

interface ParsedHeader {
  t: number;
  signatures: Uint8Array[];
}

/** `t=…,v1=…[,v1=…]`; other schemes (e.g. a future `v2=`) are ignored. Null when malformed. */
function parseHeader(header: string): ParsedHeader | null {
  let t: number | null = null;
  const signatures: Uint8Array[] = [];
  for (const part of header.split(",")) {
    const eq = part.indexOf("=");
    if (eq < 0) return null;
    const key = part.slice(0, eq).trim();
    const value = part.slice(eq + 1).trim();
    if (key === "t") {
      if (t !== null || !/^\d{1,12}$/.test(value)) return null;
      t = Number(value);
    } else if (key === "v1") {
      const digest = digestFromHex(value);
      if (!digest) return null;
      signatures.push(digest);
    }
  }
  return t === null || signatures.length === 0 ? null : { t, signatures };
}

/**
 * True when `header` carries a valid signature of `body` by `secret`, made within
 * `toleranceSeconds` of `nowSeconds`. The MAC comparison is `crypto.subtle.verify`, which compares
 * in constant time, so response timing does not leak how much of a forged signature matched.
 */
export async function verifySignature(
  secret: string,
  body: string,
  header: string,
  nowSeconds: number,
  toleranceSeconds: number = DEFAULT_TOLERANCE_SECONDS,
): Promise<boolean> {
  const parsed = parseHeader(header);
  if (!parsed || Math.abs(nowSeconds - parsed.t) > toleranceSeconds) return false;
  const key = await hmacKey(secret, "verify");
  const payload = signedPayload(parsed.t, body);
  let valid = false;
  // Check every candidate (no early exit) so timing does not say which one matched.
  for (const signature of parsed.signatures) {
    if (await crypto.subtle.verify("HMAC", key, signature, payload)) valid = true;
  }
  return valid;
}
