import type { PoolId } from "../domain/catalog";
import { refuseAssignment, refuseBatch, type LicenseBatch } from "../domain/licenses";
import { emptyPlan, planProvisioning, type ProvisioningChange, type ProvisioningPlan } from "../domain/provisioning";
import * as writes from "../db/roster-writes";
import { ApiError, fail, ok, type Result } from "../errors";
import { endSessionsOf, unknownUser, type House } from "./house";
import { refusalError } from "./refusal";
import { teamChanged } from "./team-seats";

/*
 * Who holds which license: one user, a batch, and provisioning (SCIM, group rules). Each goes
 * through the one admin sequence (./admin-write.ts); the rules are src/domain/licenses.ts and
 * src/domain/provisioning.ts. A user who loses or moves a license checks out again.
 */

export function assignLicense(h: House, userId: string, pool: PoolId, actor: string): Promise<Result<{ user_id: string; pool: PoolId }>> {
  return h.admin.run(actor, async (now, at) => {
    const unknown = await unknownUser(h, userId);
    if (unknown) return unknown;
    const refusal = refuseAssignment(h.roster.state(), userId, pool);
    if (refusal) return fail(refusalError(refusal));
    const previous = h.roster.licenseOf(userId) ?? null;
    if (previous === pool) return ok({ user_id: userId, pool });
    return {
      writes: [writes.upsertLicense(h.db, h.accountId, userId, pool, at)],
      audit: [{ action: "license.assign", target: userId, detail: { pool, previous } }],
      apply: () => {
        h.roster.setLicense(userId, pool);
        // A moved user's desktop checks out again and lands in the new pool.
        if (previous) endSessionsOf(h, userId, now, "license_moved");
        return { user_id: userId, pool };
      },
    };
  });
}

export function revokeLicense(h: House, userId: string, actor: string): Promise<Result<null>> {
  return h.admin.run(actor, async (now) => {
    const unknown = await unknownUser(h, userId);
    if (unknown) return unknown;
    const previous = h.roster.licenseOf(userId);
    if (!previous) return ok(null);
    return {
      writes: [writes.deleteLicense(h.db, h.accountId, userId), writes.deleteUserAddons(h.db, h.accountId, userId)],
      audit: [{ action: "license.revoke", target: userId, detail: { pool: previous } }],
      apply: () => {
        h.roster.revokeLicense(userId);
        endSessionsOf(h, userId, now, "license_revoked");
        return null;
      },
    };
  });
}

/** All or nothing, judged on the state the batch leaves (src/domain/licenses.ts). */
export function applyLicenseBatch(h: House, batch: LicenseBatch, actor: string): Promise<Result<{ assigned: number; revoked: number }>> {
  return h.admin.run(actor, async (now, at) => {
    const ids = [...batch.revoke, ...batch.assign.map((a) => a.user_id)];
    const unknown = await unknownUsers(h, ids);
    if (unknown) return unknown;
    const refusal = refuseBatch(h.roster.state(), batch);
    if (refusal) return fail(refusalError(refusal));
    const held = h.roster.state().licenses;
    const revoked = batch.revoke.filter((id) => held.has(id));
    // The route refuses a user named twice, so no user is both revoked and assigned here.
    const assign = batch.assign.filter((a) => held.get(a.user_id) !== a.pool);
    if (revoked.length + assign.length === 0) return ok({ assigned: 0, revoked: 0 });
    return {
      writes: [...writes.deleteLicenses(h.db, h.accountId, revoked), writes.upsertLicenses(h.db, h.accountId, assign, at)],
      audit: [
        ...revoked.map((id) => ({ action: "license.revoke", target: id, detail: { pool: held.get(id), batch: true } })),
        ...assign.map((a) => ({ action: "license.assign", target: a.user_id, detail: { pool: a.pool, previous: held.get(a.user_id) ?? null, batch: true } })),
      ],
      apply: () => {
        const moved = new Set([...revoked, ...assign.filter((a) => held.has(a.user_id)).map((a) => a.user_id)]);
        for (const userId of revoked) h.roster.revokeLicense(userId);
        for (const { user_id, pool } of assign) h.roster.setLicense(user_id, pool);
        for (const userId of moved) endSessionsOf(h, userId, now, h.roster.licenseOf(userId) !== undefined ? "license_moved" : "license_revoked");
        return { assigned: assign.length, revoked: revoked.length };
      },
    };
  });
}

export interface ProvisioningInput {
  changes: ProvisioningChange[];
  /** The caller's own rows (the SCIM records), written in the same D1 batch. */
  statements: { sql: string; params: unknown[] }[];
  audit: { action: string; target: string; detail?: Record<string, unknown> }[];
  /** Users the statements insert, so they need not exist yet. */
  creates: string[];
  /** Teams the statements set (null clears): the roster learns them with the rest. */
  teams?: { user_id: string; team: string | null }[];
}

/**
 * Provisioning (SCIM, group rules) as one step: license and add-on changes for many users,
 * judged together by domain/provisioning.ts with the admin API's rules, written in one D1 batch
 * with the caller's own rows and audit entries. All or nothing.
 */
export function applyProvisioning(h: House, input: ProvisioningInput, actor: string): Promise<Result<ProvisioningPlan>> {
  return h.admin.run(actor, async (now, at) => {
    const creates = new Set(input.creates);
    const unknown = await unknownUsers(h, input.changes.map((c) => c.user_id).filter((id) => !creates.has(id)));
    if (unknown) return unknown;
    const decided = planProvisioning(h.roster.state(), input.changes);
    if ("refusal" in decided) return fail(refusalError(decided.refusal, {}, decided.refusal.code === "no_license" ? 409 : undefined));
    const plan = decided.plan;
    if (emptyPlan(plan) && input.statements.length === 0) return ok(plan);
    const seqs = plan.addonsAdd.map(() => h.roster.nextSeq(now));
    const held = new Map(h.roster.state().licenses);
    return {
      writes: [
        ...input.statements.map((s) => ({ toSQL: () => s })),
        ...(plan.revoke.length ? writes.deleteLicenses(h.db, h.accountId, plan.revoke) : []),
        ...(plan.assign.length ? [writes.upsertLicenses(h.db, h.accountId, plan.assign, at)] : []),
        ...plan.addonsRemove.map((a) => writes.deleteAddonAssignment(h.db, h.accountId, a.user_id, a.product)),
        ...plan.addonsAdd.map((a, i) => writes.insertAddonAssignment(h.db, h.accountId, a.user_id, a.product, seqs[i], at)),
      ],
      audit: [
        ...input.audit,
        ...plan.revoke.map((id) => ({ action: "license.revoke", target: id, detail: { pool: held.get(id) } })),
        ...plan.assign.map((a) => ({ action: "license.assign", target: a.user_id, detail: { pool: a.pool, previous: a.previous } })),
        ...plan.addonsRemove.map((a) => ({ action: "addon.unassign", target: a.user_id, detail: { product: a.product } })),
        ...plan.addonsAdd.map((a) => ({ action: "addon.assign", target: a.user_id, detail: { product: a.product } })),
      ],
      apply: () => {
        for (const t of input.teams ?? []) teamChanged(h, t.user_id, t.team, now);
        for (const id of plan.revoke) h.roster.revokeLicense(id);
        for (const a of plan.assign) h.roster.setLicense(a.user_id, a.pool);
        for (const a of plan.addonsRemove) h.roster.unassign(a.user_id, a.product);
        plan.addonsAdd.forEach((a, i) => h.roster.assign(a.user_id, a.product, seqs[i]));
        // A revoked or moved user's desktop checks out again (and lands in the new pool, or nowhere).
        for (const id of [...plan.revoke, ...plan.assign.filter((a) => a.previous !== null).map((a) => a.user_id)]) h.activity.endSessionsOf(id, now);
        return plan;
      },
    };
  });
}

/** A 404 naming the first of `ids` the account does not have (one D1 read for all of them). */
async function unknownUsers(h: House, ids: string[]): Promise<Result<never> | null> {
  const known = await writes.existingUsers(h.db, h.accountId, ids);
  const unknown = ids.find((id) => !known.has(id));
  return unknown === undefined ? null : fail(new ApiError("not_found", `User ${unknown} was not found.`, { user_id: unknown }));
}
