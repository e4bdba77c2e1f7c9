import { sealPlainSecret, secretsToReseal, resealSecrets, type StoredWebhook } from "../db/billing";
import { database, type Db } from "../db/client";
import type { Env } from "../env";
import { open, seal, secretKeys, type SecretKeys } from "./secret-box";

/** How long a replaced webhook secret still signs deliveries, next to the new one. */
export const PREVIOUS_SECRET_HOURS = 24;
/** Accounts resealed per run of the hourly job (a key rotation of a large deployment takes a few runs). */
const RESEAL_PER_RUN = 1000;

/** The account's current secret in plain, or null when it has none or no key of the deployment opens it. */
export async function currentSecret(keys: SecretKeys, accountId: string, hook: StoredWebhook): Promise<string | null> {
  if (hook.plainSecret !== null) return hook.plainSecret;
  return hook.secret === null ? null : open(keys, accountId, hook.secret);
}

/**
 * The secrets a delivery is signed with, now: the current one, then the replaced one while it is
 * honoured. Null when the current one cannot be read. A plain secret left from before migration
 * 0003 is sealed on the way (its plain copy cleared).
 */
export async function signingSecrets(env: Env, db: Db, accountId: string, hook: StoredWebhook, now: number): Promise<string[] | null> {
  const keys = await secretKeys(env);
  const current = await currentSecret(keys, accountId, hook);
  if (current === null) return null;
  if (hook.plainSecret !== null) await sealPlainSecret(db, accountId, hook.plainSecret, await seal(keys, accountId, hook.plainSecret));
  const previous =
    hook.previousSecret !== null && hook.previousUntil !== null && Date.parse(hook.previousUntil) > now ? await open(keys, accountId, hook.previousSecret) : null;
  return previous === null || previous === current ? [current] : [current, previous];
}

/**
 * The hourly job's share: seals plain secrets left from before migration 0003 and reseals, under
 * the current key, secrets sealed under WEBHOOK_KEY_PREVIOUS. A secret no key opens is left as it
 * is (and logged): its deliveries settle as no_endpoint until the admin sets the webhook again.
 * Returns how many accounts were resealed and how many could not be.
 */
export async function resealWebhookSecrets(env: Env): Promise<{ resealed: number; unreadable: number }> {
  const db = database(env.DB);
  const keys = await secretKeys(env);
  let resealed = 0;
  let unreadable = 0;
  const rows = await secretsToReseal(db, keys.current.id, RESEAL_PER_RUN);
  for (const row of rows) {
    const reseal = async (sealed: string | null) => {
      if (sealed === null) return null;
      const plain = await open(keys, row.id, sealed);
      return plain === null ? undefined : seal(keys, row.id, plain);
    };
    const secret = row.plainSecret !== null ? await seal(keys, row.id, row.plainSecret) : await reseal(row.secret);
    // A replaced secret that no key opens is dropped: it only ever adds a second signature.
    const previousSecret = (await reseal(row.previousSecret)) ?? null;
    if (secret === undefined) {
      unreadable++;
      continue;
    }
    await resealSecrets(db, row.id, row, { secret, previousSecret });
    resealed++;
  }
  if (resealed || unreadable) console.log(`webhook secrets: ${resealed} resealed under the current key, ${unreadable} no key opens`);
  return { resealed, unreadable };
}
