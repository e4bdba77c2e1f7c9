/**
 * Threshold crossings against brute force: over a random walk of seats in use and quantity
 * changes, `step` (one state carried from step to step) must fire exactly where a reading of the
 * whole walk says: threshold p fires at step i when the pool reaches p there and, since the last
 * step that re-armed p (or since p was set, if it was set below it), no step reached p.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { configure, normalizeAlerts, reached, rearms, step } from "../../src/domain/thresholds";

type Point = { active: number; quantity: number };

const walk = fc.array(
  fc.record({ active: fc.integer({ min: 0, max: 30 }), quantity: fc.oneof(fc.integer({ min: 0, max: 25 }), fc.constant(10)) }),
  { minLength: 1, maxLength: 60 },
);
const alertList = fc.uniqueArray(fc.oneof(fc.integer({ min: 1, max: 200 }), fc.constantFrom(5, 80, 100, 120)), { maxLength: 6 });

/** Per step, the thresholds fired, from the whole walk. */
function reference(alerts: number[], start: Point, points: Point[]): number[][] {
  return points.map((pt, i) =>
    [...alerts]
      .sort((a, b) => a - b)
      .filter((p) => {
        if (!reached(p, pt.active, pt.quantity)) return false;
        // The last step before i that re-armed p; -1: none (then p counts from when it was set).
        let anchor = -1;
        for (let j = i - 1; j >= 0; j--) {
          if (rearms(p, points[j].active, points[j].quantity)) {
            anchor = j;
            break;
          }
        }
        if (anchor === -1 && reached(p, start.active, start.quantity)) return false;
        for (let j = anchor + 1; j < i; j++) if (reached(p, points[j].active, points[j].quantity)) return false;
        return true;
      }),
  );
}

describe("thresholds: crossing and re-arming", () => {
  it("step fires where the whole walk says (property)", () => {
    fc.assert(
      fc.property(alertList, walk, fc.record({ active: fc.integer({ min: 0, max: 30 }), quantity: fc.integer({ min: 0, max: 25 }) }), (alerts, points, start) => {
        let state = configure(new Map(), alerts, start.active, start.quantity);
        const fired: number[][] = [];
        for (const pt of points) {
          const r = step(state, pt.active, pt.quantity);
          state = r.state;
          fired.push(r.fired);
        }
        expect(fired).toEqual(reference(alerts, start, points));
      }),
      { numRuns: 1000 },
    );
  });

  it("a state saved and restored mid-walk (an object restart) changes nothing (property)", () => {
    fc.assert(
      fc.property(alertList, walk, fc.nat(), (alerts, points, cut) => {
        const run = (restartAt: number | null) => {
          let state = configure(new Map(), alerts, 0, 10);
          return points.map((pt, i) => {
            if (i === restartAt) state = new Map(JSON.parse(JSON.stringify([...state])) as [number, boolean][]);
            const r = step(state, pt.active, pt.quantity);
            state = r.state;
            return r.fired;
          });
        };
        expect(run(cut % points.length)).toEqual(run(null));
      }),
      { numRuns: 300 },
    );
  });

  it("worked examples (quantity 100, alerts [80, 100])", () => {
    let state = configure(new Map(), [80, 100], 0, 100);
    const go = (active: number, quantity = 100) => {
      const r = step(state, active, quantity);
      state = r.state;
      return r.fired;
    };
    expect(go(79)).toEqual([]);
    expect(go(80)).toEqual([80]); // 80 % reached: announced
    expect(go(90)).toEqual([]);
    expect(go(76)).toEqual([]); // 76 %: not 5 points below 80 yet
    expect(go(81)).toEqual([]); // so no second announcement
    expect(go(75)).toEqual([]); // 75 %: re-armed
    expect(go(100)).toEqual([80, 100]); // both at once, ascending
    expect(go(95)).toEqual([]); // 100 re-armed at 95 %
    expect(go(100)).toEqual([100]);
    // A quantity cut is a crossing too: 70 of 100 is 70 %; 70 of 80 is 87.5 %.
    state = configure(new Map(), [80, 100], 70, 100);
    expect(go(70, 80)).toEqual([80]);
    // Setting a threshold the pool is above already is not a crossing.
    state = configure(new Map(), [80], 90, 100);
    expect(go(92)).toEqual([]);
    // A pool of quantity 0 reaches every threshold with its first seat, and re-arms when empty.
    state = configure(new Map(), [80], 0, 0);
    expect(go(1, 0)).toEqual([80]);
    expect(go(0, 0)).toEqual([]);
    expect(go(1, 0)).toEqual([80]);
    // Below 5 %, a threshold re-arms only at 0.
    state = configure(new Map(), [3], 0, 100);
    expect(go(3)).toEqual([3]);
    expect(go(1)).toEqual([]);
    expect(go(3)).toEqual([]);
    expect(go(0)).toEqual([]);
    expect(go(3)).toEqual([3]);
    expect(normalizeAlerts([100, 80, 80])).toEqual([80, 100]);
  });
});
