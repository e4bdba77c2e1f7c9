import { DurableObject } from "cloudflare:workers";
import type { AddonProduct, PerSeatProduct, PoolId } from "../domain/catalog";
import { parsePoolId } from "../domain/catalog";
import { addonReport, assignOutcome, checkAssign, checkPurchase, grantSource, type AddonReportRow, type GrantSource } from "../domain/addons";
import { refuseAssignment, refuseBatch, refusePoolQuantity, refuseSeat, type LicenseBatch } from "../domain/licenses";
import { emptyPlan, planProvisioning, type ProvisioningChange, type ProvisioningPlan } from "../domain/provisioning";
import type { GracePolicy, Window } from "../domain/overage";
import { usageColumns } from "../domain/overage";
import { entitlements, type Entitlements } from "../domain/entitlements";
import { database, type Db } from "../db/client";
import * as writes from "../db/roster-writes";
import type { Env } from "../env";
import { ApiError, fail, notFound, ok, problemBody, type Result } from "../errors";
import type { CycleSummary, IntervalRecord } from "../records";
import { iso } from "../time";
import { AdminWriter } from "./admin-write";
import { complianceReport, type ComplianceReport } from "./compliance";
import { ConnectTickets, formatTicket, parseTicket } from "./connect-tickets";
import { cycleSummary } from "./cycle-summary";
import { advisorHistory } from "./advisor-history";
import { InvocationStats, type CounterSnapshot } from "./invocation-stats";
import { Mutex } from "./mutex";
import { Outbox } from "./outbox";
import { CLOSE, closeCodeFor, parseClientMessage, PING, PONG, Presence, refuseUpgrade, type RevokeReason } from "./presence";
import { refusalError } from "./refusal";
import type { Roster } from "./roster";
import { RosterSync } from "./roster-sync";
import { reconcileWithRoster } from "./reconcile";
import { SeatBook } from "./seat-book";
import { SeatActivity } from "./seat-activity";
import { TokenGenerations } from "./token-generations";
import { migrateSeatsSchema, readMeta, writeMeta } from "./sqlite-schema";
import { UsageLedger } from "./usage-ledger";
import { checkoutView, intervalRecord, poolSeatsView, poolView, type CheckoutView, type PoolSeatsView, type PoolView } from "./views";

export type { LicenseBatch } from "../domain/licenses";

export interface SettingsPatch {
  name?: string;
  billing_day?: number;
  grace_seconds?: number;
  grace_policy?: GracePolicy;
  lease_ttl_seconds?: number;
  reconnect_grace_seconds?: number;
  max_sessions_per_user?: number;
}

/**
 * One per account: serializes everything that counts seats (docs/architecture.md#the-account-object).
 *
 * - Checkouts, heartbeats and releases touch only this object's SQLite and memory, synchronously:
 *   no lock, no D1, one round trip.
 * - Admin writes that an invariant depends on (pool quantities, licenses, add-ons, user removal)
 *   go through `admin` (./admin-write.ts): under a lock, D1 first, memory only after D1 accepted.
 * - One alarm covers lease expiry, over-runs reaching their grace, and outbox retries.
 */
export class AccountSeats extends DurableObject<Env> {
  private readonly sql: SqlStorage;
  private readonly db: Db;
  private readonly admin: AdminWriter;
  private readonly seats: SeatBook;
  private readonly ledger: UsageLedger;
  private readonly activity: SeatActivity;
  private readonly tokens: TokenGenerations;
  private readonly presence: Presence;
  private readonly tickets: ConnectTickets;
  private readonly calls: InvocationStats;
  private accountId = "";
  private readonly sync: RosterSync;
  /** Tests set this object's clock (through runInDurableObject); null in production: the real clock. */
  testClock: number | null = null;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    this.db = database(env.DB);
    migrateSeatsSchema(this.sql);
    this.accountId = readMeta(this.sql, "account_id") ?? ctx.id.name ?? "";
    if (this.accountId) writeMeta(this.sql, "account_id", this.accountId);
    this.seats = new SeatBook(this.sql);
    this.ledger = new UsageLedger(this.sql);
    this.tokens = new TokenGenerations(this.sql);
    const outbox = new Outbox(this.sql, env.DB, env.EVENTS_QUEUE, () => this.accountId);
    const lock = new Mutex();
    this.sync = new RosterSync({ db: this.db, accountId: () => this.accountId, onLoad: (roster) => this.onRosterLoaded(roster) });
    this.admin = new AdminWriter({
      lock,
      d1: env.DB,
      db: this.db,
      accountId: () => this.accountId,
      now: () => this.now(),
      fresh: () => this.fresh(),
      // The write may or may not have landed: decide nothing more until the roster is read again.
      stale: () => this.sync.markStale(),
    });
    this.presence = new Presence(ctx);
    this.tickets = new ConnectTickets(this.sql);
    this.calls = new InvocationStats(this.sql);
    Presence.autoRespond(ctx);
    this.activity = new SeatActivity({
      ctx,
      sql: this.sql,
      seats: this.seats,
      ledger: this.ledger,
      outbox,
      roster: () => this.roster,
      accountId: () => this.accountId,
      now: () => this.now(),
      heldOpen: (userId, sessionId) => this.presence.holds(userId, sessionId),
    });
    // Small critical section: the roster from D1 and the alarm. A failed load is retried by the next call.
    void ctx.blockConcurrencyWhile(async () => {
      await this.activity.init();
      await this.ready().catch(() => undefined);
    });
  }

  now(): number {
    return this.testClock ?? Date.now();
  }

  /** A roster just read from D1: take its token generations, and heal what reached D1 but not this object. */
  private onRosterLoaded(roster: Roster): void {
    this.tokens.merge(roster.tokenGenerations);
    reconcileWithRoster(roster, this.seats, this.ledger, {
      endSessions: (userId, reason) => this.endSessionsOf(userId, this.now(), reason),
      logQuantity: (pool) => this.activity.record(pool, this.now()),
    });
  }

  private get roster(): Roster {
    return this.sync.roster;
  }

  private ready(): Promise<void> {
    return this.sync.ready();
  }

  private fresh(): Promise<void> {
    return this.sync.fresh();
  }

  // ---------------------------------------------------------------- agent desktop

  async checkout(userId: string, generation: number, sessionId: string): Promise<Result<CheckoutView>> {
    this.calls.bump("requests");
    if (!this.tokens.accepts(userId, generation)) return fail(revoked());
    return this.takeSeat(userId, sessionId);
  }

  /** The checkout rules, shared by HTTP checkout and the WebSocket upgrade. */
  private async takeSeat(userId: string, sessionId: string): Promise<Result<CheckoutView>> {
    this.calls.bump("checkouts");
    if (!this.sync.loaded) await this.ready();
    const now = this.now();
    this.activity.expireDue(now);
    const pool = this.roster.licenses.get(userId);
    if (!pool) return fail(new ApiError("no_license", `User ${userId} holds no contact-center license.`));
    const expiresAt = now + this.roster.settings.leaseTtlSeconds * 1000;
    // A user without a seat has no session to renew: skip the UPDATE that could not match.
    const holdsSeat = this.seats.holders.has(userId);
    if (!holdsSeat || !this.seats.renew(userId, sessionId, expiresAt)) {
      if (!holdsSeat) {
        const refusal = refuseSeat(pool, this.roster.pools.get(pool)!.maxActive, this.seats.active(pool));
        if (refusal) return fail(refusalError(refusal));
      }
      if (this.seats.open(userId, sessionId, pool, now, expiresAt)) this.activity.record(pool, now);
      else this.evictBeyondCap(userId, sessionId, now);
    }
    this.activity.arm(expiresAt);
    const live = parsePoolId(pool)!.model === "concurrent" ? this.ledger.live(pool, now, this.activity.graceRules()) : null;
    return ok(checkoutView({ userId, sessionId, pool, expiresAt, roster: this.roster, active: this.seats.active(pool), live }));
  }

  /**
   * A new session beyond max_sessions_per_user ends the user's least recently renewed ones (the
   * new one is open already, so the seat never frees in between): a new device always works and
   * an abandoned one loses out.
   */
  private evictBeyondCap(userId: string, keep: string, now: number): void {
    for (const sessionId of this.seats.beyondCap(userId, this.roster.settings.maxSessionsPerUser, keep)) {
      this.activity.endSession(userId, sessionId, now);
      this.presence.revoke(this.presence.ofSession(userId, sessionId), "session_evicted");
    }
  }

  async heartbeat(userId: string, generation: number, sessionId: string): Promise<Result<{ expires_at: string }>> {
    this.calls.bump("requests");
    this.calls.bump("heartbeats");
    if (!this.tokens.accepts(userId, generation)) return fail(revoked());
    if (!this.sync.loaded) await this.ready();
    const now = this.now();
    this.activity.expireDue(now);
    const expiresAt = now + this.roster.settings.leaseTtlSeconds * 1000;
    if (!this.seats.renew(userId, sessionId, expiresAt)) {
      return fail(new ApiError("session_not_found", "The session has expired or was released; check out again."));
    }
    return ok({ expires_at: iso(expiresAt) });
  }

  async release(userId: string, generation: number, sessionId: string): Promise<Result<null>> {
    this.calls.bump("requests");
    this.calls.bump("releases");
    if (!this.tokens.accepts(userId, generation)) return fail(revoked());
    if (!this.sync.loaded) await this.ready();
    const now = this.now();
    this.activity.expireDue(now);
    this.activity.endSession(userId, sessionId, now);
    // A socket of this session has nothing left to hold.
    for (const ws of this.presence.ofSession(userId, sessionId)) this.presence.close(ws, CLOSE.normal, "released");
    return ok(null);
  }

  /** Ends every session of the user; their open sockets are told why and closed. */
  private endSessionsOf(userId: string, now: number, reason: RevokeReason): void {
    this.activity.endSessionsOf(userId, now);
    this.presence.revokeUser(userId, reason);
  }

  // ---------------------------------------------------------------- alarm

  override async alarm(): Promise<void> {
    this.calls.bump("alarms");
    await this.ready();
    const nextSweep = this.sweepSockets(this.now());
    await this.activity.onAlarm();
    if (nextSweep !== null) this.activity.arm(nextSweep);
  }

  // ---------------------------------------------------------------- reads

  /** What the user may use, from memory: the admin's entitlements read. */
  async entitlements(userId: string): Promise<Entitlements> {
    this.calls.bump("requests");
    if (!this.sync.loaded) await this.ready();
    return this.entitlementsOf(userId);
  }

  private entitlementsOf(userId: string): Entitlements {
    return entitlements(this.roster, userId, { virtual_agent: (this.roster.purchased.get("virtual_agent") ?? 0) > 0 });
  }

  /** The agent's `/v1/me`: the same, for a token of the user's current generation only. */
  async agentEntitlements(userId: string, generation: number): Promise<Result<Entitlements>> {
    if (!this.tokens.accepts(userId, generation)) return fail(revoked());
    return ok(await this.entitlements(userId));
  }

  async listPools(): Promise<PoolView[]> {
    await this.fresh();
    return [...this.roster.pools.keys()].sort().map((pool) => this.poolView(pool));
  }

  private poolView(pool: PoolId): PoolView {
    return poolView(pool, this.roster.pools.get(pool)!, this.seats.active(pool), this.roster.assigned(pool));
  }

  async poolSeats(pool: PoolId): Promise<Result<PoolSeatsView>> {
    await this.fresh();
    const settings = this.roster.pools.get(pool);
    if (!settings) return fail(notFound(`Pool ${pool}`));
    const now = this.now();
    this.activity.expireDue(now);
    const live = this.ledger.live(pool, now, this.activity.graceRules());
    return ok(poolSeatsView(pool, settings, this.seats.active(pool), live?.interval ?? null, this.seats.seats(pool)));
  }

  /** Usage buckets in columns (the route also derives the row form from them): one pass over the log. */
  async usage(pool: PoolId, window: Window, stepSeconds: number): Promise<Result<{ from: string; step_seconds: number; max_active: number[]; limit: number[] }>> {
    await this.fresh();
    if (!this.roster.pools.has(pool)) return fail(notFound(`Pool ${pool}`));
    const c = usageColumns(this.ledger.steps(pool, window), window, stepSeconds);
    return ok({ from: iso(c.from), step_seconds: stepSeconds, max_active: c.max_active, limit: c.limit });
  }


  /** A billing cycle's figures from the step log (final once the cycle has ended; a preview before). */
  async cycleSummary(window: Window): Promise<CycleSummary> {
    await this.fresh();
    this.activity.expireDue(Math.min(this.now(), window.to));
    return cycleSummary({ accountId: this.accountId, roster: this.roster, ledger: this.ledger, window, rules: this.activity.graceRules(), now: this.now() });
  }

  /** The right-sizing advisor's history: per pool, the last `cycles` ended cycles' peaks. */
  async advisorHistory(cycles: number): Promise<ReturnType<typeof advisorHistory>> {
    await this.fresh();
    return advisorHistory(this.roster, this.ledger, this.now(), cycles);
  }

  /**
   * The open over-limit intervals with their figures so far. Decides what is due first and drains
   * the outbox, so D1's interval rows read right after agree with this answer (decision 030).
   */
  async openIntervals(): Promise<IntervalRecord[]> {
    await this.fresh();
    const now = this.now();
    this.activity.expireDue(now);
    await this.activity.flushOutbox();
    return this.liveIntervals(now);
  }

  private liveIntervals(now: number): IntervalRecord[] {
    const out: IntervalRecord[] = [];
    for (const pool of this.roster.pools.keys()) {
      const live = this.ledger.live(pool, now, this.activity.graceRules());
      if (live?.interval) out.push(intervalRecord(pool, live.interval));
    }
    return out;
  }

  async addons(): Promise<AddonReportRow[]> {
    await this.fresh();
    return addonReport(this.roster);
  }

  /** What the account is missing before its agents find out. */
  async compliance(): Promise<ComplianceReport> {
    await this.fresh();
    const now = this.now();
    this.activity.expireDue(now);
    return complianceReport(this.roster, this.liveIntervals(now), (pool) => this.seats.active(pool));
  }

  // ---------------------------------------------------------------- admin writes (locked, D1 first)

  /** A 404 for a user the account does not have (read from D1: users are not in the roster). */
  private async unknownUser(userId: string): Promise<Result<never> | null> {
    return (await writes.userExists(this.db, this.accountId, userId)) ? null : fail(notFound(`User ${userId}`));
  }

  async updateSettings(patch: SettingsPatch, actor: string): Promise<Result<null>> {
    return this.admin.run(actor, () => {
      if (Object.values(patch).every((v) => v === undefined)) return ok(null);
      const { name, billing_day: billingDay, grace_seconds: graceSeconds, grace_policy: gracePolicy, lease_ttl_seconds: leaseTtlSeconds, reconnect_grace_seconds: reconnectGraceSeconds, max_sessions_per_user: maxSessionsPerUser } = patch;
      return {
        writes: [writes.updateAccountSettings(this.db, this.accountId, { name, billingDay, graceSeconds, gracePolicy, leaseTtlSeconds, reconnectGraceSeconds, maxSessionsPerUser })],
        audit: [{ action: "account.update", target: this.accountId, detail: { ...patch } }],
        apply: () => {
          const s = this.roster.settings;
          s.billingDay = billingDay ?? s.billingDay;
          s.graceSeconds = graceSeconds ?? s.graceSeconds;
          s.gracePolicy = gracePolicy ?? s.gracePolicy;
          s.leaseTtlSeconds = leaseTtlSeconds ?? s.leaseTtlSeconds;
          s.reconnectGraceSeconds = reconnectGraceSeconds ?? s.reconnectGraceSeconds;
          s.maxSessionsPerUser = maxSessionsPerUser ?? s.maxSessionsPerUser;
          return null;
        },
      };
    });
  }

  /** `maxActive` undefined keeps the pool's ceiling; null removes it. */
  async putPool(pool: PoolId, quantity: number, requestedMaxActive: number | null | undefined, actor: string): Promise<Result<PoolView>> {
    return this.admin.run(actor, (now, at) => {
      const before = this.roster.pools.get(pool);
      const maxActive = requestedMaxActive === undefined ? (before?.maxActive ?? null) : requestedMaxActive;
      const refusal = refusePoolQuantity(this.roster, pool, quantity, maxActive);
      if (refusal) return fail(refusalError(refusal));
      return {
        writes: [writes.upsertPool(this.db, this.accountId, pool, quantity, maxActive, at)],
        audit: [
          {
            action: before ? "pool.update" : "pool.create",
            target: pool,
            detail: { quantity, max_active: maxActive, previous_quantity: before?.quantity ?? null },
          },
        ],
        apply: () => {
          this.roster.setPool(pool, { quantity, maxActive });
          if (before?.quantity !== quantity) {
            this.activity.expireDue(now);
            this.activity.record(pool, now);
          }
          return this.poolView(pool);
        },
      };
    });
  }

  async assignLicense(userId: string, pool: PoolId, actor: string): Promise<Result<{ user_id: string; pool: PoolId }>> {
    return this.admin.run(actor, async (now, at) => {
      const unknown = await this.unknownUser(userId);
      if (unknown) return unknown;
      const refusal = refuseAssignment(this.roster, userId, pool);
      if (refusal) return fail(refusalError(refusal));
      const previous = this.roster.licenses.get(userId) ?? null;
      if (previous === pool) return ok({ user_id: userId, pool });
      return {
        writes: [writes.upsertLicense(this.db, this.accountId, userId, pool, at)],
        audit: [{ action: "license.assign", target: userId, detail: { pool, previous } }],
        apply: () => {
          this.roster.setLicense(userId, pool);
          // A moved user's desktop checks out again and lands in the new pool.
          if (previous) this.endSessionsOf(userId, now, "license_moved");
          return { user_id: userId, pool };
        },
      };
    });
  }

  async revokeLicense(userId: string, actor: string): Promise<Result<null>> {
    return this.admin.run(actor, async (now) => {
      const unknown = await this.unknownUser(userId);
      if (unknown) return unknown;
      const previous = this.roster.licenses.get(userId);
      if (!previous) return ok(null);
      return {
        writes: [writes.deleteLicense(this.db, this.accountId, userId), writes.deleteUserAddons(this.db, this.accountId, userId)],
        audit: [{ action: "license.revoke", target: userId, detail: { pool: previous } }],
        apply: () => {
          this.roster.revokeLicense(userId);
          this.endSessionsOf(userId, now, "license_revoked");
          return null;
        },
      };
    });
  }

  /**
   * Provisioning (SCIM, group rules) as one step: license and add-on changes for many users,
   * judged together by domain/provisioning.ts with the admin API's rules, written in one D1 batch
   * with the caller's own rows (`statements`: the SCIM records) and audit entries. All or nothing.
   * `creates` are users the statements insert, so they need not exist yet.
   */
  async applyProvisioning(
    input: { changes: ProvisioningChange[]; statements: { sql: string; params: unknown[] }[]; audit: { action: string; target: string; detail?: Record<string, unknown> }[]; creates: string[] },
    actor: string,
  ): Promise<Result<ProvisioningPlan>> {
    return this.admin.run(actor, async (now, at) => {
      const creates = new Set(input.creates);
      const ids = input.changes.map((c) => c.user_id).filter((id) => !creates.has(id));
      const known = await writes.existingUsers(this.db, this.accountId, ids);
      const unknown = ids.find((id) => !known.has(id));
      if (unknown !== undefined) return fail(new ApiError("not_found", `User ${unknown} was not found.`, { user_id: unknown }));
      const decided = planProvisioning(this.roster, input.changes);
      if ("refusal" in decided) return fail(refusalError(decided.refusal, {}, decided.refusal.code === "no_license" ? 409 : undefined));
      const plan = decided.plan;
      if (emptyPlan(plan) && input.statements.length === 0) return ok(plan);
      const seqs = plan.addonsAdd.map(() => this.roster.nextSeq(now));
      const held = new Map(this.roster.licenses);
      return {
        writes: [
          ...input.statements.map((s) => ({ toSQL: () => s })),
          ...(plan.revoke.length ? writes.deleteLicenses(this.db, this.accountId, plan.revoke) : []),
          ...(plan.assign.length ? [writes.upsertLicenses(this.db, this.accountId, plan.assign, at)] : []),
          ...plan.addonsRemove.map((a) => writes.deleteAddonAssignment(this.db, this.accountId, a.user_id, a.product)),
          ...plan.addonsAdd.map((a, i) => writes.insertAddonAssignment(this.db, this.accountId, a.user_id, a.product, seqs[i], at)),
        ],
        audit: [
          ...input.audit,
          ...plan.revoke.map((id) => ({ action: "license.revoke", target: id, detail: { pool: held.get(id) } })),
          ...plan.assign.map((a) => ({ action: "license.assign", target: a.user_id, detail: { pool: a.pool, previous: a.previous } })),
          ...plan.addonsRemove.map((a) => ({ action: "addon.unassign", target: a.user_id, detail: { product: a.product } })),
          ...plan.addonsAdd.map((a) => ({ action: "addon.assign", target: a.user_id, detail: { product: a.product } })),
        ],
        apply: () => {
          for (const id of plan.revoke) this.roster.revokeLicense(id);
          for (const a of plan.assign) this.roster.setLicense(a.user_id, a.pool);
          for (const a of plan.addonsRemove) this.roster.unassign(a.user_id, a.product);
          plan.addonsAdd.forEach((a, i) => this.roster.assign(a.user_id, a.product, seqs[i]));
          // A revoked or moved user's desktop checks out again (and lands in the new pool, or nowhere).
          for (const id of [...plan.revoke, ...plan.assign.filter((a) => a.previous !== null).map((a) => a.user_id)]) this.activity.endSessionsOf(id, now);
          return plan;
        },
      };
    });
  }

  async deleteUser(userId: string, actor: string): Promise<Result<null>> {
    return this.admin.run(actor, async (now) => {
      const unknown = await this.unknownUser(userId);
      if (unknown) return unknown;
      // Before D1, and kept after the user is gone: a user created again never accepts these tokens.
      this.tokens.bump(userId);
      return {
        writes: [
          writes.deleteUserAddons(this.db, this.accountId, userId),
          writes.deleteLicense(this.db, this.accountId, userId),
          writes.deleteUser(this.db, this.accountId, userId),
        ],
        audit: [{ action: "user.delete", target: userId, detail: { pool: this.roster.licenses.get(userId) ?? null } }],
        apply: () => {
          this.roster.revokeLicense(userId);
          this.tickets.revokeUser(userId);
          this.endSessionsOf(userId, now, "user_deleted");
          return null;
        },
      };
    });
  }

  /** All or nothing, judged on the state the batch leaves (src/domain/licenses.ts). */
  async applyLicenseBatch(batch: LicenseBatch, actor: string): Promise<Result<{ assigned: number; revoked: number }>> {
    return this.admin.run(actor, async (now, at) => {
      const ids = [...batch.revoke, ...batch.assign.map((a) => a.user_id)];
      const known = await writes.existingUsers(this.db, this.accountId, ids);
      const unknown = ids.find((id) => !known.has(id));
      if (unknown !== undefined) return fail(new ApiError("not_found", `User ${unknown} was not found.`, { user_id: unknown }));
      const refusal = refuseBatch(this.roster, batch);
      if (refusal) return fail(refusalError(refusal));
      const held = this.roster.licenses;
      const revoked = batch.revoke.filter((id) => held.has(id));
      // The route refuses a user named twice, so no user is both revoked and assigned here.
      const assign = batch.assign.filter((a) => held.get(a.user_id) !== a.pool);
      if (revoked.length + assign.length === 0) return ok({ assigned: 0, revoked: 0 });
      return {
        writes: [...writes.deleteLicenses(this.db, this.accountId, revoked), writes.upsertLicenses(this.db, this.accountId, assign, at)],
        audit: [
          ...revoked.map((id) => ({ action: "license.revoke", target: id, detail: { pool: held.get(id), batch: true } })),
          ...assign.map((a) => ({ action: "license.assign", target: a.user_id, detail: { pool: a.pool, previous: held.get(a.user_id) ?? null, batch: true } })),
        ],
        apply: () => {
          const moved = new Set([...revoked, ...assign.filter((a) => held.has(a.user_id)).map((a) => a.user_id)]);
          for (const userId of revoked) this.roster.revokeLicense(userId);
          for (const { user_id, pool } of assign) this.roster.setLicense(user_id, pool);
          for (const userId of moved) this.endSessionsOf(userId, now, this.roster.licenses.has(userId) ? "license_moved" : "license_revoked");
          return { assigned: assign.length, revoked: revoked.length };
        },
      };
    });
  }

  async forceRelease(pool: PoolId, userId: string, actor: string): Promise<Result<null>> {
    return this.admin.run(actor, async (now) => {
      if (!this.roster.pools.has(pool)) return fail(notFound(`Pool ${pool}`));
      const unknown = await this.unknownUser(userId);
      if (unknown) return unknown;
      if (this.seats.holders.get(userId)?.pool !== pool) return ok(null);
      return {
        writes: [],
        audit: [{ action: "seat.force_release", target: userId, detail: { pool } }],
        apply: () => {
          this.endSessionsOf(userId, now, "seat_released");
          return null;
        },
      };
    });
  }

  /** The generation a new agent token of the user carries; the mint is audited (never the token). */
  async agentTokenGeneration(userId: string, ttlSeconds: number, actor: string): Promise<Result<number>> {
    return this.admin.run(actor, async () => {
      const unknown = await this.unknownUser(userId);
      if (unknown) return unknown;
      return { writes: [], audit: [{ action: "agent_token.mint", target: userId, detail: { ttl_seconds: ttlSeconds } }], apply: () => this.tokens.of(userId) };
    });
  }

  /** Every agent token of the user minted so far stops working, and the user's sessions end. */
  async revokeAgentTokens(userId: string, actor: string): Promise<Result<null>> {
    return this.admin.run(actor, async (now) => {
      const unknown = await this.unknownUser(userId);
      if (unknown) return unknown;
      // Fail closed: raised before D1 hears of it, so an error never leaves the old tokens working.
      const generation = this.tokens.bump(userId);
      return {
        writes: [writes.setTokenGeneration(this.db, this.accountId, userId, generation)],
        audit: [{ action: "agent_token.revoke", target: userId, detail: { generation } }],
        apply: () => {
          this.tickets.revokeUser(userId);
          this.endSessionsOf(userId, now, "tokens_revoked");
          return null;
        },
      };
    });
  }

  async putAddonPurchase(product: AddonProduct, quantity: number, actor: string): Promise<Result<AddonReportRow>> {
    return this.pushingEntitlements(() => this.admin.run(actor, (_now, at) => {
      const refusal = checkPurchase(this.roster, product, quantity);
      if (refusal) return fail(refusalError(refusal, { product }));
      return {
        writes: [writes.upsertAddonPurchase(this.db, this.accountId, product, quantity, at)],
        audit: [{ action: "addon.purchase", target: product, detail: { quantity, previous: this.roster.purchased.get(product) ?? 0 } }],
        apply: () => {
          this.roster.purchased.set(product, quantity);
          return addonReport(this.roster).find((row) => row.product === product)!;
        },
      };
    }));
  }

  async assignAddon(userId: string, product: PerSeatProduct, actor: string): Promise<Result<{ user_id: string; product: PerSeatProduct; source: GrantSource }>> {
    return this.pushingEntitlements(() => this.admin.run(actor, async (now, at) => {
      const unknown = await this.unknownUser(userId);
      if (unknown) return unknown;
      const refusal = checkAssign(this.roster, userId, product);
      // An unlicensed user conflicts with an admin's add-on assignment: 409, not the checkout's 403.
      if (refusal) return fail(refusalError(refusal, { user_id: userId, product }, refusal.code === "no_license" ? 409 : undefined));
      const granted = () => ({ user_id: userId, product, source: grantSource(this.roster, userId, product)! });
      const recorded = this.roster.assignments.get(userId)?.has(product) ?? false;
      if (recorded || assignOutcome(this.roster, userId, product) !== "record") return ok(granted());
      const seq = this.roster.nextSeq(now);
      return {
        writes: [writes.insertAddonAssignment(this.db, this.accountId, userId, product, seq, at)],
        audit: [{ action: "addon.assign", target: userId, detail: { product } }],
        apply: () => {
          this.roster.assign(userId, product, seq);
          return granted();
        },
      };
    }));
  }

  async unassignAddon(userId: string, product: PerSeatProduct, actor: string): Promise<Result<null>> {
    return this.pushingEntitlements(() => this.admin.run(actor, async () => {
      const unknown = await this.unknownUser(userId);
      if (unknown) return unknown;
      if (!this.roster.assignments.get(userId)?.has(product)) return ok(null);
      return {
        writes: [writes.deleteAddonAssignment(this.db, this.accountId, userId, product)],
        audit: [{ action: "addon.unassign", target: userId, detail: { product } }],
        apply: () => {
          this.roster.unassign(userId, product);
          return null;
        },
      };
    }));
  }

  // ---------------------------------------------------------------- WebSocket presence (docs/api.md#presence-over-websocket)

  /** A one-time ticket for `GET /v1/seats/connect` (valid 60 s, stored hashed). */
  async issueTicket(userId: string, generation: number, sessionId: string): Promise<Result<{ ticket: string; expires_at: string }>> {
    this.calls.bump("requests");
    this.calls.bump("tickets");
    if (!this.sync.loaded) await this.ready();
    if (!this.tokens.accepts(userId, generation)) return fail(revoked());
    const { secret, expiresAt } = await this.tickets.issue(userId, sessionId, this.now());
    return ok({ ticket: formatTicket(secret, this.accountId), expires_at: iso(expiresAt) });
  }

  /** The upgrade: consume the ticket, check the seat out, hold the socket (hibernatable). */
  override async fetch(request: Request): Promise<Response> {
    this.calls.bump("requests");
    if (request.headers.get("upgrade")?.toLowerCase() !== "websocket") {
      return new Response(JSON.stringify(problemBody(new ApiError("upgrade_required", "Connect with a WebSocket upgrade."))), {
        status: 426,
        headers: { "content-type": "application/problem+json" },
      });
    }
    const parsed = parseTicket(new URL(request.url).searchParams.get("ticket") ?? "");
    const now = this.now();
    const holder = parsed && parsed.accountId === this.accountId ? await this.tickets.consume(parsed.secret, now) : null;
    if (!holder) {
      const refusal = new ApiError("unauthorized", "The ticket is unknown, used or expired; get a new one from POST /v1/seats/connect-ticket.");
      return refuseUpgrade(problemBody(refusal, "/v1/seats/connect"), CLOSE.unauthorized);
    }
    const result = await this.takeSeat(holder.userId, holder.sessionId);
    if (!result.ok) return refuseUpgrade(problemBody(result.error, "/v1/seats/connect"), closeCodeFor(result.error.code));
    const [client, server] = Object.values(new WebSocketPair()) as [WebSocket, WebSocket];
    this.presence.accept(server, holder.userId, holder.sessionId, now);
    this.calls.bump("socket_connects");
    this.presence.send(server, { type: "seat.granted", ...result.value, entitlements: this.entitlementsOf(holder.userId) });
    this.activity.arm(now + this.sweepIntervalMs());
    return new Response(null, { status: 101, webSocket: client });
  }

  /** Pings never get here (the runtime answers them); the only message handled is a release. */
  override async webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): Promise<void> {
    this.calls.bump("socket_messages");
    const now = this.now();
    this.presence.noteMessage(ws, now);
    if (message === PING) return ws.send(PONG);
    const info = this.presence.info(ws);
    if (!info || parseClientMessage(message)?.type !== "release") return this.presence.close(ws, CLOSE.badMessage, "unknown message");
    if (!this.sync.loaded) await this.ready();
    this.activity.expireDue(now);
    this.activity.endSession(info.userId, info.sessionId, now);
    for (const other of this.presence.ofSession(info.userId, info.sessionId)) this.presence.close(other, CLOSE.normal, "released");
  }

  override async webSocketClose(ws: WebSocket): Promise<void> {
    this.calls.bump("socket_closes");
    await this.socketGone(ws);
  }

  override async webSocketError(ws: WebSocket): Promise<void> {
    this.calls.bump("socket_closes");
    await this.socketGone(ws);
  }

  /**
   * A socket closed: unless the same session holds another socket (it reconnected first), its lease
   * now ends after the reconnect grace, so a blip neither flaps the seat nor over-counts it.
   */
  private async socketGone(ws: WebSocket): Promise<void> {
    const info = this.presence.info(ws);
    if (!info || this.presence.ofSession(info.userId, info.sessionId, ws).length > 0) return;
    if (!this.sync.loaded) await this.ready();
    const now = this.now();
    const graceMs = this.roster.settings.reconnectGraceSeconds * 1000;
    if (graceMs === 0) {
      this.activity.expireDue(now);
      return this.activity.endSession(info.userId, info.sessionId, now);
    }
    if (this.seats.renew(info.userId, info.sessionId, now + graceMs)) {
      // The lease got shorter: the seat book's earliest expiry must learn it.
      this.seats.refreshExpiry();
      this.activity.arm(now + graceMs);
    }
  }

  private sweepIntervalMs(): number {
    return Math.max(1000, (this.roster.settings.leaseTtlSeconds * 1000) / 2);
  }

  /**
   * From the alarm: sockets silent for longer than the lease are closed and their sessions end;
   * the others renew their sessions' leases (one alarm per half lease, however many sockets).
   * Returns when to sweep again, or null without sockets.
   */
  private sweepSockets(now: number): number | null {
    const leaseMs = this.roster.settings.leaseTtlSeconds * 1000;
    const { live, silent } = this.presence.sweep(now, leaseMs);
    for (const ws of silent) {
      const info = this.presence.info(ws)!;
      this.presence.close(ws, CLOSE.silent, "silent longer than the lease");
      if (this.presence.ofSession(info.userId, info.sessionId, ws).length === 0) this.activity.endSession(info.userId, info.sessionId, now);
    }
    for (const { userId, sessionId } of this.presence.sessionsOf(live)) {
      if (this.seats.renew(userId, sessionId, now + leaseMs)) continue;
      // Its session ended while the object was away (it expired): the client connects again.
      this.presence.revoke(this.presence.ofSession(userId, sessionId), "session_ended");
    }
    return live.length > 0 ? now + this.sweepIntervalMs() : null;
  }

  /** Runs an add-on change and tells every connected user whose entitlements it changed. */
  private async pushingEntitlements<T>(change: () => Promise<T>): Promise<T> {
    const users = this.presence.users();
    const before = new Map(users.map((u) => [u, JSON.stringify(this.entitlementsOf(u))]));
    const result = await change();
    for (const u of users) {
      const after = this.entitlementsOf(u);
      if (JSON.stringify(after) !== before.get(u)) this.presence.pushEntitlements(u, after);
    }
    return result;
  }

  /** The object's own invocation counts (`GET /v1/accounts/{id}/stats`). */
  async stats(): Promise<CounterSnapshot & { account_id: string; invocations: number; open_sockets: number; connected_users: number }> {
    const c = this.calls.snapshot();
    return {
      account_id: this.accountId,
      invocations: c.requests + c.socket_messages + c.socket_closes + c.alarms,
      ...c,
      open_sockets: this.presence.open().length,
      connected_users: this.presence.users().length,
    };
  }
}

const revoked = () => new ApiError("unauthorized", "The agent token is invalid, expired or revoked.");
