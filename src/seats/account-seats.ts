import { DurableObject } from "cloudflare:workers";
import type { AddonProduct, PerSeatProduct, PoolId } from "../domain/catalog";
import { addonReport, type AddonReportRow, type GrantSource } from "../domain/addons";
import type { LicenseBatch } from "../domain/licenses";
import type { ProvisioningPlan } from "../domain/provisioning";
import { usageColumns, type Window } from "../domain/overage";
import { deniedColumn } from "../domain/denials";
import { DEFAULT_ALERTS } from "../domain/thresholds";
import type { Entitlements } from "../domain/entitlements";
import { database, type Db } from "../db/client";
import type { Env } from "../env";
import { fail, notFound, ok, type Result } from "../errors";
import type { CycleSummary, IntervalRecord } from "../records";
import { iso } from "../time";
import * as account from "./account-writes";
import * as addons from "./addon-writes";
import { AdminWriter } from "./admin-write";
import { Alerts } from "./alerts";
import type { DenialView } from "./denial-log";
import * as agent from "./agent-seat";
import { advisorHistory } from "./advisor-history";
import { complianceReport, type ComplianceReport } from "./compliance";
import { ConnectTickets } from "./connect-tickets";
import { cycleSummary } from "./cycle-summary";
import { intervalHoldersOf, type HoldersPage, type IntervalHoldersQuery } from "./interval-holders";
import { chargebackOf, type ChargebackQuery, type ChargebackView } from "./team-usage";
import { assembleHouse, endSessionsOf, entitlementsOf, poolViewOf, type House } from "./house";
import { InvocationStats, type CounterSnapshot } from "./invocation-stats";
import * as licenses from "./license-writes";
import { Mutex } from "./mutex";
import * as offboarding from "./offboarding";
import { Outbox } from "./outbox";
import { Presence } from "./presence";
import type { Roster } from "./roster";
import { RosterCopy } from "./roster-copy";
import { RosterSync } from "./roster-sync";
import { reconcileWithRoster } from "./reconcile";
import { SeatBook } from "./seat-book";
import { SeatActivity } from "./seat-activity";
import * as teams from "./team-seats";
import * as sockets from "./sockets";
import { TokenGenerations } from "./token-generations";
import { Turns } from "./turns";
import { migrateSeatsSchema, readMeta, writeMeta } from "./sqlite-schema";
import { UsageLedger } from "./usage-ledger";
import * as waits from "./wait-seat";
import type { WaitingView } from "./waitlist";
import * as users from "./user-writes";
import { intervalRecord, poolSeatsView, type CheckoutView, type PoolSeatsView, type PoolView } from "./views";

export type { LicenseBatch } from "../domain/licenses";
export type { SettingsPatch } from "./account-writes";

/**
 * One per account: serializes everything that counts seats (docs/architecture.md#the-account-object).
 * This class is the object's entry points; each concern is a module over its shared parts (./house.ts):
 * - the agent's seat (./agent-seat.ts): checkout, heartbeat, release touch only SQLite and memory;
 * - presence over WebSocket (./sockets.ts); SCIM writes take turns here (./turns.ts);
 * - admin writes (./account-writes.ts, ./license-writes.ts, ./addon-writes.ts, ./user-writes.ts),
 *   each through the one sequence of ./admin-write.ts: under a lock, D1 first, memory after D1 accepted;
 * - one alarm for lease expiry, over-runs reaching their grace, outbox retries and the socket sweep.
 */
export class AccountSeats extends DurableObject<Env> {
  private readonly db: Db;
  private readonly admin: AdminWriter;
  private readonly ledger: UsageLedger;
  private readonly h: House;
  private readonly accountId: string;
  /** Tests set this object's clock (through runInDurableObject); null in production: the real clock. */
  testClock: number | null = null;
  private readonly scimTurns = new Turns(60_000);

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    const sql = ctx.storage.sql;
    this.db = database(env.DB);
    migrateSeatsSchema(sql);
    this.accountId = readMeta(sql, "account_id") ?? ctx.id.name ?? "";
    if (this.accountId) writeMeta(sql, "account_id", this.accountId);
    const accountId = () => this.accountId;
    const now = () => this.now();
    const seats = new SeatBook(sql);
    this.ledger = new UsageLedger(sql);
    const tokens = new TokenGenerations(sql);
    const presence = new Presence(ctx);
    Presence.autoRespond(ctx);
    const sync = new RosterSync({
      db: this.db,
      copy: new RosterCopy(sql),
      accountId,
      onLoad: (roster) => this.onRosterLoaded(roster),
      background: (work) => ctx.waitUntil(work),
    });
    this.admin = new AdminWriter({
      lock: new Mutex(),
      d1: env.DB,
      db: this.db,
      accountId,
      now,
      fresh: () => sync.fresh(),
      // The write may or may not have landed: decide nothing more until the roster is read again.
      stale: () => sync.markStale(),
      versioned: (version) => sync.applied(version),
    });
    const outbox = new Outbox(sql, env.DB, env.EVENTS_QUEUE, accountId);
    const activity = new SeatActivity({
      ctx,
      sql,
      seats,
      ledger: this.ledger,
      outbox,
      roster: () => sync.roster,
      accountId,
      now,
      heldOpen: (userId, sessionId) => presence.holds(userId, sessionId),
      prune: (before) => alerts.prune(before),
      onFreed: (pool) => this.h.waitlist.serve([pool]),
      onStep: (pool, t, active, limit) => alerts.onStep(pool, t, active, limit),
    });
    const waitlist = waits.createWaitlist(sql, () => this.h, {
      entitlementsOf: (userId) => entitlementsOf(this.h, userId),
      evictBeyondCap: (userId, keep, at) => agent.evictBeyondCap(this.h, userId, keep, at),
      seated: (userId, at) => this.h.alerts.seated(userId, at),
      // The team rules (./team-seats.ts): a waiter gets a seat only when a checkout would.
      seatState: (pool) => teams.teamSeatState(this.h.roster, this.h.seats, pool),
      teamOf: (userId) => this.h.roster.teamOf(userId) ?? null,
    });
    const alerts = new Alerts({
      sql,
      outbox,
      accountId,
      now,
      arm: (at) => activity.arm(at),
      flush: () => ctx.waitUntil(activity.flushOutbox()),
      poolAlerts: (pool) => {
        const settings = sync.roster.pools.get(pool as PoolId);
        return settings ? (settings.alerts ?? DEFAULT_ALERTS) : null;
      },
    });
    this.h = assembleHouse(
      { accountId, db: () => this.db, sync },
      { admin: this.admin, seats, ledger: this.ledger, activity, tokens, presence, tickets: new ConnectTickets(sql), calls: new InvocationStats(sql), alerts, waitlist, now },
    );
    // Small critical section: the roster (from the object's copy; from D1 only without one) and the
    // alarm. A failed load is retried by the next call.
    void ctx.blockConcurrencyWhile(async () => {
      await activity.init();
      await sync.wake().catch(() => undefined);
    });
  }

  now(): number {
    return this.testClock ?? Date.now();
  }

  /** A roster just read from D1 (never the copy): take its token generations, and heal what reached D1 but not this object. */
  private onRosterLoaded(roster: Roster): void {
    const h = this.h;
    h.tokens.merge(roster.tokenGenerations);
    offboarding.onRosterLoaded(h, roster);
    reconcileWithRoster(roster, h.seats, h.ledger, {
      endSessions: (userId, reason) => endSessionsOf(h, userId, this.now(), reason),
      logQuantity: (pool) => h.activity.record(pool, this.now()),
    });
    // What D1 says may have freed seats (a ceiling raised elsewhere, users gone): serve the queues.
    h.waitlist.serve();
  }

  private get roster(): Roster {
    return this.h.sync.roster;
  }

  private fresh(): Promise<void> {
    return this.h.sync.fresh();
  }

  // ---------------------------------------------------------------- agent desktop (./agent-seat.ts)

  checkout(userId: string, generation: number, sessionId: string, wait = false): Promise<Result<CheckoutView | WaitingView>> {
    return agent.checkout(this.h, userId, generation, sessionId, wait);
  }

  /** `POST /v1/seats/wait/{session_id}`: the waiting place (renewed), or the checkout once granted. */
  pollWait(userId: string, generation: number, sessionId: string): Promise<Result<CheckoutView | WaitingView>> {
    return agent.pollWait(this.h, userId, generation, sessionId);
  }

  /** `DELETE /v1/seats/wait/{session_id}`: leaves the queue (idempotent). */
  leaveWait(userId: string, generation: number, sessionId: string): Promise<Result<null>> {
    return agent.leaveWait(this.h, userId, generation, sessionId);
  }

  heartbeat(userId: string, generation: number, sessionId: string): Promise<Result<{ expires_at: string }>> {
    return agent.heartbeat(this.h, userId, generation, sessionId);
  }

  release(userId: string, generation: number, sessionId: string): Promise<Result<null>> {
    return agent.release(this.h, userId, generation, sessionId);
  }

  entitlements(userId: string): Promise<Entitlements> {
    return agent.userEntitlements(this.h, userId);
  }

  agentEntitlements(userId: string, generation: number): Promise<Result<Entitlements>> {
    return agent.agentEntitlements(this.h, userId, generation);
  }

  // ---------------------------------------------------------------- alarm

  override async alarm(): Promise<void> {
    this.h.calls.bump("alarms");
    await this.h.sync.ready();
    const nextSweep = sockets.sweepSockets(this.h, this.now());
    const nextAlert = this.h.alerts.onAlarm(this.now());
    await this.h.activity.onAlarm();
    for (const t of [nextSweep, nextAlert]) if (t !== null) this.h.activity.arm(t);
  }

  // ---------------------------------------------------------------- reads

  async listPools(): Promise<PoolView[]> {
    await this.fresh();
    return [...this.roster.pools.keys()].sort().map((pool) => poolViewOf(this.h, pool));
  }

  async poolSeats(pool: PoolId): Promise<Result<PoolSeatsView>> {
    await this.fresh();
    const settings = this.roster.pools.get(pool);
    if (!settings) return fail(notFound(`Pool ${pool}`));
    const now = this.now();
    this.h.activity.expireDue(now);
    const live = this.ledger.live(pool, now, this.h.activity.graceRules());
    return ok(poolSeatsView(pool, settings, this.h.seats.active(pool), live, this.h.seats.seats(pool)));
  }

  /** Usage buckets in columns (the route also derives the row form from them): one pass over the log. */
  async usage(pool: PoolId, window: Window, stepSeconds: number): Promise<Result<{ from: string; step_seconds: number; max_active: number[]; limit: number[]; denied: number[] }>> {
    await this.fresh();
    if (!this.roster.pools.has(pool)) return fail(notFound(`Pool ${pool}`));
    const c = usageColumns(this.ledger.steps(pool, window), window, stepSeconds);
    const denied = deniedColumn(this.h.alerts.denials.perMinute(pool, window.from, window.to), window.from, window.to, c.step_ms);
    return ok({ from: iso(c.from), step_seconds: stepSeconds, max_active: c.max_active, limit: c.limit, denied });
  }

  /** A page of the denials list (docs/licensing.md#denials): per user, the last refusal in the window. */
  async denials(q: { from: number; to: number; pool?: string | null }, after: string | null, limit: number): Promise<{ items: DenialView[]; next: string | null }> {
    return this.h.alerts.denials.list(q, after, limit, this.now());
  }

  /** The edge refused the user's checkout with 429 (reported at most once a minute per user and isolate). */
  async noteRateLimited(userId: string): Promise<void> {
    await this.h.sync.ready();
    this.h.alerts.refused(userId, this.roster.licenseOf(userId) ?? null, "rate_limited", this.now());
  }

  /** A billing cycle's figures from the step log (final once the cycle has ended; a preview before). */
  async cycleSummary(window: Window): Promise<CycleSummary> {
    await this.fresh();
    this.h.activity.expireDue(Math.min(this.now(), window.to));
    const denials = this.h.alerts.denials.totals(window.from, Math.min(window.to, this.now()));
    return cycleSummary({ accountId: this.accountId, roster: this.roster, ledger: this.ledger, holds: this.h.activity.holds, window, rules: this.h.activity.graceRules(), now: this.now(), denials });
  }

  /** Chargeback by team (./team-usage.ts): one team's usage buckets, or every team's figures in a pool. */
  async chargeback(q: ChargebackQuery): Promise<Result<ChargebackView>> {
    await this.fresh();
    return chargebackOf(this.h, q);
  }

  /** The holds that counted in an over-limit interval's billable part (./interval-holders.ts). */
  async intervalHolders(q: IntervalHoldersQuery): Promise<HoldersPage> {
    await this.fresh();
    this.h.activity.expireDue(this.now());
    return intervalHoldersOf(this.ledger, this.h.activity, this.roster.settings.billingDay, this.now(), q);
  }

  /** The right-sizing advisor's history: per pool, the last `cycles` ended cycles' peaks. */
  async advisorHistory(cycles: number): Promise<ReturnType<typeof advisorHistory>> {
    await this.fresh();
    return advisorHistory(this.roster, this.ledger, this.now(), cycles);
  }

  /** The open over-limit intervals so far; what is due is decided and the outbox drained first, so D1's rows agree (decision 030). */
  async openIntervals(): Promise<IntervalRecord[]> {
    await this.fresh();
    const now = this.now();
    this.h.activity.expireDue(now);
    await this.h.activity.flushOutbox();
    return this.liveIntervals(now);
  }

  private liveIntervals(now: number): IntervalRecord[] {
    const out: IntervalRecord[] = [];
    for (const pool of this.roster.pools.keys()) {
      const live = this.ledger.live(pool, now, this.h.activity.graceRules());
      if (live?.interval) out.push(intervalRecord(pool, live.interval));
    }
    return out;
  }

  async addons(): Promise<AddonReportRow[]> {
    await this.fresh();
    return addonReport(this.roster.state());
  }

  /** What the account is missing before its agents find out. */
  async compliance(): Promise<ComplianceReport> {
    await this.fresh();
    const now = this.now();
    this.h.activity.expireDue(now);
    return complianceReport(this.roster, this.liveIntervals(now), (pool) => this.h.seats.active(pool));
  }

  /** The object's own invocation counts (`GET /v1/accounts/{id}/stats`). */
  async stats(): Promise<CounterSnapshot & { account_id: string; invocations: number; open_sockets: number; connected_users: number }> {
    const c = this.h.calls.snapshot();
    return {
      account_id: this.accountId,
      invocations: c.requests + c.socket_messages + c.socket_closes + c.alarms,
      ...c,
      open_sockets: this.h.presence.open().length,
      connected_users: this.h.presence.users().length,
    };
  }

  // ---------------------------------------------------------------- admin writes (locked, D1 first: ./admin-write.ts)

  updateSettings(patch: account.SettingsPatch, actor: string): Promise<Result<null>> {
    return account.updateSettings(this.h, patch, actor);
  }

  /** `maxActive` undefined keeps the pool's ceiling; null removes it. */
  putPool(pool: PoolId, quantity: number, maxActive: number | null | undefined, actor: string, alerts?: readonly number[]): Promise<Result<PoolView>> {
    return account.putPool(this.h, pool, quantity, maxActive, actor, alerts);
  }

  assignLicense(userId: string, pool: PoolId, actor: string): Promise<Result<{ user_id: string; pool: PoolId }>> {
    return licenses.assignLicense(this.h, userId, pool, actor);
  }

  revokeLicense(userId: string, actor: string): Promise<Result<null>> {
    return licenses.revokeLicense(this.h, userId, actor);
  }

  applyLicenseBatch(batch: LicenseBatch, actor: string): Promise<Result<{ assigned: number; revoked: number }>> {
    return licenses.applyLicenseBatch(this.h, batch, actor);
  }

  applyProvisioning(input: licenses.ProvisioningInput, actor: string): Promise<Result<ProvisioningPlan>> {
    return licenses.applyProvisioning(this.h, input, actor);
  }

  /** A SCIM write's turn (./turns.ts): its token, or with `done` that turn given back; one not given back ends after a minute. */
  scimTurn(done?: string): Promise<string | null> {
    return this.scimTurns.pass(done);
  }

  deleteUser(userId: string, actor: string): Promise<Result<null>> {
    return users.deleteUser(this.h, userId, actor);
  }

  forceRelease(pool: PoolId, userId: string, actor: string): Promise<Result<null>> {
    return users.forceRelease(this.h, pool, userId, actor);
  }

  agentTokenGeneration(userId: string, ttlSeconds: number, actor: string): Promise<Result<number>> {
    return users.agentTokenGeneration(this.h, userId, ttlSeconds, actor);
  }

  revokeAgentTokens(userId: string, actor: string): Promise<Result<null>> {
    return users.revokeAgentTokens(this.h, userId, actor);
  }

  putAddonPurchase(product: AddonProduct, quantity: number, actor: string): Promise<Result<AddonReportRow>> {
    return addons.putAddonPurchase(this.h, product, quantity, actor);
  }

  assignAddon(userId: string, product: PerSeatProduct, actor: string): Promise<Result<{ user_id: string; product: PerSeatProduct; source: GrantSource }>> {
    return addons.assignAddon(this.h, userId, product, actor);
  }

  unassignAddon(userId: string, product: PerSeatProduct, actor: string): Promise<Result<null>> {
    return addons.unassignAddon(this.h, userId, product, actor);
  }

  // ---------------------------------------------------------------- offboarding (./offboarding.ts)

  /** Refuses every agent, ends every session; answers this object's clock (the last cycle's end). */
  closeAccount(): Promise<number> {
    return offboarding.closeAccount(this.h);
  }

  /** Empties this object's storage and alarm and closes its sockets. */
  wipe(): Promise<void> {
    return offboarding.wipe(this.h, this.ctx);
  }

  /** Drops this instance from memory (throws by design: the reset ends the call). */
  reset(): void {
    offboarding.reset(this.ctx);
  }

  // ---------------------------------------------------------------- teams (./team-seats.ts)

  async listTeams(pool: PoolId): Promise<Result<teams.TeamLimitView[]>> {
    await this.fresh();
    return teams.listTeams(this.h, pool);
  }

  async getTeam(pool: PoolId, team: string): Promise<Result<teams.TeamLimitView>> {
    await this.fresh();
    return teams.getTeam(this.h, pool, team);
  }

  putTeam(pool: PoolId, team: string, patch: { max_active?: number | null; reserve?: number }, actor: string): Promise<Result<teams.TeamLimitView>> {
    return teams.putTeam(this.h, pool, team, patch, actor);
  }

  deleteTeam(pool: PoolId, team: string, actor: string): Promise<Result<null>> {
    return teams.deleteTeam(this.h, pool, team, actor);
  }

  setUserTeams(items: { user_id: string; team: string | null }[], actor: string): Promise<Result<{ updated: number }>> {
    return teams.setUserTeams(this.h, items, actor);
  }

  // ---------------------------------------------------------------- WebSocket presence (./sockets.ts)

  issueTicket(userId: string, generation: number, sessionId: string): Promise<Result<{ ticket: string; expires_at: string }>> {
    return sockets.issueTicket(this.h, userId, generation, sessionId);
  }

  override fetch(request: Request): Promise<Response> {
    return sockets.upgrade(this.h, request);
  }

  override webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): Promise<void> {
    return sockets.onMessage(this.h, ws, message);
  }

  override webSocketClose(ws: WebSocket): Promise<void> {
    return sockets.socketGone(this.h, ws);
  }

  override webSocketError(ws: WebSocket): Promise<void> {
    return sockets.socketGone(this.h, ws);
  }
}
