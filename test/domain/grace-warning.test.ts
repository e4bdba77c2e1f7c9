import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { planGraceWarnings, type WarnRun } from "../../src/domain/grace-warning";

const none = new Set<number>();

describe("planGraceWarnings: worked examples", () => {
  // Limit 10; places 11-12 over since t=0, grace 1000 ms, warn 300 ms: deadline 1000, warning due from 700.
  const runs: WarnRun[] = [{ lo: 11, hi: 12, start: 0, billable: false }];

  it("before deadline − warn: nothing due, wake at deadline − warn", () => {
    expect(planGraceWarnings(runs, 1000, 300, none, 500)).toEqual({ due: [], wakeAt: 700 });
  });
  it("at deadline − warn: one warning with the places that become billable", () => {
    expect(planGraceWarnings(runs, 1000, 300, none, 700)).toEqual({ due: [{ graceEndsAt: 1000, seats: 2 }], wakeAt: null });
  });
  it("a deadline already warned about is not warned again (a repeated wake)", () => {
    expect(planGraceWarnings(runs, 1000, 300, new Set([1000]), 800)).toEqual({ due: [], wakeAt: null });
  });
  it("warn 0 is off", () => {
    expect(planGraceWarnings(runs, 1000, 0, none, 999)).toEqual({ due: [], wakeAt: null });
  });
  it("warn >= grace: due at once, at the over-run's start", () => {
    expect(planGraceWarnings(runs, 1000, 5000, none, 0)).toEqual({ due: [{ graceEndsAt: 1000, seats: 2 }], wakeAt: null });
  });
  it("a deadline reached is not warned (overage.billable tells it)", () => {
    expect(planGraceWarnings(runs, 1000, 300, none, 1000)).toEqual({ due: [], wakeAt: null });
  });
  it("seats count places already billable plus those crossing by the deadline; the next deadline sets the wake", () => {
    const three: WarnRun[] = [
      { lo: 11, hi: 11, start: -5000, billable: true },
      { lo: 12, hi: 13, start: 0, billable: false },
      { lo: 14, hi: 14, start: 400, billable: false },
    ];
    expect(planGraceWarnings(three, 1000, 300, none, 700)).toEqual({ due: [{ graceEndsAt: 1000, seats: 3 }], wakeAt: 1100 });
    expect(planGraceWarnings(three, 1000, 300, new Set([1000]), 1100)).toEqual({ due: [{ graceEndsAt: 1400, seats: 4 }], wakeAt: null });
  });
  it("no over-run in grace: nothing", () => {
    expect(planGraceWarnings([{ lo: 11, hi: 11, start: 0, billable: true }], 1000, 300, none, 10)).toEqual({ due: [], wakeAt: null });
  });
});

/** Brute force: every ms after now is looked at, every place counted one by one. */
function reference(runs: WarnRun[], grace: number, warn: number, warned: Set<number>, now: number, horizon: number) {
  const due: { graceEndsAt: number; seats: number }[] = [];
  let wakeAt: number | null = null;
  if (warn <= 0) return { due, wakeAt };
  for (let t = now + 1; t <= horizon; t++) {
    if (warned.has(t) || !runs.some((r) => !r.billable && r.start + grace === t)) continue;
    if (t - warn <= now) {
      let seats = 0;
      for (const r of runs) for (let p = r.lo; p <= r.hi; p++) if (r.billable || r.start + grace <= t) seats++;
      due.push({ graceEndsAt: t, seats });
    } else if (wakeAt === null) wakeAt = t - warn;
  }
  return { due, wakeAt };
}

describe("planGraceWarnings: property", () => {
  it("equals a brute-force scan of every ms", () => {
    const run = fc.record({ len: fc.integer({ min: 1, max: 3 }), start: fc.integer({ min: 0, max: 60 }), billable: fc.boolean() });
    fc.assert(
      fc.property(fc.array(run, { maxLength: 5 }), fc.integer({ min: 0, max: 50 }), fc.integer({ min: 0, max: 80 }), fc.integer({ min: 0, max: 120 }), fc.array(fc.integer({ min: 0, max: 120 }), { maxLength: 3 }), (specs, grace, warn, now, w) => {
        let lo = 11;
        const runs = specs.map((s) => {
          const r = { lo, hi: lo + s.len - 1, start: s.start, billable: s.billable };
          lo += s.len;
          return r;
        });
        const warned = new Set(w);
        expect(planGraceWarnings(runs, grace, warn, warned, now)).toEqual(reference(runs, grace, warn, warned, now, 200));
      }),
    );
  });
});
