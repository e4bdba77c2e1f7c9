import type { AddonProduct, PerSeatProduct } from "../domain/catalog";
import { addonReport, assignOutcome, checkAssign, checkPurchase, grantSourceBy, type AddonReportRow, type GrantSource } from "../domain/addons";
import * as writes from "../db/roster-writes";
import { fail, ok, type Result } from "../errors";
import { pushingEntitlements, unknownUser, type House } from "./house";
import { refusalError } from "./refusal";

/*
 * Add-on purchases and assignments (rules: src/domain/addons.ts). Each goes through the one admin
 * sequence (./admin-write.ts), and every connected user whose entitlements it changed is told.
 */

export function putAddonPurchase(h: House, product: AddonProduct, quantity: number, actor: string): Promise<Result<AddonReportRow>> {
  return pushingEntitlements(h, () =>
    h.admin.run(actor, (_now, at) => {
      const refusal = checkPurchase(h.roster.state(), product, quantity);
      if (refusal) return fail(refusalError(refusal, { product }));
      return {
        writes: [writes.upsertAddonPurchase(h.db, h.accountId, product, quantity, at)],
        audit: [{ action: "addon.purchase", target: product, detail: { quantity, previous: h.roster.purchased.get(product) ?? 0 } }],
        apply: () => {
          h.roster.setPurchase(product, quantity);
          return addonReport(h.roster.state()).find((row) => row.product === product)!;
        },
      };
    }),
  );
}

export function assignAddon(h: House, userId: string, product: PerSeatProduct, actor: string): Promise<Result<{ user_id: string; product: PerSeatProduct; source: GrantSource }>> {
  return pushingEntitlements(h, () =>
    h.admin.run(actor, async (now, at) => {
      const unknown = await unknownUser(h, userId);
      if (unknown) return unknown;
      const refusal = checkAssign(h.roster.state(), userId, product);
      // An unlicensed user conflicts with an admin's add-on assignment: 409, not the checkout's 403.
      if (refusal) return fail(refusalError(refusal, { user_id: userId, product }, refusal.code === "no_license" ? 409 : undefined));
      const granted = () => ({ user_id: userId, product, source: grantSourceBy(h.roster, userId, product)! });
      const recorded = h.roster.assignedAt(userId, product) !== undefined;
      if (recorded || assignOutcome(h.roster.state(), userId, product) !== "record") return ok(granted());
      const seq = h.roster.nextSeq(now);
      return {
        writes: [writes.insertAddonAssignment(h.db, h.accountId, userId, product, seq, at)],
        audit: [{ action: "addon.assign", target: userId, detail: { product } }],
        apply: () => {
          h.roster.assign(userId, product, seq);
          return granted();
        },
      };
    }),
  );
}

export function unassignAddon(h: House, userId: string, product: PerSeatProduct, actor: string): Promise<Result<null>> {
  return pushingEntitlements(h, () =>
    h.admin.run(actor, async () => {
      const unknown = await unknownUser(h, userId);
      if (unknown) return unknown;
      if (h.roster.assignedAt(userId, product) === undefined) return ok(null);
      return {
        writes: [writes.deleteAddonAssignment(h.db, h.accountId, userId, product)],
        audit: [{ action: "addon.unassign", target: userId, detail: { product } }],
        apply: () => {
          h.roster.unassign(userId, product);
          return null;
        },
      };
    }),
  );
}
