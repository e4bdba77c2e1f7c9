/**
 * What woke the account's Durable Object, counted by the object itself and kept in its SQLite (so
 * the counts survive hibernation and restarts): the operator's `GET /v1/accounts/{id}/stats`.
 * Keep-alive pings answered by the runtime never reach the object, so they are not here: that is
 * the point of counting.
 */

export const COUNTERS = [
  "requests",
  "checkouts",
  "heartbeats",
  "releases",
  "tickets",
  "socket_connects",
  "socket_messages",
  "socket_closes",
  "alarms",
] as const;

export type Counter = (typeof COUNTERS)[number];

export type CounterSnapshot = Record<Counter, number>;

export class InvocationStats {
  private readonly counts = new Map<Counter, number>();

  constructor(private readonly sql: SqlStorage) {
    for (const row of sql.exec<{ name: string; n: number }>("SELECT name, n FROM invocation_counters")) {
      if ((COUNTERS as readonly string[]).includes(row.name)) this.counts.set(row.name as Counter, row.n);
    }
  }

  bump(name: Counter): void {
    const n = (this.counts.get(name) ?? 0) + 1;
    this.counts.set(name, n);
    this.sql.exec("INSERT INTO invocation_counters (name, n) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET n = excluded.n", name, n);
  }

  snapshot(): CounterSnapshot {
    return Object.fromEntries(COUNTERS.map((c) => [c, this.counts.get(c) ?? 0])) as CounterSnapshot;
  }
}
