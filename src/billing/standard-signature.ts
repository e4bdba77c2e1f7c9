/**
 * Standard Webhooks signing (https://www.standardwebhooks.com, spec v1): the headers
 * `webhook-id`, `webhook-timestamp` (unix seconds) and `webhook-signature: v1,<base64 HMAC-SHA256
 * of "<id>.<timestamp>.<body>">`, several space-separated while a secret is rotated. The secret is
 * `whsec_` + base64 of the key bytes, so receivers verify with the existing libraries.
 */

const encoder = new TextEncoder();

/** Key sizes the spec recommends (24 to 64 bytes). */
const MIN_KEY_BYTES = 24;
const MAX_KEY_BYTES = 64;

/** The key bytes of a `whsec_…` secret, or null when it is not one (not base64, or a key too short or long). */
export function standardKey(secret: string): Uint8Array | null {
  const match = /^whsec_([A-Za-z0-9+/]+={0,2})$/.exec(secret);
  if (!match || match[1].length % 4 !== 0) return null;
  let bytes: Uint8Array;
  try {
    bytes = Uint8Array.from(atob(match[1]), (c) => c.charCodeAt(0));
  } catch {
    return null;
  }
  return bytes.length >= MIN_KEY_BYTES && bytes.length <= MAX_KEY_BYTES ? bytes : null;
}

/** `webhook-id`: the account and the event id, so it is unique across accounts and the same on every retry. */
export const standardMessageId = (accountId: string, eventId: string): string => `${accountId}:${eventId}`;

const toBase64 = (bytes: ArrayBuffer): string => btoa(String.fromCharCode(...new Uint8Array(bytes)));

/**
 * The three headers for one delivery, signed with each usable secret (the current one first). A
 * secret that is not a `whsec_` key (a replaced secret of the other format) is skipped.
 */
export async function standardHeaders(secrets: readonly string[], id: string, body: string, nowSeconds: number): Promise<Record<string, string>> {
  const timestamp = Math.floor(nowSeconds);
  const content = encoder.encode(`${id}.${timestamp}.${body}`);
  const signatures: string[] = [];
  for (const secret of secrets) {
    const key = standardKey(secret);
    if (!key) continue;
    const hmac = await crypto.subtle.importKey("raw", key, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
    signatures.push(`v1,${toBase64(await crypto.subtle.sign("HMAC", hmac, content))}`);
  }
  return { "webhook-id": id, "webhook-timestamp": String(timestamp), "webhook-signature": signatures.join(" ") };
}
