/**
 * Generated usage step logs for the property tests of the over-limit engine's users (the grace
 * policies, who counted, chargeback): changes `dt` ticks apart (0 = the same ms), an active move
 * or a jump to a level, sometimes a new limit. Times are multiples of TICK so the tick-by-tick
 * references are exact. (test/domain/overage.property.test.ts keeps its own copy, written before.)
 */
import fc from "fast-check";
import type { UsageStep } from "../../src/domain/overage";
import { TICK } from "./overage-reference";

export const T0 = Date.UTC(2025, 0, 15, 8);

export interface StepLogShape {
  /** The range of one move of `active`. */
  move: readonly [min: number, max: number];
  /** Jumps of `active` to a level 0..max, one for every `weight` moves; none when absent. */
  jumps?: { max: number; weight: number };
  /** Limits 0..maxLimit, a change on about 1 in `limitFreq` steps; the first limit 0..maxLimit0. */
  maxLimit: number;
  limitFreq: number;
  maxLimit0: number;
  maxLength: number;
}

export function stepLogs(shape: StepLogShape): fc.Arbitrary<UsageStep[]> {
  const move = fc.integer({ min: shape.move[0], max: shape.move[1] }).map((d) => ({ by: d }));
  const active: fc.Arbitrary<{ by: number } | { to: number }> = shape.jumps
    ? fc.oneof({ arbitrary: move, weight: shape.jumps.weight }, { arbitrary: fc.integer({ min: 0, max: shape.jumps.max }).map((n) => ({ to: n })), weight: 1 })
    : move;
  const change = fc.record({
    dt: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 600 }), fc.integer({ min: 1, max: 30 })),
    active,
    limit: fc.option(fc.integer({ min: 0, max: shape.maxLimit }), { freq: shape.limitFreq }),
  });
  return fc.tuple(fc.integer({ min: 0, max: shape.maxLimit0 }), fc.array(change, { minLength: 1, maxLength: shape.maxLength })).map(([limit0, changes]) => {
    const steps: UsageStep[] = [];
    let t = T0;
    let level = 0;
    let limit = limit0;
    for (const c of changes) {
      t += c.dt * TICK;
      level = "to" in c.active ? c.active.to : Math.max(0, level + c.active.by);
      if (c.limit !== null) limit = c.limit;
      steps.push({ t, active: level, limit });
    }
    return steps;
  });
}
