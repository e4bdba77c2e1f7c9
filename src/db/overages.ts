import { and, desc, eq, gte, isNull, lt, or } from "drizzle-orm";
import type { Db } from "./client";
import { olderThan, pageOf, type Page } from "./pagination";
import { overageIntervals } from "./schema";

export type OverageRow = typeof overageIntervals.$inferSelect;

/**
 * The account's over-limit intervals that overlap `[from, to)`, newest first: an interval is in the
 * window when it started before `to` and did not end before `from`.
 */
export async function listOverages(
  db: Db,
  accountId: string,
  window: { from?: string; to?: string },
  limit: number,
  after: readonly [string, string] | null,
): Promise<Page<OverageRow, [string, string]>> {
  const rows = await db
    .select()
    .from(overageIntervals)
    .where(
      and(
        eq(overageIntervals.accountId, accountId),
        window.to ? lt(overageIntervals.startedAt, window.to) : undefined,
        window.from ? or(gte(overageIntervals.endedAt, window.from), isNull(overageIntervals.endedAt)) : undefined,
        olderThan(overageIntervals.startedAt, overageIntervals.id, after),
      ),
    )
    .orderBy(desc(overageIntervals.startedAt), desc(overageIntervals.id))
    .limit(limit + 1)
    .all();
  return pageOf(rows, limit, (r) => [r.startedAt, r.id], (r) => r);
}

/** A closed interval as the API shows it (open ones come live from the account's object). */
export const overageView = (r: OverageRow) => ({
  id: r.id,
  pool: r.poolId,
  started_at: r.startedAt,
  ended_at: r.endedAt,
  peak_active: r.peakActive,
  peak_overage: r.peakOverage,
  overage_seat_seconds: r.overageSeatSeconds,
  billable: r.billable,
  billable_overage_seats: r.billableOverageSeats,
  billable_seat_seconds: r.billableSeatSeconds,
});

/** One interval of the account, or null (another account's id is simply not found). */
export async function findOverage(db: Db, accountId: string, id: string): Promise<OverageRow | null> {
  const row = await db
    .select()
    .from(overageIntervals)
    .where(and(eq(overageIntervals.accountId, accountId), eq(overageIntervals.id, id)))
    .get();
  return row ?? null;
}
