/**
 * Money on a billing summary, from the account's own price list: integer minor units of one
 * currency, so every figure is exact. A seat is priced for a whole cycle (a preview shows what the
 * running cycle will cost for its seats, and its billable overage so far).
 */

/** Per pool a seat for one cycle and one billable overage seat for one cycle; per add-on a seat for one cycle. */
export interface PriceList {
  currency: string;
  pools: Record<string, { seat: number; overage_seat: number }>;
  addons: Record<string, { seat: number }>;
}

export interface SummaryAmounts {
  currency: string;
  pools: { pool: string; seats: number; overage: number; total: number }[];
  addons: { product: string; amount: number }[];
  total: number;
}

interface Priceable {
  pools: readonly { pool: string; quantity: number; billable_overage_seats: number }[];
  addons: readonly { product: string; purchased: number }[];
}

/** The amounts of a summary's lines that the list prices; unpriced lines are left out. */
export function summaryAmounts(summary: Priceable, prices: PriceList): SummaryAmounts {
  const pools = summary.pools.flatMap((line) => {
    const price = prices.pools[line.pool];
    if (!price) return [];
    const seats = line.quantity * price.seat;
    const overage = line.billable_overage_seats * price.overage_seat;
    return [{ pool: line.pool, seats, overage, total: seats + overage }];
  });
  const addons = summary.addons.flatMap((line) => {
    const price = prices.addons[line.product];
    return price ? [{ product: line.product, amount: line.purchased * price.seat }] : [];
  });
  const total = pools.reduce((n, p) => n + p.total, 0) + addons.reduce((n, a) => n + a.amount, 0);
  return { currency: prices.currency, pools, addons, total };
}
