import { judgeWebhookUrl, type WebhookUrlVerdict } from "../domain/webhook-url";
import type { Env } from "../env";

/** True only when the deployment says so, exactly: `npm start`, the demo, the tests and the benchmark set it. */
export const loopbackAllowed = (env: Pick<Env, "WEBHOOK_ALLOW_LOOPBACK">): boolean => env.WEBHOOK_ALLOW_LOOPBACK === "true";

/** The webhook URL rule under this deployment's settings (src/domain/webhook-url.ts). */
export const judgeTarget = (env: Pick<Env, "WEBHOOK_ALLOW_LOOPBACK">, raw: string): WebhookUrlVerdict =>
  judgeWebhookUrl(raw, loopbackAllowed(env));
