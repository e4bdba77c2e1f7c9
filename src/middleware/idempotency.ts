import type { Context, MiddlewareHandler } from "hono";
import type { AppEnv, Caller } from "../auth/caller";
import { sha256Hex, toHex } from "../auth/crypto";
import { open, seal, secretKeys } from "../billing/secret-box";
import { database } from "../db/client";
import { claimIdempotencyKey, deleteExpiredIdempotencyKeys, findIdempotencyKey, releaseIdempotencyKey, storeIdempotentAnswer } from "../db/idempotency";
import { ApiError, invalid } from "../errors";
import { iso } from "../time";

/**
 * `Idempotency-Key` on admin writes (docs/api.md#idempotency, decision 110): the same key with the
 * same request within 24 h gets the first answer again, without a second write.
 */
export const IDEMPOTENCY_HEADER = "Idempotency-Key";
export const REPLAYED_HEADER = "Idempotent-Replayed";
/** How long a key and its answer are kept. */
export const IDEMPOTENCY_TTL_MS = 24 * 60 * 60 * 1000;
/** A first request still running after this long is taken as lost (its Worker died): a retry may run. */
export const IDEMPOTENCY_ABANDONED_MS = 5 * 60 * 1000;
/** 1-255 printable ASCII characters (a UUID fits; so does anything a client library generates). */
export const IDEMPOTENCY_KEY_PATTERN = /^[\x20-\x7e]{1,255}$/;

const WRITES = new Set(["POST", "PUT", "PATCH", "DELETE"]);
const encoder = new TextEncoder();

/** The clock of the middleware; tests move it to see a key expire. */
export const idempotencyClock = { now: () => Date.now() };

/** Whose namespace a key is in: each account's keys (all its API keys share it), and the operator's own. */
function scopeOf(caller: Caller): string | null {
  if (caller.kind === "admin") return `account:${caller.accountId}`;
  if (caller.kind === "operator") return "operator";
  return null; // agent routes take no Idempotency-Key: checkout is idempotent by session id
}

const ACCOUNT_IN_PATH = /^\/v1\/accounts\/([^/]+)/;

async function requestHash(c: Context<AppEnv>): Promise<string> {
  const url = new URL(c.req.url);
  const head = encoder.encode(`${c.req.method}\n${url.pathname}${url.search}\n`);
  // Read through Hono's body cache, so the route's validator reads the same bytes afterwards.
  const body = new Uint8Array(await c.req.arrayBuffer());
  const all = new Uint8Array(head.length + body.length);
  all.set(head);
  all.set(body, head.length);
  return toHex(await crypto.subtle.digest("SHA-256", all));
}

/** The answers kept for a replay: anything but a 5xx (which includes outcome_unknown), so a retry after one runs again. */
const kept = (status: number) => status < 500;

/**
 * Runs after authentication, the rate limit and the scope check, so a refused credential or scope
 * never spends a key. Without the header, or on a read or an agent route, it does nothing.
 */
export const idempotency: MiddlewareHandler<AppEnv> = async (c, next) => {
  const key = c.req.header(IDEMPOTENCY_HEADER);
  const caller = c.get("caller") as Caller | undefined;
  if (key === undefined || !caller || !WRITES.has(c.req.method)) return next();
  const scope = scopeOf(caller);
  if (scope === null) return next();
  if (!IDEMPOTENCY_KEY_PATTERN.test(key)) {
    throw invalid("The Idempotency-Key header must be 1 to 255 printable ASCII characters.", [
      { path: IDEMPOTENCY_HEADER, message: "1 to 255 printable ASCII characters" },
    ]);
  }
  const db = database(c.env.DB);
  const keyHash = await sha256Hex(key);
  const hash = await requestHash(c);
  const now = idempotencyClock.now();
  const createdAt = iso(now);
  const accountId = caller.kind === "admin" ? caller.accountId : (ACCOUNT_IN_PATH.exec(new URL(c.req.url).pathname)?.[1] ?? null);
  const claimed = await claimIdempotencyKey(
    db,
    { scope, keyHash, accountId, requestHash: hash, createdAt, expiresAt: iso(now + IDEMPOTENCY_TTL_MS) },
    createdAt,
    iso(now - IDEMPOTENCY_ABANDONED_MS),
  );
  if (!claimed) return replay(c, scope, keyHash, hash);

  await next();
  const res = c.res;
  try {
    if (!kept(res.status)) {
      await releaseIdempotencyKey(db, scope, keyHash, createdAt);
      return;
    }
    const body = await res.clone().text();
    const sealed = await seal(await secretKeys(c.env), aad(scope, keyHash), body);
    await storeIdempotentAnswer(db, scope, keyHash, createdAt, { status: res.status, contentType: res.headers.get("content-type"), body: sealed });
  } catch (err) {
    // The write is done and answered; only its replay is lost. The running row blocks retries
    // (409) until it counts as abandoned, then a retry runs again.
    console.error("idempotency: the answer was not stored", err instanceof Error ? err.message : String(err));
  }
};

/** Sealed under the account's scope and key: a stored answer copied to another key does not open. */
const aad = (scope: string, keyHash: string) => `idempotency\n${scope}\n${keyHash}`;

async function replay(c: Context<AppEnv>, scope: string, keyHash: string, hash: string): Promise<Response> {
  const row = await findIdempotencyKey(database(c.env.DB), scope, keyHash);
  // Gone between the claim and this read (released after a 5xx, or cleaned up): the first request did not keep an answer.
  if (!row) throw inUse();
  if (row.requestHash !== hash) {
    throw new ApiError("idempotency_key_reused", "This Idempotency-Key was used for another request (method, path or body) in the last 24 hours; nothing was changed. Use a new key.");
  }
  if (row.status === null || row.body === null) throw inUse();
  const body = await open(await secretKeys(c.env), aad(scope, keyHash), row.body);
  if (body === null) {
    throw new ApiError("conflict", "The first answer to this Idempotency-Key can no longer be read (the encryption key was rotated); read the state back and use a new key.");
  }
  const headers: Record<string, string> = { [REPLAYED_HEADER]: "true" };
  if (row.contentType) headers["content-type"] = row.contentType;
  return c.newResponse(row.status === 204 ? null : body, row.status as 200, headers);
}

const inUse = () =>
  new ApiError("idempotency_key_in_use", "A request with this Idempotency-Key is still running; nothing was changed. Retry when it has answered.");

/** Rows deleted per statement by the hourly job, and statements per run (a backlog drains run by run). */
const CLEANUP_BATCH = 1000;
const CLEANUP_BATCHES_PER_RUN = 20;

/** The hourly job: deletes keys (and their answers) older than 24 h. Returns how many. */
export async function cleanExpiredIdempotencyKeys(d1: D1Database, now: number): Promise<number> {
  let total = 0;
  for (let i = 0; i < CLEANUP_BATCHES_PER_RUN; i++) {
    const n = await deleteExpiredIdempotencyKeys(d1, iso(now), CLEANUP_BATCH);
    total += n;
    if (n < CLEANUP_BATCH) break;
  }
  if (total > 0) console.log(JSON.stringify({ msg: "idempotency keys expired", deleted: total }));
  return total;
}
