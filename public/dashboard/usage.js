// Usage series: fetched once per range, then only the newest buckets on each refresh.
import { api, serverNow } from "./api.js";
import { state } from "./state.js";

export const RANGES = {
  "1h": { label: "last hour", ms: 3_600_000, step: 10 },
  "24h": { label: "last 24 hours", ms: 86_400_000, step: 60 },
  "7d": { label: "last 7 days", ms: 7 * 86_400_000, step: 60 },
  "30d": { label: "last 30 days", ms: 30 * 86_400_000, step: 60 },
};
/** The usage endpoint answers at most this many buckets; an incremental fetch larger than it restarts. */
const MAX_BUCKETS = 50_000;

/** pool -> { range, stepMs, from, ts: number[] (ms), act: number[], lim: number[], den: number[] (refused checkouts) } */
export const usageCache = new Map();

/** The first bucket of the range's window at `now`: a window longer than the account's life starts at its creation (nothing happened before). */
export function windowStart(range, now) {
  const { ms, step } = RANGES[range];
  const stepMs = step * 1000;
  const created = Date.parse(state.account?.created_at ?? "");
  return Math.floor(Math.max(now - ms, Number.isFinite(created) ? created : 0) / stepMs) * stepMs;
}

export async function fetchUsage(poolId, range) {
  const { step } = RANGES[range];
  const stepMs = step * 1000;
  const now = serverNow();
  const from = windowStart(range, now);
  let cache = usageCache.get(poolId);
  if (!cache || cache.range !== range || !cache.ts.length || (now - cache.ts[cache.ts.length - 1]) / stepMs > MAX_BUCKETS - 10) {
    cache = { range, stepMs, from, ts: [], act: [], lim: [], den: [] };
  }
  // Refetch from the start of the minute of the last (partial) bucket on: aligned with the earlier
  // buckets, and `denied` counts a minute in the bucket where it starts (or the answer's first
  // bucket), so a minute is never counted twice.
  const lastMinute = cache.ts.length ? Math.floor(cache.ts[cache.ts.length - 1] / 60_000) * 60_000 : from;
  const fetchFrom = cache.ts.length ? Math.max(cache.ts[0], lastMinute) : from;
  // The columnar form: two arrays and the first bucket's time, under 1 MB for 43,200 buckets.
  const reply = await api(`/pools/${poolId}/usage?format=columnar&from=${new Date(fetchFrom).toISOString()}&to=${new Date(now).toISOString()}&step_seconds=${step}`);
  const first = Date.parse(reply.from);
  const { max_active: act, limit: lim, step_seconds: replyStep } = reply;
  // `denied` (refused checkouts per bucket) is absent from a service that does not count them.
  const den = Array.isArray(reply.denied) && reply.denied.length === act.length ? reply.denied : null;
  if (!Number.isFinite(first) || !Array.isArray(act) || !Array.isArray(lim) || act.length !== lim.length || replyStep !== step) {
    throw new Error("the usage answer is not the columnar form asked for");
  }
  let keep = 0;
  while (keep < cache.ts.length && cache.ts[keep] < fetchFrom) keep++;
  cache.ts.length = keep;
  cache.act.length = keep;
  cache.lim.length = keep;
  cache.den.length = keep;
  for (let k = 0; k < act.length; k++) {
    cache.ts.push(first + k * stepMs); // bucket k starts at from + k × step_seconds
    cache.act.push(act[k]);
    cache.lim.push(lim[k]);
    cache.den.push(den ? den[k] : 0);
  }
  // Drop what slid out of the window.
  let drop = 0;
  while (drop < cache.ts.length && cache.ts[drop] < from) drop++;
  if (drop) {
    cache.ts.splice(0, drop);
    cache.act.splice(0, drop);
    cache.lim.splice(0, drop);
    cache.den.splice(0, drop);
  }
  cache.from = from;
  cache.to = now;
  usageCache.set(poolId, cache);
  return cache;
}

export function clearUsage() {
  usageCache.clear();
}
