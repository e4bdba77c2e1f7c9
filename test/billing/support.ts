import { createExecutionContext, createMessageBatch, createScheduledController, getQueueResult, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import worker from "../../src/index";
import { cycleContaining, nextCycle, type Cycle } from "../../src/domain/cycles";
import type { Env } from "../../src/env";
import type { BillingMessage, EventMessage } from "../../src/records";
import { call, type Fixture } from "../helpers";

/** Billing test helpers: drive the scheduled and queue handlers directly, with queues that record. */

/** A queue that records what is sent instead of delivering it, so a test decides when consumers run. */
export class RecordingQueue<T> {
  readonly sent: T[] = [];
  /** Sends to refuse (throw) before accepting again: a crash between two steps. */
  failures = 0;

  async send(body: T): Promise<void> {
    this.refuseMaybe();
    this.sent.push(body);
  }

  async sendBatch(messages: Iterable<{ body: T }>): Promise<void> {
    this.refuseMaybe();
    for (const m of messages) this.sent.push(m.body);
  }

  private refuseMaybe(): void {
    if (this.failures > 0) {
      this.failures--;
      throw new Error("queue unavailable (test)");
    }
  }
}

export interface Harness {
  env: Env;
  billing: RecordingQueue<BillingMessage>;
  events: RecordingQueue<EventMessage>;
}

/** The real D1 and Durable Objects, with recording queues. */
export function harness(): Harness {
  const billing = new RecordingQueue<BillingMessage>();
  const events = new RecordingQueue<EventMessage>();
  return {
    env: { ...(env as unknown as Env), BILLING_QUEUE: billing as unknown as Queue<BillingMessage>, EVENTS_QUEUE: events as unknown as Queue<EventMessage> },
    billing,
    events,
  };
}

/** Runs the cron handler as the platform would at `scheduledTime`. */
export async function runScheduled(h: Harness, scheduledTime: number): Promise<void> {
  const ctx = createExecutionContext();
  worker.scheduled(createScheduledController({ scheduledTime, cron: "7 * * * *" }), h.env, ctx);
  await waitOnExecutionContext(ctx);
}

let messageCounter = 0;

/** Delivers `bodies` to the queue handler as one batch; returns which messages were acked and retried. */
export async function runQueue<T>(h: Harness, queue: "seatkeeper-billing" | "seatkeeper-events", bodies: T[], attempts = 1) {
  const messages = bodies.map((body) => ({ id: `msg-${messageCounter++}`, timestamp: new Date(), attempts, body }));
  const batch = createMessageBatch(queue, messages);
  const ctx = createExecutionContext();
  await worker.queue(batch as MessageBatch<unknown>, h.env);
  const result = await getQueueResult(batch, ctx);
  const ids = messages.map((m) => m.id);
  return {
    acked: ids.filter((id) => result.explicitAcks.includes(id)),
    retried: result.retryMessages.filter((r: { msgId: string }) => ids.includes(r.msgId)),
  };
}

/** The messages recorded for one account. */
export const forAccount = <T extends { account_id: string }>(sent: T[], f: Fixture) => sent.filter((m) => m.account_id === f.accountId);

/** The account's cycles from the one it was created in: [first, second, …]. */
export async function cyclesOf(f: Fixture, count: number): Promise<Cycle[]> {
  const account = await call("GET", `/v1/accounts/${f.accountId}`, f.key);
  let cycle = cycleContaining(Date.parse(account.body.created_at), account.body.billing_day);
  const out = [cycle];
  while (out.length < count) out.push((cycle = nextCycle(cycle, account.body.billing_day)));
  return out;
}

export const iso = (ms: number) => new Date(ms).toISOString();

/** The stored summaries of an account straight from D1, oldest first. */
export async function storedSummaries(f: Fixture): Promise<any[]> {
  const { results } = await env.DB.prepare("SELECT body FROM billing_summaries WHERE account_id = ? ORDER BY cycle_start").bind(f.accountId).all<{ body: string }>();
  return results.map((r) => JSON.parse(r.body));
}

/** The account's webhook event rows straight from D1. */
export async function storedEvents(f: Fixture, type?: string): Promise<any[]> {
  const { results } = await env.DB.prepare("SELECT * FROM webhook_events WHERE account_id = ?1 AND (?2 IS NULL OR type = ?2) ORDER BY created_at, id")
    .bind(f.accountId, type ?? null)
    .all();
  return results;
}
