import { configure, step } from "../domain/thresholds";

export interface Crossing {
  pool: string;
  percent: number;
  active: number;
  quantity: number;
  /** Makes the event id unique for the account: thresholds can be removed and set again. */
  seq: number;
}

/**
 * Each pool's thresholds and whether each is armed (src/domain/thresholds.ts), in memory and in
 * the object's SQLite (`threshold_state`), so an armed or spent threshold stays so across a
 * restart. A step writes only the thresholds whose state changed.
 */
export class ThresholdWatch {
  private readonly states = new Map<string, Map<number, boolean>>();

  constructor(private readonly sql: SqlStorage) {}

  /** The pool's thresholds (percent -> armed), loaded on first use. */
  state(pool: string): Map<number, boolean> {
    let s = this.states.get(pool);
    if (!s) {
      s = new Map(this.sql.exec<{ percent: number; armed: number }>("SELECT percent, armed FROM threshold_state WHERE pool_id = ?", pool).toArray().map((r) => [r.percent, r.armed === 1]));
      this.states.set(pool, s);
    }
    return s;
  }

  /** The pool's list as it is now: kept thresholds keep their state, new ones start armed unless already reached. */
  configure(pool: string, alerts: readonly number[], active: number, quantity: number): void {
    const before = this.state(pool);
    const same = before.size === alerts.length && alerts.every((p) => before.has(p));
    if (same) return;
    const next = configure(before, alerts, active, quantity);
    for (const p of before.keys()) if (!next.has(p)) this.sql.exec("DELETE FROM threshold_state WHERE pool_id = ? AND percent = ?", pool, p);
    for (const [p, armed] of next) if (!before.has(p)) this.write(pool, p, armed);
    this.states.set(pool, next);
  }

  /** The pool changed (seats in use or quantity): the thresholds it crossed upward. */
  step(pool: string, alerts: readonly number[], active: number, quantity: number): Crossing[] {
    this.configure(pool, alerts, active, quantity);
    const before = this.state(pool);
    const { state, fired } = step(before, active, quantity);
    for (const [p, armed] of state) if (before.get(p) !== armed) this.write(pool, p, armed);
    this.states.set(pool, state);
    return fired.map((percent) => ({ pool, percent, active, quantity, seq: this.nextSeq() }));
  }

  private write(pool: string, percent: number, armed: boolean): void {
    this.sql.exec(
      "INSERT INTO threshold_state (pool_id, percent, armed) VALUES (?, ?, ?) ON CONFLICT(pool_id, percent) DO UPDATE SET armed = excluded.armed",
      pool,
      percent,
      armed ? 1 : 0,
    );
  }

  private nextSeq(): number {
    const n = this.sql.exec<{ n: number }>("UPDATE threshold_seq SET n = n + 1 RETURNING n").toArray()[0]?.n;
    if (n !== undefined) return n;
    this.sql.exec("INSERT INTO threshold_seq (n) VALUES (1)");
    return 1;
  }
}
