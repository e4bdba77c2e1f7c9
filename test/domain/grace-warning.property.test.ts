/**
 * A seat change plans the grace-ending warning from the first deadline in the tracker's heap
 * (`OverageEngine.firstGraceEnd`, `warningWake`) instead of from every over-run: property, over
 * random step sequences, alarms, grace policies and sets of deadlines already warned about, that it
 * answers what `planGraceWarnings` over `overRuns()` (the brute force) answers with nothing sent.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { planGraceWarnings, warningWake } from "../../src/domain/grace-warning";
import { OverageEngine, graceMs as toMs, type GraceRules } from "../../src/domain/overage";

const T0 = Date.UTC(2030, 0, 15, 8);
const S = 1000;

/** One change: some seconds later (0: same ms), a new active count, maybe a new limit, or an alarm. */
const move = fc.record({
  dt: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 120 })),
  kind: fc.constantFrom("step", "step", "step", "alarm"),
  active: fc.integer({ min: 0, max: 16 }),
  limit: fc.option(fc.integer({ min: 0, max: 8 }), { freq: 5 }),
});

describe("the warning's wake from the first grace end", () => {
  it("equals planGraceWarnings over every over-run, after every change", () => {
    fc.assert(
      fc.property(
        fc.array(move, { minLength: 1, maxLength: 40 }),
        fc.integer({ min: 0, max: 300 }),
        fc.constantFrom<GraceRules["policy"]>("per_overrun", "cumulative"),
        fc.integer({ min: 0, max: 200 }),
        fc.array(fc.integer({ min: 0, max: 40 }), { maxLength: 6 }),
        (moves, graceSeconds, policy, warnSeconds, warnedPicks) => {
          const rules: GraceRules = { graceSeconds, policy };
          const grace = toMs(graceSeconds);
          const warnMs = warnSeconds * S;
          const engine = new OverageEngine(rules, 4, T0);
          let t = T0;
          let limit = 4;
          for (const m of moves) {
            t += m.dt * S;
            if (m.kind === "alarm") engine.advance(t);
            else {
              if (m.limit !== null) limit = m.limit;
              engine.step(t, m.active, limit);
            }
            const runs = engine.overRuns();
            // Deadlines already warned about: some of the runs' own (the ones that matter) and others.
            const deadlines = runs.map((r) => r.start + grace);
            const warned = new Set(warnedPicks.map((k) => (k < deadlines.length * 2 ? deadlines[k % Math.max(1, deadlines.length)] : T0 + k * S)).filter((d) => d !== undefined));
            for (const now of [t, t + 1, t + 60 * S]) {
              const brute = runs.filter((r) => !r.billable).map((r) => r.start + grace).filter((d) => d > now && !warned.has(d));
              expect(engine.firstGraceEnd(now, grace, warned)).toBe(brute.length ? Math.min(...brute) : null);
              const plan = planGraceWarnings(runs, grace, warnMs, warned, now);
              const expected = runs.length === 0 || !(warnMs > 0) ? null : plan.due.length > 0 ? now + 1 : plan.wakeAt;
              expect(warningWake(engine.firstGraceEnd(now, grace, warned), warnMs, now)).toBe(expected);
            }
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
