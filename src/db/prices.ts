import { eq } from "drizzle-orm";
import type { Db } from "./client";
import type { PriceList } from "../domain/pricing";
import { accountPrices } from "./schema";

export type { PriceList };

export async function findPrices(db: Db, accountId: string): Promise<PriceList | null> {
  const row = await db.select().from(accountPrices).where(eq(accountPrices.accountId, accountId)).get();
  if (!row) return null;
  const body = row.prices as Omit<PriceList, "currency">;
  return { currency: row.currency, pools: body.pools ?? {}, addons: body.addons ?? {} };
}

export function upsertPrices(db: Db, accountId: string, list: PriceList, at: string) {
  const prices = { pools: list.pools, addons: list.addons };
  return db
    .insert(accountPrices)
    .values({ accountId, currency: list.currency, prices, updatedAt: at })
    .onConflictDoUpdate({ target: accountPrices.accountId, set: { currency: list.currency, prices, updatedAt: at } });
}

export function deletePrices(db: Db, accountId: string) {
  return db.delete(accountPrices).where(eq(accountPrices.accountId, accountId));
}
