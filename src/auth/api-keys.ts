import { randomToken, sha256Hex } from "./crypto";

/** A new account API key: `sk_` + 32 random bytes. Only its SHA-256 is stored. */
export async function newApiKey(): Promise<{ id: string; key: string; hash: string }> {
  const key = `sk_${randomToken(32)}`;
  return { id: `key_${randomToken(12)}`, key, hash: await sha256Hex(key) };
}

export const API_KEY_PATTERN = /^sk_[A-Za-z0-9_-]{43}$/;

export const hashApiKey = sha256Hex;
