import type { Db } from "../db/client";
import { readRosterVersion } from "../db/roster-writes";
import { Roster } from "./roster";
import type { RosterCopy } from "./roster-copy";

export interface RosterSyncContext {
  db: Db;
  copy: RosterCopy;
  accountId: () => string;
  /** Runs after every read from D1, before any decision reads the new roster. */
  onLoad: (roster: Roster) => void;
  /** Keeps the object alive for work that finishes after the reply (ctx.waitUntil). */
  background: (work: Promise<unknown>) => void;
}

/**
 * The object's roster and where it comes from (docs/architecture.md#waking-and-the-roster-copy):
 *
 * - **Waking** with a copy in its SQLite, the object reads the copy: no D1 read before the first
 *   decision. It then reads D1's `roster_version` in the background; a different one (a write that
 *   reached D1 but not the object) reloads the roster from D1 and rewrites the copy.
 * - Waking without a copy (an object from before the copy, an account created after it woke), and
 *   after a D1 write whose outcome is unknown (`markStale`), the roster is read from D1, so the
 *   next decision is always taken on what D1 holds.
 * - Agent calls wait only for a roster (`ready`); admin writes and reads also wait until D1's version
 *   has been checked since waking (`fresh`).
 */
export class RosterSync {
  roster = new Roster();
  loaded = false;
  /** D1's roster_version was read since waking and matched (or the roster was read from D1). */
  private checked = false;
  private loading: Promise<void> | null = null;
  private checking: Promise<void> | null = null;
  /** Raised by `markStale`: a load that started before it does not count as fresh. */
  private epoch = 0;

  constructor(private readonly c: RosterSyncContext) {}

  /** On waking: the copy when there is one (and D1's version checked in the background), else D1. */
  wake(): Promise<void> {
    if (this.c.copy.version() !== null) {
      this.roster = this.c.copy.load();
      this.loaded = true;
      this.c.background(this.check().catch((err) => console.warn(`roster version check failed for ${this.c.accountId()}; retried before the next admin decision`, err)));
      return Promise.resolve();
    }
    return this.ready();
  }

  /** Loads the roster from D1 unless it is loaded (and again after a failed attempt). */
  ready(): Promise<void> {
    if (this.loaded) return Promise.resolve();
    const epoch = this.epoch;
    this.loading ??= Roster.load(this.c.db, this.c.accountId())
      .then((roster) => this.take(roster, epoch))
      .finally(() => {
        this.loading = null;
      });
    return this.loading.then(() => (this.loaded ? undefined : this.ready()));
  }

  /** Ready, re-read when the account did not exist yet at the last load, and checked against D1's version since waking. */
  async fresh(): Promise<void> {
    await this.ready();
    if (!this.roster.exists) {
      this.loaded = false;
      await this.ready();
    }
    if (this.checked) return;
    await this.check();
    // A write failed while D1 was asked: the reload it calls for comes first.
    if (!this.loaded || !this.checked) return this.fresh();
  }

  /** A D1 write failed: it may or may not have landed, so the roster is read again before the next decision. */
  markStale(): void {
    this.loaded = false;
    this.epoch += 1;
  }

  /**
   * A write the object applied: D1 answered with the version its batch set. The copy records it
   * (in the same transaction as the change). Anything but the next version means D1 changed
   * without the object: the roster is read again before the next decision.
   */
  applied(version: number): void {
    const expected = this.roster.version + 1;
    this.roster.version = version;
    if (this.roster.sink) this.c.copy.setVersion(version);
    if (version !== expected) this.markStale();
  }

  /** Reads D1's roster_version; when it is not the roster's, reads the roster from D1 and rewrites the copy. */
  private check(): Promise<void> {
    this.checking ??= (async () => {
      const epoch = this.epoch;
      const version = await readRosterVersion(this.c.db, this.c.accountId());
      if (epoch !== this.epoch || !this.loaded) return; // a reload from D1 is on its way already
      if (version !== null && version === this.roster.version && this.roster.exists) {
        this.checked = true;
        return;
      }
      console.warn(`roster of ${this.c.accountId()} drifted from D1 (version ${this.roster.version}, D1 ${version}); reloading`);
      this.take(await Roster.load(this.c.db, this.c.accountId()), epoch);
    })().finally(() => {
      this.checking = null;
    });
    return this.checking;
  }

  /** A roster read from D1 replaces memory and the copy, unless a write failed while it was read. */
  private take(roster: Roster, epoch: number): void {
    if (epoch !== this.epoch) return;
    this.roster = roster;
    this.c.copy.replace(roster);
    this.c.onLoad(roster);
    this.loaded = true;
    this.checked = true;
  }
}
