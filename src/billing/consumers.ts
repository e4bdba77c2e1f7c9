import { findAccount } from "../db/accounts";
import { writeBatch } from "../db/batch";
import {
  deliveryStatus,
  findDelivery,
  insertEvent,
  insertSummary,
  lastSummaryEnd,
  markDelivered,
  markNoEndpoint,
  recordFailure,
  summaryExists,
  type WebhookFormat,
} from "../db/billing";
import { database, type Db } from "../db/client";
import { iso } from "../time";
import { cycleAfter } from "../domain/cycles";
import type { Env } from "../env";
import type { BillingMessage, EventMessage } from "../records";
import type { CycleSummary } from "../records";
import type { EventRecord } from "../records";
import { findPrices } from "../db/prices";
import { summaryAmounts } from "../domain/pricing";
import { seatsOf } from "../seats/stub";
import { SIGNATURE_HEADER, signPayload } from "./signature";
import { standardHeaders, standardMessageId } from "./standard-signature";
import { signingSecrets } from "./webhook-secrets";
import { judgeTarget } from "./webhook-target";

/** Deliveries of one event before it is declared dead; below the events queue's max_retries + 1 (wrangler.toml). */
export const MAX_DELIVERY_ATTEMPTS = 8;
/** How long one webhook POST may take. */
export const DELIVERY_TIMEOUT_MS = 10_000;
/** Cloudflare Queues' longest retry delay. */
const MAX_DELAY_SECONDS = 43_200;
/** When a cycle cannot be finalized yet (its predecessor is pending, or the account's clock has not reached its end). */
const WAIT_SECONDS = 120;

/**
 * Retry delay after the n-th failed delivery: 30 s, 90 s, 270 s … (×3), at most 12 h. The eight
 * attempts span about nine hours, so a receiver that is down for a deploy or a night still gets it.
 */
export function retryDelaySeconds(failedAttempts: number): number {
  return Math.min(MAX_DELAY_SECONDS, 30 * 3 ** Math.max(0, failedAttempts - 1));
}

/** The stable id of a cycle's `billing.summary` event: a redelivered or re-sent summary is the same event. */
export const summaryEventId = (cycleStart: string) => `evt_summary_${cycleStart}`;

// ------------------------------------------------------------------ the "billing" queue

const isBillingMessage = (body: unknown): body is BillingMessage =>
  typeof body === "object" &&
  body !== null &&
  typeof (body as BillingMessage).account_id === "string" &&
  !Number.isNaN(Date.parse((body as BillingMessage).cycle_start)) &&
  !Number.isNaN(Date.parse((body as BillingMessage).cycle_end));

/** Sort key: oldest cycle first (malformed bodies sort first and are dropped). */
const cycleKey = (message: Message<unknown>): string =>
  isBillingMessage(message.body) ? `${message.body.account_id}\u0000${message.body.cycle_start}` : "";

/**
 * Finalizes the queued cycles, one at a time and oldest first, so that a cycle and the one after
 * it in the same batch both succeed in order (a cycle waits for its predecessor, see `finalizeCycle`).
 */
export async function handleBillingBatch(batch: MessageBatch<unknown>, env: Env): Promise<void> {
  const messages = [...batch.messages].sort((a, b) => (cycleKey(a) < cycleKey(b) ? -1 : cycleKey(a) > cycleKey(b) ? 1 : 0));
  for (const message of messages) await finalizeMessage(env, message);
}

async function finalizeMessage(env: Env, message: Message<unknown>): Promise<void> {
  if (!isBillingMessage(message.body)) {
    console.error("billing queue: malformed message dropped", message.body);
    return message.ack();
  }
  try {
    const outcome = await finalizeCycle(env, message.body);
    if (outcome === "wait") return message.retry({ delaySeconds: WAIT_SECONDS });
    if (outcome === "stale") console.warn("billing queue: stale cycle dropped", message.body);
    message.ack();
  } catch (err) {
    console.error(`billing queue: finalizing ${message.body.account_id} ${message.body.cycle_start} failed; retrying`, err);
    message.retry({ delaySeconds: retryDelaySeconds(message.attempts) });
  }
}

type Outcome = "done" | "wait" | "stale";

/**
 * Stores the cycle's summary and its `billing.summary` event in one atomic batch (insert-or-ignore
 * on both), then queues the event. Every step is safe to repeat, so a crash anywhere is healed by
 * the redelivery: a summary stored but whose event was never queued is found and its event queued
 * again (same id; the events consumer skips an event already delivered). Nothing is duplicated,
 * nothing is lost.
 *
 * Only the next cycle of the account's chain is finalized: a later one waits (so a lost message
 * cannot leave a gap that the scheduler, which resumes after the last summary, would never refill),
 * and one that no longer fits the chain (billing_day changed since it was queued) is dropped (so
 * no time is billed twice).
 */
export async function finalizeCycle(env: Env, cycle: BillingMessage): Promise<Outcome> {
  const db = database(env.DB);
  if (!(await summaryExists(db, cycle.account_id, cycle.cycle_start))) {
    const fits = await fitsChain(db, cycle);
    if (fits !== "done") return fits;
    const [figures, prices] = await Promise.all([
      seatsOf(env, cycle.account_id).cycleSummary({ from: Date.parse(cycle.cycle_start), to: Date.parse(cycle.cycle_end) }),
      findPrices(db, cycle.account_id),
    ]);
    // The account's clock has not reached the end yet (clock skew): its figures would be partial.
    if (!figures.final) return "wait";
    // The prices in force when the cycle is finalized stay on its summary, whatever the list says later.
    const summary: CycleSummary = { ...figures, amounts: prices ? summaryAmounts(figures, prices) : null };
    await writeBatch(env.DB, [insertSummary(db, summary), insertEvent(db, summaryEvent(summary))]);
  }
  await env.EVENTS_QUEUE.send({ account_id: cycle.account_id, event_id: summaryEventId(cycle.cycle_start) });
  return "done";
}

/** "done" when `cycle` is the account's next cycle to finalize; "wait" when an earlier one is; "stale" otherwise. */
async function fitsChain(db: Db, cycle: BillingMessage): Promise<Outcome> {
  const [account, lastEnd] = await Promise.all([findAccount(db, cycle.account_id), lastSummaryEnd(db, cycle.account_id)]);
  if (!account) return "stale";
  const next = cycleAfter(lastEnd === null ? null : Date.parse(lastEnd), Date.parse(account.createdAt), account.billingDay);
  const start = Date.parse(cycle.cycle_start);
  if (start > next.start) return "wait";
  return start === next.start && Date.parse(cycle.cycle_end) === next.end ? "done" : "stale";
}

export function summaryEvent(summary: CycleSummary): EventRecord {
  return {
    id: summaryEventId(summary.cycle_start),
    type: "billing.summary",
    account_id: summary.account_id,
    created_at: summary.generated_at,
    data: summary,
  };
}

// ------------------------------------------------------------------ the "events" queue

const isEventMessage = (body: unknown): body is EventMessage =>
  typeof body === "object" && body !== null && typeof (body as EventMessage).account_id === "string" && typeof (body as EventMessage).event_id === "string";

/** Delivers each event to its account's webhook, in parallel (one slow receiver must not hold up the others). */
export async function handleEventsBatch(batch: MessageBatch<unknown>, env: Env): Promise<void> {
  await Promise.all(batch.messages.map((message) => deliverMessage(env, message)));
}

async function deliverMessage(env: Env, message: Message<unknown>): Promise<void> {
  if (!isEventMessage(message.body)) {
    console.error("events queue: malformed message dropped", message.body);
    return message.ack();
  }
  try {
    const retryIn = await deliverEvent(env, message.body);
    if (retryIn === null) message.ack();
    else message.retry({ delaySeconds: retryIn });
  } catch (err) {
    // D1 itself failed: nothing was counted, try again soon.
    console.error(`events queue: delivering ${message.body.event_id} failed; retrying`, err);
    message.retry({ delaySeconds: retryDelaySeconds(message.attempts) });
  }
}

/**
 * One delivery attempt of a stored event. Returns null when the event is settled (delivered, dead,
 * no_endpoint or unknown) and the retry delay in seconds otherwise. The attempt count lives in D1,
 * so it survives redeliveries and is what the admin sees.
 */
export async function deliverEvent(env: Env, { account_id, event_id }: EventMessage): Promise<number | null> {
  const db = database(env.DB);
  const event = await findDelivery(db, account_id, event_id);
  if (!event || deliveryStatus(event) !== "pending") return null;
  const now = Date.now();
  // No webhook: settled, not retried for ever; the admin sends it with a redeliver once one is set.
  if (!event.url || (event.secret === null && event.plainSecret === null)) {
    await markNoEndpoint(db, account_id, event_id, iso(now), null);
    return null;
  }
  // The rule of today, not the one the URL was stored under: a URL it now refuses is never fetched.
  const target = judgeTarget(env, event.url);
  if (!target.ok) {
    console.warn(`events queue: ${event_id} of ${account_id} not sent: the stored webhook url ${target.reason}`);
    await markNoEndpoint(db, account_id, event_id, iso(now), "url_refused");
    return null;
  }
  const secrets = await signingSecrets(env, db, account_id, event, now);
  if (secrets === null) {
    console.error(`events queue: ${event_id} of ${account_id} not sent: no key of this deployment opens the webhook secret (WEBHOOK_KEY_PREVIOUS missing?)`);
    await markNoEndpoint(db, account_id, event_id, iso(now), "secret_unreadable");
    return null;
  }
  const error = await post(target.url, event.format, secrets, event.body, account_id, event_id);
  const at = iso(Date.now());
  if (error === null) {
    await markDelivered(db, account_id, event_id, at);
    return null;
  }
  const { attempts, dead } = await recordFailure(db, account_id, event_id, error, at, MAX_DELIVERY_ATTEMPTS);
  if (dead) console.warn(`events queue: ${event_id} of ${account_id} is dead after ${attempts} attempts: ${error}`);
  return dead ? null : retryDelaySeconds(attempts);
}

/**
 * What a failed attempt records in `last_error`: a coarse class only. A closed port, a refused
 * connection and a name that does not resolve all read `connection_failed`, so deliveries cannot
 * be used to map a network; the details go to the Worker's log, never to the API.
 */
export type DeliveryError = "timeout" | "connection_failed" | "tls_error" | "redirect_refused" | `http_${number}`;

/** The class of a non-2xx answer. */
export const statusClass = (status: number): DeliveryError => (status >= 300 && status < 400 ? "redirect_refused" : `http_${status}`);

/** The class of a thrown fetch error. */
export function errorClass(err: unknown): DeliveryError {
  const name = err instanceof Error || err instanceof DOMException ? err.name : "";
  const message = err instanceof Error || err instanceof DOMException ? err.message : String(err);
  if (name === "TimeoutError" || name === "AbortError") return "timeout";
  if (/\b(tls|ssl|certificate|handshake)\b/i.test(message)) return "tls_error";
  return "connection_failed";
}

/** The signature headers of a delivery in the webhook's format, signed now with each secret. */
async function signatureHeaders(format: WebhookFormat, secrets: string[], body: string, accountId: string, eventId: string): Promise<Record<string, string>> {
  const now = Date.now() / 1000;
  // Standard Webhooks wants webhook-id unique across all messages; event ids are unique per account.
  if (format === "standard") return standardHeaders(secrets, standardMessageId(accountId, eventId), body, now);
  return { [SIGNATURE_HEADER]: await signPayload(secrets, body, now), "Seat-Event-Id": eventId };
}

/** POSTs the stored body, signed now. Null on a 2xx; otherwise the failure's class. Redirects are not followed. */
async function post(url: string, format: WebhookFormat, secrets: string[], body: string, accountId: string, eventId: string): Promise<DeliveryError | null> {
  try {
    const res = await fetch(url, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        "user-agent": "Seatkeeper-Webhooks/1",
        ...(await signatureHeaders(format, secrets, body, accountId, eventId)),
      },
      body,
      redirect: "manual",
      signal: AbortSignal.timeout(DELIVERY_TIMEOUT_MS),
    });
    await res.body?.cancel();
    return res.status >= 200 && res.status < 300 ? null : statusClass(res.status);
  } catch (err) {
    console.warn(`events queue: POST of ${eventId} failed`, err instanceof Error ? `${err.name}: ${err.message}` : String(err));
    return errorClass(err);
  }
}
