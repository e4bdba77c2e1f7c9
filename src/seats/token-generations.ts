import { deleteMeta, readMeta, writeMeta } from "./sqlite-schema";

/** Meta key: the account was deleted (offboarding), kept until the object is wiped. */
const ACCOUNT_GONE = "account_gone";

/**
 * Each user's agent-token generation, in the object's SQLite and memory: a token is accepted only
 * when it carries its user's current generation, checked on every agent call with no D1 read.
 * Only raised generations are stored (never-revoked users are 0), and a deleted user's entry stays,
 * so a user created again with the same id never accepts the tokens of the one before
 * (docs/decisions/021-agent-tokens-carry-a-generation.md).
 */
export class TokenGenerations {
  /** Users asked about so far: read by key, so a waking object does not read every revoked or deleted user. */
  private readonly gens = new Map<string, number>();

  constructor(private readonly sql: SqlStorage) {}

  of(userId: string): number {
    let gen = this.gens.get(userId);
    if (gen === undefined) {
      gen = this.sql.exec<{ gen: number }>("SELECT gen FROM token_generations WHERE user_id = ?", userId).toArray()[0]?.gen ?? 0;
      this.gens.set(userId, gen);
    }
    return gen;
  }

  private gone: boolean | undefined;

  /**
   * The account is deleted (offboarding, ./offboarding.ts): no agent token is accepted at all.
   * Stored in the object's SQLite, so an instance evicted between a DELETE that failed half-way
   * and its retry wakes refusing agents, before its background check has read D1.
   */
  get accountGone(): boolean {
    this.gone ??= readMeta(this.sql, ACCOUNT_GONE) !== null;
    return this.gone;
  }

  set accountGone(gone: boolean) {
    if (gone === this.accountGone) return;
    this.gone = gone;
    if (gone) writeMeta(this.sql, ACCOUNT_GONE, "1");
    else deleteMeta(this.sql, ACCOUNT_GONE);
  }

  accepts(userId: string, generation: number): boolean {
    return !this.accountGone && generation === this.of(userId);
  }

  /** Raises the user's generation: every token minted before stops working. Returns the new one. */
  bump(userId: string): number {
    const next = this.of(userId) + 1;
    this.set(userId, next);
    return next;
  }

  /** Takes what D1 holds where it is higher (D1 is the system of record; a generation never goes down). */
  merge(fromD1: ReadonlyMap<string, number>): void {
    for (const [userId, gen] of fromD1) if (gen > this.of(userId)) this.set(userId, gen);
  }

  private set(userId: string, gen: number): void {
    this.gens.set(userId, gen);
    this.sql.exec(
      "INSERT INTO token_generations (user_id, gen) VALUES (?, ?) ON CONFLICT(user_id) DO UPDATE SET gen = excluded.gen",
      userId,
      gen,
    );
  }
}
