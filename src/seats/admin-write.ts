import { auditInsertMany, type AuditEntry } from "../db/audit";
import { writeBatch, type Statement } from "../db/batch";
import type { Db } from "../db/client";
import { bumpRosterVersion } from "../db/roster-writes";
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
  /** The roster version D1 set with a change, recorded with the change applied (same transaction). */
  versioned: (version: number) => void;
}

/**
 * The one sequence of every admin write: under the lock, against a fresh roster, `decide` answers
 * without writing or returns a change; its statements and audit entries land in D1 as one batch,
 * and only then does memory change. Checks and their write can then never interleave with another's.
 * A batch that changes D1 also raises the account's roster version, which the object records with
 * its copy of the roster (docs/architecture.md#waking-and-the-roster-copy).
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
      const changes = decision.writes.length > 0;
      let results: D1Result[];
      try {
        results = await writeBatch(this.c.d1, [...decision.writes, ...(changes ? [bumpRosterVersion(this.c.accountId())] : []), audit]);
      } catch (err) {
        // D1 can report an error for a batch that committed: never claim that nothing changed.
        console.warn(`D1 write failed for ${this.c.accountId()}; roster marked stale`, err);
        this.c.stale();
        return fail(outcomeUnknown());
      }
      const value = decision.apply();
      if (changes) this.c.versioned((results[decision.writes.length].results[0] as { roster_version: number }).roster_version);
      return ok(value);
    });
  }
}

const outcomeUnknown = () =>
  new ApiError("outcome_unknown", "The change may or may not have been applied; read it back before trying again.");
