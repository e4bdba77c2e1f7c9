import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { cycleContaining, endedCyclesSince, nextCycle, previousCycle, type Cycle } from "../../src/domain/cycles";

const at = (iso: string): number => Date.parse(iso);
const iso = (c: Cycle) => ({ start: new Date(c.start).toISOString(), end: new Date(c.end).toISOString() });

describe("cycleContaining", () => {
  it("runs from billing day 00:00 UTC to the same day next month", () => {
    expect(iso(cycleContaining(at("2026-05-20T10:00:00Z"), 15))).toEqual({
      start: "2026-05-15T00:00:00.000Z",
      end: "2026-06-15T00:00:00.000Z",
    });
    // Before this month's billing day: last month's cycle.
    expect(iso(cycleContaining(at("2026-05-14T23:59:59.999Z"), 15))).toEqual({
      start: "2026-04-15T00:00:00.000Z",
      end: "2026-05-15T00:00:00.000Z",
    });
  });

  it("is half open: the boundary instant starts the new cycle", () => {
    const boundary = at("2026-06-15T00:00:00Z");
    expect(cycleContaining(boundary, 15).start).toBe(boundary);
    expect(cycleContaining(boundary - 1, 15).end).toBe(boundary);
  });

  it("crosses year boundaries both ways", () => {
    expect(iso(cycleContaining(at("2026-12-31T23:00:00Z"), 10))).toEqual({
      start: "2026-12-10T00:00:00.000Z",
      end: "2027-01-10T00:00:00.000Z",
    });
    expect(iso(cycleContaining(at("2027-01-05T00:00:00Z"), 10))).toEqual({
      start: "2026-12-10T00:00:00.000Z",
      end: "2027-01-10T00:00:00.000Z",
    });
    expect(iso(cycleContaining(at("2027-01-01T00:00:00Z"), 1))).toEqual({
      start: "2027-01-01T00:00:00.000Z",
      end: "2027-02-01T00:00:00.000Z",
    });
  });

  it("billing day 28 works in February, leap year or not", () => {
    expect(iso(cycleContaining(at("2027-02-27T12:00:00Z"), 28))).toEqual({
      start: "2027-01-28T00:00:00.000Z",
      end: "2027-02-28T00:00:00.000Z",
    });
    expect(iso(cycleContaining(at("2027-03-01T00:00:00Z"), 28))).toEqual({
      start: "2027-02-28T00:00:00.000Z",
      end: "2027-03-28T00:00:00.000Z",
    });
    expect(iso(cycleContaining(at("2028-02-29T00:00:00Z"), 28))).toEqual({
      start: "2028-02-28T00:00:00.000Z",
      end: "2028-03-28T00:00:00.000Z",
    });
  });

  it("refuses billing days outside 1..28", () => {
    for (const day of [0, 29, 31, 1.5, Number.NaN]) expect(() => cycleContaining(0, day)).toThrow(RangeError);
  });

  it("for any instant and billing day, contains it, starts on the billing day at midnight, and chains", () => {
    const instant = fc.integer({ min: at("1990-01-01T00:00:00Z"), max: at("2100-01-01T00:00:00Z") });
    fc.assert(
      fc.property(instant, fc.integer({ min: 1, max: 28 }), (t, day) => {
        const c = cycleContaining(t, day);
        expect(c.start <= t && t < c.end).toBe(true);
        const start = new Date(c.start);
        expect([start.getUTCDate(), start.getUTCHours(), start.getUTCMinutes(), start.getUTCSeconds(), start.getUTCMilliseconds()]).toEqual([day, 0, 0, 0, 0]);
        expect(new Date(c.end).getUTCDate()).toBe(day);
        expect(nextCycle(c, day).start).toBe(c.end);
        expect(previousCycle(c, day).end).toBe(c.start);
        expect(previousCycle(nextCycle(c, day), day)).toEqual(c);
      }),
    );
  });
});

describe("endedCyclesSince", () => {
  it("with nothing finalized, starts with the cycle the account was created in", () => {
    const cycles = endedCyclesSince(null, at("2026-03-20T09:00:00Z"), at("2026-06-02T00:00:00Z"), 1);
    expect(cycles.map(iso)).toEqual([
      { start: "2026-03-01T00:00:00.000Z", end: "2026-04-01T00:00:00.000Z" },
      { start: "2026-04-01T00:00:00.000Z", end: "2026-05-01T00:00:00.000Z" },
      { start: "2026-05-01T00:00:00.000Z", end: "2026-06-01T00:00:00.000Z" },
    ]);
  });

  it("lists nothing before the first cycle ends, and the cycle once its end is reached", () => {
    const created = at("2026-03-20T09:00:00Z");
    expect(endedCyclesSince(null, created, at("2026-03-31T23:59:59.999Z"), 1)).toEqual([]);
    expect(endedCyclesSince(null, created, at("2026-04-01T00:00:00Z"), 1)).toHaveLength(1);
  });

  it("continues after the last finalized cycle, across the new year, and is empty when caught up", () => {
    const created = at("2025-01-01T00:00:00Z");
    const afterEnd = at("2026-11-15T00:00:00Z");
    const cycles = endedCyclesSince(afterEnd, created, at("2027-02-15T00:00:00Z"), 15);
    expect(cycles.map(iso)).toEqual([
      { start: "2026-11-15T00:00:00.000Z", end: "2026-12-15T00:00:00.000Z" },
      { start: "2026-12-15T00:00:00.000Z", end: "2027-01-15T00:00:00.000Z" },
      { start: "2027-01-15T00:00:00.000Z", end: "2027-02-15T00:00:00.000Z" },
    ]);
    expect(endedCyclesSince(cycles[2].end, created, at("2027-03-14T00:00:00Z"), 15)).toEqual([]);
  });

  it("accounts with different billing days close on their own days", () => {
    const created = at("2026-01-01T00:00:00Z");
    const now = at("2026-05-10T12:00:00Z");
    const lastEnd = (day: number) => {
      const cycles = endedCyclesSince(null, created, now, day);
      return new Date(cycles[cycles.length - 1].end).toISOString();
    };
    expect(lastEnd(1)).toBe("2026-05-01T00:00:00.000Z");
    expect(lastEnd(10)).toBe("2026-05-10T00:00:00.000Z");
    expect(lastEnd(11)).toBe("2026-04-11T00:00:00.000Z");
    expect(lastEnd(28)).toBe("2026-04-28T00:00:00.000Z");
    expect(endedCyclesSince(null, created, now, 28)[0]).toEqual(cycleContaining(created, 28)); // Dec 28 to Jan 28
  });

  it("catches up a long backlog in capped batches, oldest first, without gaps", () => {
    const created = at("2020-01-05T00:00:00Z");
    const now = at("2026-01-06T00:00:00Z");
    const all: Cycle[] = [];
    let afterEnd: number | null = null;
    for (let run = 0; run < 10; run++) {
      const batch = endedCyclesSince(afterEnd, created, now, 5);
      expect(batch.length).toBeLessThanOrEqual(24);
      if (batch.length === 0) break;
      all.push(...batch);
      afterEnd = batch[batch.length - 1].end;
    }
    expect(all).toHaveLength(6 * 12); // 2020-01-05 to 2026-01-05
    all.slice(1).forEach((c, i) => expect(c.start).toBe(all[i].end));
    expect(new Date(all[all.length - 1].end).toISOString()).toBe("2026-01-05T00:00:00.000Z");
  });

  it("after a billing day change, bridges from the last finalized end to the new day without overlap", () => {
    const cycles = endedCyclesSince(at("2026-03-01T00:00:00Z"), 0, at("2026-05-16T00:00:00Z"), 15);
    expect(cycles.map(iso)).toEqual([
      { start: "2026-03-01T00:00:00.000Z", end: "2026-03-15T00:00:00.000Z" },
      { start: "2026-03-15T00:00:00.000Z", end: "2026-04-15T00:00:00.000Z" },
      { start: "2026-04-15T00:00:00.000Z", end: "2026-05-15T00:00:00.000Z" },
    ]);
  });
});
