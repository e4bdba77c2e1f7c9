/**
 * Who counted (docs/licensing.md#who-counted): src/domain/holders.ts against brute force (every
 * tick of the overage reference; every integer instant for the selection rules), and the worked
 * example of the docs.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { billableSpans, countedHolds, overlapMs, peakHolders, peakSpans, type BillableSpan, type Hold } from "../../src/domain/holders";
import { summarize, type UsageStep } from "../../src/domain/overage";
import { simulate, TICK } from "./overage-reference";
import { stepLogs, T0 } from "./step-logs";

const RUNS = 150;
const MIN = 60_000;

const stepLog = stepLogs({ move: [-2, 3], maxLimit: 6, limitFreq: 5, maxLimit0: 5, maxLength: 20 });

const graceSeconds = fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 1200 }));

describe("billableSpans", () => {
  it("says, at every tick of the window, what the reference's billable_now says, and which interval it is in", () => {
    const input = fc.tuple(stepLog, graceSeconds).chain(([steps, grace]) => {
      const last = (steps[steps.length - 1].t - T0) / TICK;
      const at = fc.integer({ min: -30, max: last + 2400 }).map((k) => T0 + k * TICK);
      return fc.tuple(fc.constant(steps), fc.constant(grace), at, at);
    });
    fc.assert(
      fc.property(input, ([steps, grace, a, b]) => {
        const window = { from: Math.min(a, b), to: Math.max(a, b) };
        const spans = billableSpans(steps, window, grace);
        const sim = simulate(steps, grace * 1000, window.from, window.to);
        for (const tick of sim.ticks) {
          if (tick.x < window.from || tick.x >= window.to) continue;
          const span = spans.find((s) => s.from <= tick.x && tick.x < s.to);
          expect(span?.billable ?? 0, `tick ${tick.x}`).toBe(tick.billable);
          if (span) {
            const interval = sim.intervals.find((iv) => iv.start <= tick.x && tick.x < iv.end);
            expect(span.interval_start).toBe(interval!.start);
          }
        }
        // Sorted, disjoint, positive, inside the window; and the same figures as summarize.
        spans.forEach((s, i) => {
          expect(s.from).toBeLessThan(s.to);
          expect(s.billable).toBeGreaterThan(0);
          if (i > 0) expect(spans[i - 1].to).toBeLessThanOrEqual(s.from);
        });
        const figures = summarize(steps, window, grace);
        expect(peakSpans(spans).peak).toBe(figures.billable_overage_seats);
        expect(spans.reduce((sum, s) => sum + (s.billable * (s.to - s.from)) / 1000, 0)).toBeCloseTo(figures.billable_seat_seconds, 6);
      }),
      { numRuns: RUNS },
    );
  });
});

/** Spans with integer bounds in [0, 100): sorted, disjoint, each with a billable count. */
const spansArb = fc
  .array(fc.tuple(fc.integer({ min: 0, max: 12 }), fc.integer({ min: 1, max: 12 }), fc.integer({ min: 1, max: 3 })), { maxLength: 6 })
  .map((parts) => {
    const out: BillableSpan[] = [];
    let t = 0;
    for (const [gap, len, billable] of parts) {
      t += gap;
      out.push({ from: t, to: t + len, billable, interval_start: 0 });
      t += len;
    }
    return out;
  });

const holdsArb = fc.array(
  fc.tuple(fc.constantFrom("a", "b", "c", "d"), fc.integer({ min: 0, max: 110 }), fc.option(fc.integer({ min: 1, max: 40 }), { freq: 4 })).map(
    ([user_id, from, len]): Hold => ({ user_id, from, to: len === null ? null : from + len }),
  ),
  { maxLength: 8 },
);

/** Brute force: the integer instants of [from, to) (to null: to the end of the horizon). */
const instants = (from: number, to: number | null) => Array.from({ length: Math.max(0, (to ?? 200) - from) }, (_, i) => from + i);
const inSpans = (t: number, spans: readonly BillableSpan[]) => spans.some((s) => s.from <= t && t < s.to);

describe("the selection rules, against every instant", () => {
  it("countedHolds: a hold counts when it shares an instant with the billable part; billable_ms and at_peak by counting instants", () => {
    fc.assert(
      fc.property(spansArb, holdsArb, (spans, holds) => {
        const peak = Math.max(0, ...spans.map((s) => s.billable));
        const atPeak = spans.filter((s) => s.billable === peak);
        const expected = holds.flatMap((h) => {
          const billable = instants(h.from, h.to).filter((t) => inSpans(t, spans)).length;
          if (billable === 0) return [];
          return [{ ...h, billable_ms: billable, at_peak: instants(h.from, h.to).some((t) => inSpans(t, atPeak)) }];
        });
        expect(countedHolds(holds, spans)).toEqual(expected);
      }),
      { numRuns: 500 },
    );
  });

  it("peakHolders: each user once, sorted, present at some instant of the peak", () => {
    fc.assert(
      fc.property(spansArb, holdsArb, (spans, holds) => {
        const { spans: peak } = peakSpans(spans);
        const expected = [...new Set(holds.filter((h) => instants(h.from, h.to).some((t) => inSpans(t, peak))).map((h) => h.user_id))].sort();
        expect(peakHolders(holds, peak)).toEqual(expected);
      }),
      { numRuns: 500 },
    );
  });

  it("half-open: a hold ending as the billable part begins, or beginning as it ends, did not count", () => {
    const spans: BillableSpan[] = [{ from: 10, to: 20, billable: 1, interval_start: 0 }];
    expect(countedHolds([{ user_id: "a", from: 0, to: 10 }, { user_id: "b", from: 20, to: null }], spans)).toEqual([]);
    expect(overlapMs({ from: 9, to: 11 }, spans)).toBe(1);
    expect(overlapMs({ from: 15, to: null }, spans)).toBe(5);
  });
});

describe("worked example of docs/licensing.md#who-counted", () => {
  // Quantity 2, grace 30 minutes. Seat holds, in minutes after 07:00.
  const at = (hhmm: string) => T0 - 60 * MIN + (Number(hhmm.slice(0, 2)) - 7) * 60 * MIN + Number(hhmm.slice(3)) * MIN;
  const holds: Hold[] = [
    { user_id: "a", from: at("07:00"), to: at("12:00") },
    { user_id: "b", from: at("07:00"), to: at("12:00") },
    { user_id: "c", from: at("08:00"), to: at("09:30") },
    { user_id: "e", from: at("08:05"), to: at("08:15") },
    { user_id: "d", from: at("08:20"), to: at("09:10") },
    { user_id: "f", from: at("09:00"), to: at("09:05") },
  ];
  /** The step log those holds make. */
  const steps: UsageStep[] = [...new Set(holds.flatMap((h) => [h.from, h.to!]))]
    .sort((x, y) => x - y)
    .map((t) => ({ t, active: holds.filter((h) => h.from <= t && t < h.to!).length, limit: 2 }));

  it("the billable part is 08:30-09:30 with its peak of 2 seats at 08:50-09:10; e left before it, f came during the peak", () => {
    const interval = { from: at("08:00"), to: at("09:30") };
    const spans = billableSpans(steps, interval, 1800);
    expect(spans.map((s) => [s.from, s.to, s.billable])).toEqual([
      [at("08:30"), at("08:50"), 1],
      [at("08:50"), at("09:10"), 2],
      [at("09:10"), at("09:30"), 1],
    ]);
    const rows = countedHolds(holds, spans).map((r) => [r.user_id, r.billable_ms / MIN, r.at_peak]);
    expect(rows).toEqual([
      ["a", 60, true],
      ["b", 60, true],
      ["c", 60, true],
      ["d", 40, true],
      ["f", 5, true],
    ]);
    expect(peakHolders(holds, peakSpans(spans).spans)).toEqual(["a", "b", "c", "d", "f"]);
    expect(summarize(steps, interval, 1800)).toMatchObject({ billable_overage_seats: 2, billable_seat_seconds: 80 * 60 });
  });
});
