/**
 * An account's settings when it is created without them. Written once: the create route, the D1
 * column defaults and the Durable Object's empty roster all read these.
 */
export const ACCOUNT_DEFAULTS = {
  billingDay: 1,
  graceSeconds: 1800,
  leaseTtlSeconds: 120,
  /** How long a closed presence socket keeps its seat for the same session to reconnect. */
  reconnectGraceSeconds: 15,
  /** Sessions one user may hold at once; a new one beyond it ends their least recently renewed. */
  maxSessionsPerUser: 5,
  /** How grace is counted (docs/licensing.md#grace-policies). */
  gracePolicy: "per_overrun",
  /** Seconds before an over-run's grace ends that `overage.grace_ending` is sent (0 = off). */
  warnBeforeGraceEndSeconds: 300,
} as const;
