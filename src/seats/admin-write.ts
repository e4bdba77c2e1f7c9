import { auditInsertMany, type AuditEntry } from "../db/audit";
import { writeBatch, type Statement } from "../db/batch";
import type { Db } from "../db/client";
import { ApiError, fail, ok, type Result } from "../errors";
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
  /** Marks the roster stale after a D1 write error. */
  stale: () => void;
}

/**
 * The one sequence of every admin write: under the lock, against a fresh roster, `decide` answers
 * without writing or returns a change; its statements and audit entries land in D1 as one batch,
 * and only then does memory change. Checks and their write can then never interleave with another's.
 * A D1 error leaves memory unchanged, marks the roster stale (the next decision reads D1 again) and
 * answers 503 `outcome_unknown` (docs/decisions/022-a-failed-d1-write-has-an-unknown-outcome.md).
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
      try {
        await writeBatch(this.c.d1, [...decision.writes, audit]);
      } catch (err) {
        // D1 can report an error for a batch that committed: never claim that nothing changed.
        console.warn(`D1 write failed for ${this.c.accountId()}; roster marked stale`, err);
        this.c.stale();
        return fail(outcomeUnknown());
      }
      return ok(decision.apply());
    });
  }
}

const outcomeUnknown = () =>
  new ApiError("outcome_unknown", "The change may or may not have been applied; read it back before trying again.");
