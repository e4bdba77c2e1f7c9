import { app } from "./app";
import { handleBillingBatch, handleEventsBatch } from "./billing/consumers";
import { findDueCycles } from "./billing/scheduler";
import { resealWebhookSecrets } from "./billing/webhook-secrets";
import type { Env } from "./env";
import { cleanExpiredIdempotencyKeys } from "./middleware/idempotency";

export { AccountSeats } from "./seats/account-seats";

/** Queue names as in wrangler.toml; an environment may add a suffix (`seatkeeper-billing-staging`). */
const BILLING_QUEUE = "seatkeeper-billing";
const EVENTS_QUEUE = "seatkeeper-events";

export default {
  fetch: app.fetch,

  /** Cron: find the billing cycles that have ended and queue them (the consumer finalizes). */
  scheduled(controller, env, ctx) {
    ctx.waitUntil(findDueCycles(env, controller.scheduledTime));
    // Seals plain webhook secrets left from before migration 0003; reseals after a key rotation.
    ctx.waitUntil(resealWebhookSecrets(env));
    // Idempotency keys and their answers live 24 h.
    ctx.waitUntil(cleanExpiredIdempotencyKeys(env.DB, controller.scheduledTime));
  },

  async queue(batch, env) {
    if (batch.queue.startsWith(BILLING_QUEUE)) return handleBillingBatch(batch, env);
    if (batch.queue.startsWith(EVENTS_QUEUE)) return handleEventsBatch(batch, env);
    console.error(`queue ${batch.queue} has no consumer here; retrying its messages`);
    batch.retryAll();
  },
} satisfies ExportedHandler<Env>;
