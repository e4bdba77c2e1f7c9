import type { PoolId } from "../domain/catalog";
import {
  OverageEngine,
  type GraceRules,
  type IdleRow,
  type LiveStatus,
  type OverRun,
  type TrackerEvent,
  type TrackerScalars,
  type UsageStep,
  type Window,
} from "../domain/overage";

export interface PoolEvent {
  pool: PoolId;
  event: TrackerEvent;
}

/**
 * The usage step log `(t, pool, active, limit)` and the online over-limit trackers, in the Durable
 * Object's SQLite. The step log is what billing summarizes; the trackers are what raises
 * `overage.*` events. Both are written in the same synchronous turn as the seat change that caused
 * them, so they commit together.
 *
 * A tracker lives in memory as an `OverageEngine` and in SQLite as one small row of scalars plus
 * one row per over-run (and per idle piece, under the cumulative grace policy): each change
 * writes only the rows it touched (decision 031).
 */
export class UsageLedger {
  private readonly engines = new Map<PoolId, OverageEngine>();
  /** Each pool's last step time (null: none), read on first use: one index seek, not a pass over the log. */
  private readonly lastT = new Map<PoolId, number | null>();

  constructor(private readonly sql: SqlStorage) {}

  private lastOf(pool: PoolId): number | null {
    let last = this.lastT.get(pool);
    if (last === undefined) {
      last = this.sql.exec<{ t: number | null }>("SELECT max(t) AS t FROM steps WHERE pool_id = ?", pool).one().t;
      this.lastT.set(pool, last);
    }
    return last;
  }

  /** The pool's engine, loaded from its rows on first use (rebuilt from the step log if it has none). */
  private engine(pool: PoolId, rules: GraceRules, now: number): OverageEngine | null {
    let engine = this.engines.get(pool);
    if (!engine) {
      const row = this.sql.exec<{ state: string }>("SELECT state FROM trackers WHERE pool_id = ?", pool).toArray()[0];
      if (row) {
        const scalars = JSON.parse(row.state) as TrackerScalars;
        const runs = this.sql
          .exec<RunRow>("SELECT lo, hi, start, billable, born FROM tracker_runs WHERE pool_id = ?", pool)
          .toArray()
          .map((r): OverRun => ({ lo: r.lo, hi: r.hi, start: r.start, billable: r.billable === 1, born: r.born }));
        const idle = this.sql
          .exec<IdleSqlRow>("SELECT side, lo, hi, acc, born FROM tracker_idle WHERE pool_id = ?", pool)
          .toArray()
          .map((r): IdleRow => ({ side: r.side as "above" | "below", lo: r.lo, hi: r.hi, acc: r.acc, born: r.born }));
        engine = OverageEngine.restore(rules, scalars, runs, idle);
      } else {
        const replayed = this.replay(pool, rules, now);
        if (!replayed) return null;
        engine = replayed;
      }
      engine.startJournal();
      this.engines.set(pool, engine);
    }
    engine.setRules(rules);
    return engine;
  }

  /**
   * A tracker with no stored state (a store from before incremental trackers): replayed from the
   * step log since the last calm point before the cycle, its events discarded (they were sent).
   */
  private replay(pool: PoolId, rules: GraceRules, now: number): OverageEngine | null {
    const last = this.lastOf(pool);
    if (last === null) return null;
    // Under the cumulative policy the cycle's earlier over-runs count too: look a cycle back.
    const from = rules.policy === "cumulative" ? last - 32 * 86_400_000 : last;
    let engine: OverageEngine | null = null;
    for (const step of this.stepsFromCalm(pool, from, Number.MAX_SAFE_INTEGER)) {
      engine ??= new OverageEngine(rules, step.limit, step.t);
      engine.step(step.t, step.active, step.limit);
    }
    if (engine) {
      engine.startJournal();
      engine.advance(Math.max(now, engine.clock));
      this.persist(pool, engine, true);
    }
    return engine;
  }

  /**
   * Records that `pool` has `active` seats in use against `limit` from `t` on. Times never run
   * backwards in the log: a step is clamped to the pool's last one (then it shares that ms, and
   * the last step of a ms is the pool's state). Returns the tracker's events: those of earlier
   * instants, decided now that time has moved past them.
   */
  record(pool: PoolId, t: number, active: number, limit: number, tracked: boolean, rules: GraceRules): TrackerEvent[] {
    const existing = tracked ? this.engine(pool, rules, t) : null;
    const at = Math.max(t, this.lastOf(pool) ?? t, existing?.clock ?? t);
    this.lastT.set(pool, at);
    this.sql.exec("INSERT INTO steps (pool_id, t, active, lim) VALUES (?, ?, ?, ?)", pool, at, active, limit);
    if (!tracked) return [];
    let engine = existing;
    if (!engine) {
      engine = new OverageEngine(rules, limit, at);
      engine.startJournal();
      this.engines.set(pool, engine);
    }
    const events = engine.step(at, active, limit);
    this.persist(pool, engine, true);
    return events;
  }

  /** The time of the pool's last logged step (a step may be clamped to it), or null. */
  lastAt(pool: PoolId): number | null {
    return this.lastOf(pool);
  }

  /** Decides what is due by `now` (instants past, grace crossings): the alarm and every call. */
  settle(now: number, rules: GraceRules, pools: Iterable<PoolId>): PoolEvent[] {
    const out: PoolEvent[] = [];
    for (const pool of pools) {
      const engine = this.engine(pool, rules, now);
      if (!engine) continue;
      const wake = engine.nextWake();
      if (wake === null || wake > now) continue;
      const events = engine.advance(now);
      this.persist(pool, engine, true);
      for (const event of events) out.push({ pool, event });
    }
    return out;
  }

  /** The earliest time at which `settle` has something to do, over the pools already loaded. */
  nextWake(): number | null {
    let next: number | null = null;
    for (const engine of this.engines.values()) {
      const t = engine.nextWake();
      if (t !== null && (next === null || t < next)) next = t;
    }
    return next;
  }

  /** The pool's over-runs (none for a pool with no tracker), for the grace-ending warning. */
  overRuns(pool: PoolId, rules: GraceRules, now: number): OverRun[] {
    return this.engine(pool, rules, now)?.overRuns() ?? [];
  }

  /** The engine's `firstGraceEnd`: the next grace-ending deadline after `after` not in `skip`. */
  firstGraceEnd(pool: PoolId, rules: GraceRules, now: number, graceMs: number, skip: ReadonlySet<number>): number | null {
    return this.engine(pool, rules, now)?.firstGraceEnd(now, graceMs, skip) ?? null;
  }

  /** The pool as of now. Call `settle(now)` first: then this decides nothing and tells nothing. */
  live(pool: PoolId, now: number, rules: GraceRules): LiveStatus | null {
    const engine = this.engine(pool, rules, now);
    if (!engine) return null;
    if (now > engine.clock) {
      const events = engine.advance(now);
      if (events.length) throw new Error("live() before settle(): events would be lost");
    }
    return engine.live(Math.max(now, engine.clock));
  }

  /** Writes the scalars and the rows the engine touched since the last write. */
  private persist(pool: PoolId, engine: OverageEngine, force: boolean): void {
    const journal = engine.takeJournal();
    if (!force && journal.runs.size === 0 && journal.idle.size === 0) return;
    this.sql.exec(
      "INSERT INTO trackers (pool_id, state) VALUES (?, ?) ON CONFLICT(pool_id) DO UPDATE SET state = excluded.state",
      pool,
      JSON.stringify(engine.scalars()),
    );
    for (const [lo, run] of journal.runs) {
      if (run) {
        this.sql.exec(
          "INSERT INTO tracker_runs (pool_id, lo, hi, start, billable, born) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(pool_id, lo) DO UPDATE SET hi = excluded.hi, start = excluded.start, billable = excluded.billable, born = excluded.born",
          pool,
          lo,
          run.hi,
          run.start,
          run.billable ? 1 : 0,
          run.born,
        );
      } else this.sql.exec("DELETE FROM tracker_runs WHERE pool_id = ? AND lo = ?", pool, lo);
    }
    for (const [key, piece] of journal.idle) {
      const [side, lo] = key.split(":");
      if (piece) {
        this.sql.exec(
          "INSERT INTO tracker_idle (pool_id, side, lo, hi, acc, born) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(pool_id, side, lo) DO UPDATE SET hi = excluded.hi, acc = excluded.acc, born = excluded.born",
          pool,
          side,
          Number(lo),
          piece.hi,
          piece.acc,
          piece.born,
        );
      } else this.sql.exec("DELETE FROM tracker_idle WHERE pool_id = ? AND side = ? AND lo = ?", pool, side, Number(lo));
    }
  }

  /**
   * Forgets steps before `before` (billing never looks back that far), keeping each pool's last
   * step before it: the state carried into what remains.
   */
  prune(before: number): void {
    this.sql.exec(
      `DELETE FROM steps WHERE t < ? AND rowid NOT IN (
         SELECT (SELECT rowid FROM steps s WHERE s.pool_id = p.pool_id AND s.t < ? ORDER BY s.t DESC, s.rowid DESC LIMIT 1)
         FROM (SELECT DISTINCT pool_id FROM steps) p)`,
      before,
      before,
    );
  }

  /** The steps inside the window, preceded by the last step before it (the state carried in); streamed. */
  *steps(pool: PoolId, window: Window): Generator<UsageStep> {
    const before = this.sql
      .exec<UsageStepRow>("SELECT t, active, lim FROM steps WHERE pool_id = ? AND t < ? ORDER BY t DESC, rowid DESC LIMIT 1", pool, window.from)
      .toArray();
    for (const r of before) yield toStep(r);
    for (const r of this.sql.exec<UsageStepRow>(
      "SELECT t, active, lim FROM steps WHERE pool_id = ? AND t >= ? AND t < ? ORDER BY t, rowid",
      pool,
      window.from,
      window.to,
    )) {
      yield toStep(r);
    }
  }

  /** The last step before t (the state in force just before it), or null. */
  lastStepBefore(pool: PoolId, t: number): UsageStep | null {
    const r = this.sql
      .exec<UsageStepRow>("SELECT t, active, lim FROM steps WHERE pool_id = ? AND t < ? ORDER BY t DESC, rowid DESC LIMIT 1", pool, t)
      .toArray()[0];
    return r ? toStep(r) : null;
  }

  /** Whether the pool logged anything at or after t (a pool bought after a window had no part in it). */
  hasStepsFrom(pool: PoolId, t: number): boolean {
    return this.sql.exec("SELECT 1 FROM steps WHERE pool_id = ? AND t >= ? LIMIT 1", pool, t).toArray().length > 0;
  }

  /**
   * The steps needed to summarize a window, streamed: from the start of the over-limit interval
   * open at `window.from` (its over-runs' grace began there), through the window.
   */
  stepsForSummary(pool: PoolId, window: Window): Generator<UsageStep> {
    return this.stepsFromCalm(pool, window.from, window.to);
  }

  /**
   * Steps from the last calm instant at or before `from` up to `to` (exclusive). A calm instant is
   * one whose LAST step is within the limit: a row followed in the same ms by one that goes back
   * over is not an end, because the pool never was within its limit at that instant.
   */
  private *stepsFromCalm(pool: PoolId, from: number, to: number): Generator<UsageStep> {
    const calm = this.sql
      .exec<{ t: number }>(
        `SELECT s.t AS t FROM steps s WHERE s.pool_id = ? AND s.t <= ? AND s.active <= s.lim
           AND NOT EXISTS (SELECT 1 FROM steps n WHERE n.pool_id = s.pool_id AND n.t = s.t AND n.rowid > s.rowid)
         ORDER BY s.t DESC, s.rowid DESC LIMIT 1`,
        pool,
        from,
      )
      .toArray()[0];
    const start = calm?.t ?? 0;
    for (const r of this.sql.exec<UsageStepRow>("SELECT t, active, lim FROM steps WHERE pool_id = ? AND t >= ? AND t < ? ORDER BY t, rowid", pool, start, to)) {
      yield toStep(r);
    }
  }
}

interface UsageStepRow extends Record<string, SqlStorageValue> {
  t: number;
  active: number;
  lim: number;
}

interface RunRow extends Record<string, SqlStorageValue> {
  lo: number;
  hi: number;
  start: number;
  billable: number;
  born: number;
}

interface IdleSqlRow extends Record<string, SqlStorageValue> {
  side: string;
  lo: number;
  hi: number;
  acc: number;
  born: number;
}

const toStep = (r: UsageStepRow): UsageStep => ({ t: r.t, active: r.active, limit: r.lim });
