import { auditInsertMany, type AuditEntry } from "../db/audit";
import { writeBatch, type Statement } from "../db/batch";
import type { Db } from "../db/client";
import { ok, type Result } from "../errors";
import { iso } from "../time";
import type { Mutex } from "./mutex";

/** An admin write decided: its D1 statements and audit entries (one batch), then what changes in memory. */
export interface Change<T> {
  writes: Statement[];
  audit: Omit<AuditEntry, "actor">[];
  apply: () => T;
}

/** What deciding an admin write yields: an answer without writing (a refusal, nothing to do), or a change. */
export type Decision<T> = Result<T> | Change<T>;

export interface AdminWriteContext {
  lock: Mutex;
  d1: D1Database;
  db: Db;
  accountId: () => string;
  now: () => number;
  /** Brings the roster up to date before a decision. */
  fresh: () => Promise<void>;
}

/**
 * The one sequence of every admin write: under the lock, against a fresh roster, `decide` answers
 * without writing or returns a change; its statements and audit entries land in D1 as one batch,
 * and only then does memory change. Checks and their write can then never interleave with another's.
 */
export class AdminWriter {
  constructor(private readonly c: AdminWriteContext) {}

  run<T>(actor: string, decide: (now: number, at: string) => Promise<Decision<T>> | Decision<T>): Promise<Result<T>> {
    return this.c.lock.run(async () => {
      await this.c.fresh();
      const now = this.c.now();
      const at = iso(now);
      const decision = await decide(now, at);
      if (!("writes" in decision)) return decision;
      const audit = auditInsertMany(this.c.db, this.c.accountId(), at, actor, decision.audit);
      await writeBatch(this.c.d1, [...decision.writes, audit]);
      return ok(decision.apply());
    });
  }
}
