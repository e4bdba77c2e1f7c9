import { randomToken, sha256Hex } from "./crypto";

/** A new account API key: `sk_` + 32 random bytes. Only its SHA-256 is stored. */
export async function newApiKey(): Promise<{ id: string; key: string; hash: string; prefix: string }> {
  const key = `sk_${randomToken(32)}`;
  return { id: `key_${randomToken(12)}`, key, hash: await sha256Hex(key), prefix: key.slice(0, KEY_PREFIX_LENGTH) };
}

/** `sk_` and 8 characters of the key: enough to tell keys apart, far too little to guess the rest (43 random characters). */
export const KEY_PREFIX_LENGTH = 11;

/** A key's last_used_at is written at most this often: one D1 write a minute per key, not one per request. */
export const LAST_USED_RESOLUTION_MS = 60_000;

export const API_KEY_PATTERN = /^sk_[A-Za-z0-9_-]{43}$/;

export const hashApiKey = sha256Hex;
