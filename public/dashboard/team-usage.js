// The charts' team filter (docs/licensing.md#chargeback-by-team): one team's usage in each
// concurrent pool, GET …/pools/{pool_id}/usage?team=&format=columnar → { from, step_seconds, team,
// max_active[], seat_seconds[], billable_seat_seconds[] }. Fetched once per range and team, then
// only the newest buckets on each refresh, as the pool's own series (./usage.js).
import { $ } from "./dom.js";
import { api, serverNow } from "./api.js";
import { RANGES, windowStart } from "./usage.js";

/** A team name as the API accepts it (src/domain/teams.ts): anything else is not sent. */
const TEAM = /^[A-Za-z0-9_.-]{1,64}$/;

/** pool -> { team, range, stepMs, from, to, ts: number[] (ms), act, seat, billable: number[] } */
export const teamUsageCache = new Map();

/** The team typed in the charts' Team field: { team } when it is a valid name or empty, { problem } otherwise. */
export function chartTeam() {
  const typed = $("chart-team").value.trim();
  if (!typed) return { team: "" };
  return TEAM.test(typed) ? { team: typed } : { problem: "A team name is 1 to 64 letters, digits, “_”, “.” or “-”." };
}

export async function fetchTeamUsage(poolId, range, team) {
  const { step } = RANGES[range];
  const stepMs = step * 1000;
  const now = serverNow();
  const from = windowStart(range, now);
  let cache = teamUsageCache.get(poolId);
  if (!cache || cache.team !== team || cache.range !== range || !cache.ts.length || (now - cache.ts[cache.ts.length - 1]) / stepMs > 49_990) {
    cache = { team, range, stepMs, from, ts: [], act: [], seat: [], billable: [] };
  }
  // From the start of the last (partial) bucket on: its figures are replaced by the newer ones.
  const fetchFrom = cache.ts.length ? cache.ts[cache.ts.length - 1] : from;
  const reply = await api(
    `/pools/${poolId}/usage?team=${encodeURIComponent(team)}&format=columnar&from=${new Date(fetchFrom).toISOString()}&to=${new Date(now).toISOString()}&step_seconds=${step}`,
  );
  const first = Date.parse(reply.from);
  const { max_active: act, seat_seconds: seat, billable_seat_seconds: billable } = reply;
  if (
    !Number.isFinite(first) ||
    reply.step_seconds !== step ||
    reply.team !== team ||
    ![act, seat, billable].every((col) => Array.isArray(col) && col.length === act.length)
  ) {
    throw new Error("the team usage answer is not the columnar form asked for");
  }
  let keep = 0;
  while (keep < cache.ts.length && cache.ts[keep] < first) keep++;
  for (const col of [cache.ts, cache.act, cache.seat, cache.billable]) col.length = keep;
  for (let k = 0; k < act.length; k++) {
    cache.ts.push(first + k * stepMs);
    cache.act.push(act[k]);
    cache.seat.push(seat[k]);
    cache.billable.push(billable[k]);
  }
  let drop = 0;
  while (drop < cache.ts.length && cache.ts[drop] < from) drop++;
  if (drop) for (const col of [cache.ts, cache.act, cache.seat, cache.billable]) col.splice(0, drop);
  cache.from = from;
  cache.to = now;
  teamUsageCache.set(poolId, cache);
  return cache;
}

/** The team's series on the pool's buckets (null where the team's answer has none), and its totals. */
export function teamSeries(poolId, team, range, ts) {
  const cache = teamUsageCache.get(poolId);
  if (!team || !cache || cache.team !== team || cache.range !== range) return null;
  const at = new Map(cache.ts.map((t, k) => [t, k]));
  const act = ts.map((t) => (at.has(t) ? cache.act[at.get(t)] : null));
  let peak = 0;
  let seat = 0;
  let billable = 0;
  for (let k = 0; k < cache.ts.length; k++) {
    peak = Math.max(peak, cache.act[k]);
    seat += cache.seat[k];
    billable += cache.billable[k];
  }
  return { act, peak, seat, billable };
}

export function clearTeamUsage() {
  teamUsageCache.clear();
}
