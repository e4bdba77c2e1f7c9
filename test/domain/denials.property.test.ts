/**
 * The true-denial rule against brute force: rows kept the way the account object keeps them (one
 * per user, minute and pool, changed by `onRefusal` / `onSeated`, a seat touching only the rows of
 * its last 5 minutes) must list, for any window and pool filter, what a plain reading of every
 * refusal and seat says: per user the last refusal in the window, its reason, the user's refusal
 * count, and whether a seat followed within 5 minutes.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  deniedColumn,
  lastDenials,
  minuteOf,
  MINUTE_MS,
  onRefusal,
  onSeated,
  TRUE_DENIAL_MS,
  trueDenial,
  type DenialItem,
  type DenialPool,
  type DenialReason,
  type UserMinute,
} from "../../src/domain/denials";

const T0 = Date.UTC(2030, 0, 15, 8);
const USERS = ["u1", "u2", "u3"];
const POOLS: DenialPool[] = ["elite-concurrent", "premium-concurrent", null];
const REASONS: DenialReason[] = ["no_license", "pool_at_ceiling", "session_evicted", "rate_limited"];

type Ev = { kind: "refusal"; user: string; pool: DenialPool; reason: DenialReason; t: number } | { kind: "seat"; user: string; t: number };

/** Events in time order (several may share a ms), over about an hour. */
const events = fc
  .array(
    fc.record({
      dt: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 30_000 }), fc.integer({ min: 1, max: 8 }).map((m) => m * MINUTE_MS)),
      seat: fc.boolean(),
      user: fc.constantFrom(...USERS),
      pool: fc.constantFrom(...POOLS),
      reason: fc.constantFrom(...REASONS),
    }),
    { maxLength: 40 },
  )
  .map((raw) => {
    let t = T0;
    return raw.map((e): Ev => {
      t += e.dt;
      return e.seat ? { kind: "seat", user: e.user, t } : { kind: "refusal", user: e.user, pool: e.pool, reason: e.reason, t };
    });
  });

/** The object's bookkeeping, with a Map in place of SQLite. */
function keepRows(evs: Ev[]): UserMinute[] {
  const rows = new Map<string, UserMinute>();
  for (const e of evs) {
    if (e.kind === "refusal") {
      const key = `${e.user}|${minuteOf(e.t)}|${e.pool}`;
      rows.set(key, onRefusal(rows.get(key) ?? null, e));
    } else {
      for (const [key, row] of rows) {
        if (row.user !== e.user || row.t < e.t - TRUE_DENIAL_MS || row.t > e.t) continue;
        const next = onSeated(row, e.t);
        if (next) rows.set(key, next);
      }
    }
  }
  return [...rows.values()];
}

/** Straight from the definition, one refusal and seat at a time. */
function reference(evs: Ev[], q: { from: number; to: number; pool?: DenialPool }, now: number): DenialItem[] {
  const from = minuteOf(q.from);
  const to = minuteOf(q.to);
  const out: DenialItem[] = [];
  for (const user of [...USERS].sort()) {
    const mine = evs
      .map((e, i) => ({ e, i }))
      .filter(({ e }) => e.kind === "refusal" && e.user === user && e.t >= from && e.t < to && (q.pool === undefined || e.pool === q.pool));
    if (mine.length === 0) continue;
    // The last: the latest time; at one time, the larger pool id (null as ""), then the later refusal.
    const key = (x: (typeof mine)[number]) => [x.e.t, (x.e as { pool: DenialPool }).pool ?? "", x.i] as const;
    const last = mine.reduce((a, b) => {
      const [ta, pa, ia] = key(a);
      const [tb, pb, ib] = key(b);
      return tb > ta || (tb === ta && (pb > pa || (pb === pa && ib > ia))) ? b : a;
    });
    const r = last.e as Extract<Ev, { kind: "refusal" }>;
    const seatedSoon = evs.some((e, i) => e.kind === "seat" && e.user === user && i > last.i && e.t <= r.t + TRUE_DENIAL_MS);
    out.push({
      user_id: user,
      pool: r.pool,
      t: r.t,
      reason: r.reason,
      refusals: mine.length,
      true_denial: seatedSoon ? false : now > r.t + TRUE_DENIAL_MS ? true : null,
    });
  }
  return out;
}

/** lastDenials picks among one user's rows by (t, pool); the reference by (t, pool, order): same thing. */
describe("denials: the true-denial rule", () => {
  it("rows kept incrementally list what every refusal and seat say (property)", () => {
    fc.assert(
      fc.property(
        events,
        fc.integer({ min: -5, max: 80 }),
        fc.integer({ min: 0, max: 90 }),
        fc.constantFrom<DenialPool | undefined>(undefined, ...POOLS),
        fc.integer({ min: 0, max: 100 }),
        (evs, a, len, pool, nowMin) => {
          const from = T0 + a * MINUTE_MS + 17_000;
          const q = { from, to: from + len * MINUTE_MS + 5_000, ...(pool === undefined ? {} : { pool }) };
          const last = evs.length ? evs[evs.length - 1].t : T0;
          const now = last + nowMin * 6_000;
          expect(lastDenials(keepRows(evs), q, now)).toEqual(reference(evs, q, now));
        },
      ),
      { numRuns: 500 },
    );
  });

  it("worked examples", () => {
    const row = (t: number, seated_at: number | null = null): UserMinute => ({ user: "u", pool: "elite-concurrent", minute: minuteOf(t), t, reason: "pool_at_ceiling", n: 1, seated_at });
    // Refused at 08:00:10, seated at 08:04:10: not a true denial.
    expect(trueDenial(row(T0 + 10_000, T0 + 250_000), T0 + 600_000)).toBe(false);
    // Seated exactly 5 minutes later still counts as served.
    expect(trueDenial(row(T0, T0 + TRUE_DENIAL_MS), T0 + 600_000)).toBe(false);
    // Seated 5 min 1 ms later: a true denial.
    expect(trueDenial(row(T0, T0 + TRUE_DENIAL_MS + 1), T0 + 600_000)).toBe(true);
    // No seat yet, 4 minutes on: undecided; 5 min 1 ms on: a true denial.
    expect(trueDenial(row(T0), T0 + 4 * MINUTE_MS)).toBeNull();
    expect(trueDenial(row(T0), T0 + TRUE_DENIAL_MS + 1)).toBe(true);
    // A second refusal after a seat: only what follows the second counts.
    const first = onRefusal(null, { user: "u", pool: "elite-concurrent", reason: "pool_at_ceiling", t: T0 });
    const seated = onSeated(first, T0 + 10_000)!;
    const again = onRefusal(seated, { user: "u", pool: "elite-concurrent", reason: "rate_limited", t: T0 + 20_000 });
    expect(again).toMatchObject({ n: 2, t: T0 + 20_000, reason: "rate_limited", seated_at: null });
    expect(trueDenial(again, T0 + 20 * MINUTE_MS)).toBe(true);
    // The first seat decides; a later one changes nothing.
    expect(onSeated(seated, T0 + 30_000)).toBeNull();
  });

  it("denied chart buckets: a minute lands in the bucket holding its start", () => {
    const minutes = [
      { minute: T0 - MINUTE_MS, n: 9 }, // ends at T0: outside [T0, …)
      { minute: T0, n: 2 },
      { minute: T0 + MINUTE_MS, n: 3 },
      { minute: T0 + 5 * MINUTE_MS, n: 4 },
      { minute: T0 + 10 * MINUTE_MS, n: 7 }, // at `to`: outside
    ];
    expect(deniedColumn(minutes, T0, T0 + 10 * MINUTE_MS, 5 * MINUTE_MS)).toEqual([5, 4]);
    // A window starting inside a minute takes that minute into its first bucket.
    expect(deniedColumn(minutes, T0 + 30_000, T0 + 90_000, 30_000)).toEqual([2, 3]);
  });
});
