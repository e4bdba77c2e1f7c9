import type { PoolId } from "../domain/catalog";
import * as writes from "../db/roster-writes";
import { fail, notFound, ok, type Result } from "../errors";
import { endSessionsOf, unknownUser, type House } from "./house";

/*
 * Admin writes about one user: removal, a forced release of their seat, and their agent tokens'
 * generation. Each goes through the one admin sequence (./admin-write.ts).
 */

export function deleteUser(h: House, userId: string, actor: string): Promise<Result<null>> {
  return h.admin.run(actor, async (now) => {
    const unknown = await unknownUser(h, userId);
    if (unknown) return unknown;
    // Before D1, and kept after the user is gone: a user created again never accepts these tokens.
    h.tokens.bump(userId);
    return {
      writes: [writes.deleteUserAddons(h.db, h.accountId, userId), writes.deleteLicense(h.db, h.accountId, userId), writes.deleteUser(h.db, h.accountId, userId)],
      audit: [{ action: "user.delete", target: userId, detail: { pool: h.roster.licenseOf(userId) ?? null } }],
      apply: () => {
        h.roster.revokeLicense(userId);
        h.roster.setTeam(userId, null);
        h.tickets.revokeUser(userId);
        endSessionsOf(h, userId, now, "user_deleted");
        return null;
      },
    };
  });
}

export function forceRelease(h: House, pool: PoolId, userId: string, actor: string): Promise<Result<null>> {
  return h.admin.run(actor, async (now) => {
    if (!h.roster.pools.has(pool)) return fail(notFound(`Pool ${pool}`));
    const unknown = await unknownUser(h, userId);
    if (unknown) return unknown;
    if (h.seats.holders.get(userId)?.pool !== pool) return ok(null);
    return {
      writes: [],
      audit: [{ action: "seat.force_release", target: userId, detail: { pool } }],
      apply: () => {
        endSessionsOf(h, userId, now, "seat_released");
        return null;
      },
    };
  });
}

/** The generation a new agent token of the user carries; the mint is audited (never the token). */
export function agentTokenGeneration(h: House, userId: string, ttlSeconds: number, actor: string): Promise<Result<number>> {
  return h.admin.run(actor, async () => {
    const unknown = await unknownUser(h, userId);
    if (unknown) return unknown;
    return { writes: [], audit: [{ action: "agent_token.mint", target: userId, detail: { ttl_seconds: ttlSeconds } }], apply: () => h.tokens.of(userId) };
  });
}

/** Every agent token of the user minted so far stops working, and the user's sessions end. */
export function revokeAgentTokens(h: House, userId: string, actor: string): Promise<Result<null>> {
  return h.admin.run(actor, async (now) => {
    const unknown = await unknownUser(h, userId);
    if (unknown) return unknown;
    // Fail closed: raised before D1 hears of it, so an error never leaves the old tokens working.
    const generation = h.tokens.bump(userId);
    return {
      writes: [writes.setTokenGeneration(h.db, h.accountId, userId, generation)],
      audit: [{ action: "agent_token.revoke", target: userId, detail: { generation } }],
      apply: () => {
        h.tickets.revokeUser(userId);
        endSessionsOf(h, userId, now, "tokens_revoked");
        return null;
      },
    };
  });
}
