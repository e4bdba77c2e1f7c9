/**
 * The advisor against brute force: `sustainedPeak` must say, for every quantity q at once, what
 * `summarize` (itself checked against the tick-by-tick reference) bills when the pool's limit is
 * held at q; `cheapestQuantity` must find the cheapest of all quantities tried one by one.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { advise, cheapestQuantity, costAt, peaks, sustainedPeak, type CycleFigures } from "../../src/domain/advice";
import { summarize, type UsageStep } from "../../src/domain/overage";

const T0 = Date.UTC(2025, 0, 15, 8);
const MIN = 60_000;

/** A sorted step log with repeated times, active 0..9, over a few hours. */
const stepLog = fc
  .array(fc.record({ dt: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 90 })), active: fc.integer({ min: 0, max: 9 }) }), {
    minLength: 1,
    maxLength: 30,
  })
  .map((changes) => {
    let t = T0;
    return changes.map((c) => ({ t: (t += c.dt * MIN), active: c.active, limit: 0 }));
  });

const graceSeconds = fc.oneof(fc.constant(0), fc.constant(1800), fc.integer({ min: 1, max: 90 }).map((m) => m * 60));

const windowAround = (steps: UsageStep[]) => {
  const last = steps[steps.length - 1].t;
  const time = fc.integer({ min: -120, max: (last - T0) / MIN + 120 }).map((k) => T0 + k * MIN);
  return fc.tuple(time, time).map(([a, b]) => ({ from: Math.min(a, b), to: Math.max(a, b) }));
};

const atLimit = (steps: UsageStep[], q: number) => steps.map((s) => ({ ...s, limit: q }));

describe("sustainedPeak against summarize", () => {
  it("bills max(0, M - q) seats for every constant quantity q", () => {
    fc.assert(
      fc.property(
        stepLog.chain((steps) => fc.tuple(fc.constant(steps), windowAround(steps), graceSeconds)),
        ([steps, window, grace]) => {
          const m = sustainedPeak(steps, window, grace);
          expect(peaks(steps, window, grace).peak_active).toBe(summarize(steps, window, grace).peak_active);
          for (let q = 0; q <= 10; q++) {
            const billed = summarize(atLimit(steps, q), window, grace).billable_overage_seats;
            expect(billed, `q=${q}`).toBe(Math.max(0, m - q));
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it("agrees at windows and graces that are not minute-aligned", () => {
    fc.assert(
      fc.property(
        stepLog,
        fc.integer({ min: -5_000_000, max: 20_000_000 }),
        fc.integer({ min: 1, max: 10_000_000 }),
        fc.integer({ min: 0, max: 5_000 }),
        (steps, offset, length, graceS) => {
          const window = { from: T0 + offset, to: T0 + offset + length };
          const m = sustainedPeak(steps, window, graceS);
          for (let q = 0; q <= 10; q++) {
            expect(summarize(atLimit(steps, q), window, graceS).billable_overage_seats).toBe(Math.max(0, m - q));
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe("cheapestQuantity against trying every quantity", () => {
  const cycles = fc.array(fc.integer({ min: 0, max: 40 }).map((m) => ({ sustained_peak: m })), { minLength: 1, maxLength: 6 });
  const price = fc.record({ seat: fc.integer({ min: 0, max: 10_000 }), overage_seat: fc.integer({ min: 0, max: 20_000 }) });

  it("costs no more than any quantity from 0 to 50, and ties go to the larger", () => {
    fc.assert(
      fc.property(cycles, price, (cs, p) => {
        const q = cheapestQuantity(cs, p);
        let bruteBest = 0;
        let bruteCost = Infinity;
        for (let k = 0; k <= 50; k++) {
          const cost = cs.reduce((sum, c) => sum + k * p.seat + Math.max(0, c.sustained_peak - k) * p.overage_seat, 0);
          if (cost <= bruteCost) {
            // `<=` keeps the larger of equal costs, as the advisor promises
            if (cost < bruteCost || k > bruteBest) bruteBest = k;
            bruteCost = cost;
          }
        }
        expect(costAt(q, cs, p)).toBe(bruteCost);
        // Beyond the largest peak more seats only cost more, so the brute force's tie-break can only
        // pick a quantity inside the candidates when seat is free; then any quantity >= the peaks ties.
        if (p.seat > 0) expect(q).toBe(bruteBest);
      }),
      { numRuns: 500 },
    );
  });
});

describe("worked examples", () => {
  const at = (h: number, m = 0) => Date.UTC(2025, 3, 1, h, m);
  const cycle = { from: at(0), to: at(23) };

  it("a shift change inside the grace needs no extra seats; a lasting one does", () => {
    // 100 active all day; 108 from 08:00 to 08:20 (inside a 30-minute grace); 104 from 14:00 to 15:00.
    const steps: UsageStep[] = [
      { t: at(0), active: 100, limit: 100 },
      { t: at(8), active: 108, limit: 100 },
      { t: at(8, 20), active: 100, limit: 100 },
      { t: at(14), active: 104, limit: 100 },
      { t: at(15), active: 100, limit: 100 },
    ];
    expect(sustainedPeak(steps, cycle, 1800)).toBe(104);
    expect(summarize(steps, cycle, 1800).billable_overage_seats).toBe(4);
  });

  it("prices decide between more seats and paying overage", () => {
    const cycles: Pick<CycleFigures, "sustained_peak">[] = [{ sustained_peak: 110 }, { sustained_peak: 100 }, { sustained_peak: 100 }];
    // An overage seat dearer than three cycles of a seat: buy 110.
    expect(cheapestQuantity(cycles, { seat: 1000, overage_seat: 4000 })).toBe(110);
    // Cheaper than three seats: keep 100 and pay the one cycle's 10 billable seats.
    expect(cheapestQuantity(cycles, { seat: 1000, overage_seat: 2000 })).toBe(100);
  });

  it("advise: figures, saving against today, and the named pool's concurrent equivalent", () => {
    const cycle1 = { cycle_start: "2025-03-01T00:00:00.000Z", cycle_end: "2025-04-01T00:00:00.000Z" };
    const advice = advise({
      pools: [
        { pool: "premium-concurrent", model: "concurrent", quantity: 120, cycles: [{ ...cycle1, peak_active: 130, sustained_peak: 110 }] },
        { pool: "elite-named", model: "named", quantity: 50, cycles: [{ ...cycle1, peak_active: 31, sustained_peak: 30 }] },
      ],
      prices: new Map([
        ["premium-concurrent", { seat: 1000, overage_seat: 1500 }],
        ["elite-named", { seat: 2000, overage_seat: 0 }],
        ["elite-concurrent", { seat: 3000, overage_seat: 4000 }],
      ]),
      addons: [
        { product: "workforce_management", needed: 40, covered: 25, shortfall: 15 },
        { product: "quality_management", needed: 10, covered: 25, shortfall: 0 },
      ],
    });
    expect(advice.pools[0]).toMatchObject({
      no_billable_overage_quantity: 110,
      cheapest_quantity: 110,
      cost_today: 120_000,
      cost_cheapest: 110_000,
      saving: 10_000,
    });
    expect(advice.pools[1]).toMatchObject({ peak_concurrency: 31, concurrent_pool: "elite-concurrent", concurrent_quantity: 30, saving: 100_000 - 90_000 });
    expect(advice.addons).toEqual([{ product: "workforce_management", needed: 40, covered: 25, shortfall: 15 }]);
  });
});

