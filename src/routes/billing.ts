import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { actorOf, requireAccountAdmin, type AppEnv } from "../auth/caller";
import { findAccount } from "../db/accounts";
import { findPrices } from "../db/prices";
import { summaryAmounts } from "../domain/pricing";
import { auditInsert } from "../db/audit";
import { writeBatch } from "../db/batch";
import { currentSecret, PREVIOUS_SECRET_HOURS } from "../billing/webhook-secrets";
import { seal, secretKeys } from "../billing/secret-box";
import { standardKey } from "../billing/standard-signature";
import {
  auditIfChanged,
  clearWebhook,
  DELIVERY_STATUSES,
  deliveryStatus,
  findDelivery,
  findWebhook,
  lastSummaryEnd,
  listDeliveries,
  listSummaries,
  reviveEvent,
  setWebhook,
} from "../db/billing";
import { database } from "../db/client";
import { iso } from "../time";
import { judgeTarget } from "../billing/webhook-target";
import { ADDON_KEYS } from "../domain/catalog";
import { currentCycle } from "../domain/cycles";
import type { Env } from "../env";
import { ApiError, invalid, notFound, validationHook } from "../errors";
import { seatsOf } from "../seats/stub";
import { CSV_PAGE, CsvFormat, csvContent, csvResponse, paged, wantsCsv, type Cell } from "./csv";
import { CursorKeys, decodeCursor, encodeCursor } from "./cursor";
import { AccountParams, body, commonErrors, json, noContent, Page, pageOf, PoolIdOut, ProductOut, problem, Timestamp } from "./schemas";

const PoolSummary = z
  .object({
    pool: PoolIdOut,
    tier: z.string(),
    model: z.string(),
    quantity: z.number().int().openapi({ description: "At the cycle's end (a preview: now)" }),
    assigned: z.number().int().nullable().openapi({ description: "Users assigned (named pools)" }),
    members: z.number().int().nullable().openapi({ description: "Members (concurrent pools)" }),
    peak_active: z.number().int(),
    peak_overage: z.number().int(),
    overage_seat_seconds: z.number(),
    billable_overage_seats: z.number().int().openapi({ description: "The number billed: the most positions past their grace at once" }),
    billable_seat_seconds: z.number(),
    intervals: z.number().int().openapi({ description: "Over-limit intervals overlapping the cycle" }),
    billable_intervals: z.number().int(),
    denials: z.number().int().optional().openapi({ description: "Refused checkouts under the pool in the cycle (docs/licensing.md#denials); absent in summaries stored before denials were counted" }),
    users_denied: z.number().int().optional().openapi({ description: "Distinct users refused under the pool in the cycle" }),
    peak_holders: z
      .object({
        reached_at: Timestamp.openapi({ description: "The first instant of the cycle at which the billable peak was reached" }),
        interval_id: z.string().openapi({ description: "The interval of that instant: every holder at GET …/overages/{interval_id}/holders" }),
        count: z.number().int().openapi({ description: "Users who held a seat at some instant the billable peak was reached" }),
        users: z.array(z.string()).openapi({ description: "Those users, sorted, at most 100" }),
        truncated: z.boolean(),
      })
      .nullable()
      .openapi({ description: "Who counted at the billable peak (docs/licensing.md#who-counted); null when nothing was billable (and for named pools)" }),
    teams: z
      .array(
        z.object({
          team: z.string().nullable().openapi({ description: "null: users without a team (and billable places no logged holder held)" }),
          peak_active: z.number().int().openapi({ description: "The most of the team's members holding a seat in the pool at once" }),
          seat_seconds: z.number(),
          billable_seat_seconds: z.number().openapi({ description: "The pool's billable seat time attributed to the team (last in, first over); the teams' add up to the pool's" }),
        }),
      )
      .optional()
      .openapi({
        description:
          "Chargeback by team (docs/licensing.md#chargeback-by-team): every team with seat time or billable time in the cycle, sorted by billable_seat_seconds descending, then team (null last); [] when nobody held a seat; absent in summaries stored before teams were counted",
      }),
  })
  .openapi("PoolSummary");

const AddonSummary = z
  .object({ product: ProductOut, purchased: z.number().int(), consumed: z.number().int() })
  .openapi("AddonSummary");

const SummaryAmounts = z
  .object({
    currency: z.string(),
    pools: z.array(z.object({ pool: z.string(), seats: z.number().int(), overage: z.number().int(), total: z.number().int() })),
    addons: z.array(z.object({ product: z.string(), amount: z.number().int() })),
    total: z.number().int(),
  })
  .openapi("SummaryAmounts", { description: "Integer minor units; a seat is priced for the whole cycle, overage per billable seat" });

const Summary = z
  .object({
    account_id: z.string(),
    cycle_start: Timestamp,
    cycle_end: Timestamp,
    pools: z.array(PoolSummary),
    addons: z.array(AddonSummary),
    unlicensed_denials: z.number().int().optional().openapi({ description: "Refused checkouts of users with no license (they count under no pool)" }),
    unlicensed_users_denied: z.number().int().optional(),
    generated_at: Timestamp,
    final: z.boolean().openapi({ description: "false for a preview: the cycle is still running and the figures cover it up to generated_at" }),
    amounts: SummaryAmounts.nullable().optional().openapi({ description: "Money from the account's price list (PUT …/prices); null without one" }),
  })
  .openapi("BillingSummary");

const WEBHOOK_FORMATS = ["seatkeeper", "standard"] as const;

const FormatSchema = z.enum(WEBHOOK_FORMATS).openapi({
  description:
    '"seatkeeper": `Seat-Signature` and `Seat-Event-Id` headers; "standard": Standard Webhooks (`webhook-id`, `webhook-timestamp`, `webhook-signature`), verifiable with its libraries',
});

const PutWebhook = z.object({
  url: z.string().max(2048).openapi({ example: "https://billing.acme.example/seatkeeper" }),
  secret: z.string().min(16).max(256).openapi({
    description: `Signs every delivery (HMAC-SHA256); stored encrypted, never shown again. For format "standard" it is \`whsec_\` + base64 of 24 to 64 random bytes. A new secret replaces the old one, which still signs alongside it for ${PREVIOUS_SECRET_HOURS} hours`,
  }),
  format: FormatSchema.optional().openapi({ description: "Omitted: the webhook's current format (\"seatkeeper\" for a new one)" }),
});

const Webhook = z
  .object({
    url: z.string(),
    format: FormatSchema,
    previous_secret_until: Timestamp.nullable().openapi({ description: "Until then deliveries carry a second signature, made with the secret this one replaced" }),
  })
  .openapi("Webhook");

const Delivery = z
  .object({
    id: z.string(),
    type: z.string(),
    created_at: Timestamp,
    status: z.enum(DELIVERY_STATUSES).openapi({
      description: "pending (in line), delivered, dead (every attempt failed) or no_endpoint (settled without a usable webhook; only a redeliver sends it)",
    }),
    attempts: z.number().int(),
    delivered_at: Timestamp.nullable(),
    dead_at: Timestamp.nullable().openapi({ description: "Set when the last retry failed: the dead-letter record" }),
    last_error: z
      .string()
      .nullable()
      .openapi({ description: "timeout, connection_failed, tls_error, redirect_refused, http_<status>, url_refused or secret_unreadable" }),
  })
  .openapi("WebhookDelivery");

const EventParams = AccountParams.extend({ event_id: z.string().min(1).max(256).openapi({ param: { name: "event_id", in: "path" } }) });

const preview = createRoute({
  method: "get",
  path: "/v1/accounts/{account_id}/billing/preview",
  operationId: "previewBilling",
  tags: ["billing"],
  summary: "The current cycle's summary so far (final: false)",
  request: { params: AccountParams },
  responses: { 200: json(Summary), ...commonErrors },
});

const summaries = createRoute({
  method: "get",
  path: "/v1/accounts/{account_id}/billing/summaries",
  operationId: "listBillingSummaries",
  tags: ["billing"],
  summary: "Finalized summaries, newest cycle first",
  description: "With `format=csv` (or `Accept: text/csv`): one row per cycle and pool, with the pool's amounts when the summary has them.",
  request: { params: AccountParams, query: Page.extend({ format: CsvFormat }) },
  responses: { 200: { description: "OK", content: { ...json(pageOf(Summary)).content, ...csvContent } }, ...commonErrors },
});

const putWebhook = createRoute({
  method: "put",
  path: "/v1/accounts/{account_id}/webhook",
  operationId: "putWebhook",
  tags: ["billing"],
  summary: "Set the webhook that receives signed events (https to a public host; see README Webhooks)",
  request: { params: AccountParams, body: body(PutWebhook) },
  responses: { 200: json(Webhook), ...commonErrors },
});

const getWebhook = createRoute({
  method: "get",
  path: "/v1/accounts/{account_id}/webhook",
  operationId: "getWebhook",
  tags: ["billing"],
  summary: "The webhook (never its secret); 404 when none is set",
  request: { params: AccountParams },
  responses: { 200: json(Webhook), ...commonErrors },
});

const deleteWebhook = createRoute({
  method: "delete",
  path: "/v1/accounts/{account_id}/webhook",
  operationId: "deleteWebhook",
  tags: ["billing"],
  summary: "Remove the webhook; events are still stored",
  request: { params: AccountParams },
  responses: { 204: noContent, ...commonErrors },
});

const deliveries = createRoute({
  method: "get",
  path: "/v1/accounts/{account_id}/webhook/deliveries",
  operationId: "listWebhookDeliveries",
  tags: ["billing"],
  summary: "Events and their delivery state, newest first (status=dead lists the dead letters)",
  request: {
    params: AccountParams,
    query: Page.extend({ status: z.enum(DELIVERY_STATUSES).optional().openapi({ param: { name: "status", in: "query" } }) }),
  },
  responses: { 200: json(pageOf(Delivery)), ...commonErrors },
});

const redeliver = createRoute({
  method: "post",
  path: "/v1/accounts/{account_id}/webhook/deliveries/{event_id}/redeliver",
  operationId: "redeliverWebhookEvent",
  tags: ["billing"],
  summary: "Queue a dead or no_endpoint event again, with a fresh set of attempts",
  request: { params: EventParams },
  responses: { 202: json(z.object({ id: z.string() }), "Queued"), ...commonErrors, 409: problem("not_dead: the event is pending or delivered") },
});

/** `until` while a replaced secret is still honoured at `now`, else null. */
const honouredUntil = (previousSecret: string | null, until: string | null, now: number): string | null =>
  previousSecret !== null && until !== null && Date.parse(until) > now ? until : null;

/** The normalized URL, or 400 naming the field (src/domain/webhook-url.ts has the rule). */
function checkWebhookUrl(env: Env, raw: string): string {
  const verdict = judgeTarget(env, raw);
  if (!verdict.ok) throw invalid(`The webhook url ${verdict.reason}.`, [{ path: "url", message: verdict.reason }]);
  return verdict.url;
}

const SUMMARY_CSV_COLUMNS = [
  "cycle_start", "cycle_end", "final", "pool", "tier", "model", "quantity", "assigned", "members", "peak_active", "peak_overage",
  "overage_seat_seconds", "billable_overage_seats", "billable_seat_seconds", "intervals", "billable_intervals", "denials", "users_denied",
  "peak_holders_reached_at", "peak_holders_interval_id", "peak_holders_count", "peak_holders_users",
  "currency", "amount_seats", "amount_overage", "amount_total",
];

/** A summary as CSV rows: one per pool line, with the cycle and the line's amounts beside it. */
function summaryCsvRows(summary: z.infer<typeof Summary>): Record<string, Cell>[] {
  // The teams are a list of their own (GET …/pools/{pool_id}/chargeback has them as CSV).
  return summary.pools.map(({ peak_holders, teams: _teams, ...line }) => {
    const amount = summary.amounts?.pools.find((p) => p.pool === line.pool);
    return {
      cycle_start: summary.cycle_start,
      cycle_end: summary.cycle_end,
      final: summary.final,
      ...line,
      peak_holders_reached_at: peak_holders?.reached_at ?? null,
      peak_holders_interval_id: peak_holders?.interval_id ?? null,
      peak_holders_count: peak_holders?.count ?? null,
      // Space-separated: user ids hold no spaces (the listed ones, at most 100).
      peak_holders_users: peak_holders?.users.join(" ") ?? null,
      currency: summary.amounts?.currency ?? null,
      amount_seats: amount?.seats ?? null,
      amount_overage: amount?.overage ?? null,
      amount_total: amount?.total ?? null,
    };
  });
}

export const billingRoutes = new OpenAPIHono<AppEnv>({ defaultHook: validationHook })
  .openapi(preview, async (c) => {
    const { account_id } = c.req.valid("param");
    await requireAccountAdmin(c, account_id);
    const db = database(c.env.DB);
    const seats = seatsOf(c.env, account_id);
    // The account's own clock picks the cycle, as it does for the final summary.
    const [account, lastEnd, now, prices] = await Promise.all([
      findAccount(db, account_id),
      lastSummaryEnd(db, account_id),
      seats.now(),
      findPrices(db, account_id),
    ]);
    if (!account) throw notFound(`Account ${account_id}`);
    const cycle = currentCycle(lastEnd === null ? null : Date.parse(lastEnd), Date.parse(account.createdAt), now, account.billingDay);
    const summary = await seats.cycleSummary({ from: cycle.start, to: cycle.end });
    return c.json({ ...summary, amounts: prices ? summaryAmounts(summary, prices) : null }, 200);
  })
  .openapi(summaries, async (c) => {
    const { account_id } = c.req.valid("param");
    await requireAccountAdmin(c, account_id, { deleted: "operator may read" });
    const { limit, cursor, format } = c.req.valid("query");
    const db = database(c.env.DB);
    if (wantsCsv(c, format)) {
      const pages = paged(async (after: readonly [string] | null) => {
        const page = await listSummaries(db, account_id, CSV_PAGE, after);
        return { items: page.items.flatMap(summaryCsvRows), next: page.next };
      });
      return csvResponse(`summaries-${account_id}.csv`, SUMMARY_CSV_COLUMNS, pages, (row) => SUMMARY_CSV_COLUMNS.map((k) => row[k])) as never;
    }
    const page = await listSummaries(db, account_id, limit, decodeCursor(cursor, CursorKeys.summary));
    return c.json({ items: page.items, next_cursor: encodeCursor(page.next) }, 200);
  })
  .openapi(getWebhook, async (c) => {
    const { account_id } = c.req.valid("param");
    await requireAccountAdmin(c, account_id);
    const hook = await findWebhook(database(c.env.DB), account_id);
    if (!hook?.url) throw notFound(`The webhook of account ${account_id}`);
    return c.json({ url: hook.url, format: hook.format, previous_secret_until: honouredUntil(hook.previousSecret, hook.previousUntil, Date.now()) }, 200);
  })
  .openapi(putWebhook, async (c) => {
    const { account_id } = c.req.valid("param");
    await requireAccountAdmin(c, account_id);
    const input = c.req.valid("json");
    const url = checkWebhookUrl(c.env, input.url);
    const db = database(c.env.DB);
    const existing = await findWebhook(db, account_id);
    if (!existing) throw notFound(`Account ${account_id}`);
    const format = input.format ?? existing.format;
    if (format === "standard" && !standardKey(input.secret)) {
      throw invalid('A "standard" webhook secret is whsec_ followed by the base64 of 24 to 64 random bytes.', [
        { path: "secret", message: "must be whsec_ + base64 of 24 to 64 bytes" },
      ]);
    }
    const keys = await secretKeys(c.env);
    const now = Date.now();
    // A new secret: the one it replaces keeps signing next to it for a while, so receivers can switch.
    const old = await currentSecret(keys, account_id, existing);
    const rotated = old !== null && old !== input.secret;
    const previousSecret = rotated ? await seal(keys, account_id, old) : existing.previousSecret;
    const previousUntil = honouredUntil(previousSecret, rotated ? iso(now + PREVIOUS_SECRET_HOURS * 3_600_000) : existing.previousUntil, now);
    await writeBatch(c.env.DB, [
      setWebhook(db, account_id, {
        url,
        format,
        secret: await seal(keys, account_id, input.secret),
        previousSecret: previousUntil === null ? null : previousSecret,
        previousUntil,
      }),
      // The secret stays out of the audit log, like everywhere else.
      auditInsert(db, account_id, iso(now), { actor: actorOf(c.get("caller")), action: "webhook.put", target: account_id, detail: { url, format, secret_rotated: rotated } }),
    ]);
    return c.json({ url, format, previous_secret_until: previousUntil }, 200);
  })
  .openapi(deleteWebhook, async (c) => {
    const { account_id } = c.req.valid("param");
    await requireAccountAdmin(c, account_id);
    const db = database(c.env.DB);
    await writeBatch(c.env.DB, [
      clearWebhook(db, account_id),
      auditInsert(db, account_id, iso(Date.now()), { actor: actorOf(c.get("caller")), action: "webhook.delete", target: account_id }),
    ]);
    return c.body(null, 204);
  })
  .openapi(deliveries, async (c) => {
    const { account_id } = c.req.valid("param");
    await requireAccountAdmin(c, account_id, { deleted: "operator may read" });
    const q = c.req.valid("query");
    const page = await listDeliveries(database(c.env.DB), account_id, q.limit, decodeCursor(q.cursor, CursorKeys.delivery), q.status);
    return c.json({ items: page.items, next_cursor: encodeCursor(page.next) }, 200);
  })
  .openapi(redeliver, async (c) => {
    const { account_id, event_id } = c.req.valid("param");
    await requireAccountAdmin(c, account_id);
    const db = database(c.env.DB);
    const event = await findDelivery(db, account_id, event_id);
    if (!event) throw notFound(`Event ${event_id}`);
    const status = deliveryStatus(event);
    // A pending event already has a retry chain; a second one would double its deliveries.
    if (status !== "dead" && status !== "no_endpoint") {
      throw new ApiError("not_dead", `Event ${event_id} is ${status}: only a dead or no_endpoint event can be redelivered.`, { event_status: status });
    }
    // The revive is conditional on the state, and the audit entry on the revive: of two racing
    // redelivers only one revives, audits and queues; the other is 409 like any not-dead event.
    const [revived] = await writeBatch(c.env.DB, [
      reviveEvent(db, account_id, event_id),
      auditIfChanged(account_id, iso(Date.now()), { actor: actorOf(c.get("caller")), action: "webhook.redeliver", target: event_id }),
    ]);
    if (revived.meta.changes !== 1) {
      throw new ApiError("not_dead", `Event ${event_id} was redelivered or delivered meanwhile.`, { event_status: "pending" });
    }
    await c.env.EVENTS_QUEUE.send({ account_id, event_id });
    return c.json({ id: event_id }, 202);
  });
