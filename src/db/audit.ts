import { and, desc, eq, lt, sql } from "drizzle-orm";
import type { Db } from "./client";
import { pageOf } from "./pagination";
import { auditLog } from "./schema";

export interface AuditEntry {
  actor: string;
  action: string;
  target: string;
  detail?: Record<string, unknown>;
}

/** The audit insert for a write; goes into the same D1 batch as the write, so both or neither land. */
export function auditInsert(db: Db, accountId: string, at: string, entry: AuditEntry) {
  return db.insert(auditLog).values({
    accountId,
    at,
    actor: entry.actor,
    action: entry.action,
    target: entry.target,
    detail: JSON.stringify(entry.detail ?? {}),
  });
}

/** Newest first, keyed by the row id. */
export async function listAudit(db: Db, accountId: string, limit: number, after: readonly [number] | null) {
  const rows = await db
    .select()
    .from(auditLog)
    .where(and(eq(auditLog.accountId, accountId), after === null ? undefined : lt(auditLog.id, after[0])))
    .orderBy(desc(auditLog.id))
    .limit(limit + 1)
    .all();
  return pageOf(
    rows,
    limit,
    (r): [number] => [r.id],
    (r) => ({ id: r.id, at: r.at, actor: r.actor, action: r.action, target: r.target, detail: JSON.parse(r.detail) as Record<string, unknown> }),
  );
}

/** Many audit entries in one statement (a 1,000-user batch stays one statement). */
export function auditInsertMany(db: Db, accountId: string, at: string, actor: string, entries: Omit<AuditEntry, "actor">[]) {
  const rows = JSON.stringify(entries.map((e) => ({ action: e.action, target: e.target, detail: JSON.stringify(e.detail ?? {}) })));
  return sql`
    INSERT INTO audit_log (account_id, at, actor, action, target, detail)
    SELECT ${accountId}, ${at}, ${actor}, json_extract(value, '$.action'), json_extract(value, '$.target'), json_extract(value, '$.detail')
    FROM json_each(${rows})`;
}
