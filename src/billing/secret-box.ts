import { base64url } from "../auth/crypto";
import type { Env } from "../env";

/**
 * Webhook secrets at rest: AES-256-GCM under a key derived with HKDF-SHA256 from WEBHOOK_KEY, or
 * from OPERATOR_TOKEN when that is unset (docs/decisions/051-webhook-secrets-encrypted-at-rest.md).
 *
 * Stored form: `v1.<key id>.<iv>.<ciphertext>` (base64url). The key id names the key that sealed
 * it, so WEBHOOK_KEY_PREVIOUS can still open what the old key sealed while the hourly job reseals
 * it under the new one. The account id is the associated data: a sealed secret copied into another
 * account's row does not open there.
 */

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const SALT = encoder.encode("seatkeeper/webhook-secrets");

export interface SecretKey {
  id: string;
  key: CryptoKey;
}

export interface SecretKeys {
  current: SecretKey;
  previous: SecretKey | null;
}

async function deriveKey(root: string): Promise<SecretKey> {
  const ikm = await crypto.subtle.importKey("raw", encoder.encode(root), "HKDF", false, ["deriveKey", "deriveBits"]);
  const key = await crypto.subtle.deriveKey(
    { name: "HKDF", hash: "SHA-256", salt: SALT, info: encoder.encode("aes-256-gcm v1") },
    ikm,
    { name: "AES-GCM", length: 256 },
    false,
    ["encrypt", "decrypt"],
  );
  // A separate derivation names the key without revealing anything of it.
  const idBits = await crypto.subtle.deriveBits({ name: "HKDF", hash: "SHA-256", salt: SALT, info: encoder.encode("key id v1") }, ikm, 48);
  return { id: base64url(new Uint8Array(idBits)), key };
}

const cache = new Map<string, Promise<SecretKey>>();
const keyFor = (root: string) => {
  let key = cache.get(root);
  if (!key) cache.set(root, (key = deriveKey(root)));
  return key;
};

/** The deployment's keys: the current one seals, both open. */
export async function secretKeys(env: Pick<Env, "WEBHOOK_KEY" | "WEBHOOK_KEY_PREVIOUS" | "OPERATOR_TOKEN">): Promise<SecretKeys> {
  const root = env.WEBHOOK_KEY || env.OPERATOR_TOKEN;
  if (!root) throw new Error("no key for webhook secrets: set OPERATOR_TOKEN (or WEBHOOK_KEY)");
  return {
    current: await keyFor(root),
    previous: env.WEBHOOK_KEY_PREVIOUS ? await keyFor(env.WEBHOOK_KEY_PREVIOUS) : null,
  };
}

const fromBase64url = (text: string): Uint8Array => {
  const b64 = text.replace(/-/g, "+").replace(/_/g, "/");
  return Uint8Array.from(atob(b64 + "=".repeat((4 - (b64.length % 4)) % 4)), (c) => c.charCodeAt(0));
};

/** Seals `secret` for `accountId` under the current key. A fresh random IV every time. */
export async function seal(keys: SecretKeys, accountId: string, secret: string): Promise<string> {
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const ct = await crypto.subtle.encrypt({ name: "AES-GCM", iv, additionalData: encoder.encode(accountId) }, keys.current.key, encoder.encode(secret));
  return `v1.${keys.current.id}.${base64url(iv)}.${base64url(new Uint8Array(ct))}`;
}

/** The key id a sealed secret names, or null when it is not one. */
export const sealedKeyId = (sealed: string): string | null => /^v1\.([A-Za-z0-9_-]+)\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/.exec(sealed)?.[1] ?? null;

/** Opens a sealed secret; null when no key of the deployment opens it (wrong key, other account, tampered). */
export async function open(keys: SecretKeys, accountId: string, sealed: string): Promise<string | null> {
  const id = sealedKeyId(sealed);
  const key = id === keys.current.id ? keys.current : id === keys.previous?.id ? keys.previous : null;
  if (!key) return null;
  const [, , iv, ct] = sealed.split(".");
  try {
    const plain = await crypto.subtle.decrypt({ name: "AES-GCM", iv: fromBase64url(iv), additionalData: encoder.encode(accountId) }, key.key, fromBase64url(ct));
    return decoder.decode(plain);
  } catch {
    return null;
  }
}
