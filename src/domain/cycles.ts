/**
 * Billing cycles (docs/licensing.md#billing-cycles): monthly in UTC, from `billing_day` 00:00 UTC to the same
 * day of the next month. Times are ms since the epoch; a cycle is the half-open [start, end).
 * billing_day stops at 28 so every month has the day, and no clamping is ever needed.
 */

export interface Cycle {
  start: number;
  end: number;
}

/** The most cycles `endedCyclesSince` returns at once; a longer backlog is caught up run by run. */
export const MAX_CYCLES_PER_RUN = 24;

function assertBillingDay(billingDay: number): void {
  if (!Number.isInteger(billingDay) || billingDay < 1 || billingDay > 28) {
    throw new RangeError(`billing_day must be an integer from 1 to 28, got ${billingDay}`);
  }
}

/** Midnight UTC of `billingDay` in the month `monthIndex` months after January of `year` (Date.UTC rolls over years). */
const boundary = (year: number, monthIndex: number, billingDay: number): number =>
  Date.UTC(year, monthIndex, billingDay);

/** The cycle that contains instant `t`. */
export function cycleContaining(t: number, billingDay: number): Cycle {
  assertBillingDay(billingDay);
  const date = new Date(t);
  const year = date.getUTCFullYear();
  let month = date.getUTCMonth();
  // Before this month's boundary, the cycle began last month.
  if (t < boundary(year, month, billingDay)) month -= 1;
  return { start: boundary(year, month, billingDay), end: boundary(year, month + 1, billingDay) };
}

/** The cycle just before `cycle`. */
export function previousCycle(cycle: Cycle, billingDay: number): Cycle {
  return cycleContaining(cycle.start - 1, billingDay);
}

/** The cycle just after `cycle`. */
export function nextCycle(cycle: Cycle, billingDay: number): Cycle {
  return cycleContaining(cycle.end, billingDay);
}

/**
 * The cycle that follows the last finalized one (ending at `afterEnd`), or the account's first
 * cycle (the one containing `accountCreatedAt`) when none is finalized yet. Cycles form one chain
 * without gap or overlap; this is its next link.
 */
export function cycleAfter(afterEnd: number | null, accountCreatedAt: number, billingDay: number): Cycle {
  if (afterEnd === null) return cycleContaining(accountCreatedAt, billingDay);
  return { start: afterEnd, end: cycleContaining(afterEnd, billingDay).end };
}

/** The cycle of the chain that contains `now` (the one a preview shows). */
export function currentCycle(afterEnd: number | null, accountCreatedAt: number, now: number, billingDay: number): Cycle {
  let cycle = cycleAfter(afterEnd, accountCreatedAt, billingDay);
  while (cycle.end <= now) cycle = nextCycle(cycle, billingDay);
  return cycle;
}

/**
 * The cycles to finalize now, oldest first: every cycle that has ended by `now` and ends after
 * `afterEnd` (the end of the last finalized cycle; null = none yet, start with the cycle that
 * contains `accountCreatedAt`). At most `max`, so a long-missed backlog is caught up over runs.
 *
 * Cycles follow on without gap or overlap from `afterEnd`: if billing_day changed since, the first
 * cycle runs from `afterEnd` to the next boundary of the new billing day (a short cycle), rather
 * than re-billing time already finalized.
 */
export function endedCyclesSince(
  afterEnd: number | null,
  accountCreatedAt: number,
  now: number,
  billingDay: number,
  max: number = MAX_CYCLES_PER_RUN,
): Cycle[] {
  let cycle = cycleAfter(afterEnd, accountCreatedAt, billingDay);
  const ended: Cycle[] = [];
  while (cycle.end <= now && ended.length < max) {
    ended.push(cycle);
    cycle = nextCycle(cycle, billingDay);
  }
  return ended;
}
