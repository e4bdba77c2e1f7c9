import { describe, expect, it } from "vitest";
import { summaryAmounts } from "../../src/domain/pricing";

describe("summaryAmounts", () => {
  const prices = {
    currency: "EUR",
    pools: { "premium-concurrent": { seat: 10_000, overage_seat: 15_000 }, "elite-named": { seat: 20_000, overage_seat: 0 } },
    addons: { workforce_management: { seat: 1_500 } },
  };

  it("prices seats for the cycle and each billable overage seat, and leaves unpriced lines out", () => {
    const amounts = summaryAmounts(
      {
        pools: [
          { pool: "premium-concurrent", quantity: 100, billable_overage_seats: 4 },
          { pool: "elite-named", quantity: 10, billable_overage_seats: 0 },
          { pool: "essentials-concurrent", quantity: 50, billable_overage_seats: 9 },
        ],
        addons: [
          { product: "workforce_management", purchased: 30 },
          { product: "quality_management", purchased: 5 },
        ],
      },
      prices,
    );
    expect(amounts).toEqual({
      currency: "EUR",
      pools: [
        { pool: "premium-concurrent", seats: 1_000_000, overage: 60_000, total: 1_060_000 },
        { pool: "elite-named", seats: 200_000, overage: 0, total: 200_000 },
      ],
      addons: [{ product: "workforce_management", amount: 45_000 }],
      total: 1_060_000 + 200_000 + 45_000,
    });
  });
});
