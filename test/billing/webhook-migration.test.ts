import type { D1Migration } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";

/**
 * Migration 0003's data moves, run again on rows as they were before it (the migration itself ran
 * on the empty database at setup). Own file: its statements touch every row of the file's D1.
 */

const migration = (env as unknown as { TEST_MIGRATIONS: D1Migration[] }).TEST_MIGRATIONS.find((m) => m.name.startsWith("0003_"))!;
const updates = migration.queries.filter((q) => /^\s*(--.*\n\s*)*UPDATE/i.test(q));

describe("migration 0003", () => {
  it("moves plain secrets out of webhook_secret and settles events stored without a webhook as no_endpoint", async () => {
    expect(updates).toHaveLength(2);
    const now = new Date().toISOString();
    await env.DB.batch([
      env.DB.prepare("INSERT INTO accounts (id, name, webhook_url, webhook_secret, created_at) VALUES ('m-1', 'M1', 'https://hooks.example.com/', 'plain-secret-123456', ?)").bind(now),
      env.DB.prepare("INSERT INTO accounts (id, name, created_at) VALUES ('m-2', 'M2', ?)").bind(now),
      env.DB.prepare("INSERT INTO webhook_events (account_id, id, type, body, created_at, last_error) VALUES ('m-2', 'e1', 't', '{}', ?, 'no webhook configured')").bind(now),
      env.DB.prepare("INSERT INTO webhook_events (account_id, id, type, body, created_at, last_error, attempts) VALUES ('m-1', 'e2', 't', '{}', ?, 'HTTP 500', 1)").bind(now),
      env.DB.prepare("INSERT INTO webhook_events (account_id, id, type, body, created_at, delivered_at, attempts) VALUES ('m-1', 'e3', 't', '{}', ?, ?, 1)").bind(now, now),
    ]);
    for (const q of updates) await env.DB.prepare(q).run();
    const accounts = (await env.DB.prepare("SELECT id, webhook_secret, webhook_secret_plain, webhook_format FROM accounts WHERE id IN ('m-1', 'm-2') ORDER BY id").all()).results;
    expect(accounts).toEqual([
      { id: "m-1", webhook_secret: null, webhook_secret_plain: "plain-secret-123456", webhook_format: "seatkeeper" },
      { id: "m-2", webhook_secret: null, webhook_secret_plain: null, webhook_format: "seatkeeper" },
    ]);
    const events = (await env.DB.prepare("SELECT id, no_endpoint_at, last_error FROM webhook_events WHERE account_id IN ('m-1', 'm-2') ORDER BY id").all()).results;
    expect(events).toEqual([
      { id: "e1", no_endpoint_at: now, last_error: null },
      { id: "e2", no_endpoint_at: null, last_error: "HTTP 500" },
      { id: "e3", no_endpoint_at: null, last_error: null },
    ]);
  });
});
