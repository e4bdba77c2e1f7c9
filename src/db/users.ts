import { and, asc, eq, gt, inArray } from "drizzle-orm";
import type { Db } from "./client";
import { addonAssignments, licenses, users } from "./schema";

export interface UserView {
  id: string;
  display_name: string | null;
  email: string | null;
  pool: string | null;
  addons: string[];
  created_at: string;
}

const userColumns = {
  id: users.id,
  displayName: users.displayName,
  email: users.email,
  createdAt: users.createdAt,
  pool: licenses.poolId,
};

/** Users with their license and add-on assignments, ordered by id, after `cursor`. */
export async function listUsers(db: Db, accountId: string, limit: number, cursor: string | null, only?: string) {
  const rows = await db
    .select(userColumns)
    .from(users)
    .leftJoin(licenses, and(eq(licenses.accountId, users.accountId), eq(licenses.userId, users.id)))
    .where(
      and(
        eq(users.accountId, accountId),
        cursor === null ? undefined : gt(users.id, cursor),
        only === undefined ? undefined : eq(users.id, only),
      ),
    )
    .orderBy(asc(users.id))
    .limit(limit + 1)
    .all();
  const page = rows.slice(0, limit);
  const addons = await addonsOf(db, accountId, page.map((r) => r.id));
  const items: UserView[] = page.map((r) => ({
    id: r.id,
    display_name: r.displayName,
    email: r.email,
    pool: r.pool,
    addons: addons.get(r.id) ?? [],
    created_at: r.createdAt,
  }));
  return { items, next: rows.length > limit ? page[page.length - 1].id : null };
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
