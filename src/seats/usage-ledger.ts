import type { PoolId } from "../domain/catalog";
import {
  advanceTo,
  applyStep,
  liveStatus,
  newTracker,
  nextGraceDeadline,
  type TrackerEvent,
  type TrackerState,
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
 * `overage.*` events the moment they happen. Both are written in the same synchronous turn as the
 * seat change that caused them, so they commit together.
 */
export class UsageLedger {
  private readonly trackers = new Map<PoolId, TrackerState>();
  private readonly lastT = new Map<PoolId, number>();

  constructor(private readonly sql: SqlStorage) {
    for (const r of sql.exec<{ pool_id: string; state: string }>("SELECT pool_id, state FROM trackers")) {
      this.trackers.set(r.pool_id as PoolId, JSON.parse(r.state) as TrackerState);
    }
    for (const r of sql.exec<{ pool_id: string; t: number }>("SELECT pool_id, max(t) AS t FROM steps GROUP BY pool_id")) {
      this.lastT.set(r.pool_id as PoolId, r.t);
    }
  }

  /**
   * Records that `pool` has `active` seats in use against `limit` from `t` on. Times never run
   * backwards in the log: a step is clamped to the pool's last one. Returns the tracker's events.
   */
  record(pool: PoolId, t: number, active: number, limit: number, tracked: boolean, graceSeconds: number): TrackerEvent[] {
    const at = Math.max(t, this.lastT.get(pool) ?? t);
    this.lastT.set(pool, at);
    this.sql.exec("INSERT INTO steps (pool_id, t, active, lim) VALUES (?, ?, ?, ?)", pool, at, active, limit);
    if (!tracked) return [];
    const tracker = this.trackers.get(pool) ?? newTracker(limit, at);
    const { state, events } = applyStep(tracker, { t: at, active, limit }, graceSeconds);
    this.save(pool, state);
    return events;
  }

  /** Moves every tracker to `now`, raising `overage.billable` for over-runs whose grace ended. */
  advance(now: number, graceSeconds: number): PoolEvent[] {
    const out: PoolEvent[] = [];
    for (const [pool, tracker] of this.trackers) {
      if (nextGraceDeadline(tracker, graceSeconds) === null) continue;
      const { state, events } = advanceTo(tracker, Math.max(now, tracker.lastT), graceSeconds);
      this.save(pool, state);
      for (const event of events) out.push({ pool, event });
    }
    return out;
  }

  nextDeadline(graceSeconds: number): number | null {
    let next: number | null = null;
    for (const tracker of this.trackers.values()) {
      const t = nextGraceDeadline(tracker, graceSeconds);
      if (t !== null && (next === null || t < next)) next = t;
    }
    return next;
  }

  live(pool: PoolId, now: number, graceSeconds: number) {
    const tracker = this.trackers.get(pool);
    return tracker ? liveStatus(tracker, Math.max(now, tracker.lastT), graceSeconds) : null;
  }

  private save(pool: PoolId, state: TrackerState): void {
    this.trackers.set(pool, state);
    this.sql.exec(
      "INSERT INTO trackers (pool_id, state) VALUES (?, ?) ON CONFLICT(pool_id) DO UPDATE SET state = excluded.state",
      pool,
      JSON.stringify(state),
    );
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

  /** The steps inside the window, preceded by the last step before it (the state carried in). */
  steps(pool: PoolId, window: Window): UsageStep[] {
    const before = this.sql
      .exec<UsageStepRow>("SELECT t, active, lim FROM steps WHERE pool_id = ? AND t < ? ORDER BY t DESC, rowid DESC LIMIT 1", pool, window.from)
      .toArray();
    const inside = this.sql
      .exec<UsageStepRow>("SELECT t, active, lim FROM steps WHERE pool_id = ? AND t >= ? AND t < ? ORDER BY t, rowid", pool, window.from, window.to)
      .toArray();
    return [...before, ...inside].map(toStep);
  }

  /**
   * The steps needed to summarize a window: from the start of the over-limit interval open at
   * `window.from` (its over-runs' grace began there), through the window.
   */
  stepsForSummary(pool: PoolId, window: Window): UsageStep[] {
    const calm = this.sql
      .exec<{ t: number | null }>("SELECT max(t) AS t FROM steps WHERE pool_id = ? AND t <= ? AND active <= lim", pool, window.from)
      .one().t;
    const from = calm ?? 0;
    return this.sql
      .exec<UsageStepRow>("SELECT t, active, lim FROM steps WHERE pool_id = ? AND t >= ? AND t < ? ORDER BY t, rowid", pool, from, window.to)
      .toArray()
      .map(toStep);
  }
}

interface UsageStepRow extends Record<string, SqlStorageValue> {
  t: number;
  active: number;
  lim: number;
}

const toStep = (r: UsageStepRow): UsageStep => ({ t: r.t, active: r.active, limit: r.lim });
