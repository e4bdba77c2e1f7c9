import type { AccountSeats } from "./seats/account-seats";
import type { BillingMessage, EventMessage } from "./records";

/** Bindings and variables of the Worker (wrangler.toml, `.dev.vars`, secrets). */
export interface Env {
  DB: D1Database;
  SEATS: DurableObjectNamespace<AccountSeats>;
  BILLING_QUEUE: Queue<BillingMessage>;
  EVENTS_QUEUE: Queue<EventMessage>;
  /** Per agent (account + user) on /v1/seats/*: wrangler.toml [[ratelimits]]. */
  AGENT_RATE_LIMITER: RateLimit;
  /** Per API key on admin writes: wrangler.toml [[ratelimits]]. */
  ADMIN_WRITE_RATE_LIMITER: RateLimit;
  /** The deployment's one secret: the operator's bearer token, and the root other keys derive from. */
  OPERATOR_TOKEN: string;
  /** Optional: signs agent tokens instead of a key derived from OPERATOR_TOKEN. */
  AGENT_SIGNING_KEY?: string;
  /** "true" lets webhooks use plain http to localhost, 127.0.0.1 and [::1]; unset in a deployment. */
  WEBHOOK_ALLOW_LOOPBACK?: string;
  /** Optional: the root of the key that seals webhook secrets at rest; OPERATOR_TOKEN when unset. */
  WEBHOOK_KEY?: string;
  /** Optional, during a key rotation: the previous root, which still opens what it sealed. */
  WEBHOOK_KEY_PREVIOUS?: string;
}
