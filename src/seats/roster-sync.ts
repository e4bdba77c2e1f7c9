import type { Db } from "../db/client";
import { Roster } from "./roster";

export interface RosterSyncContext {
  db: Db;
  accountId: () => string;
  /** Runs after every load, before any decision reads the new roster. */
  onLoad: (roster: Roster) => void;
}

/**
 * The object's copy of the roster and when to read it again: once on waking, again for an
 * account created after the object woke, and again after a D1 write whose outcome is unknown
 * (`markStale`), so the next decision is always taken on what D1 holds.
 */
export class RosterSync {
  roster = new Roster();
  loaded = false;
  private loading: Promise<void> | null = null;
  /** Raised by `markStale`: a load that started before it does not count as fresh. */
  private epoch = 0;

  constructor(private readonly c: RosterSyncContext) {}

  /** Loads the roster from D1 unless it is loaded (and again after a failed attempt). */
  ready(): Promise<void> {
    if (this.loaded) return Promise.resolve();
    const epoch = this.epoch;
    this.loading ??= Roster.load(this.c.db, this.c.accountId())
      .then((roster) => {
        this.roster = roster;
        this.c.onLoad(roster);
        this.loaded = epoch === this.epoch;
      })
      .finally(() => {
        this.loading = null;
      });
    return this.loading.then(() => (this.loaded ? undefined : this.ready()));
  }

  /** Ready, and re-read when the account did not exist yet at the last load. */
  async fresh(): Promise<void> {
    await this.ready();
    if (!this.roster.exists) {
      this.loaded = false;
      await this.ready();
    }
  }

  /** A D1 write failed: it may or may not have landed, so the roster is read again before the next decision. */
  markStale(): void {
    this.loaded = false;
    this.epoch += 1;
  }
}
