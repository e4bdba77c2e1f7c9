import { sql as dsql } from "drizzle-orm";
import { writeBatch } from "../db/batch";
import { database } from "../db/client";
import { overageIntervals, webhookEvents } from "../db/schema";
import type { EventMessage, EventRecord, IntervalRecord } from "../records";

type OutboxItem = { kind: "interval"; record: IntervalRecord } | { kind: "event"; record: EventRecord };

/**
 * What the Durable Object owes D1 and the events queue. Items are appended in the same synchronous
 * turn as the state change that produced them, and deleted only after D1 (and the queue) accepted
 * them: at least once, and idempotent on the receiving side (interval upsert by id, event insert-or-ignore).
 */
export class Outbox {
  private flushing: Promise<void> | null = null;
  private readonly db;

  constructor(
    private readonly sql: SqlStorage,
    private readonly d1: D1Database,
    private readonly queue: Queue<EventMessage>,
    private readonly accountId: () => string,
  ) {
    this.db = database(d1);
  }

  add(item: OutboxItem): void {
    this.sql.exec("INSERT INTO outbox (kind, payload) VALUES (?, ?)", item.kind, JSON.stringify(item.record));
  }

  pending(): boolean {
    return this.sql.exec("SELECT 1 FROM outbox LIMIT 1").toArray().length > 0;
  }

  /** Drains the outbox; one drain at a time. Rejects when D1 or the queue refused (the items stay). */
  flush(): Promise<void> {
    this.flushing ??= this.drain().finally(() => {
      this.flushing = null;
    });
    return this.flushing;
  }

  private async drain(): Promise<void> {
    for (;;) {
      const rows = this.sql
        .exec<{ id: number; kind: string; payload: string }>("SELECT id, kind, payload FROM outbox ORDER BY id LIMIT 50")
        .toArray();
      if (rows.length === 0) return;
      const items = rows.map((r) => ({ kind: r.kind, record: JSON.parse(r.payload) }) as OutboxItem);
      await writeBatch(this.d1, items.map((item) => this.statement(item)));
      const events = items.filter((i) => i.kind === "event");
      if (events.length) {
        await this.queue.sendBatch(events.map((e) => ({ body: { account_id: this.accountId(), event_id: e.record.id } })));
      }
      this.sql.exec("DELETE FROM outbox WHERE id <= ?", rows[rows.length - 1].id);
    }
  }

  private statement(item: OutboxItem) {
    const accountId = this.accountId();
    if (item.kind === "event") {
      const e = item.record;
      return this.db
        .insert(webhookEvents)
        .values({ accountId, id: e.id, type: e.type, body: JSON.stringify(e), createdAt: e.created_at })
        .onConflictDoNothing();
    }
    const r = item.record;
    const values = {
      accountId,
      id: r.id,
      poolId: r.pool,
      startedAt: r.started_at,
      endedAt: r.ended_at,
      peakActive: r.peak_active,
      peakOverage: r.peak_overage,
      overageSeatSeconds: r.overage_seat_seconds,
      billable: r.billable,
      billableOverageSeats: r.billable_overage_seats,
      billableSeatSeconds: r.billable_seat_seconds,
    };
    // A closed interval is final: a late "open" copy (a retried older item) never reopens it.
    return this.db
      .insert(overageIntervals)
      .values(values)
      .onConflictDoUpdate({
        target: [overageIntervals.accountId, overageIntervals.id],
        set: { ...values, accountId: undefined, id: undefined },
        setWhere: dsql`${overageIntervals.endedAt} IS NULL`,
      });
  }
}
