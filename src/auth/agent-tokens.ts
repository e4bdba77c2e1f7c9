import { sign, verify } from "hono/jwt";

/**
 * Agent tokens: HS256 JWTs minted for one user of one account (`sub`, `acct`, `exp`) and one
 * generation of that user's tokens (`gen`): the account's Durable Object refuses a token whose
 * generation is not the user's current one, so revoking or deleting the user ends every token
 * minted before (docs/decisions/021-agent-tokens-carry-a-generation.md).
 * The algorithm is pinned on verify, so `alg: none` or an RS/HS confusion is refused.
 * The key is AGENT_SIGNING_KEY when set, else derived (HKDF-SHA256) from OPERATOR_TOKEN, so the
 * deployment needs one secret only.
 */

export interface AgentClaims {
  sub: string;
  acct: string;
  exp: number;
  iat: number;
  /** The user's token generation when minted; tokens from before generations count as 0. */
  gen: number;
}

const keyCache = new Map<string, Promise<CryptoKey>>();

function signingKey(operatorToken: string, explicitKey?: string): Promise<CryptoKey> {
  const cacheKey = `${explicitKey ? "k" : "o"}:${explicitKey ?? operatorToken}`;
  let key = keyCache.get(cacheKey);
  if (!key) {
    key = deriveKey(operatorToken, explicitKey);
    keyCache.set(cacheKey, key);
  }
  return key;
}

async function deriveKey(operatorToken: string, explicitKey?: string): Promise<CryptoKey> {
  const encoder = new TextEncoder();
  let raw: ArrayBuffer | Uint8Array;
  if (explicitKey) {
    raw = encoder.encode(explicitKey);
  } else {
    const base = await crypto.subtle.importKey("raw", encoder.encode(operatorToken), "HKDF", false, ["deriveBits"]);
    raw = await crypto.subtle.deriveBits(
      { name: "HKDF", hash: "SHA-256", salt: encoder.encode("seatkeeper"), info: encoder.encode("agent-token-v1") },
      base,
      256,
    );
  }
  return crypto.subtle.importKey("raw", raw, { name: "HMAC", hash: "SHA-256" }, false, ["sign", "verify"]);
}

export async function mintAgentToken(
  secrets: { OPERATOR_TOKEN: string; AGENT_SIGNING_KEY?: string },
  accountId: string,
  userId: string,
  generation: number,
  nowSeconds: number,
  ttlSeconds: number,
): Promise<{ token: string; exp: number }> {
  const exp = nowSeconds + ttlSeconds;
  const claims: AgentClaims = { sub: userId, acct: accountId, iat: nowSeconds, exp, gen: generation };
  const key = await signingKey(secrets.OPERATOR_TOKEN, secrets.AGENT_SIGNING_KEY);
  return { token: await sign({ ...claims }, key, "HS256"), exp };
}

/** The token's claims, or null for anything not a valid, unexpired token of ours. */
export async function verifyAgentToken(
  secrets: { OPERATOR_TOKEN: string; AGENT_SIGNING_KEY?: string },
  token: string,
): Promise<AgentClaims | null> {
  try {
    const key = await signingKey(secrets.OPERATOR_TOKEN, secrets.AGENT_SIGNING_KEY);
    const payload = await verify(token, key, { alg: "HS256", iat: false });
    if (typeof payload.sub !== "string" || typeof payload.acct !== "string" || typeof payload.exp !== "number") {
      return null;
    }
    const gen = payload.gen ?? 0;
    if (typeof gen !== "number" || !Number.isSafeInteger(gen) || gen < 0) return null;
    return { sub: payload.sub, acct: payload.acct, exp: payload.exp, iat: Number(payload.iat ?? 0), gen };
  } catch {
    return null;
  }
}
