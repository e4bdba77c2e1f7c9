import { randomToken } from "../auth/crypto";
import { writeBatch } from "../db/batch";
import type { Db } from "../db/client";
import * as store from "../db/scim";
import type { RawStatement } from "../db/scim";
import type { ProvisioningPlan } from "../domain/provisioning";
import type { Env } from "../env";
import { unwrap, type Result } from "../errors";
import { seatsOf } from "../seats/stub";
import { iso } from "../time";
import { applyPatch, patchOperations } from "./patch";
import { invalidValue, ScimError } from "./protocol";
import { parseGroup, parseUser, patchableUser, primaryEmail, renderGroup, USER_ID_PATTERN, type GroupRecord, type ScimUserInput, type UserRecord } from "./resources";
import { EMPTY_STATE, licenseChange, type GroupRule, type LicenseChange, type UserState } from "./rules";

/**
 * SCIM writes: read the state, work out the license changes (rules.ts), and send them with the
 * SCIM rows to the account's Durable Object, which applies everything or nothing. Every audit
 * entry carries the actor `scim:<key id>`.
 */

export interface ScimContext {
  env: Env;
  db: Db;
  accountId: string;
  actor: string;
  /** `https://host/scim/v2`, for `location` and `$ref`. */
  base: string;
}

type Audit = { action: string; target: string; detail?: Record<string, unknown> };

/** Sends one provisioning step to the account's object; a refusal becomes a SCIM error. */
async function apply(
  ctx: ScimContext,
  changes: LicenseChange[],
  statements: RawStatement[],
  audit: Audit[],
  creates: string[] = [],
  /** Answer a refusal as the admin API does (problem+json) instead of as SCIM. */
  asApi = false,
): Promise<ProvisioningPlan> {
  const teams = changes.filter((c) => c.team !== undefined).map((c) => ({ user_id: c.user_id, team: c.team ?? null }));
  const all = teams.length ? [...statements, store.setTeams(ctx.accountId, teams)] : statements;
  const licenseChanges = changes
    .filter((c) => c.pool !== undefined || c.addons_add || c.addons_remove)
    .map(({ user_id, pool, addons_add, addons_remove }) => ({ user_id, pool, addons_add, addons_remove }));
  const result = (await seatsOf(ctx.env, ctx.accountId).applyProvisioning({ changes: licenseChanges, statements: all, audit, creates, teams }, ctx.actor)) as Result<ProvisioningPlan>;
  if (result.ok) return result.value;
  if (asApi) return unwrap(result);
  throw scimErrorFrom(result.error);
}

/** The admin API's refusals, in the SCIM error shape (the Seatkeeper code rides along). */
export function scimErrorFrom(e: { status: number; code: string; detail: string }): ScimError {
  if (e.code === "not_found" && /Pool \S+ was not found/.test(e.detail)) return new ScimError(400, `${e.detail} Buy the pool first, or set another.`, "invalidValue", e.code);
  if (e.status === 409) return new ScimError(409, e.detail, undefined, e.code);
  if (e.status === 400) return new ScimError(400, e.detail, "invalidValue", e.code);
  return new ScimError(e.status as 404, e.detail, undefined, e.code);
}

/**
 * Runs one SCIM write (or a rules change) in its turn at the account's object (src/seats/turns.ts):
 * each reads D1 and then sends changes worked out from what it read, so two at once could read
 * the same user and the second undo the first (decision 230).
 */
export async function inTurn<T>(env: Env, accountId: string, write: () => Promise<T>): Promise<T> {
  const seats = seatsOf(env, accountId);
  const turn = (await seats.scimTurn()) as string;
  try {
    return await write();
  } finally {
    // Not given back (the object unreachable), the turn ends with its lease.
    await seats.scimTurn(turn).catch((err: unknown) => console.warn(`SCIM turn of ${accountId} not given back`, err));
  }
}

const stateOf = (u: UserRecord): UserState => ({
  active: u.scim?.active ?? true,
  attrs: u.scim?.attrs ?? { pool: null, addons: [], team: null },
  groups: u.groups.map((g) => g.displayName),
});

function userWrite(id: string, input: ScimUserInput, at: string): store.ScimUserWrite {
  return {
    userId: id,
    userName: input.userName,
    externalId: input.externalId,
    active: input.active,
    name: input.name,
    emails: input.emails,
    attrs: input.attrs,
    displayName: input.displayName,
    email: primaryEmail(input.emails),
    at,
  };
}

const auditDetail = (input: ScimUserInput) => ({
  userName: input.userName,
  externalId: input.externalId,
  active: input.active,
  pool: input.attrs.pool,
  addons: input.attrs.addons,
  team: input.attrs.team,
});

// ------------------------------------------------------------------ users

export async function createUser(ctx: ScimContext, body: unknown): Promise<UserRecord> {
  const input = parseUser(body);
  if (!USER_ID_PATTERN.test(input.userName)) {
    throw invalidValue("userName becomes the user id, so it must match ^[A-Za-z0-9][A-Za-z0-9._@-]{0,127}$ (an e-mail address or login).");
  }
  const taken = await store.userIdByUserName(ctx.db, ctx.accountId, input.userName);
  if (taken !== null || (await store.existingUserIds(ctx.db, ctx.accountId, [input.userName])).size) {
    throw new ScimError(409, `A user with userName ${input.userName} already exists.`, "uniqueness");
  }
  const { rules } = await store.getRules(ctx.db, ctx.accountId);
  const id = input.userName;
  const after: UserState = { active: input.active, attrs: input.attrs, groups: [] };
  const change = licenseChange(id, EMPTY_STATE, after, rules);
  const at = iso(Date.now());
  try {
    await apply(ctx, change ? [change] : [], store.putScimUser(ctx.accountId, userWrite(id, input, at)), [{ action: "scim.user.create", target: id, detail: auditDetail(input) }], [id]);
  } catch (err) {
    // Two creates of one userName at once: the second one's insert loses the race.
    if (!(err instanceof ScimError) && (await store.userIdByUserName(ctx.db, ctx.accountId, input.userName)) !== null) {
      throw new ScimError(409, `A user with userName ${input.userName} already exists.`, "uniqueness");
    }
    throw err;
  }
  return (await store.loadUser(ctx.db, ctx.accountId, id))!;
}

async function mustLoadUser(ctx: ScimContext, id: string): Promise<UserRecord> {
  const user = await store.loadUser(ctx.db, ctx.accountId, id);
  if (!user) throw new ScimError(404, `User ${id} was not found.`);
  return user;
}

export const getUser = mustLoadUser;

/** PUT and PATCH end here: the user becomes `input`; the license follows the difference. */
async function writeUser(ctx: ScimContext, current: UserRecord, input: ScimUserInput, action: string): Promise<UserRecord> {
  const currentName = current.scim?.userName ?? current.id;
  if (input.userName.toLowerCase() !== currentName.toLowerCase()) {
    const other = await store.userIdByUserName(ctx.db, ctx.accountId, input.userName);
    if (other !== null && other !== current.id) throw new ScimError(409, `A user with userName ${input.userName} already exists.`, "uniqueness");
  }
  const { rules } = await store.getRules(ctx.db, ctx.accountId);
  const before = stateOf(current);
  const change = licenseChange(current.id, before, { ...before, active: input.active, attrs: input.attrs }, rules);
  const at = iso(Date.now());
  await apply(ctx, change ? [change] : [], store.putScimUser(ctx.accountId, userWrite(current.id, input, at)), [
    { action, target: current.id, detail: auditDetail(input) },
  ]);
  return mustLoadUser(ctx, current.id);
}

export async function replaceUser(ctx: ScimContext, id: string, body: unknown): Promise<UserRecord> {
  const current = await mustLoadUser(ctx, id);
  return writeUser(ctx, current, parseUser(body), "scim.user.replace");
}

export async function patchUser(ctx: ScimContext, id: string, body: unknown): Promise<UserRecord> {
  const ops = patchOperations(body);
  const current = await mustLoadUser(ctx, id);
  const patched = applyPatch(patchableUser(current, ctx.base), ops);
  return writeUser(ctx, current, parseUser(patched), "scim.user.patch");
}

/** Deletes the user through the account's object (license, add-ons, sessions, agent tokens), then its SCIM rows. */
export async function deleteUser(ctx: ScimContext, id: string): Promise<void> {
  const result = (await seatsOf(ctx.env, ctx.accountId).deleteUser(id, ctx.actor)) as Result<null>;
  if (!result.ok) throw scimErrorFrom(result.error);
  // Rows of a user that no longer exists are never shown (every read joins users), so a failure
  // here leaves nothing visible; a new user of the same id replaces them.
  await writeBatch(ctx.env.DB, store.deleteScimUser(ctx.accountId, id).map((s) => ({ toSQL: () => s })));
}

// ------------------------------------------------------------------ groups

async function mustLoadGroup(ctx: ScimContext, id: string): Promise<GroupRecord> {
  const group = await store.loadGroup(ctx.db, ctx.accountId, id);
  if (!group) throw new ScimError(404, `Group ${id} was not found.`);
  return group;
}

export const getGroup = mustLoadGroup;

/**
 * A group becomes `next` (name and members). Every user who joins, leaves, or stays while the
 * group is renamed is judged again against the rules; all their license changes apply together.
 */
async function writeGroup(
  ctx: ScimContext,
  current: GroupRecord | null,
  id: string,
  next: { displayName: string; externalId: string | null; members: string[] },
  action: string,
): Promise<GroupRecord> {
  const other = await store.groupIdByName(ctx.db, ctx.accountId, next.displayName);
  if (other !== null && other !== id) throw new ScimError(409, `A group named ${next.displayName} already exists.`, "uniqueness");
  const known = await store.existingUserIds(ctx.db, ctx.accountId, next.members);
  const missing = next.members.filter((m) => !known.has(m));
  if (missing.length) throw invalidValue(`members name users that do not exist: ${missing.slice(0, 5).join(", ")}${missing.length > 5 ? ", …" : ""}.`);
  const was = new Set(current?.members.map((m) => m.id) ?? []);
  const will = new Set(next.members);
  const affected = [...new Set([...was, ...will])];
  const { rules } = await store.getRules(ctx.db, ctx.accountId);
  const states = await store.licenseStates(ctx.db, ctx.accountId, affected);
  const oldName = current?.displayName.toLowerCase();
  const changes: LicenseChange[] = [];
  for (const userId of affected) {
    const before = states.get(userId)!;
    const others = before.groups.filter((g) => g.toLowerCase() !== oldName);
    const after = { ...before, groups: will.has(userId) ? [...others, next.displayName] : others };
    const change = licenseChange(userId, before, after, rules);
    if (change) changes.push(change);
  }
  const at = iso(Date.now());
  const add = next.members.filter((m) => !was.has(m));
  const remove = [...was].filter((m) => !will.has(m));
  await apply(
    ctx,
    changes,
    [store.putGroup(ctx.accountId, { id, displayName: next.displayName, externalId: next.externalId, at }), ...store.setMembers(ctx.accountId, id, add, remove)],
    [{ action, target: id, detail: { displayName: next.displayName, added: add.length, removed: remove.length, ...(add.length <= 50 ? { added_users: add } : {}), ...(remove.length <= 50 ? { removed_users: remove } : {}) } }],
  );
  return mustLoadGroup(ctx, id);
}

export async function createGroup(ctx: ScimContext, body: unknown): Promise<GroupRecord> {
  const input = parseGroup(body);
  return writeGroup(ctx, null, `grp_${randomToken(9)}`, input, "scim.group.create");
}

export async function replaceGroup(ctx: ScimContext, id: string, body: unknown): Promise<GroupRecord> {
  const current = await mustLoadGroup(ctx, id);
  return writeGroup(ctx, current, id, parseGroup(body), "scim.group.replace");
}

export async function patchGroup(ctx: ScimContext, id: string, body: unknown): Promise<GroupRecord> {
  const ops = patchOperations(body);
  const current = await mustLoadGroup(ctx, id);
  const patched = applyPatch(renderGroup(current, ctx.base) as unknown as Record<string, unknown>, ops);
  return writeGroup(ctx, current, id, parseGroup(patched), "scim.group.patch");
}

export async function deleteGroup(ctx: ScimContext, id: string): Promise<void> {
  const current = await mustLoadGroup(ctx, id);
  const members = current.members.map((m) => m.id);
  const { rules } = await store.getRules(ctx.db, ctx.accountId);
  const states = await store.licenseStates(ctx.db, ctx.accountId, members);
  const name = current.displayName.toLowerCase();
  const changes = members
    .map((userId) => {
      const before = states.get(userId)!;
      return licenseChange(userId, before, { ...before, groups: before.groups.filter((g) => g.toLowerCase() !== name) }, rules);
    })
    .filter((c): c is LicenseChange => c !== null);
  await apply(ctx, changes, store.deleteGroup(ctx.accountId, id), [{ action: "scim.group.delete", target: id, detail: { displayName: current.displayName, members: members.length } }]);
}

// ------------------------------------------------------------------ rules

/**
 * New group rules: every member of a group named in the old or the new rules is judged again,
 * and their license changes apply with the rules, all or nothing.
 */
export async function putRules(env: Env, db: Db, accountId: string, rules: GroupRule[], actor: string): Promise<ProvisioningPlan> {
  const old = (await store.getRules(db, accountId)).rules;
  const names = [...new Set([...old, ...rules].map((r) => r.group.toLowerCase()))];
  const members = await store.membersOfGroupsNamed(db, accountId, names);
  const states = await store.licenseStates(db, accountId, members);
  const changes = members.map((id) => licenseChange(id, states.get(id)!, states.get(id)!, rules, old)).filter((c): c is LicenseChange => c !== null);
  const at = iso(Date.now());
  const ctx: ScimContext = { env, db, accountId, actor, base: "" };
  return apply(ctx, changes, [store.putRules(accountId, rules, at)], [{ action: "provisioning.rules.put", target: accountId, detail: { rules } }], [], true);
}
