import { sql, SQL } from "drizzle-orm";
import { SQLiteAsyncDialect } from "drizzle-orm/sqlite-core";
import type { Db } from "./client";
import { isPerSeatProduct, isPoolId, type PoolId } from "../domain/catalog";
import type { LicenseAttrs, ScimEmail, ScimName, UserRecord, GroupRecord } from "../scim/resources";
import type { GroupRule } from "../scim/rules";

/**
 * The SCIM tables (migration 0004): reads, and writes as plain { sql, params } so they can cross
 * to the account's Durable Object and land in the same D1 batch as the license change they go with.
 */

export interface RawStatement {
  sql: string;
  params: unknown[];
}

const dialect = new SQLiteAsyncDialect();
export const raw = (q: SQL): RawStatement => {
  const { sql: text, params } = dialect.sqlToQuery(q);
  return { sql: text, params };
};

// ------------------------------------------------------------------ users

interface UserRow {
  id: string;
  display_name: string | null;
  email: string | null;
  team: string | null;
  created_at: string;
  pool_id: string | null;
  s_user_id: string | null;
  user_name: string | null;
  external_id: string | null;
  active: number | null;
  name: string | null;
  emails: string | null;
  pool_attr: string | null;
  addons_attr: string | null;
  team_attr: string | null;
  version: number | null;
  updated_at: string | null;
}

const USER_SELECT = sql`
  SELECT u.id, u.display_name, u.email, u.team, u.created_at, l.pool_id,
         s.user_id AS s_user_id, s.user_name, s.external_id, s.active, s.name, s.emails,
         s.pool_attr, s.addons_attr, s.team_attr, s.version, s.updated_at
  FROM users u
  LEFT JOIN scim_users s ON s.account_id = u.account_id AND s.user_id = u.id
  LEFT JOIN licenses l ON l.account_id = u.account_id AND l.user_id = u.id`;

function attrsOf(r: UserRow): LicenseAttrs {
  const addons = (JSON.parse(r.addons_attr ?? "[]") as string[]).filter(isPerSeatProduct);
  return { pool: r.pool_attr && isPoolId(r.pool_attr) ? (r.pool_attr as PoolId) : null, addons, team: r.team_attr };
}

async function complete(db: Db, accountId: string, rows: UserRow[]): Promise<UserRecord[]> {
  const ids = JSON.stringify(rows.map((r) => r.id));
  const [addons, groups] = rows.length
    ? await Promise.all([
        db.all<{ user_id: string; product: string }>(
          sql`SELECT user_id, product FROM addon_assignments WHERE account_id = ${accountId} AND user_id IN (SELECT value FROM json_each(${ids})) ORDER BY product`,
        ),
        db.all<{ user_id: string; id: string; display_name: string }>(
          sql`SELECT m.user_id, g.id, g.display_name FROM scim_group_members m JOIN scim_groups g ON g.account_id = m.account_id AND g.id = m.group_id
              WHERE m.account_id = ${accountId} AND m.user_id IN (SELECT value FROM json_each(${ids})) ORDER BY g.display_name_key`,
        ),
      ])
    : [[], []];
  return rows.map((r) => ({
    id: r.id,
    displayName: r.display_name,
    email: r.email,
    team: r.team,
    createdAt: r.created_at,
    pool: r.pool_id,
    addons: addons.filter((a) => a.user_id === r.id).map((a) => a.product),
    groups: groups.filter((g) => g.user_id === r.id).map((g) => ({ id: g.id, displayName: g.display_name })),
    scim: r.s_user_id
      ? {
          userName: r.user_name!,
          externalId: r.external_id,
          active: r.active !== 0,
          name: JSON.parse(r.name ?? "{}") as ScimName,
          emails: JSON.parse(r.emails ?? "[]") as ScimEmail[],
          attrs: attrsOf(r),
          version: r.version ?? 1,
          updatedAt: r.updated_at!,
        }
      : null,
  }));
}

export async function loadUser(db: Db, accountId: string, userId: string): Promise<UserRecord | undefined> {
  const rows = await db.all<UserRow>(sql`${USER_SELECT} WHERE u.account_id = ${accountId} AND u.id = ${userId}`);
  return (await complete(db, accountId, rows))[0];
}

/** A page of users matching `where` (a filter over the aliases u, s, l), in id order, with the total. */
export async function listUsers(db: Db, accountId: string, where: SQL | null, startIndex: number, count: number) {
  const cond = where ? sql`u.account_id = ${accountId} AND (${where})` : sql`u.account_id = ${accountId}`;
  const [{ total }] = await db.all<{ total: number }>(
    sql`SELECT count(*) AS total FROM users u LEFT JOIN scim_users s ON s.account_id = u.account_id AND s.user_id = u.id WHERE ${cond}`,
  );
  if (count === 0) return { total, items: [] };
  const rows = await db.all<UserRow>(sql`${USER_SELECT} WHERE ${cond} ORDER BY u.id LIMIT ${count} OFFSET ${startIndex - 1}`);
  return { total, items: await complete(db, accountId, rows) };
}

/** The user a userName names (case-insensitive): a SCIM user, or an admin-API user whose id it is. */
export async function userIdByUserName(db: Db, accountId: string, userName: string): Promise<string | null> {
  const key = userName.toLowerCase();
  const rows = await db.all<{ id: string }>(
    sql`SELECT u.id FROM users u LEFT JOIN scim_users s ON s.account_id = u.account_id AND s.user_id = u.id
        WHERE u.account_id = ${accountId} AND (s.user_name_key = ${key} OR (s.user_id IS NULL AND lower(u.id) = ${key})) LIMIT 1`,
  );
  return rows[0]?.id ?? null;
}

export interface ScimUserWrite {
  userId: string;
  userName: string;
  externalId: string | null;
  active: boolean;
  name: ScimName;
  emails: ScimEmail[];
  attrs: LicenseAttrs;
  displayName: string | null;
  email: string | null;
  at: string;
}

/** Creates the users row (or takes over an existing one) and writes its SCIM row, version + 1. */
export function putScimUser(accountId: string, w: ScimUserWrite): RawStatement[] {
  return [
    raw(sql`INSERT INTO users (account_id, id, display_name, email, created_at) VALUES (${accountId}, ${w.userId}, ${w.displayName}, ${w.email}, ${w.at})
            ON CONFLICT (account_id, id) DO UPDATE SET display_name = excluded.display_name, email = excluded.email`),
    raw(sql`INSERT OR REPLACE INTO scim_users (account_id, user_id, user_name, user_name_key, external_id, active, name, emails, pool_attr, addons_attr, team_attr, version, created_at, updated_at)
            VALUES (${accountId}, ${w.userId}, ${w.userName}, ${w.userName.toLowerCase()}, ${w.externalId}, ${w.active ? 1 : 0}, ${JSON.stringify(w.name)}, ${JSON.stringify(w.emails)},
                    ${w.attrs.pool}, ${JSON.stringify(w.attrs.addons)}, ${w.attrs.team},
                    coalesce((SELECT version FROM scim_users WHERE account_id = ${accountId} AND user_id = ${w.userId}), 0) + 1,
                    coalesce((SELECT created_at FROM scim_users WHERE account_id = ${accountId} AND user_id = ${w.userId}), ${w.at}), ${w.at})`),
  ];
}

export const setTeams = (accountId: string, teams: { user_id: string; team: string | null }[]): RawStatement =>
  raw(sql`UPDATE users SET team = (SELECT json_extract(value, '$.team') FROM json_each(${JSON.stringify(teams)}) WHERE json_extract(value, '$.user_id') = users.id)
          WHERE account_id = ${accountId} AND id IN (SELECT json_extract(value, '$.user_id') FROM json_each(${JSON.stringify(teams)}))`);

/** The SCIM rows of a deleted user (the users row goes through the Durable Object's deleteUser). */
export const deleteScimUser = (accountId: string, userId: string): RawStatement[] => [
  raw(sql`DELETE FROM scim_group_members WHERE account_id = ${accountId} AND user_id = ${userId}`),
  raw(sql`DELETE FROM scim_users WHERE account_id = ${accountId} AND user_id = ${userId}`),
];

/** Which of these user ids exist in the account. */
export async function existingUserIds(db: Db, accountId: string, ids: string[]): Promise<Set<string>> {
  if (ids.length === 0) return new Set();
  const rows = await db.all<{ id: string }>(sql`SELECT id FROM users WHERE account_id = ${accountId} AND id IN (SELECT value FROM json_each(${JSON.stringify(ids)}))`);
  return new Set(rows.map((r) => r.id));
}

/** What SCIM knows about these users for licensing: attributes, active, and group names. */
export async function licenseStates(db: Db, accountId: string, userIds: string[]) {
  const rows = userIds.length
    ? await db.all<{ user_id: string; active: number; pool_attr: string | null; addons_attr: string; team_attr: string | null }>(
        sql`SELECT user_id, active, pool_attr, addons_attr, team_attr FROM scim_users WHERE account_id = ${accountId} AND user_id IN (SELECT value FROM json_each(${JSON.stringify(userIds)}))`,
      )
    : [];
  const groups = await groupNamesOf(db, accountId, userIds);
  const out = new Map<string, { active: boolean; attrs: LicenseAttrs; groups: string[] }>();
  for (const id of userIds) out.set(id, { active: true, attrs: { pool: null, addons: [], team: null }, groups: groups.get(id) ?? [] });
  for (const r of rows) {
    out.get(r.user_id)!.active = r.active !== 0;
    out.get(r.user_id)!.attrs = attrsOf({ pool_attr: r.pool_attr, addons_attr: r.addons_attr, team_attr: r.team_attr } as UserRow);
  }
  return out;
}

// ------------------------------------------------------------------ groups

interface GroupRow {
  id: string;
  display_name: string;
  external_id: string | null;
  version: number;
  created_at: string;
  updated_at: string;
}

async function withMembers(db: Db, accountId: string, rows: GroupRow[], members: boolean): Promise<GroupRecord[]> {
  const all = members && rows.length
    ? await db.all<{ group_id: string; user_id: string; user_name: string | null }>(
        sql`SELECT m.group_id, m.user_id, s.user_name FROM scim_group_members m
            JOIN users u ON u.account_id = m.account_id AND u.id = m.user_id
            LEFT JOIN scim_users s ON s.account_id = m.account_id AND s.user_id = m.user_id
            WHERE m.account_id = ${accountId} AND m.group_id IN (SELECT value FROM json_each(${JSON.stringify(rows.map((r) => r.id))})) ORDER BY m.user_id`,
      )
    : [];
  return rows.map((r) => ({
    id: r.id,
    displayName: r.display_name,
    externalId: r.external_id,
    version: r.version,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
    members: all.filter((m) => m.group_id === r.id).map((m) => ({ id: m.user_id, userName: m.user_name ?? m.user_id })),
  }));
}

const GROUP_SELECT = sql`SELECT g.id, g.display_name, g.external_id, g.version, g.created_at, g.updated_at FROM scim_groups g`;

export async function loadGroup(db: Db, accountId: string, groupId: string, members = true): Promise<GroupRecord | undefined> {
  const rows = await db.all<GroupRow>(sql`${GROUP_SELECT} WHERE g.account_id = ${accountId} AND g.id = ${groupId}`);
  return (await withMembers(db, accountId, rows, members))[0];
}

export async function listGroups(db: Db, accountId: string, where: SQL | null, startIndex: number, count: number, members: boolean) {
  const cond = where ? sql`g.account_id = ${accountId} AND (${where})` : sql`g.account_id = ${accountId}`;
  const [{ total }] = await db.all<{ total: number }>(sql`SELECT count(*) AS total FROM scim_groups g WHERE ${cond}`);
  if (count === 0) return { total, items: [] };
  const rows = await db.all<GroupRow>(sql`${GROUP_SELECT} WHERE ${cond} ORDER BY g.display_name_key LIMIT ${count} OFFSET ${startIndex - 1}`);
  return { total, items: await withMembers(db, accountId, rows, members) };
}

export async function groupIdByName(db: Db, accountId: string, displayName: string): Promise<string | null> {
  const rows = await db.all<{ id: string }>(sql`SELECT id FROM scim_groups WHERE account_id = ${accountId} AND display_name_key = ${displayName.toLowerCase()}`);
  return rows[0]?.id ?? null;
}

/** Each user's groups (display names), for the users given. */
export async function groupNamesOf(db: Db, accountId: string, userIds: string[]): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>(userIds.map((id) => [id, []]));
  if (userIds.length === 0) return out;
  const rows = await db.all<{ user_id: string; display_name: string }>(
    sql`SELECT m.user_id, g.display_name FROM scim_group_members m JOIN scim_groups g ON g.account_id = m.account_id AND g.id = m.group_id
        WHERE m.account_id = ${accountId} AND m.user_id IN (SELECT value FROM json_each(${JSON.stringify(userIds)}))`,
  );
  for (const r of rows) out.get(r.user_id)?.push(r.display_name);
  return out;
}

/** Members of the groups with these display names (lower case), for re-judging after a rules change. */
export async function membersOfGroupsNamed(db: Db, accountId: string, names: string[]): Promise<string[]> {
  if (names.length === 0) return [];
  const rows = await db.all<{ user_id: string }>(
    sql`SELECT DISTINCT m.user_id FROM scim_group_members m JOIN scim_groups g ON g.account_id = m.account_id AND g.id = m.group_id
        JOIN users u ON u.account_id = m.account_id AND u.id = m.user_id
        WHERE m.account_id = ${accountId} AND g.display_name_key IN (SELECT value FROM json_each(${JSON.stringify(names)}))`,
  );
  return rows.map((r) => r.user_id);
}

export function putGroup(accountId: string, g: { id: string; displayName: string; externalId: string | null; at: string }): RawStatement {
  return raw(sql`INSERT INTO scim_groups (account_id, id, display_name, display_name_key, external_id, version, created_at, updated_at)
                 VALUES (${accountId}, ${g.id}, ${g.displayName}, ${g.displayName.toLowerCase()}, ${g.externalId}, 1, ${g.at}, ${g.at})
                 ON CONFLICT (account_id, id) DO UPDATE SET display_name = excluded.display_name, display_name_key = excluded.display_name_key,
                   external_id = excluded.external_id, version = scim_groups.version + 1, updated_at = excluded.updated_at`);
}

export function setMembers(accountId: string, groupId: string, add: string[], remove: string[]): RawStatement[] {
  const out: RawStatement[] = [];
  if (remove.length) {
    out.push(raw(sql`DELETE FROM scim_group_members WHERE account_id = ${accountId} AND group_id = ${groupId} AND user_id IN (SELECT value FROM json_each(${JSON.stringify(remove)}))`));
  }
  if (add.length) {
    out.push(raw(sql`INSERT OR IGNORE INTO scim_group_members (account_id, group_id, user_id) SELECT ${accountId}, ${groupId}, value FROM json_each(${JSON.stringify(add)})`));
  }
  return out;
}

export const deleteGroup = (accountId: string, groupId: string): RawStatement[] => [
  raw(sql`DELETE FROM scim_group_members WHERE account_id = ${accountId} AND group_id = ${groupId}`),
  raw(sql`DELETE FROM scim_groups WHERE account_id = ${accountId} AND id = ${groupId}`),
];

// ------------------------------------------------------------------ rules

export async function getRules(db: Db, accountId: string): Promise<{ rules: GroupRule[]; updated_at: string | null }> {
  const rows = await db.all<{ rules: string; updated_at: string }>(sql`SELECT rules, updated_at FROM provisioning_rules WHERE account_id = ${accountId}`);
  return rows[0] ? { rules: JSON.parse(rows[0].rules) as GroupRule[], updated_at: rows[0].updated_at } : { rules: [], updated_at: null };
}

export const putRules = (accountId: string, rules: GroupRule[], at: string): RawStatement =>
  raw(sql`INSERT INTO provisioning_rules (account_id, rules, updated_at) VALUES (${accountId}, ${JSON.stringify(rules)}, ${at})
          ON CONFLICT (account_id) DO UPDATE SET rules = excluded.rules, updated_at = excluded.updated_at`);
