// Seatkeeper admin dashboard. Plain ES module, no build step; uPlot is served next to it
// (/dashboard/vendor/uPlot.iife.min.js, a copy of node_modules/uplot/dist). It reads only the
// admin API (docs/api.md) with the account API key the admin pastes, kept in sessionStorage.
// The DOM is built with textContent only: nothing the API returns is parsed as HTML.

const STORAGE_KEY = "seatkeeper.dashboard.credentials";
const REFRESH_MS = 15_000;
/** A request the service has not answered by then is abandoned, so one hung call cannot stall every later refresh. */
const REQUEST_TIMEOUT_MS = 12_000;
const RANGES = {
  "1h": { label: "last hour", ms: 3_600_000, step: 10 },
  "24h": { label: "last 24 hours", ms: 86_400_000, step: 60 },
  "7d": { label: "last 7 days", ms: 7 * 86_400_000, step: 60 },
  "30d": { label: "last 30 days", ms: 30 * 86_400_000, step: 60 },
};
/** The usage endpoint answers at most this many buckets; an incremental fetch larger than it restarts. */
const MAX_BUCKETS = 50_000;
const USERS_SHOWN = 200;

const $ = (id) => document.getElementById(id);

// ---------------------------------------------------------------------------------------------
// DOM helpers

function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") el.className = v;
    else if (k === "text") el.textContent = v;
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

const fmtInt = (n) => (n === null || n === undefined ? "—" : Number(n).toLocaleString("en-US"));
const fmtHours = (seconds) => (seconds / 3600).toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 });
const fmtTime = (iso) => new Date(iso).toLocaleString("en-GB", { dateStyle: "medium", timeStyle: "medium" });
const fmtClock = (ms) => new Date(ms).toLocaleTimeString("en-GB");
const fmtDate = (iso) => new Date(iso).toLocaleDateString("en-GB", { dateStyle: "medium", timeZone: "UTC" });

function fmtDuration(seconds) {
  const s = Math.max(0, Math.round(seconds));
  const hh = Math.floor(s / 3600);
  const mm = Math.floor((s % 3600) / 60);
  const ss = s % 60;
  if (hh) return `${hh} h ${String(mm).padStart(2, "0")} min`;
  if (mm) return `${mm} min ${String(ss).padStart(2, "0")} s`;
  return `${ss} s`;
}

const badge = (kind, text) => h("span", { class: `badge badge-${kind}`, text });

function table(caption, headers, rows, opts = {}) {
  return h(
    "div",
    { class: "table-wrap", tabindex: "0", role: "region", "aria-label": caption },
    h(
      "table",
      { "data-testid": opts.testid },
      h("caption", { class: "visually-hidden", text: caption }),
      h("thead", {}, h("tr", {}, headers.map((t) => h("th", { scope: "col", class: /^(#|Quantity|Needed|Covered|Shortfall|Peak|Billable|Intervals|Purchased|Consumed|Assigned)/.test(t) ? "num" : null, text: t })))),
      h("tbody", {}, rows),
    ),
  );
}

// ---------------------------------------------------------------------------------------------
// Credentials and the API

class ApiProblem extends Error {
  constructor(status, body, path) {
    super(body?.detail || body?.title || `HTTP ${status}`);
    this.status = status;
    this.code = body?.code ?? null;
    this.path = path;
  }
}

class ApiTimeout extends Error {
  constructor(path) {
    super(`no answer within ${REQUEST_TIMEOUT_MS / 1000} s`);
    this.path = path;
  }
}

function loadCredentials() {
  try {
    const raw = sessionStorage.getItem(STORAGE_KEY);
    const c = raw ? JSON.parse(raw) : null;
    return c && typeof c.account === "string" && typeof c.key === "string" ? c : null;
  } catch {
    return null;
  }
}

let creds = loadCredentials();
/** Server time minus browser time, from the Date header, so countdowns use the service's clock. */
let clockSkewMs = 0;
const serverNow = () => Date.now() + clockSkewMs;

async function api(path, credentials = creds) {
  const url = `/v1/accounts/${encodeURIComponent(credentials.account)}${path}`;
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), REQUEST_TIMEOUT_MS);
  let res;
  let body = null;
  try {
    res = await fetch(url, {
      headers: { authorization: `Bearer ${credentials.key}`, accept: "application/json" },
      cache: "no-store",
      credentials: "omit",
      referrerPolicy: "no-referrer",
      signal: abort.signal,
    });
    try {
      body = await res.json();
    } catch {
      if (abort.signal.aborted) throw new ApiTimeout(path);
      body = null;
    }
  } catch (err) {
    if (abort.signal.aborted) throw new ApiTimeout(path);
    throw err;
  } finally {
    clearTimeout(timer);
  }
  const date = Date.parse(res.headers.get("date") ?? "");
  if (Number.isFinite(date)) {
    const skew = date - Date.now();
    // The header has 1 s resolution: only correct clocks that are visibly off.
    clockSkewMs = Math.abs(skew) > 2000 ? skew : 0;
  }
  if (!res.ok) throw new ApiProblem(res.status, body, path);
  return body;
}

/** Every page of a paginated list, up to maxPages of `limit` items. */
async function listAll(path, limit = 1000, maxPages = 20) {
  const items = [];
  let cursor = null;
  for (let page = 0; page < maxPages; page++) {
    const sep = path.includes("?") ? "&" : "?";
    const reply = await api(`${path}${sep}limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
    items.push(...reply.items);
    cursor = reply.next_cursor;
    if (!cursor) return { items, complete: true };
  }
  return { items, complete: false };
}

// ---------------------------------------------------------------------------------------------
// Sign-in

function signInMessage(err, account) {
  if (err instanceof ApiProblem) {
    if (err.status === 401)
      return `Sign-in failed: the API key was not accepted (${err.message}). Paste the whole key, starting with sk_, and check that it has not been revoked.`;
    if (err.status === 404) return `Sign-in failed: there is no account “${account}” for this key. Check the account id: a key works only for its own account.`;
    if (err.status === 403) return "Sign-in failed: this credential may not read the account. Use an account API key (sk_…), not an agent token.";
    if (err.status === 400) return `Sign-in failed: ${err.message}`;
    return `Sign-in failed: the service answered ${err.status} (${err.message}). Try again in a moment.`;
  }
  return "Sign-in failed: the service could not be reached. Check your connection and try again.";
}

async function onSignIn(event) {
  event.preventDefault();
  const account = $("account-id").value.trim();
  const key = $("api-key").value.trim();
  const error = $("signin-error");
  error.textContent = "";
  if (!account || !key) {
    error.textContent = !account ? "Enter the account id." : "Paste the API key.";
    (!account ? $("account-id") : $("api-key")).focus();
    return;
  }
  const submit = $("signin-submit");
  submit.disabled = true;
  submit.textContent = "Signing in…";
  try {
    const candidate = { account, key };
    const acct = await api("", candidate);
    creds = candidate;
    sessionStorage.setItem(STORAGE_KEY, JSON.stringify(creds));
    $("api-key").value = "";
    state.account = acct;
    showDashboard();
  } catch (err) {
    error.textContent = signInMessage(err, account);
    $("api-key").focus();
  } finally {
    submit.disabled = false;
    submit.textContent = "Sign in";
  }
}

function signOut(message) {
  sessionStorage.removeItem(STORAGE_KEY);
  creds = null;
  stopTimers();
  for (const chart of charts.values()) chart.plot?.destroy();
  charts.clear();
  usageCache.clear();
  state = freshState();
  $("charts").replaceChildren();
  $("dashboard").hidden = true;
  $("session").hidden = true;
  $("signin").hidden = false;
  $("signin-error").textContent = message ?? "";
  $("account-id").focus();
}

// ---------------------------------------------------------------------------------------------
// State and refresh

const freshState = () => ({
  account: null,
  pools: [],
  seats: new Map(),
  overages: [],
  users: [],
  usersComplete: true,
  lastRefresh: null,
});
let state = freshState();
let refreshTimer = null;
let tickTimer = null;
/** The running refresh, and the one queued to run right after it (promises). */
let refreshing = null;
let queued = null;

const currentRange = () => document.querySelector('input[name="range"]:checked')?.value ?? "1h";

function stopTimers() {
  clearTimeout(refreshTimer);
  clearInterval(tickTimer);
  refreshTimer = null;
  tickTimer = null;
}

function scheduleRefresh() {
  clearTimeout(refreshTimer);
  if ($("auto-refresh").checked && creds) refreshTimer = setTimeout(() => refresh(), REFRESH_MS);
}

function showDashboard() {
  $("signin").hidden = true;
  $("dashboard").hidden = false;
  $("session").hidden = false;
  $("session-account").textContent = creds.account;
  $("refresh-error").textContent = "";
  $("refresh-status").textContent = "Loading…";
  clearInterval(tickTimer);
  tickTimer = setInterval(tick, 1000);
  refresh().then(() => {
    // To the figures after signing in, unless the admin has already moved on (never steal focus).
    const a = document.activeElement;
    if (creds && (!a || a === document.body || $("signin").contains(a))) $("pools-heading").focus();
  });
}

/** Settled results: a section whose call failed says so, the others still show. */
async function settle(promise) {
  try {
    return { ok: true, value: await promise };
  } catch (error) {
    return { ok: false, error };
  }
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
function refresh() {
  if (!creds) return Promise.resolve();
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
  const failures = [];
  try {
    const [account, pools, compliance, preview, summaries, users] = await Promise.all([
      settle(api("")),
      settle(api("/pools")),
      settle(api("/compliance")),
      settle(api("/billing/preview")),
      settle(api("/billing/summaries?limit=12")),
      settle(listAll("/users", 1000, 20)),
    ]);
    failures.push(...[account, pools, compliance, preview, summaries, users].filter((r) => !r.ok).map((r) => r.error));
    if (failures.some((e) => e instanceof ApiProblem && e.status === 401)) {
      signOut("Your API key is no longer accepted (it may have been revoked). Sign in again with a valid key.");
      return;
    }
    if (account.ok) state.account = account.value;
    if (pools.ok) state.pools = pools.value.items;

    // Per concurrent pool: who is on it (and its open interval) and the usage series.
    const concurrent = state.pools.filter((p) => p.model === "concurrent");
    const perPool = await Promise.all(
      concurrent.map(async (p) => ({
        pool: p,
        seats: await settle(api(`/pools/${p.id}/seats`)),
        usage: await settle(fetchUsage(p.id, range)),
      })),
    );
    const windowFrom = new Date(serverNow() - RANGES[range].ms).toISOString();
    const overages = await settle(listAll(`/overages?from=${encodeURIComponent(windowFrom)}`, 1000, 10));
    for (const r of perPool) {
      if (r.seats.ok) state.seats.set(r.pool.id, r.seats.value);
      else failures.push(r.seats.error);
      if (!r.usage.ok) failures.push(r.usage.error);
    }
    if (!creds) return; // signed out meanwhile: draw nothing
    if (overages.ok) state.overages = overages.value.items;
    else failures.push(overages.error);
    if (users.ok) {
      state.users = users.value.items;
      state.usersComplete = users.value.complete;
    }

    // Each section on its own: one that cannot be drawn does not keep the others stale.
    const sections = [
      renderHeader,
      () => pools.ok && renderPools(),
      renderOpenIntervals,
      () => renderCharts(range),
      () => renderBilling(preview, summaries),
      () => renderCompliance(compliance),
      renderUsers,
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
  if (!creds) return; // signed out meanwhile

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

// ---------------------------------------------------------------------------------------------
// Usage series: fetched once per range, then only the newest buckets on each refresh.

/** pool -> { range, stepMs, from, ts: number[] (ms), act: number[], lim: number[] } */
const usageCache = new Map();

async function fetchUsage(poolId, range) {
  const { ms, step } = RANGES[range];
  const stepMs = step * 1000;
  const now = serverNow();
  // A window longer than the account's life starts at its creation: nothing happened before.
  const created = Date.parse(state.account?.created_at ?? "");
  const from = Math.floor(Math.max(now - ms, Number.isFinite(created) ? created : 0) / stepMs) * stepMs;
  let cache = usageCache.get(poolId);
  if (!cache || cache.range !== range || !cache.ts.length || (now - cache.ts[cache.ts.length - 1]) / stepMs > MAX_BUCKETS - 10) {
    cache = { range, stepMs, from, ts: [], act: [], lim: [] };
  }
  // Refetch from the last (partial) bucket on, which stays aligned with the earlier ones.
  const fetchFrom = cache.ts.length ? cache.ts[cache.ts.length - 1] : from;
  const reply = await api(`/pools/${poolId}/usage?from=${new Date(fetchFrom).toISOString()}&to=${new Date(now).toISOString()}&step_seconds=${step}`);
  let keep = cache.ts.length ? cache.ts.length - 1 : 0;
  cache.ts.length = keep;
  cache.act.length = keep;
  cache.lim.length = keep;
  for (const b of reply.items) {
    cache.ts.push(Date.parse(b.t));
    cache.act.push(b.max_active);
    cache.lim.push(b.limit);
  }
  // Drop what slid out of the window.
  let drop = 0;
  while (drop < cache.ts.length && cache.ts[drop] < from) drop++;
  if (drop) {
    cache.ts.splice(0, drop);
    cache.act.splice(0, drop);
    cache.lim.splice(0, drop);
  }
  cache.from = from;
  cache.to = now;
  usageCache.set(poolId, cache);
  return cache;
}

// ---------------------------------------------------------------------------------------------
// Rendering

function renderHeader() {
  const a = state.account;
  if (!a) return;
  $("session-account").textContent = a.name && a.name !== a.id ? `${a.name} (${a.id})` : a.id;
  $("session-settings").textContent = ` · grace ${fmtDuration(a.grace_seconds)} · lease ${fmtDuration(a.lease_ttl_seconds)} · billing day ${a.billing_day}`;
}

function renderPools() {
  const body = $("pools-table").tBodies[0];
  if (!state.pools.length) {
    body.replaceChildren(h("tr", {}, h("td", { colspan: "7", text: "This account has no pools yet." })));
    return;
  }
  body.replaceChildren(
    ...state.pools.map((p) => {
      const over = p.over_limit;
      const members = p.model === "named" ? `${fmtInt(p.assigned)} assigned` : `${fmtInt(p.members)} members`;
      let status;
      if (over) status = badge("over", `⚠ OVER LIMIT by ${fmtInt(p.active - p.quantity)}`);
      else if (p.model === "concurrent" && p.max_active !== null && p.active >= p.max_active) status = badge("warn", "AT CEILING");
      else status = badge("ok", "✓ Within limit");
      return h(
        "tr",
        { class: over ? "over-row" : null, "data-pool": p.id },
        h("th", { scope: "row", "data-field": "id", text: p.id }),
        h("td", { "data-field": "tier", text: p.tier }),
        h("td", { "data-field": "model", text: p.model }),
        h("td", { class: "num", "data-field": "quantity" }, fmtInt(p.quantity), p.max_active !== null ? h("span", { class: "muted", text: ` (ceiling ${fmtInt(p.max_active)})` }) : null),
        h("td", { class: "num", "data-field": "active", text: fmtInt(p.active) }),
        h("td", { class: "num", "data-field": "members", text: members }),
        h("td", { "data-field": "status" }, status),
      );
    }),
  );
}

function graceSeconds() {
  return state.account?.grace_seconds ?? 1800;
}

function renderOpenIntervals() {
  const box = $("open-intervals");
  const open = [];
  for (const p of state.pools) {
    const s = state.seats.get(p.id);
    if (p.model === "concurrent" && s?.interval && s.interval.ended_at === null) open.push({ pool: p, seats: s, interval: s.interval });
  }
  if (!open.length) {
    box.replaceChildren(h("p", {}, badge("ok", "✓ None"), " No pool is over its limit right now."));
    return;
  }
  box.replaceChildren(
    ...open.map(({ pool, seats, interval }) => {
      const start = Date.parse(interval.started_at);
      const graceEnd = start + graceSeconds() * 1000;
      const el = h(
        "div",
        { class: "open-interval", "data-open-interval": pool.id, "data-grace-end": String(graceEnd) },
        h("p", {}, badge("over", "⚠ OVER LIMIT"), " ", h("strong", { text: pool.id }), `: ${fmtInt(seats.active)} active on ${fmtInt(seats.limit)} seats (peak ${fmtInt(interval.peak_active)}, +${fmtInt(interval.peak_overage)}) since ${fmtTime(interval.started_at)}.`),
        h("p", { class: "countdown", "data-countdown": "" }),
        h("p", { class: "muted", "data-billable": "" }),
      );
      el._interval = interval;
      updateCountdown(el);
      return el;
    }),
  );
}

function updateCountdown(el) {
  const graceEnd = Number(el.dataset.graceEnd);
  const left = (graceEnd - serverNow()) / 1000;
  const interval = el._interval;
  const countdown = el.querySelector("[data-countdown]");
  const billable = el.querySelector("[data-billable]");
  if (left > 0) {
    el.classList.remove("billable");
    countdown.textContent = `Grace ends in ${fmtDuration(left)} (at ${fmtClock(graceEnd)}): within grace, not billable yet.`;
    billable.textContent = "Bring active seats back to the quantity before then, or raise the quantity, and nothing is billed.";
  } else {
    el.classList.add("billable");
    countdown.textContent = `Grace ended at ${fmtClock(graceEnd)}: BILLABLE.`;
    billable.textContent = `${fmtInt(interval.billable_overage_seats)} billable overage seat${interval.billable_overage_seats === 1 ? "" : "s"} so far, ${fmtHours(interval.billable_seat_seconds)} billable seat-hours (as of the last refresh).`;
  }
}

function tick() {
  for (const el of document.querySelectorAll("[data-open-interval]")) updateCountdown(el);
}

// --- charts

/** pool -> { plot, figure, summary } */
const charts = new Map();

function hatch(color, lineWidth, gap, cross) {
  const size = gap * 2;
  const c = document.createElement("canvas");
  c.width = size;
  c.height = size;
  const g = c.getContext("2d");
  g.strokeStyle = color;
  g.lineWidth = lineWidth;
  const line = (x0, y0, x1, y1) => {
    g.beginPath();
    g.moveTo(x0, y0);
    g.lineTo(x1, y1);
    g.stroke();
  };
  line(0, size, size, 0);
  line(-size / 2, size / 2, size / 2, -size / 2);
  line(size / 2, size * 1.5, size * 1.5, size / 2);
  if (cross) {
    line(0, 0, size, size);
    line(-size / 2, size / 2, size / 2, size * 1.5);
    line(size / 2, -size / 2, size * 1.5, size / 2);
  }
  return c;
}

let patterns = null;
function getPatterns(ctx) {
  if (!patterns) {
    patterns = {
      over: ctx.createPattern(hatch("rgba(224,120,20,0.55)", 1.5, 6, false), "repeat"),
      billable: ctx.createPattern(hatch("rgba(163,41,15,0.75)", 1.5, 4, true), "repeat"),
    };
  }
  return patterns;
}

/** Over-limit spans of a pool in the window, each with its billable part (from start + grace). */
function spansFor(poolId, fromMs, toMs) {
  const grace = graceSeconds() * 1000;
  const now = serverNow();
  return state.overages
    .filter((i) => i.pool === poolId)
    .map((i) => {
      const start = Date.parse(i.started_at);
      const end = i.ended_at ? Date.parse(i.ended_at) : now;
      const pastGrace = start + grace < end;
      const billable = i.billable || (i.ended_at === null && pastGrace);
      let billableFrom = null;
      if (billable && pastGrace) billableFrom = start + grace;
      else if (billable && i.billable_overage_seats > 0) {
        // Billed under an earlier (shorter) grace: the billable part is about the last
        // billable_seat_seconds / billable_overage_seats of the interval.
        billableFrom = Math.max(start, end - (i.billable_seat_seconds / i.billable_overage_seats) * 1000);
      }
      return { start, end, billableFrom, interval: i };
    })
    .filter((s) => s.end > fromMs && s.start < toMs);
}

/** layer "fill": the hatching, under the series; layer "labels": the BILLABLE markers, on top. */
function drawSpans(u, poolId, layer) {
  const chart = charts.get(poolId);
  if (!chart) return;
  const { ctx } = u;
  const { left, top, width, height } = u.bbox;
  const pats = getPatterns(ctx);
  const xMin = u.scales.x.min * 1000;
  const xMax = u.scales.x.max * 1000;
  ctx.save();
  ctx.beginPath();
  ctx.rect(left, top, width, height);
  ctx.clip();
  const px = (ms) => u.valToPos(ms / 1000, "x", true);
  const minW = 2 * devicePixelRatio;
  for (const s of spansFor(poolId, xMin, xMax)) {
    const x0 = px(s.start);
    const x1 = Math.max(px(s.end), x0 + minW);
    if (layer === "fill") {
      ctx.fillStyle = pats.over;
      ctx.fillRect(x0, top, x1 - x0, height);
      ctx.strokeStyle = "rgba(192,106,16,0.9)";
      ctx.lineWidth = devicePixelRatio;
      ctx.strokeRect(x0, top, x1 - x0, height);
    }
    if (s.billableFrom !== null) {
      const b0 = px(s.billableFrom);
      const b1 = Math.max(x1, b0 + minW);
      if (layer === "fill") {
        ctx.fillStyle = pats.billable;
        ctx.fillRect(b0, top, b1 - b0, height);
        continue;
      }
      // A text marker too, where it fits; a triangle otherwise.
      ctx.fillStyle = "#a3290f";
      const label = "BILLABLE";
      ctx.font = `bold ${11 * devicePixelRatio}px system-ui, sans-serif`;
      ctx.textAlign = "left"; // uPlot leaves its axis text settings on the context
      ctx.textBaseline = "alphabetic";
      const w = ctx.measureText(label).width;
      if (b1 - b0 > w + 6 * devicePixelRatio) {
        ctx.fillStyle = "rgba(255,255,255,0.9)";
        ctx.fillRect(b0 + 2 * devicePixelRatio, top + 2 * devicePixelRatio, w + 6 * devicePixelRatio, 15 * devicePixelRatio);
        ctx.fillStyle = "#a3290f";
        ctx.fillText(label, b0 + 5 * devicePixelRatio, top + 13 * devicePixelRatio);
      } else {
        const mid = (b0 + b1) / 2;
        const t = 7 * devicePixelRatio;
        ctx.beginPath();
        ctx.moveTo(mid - t, top);
        ctx.lineTo(mid + t, top);
        ctx.lineTo(mid, top + t * 1.4);
        ctx.closePath();
        ctx.fill();
      }
    }
  }
  ctx.restore();
}

function chartSize(el) {
  return { width: Math.max(320, Math.floor(el.clientWidth || 800)), height: 260 };
}

function renderCharts(range) {
  const box = $("charts");
  const concurrent = state.pools.filter((p) => p.model === "concurrent");
  if (!concurrent.length) {
    for (const c of charts.values()) c.plot?.destroy();
    charts.clear();
    box.replaceChildren(h("p", { class: "muted", text: "No concurrent pools: usage charts are drawn for concurrent pools." }));
    return;
  }
  // Drop charts of pools that are gone, and any placeholder text.
  for (const [id, c] of charts) {
    if (!concurrent.some((p) => p.id === id)) {
      c.plot?.destroy();
      c.figure.remove();
      charts.delete(id);
    }
  }
  for (const node of [...box.children]) if (!node.matches("figure.chart")) node.remove();

  if (typeof uPlot === "undefined") {
    box.replaceChildren(h("p", { class: "error", text: "The chart library did not load; the figures above are still current." }));
    return;
  }

  for (const p of concurrent) {
    const cache = usageCache.get(p.id);
    let chart = charts.get(p.id);
    if (!chart) {
      const canvasBox = h("div", { class: "chart-canvas", role: "img", "aria-describedby": `chart-summary-${p.id}` });
      const summary = h("p", { class: "chart-summary", id: `chart-summary-${p.id}` });
      const figure = h("figure", { class: "chart", "data-chart": p.id }, h("figcaption", { text: `${p.id}: seats in use against the limit` }), summary, canvasBox);
      box.append(figure);
      chart = { figure, summary, canvasBox, plot: null };
      charts.set(p.id, chart);
    }
    if (!cache || cache.range !== range) continue;
    const lastT = cache.ts.length ? cache.ts[cache.ts.length - 1] : cache.from;
    // One more point at "now" so the last (stepped) bucket is drawn up to the present.
    const xs = new Float64Array(cache.ts.length + 1);
    for (let i = 0; i < cache.ts.length; i++) xs[i] = cache.ts[i] / 1000;
    xs[cache.ts.length] = Math.max(cache.to, lastT + 1) / 1000;
    const act = [...cache.act, cache.act[cache.act.length - 1] ?? null];
    const lim = [...cache.lim, cache.lim[cache.lim.length - 1] ?? null];
    const data = [xs, act, lim];

    let peak = 0;
    let peakAt = null;
    let overBuckets = 0;
    for (let i = 0; i < cache.act.length; i++) {
      if (cache.act[i] > peak) {
        peak = cache.act[i];
        peakAt = cache.ts[i];
      }
      if (cache.act[i] > cache.lim[i]) overBuckets++;
    }
    const limitNow = cache.lim[cache.lim.length - 1] ?? p.quantity;
    const spans = spansFor(p.id, cache.from, cache.to);
    const billable = spans.filter((s) => s.billableFrom !== null).length;
    const clipped = cache.from > cache.to - RANGES[range].ms + RANGES[range].step * 1000;
    chart.summary.textContent =
      `${RANGES[range].label}${clipped ? " (since the account was created)" : ""}, ${fmtInt(cache.ts.length)} buckets of ${RANGES[range].step} s: peak ${fmtInt(peak)} active` +
      (peakAt ? ` at ${fmtTime(new Date(peakAt).toISOString())}` : "") +
      ` against a limit of ${fmtInt(limitNow)}; ${spans.length} over-limit interval${spans.length === 1 ? "" : "s"}, ${billable} with a billable part` +
      (overBuckets ? ` (${fmtInt(overBuckets)} bucket${overBuckets === 1 ? "" : "s"} over the limit).` : ".");
    chart.canvasBox.setAttribute("aria-label", `Chart of ${p.id} usage: ${chart.summary.textContent}`);
    chart.figure.dataset.points = String(cache.ts.length);
    chart.figure.dataset.limit = String(limitNow);
    chart.figure.dataset.spans = String(spans.length);
    chart.figure.dataset.billableSpans = String(billable);

    const xRange = [cache.from / 1000, cache.to / 1000];
    const yMax = Math.max(peak, limitNow, 1);
    if (chart.plot && chart.range === range) {
      chart.plot.batch(() => {
        chart.plot.setData(data, false);
        chart.plot.setScale("x", { min: xRange[0], max: xRange[1] });
        chart.plot.setScale("y", { min: 0, max: Math.ceil(yMax * 1.15) });
      });
      continue;
    }
    chart.plot?.destroy();
    const poolId = p.id;
    const stepped = uPlot.paths.stepped({ align: 1 });
    const opts = {
      ...chartSize(chart.canvasBox),
      cursor: { drag: { x: false, y: false }, points: { size: 6 } },
      legend: { live: true },
      scales: {
        x: { time: true, auto: false, range: () => [cache.from / 1000, usageCache.get(poolId).to / 1000] },
        y: { auto: false, range: (u, min, max) => [0, Math.max(1, Math.ceil(max * 1.15))] },
      },
      axes: [
        { stroke: "#1b1f24", grid: { stroke: "#e3e7ec" } },
        { stroke: "#1b1f24", grid: { stroke: "#e3e7ec" }, label: "Seats", size: 50 },
      ],
      series: [
        { label: "Time" },
        { label: "Max active", stroke: "#1f4e99", width: 1.5, fill: "rgba(31,78,153,0.10)", paths: stepped, points: { show: false } },
        { label: "Limit", stroke: "#a3290f", width: 2, dash: [10, 5], paths: stepped, points: { show: false } },
      ],
      hooks: { drawClear: [(u) => drawSpans(u, poolId, "fill")], draw: [(u) => drawSpans(u, poolId, "labels")] },
    };
    const plot = new uPlot(opts, data, chart.canvasBox);
    plot.setScale("y", { min: 0, max: Math.ceil(yMax * 1.15) });
    chart.plot = plot;
    chart.range = range;
    chart.canvasBox._plot = plot; // for the browser tests' pixel checks
  }
}

const resizeObserver = typeof ResizeObserver === "function"
  ? new ResizeObserver(() => {
      for (const c of charts.values()) if (c.plot) c.plot.setSize(chartSize(c.canvasBox));
    })
  : null;

// --- billing

function billingNotAvailable(result) {
  return !result.ok && result.error instanceof ApiProblem && result.error.status === 404;
}

function renderBilling(preview, summaries) {
  const pbox = $("billing-preview");
  const sbox = $("billing-summaries");
  if (billingNotAvailable(preview)) {
    pbox.replaceChildren(h("h3", { text: "Current cycle" }), h("p", { class: "muted", text: "Billing previews are not available on this service yet." }));
  } else if (!preview.ok) {
    pbox.replaceChildren(h("h3", { text: "Current cycle" }), h("p", { class: "error", text: `The preview could not be loaded: ${preview.error.message}` }));
  } else {
    const s = preview.value;
    const concurrent = (s.pools ?? []).filter((p) => p.model === "concurrent");
    const totalSeats = concurrent.reduce((a, p) => a + (p.billable_overage_seats ?? 0), 0);
    const totalSeconds = concurrent.reduce((a, p) => a + (p.billable_seat_seconds ?? 0), 0);
    pbox.replaceChildren(
      h("h3", { text: `Current cycle: ${fmtDate(s.cycle_start)} to ${fmtDate(s.cycle_end)} (preview)` }),
      h(
        "p",
        { "data-testid": "preview-totals" },
        totalSeats > 0 ? badge("over", "BILLABLE OVERAGE") : badge("ok", "✓ No billable overage"),
        ` ${fmtInt(totalSeats)} billable overage seat${totalSeats === 1 ? "" : "s"}, ${fmtHours(totalSeconds)} billable seat-hours so far (figures up to ${fmtTime(s.generated_at)}).`,
      ),
      table(
        "Current cycle by pool",
        ["Pool", "Quantity", "Assigned / members", "Peak active", "Peak overage", "Billable overage seats", "Billable seat-hours", "Intervals (billable)"],
        (s.pools ?? []).map((p) =>
          h(
            "tr",
            { "data-preview-pool": p.pool },
            h("th", { scope: "row", text: p.pool }),
            h("td", { class: "num", text: fmtInt(p.quantity) }),
            h("td", { class: "num", text: p.model === "named" ? `${fmtInt(p.assigned)} assigned` : `${fmtInt(p.members)} members` }),
            h("td", { class: "num", text: fmtInt(p.peak_active) }),
            h("td", { class: "num", text: p.model === "named" ? "—" : fmtInt(p.peak_overage) }),
            h("td", { class: "num", "data-field": "billable_overage_seats", text: p.model === "named" ? "—" : fmtInt(p.billable_overage_seats) }),
            h("td", { class: "num", "data-field": "billable_seat_hours", text: p.model === "named" ? "—" : fmtHours(p.billable_seat_seconds) }),
            h("td", { class: "num", text: p.model === "named" ? "—" : `${fmtInt(p.intervals)} (${fmtInt(p.billable_intervals)})` }),
          ),
        ),
        { testid: "preview-table" },
      ),
      (s.addons ?? []).length ? h("h4", { text: "Add-ons in the current cycle" }) : null,
      (s.addons ?? []).length
        ? table(
            "Add-ons in the current cycle",
            ["Add-on", "Purchased", "Consumed"],
            s.addons.map((a) => h("tr", {}, h("th", { scope: "row", text: a.product }), h("td", { class: "num", text: fmtInt(a.purchased) }), h("td", { class: "num", text: fmtInt(a.consumed) }))),
          )
        : null,
    );
  }

  if (billingNotAvailable(summaries)) {
    sbox.replaceChildren(h("h3", { text: "Past cycles" }), h("p", { class: "muted", text: "Billing summaries are not available on this service yet." }));
  } else if (!summaries.ok) {
    sbox.replaceChildren(h("h3", { text: "Past cycles" }), h("p", { class: "error", text: `Past summaries could not be loaded: ${summaries.error.message}` }));
  } else if (!summaries.value.items.length) {
    sbox.replaceChildren(h("h3", { text: "Past cycles" }), h("p", { class: "muted", text: "No finalized cycles yet: a summary appears after the first billing cycle ends." }));
  } else {
    const rows = [];
    for (const s of summaries.value.items) {
      for (const p of s.pools ?? []) {
        if (p.model === "named") continue;
        rows.push(
          h(
            "tr",
            {},
            h("th", { scope: "row", text: `${fmtDate(s.cycle_start)} – ${fmtDate(s.cycle_end)}` }),
            h("td", { text: p.pool }),
            h("td", { class: "num", text: fmtInt(p.peak_active) }),
            h("td", { class: "num", text: fmtInt(p.billable_overage_seats) }),
            h("td", { class: "num", text: fmtHours(p.billable_seat_seconds) }),
            h("td", { class: "num", text: `${fmtInt(p.intervals)} (${fmtInt(p.billable_intervals)})` }),
          ),
        );
      }
    }
    sbox.replaceChildren(
      h("h3", { text: "Past cycles" }),
      rows.length
        ? table("Finalized billing cycles, newest first", ["Cycle (UTC)", "Pool", "Peak active", "Billable overage seats", "Billable seat-hours", "Intervals (billable)"], rows)
        : h("p", { class: "muted", text: "No concurrent pools in the finalized cycles." }),
    );
  }
}

// --- compliance

function renderCompliance(result) {
  const box = $("compliance");
  if (!result.ok) {
    box.replaceChildren(h("p", { class: "error", text: `The compliance report could not be loaded: ${result.error.message}` }));
    return;
  }
  const c = result.value;
  const shortfalls = (c.addon_shortfall ?? []).filter((s) => s.shortfall > 0);
  const parts = [];
  const clean = !shortfalls.length && !(c.named_pools_over_assigned ?? []).length && !(c.open_overages ?? []).length;
  parts.push(h("p", {}, clean ? badge("ok", "✓ Compliant") : badge("warn", "⚠ ACTION NEEDED"), clean ? " Nothing to fix." : " See below."));
  if ((c.addon_shortfall ?? []).length) {
    parts.push(
      h("h3", { text: "Add-on coverage" }),
      table(
        "Add-on shortfall",
        ["Add-on", "Needed", "Covered", "Shortfall", "Status"],
        c.addon_shortfall.map((s) =>
          h(
            "tr",
            { "data-shortfall": s.product },
            h("th", { scope: "row", text: s.product }),
            h("td", { class: "num", text: fmtInt(s.needed) }),
            h("td", { class: "num", text: fmtInt(s.covered) }),
            h("td", { class: "num", "data-field": "shortfall", text: fmtInt(s.shortfall) }),
            h("td", {}, s.shortfall > 0 ? badge("over", `SHORT BY ${fmtInt(s.shortfall)}`) : badge("ok", "✓ Covered")),
          ),
        ),
        { testid: "shortfall-table" },
      ),
    );
  }
  if ((c.named_pools_over_assigned ?? []).length) {
    parts.push(
      h("h3", { text: "Named pools over-assigned" }),
      h("ul", {}, c.named_pools_over_assigned.map((n) => h("li", { text: `${n.pool}: ${fmtInt(n.assigned)} assigned on ${fmtInt(n.quantity)} licenses` }))),
    );
  }
  parts.push(
    h("h3", { text: "Open overages" }),
    h("p", { text: (c.open_overages ?? []).length ? `${c.open_overages.length} open over-limit interval${c.open_overages.length === 1 ? "" : "s"}: ${c.open_overages.map((o) => `${o.pool} (+${o.peak_overage}${o.billable ? ", BILLABLE" : ", within grace"})`).join("; ")}.` : "None." }),
    h("h3", { text: "Recommendations" }),
    (c.recommendations ?? []).length
      ? h("ul", { class: "recommendations", "data-testid": "recommendations" }, c.recommendations.map((r) => h("li", { text: r })))
      : h("p", { class: "muted", text: "No recommendations." }),
  );
  box.replaceChildren(...parts);
}

// --- users

function renderUsers() {
  const q = $("user-search").value.trim().toLowerCase();
  const terms = q.split(/\s+/).filter(Boolean);
  const matches = terms.length
    ? state.users.filter((u) => {
        const hay = [u.id, u.display_name, u.email, u.pool, ...(u.addons ?? [])].filter(Boolean).join(" ").toLowerCase();
        return terms.every((t) => hay.includes(t));
      })
    : state.users;
  const shown = matches.slice(0, USERS_SHOWN);
  $("users-table").tBodies[0].replaceChildren(
    ...(shown.length
      ? shown.map((u) =>
          h(
            "tr",
            { "data-user": u.id },
            h("th", { scope: "row", text: u.id }),
            h("td", { text: u.display_name ?? "—" }),
            h("td", { text: u.email ?? "—" }),
            h("td", {}, u.pool ? u.pool : badge("info", "No license")),
            h("td", { text: (u.addons ?? []).length ? u.addons.join(", ") : "—" }),
          ),
        )
      : [h("tr", {}, h("td", { colspan: "5", text: terms.length ? "No user matches the search." : "No users yet." }))]),
  );
  const total = state.users.length;
  $("users-count").textContent =
    (terms.length ? `${fmtInt(matches.length)} of ${fmtInt(total)} users match` : `${fmtInt(total)} users`) +
    (shown.length < matches.length ? `; showing the first ${fmtInt(shown.length)}, refine the search to see others.` : ".") +
    (state.usersComplete ? "" : " (Only the first 20,000 users are loaded.)");
}

// ---------------------------------------------------------------------------------------------
// Wiring

let searchTimer = null;

function init() {
  $("signin-form").addEventListener("submit", onSignIn);
  $("sign-out").addEventListener("click", () => signOut("Signed out. The key was removed from this tab."));
  $("refresh-now").addEventListener("click", () => refresh());
  $("auto-refresh").addEventListener("change", () => scheduleRefresh());
  for (const radio of document.querySelectorAll('input[name="range"]')) {
    radio.addEventListener("change", () => {
      $("refresh-status").textContent = `Loading the ${RANGES[currentRange()].label}…`;
      refresh();
    });
  }
  $("user-search").addEventListener("input", () => {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(renderUsers, 120);
  });
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible" && creds && state.lastRefresh && Date.now() - state.lastRefresh > REFRESH_MS) refresh();
  });
  if (resizeObserver) resizeObserver.observe($("charts"));
  $("pools-heading").setAttribute("tabindex", "-1");
  if (creds) showDashboard();
  else $("account-id").focus();
}

// uPlot is a deferred classic script and this a module: both run after parsing, in order.
init();
