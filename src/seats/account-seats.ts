import { DurableObject } from "cloudflare:workers";
import type { AddonProduct, PerSeatProduct, PoolId } from "../domain/catalog";
import { parsePoolId, PER_SEAT_PRODUCTS } from "../domain/catalog";
import {
  addonReport,
  assignOutcome,
  checkAssign,
  checkMove,
  checkPoolQuantity,
  checkPurchase,
  compliance,
  consumption,
  grantSource,
  recommendations,
  type AddonReportRow,
  type ComplianceRow,
  type GrantSource,
  type Refusal,
} from "../domain/addons";
import type { TrackerEvent, Window } from "../domain/overage";
import { usageBuckets } from "../domain/overage";
import { entitlements, type Entitlements } from "../domain/entitlements";
import { writeBatch } from "../db/batch";
import { auditInsert, auditInsertMany } from "../db/audit";
import { database, iso, type Db } from "../db/client";
import * as writes from "../db/roster-writes";
import type { Env } from "../env";
import { ApiError, fail, notFound, ok, type Result } from "../errors";
import { cycleSummary, type CycleSummary } from "./cycle-summary";
import { Mutex } from "./mutex";
import { Outbox, type IntervalRecord } from "./outbox";
import { Roster } from "./roster";
import { SeatBook } from "./seat-book";
import { migrateSeatsSchema, readMeta, writeMeta } from "./sqlite-schema";
import { UsageLedger } from "./usage-ledger";
import { intervalRecord, type CheckoutView, type PoolSeatsView, type PoolView } from "./views";

/** Retry delay for an outbox that D1 or the queue refused. */
const OUTBOX_RETRY_MS = 5_000;
/** The usage step log keeps this much history: more than a year of cycles, and the dashboard's 30 days. */
const STEP_RETENTION_MS = 400 * 86_400_000;
const DAY_MS = 86_400_000;

export interface LicenseBatch {
  assign: { user_id: string; pool: PoolId }[];
  revoke: string[];
}

export interface SettingsPatch {
  name?: string;
  billing_day?: number;
  grace_seconds?: number;
  lease_ttl_seconds?: number;
}

/**
 * One per account: serializes everything that counts seats (docs/architecture.md#the-account-object).
 *
 * - Checkouts, heartbeats and releases touch only this object's SQLite and memory, synchronously:
 *   no lock, no D1, one round trip.
 * - Admin writes that an invariant depends on (pool quantities, licenses, add-ons, user removal)
 *   hold `lock`, write D1 first, and change memory only after D1 accepted.
 * - One alarm covers lease expiry, over-runs reaching their grace, and outbox retries.
 */
export class AccountSeats extends DurableObject<Env> {
  private readonly sql: SqlStorage;
  private readonly db: Db;
  private readonly lock = new Mutex();
  private readonly seats: SeatBook;
  private readonly ledger: UsageLedger;
  private readonly outbox: Outbox;
  private accountId = "";
  private roster = new Roster();
  private loading: Promise<void> | null = null;
  private loaded = false;
  private alarmAt: number | null = null;
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
    this.outbox = new Outbox(this.sql, env.DB, env.EVENTS_QUEUE, () => this.accountId);
    // Small critical section: the roster from D1 and the alarm. A failed load is retried by the next call.
    void ctx.blockConcurrencyWhile(async () => {
      this.alarmAt = await ctx.storage.getAlarm();
      await this.ready().catch(() => undefined);
    });
  }

  now(): number {
    return this.testClock ?? Date.now();
  }

  /** Loads the roster from D1 once (and again after a failed attempt). */
  private ready(): Promise<void> {
    if (this.loaded) return Promise.resolve();
    this.loading ??= Roster.load(this.db, this.accountId)
      .then((roster) => {
        this.roster = roster;
        this.loaded = true;
        this.endOrphanedSeats();
      })
      .finally(() => {
        this.loading = null;
      });
    return this.loading;
  }

  /**
   * A license revoked or moved in D1 just before a crash may have left its holder's sessions
   * behind: end them, so the seats always match the roster D1 holds.
   */
  private endOrphanedSeats(): void {
    const now = this.now();
    for (const [userId, holder] of [...this.seats.holders]) {
      if (this.roster.licenses.get(userId) !== holder.pool) this.endSessionsOf(userId, now);
    }
  }

  /** Re-reads the roster from D1: for an account created after this object first woke. */
  private async fresh(): Promise<void> {
    await this.ready();
    if (!this.roster.exists) {
      this.loaded = false;
      await this.ready();
    }
  }

  // ---------------------------------------------------------------- agent desktop

  async checkout(userId: string, sessionId: string): Promise<Result<CheckoutView>> {
    if (!this.loaded) await this.ready();
    const now = this.now();
    this.expireDue(now);
    const pool = this.roster.licenses.get(userId);
    if (!pool) return fail(new ApiError(403, "no_license", `User ${userId} holds no contact-center license.`));
    const expiresAt = now + this.roster.settings.leaseTtlSeconds * 1000;
    // A user without a seat has no session to renew: skip the UPDATE that could not match.
    const holdsSeat = this.seats.holders.has(userId);
    if (!holdsSeat || !this.seats.renew(userId, sessionId, expiresAt)) {
      if (!holdsSeat) {
        const { maxActive } = this.roster.pools.get(pool)!;
        if (maxActive !== null && this.seats.active(pool) >= maxActive) {
          return fail(new ApiError(409, "pool_at_ceiling", `Pool ${pool} is at its ceiling of ${maxActive} active seats.`));
        }
      }
      if (this.seats.open(userId, sessionId, pool, now, expiresAt)) this.recordActivity(pool, now);
    }
    this.armAlarm(expiresAt);
    return ok(this.checkoutView(userId, sessionId, pool, expiresAt, now));
  }

  async heartbeat(userId: string, sessionId: string): Promise<Result<{ expires_at: string }>> {
    if (!this.loaded) await this.ready();
    const now = this.now();
    this.expireDue(now);
    const expiresAt = now + this.roster.settings.leaseTtlSeconds * 1000;
    if (!this.seats.renew(userId, sessionId, expiresAt)) {
      return fail(new ApiError(404, "session_not_found", "The session has expired or was released; check out again."));
    }
    return ok({ expires_at: iso(expiresAt) });
  }

  async release(userId: string, sessionId: string): Promise<Result<null>> {
    if (!this.loaded) await this.ready();
    const now = this.now();
    this.expireDue(now);
    const freed = this.seats.end(userId, sessionId);
    if (freed) this.recordActivity(freed, now);
    return ok(null);
  }

  private checkoutView(userId: string, sessionId: string, pool: PoolId, expiresAt: number, now: number): CheckoutView {
    const { tier, model } = parsePoolId(pool)!;
    const limit = this.roster.pools.get(pool)!.quantity;
    const active = this.seats.active(pool);
    const live = model === "concurrent" ? this.ledger.live(pool, now, this.roster.settings.graceSeconds) : null;
    return {
      user_id: userId,
      pool,
      tier,
      model,
      session_id: sessionId,
      expires_at: iso(expiresAt),
      heartbeat_interval_seconds: Math.max(1, Math.floor(this.roster.settings.leaseTtlSeconds / 3)),
      limit,
      active,
      over_limit: model === "concurrent" && active > limit,
      grace_ends_at: live?.grace_ends_at != null ? iso(live.grace_ends_at) : null,
    };
  }

  // ---------------------------------------------------------------- seat accounting

  /** Logs the pool's new (active, limit) and feeds its over-limit tracker; events go to the outbox. */
  private recordActivity(pool: PoolId, t: number): void {
    const settings = this.roster.pools.get(pool);
    if (!settings) return;
    const tracked = parsePoolId(pool)!.model === "concurrent";
    const events = this.ledger.record(pool, t, this.seats.active(pool), settings.quantity, tracked, this.roster.settings.graceSeconds);
    this.emit(events.map((event) => ({ pool, event })), t);
  }

  /** Frees the seats of leases that ended, each at its own expiry time. */
  private expireDue(now: number): void {
    const due = this.seats.due(now);
    if (due.length === 0) return;
    for (const s of due) {
      const freed = this.seats.end(s.user_id, s.session_id);
      if (freed) this.recordActivity(freed, s.expires_at);
    }
    const next = this.seats.refreshExpiry();
    if (next !== null) this.armAlarm(next);
  }

  private endSessionsOf(userId: string, now: number): void {
    const freed = this.seats.endAll(userId);
    if (freed) this.recordActivity(freed, now);
  }

  private emit(events: { pool: PoolId; event: TrackerEvent }[], now: number): void {
    if (events.length === 0) return;
    for (const { pool, event } of events) {
      const record = intervalRecord(pool, event.interval);
      this.outbox.add({ kind: "interval", record });
      const at = event.type === "overage.billable" ? event.at : now;
      const suffix = event.type === "overage.billable" ? `billable_${event.at}` : event.type.slice("overage.".length);
      this.outbox.add({
        kind: "event",
        record: {
          id: `evt_${record.id}_${suffix}`,
          type: event.type,
          account_id: this.accountId,
          created_at: iso(at),
          data: event.type === "overage.billable" ? { interval: record, billable_now: event.billable_now } : { interval: record },
        },
      });
    }
    const deadline = this.ledger.nextDeadline(this.roster.settings.graceSeconds);
    if (deadline !== null) this.armAlarm(deadline);
    this.ctx.waitUntil(this.flushOutbox());
  }

  private async flushOutbox(): Promise<void> {
    try {
      await this.outbox.flush();
    } catch (err) {
      console.warn(`outbox flush failed for ${this.accountId}; retrying`, err);
      this.armAlarm(this.now() + OUTBOX_RETRY_MS);
    }
  }

  // ---------------------------------------------------------------- alarm

  private armAlarm(at: number): void {
    if (this.alarmAt !== null && this.alarmAt <= at) return;
    this.alarmAt = at;
    void this.ctx.storage.setAlarm(at);
  }

  /** Idempotent: expires leases, raises grace crossings, drains the outbox, re-arms. Safe to run twice. */
  override async alarm(): Promise<void> {
    this.alarmAt = null;
    await this.ready();
    const now = this.now();
    this.expireDue(now);
    this.emit(this.ledger.advance(now, this.roster.settings.graceSeconds), now);
    this.pruneDaily(now);
    await this.flushOutbox();
    const candidates = [
      this.seats.refreshExpiry(),
      this.ledger.nextDeadline(this.roster.settings.graceSeconds),
      this.outbox.pending() ? now + OUTBOX_RETRY_MS : null,
    ].filter((t): t is number => t !== null);
    if (candidates.length) this.armAlarm(Math.min(...candidates));
  }

  /** At most once a day, from the alarm: old steps go, so the log stays bounded. */
  private pruneDaily(now: number): void {
    const last = Number(readMeta(this.sql, "pruned_at") ?? 0);
    if (now - last < DAY_MS) return;
    this.ledger.prune(now - STEP_RETENTION_MS);
    writeMeta(this.sql, "pruned_at", String(now));
  }

  // ---------------------------------------------------------------- reads

  /** What the user may use, from memory: the agent's `/v1/me` and the admin's entitlements read. */
  async entitlements(userId: string): Promise<Entitlements> {
    if (!this.loaded) await this.ready();
    return entitlements(this.roster, userId, { virtual_agent: (this.roster.purchased.get("virtual_agent") ?? 0) > 0 });
  }

  async listPools(): Promise<PoolView[]> {
    await this.fresh();
    return [...this.roster.pools.keys()].sort().map((pool) => this.poolView(pool));
  }

  private poolView(pool: PoolId): PoolView {
    const { tier, model } = parsePoolId(pool)!;
    const settings = this.roster.pools.get(pool)!;
    const active = this.seats.active(pool);
    const assigned = this.roster.assigned(pool);
    return {
      id: pool,
      tier,
      model,
      quantity: settings.quantity,
      max_active: settings.maxActive,
      assigned: model === "named" ? assigned : null,
      members: model === "concurrent" ? assigned : null,
      active,
      over_limit: model === "concurrent" && active > settings.quantity,
    };
  }

  async poolSeats(pool: PoolId): Promise<Result<PoolSeatsView>> {
    await this.fresh();
    const settings = this.roster.pools.get(pool);
    if (!settings) return fail(notFound(`Pool ${pool}`));
    const now = this.now();
    this.expireDue(now);
    const live = this.ledger.live(pool, now, this.roster.settings.graceSeconds);
    const active = this.seats.active(pool);
    return ok({
      limit: settings.quantity,
      active,
      over_limit: parsePoolId(pool)!.model === "concurrent" && active > settings.quantity,
      interval: live?.interval ? intervalRecord(pool, live.interval) : null,
      items: this.seats.seats(pool),
    });
  }

  async usage(pool: PoolId, window: Window, stepSeconds: number): Promise<Result<{ t: string; max_active: number; limit: number }[]>> {
    await this.fresh();
    if (!this.roster.pools.has(pool)) return fail(notFound(`Pool ${pool}`));
    const buckets = usageBuckets(this.ledger.steps(pool, window), window, stepSeconds);
    return ok(buckets.map((b) => ({ t: iso(b.t), max_active: b.max_active, limit: b.limit })));
  }

  /** A billing cycle's figures from the step log (final once the cycle has ended; a preview before). */
  async cycleSummary(window: Window): Promise<CycleSummary> {
    await this.fresh();
    this.expireDue(Math.min(this.now(), window.to));
    return cycleSummary({ accountId: this.accountId, roster: this.roster, ledger: this.ledger, window, graceSeconds: this.roster.settings.graceSeconds, now: this.now() });
  }

  /** The account's billing day and creation time, for finding cycles. */
  async billingAnchor(): Promise<{ billing_day: number; created_at: number; grace_seconds: number }> {
    await this.fresh();
    const s = this.roster.settings;
    return { billing_day: s.billingDay, created_at: s.createdAt, grace_seconds: s.graceSeconds };
  }

  /** The open over-limit intervals with their figures so far. */
  async openIntervals(): Promise<IntervalRecord[]> {
    await this.fresh();
    const now = this.now();
    const out: IntervalRecord[] = [];
    for (const pool of this.roster.pools.keys()) {
      const live = this.ledger.live(pool, now, this.roster.settings.graceSeconds);
      if (live?.interval) out.push(intervalRecord(pool, live.interval));
    }
    return out;
  }

  // ---------------------------------------------------------------- admin writes (locked, D1 first)

  async updateSettings(patch: SettingsPatch, actor: string): Promise<Result<null>> {
    return this.lock.run(async () => {
      await this.fresh();
      if (Object.values(patch).every((v) => v === undefined)) return ok(null);
      const at = iso(this.now());
      await writeBatch(this.env.DB, [
        writes.updateAccountSettings(this.db, this.accountId, {
          name: patch.name,
          billingDay: patch.billing_day,
          graceSeconds: patch.grace_seconds,
          leaseTtlSeconds: patch.lease_ttl_seconds,
        }),
        auditInsert(this.db, this.accountId, at, { actor, action: "account.update", target: this.accountId, detail: { ...patch } }),
      ]);
      const s = this.roster.settings;
      s.billingDay = patch.billing_day ?? s.billingDay;
      s.graceSeconds = patch.grace_seconds ?? s.graceSeconds;
      s.leaseTtlSeconds = patch.lease_ttl_seconds ?? s.leaseTtlSeconds;
      return ok(null);
    });
  }

  /** `maxActive` undefined keeps the pool's ceiling; null removes it. */
  async putPool(pool: PoolId, quantity: number, requestedMaxActive: number | null | undefined, actor: string): Promise<Result<PoolView>> {
    return this.lock.run(async () => {
      await this.fresh();
      const { model } = parsePoolId(pool)!;
      if (model === "named" && requestedMaxActive != null) {
        return fail(
          new ApiError(400, "invalid_request", "max_active applies to concurrent pools only: a named pool's quantity is its cap.", {
            errors: [{ path: "max_active", message: "only for concurrent pools" }],
          }),
        );
      }
      const maxActive = requestedMaxActive === undefined ? (this.roster.pools.get(pool)?.maxActive ?? null) : requestedMaxActive;
      const assigned = this.roster.assigned(pool);
      if (model === "named" && quantity < assigned) {
        return fail(
          new ApiError(409, "quantity_below_assigned", `Pool ${pool} has ${assigned} users assigned; revoke licenses before lowering it to ${quantity}.`, {
            assigned,
          }),
        );
      }
      const addonRefusal = checkPoolQuantity(this.roster, pool, quantity);
      if (addonRefusal) return fail(refusalError(addonRefusal));
      const now = this.now();
      const at = iso(now);
      const before = this.roster.pools.get(pool);
      await writeBatch(this.env.DB, [
        writes.upsertPool(this.db, this.accountId, pool, quantity, maxActive, at),
        auditInsert(this.db, this.accountId, at, {
          actor,
          action: before ? "pool.update" : "pool.create",
          target: pool,
          detail: { quantity, max_active: maxActive, previous_quantity: before?.quantity ?? null },
        }),
      ]);
      this.roster.setPool(pool, { quantity, maxActive });
      if (before?.quantity !== quantity) {
        this.expireDue(now);
        this.recordActivity(pool, now);
      }
      return ok(this.poolView(pool));
    });
  }

  async assignLicense(userId: string, pool: PoolId, actor: string): Promise<Result<{ user_id: string; pool: PoolId }>> {
    return this.lock.run(async () => {
      await this.fresh();
      if (!(await writes.userExists(this.db, this.accountId, userId))) return fail(notFound(`User ${userId}`));
      const refusal = this.refuseAssignment(userId, pool);
      if (refusal) return fail(refusal);
      const previous = this.roster.licenses.get(userId) ?? null;
      if (previous === pool) return ok({ user_id: userId, pool });
      const now = this.now();
      const at = iso(now);
      await writeBatch(this.env.DB, [
        writes.upsertLicense(this.db, this.accountId, userId, pool, at),
        auditInsert(this.db, this.accountId, at, { actor, action: "license.assign", target: userId, detail: { pool, previous } }),
      ]);
      this.roster.setLicense(userId, pool);
      // A moved user's desktop checks out again and lands in the new pool.
      if (previous) this.endSessionsOf(userId, now);
      return ok({ user_id: userId, pool });
    });
  }

  /** Why this single assignment may not happen, or null. */
  private refuseAssignment(userId: string, pool: PoolId): ApiError | null {
    const settings = this.roster.pools.get(pool);
    if (!settings) return notFound(`Pool ${pool}`);
    if (this.roster.licenses.get(userId) === pool) return null;
    if (parsePoolId(pool)!.model === "named" && this.roster.assigned(pool) >= settings.quantity) {
      return new ApiError(409, "named_pool_full", `Named pool ${pool} has all ${settings.quantity} seats assigned; revoke one first.`, {
        user_id: userId,
        pool,
      });
    }
    const addonRefusal = checkMove(this.roster, userId, pool);
    return addonRefusal ? refusalError(addonRefusal, { user_id: userId, pool }) : null;
  }

  async revokeLicense(userId: string, actor: string): Promise<Result<null>> {
    return this.lock.run(async () => {
      await this.fresh();
      if (!(await writes.userExists(this.db, this.accountId, userId))) return fail(notFound(`User ${userId}`));
      const previous = this.roster.licenses.get(userId);
      if (!previous) return ok(null);
      const now = this.now();
      const at = iso(now);
      await writeBatch(this.env.DB, [
        writes.deleteLicense(this.db, this.accountId, userId),
        writes.deleteUserAddons(this.db, this.accountId, userId),
        auditInsert(this.db, this.accountId, at, { actor, action: "license.revoke", target: userId, detail: { pool: previous } }),
      ]);
      this.roster.revokeLicense(userId);
      this.endSessionsOf(userId, now);
      return ok(null);
    });
  }

  async deleteUser(userId: string, actor: string): Promise<Result<null>> {
    return this.lock.run(async () => {
      await this.fresh();
      if (!(await writes.userExists(this.db, this.accountId, userId))) return fail(notFound(`User ${userId}`));
      const now = this.now();
      const at = iso(now);
      await writeBatch(this.env.DB, [
        writes.deleteUserAddons(this.db, this.accountId, userId),
        writes.deleteLicense(this.db, this.accountId, userId),
        writes.deleteUser(this.db, this.accountId, userId),
        auditInsert(this.db, this.accountId, at, {
          actor,
          action: "user.delete",
          target: userId,
          detail: { pool: this.roster.licenses.get(userId) ?? null },
        }),
      ]);
      this.roster.revokeLicense(userId);
      this.endSessionsOf(userId, now);
      return ok(null);
    });
  }

  /**
   * All or nothing: revocations first (they free seats for the assignments), then assignments in
   * order, each checked against the state the previous ones left. The first refusal is the answer.
   */
  async applyLicenseBatch(batch: LicenseBatch, actor: string): Promise<Result<{ assigned: number; revoked: number }>> {
    return this.lock.run(async () => {
      await this.fresh();
      const ids = [...batch.revoke, ...batch.assign.map((a) => a.user_id)];
      const known = await writes.existingUsers(this.db, this.accountId, ids);
      const unknown = ids.find((id) => !known.has(id));
      if (unknown !== undefined) return fail(new ApiError(404, "not_found", `User ${unknown} was not found.`, { user_id: unknown }));
      const trial = this.roster.clone();
      for (const userId of batch.revoke) trial.revokeLicense(userId);
      for (const [index, { user_id, pool }] of batch.assign.entries()) {
        if (!trial.pools.has(pool)) return fail(new ApiError(404, "not_found", `assign[${index}]: Pool ${pool} was not found.`, { index, pool }));
        trial.setLicense(user_id, pool);
      }
      const refusal = this.refuseBatchResult(trial, batch.assign);
      if (refusal) return fail(refusal);
      const revoked = batch.revoke.filter((id) => this.roster.licenses.has(id));
      // The route refuses a user named twice, so no user is both revoked and assigned here.
      const assign = batch.assign.filter((a) => this.roster.licenses.get(a.user_id) !== a.pool);
      const now = this.now();
      const at = iso(now);
      const audit = [
        ...revoked.map((id) => ({ action: "license.revoke", target: id, detail: { pool: this.roster.licenses.get(id), batch: true } })),
        ...assign.map((a) => ({ action: "license.assign", target: a.user_id, detail: { pool: a.pool, previous: this.roster.licenses.get(a.user_id) ?? null, batch: true } })),
      ];
      if (audit.length === 0) return ok({ assigned: 0, revoked: 0 });
      await writeBatch(this.env.DB, [
        ...writes.deleteLicenses(this.db, this.accountId, revoked),
        writes.upsertLicenses(this.db, this.accountId, assign, at),
        auditInsertMany(this.db, this.accountId, at, actor, audit),
      ]);
      const moved = new Set([...revoked, ...assign.filter((a) => this.roster.licenses.has(a.user_id)).map((a) => a.user_id)]);
      for (const userId of revoked) this.roster.revokeLicense(userId);
      for (const { user_id, pool } of assign) this.roster.setLicense(user_id, pool);
      for (const userId of moved) this.endSessionsOf(userId, now);
      return ok({ assigned: assign.length, revoked: revoked.length });
    });
  }

  /**
   * A batch is judged on the state it leaves, not on its order (nobody sees the states between):
   * swapping users between two full named pools is fine. The refusal names the first assignment
   * that contributes to the breach.
   */
  private refuseBatchResult(trial: Roster, assign: LicenseBatch["assign"]): ApiError | null {
    const incoming = assign.map((a, index) => ({ ...a, index })).filter((a) => this.roster.licenses.get(a.user_id) !== a.pool);
    for (const [pool, settings] of trial.pools) {
      if (parsePoolId(pool)!.model !== "named" || trial.assigned(pool) <= settings.quantity) continue;
      // With every departure counted first, the culprit is the arrival that takes the pool past its quantity.
      const arrivals = incoming.filter((a) => a.pool === pool);
      if (arrivals.length === 0) continue; // over before this batch: not this batch's doing
      const culprit = arrivals[settings.quantity - (trial.assigned(pool) - arrivals.length)] ?? arrivals[0];
      return new ApiError(
        409,
        "named_pool_full",
        `assign[${culprit.index}]: named pool ${pool} would have ${trial.assigned(pool)} users assigned but has ${settings.quantity} seats. Nothing was applied.`,
        { index: culprit.index, user_id: culprit.user_id, pool },
      );
    }
    for (const product of PER_SEAT_PRODUCTS) {
      const after = consumption(trial, product);
      if (after.consumed <= after.purchased || after.consumed <= consumption(this.roster, product).consumed) continue;
      const culprit = incoming.find((a) => trial.assignments.get(a.user_id)?.has(product)) ?? incoming[0];
      if (!culprit) continue;
      return new ApiError(
        409,
        "addon_seats_exhausted",
        `assign[${culprit.index}]: the batch would need ${after.consumed} purchased ${product} seats but ${after.purchased} are bought. Nothing was applied.`,
        { index: culprit.index, user_id: culprit.user_id, product },
      );
    }
    return null;
  }

  async forceRelease(pool: PoolId, userId: string, actor: string): Promise<Result<null>> {
    return this.lock.run(async () => {
      await this.fresh();
      if (!this.roster.pools.has(pool)) return fail(notFound(`Pool ${pool}`));
      if (!(await writes.userExists(this.db, this.accountId, userId))) return fail(notFound(`User ${userId}`));
      if (this.seats.holders.get(userId)?.pool !== pool) return ok(null);
      const now = this.now();
      await writeBatch(this.env.DB, [
        auditInsert(this.db, this.accountId, iso(now), { actor, action: "seat.force_release", target: userId, detail: { pool } }),
      ]);
      this.endSessionsOf(userId, now);
      return ok(null);
    });
  }

  // ---------------------------------------------------------------- add-ons (docs/licensing.md#add-ons)

  async addons(): Promise<AddonReportRow[]> {
    await this.fresh();
    return addonReport(this.roster);
  }

  async putAddonPurchase(product: AddonProduct, quantity: number, actor: string): Promise<Result<AddonReportRow>> {
    return this.lock.run(async () => {
      await this.fresh();
      const refusal = checkPurchase(this.roster, product, quantity);
      if (refusal) return fail(refusalError(refusal, { product }));
      const at = iso(this.now());
      const previous = this.roster.purchased.get(product) ?? 0;
      await writeBatch(this.env.DB, [
        writes.upsertAddonPurchase(this.db, this.accountId, product, quantity, at),
        auditInsert(this.db, this.accountId, at, { actor, action: "addon.purchase", target: product, detail: { quantity, previous } }),
      ]);
      this.roster.purchased.set(product, quantity);
      return ok(addonReport(this.roster).find((row) => row.product === product)!);
    });
  }

  async assignAddon(userId: string, product: PerSeatProduct, actor: string): Promise<Result<{ user_id: string; product: PerSeatProduct; source: GrantSource }>> {
    return this.lock.run(async () => {
      await this.fresh();
      if (!(await writes.userExists(this.db, this.accountId, userId))) return fail(notFound(`User ${userId}`));
      const refusal = checkAssign(this.roster, userId, product);
      if (refusal) return fail(refusalError(refusal, { user_id: userId, product }));
      const recorded = this.roster.assignments.get(userId)?.has(product) ?? false;
      if (!recorded && assignOutcome(this.roster, userId, product) === "record") {
        const now = this.now();
        const at = iso(now);
        const seq = this.roster.nextSeq(now);
        await writeBatch(this.env.DB, [
          writes.insertAddonAssignment(this.db, this.accountId, userId, product, seq, at),
          auditInsert(this.db, this.accountId, at, { actor, action: "addon.assign", target: userId, detail: { product } }),
        ]);
        this.roster.assign(userId, product, seq);
      }
      return ok({ user_id: userId, product, source: grantSource(this.roster, userId, product)! });
    });
  }

  async unassignAddon(userId: string, product: PerSeatProduct, actor: string): Promise<Result<null>> {
    return this.lock.run(async () => {
      await this.fresh();
      if (!(await writes.userExists(this.db, this.accountId, userId))) return fail(notFound(`User ${userId}`));
      if (!this.roster.assignments.get(userId)?.has(product)) return ok(null);
      const at = iso(this.now());
      await writeBatch(this.env.DB, [
        writes.deleteAddonAssignment(this.db, this.accountId, userId, product),
        auditInsert(this.db, this.accountId, at, { actor, action: "addon.unassign", target: userId, detail: { product } }),
      ]);
      this.roster.unassign(userId, product);
      return ok(null);
    });
  }

  /** What the account is missing before its agents find out (issue 4). */
  async compliance(): Promise<ComplianceReport> {
    await this.fresh();
    const now = this.now();
    this.expireDue(now);
    const shortfall = compliance(this.roster);
    const open = await this.openIntervals();
    const overAssigned = [...this.roster.pools]
      .filter(([pool, p]) => parsePoolId(pool)!.model === "named" && this.roster.assigned(pool) > p.quantity)
      .map(([pool, p]) => ({ pool, quantity: p.quantity, assigned: this.roster.assigned(pool) }));
    const advice = [
      ...overAssigned.map((p) => `Named pool ${p.pool} has ${p.assigned} users assigned but only ${p.quantity} licenses: buy ${p.assigned - p.quantity} more or revoke.`),
      ...open.map((i) => {
        const limit = this.roster.pools.get(i.pool as PoolId)?.quantity ?? 0;
        const over = this.seats.active(i.pool as PoolId) - limit;
        return i.billable
          ? `Pool ${i.pool} is ${over} over its ${limit} seats past the grace period: this overage is billable. Buy ${i.billable_overage_seats} more seats or release idle agents.`
          : `Pool ${i.pool} is ${over} over its ${limit} seats, still inside the grace period: release idle agents or buy more seats before it ends.`;
      }),
    ];
    return {
      addon_shortfall: shortfall.map(({ product, needed, covered, shortfall: missing }) => ({ product, needed, covered, shortfall: missing })),
      named_pools_over_assigned: overAssigned,
      open_overages: open,
      recommendations: recommendations(shortfall, advice),
    };
  }
}

export interface ComplianceReport {
  addon_shortfall: Pick<ComplianceRow, "product" | "needed" | "covered" | "shortfall">[];
  named_pools_over_assigned: { pool: PoolId; quantity: number; assigned: number }[];
  open_overages: IntervalRecord[];
  recommendations: string[];
}

const REFUSAL_STATUS = { addon_seats_exhausted: 409, no_license: 409, quantity_below_assigned: 409, invalid_request: 400 } as const;

/** A domain refusal as an API error. */
function refusalError(refusal: Refusal, extra: Record<string, unknown> = {}): ApiError {
  return new ApiError(REFUSAL_STATUS[refusal.code], refusal.code, refusal.detail, extra);
}
