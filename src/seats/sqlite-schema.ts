/**
 * The Durable Object's own SQLite schema, versioned: each entry migrates from the previous version.
 * Runs synchronously in the constructor, so no request sees a half-migrated store.
 */
export const MIGRATIONS: string[] = [
  `CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
   CREATE TABLE sessions (
     user_id TEXT NOT NULL, session_id TEXT NOT NULL, pool_id TEXT NOT NULL,
     started_at INTEGER NOT NULL, expires_at INTEGER NOT NULL,
     PRIMARY KEY (user_id, session_id)
   ) WITHOUT ROWID;
   CREATE INDEX sessions_expiry ON sessions (expires_at);
   CREATE INDEX sessions_pool ON sessions (pool_id, user_id);
   CREATE TABLE trackers (pool_id TEXT PRIMARY KEY, state TEXT NOT NULL);
   CREATE TABLE steps (pool_id TEXT NOT NULL, t INTEGER NOT NULL, active INTEGER NOT NULL, lim INTEGER NOT NULL);
   CREATE INDEX steps_pool_t ON steps (pool_id, t);
   CREATE TABLE outbox (id INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL, payload TEXT NOT NULL);`,
  // Over-limit trackers stored incrementally (decision 031): the scalars stay one small row per
  // pool, the over-runs and the idle pieces become rows, so a checkout writes O(1) rows however many
  // seats are over. Old one-blob states are dropped: the ledger rebuilds them from the step log.
  `DELETE FROM trackers;
   CREATE TABLE tracker_runs (
     pool_id TEXT NOT NULL, lo INTEGER NOT NULL, hi INTEGER NOT NULL, start INTEGER NOT NULL,
     billable INTEGER NOT NULL, born INTEGER NOT NULL, PRIMARY KEY (pool_id, lo)
   ) WITHOUT ROWID;
   CREATE TABLE tracker_idle (
     pool_id TEXT NOT NULL, side TEXT NOT NULL, lo INTEGER NOT NULL, hi INTEGER NOT NULL,
     acc INTEGER NOT NULL, born INTEGER NOT NULL, PRIMARY KEY (pool_id, side, lo)
   ) WITHOUT ROWID;`,
  // Agent-token generations (src/seats/token-generations.ts): only users whose tokens were revoked.
  `CREATE TABLE token_generations (user_id TEXT PRIMARY KEY, gen INTEGER NOT NULL) WITHOUT ROWID;`,
  // WebSocket presence: one-time connect tickets (hashed) and the object's invocation counts.
  `CREATE TABLE connect_tickets (
     hash TEXT PRIMARY KEY, user_id TEXT NOT NULL, session_id TEXT NOT NULL, expires_at INTEGER NOT NULL
   ) WITHOUT ROWID;
   CREATE INDEX connect_tickets_user ON connect_tickets (user_id);
   CREATE TABLE invocation_counters (name TEXT PRIMARY KEY, n INTEGER NOT NULL) WITHOUT ROWID;`,
  // Denials (src/seats/denial-log.ts): per user, minute and pool the minute's last refusal (pool ''
  // for a user with no license; rl: a rate_limited refusal counted this minute), and per pool,
  // minute and reason a count.
  `CREATE TABLE denial_users (
     user_id TEXT NOT NULL, minute INTEGER NOT NULL, pool_id TEXT NOT NULL, t INTEGER NOT NULL,
     reason TEXT NOT NULL, n INTEGER NOT NULL, seated_at INTEGER, rl INTEGER NOT NULL DEFAULT 0,
     PRIMARY KEY (user_id, minute, pool_id)
   ) WITHOUT ROWID;
   CREATE INDEX denial_users_minute ON denial_users (minute);
   CREATE TABLE denial_counts (
     pool_id TEXT NOT NULL, minute INTEGER NOT NULL, reason TEXT NOT NULL, n INTEGER NOT NULL,
     PRIMARY KEY (pool_id, minute, reason)
   ) WITHOUT ROWID;
   CREATE INDEX denial_counts_minute ON denial_counts (minute);`,
  // The roster's copy (src/seats/roster-copy.ts): a waking object reads it instead of D1. The settings
  // and the D1 roster_version it reflects are in meta; no `roster_version` there means no copy yet.
  `CREATE TABLE roster_pools (pool_id TEXT PRIMARY KEY, quantity INTEGER NOT NULL, max_active INTEGER) WITHOUT ROWID;
   CREATE TABLE roster_licenses (user_id TEXT PRIMARY KEY, pool_id TEXT NOT NULL) WITHOUT ROWID;
   CREATE TABLE roster_assignments (
     user_id TEXT NOT NULL, product TEXT NOT NULL, seq INTEGER NOT NULL, PRIMARY KEY (user_id, product)
   ) WITHOUT ROWID;
   CREATE TABLE roster_purchases (product TEXT PRIMARY KEY, quantity INTEGER NOT NULL) WITHOUT ROWID;`,
  // The seat-hold log (src/seats/hold-log.ts): who held a seat when. Seats held at the upgrade
  // open their hold at their first session's start.
  `CREATE TABLE holds (pool_id TEXT NOT NULL, user_id TEXT NOT NULL, from_t INTEGER NOT NULL, to_t INTEGER);
   CREATE INDEX holds_pool_from ON holds (pool_id, from_t, user_id);
   CREATE UNIQUE INDEX holds_open ON holds (pool_id, user_id) WHERE to_t IS NULL;
   CREATE INDEX holds_to ON holds (to_t);
   INSERT INTO holds (pool_id, user_id, from_t, to_t) SELECT pool_id, user_id, min(started_at), NULL FROM sessions GROUP BY user_id;`,
  // The waitlist at the ceiling (src/seats/waitlist.ts): one row per waiting (or just granted or
  // dropped) desktop session; `seq` is the queue order.
  `CREATE TABLE waitlist (
     user_id TEXT NOT NULL, session_id TEXT NOT NULL, pool_id TEXT NOT NULL, seq INTEGER NOT NULL,
     expires_at INTEGER NOT NULL, state TEXT NOT NULL, reason TEXT,
     PRIMARY KEY (user_id, session_id)
   ) WITHOUT ROWID;
   CREATE INDEX waitlist_queue ON waitlist (pool_id, state, seq);
   CREATE INDEX waitlist_expiry ON waitlist (expires_at);`,
  // Pool thresholds (src/seats/threshold-watch.ts): armed or spent, per pool and percent; one
  // counter numbers the crossings so every pool.threshold event id is new.
  `CREATE TABLE threshold_state (
     pool_id TEXT NOT NULL, percent INTEGER NOT NULL, armed INTEGER NOT NULL, PRIMARY KEY (pool_id, percent)
   ) WITHOUT ROWID;
   CREATE TABLE threshold_seq (n INTEGER NOT NULL);
   ALTER TABLE roster_pools ADD alerts TEXT;`,
  // Teams in the roster's copy (docs/licensing.md#teams): users' teams and per pool and team limits.
  // Copies written before this have no team rows: their roster_version is cleared so the next wake reads D1.
  `CREATE TABLE roster_teams (user_id TEXT PRIMARY KEY, team TEXT NOT NULL) WITHOUT ROWID;
   CREATE TABLE roster_team_limits (
     pool_id TEXT NOT NULL, team TEXT NOT NULL, max_active INTEGER, reserve INTEGER NOT NULL, PRIMARY KEY (pool_id, team)
   ) WITHOUT ROWID;
   DELETE FROM meta WHERE key = 'roster_version';`,
  // A woken object answers the agent path by key from the copy (src/seats/roster-users.ts): an
  // add-on's place in its pool's bundle (by assignment order) and the licenses per pool are read
  // from these indexes instead of from every user in memory.
  `CREATE INDEX roster_assignments_order ON roster_assignments (product, seq, user_id);
   CREATE INDEX roster_licenses_pool ON roster_licenses (pool_id);`,
  // Chargeback by team (docs/licensing.md#chargeback-by-team): each hold keeps the holder's team
  // as it was when the hold opened. Holds opened before this take the user's team at the upgrade
  // (the best there is: their team at the time was not kept).
  `ALTER TABLE holds ADD team TEXT;
   UPDATE holds SET team = (SELECT r.team FROM roster_teams r WHERE r.user_id = holds.user_id);`,
];

export function migrateSeatsSchema(sql: SqlStorage): void {
  sql.exec("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)");
  const row = sql.exec<{ version: number }>("SELECT version FROM schema_version").toArray()[0];
  let version = row?.version ?? 0;
  if (!row) sql.exec("INSERT INTO schema_version (version) VALUES (0)");
  while (version < MIGRATIONS.length) {
    sql.exec(MIGRATIONS[version]);
    version += 1;
    sql.exec("UPDATE schema_version SET version = ?", version);
  }
}

export function readMeta(sql: SqlStorage, key: string): string | null {
  return sql.exec<{ value: string }>("SELECT value FROM meta WHERE key = ?", key).toArray()[0]?.value ?? null;
}

export function deleteMeta(sql: SqlStorage, key: string): void {
  sql.exec("DELETE FROM meta WHERE key = ?", key);
}

export function writeMeta(sql: SqlStorage, key: string, value: string): void {
  sql.exec("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value", key, value);
}
