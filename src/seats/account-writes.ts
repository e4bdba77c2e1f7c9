import type { PoolId } from "../domain/catalog";
import { refusePoolQuantity } from "../domain/licenses";
import { normalizeAlerts } from "../domain/thresholds";
import { refuseCeiling } from "../domain/teams";
import type { GracePolicy } from "../domain/overage";
import * as writes from "../db/roster-writes";
import { fail, ok, type Result } from "../errors";
import { poolViewOf, type House } from "./house";
import { refusalError } from "./refusal";
import type { PoolView } from "./views";

/* The account's own admin writes: its settings and its pools (each through the one admin sequence, ./admin-write.ts). */

export interface SettingsPatch {
  name?: string;
  billing_day?: number;
  grace_seconds?: number;
  grace_policy?: GracePolicy;
  lease_ttl_seconds?: number;
  reconnect_grace_seconds?: number;
  max_sessions_per_user?: number;
  warn_before_grace_end_seconds?: number;
}

export function updateSettings(h: House, patch: SettingsPatch, actor: string): Promise<Result<null>> {
  return h.admin.run(actor, () => {
    if (Object.values(patch).every((v) => v === undefined)) return ok(null);
    const { name, billing_day: billingDay, grace_seconds: graceSeconds, grace_policy: gracePolicy, lease_ttl_seconds: leaseTtlSeconds, reconnect_grace_seconds: reconnectGraceSeconds, max_sessions_per_user: maxSessionsPerUser, warn_before_grace_end_seconds: warnBeforeGraceEndSeconds } = patch;
    return {
      writes: [writes.updateAccountSettings(h.db, h.accountId, { name, billingDay, graceSeconds, gracePolicy, leaseTtlSeconds, reconnectGraceSeconds, maxSessionsPerUser, warnBeforeGraceEndSeconds })],
      audit: [{ action: "account.update", target: h.accountId, detail: { ...patch } }],
      apply: () => {
        h.roster.updateSettings({ billingDay, graceSeconds, gracePolicy, leaseTtlSeconds, reconnectGraceSeconds, maxSessionsPerUser, warnBeforeGraceEndSeconds });
        return null;
      },
    };
  });
}

/** `maxActive` undefined keeps the pool's ceiling; null removes it. `alerts` undefined keeps the pool's list. */
export function putPool(h: House, pool: PoolId, quantity: number, requestedMaxActive: number | null | undefined, actor: string, requestedAlerts?: readonly number[]): Promise<Result<PoolView>> {
  return h.admin.run(actor, (now, at) => {
    const before = h.roster.pools.get(pool);
    const maxActive = requestedMaxActive === undefined ? (before?.maxActive ?? null) : requestedMaxActive;
    const alerts = requestedAlerts === undefined ? (before?.alerts ?? null) : normalizeAlerts(requestedAlerts);
    const refusal = refusePoolQuantity(h.roster.state(), pool, quantity, maxActive) ?? refuseCeiling(pool, maxActive, h.roster.limitsOf(pool));
    if (refusal) return fail(refusalError(refusal));
    return {
      writes: [writes.upsertPool(h.db, h.accountId, pool, quantity, maxActive, at, alerts)],
      audit: [
        {
          action: before ? "pool.update" : "pool.create",
          target: pool,
          detail: { quantity, max_active: maxActive, previous_quantity: before?.quantity ?? null, ...(requestedAlerts === undefined ? {} : { alerts }) },
        },
      ],
      apply: () => {
        h.roster.setPool(pool, { quantity, maxActive, ...(alerts === null ? {} : { alerts }) });
        // A new list is not a crossing: thresholds already reached start spent (docs/licensing.md#thresholds).
        h.alerts.configurePool(pool, h.seats.active(pool), quantity);
        if (before?.quantity !== quantity) {
          h.activity.expireDue(now);
          h.activity.record(pool, now);
        }
        // A raised ceiling (or quantity) may let waiters in.
        h.waitlist.serve([pool]);
        return poolViewOf(h, pool);
      },
    };
  });
}
