// The refresh cycle: every 15 s (or on demand) each section's data is fetched and drawn, one
// refresh at a time; failures are announced in the banner while the last figures stay.
import { $, fmtClock } from "./dom.js";
import { ApiProblem, ApiTimeout, api, credentials, listAll, serverNow } from "./api.js";
import { isDenied, markDenied } from "./access.js";
import { state } from "./state.js";
import { RANGES, fetchUsage } from "./usage.js";
import { chartTeam, clearTeamUsage, fetchTeamUsage } from "./team-usage.js";
import { renderHeader, renderPools } from "./pools.js";
import { renderOpenIntervals, tick } from "./intervals.js";
import { renderCharts } from "./charts.js";
import { renderBilling } from "./billing.js";
import { renderCompliance } from "./compliance.js";
import { refreshUsers, renderUsers } from "./users.js";
import { renderIntervalList } from "./holders.js";
import { renderAdvice } from "./advice.js";
import { renderExports } from "./exports.js";

const REFRESH_MS = 15_000;

let refreshTimer = null;
let tickTimer = null;
/** The running refresh, and the one queued to run right after it (promises). */
let refreshing = null;
let queued = null;
/** What a refresh does when the service no longer accepts the key (set by the sign-in module). */
let keyRejected = () => {};

export const currentRange = () => document.querySelector('input[name="range"]:checked')?.value ?? "1h";

export function whenKeyRejected(fn) {
  keyRejected = fn;
}

export function stopRefreshing() {
  clearTimeout(refreshTimer);
  clearInterval(tickTimer);
  refreshTimer = null;
  tickTimer = null;
}

/** Starts the countdown ticks and a first refresh; resolves when that refresh is over. */
export function startRefreshing() {
  clearInterval(tickTimer);
  tickTimer = setInterval(tick, 1000);
  return refresh();
}

function scheduleRefresh() {
  clearTimeout(refreshTimer);
  if ($("auto-refresh").checked && credentials()) refreshTimer = setTimeout(() => refresh(), REFRESH_MS);
}

/** Settled results: a section whose call failed says so, the others still show. */
async function settle(promise) {
  try {
    return { ok: true, value: await promise };
  } catch (error) {
    return { ok: false, error };
  }
}

/**
 * A section's request, settled; a section out of the key's scopes is not asked again, and its
 * 403 insufficient_scope is no failure ({ ok: false, denied: true }).
 */
async function read(area, request) {
  if (isDenied(area)) return { ok: false, denied: true };
  const result = await settle(request());
  if (!result.ok && markDenied(area, result.error)) return { ok: false, denied: true };
  return result;
}

/** The words for a failed request in the refresh banner. */
function describeFailure(e) {
  if (e instanceof ApiProblem) return `${e.status} ${e.message}`;
  if (e instanceof ApiTimeout) return `the service gave ${e.message}`;
  if (e instanceof TypeError && /fetch|network/i.test(e.message)) return "the service could not be reached";
  return `the page could not show the answer (${e?.message ?? e})`;
}

let refreshSeq = 0;

/**
 * One refresh at a time. A call while one runs (a range change, a click, the timer) does not
 * join the running one, which read its range before the change: it queues one more run right
 * after, and resolves when that run is over. Refreshes never reject.
 * #dashboard carries data-refresh-started / data-refreshes, the number of the last refresh
 * started / finished (with or without errors), so a waiter can tell a refresh that began after
 * its action from one that was already running.
 */
export function refresh() {
  if (!credentials()) return Promise.resolve();
  if (refreshing) {
    queued ??= refreshing.then(() => {
      queued = null;
      return refresh();
    });
    return queued;
  }
  refreshing = runRefresh().finally(() => {
    refreshing = null;
    if (!queued) scheduleRefresh(); // else the queued run schedules the timer when it ends
  });
  return refreshing;
}

/** A refresh never rejects: whatever goes wrong is announced in the banner (role="alert"). */
async function runRefresh() {
  const seq = ++refreshSeq;
  const dash = $("dashboard");
  dash.dataset.refreshStarted = String(seq);
  const started = Date.now();
  const range = currentRange();
  // The charts' team, as typed when the refresh started; a malformed name is said and not sent.
  const chosen = chartTeam();
  const team = chosen.team ?? "";
  $("chart-team-error").textContent = chosen.problem ? `${chosen.problem} The charts show no team.` : "";
  $("chart-team").setAttribute("aria-invalid", String(Boolean(chosen.problem)));
  if (!team) clearTeamUsage();
  const failures = [];
  try {
    const [account, pools, compliance, preview, summaries, users] = await Promise.all([
      read("account", () => api("")),
      read("pools", () => api("/pools")),
      read("compliance", () => api("/compliance")),
      read("billing", () => api("/billing/preview")),
      read("billing", () => api("/billing/summaries?limit=12")),
      read("users", refreshUsers),
    ]);
    failures.push(...[account, pools, compliance, preview, summaries, users].filter((r) => !r.ok && !r.denied).map((r) => r.error));
    if (failures.some((e) => e instanceof ApiProblem && e.status === 401)) {
      keyRejected("Your API key is no longer accepted (it may have been revoked). Sign in again with a valid key.");
      return;
    }
    if (account.ok) state.account = account.value;
    if (pools.ok) state.pools = pools.value.items;

    // Per concurrent pool: who is on it (and its open interval), its team caps and reservations,
    // and the usage series.
    if (pools.denied) state.pools = [];
    const concurrent = state.pools.filter((p) => p.model === "concurrent");
    const perPool = await Promise.all(
      concurrent.map(async (p) => {
        const [seats, teams, usage, teamUsage] = await Promise.all([
          settle(api(`/pools/${p.id}/seats`)),
          settle(api(`/pools/${p.id}/teams`)),
          settle(fetchUsage(p.id, range)),
          team ? settle(fetchTeamUsage(p.id, range, team)) : { ok: true },
        ]);
        return { pool: p, seats, teams, usage, teamUsage };
      }),
    );
    const windowFrom = new Date(serverNow() - RANGES[range].ms).toISOString();
    const overages = pools.denied ? { ok: true, value: { items: [] } } : await settle(listAll(`/overages?from=${encodeURIComponent(windowFrom)}`, 1000, 10));
    // Teams of pools that are gone are dropped; a pool whose teams could not be read keeps the last ones.
    const teams = new Map();
    for (const r of perPool) {
      if (r.seats.ok) state.seats.set(r.pool.id, r.seats.value);
      else failures.push(r.seats.error);
      if (r.teams.ok) teams.set(r.pool.id, r.teams.value.items);
      else {
        failures.push(r.teams.error);
        if (state.teams.has(r.pool.id)) teams.set(r.pool.id, state.teams.get(r.pool.id));
      }
      if (!r.usage.ok) failures.push(r.usage.error);
      if (!r.teamUsage.ok) failures.push(r.teamUsage.error);
    }
    if (!credentials()) return; // signed out meanwhile: draw nothing
    state.teams = teams;
    if (overages.ok) state.overages = overages.value.items;
    else failures.push(overages.error);
    // The advisor reads the ended cycles (issue 14): its own request, its own card.
    const advice = await read("billing", () => api("/advice?cycles=3"));
    if (!advice.ok && !advice.denied) failures.push(advice.error);

    // Each section on its own: one that cannot be drawn does not keep the others stale.
    const sections = [
      renderHeader,
      () => (pools.ok || pools.denied) && renderPools(),
      renderOpenIntervals,
      () => renderCharts(range, team),
      () => renderBilling(preview, summaries),
      () => renderCompliance(compliance),
      renderUsers,
      renderIntervalList,
      () => renderAdvice(advice),
      () => renderExports(range, team),
    ];
    for (const render of sections) {
      try {
        render();
      } catch (err) {
        console.warn(err);
        failures.push(err);
      }
    }
  } catch (err) {
    console.warn(err);
    failures.push(err);
  }
  if (!credentials()) return; // signed out meanwhile

  // Billing answers 404 where it is not deployed yet: shown in its section, not an error here.
  const reported = failures.filter((e) => !(e instanceof ApiProblem && e.status === 404 && /^\/billing\//.test(e.path ?? "")));
  state.lastRefresh = Date.now();
  if (reported.length) {
    $("refresh-error").textContent =
      `Refresh at ${fmtClock(Date.now())} failed for ${reported.length} request${reported.length > 1 ? "s" : ""}: ` +
      `${describeFailure(reported[0])}. ` +
      `Showing the last figures received; ${$("auto-refresh").checked ? "retrying in 15 s" : "use Refresh now to retry"}.`;
    $("refresh-status").textContent = `Last attempt ${fmtClock(Date.now())} (with errors).`;
  } else {
    $("refresh-error").textContent = "";
    $("refresh-status").textContent = `Updated ${fmtClock(Date.now())} (took ${((Date.now() - started) / 1000).toFixed(1)} s).`;
  }
  dash.dataset.refreshes = String(seq);
}

export function initRefresh() {
  $("refresh-now").addEventListener("click", () => refresh());
  $("auto-refresh").addEventListener("change", () => scheduleRefresh());
  // The charts' team: a search after a pause in typing, or at once on Enter or a suggestion picked.
  let teamTimer = null;
  const teamChanged = (delay) => {
    clearTimeout(teamTimer);
    teamTimer = setTimeout(() => {
      const { team } = chartTeam();
      if (team) $("refresh-status").textContent = `Loading the usage of team ${team}…`;
      refresh();
    }, delay);
  };
  $("chart-team").addEventListener("input", () => teamChanged(400));
  $("chart-team").addEventListener("change", () => teamChanged(0));
  $("chart-team").addEventListener("keydown", (event) => {
    if (event.key === "Enter") teamChanged(0);
  });
  for (const radio of document.querySelectorAll('input[name="range"]')) {
    radio.addEventListener("change", () => {
      $("refresh-status").textContent = `Loading the ${RANGES[currentRange()].label}…`;
      refresh();
    });
  }
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible" && credentials() && state.lastRefresh && Date.now() - state.lastRefresh > REFRESH_MS) refresh();
  });
}
