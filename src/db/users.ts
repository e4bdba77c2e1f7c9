import { and, asc, eq, gt, inArray, sql, type SQL } from "drizzle-orm";
import type { Db } from "./client";
import { pageOf, type Page } from "./pagination";
import { addonAssignments, licenses, users } from "./schema";

export interface UserView {
  id: string;
  display_name: string | null;
  email: string | null;
  pool: string | null;
  addons: string[];
  team: string | null;
  created_at: string;
}

const userColumns = {
  id: users.id,
  displayName: users.displayName,
  email: users.email,
  createdAt: users.createdAt,
  pool: licenses.poolId,
  team: users.team,
};

/** Users with their license and add-on assignments, ordered by id, after `cursor`. */
export async function listUsers(db: Db, accountId: string, limit: number, after: readonly [string] | null, only?: string): Promise<Page<UserView, [string]>> {
  const rows = await db
    .select(userColumns)
    .from(users)
    .leftJoin(licenses, and(eq(licenses.accountId, users.accountId), eq(licenses.userId, users.id)))
    .where(
      and(
        eq(users.accountId, accountId),
        after === null ? undefined : gt(users.id, after[0]),
        only === undefined ? undefined : eq(users.id, only),
      ),
    )
    .orderBy(asc(users.id))
    .limit(limit + 1)
    .all();
  const addons = await addonsOf(db, accountId, rows.slice(0, limit).map((r) => r.id));
  return pageOf(
    rows,
    limit,
    (r) => [r.id],
    (r) => ({ id: r.id, display_name: r.displayName, email: r.email, pool: r.pool, addons: addons.get(r.id) ?? [], team: r.team, created_at: r.createdAt }),
  );
}

/** Filters of the user list; all given ones must hold. */
export interface UserFilter {
  /** Prefix of the id, the e-mail, the display name or its part after the first space; ASCII letters in any case. */
  q?: string;
  /** Users licensed in this pool. */
  pool?: string;
  /** Users holding this add-on. */
  addon?: string;
  /** Users of this team (docs/licensing.md#teams). */
  team?: string;
}

/**
 * Past this many matches of one search field, a search counts as broad: the page is then read in
 * id order with the search as a filter (it fills quickly); below it, from the matches, sorted.
 */
export const BROAD_SEARCH = 1000;

/**
 * SQLite's lower() folds ASCII letters only, and the indexes are built on it: the query is folded
 * the same way, so a search matches exactly what the index holds.
 */
export const foldAscii = (s: string) => s.replace(/[A-Z]+/g, (m) => m.toLowerCase());

/** The smallest string above every string that starts with `prefix` (code point order = UTF-8 byte order). */
export function prefixEnd(prefix: string): string | null {
  const cps = Array.from(prefix, (c) => c.codePointAt(0)!);
  while (cps.length && cps[cps.length - 1] === 0x10ffff) cps.pop();
  if (!cps.length) return null;
  cps[cps.length - 1] += cps[cps.length - 1] === 0xd7ff ? 0x801 : 1; // skip the surrogate range
  return String.fromCodePoint(...cps);
}

/**
 * The searched fields, each exactly as an index of migration 0005 spells it (an expression index
 * is used only for the same expression). `t` is the table alias.
 */
const searchFields = (t: string) => [
  sql.raw(`lower(${t}.id)`),
  sql.raw(`lower(${t}.email)`),
  sql.raw(`lower(${t}.display_name)`),
  sql.raw(`lower(substr(${t}.display_name, instr(${t}.display_name, ' ') + 1))`),
];

const inRange = (field: SQL, lo: string, hi: string | null) => (hi === null ? sql`${field} >= ${lo}` : sql`${field} >= ${lo} AND ${field} < ${hi}`);

interface Row {
  id: string;
  display_name: string | null;
  email: string | null;
  team: string | null;
  created_at: string;
  pool_id: string | null;
}

/**
 * One page of the account's users matching `filter`, in id order after `cursor`. Every plan is
 * driven by an index (EXPLAIN QUERY PLAN in test/db/user-search.test.ts):
 * - a narrow search (at most BROAD_SEARCH matches per field): the matches from the four search
 *   indexes, then pool and add-on checked per match, sorted by id;
 * - a pool (or add-on) filter: that index in user id order, the other filters checked per user;
 * - otherwise the users' primary key in id order, the search checked per user.
 * A broad search read in id order fills a page after about limit × users / matches rows.
 */
export async function searchUsers(db: Db, accountId: string, filter: UserFilter, limit: number, cursor: readonly [string] | null): Promise<Page<UserView, [string]>> {
  const q = filter.q ? foldAscii(filter.q) : "";
  const lo = q;
  const hi = q ? prefixEnd(q) : null;
  const after = cursor?.[0] ?? "";
  const poolCheck = filter.pool === undefined ? sql`` : sql` AND l.pool_id = ${filter.pool}`;
  const addonCheck =
    filter.addon === undefined
      ? sql``
      : sql` AND EXISTS (SELECT 1 FROM addon_assignments a2 WHERE a2.account_id = u.account_id AND a2.user_id = u.id AND a2.product = ${filter.addon})`;
  const teamCheck = filter.team === undefined ? sql`` : sql` AND u.team = ${filter.team}`;
  const columns = sql.raw("u.id, u.display_name, u.email, u.team, u.created_at, l.pool_id");
  const licensed = sql.raw("LEFT JOIN licenses l ON l.account_id = u.account_id AND l.user_id = u.id");

  let rows: Row[];
  if (q && !(await isBroad(db, accountId, lo, hi))) {
    const branches = searchFields("users").map(
      (f) => sql`SELECT rowid AS r FROM users WHERE account_id = ${accountId} AND ${inRange(f, lo, hi)}`,
    );
    rows = await db.all<Row>(sql`
      SELECT ${columns} FROM (${sql.join(branches, sql` UNION `)}) m
      CROSS JOIN users u ON u.rowid = m.r
      ${licensed}
      WHERE u.account_id = ${accountId} AND u.id > ${after}${poolCheck}${addonCheck}${teamCheck}
      ORDER BY u.id LIMIT ${limit + 1}`);
  } else {
    const matches = q ? sql` AND (${sql.join(searchFields("u").map((f) => sql`(${inRange(f, lo, hi)})`), sql` OR `)})` : sql``;
    if (filter.pool !== undefined) {
      rows = await db.all<Row>(sql`
        SELECT ${columns} FROM licenses l
        CROSS JOIN users u ON u.account_id = l.account_id AND u.id = l.user_id
        WHERE l.account_id = ${accountId} AND l.pool_id = ${filter.pool} AND l.user_id > ${after}${addonCheck}${teamCheck}${matches}
        ORDER BY l.user_id LIMIT ${limit + 1}`);
    } else if (filter.addon !== undefined) {
      rows = await db.all<Row>(sql`
        SELECT ${columns} FROM addon_assignments a
        CROSS JOIN users u ON u.account_id = a.account_id AND u.id = a.user_id
        ${licensed}
        WHERE a.account_id = ${accountId} AND a.product = ${filter.addon} AND a.user_id > ${after}${teamCheck}${matches}
        ORDER BY a.user_id LIMIT ${limit + 1}`);
    } else if (filter.team !== undefined) {
      // Index users_team (migration 0015): the team's users in id order.
      rows = await db.all<Row>(sql`
        SELECT ${columns} FROM users u
        ${licensed}
        WHERE u.account_id = ${accountId} AND u.team = ${filter.team} AND u.id > ${after}${matches}
        ORDER BY u.id LIMIT ${limit + 1}`);
    } else {
      rows = await db.all<Row>(sql`
        SELECT ${columns} FROM users u
        ${licensed}
        WHERE u.account_id = ${accountId} AND u.id > ${after}${matches}
        ORDER BY u.id LIMIT ${limit + 1}`);
    }
  }
  const addons = await addonsOf(db, accountId, rows.slice(0, limit).map((r) => r.id));
  return pageOf(
    rows,
    limit,
    (r) => [r.id],
    (r) => ({ id: r.id, display_name: r.display_name, email: r.email, pool: r.pool_id, addons: addons.get(r.id) ?? [], team: r.team, created_at: r.created_at }),
  );
}

/** Whether some search field has more than BROAD_SEARCH matches (each count stops there). */
async function isBroad(db: Db, accountId: string, lo: string, hi: string | null): Promise<boolean> {
  const counts = searchFields("users").map(
    (f) => sql`(SELECT count(*) FROM (SELECT 1 FROM users WHERE account_id = ${accountId} AND ${inRange(f, lo, hi)} LIMIT ${BROAD_SEARCH + 1}))`,
  );
  const [row] = await db.all<{ n: number }>(sql`SELECT max(${sql.join(counts, sql`, `)}) AS n`);
  return row.n > BROAD_SEARCH;
}

export async function getUser(db: Db, accountId: string, userId: string): Promise<UserView | undefined> {
  return (await listUsers(db, accountId, 1, null, userId)).items[0];
}

async function addonsOf(db: Db, accountId: string, userIds: string[]): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>();
  // D1 binds at most 100 parameters per statement.
  for (let i = 0; i < userIds.length; i += 90) {
    const rows = await db
      .select({ userId: addonAssignments.userId, product: addonAssignments.product })
      .from(addonAssignments)
      .where(and(eq(addonAssignments.accountId, accountId), inArray(addonAssignments.userId, userIds.slice(i, i + 90))))
      .orderBy(asc(addonAssignments.product))
      .all();
    for (const r of rows) out.set(r.userId, [...(out.get(r.userId) ?? []), r.product]);
  }
  return out;
}

export function upsertUser(db: Db, accountId: string, userId: string, displayName: string | null, email: string | null, at: string) {
  return db
    .insert(users)
    .values({ accountId, id: userId, displayName, email, createdAt: at })
    .onConflictDoUpdate({ target: [users.accountId, users.id], set: { displayName, email } });
}
