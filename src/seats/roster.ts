import { and, eq, sql } from "drizzle-orm";
import type { AddonProduct, PerSeatProduct, PoolId } from "../domain/catalog";
import { isAddonProduct, isPerSeatProduct, isPoolId } from "../domain/catalog";
import type { Db } from "../db/client";
import type { GracePolicy } from "../domain/overage";
import { ACCOUNT_DEFAULTS } from "../domain/account-defaults";
import { DEFAULT_ALERTS } from "../domain/thresholds";
import { accounts, addonAssignments, addonPurchases, licenses, pools, users } from "../db/schema";
import { teamQueries } from "../db/teams";
import type { TeamLimit } from "../domain/teams";
import { AddonRanks } from "../domain/addon-ranks";
import type { GrantLookup } from "../domain/addons";
import type { LicenseState } from "../domain/licenses";
import { emptyUserMaps, type UserLookups, type UserMaps } from "./roster-users";

export interface PoolSettings {
  quantity: number;
  maxActive: number | null;
  /** Threshold alerts, percentages ascending (src/domain/thresholds.ts); absent: the default. */
  alerts?: readonly number[];
}

export interface AccountSettings {
  graceSeconds: number;
  gracePolicy: GracePolicy;
  leaseTtlSeconds: number;
  /** How long a closed presence socket keeps its seat for the same session to reconnect. */
  reconnectGraceSeconds: number;
  maxSessionsPerUser: number;
  warnBeforeGraceEndSeconds: number;
  billingDay: number;
  createdAt: number;
}

/** Where each change of a roster is also written: the object's SQLite copy (./roster-copy.ts). */
export interface RosterSink {
  pool(pool: PoolId, settings: PoolSettings): void;
  /** `null`: the user holds no license any more (nor any add-on assignment). */
  license(userId: string, pool: PoolId | null): void;
  /** `null`: the assignment is gone. */
  assignment(userId: string, product: PerSeatProduct, seq: number | null): void;
  purchase(product: AddonProduct, quantity: number): void;
  settings(settings: AccountSettings): void;
  /** `null`: the user has no team. */
  team(userId: string, team: string | null): void;
  /** `null`: the team has no limits in the pool any more. */
  teamLimit(pool: PoolId, team: string, limit: TeamLimit | null): void;
}

/** Every user's licenses, assignments and teams with the pools' quantities and purchases, as plain maps (own properties: the rules copy it with spread). */
export interface RosterState extends LicenseState {
  teamOf: ReadonlyMap<string, string>;
}

/**
 * The account's licensing state: a mirror of D1 that only the account's Durable Object changes,
 * and only after D1 accepted the change. It is what the checkout path reads instead of D1.
 * Every change goes through a method here, which also writes it to `sink` (the SQLite copy) when set.
 *
 * The account-wide part (settings, pools, purchases, team limits) is always in memory. The per-user
 * part (./roster-users.ts) is in memory from D1, and for a roster woken from its copy is read by key
 * from the copy until something needs every user: `state()` (admin decisions, reports, compliance)
 * or a change of a user loads it all, synchronously. The agent path asks only by key
 * (`licenseOf`, `teamOf`, the add-on grant lookups), so a woken object's first checkout does not
 * read every user.
 */
export class Roster implements GrantLookup {
  settings: AccountSettings = { ...ACCOUNT_DEFAULTS, createdAt: 0 };
  exists = false;
  /** Offboarding has begun (accounts.deleted_at): the object refuses every agent. */
  deleted = false;
  readonly pools = new Map<PoolId, PoolSettings>();
  readonly poolQuantities = new Map<PoolId, number>();
  readonly purchased = new Map<AddonProduct, number>();
  /** Raised agent-token generations as D1 holds them (the object keeps its own, src/seats/token-generations.ts). */
  readonly tokenGenerations = new Map<string, number>();
  /** D1's `accounts.roster_version` this roster reflects. */
  version = 0;
  sink: RosterSink | null = null;
  /** pool -> team -> its cap and reservation in the pool. */
  readonly teamLimits = new Map<PoolId, Map<string, TeamLimit>>();
  /** Every user in memory; null while users are read by key (`byKey`). */
  private maps: UserMaps | null;
  /** The add-on bundling ranks over `maps`, built on first ask; dropped by every change of licenses or assignments. */
  private ranks: AddonRanks | null = null;

  /** Without `byKey` every user is in memory from the start (a roster read from D1). */
  constructor(private readonly byKey: UserLookups | null = null) {
    this.maps = byKey ? null : emptyUserMaps();
  }

  /** Whether every user is in memory (tests show the agent path never needs it). */
  get complete(): boolean {
    return this.maps !== null;
  }

  /** Every user, loaded on first need. */
  private users(): UserMaps {
    return (this.maps ??= this.byKey!.all());
  }

  static async load(db: Db, accountId: string): Promise<Roster> {
    const [account, poolRows, licenseRows, assignmentRows, purchaseRows, generationRows, teamRows, teamLimitRows] = await db.batch([
      db.select().from(accounts).where(eq(accounts.id, accountId)),
      db.select().from(pools).where(eq(pools.accountId, accountId)),
      db.select({ userId: licenses.userId, poolId: licenses.poolId }).from(licenses).where(eq(licenses.accountId, accountId)),
      db
        .select({ userId: addonAssignments.userId, product: addonAssignments.product, seq: addonAssignments.seq })
        .from(addonAssignments)
        .where(eq(addonAssignments.accountId, accountId)),
      db.select().from(addonPurchases).where(eq(addonPurchases.accountId, accountId)),
      // Answered from the partial index users_token_generation: the account's other users are not read.
      db
        .select({ id: users.id, gen: users.tokenGeneration })
        .from(users)
        .where(and(eq(users.accountId, accountId), sql`${users.tokenGeneration} > 0`)),
      ...teamQueries(db, accountId),
    ]);
    const roster = new Roster();
    const row = account[0];
    if (row) {
      roster.exists = true;
      roster.version = row.rosterVersion;
      roster.deleted = row.deletedAt !== null;
      roster.settings = {
        graceSeconds: row.graceSeconds,
        gracePolicy: row.gracePolicy === "cumulative" ? "cumulative" : "per_overrun",
        leaseTtlSeconds: row.leaseTtlSeconds,
        reconnectGraceSeconds: row.reconnectGraceSeconds,
        maxSessionsPerUser: row.maxSessionsPerUser,
        warnBeforeGraceEndSeconds: row.warnBeforeGraceEndSeconds,
        billingDay: row.billingDay,
        createdAt: Date.parse(row.createdAt),
      };
    }
    for (const p of poolRows) if (isPoolId(p.id)) roster.setPool(p.id, { quantity: p.quantity, maxActive: p.maxActive, alerts: parseAlerts(p.alerts) });
    for (const l of licenseRows) if (isPoolId(l.poolId)) roster.setLicense(l.userId, l.poolId);
    for (const a of assignmentRows) {
      if (isPerSeatProduct(a.product)) roster.assign(a.userId, a.product, a.seq);
    }
    for (const p of purchaseRows) if (isAddonProduct(p.product)) roster.purchased.set(p.product, p.quantity);
    for (const u of generationRows) roster.tokenGenerations.set(u.id, u.gen);
    for (const u of teamRows) roster.setTeam(u.id, u.team);
    for (const t of teamLimitRows) if (isPoolId(t.poolId)) roster.setTeamLimit(t.poolId, t.team, { maxActive: t.maxActive, reserve: t.reserve });
    return roster;
  }

  // ---------------------------------------------------------------- by key (the agent path)

  /** The user's pool, or undefined without a license. */
  licenseOf(userId: string): PoolId | undefined {
    return this.maps ? this.maps.licenses.get(userId) : this.byKey!.license(userId);
  }

  /** The user's team, or undefined. */
  teamOf(userId: string): string | undefined {
    return this.maps ? this.maps.teamOf.get(userId) : this.byKey!.team(userId);
  }

  /** The user's add-on assignments (product -> seq), or undefined for none. */
  assignmentsOf(userId: string): ReadonlyMap<PerSeatProduct, number> | undefined {
    return this.maps ? this.maps.assignments.get(userId) : this.byKey!.assignments(userId);
  }

  assignedAt(userId: string, product: PerSeatProduct): number | undefined {
    return this.assignmentsOf(userId)?.get(product);
  }

  quantityOf(pool: PoolId): number {
    return this.poolQuantities.get(pool) ?? 0;
  }

  earlierInPool(pool: PoolId, product: PerSeatProduct, user: string, order: number, atMost: number): number {
    if (!this.maps) return this.byKey!.earlierInPool(pool, product, user, order, atMost);
    return (this.ranks ??= new AddonRanks(this.maps)).earlierInPool(pool, product, user, order, atMost);
  }

  /** Users holding a license in the pool. */
  assigned(pool: PoolId): number {
    return this.maps ? (this.maps.assignedCount.get(pool) ?? 0) : this.byKey!.assigned(pool);
  }

  // ---------------------------------------------------------------- every user

  /** What the rules read for an admin decision or a report: every user, loaded on first need. */
  state(): RosterState {
    const m = this.users();
    return { licenses: m.licenses, assignments: m.assignments, teamOf: m.teamOf, assignedCount: m.assignedCount, poolQuantities: this.poolQuantities, purchased: this.purchased };
  }

  // ---------------------------------------------------------------- changes (written through to the sink)

  setPool(pool: PoolId, settings: PoolSettings): void {
    this.pools.set(pool, settings);
    this.poolQuantities.set(pool, settings.quantity);
    this.sink?.pool(pool, settings);
  }

  setLicense(userId: string, pool: PoolId): void {
    const m = this.users();
    this.ranks = null;
    removeLicense(m, userId);
    m.licenses.set(userId, pool);
    m.assignedCount.set(pool, (m.assignedCount.get(pool) ?? 0) + 1);
    this.sink?.license(userId, pool);
  }

  /** Removes the license and, as docs/licensing.md#add-ons decides, the user's add-on assignments. */
  revokeLicense(userId: string): void {
    const m = this.users();
    this.ranks = null;
    removeLicense(m, userId);
    m.assignments.delete(userId);
    this.sink?.license(userId, null);
  }

  setPurchase(product: AddonProduct, quantity: number): void {
    this.purchased.set(product, quantity);
    this.sink?.purchase(product, quantity);
  }

  /** Settings left undefined keep their value. */
  updateSettings(patch: Partial<AccountSettings>): void {
    for (const [key, value] of Object.entries(patch)) if (value !== undefined) Object.assign(this.settings, { [key]: value });
    this.sink?.settings(this.settings);
  }

  assign(userId: string, product: PerSeatProduct, seq: number): void {
    const m = this.users();
    this.ranks = null;
    let products = m.assignments.get(userId);
    if (!products) m.assignments.set(userId, (products = new Map()));
    products.set(product, seq);
    m.lastSeq = Math.max(m.lastSeq, seq);
    this.sink?.assignment(userId, product, seq);
  }

  unassign(userId: string, product: PerSeatProduct): void {
    const m = this.users();
    this.ranks = null;
    const products = m.assignments.get(userId);
    products?.delete(product);
    if (products && products.size === 0) m.assignments.delete(userId);
    this.sink?.assignment(userId, product, null);
  }

  /** A fresh, strictly increasing assignment order number (time-based so it reads well in D1). */
  nextSeq(now: number): number {
    const m = this.users();
    m.lastSeq = Math.max(now, m.lastSeq + 1);
    return m.lastSeq;
  }

  setTeam(userId: string, team: string | null): void {
    const m = this.users();
    if (team === null) m.teamOf.delete(userId);
    else m.teamOf.set(userId, team);
    this.sink?.team(userId, team);
  }

  /** Sets (or with null, removes) a team's limits in a pool. */
  setTeamLimit(pool: PoolId, team: string, limit: TeamLimit | null): void {
    let limits = this.teamLimits.get(pool);
    if (!limits) this.teamLimits.set(pool, (limits = new Map()));
    if (limit) limits.set(team, limit);
    else limits.delete(team);
    this.sink?.teamLimit(pool, team, limit);
  }

  /** The teams' limits in a pool (empty when none). */
  limitsOf(pool: PoolId): ReadonlyMap<string, TeamLimit> {
    return this.teamLimits.get(pool) ?? NO_LIMITS;
  }
}

function removeLicense(m: UserMaps, userId: string): void {
  const old = m.licenses.get(userId);
  if (!old) return;
  m.licenses.delete(userId);
  m.assignedCount.set(old, (m.assignedCount.get(old) ?? 1) - 1);
}

/** A pool's stored alerts (JSON), or the default for none or an unreadable value. */
export function parseAlerts(raw: string | null): readonly number[] {
  if (raw === null) return DEFAULT_ALERTS;
  try {
    const parsed: unknown = JSON.parse(raw);
    if (Array.isArray(parsed) && parsed.every((p) => Number.isInteger(p))) return parsed as number[];
  } catch {
    // fall through
  }
  return DEFAULT_ALERTS;
}

const NO_LIMITS: ReadonlyMap<string, TeamLimit> = new Map();
