#!/usr/bin/env node
// `npm run demo`: brings the dashboard to life against a running `npm start`.
//
// Creates a demo account with the seed's situations and then plays agents on a compressed clock:
//   - premium-concurrent: 100 seats shared by 250 agents, with shift changes that go over the
//     limit: three stay inside the grace, one outlasts it and becomes billable;
//   - elite-concurrent: 25 seats, 100 members, so the compliance report shows the add-on shortfall
//     (75 workforce_management, 75 quality_management); one short over-run inside the grace;
//   - essentials-named: 20 named licenses, 18 assigned;
//   - a 15 s lease and a 60 s grace, so all of it happens in minutes.
// Agents check out, heartbeat every lease/3 and release; now and then a desktop "crashes" and its
// lease runs out by itself. Stops after DEMO_MINUTES (default 10) or on Ctrl-C, releasing its seats.
//
// (`npm start` sets WEBHOOK_ALLOW_LOOPBACK=true, so a webhook may point at a receiver on this machine.)
// Settings (environment): SEATKEEPER_URL (default http://127.0.0.1:8787; loopback only),
// OPERATOR_TOKEN (default: read from .dev.vars, as `npm start` writes it), DEMO_MINUTES (10),
// DEMO_GRACE_SECONDS (60: the timeline scales with it), DEMO_LEASE_SECONDS (15), DEMO_ACCOUNT.
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const base = (process.env.SEATKEEPER_URL ?? `http://127.0.0.1:${process.env.PORT ?? "8787"}`).replace(/\/+$/, "");
const minutes = Number(process.env.DEMO_MINUTES ?? 10);
const grace = Number(process.env.DEMO_GRACE_SECONDS ?? 60);
const lease = Number(process.env.DEMO_LEASE_SECONDS ?? 15);

function fail(message) {
  console.error(`demo: ${message}`);
  process.exit(1);
}

const url = (() => {
  try {
    return new URL(base);
  } catch {
    return fail(`SEATKEEPER_URL is not a URL: ${base}`);
  }
})();
if (!["127.0.0.1", "localhost", "[::1]"].includes(url.hostname)) fail(`the demo runs against a local server only (127.0.0.1, localhost or [::1]), not ${url.hostname}.`);
if (!(minutes > 0 && minutes <= 60)) fail("DEMO_MINUTES must be between 0 and 60.");
if (!(grace >= 10 && grace <= 3600)) fail("DEMO_GRACE_SECONDS must be between 10 and 3600.");
if (!(lease >= 5 && lease <= 300)) fail("DEMO_LEASE_SECONDS must be between 5 and 300.");

function operatorToken() {
  if (process.env.OPERATOR_TOKEN) return process.env.OPERATOR_TOKEN;
  const file = join(root, ".dev.vars");
  const m = existsSync(file) ? /^OPERATOR_TOKEN\s*=\s*"?([^"\n]+)"?/m.exec(readFileSync(file, "utf8")) : null;
  if (!m) fail("no OPERATOR_TOKEN: start the service with `npm start` first (it writes .dev.vars), or set OPERATOR_TOKEN.");
  return m[1];
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const started = Date.now();
const elapsed = () => (Date.now() - started) / 1000;
const stamp = () => {
  const s = Math.floor(elapsed());
  return `[${String(Math.floor(s / 60)).padStart(2, "0")}:${String(s % 60).padStart(2, "0")}]`;
};
const log = (msg) => console.log(`${stamp()} ${msg}`);

async function call(bearer, method, path, body, retry = true) {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { authorization: `Bearer ${bearer}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  // `wrangler dev` reloads the Worker when a source file changes and answers 503 meanwhile.
  if (res.status === 503 && retry && /restarted mid-request/.test(text)) {
    await sleep(300);
    return call(bearer, method, path, body, false);
  }
  let json = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    json = { detail: text.slice(0, 300) }; // not the API's JSON: say what came back
  }
  return { status: res.status, body: json };
}

async function must(promise, what) {
  const r = await promise;
  if (r.status >= 300) throw new Error(`${what}: ${r.status} ${r.body?.code ?? ""} ${r.body?.detail ?? ""}`);
  return r.body;
}

/** Runs fn over items, `width` at a time. */
async function pool(items, width, fn) {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(width, items.length) }, async () => {
      while (next < items.length) await fn(items[next++]);
    }),
  );
}

const FIRST = ["Ada", "Ben", "Chloé", "Dmitri", "Emeka", "Fatima", "Grace", "Hiro", "Ines", "Jonas", "Kofi", "Lena", "Mateo", "Nadia", "Omar", "Priya", "Quinn", "Rosa", "Sven", "Tariq", "Uma", "Viktor", "Wen", "Ximena", "Yusuf", "Zoë"];
const LAST = ["Lovelace", "Okafor", "Schmidt", "Tanaka", "Silva", "Novak", "Haddad", "Kowalski", "Murphy", "Rossi", "Nguyen", "Berg", "Costa", "Dubois", "Eriksen"];
const nameOf = (i) => `${FIRST[i % FIRST.length]} ${LAST[(i * 7) % LAST.length]}`;

// ---------------------------------------------------------------------------------------------
// Setup

const op = operatorToken();
try {
  const h = await fetch(`${base}/healthz`);
  if (!h.ok) throw new Error(String(h.status));
} catch {
  fail(`nothing answers at ${base}/healthz: run \`npm start\` in another terminal first.`);
}

const accountId = process.env.DEMO_ACCOUNT ?? `demo-${new Date().toISOString().replace(/[-:T]/g, "").slice(0, 14)}`;
console.log(`Setting up the demo account ${accountId} on ${base} …`);
await must(call(op, "POST", "/v1/accounts", { id: accountId, name: "Demo Contact Center", grace_seconds: grace, lease_ttl_seconds: lease }), "create the account");
const { key } = await must(call(op, "POST", `/v1/accounts/${accountId}/api-keys`, { name: "demo dashboard" }), "create an API key");
const A = `/v1/accounts/${accountId}`;
const admin = (method, path, body) => call(key, method, `${A}${path}`, body);
// The setup's ~770 writes go as the operator: an API key's admin writes are rate limited (600 a
// minute per key, README "Settings"), the operator token is not. The key is for the dashboard.
const setup = (method, path, body) => call(op, method, `${A}${path}`, body);

await must(setup("PUT", "/pools/premium-concurrent", { quantity: 100 }), "premium pool");
await must(setup("PUT", "/pools/elite-concurrent", { quantity: 25 }), "elite pool");
await must(setup("PUT", "/pools/essentials-named", { quantity: 20 }), "named pool");

const premium = Array.from({ length: 250 }, (_, i) => ({ id: `agent${String(i + 1).padStart(3, "0")}@demo.example`, name: nameOf(i), pool: "premium-concurrent" }));
const elite = Array.from({ length: 100 }, (_, i) => ({ id: `expert${String(i + 1).padStart(3, "0")}@demo.example`, name: nameOf(i + 250), pool: "elite-concurrent" }));
const named = Array.from({ length: 18 }, (_, i) => ({ id: `backoffice${String(i + 1).padStart(2, "0")}@demo.example`, name: nameOf(i + 350), pool: "essentials-named" }));
const everyone = [...premium, ...elite, ...named];
await pool(everyone, 16, (u) => must(setup("PUT", `/users/${encodeURIComponent(u.id)}`, { display_name: u.name, email: u.id }), `user ${u.id}`));
await must(setup("POST", "/licenses:batch", { assign: everyone.map((u) => ({ user_id: u.id, pool: u.pool })) }), "licenses");
// The elite pool bundles one WFM and one QM seat per seat of its quantity: 25 each. The other
// 75 members are the compliance report's shortfall (no add-on seats are bought).
await pool(elite.slice(0, 25), 8, async (u) => {
  await must(setup("PUT", `/users/${encodeURIComponent(u.id)}/addons/workforce_management`), "WFM");
  await must(setup("PUT", `/users/${encodeURIComponent(u.id)}/addons/quality_management`), "QM");
});
const agents = [...premium, ...elite].map((u) => ({ ...u, token: null, state: "idle", session: null, beatAt: 0, expiresAt: 0 }));
await pool(agents, 16, async (a) => {
  a.token = (await must(setup("POST", `/users/${encodeURIComponent(a.id)}/agent-token`, { ttl_seconds: 3 * 3600 }), "agent token")).token;
});

const dashboard = `${base}/dashboard`;
console.log(`
  Demo account ready: 250 agents on 100 premium-concurrent seats, 100 experts on 25 elite-concurrent
  seats (add-on shortfall 75 + 75), 18 of 20 essentials-named licenses. Grace ${grace} s, lease ${lease} s.

  Dashboard:   ${dashboard}
  Account id:  ${accountId}
  API key:     ${key}

  Paste both into the sign-in form. The demo runs for ${minutes} min (Ctrl-C stops it sooner).
`);

// ---------------------------------------------------------------------------------------------
// The compressed clock: one cycle of 10 grace periods (10 min with a 60 s grace).

const g = grace;
const CYCLE = 10 * g;
/** Shift changes on premium-concurrent: [start, duration, peak] in seconds into the cycle. */
const SHIFTS = [
  { at: 0.7 * g, dur: 0.6 * g, peak: 107, note: "inside the grace" },
  { at: 3.2 * g, dur: 0.75 * g, peak: 104, note: "inside the grace" },
  { at: 5.7 * g, dur: 1.8 * g, peak: 112, note: "outlasts the grace: billable" },
  { at: 8.7 * g, dur: 0.4 * g, peak: 109, note: "inside the grace" },
];
const ELITE_RUSH = { at: 2.0 * g, dur: 0.5 * g, peak: 27, note: "inside the grace" };

function premiumTarget(t) {
  const c = t % CYCLE;
  if (t < 0.3 * g) return Math.round(92 * (t / (0.3 * g))); // the morning ramp-up
  for (const s of SHIFTS) if (c >= s.at && c < s.at + s.dur) return s.peak;
  // Between shift changes: a gentle wave under the limit (88 to 97).
  return Math.round(92.5 + 4.5 * Math.sin((2 * Math.PI * c) / (2.5 * g)));
}

function eliteTarget(t) {
  const c = t % CYCLE;
  if (t < 0.3 * g) return Math.round(20 * (t / (0.3 * g)));
  if (c >= ELITE_RUSH.at && c < ELITE_RUSH.at + ELITE_RUSH.dur) return ELITE_RUSH.peak;
  return Math.round(20 + 3 * Math.sin((2 * Math.PI * c) / (3 * g)));
}

let sessionSeq = 0;
const agent = (a, path, body) => call(a.token, "POST", path, body);

async function checkout(a) {
  a.state = "active"; // counted at once, so a tick never overshoots
  a.session = `desk-${(++sessionSeq).toString(36)}`;
  const r = await agent(a, "/v1/seats/checkout", { session_id: a.session });
  if (r.status !== 200) {
    a.state = "idle";
    log(`checkout of ${a.id} refused: ${r.status} ${r.body?.code ?? ""} ${r.body?.detail ?? ""}`);
    return;
  }
  a.beatAt = Date.now();
  a.expiresAt = Date.parse(r.body.expires_at);
}

async function release(a) {
  a.state = "idle";
  const r = await agent(a, "/v1/seats/release", { session_id: a.session });
  if (r.status !== 204) log(`release of ${a.id}: ${r.status} ${r.body?.code ?? ""} ${r.body?.detail ?? ""}`);
}

async function heartbeat(a) {
  a.beatAt = Date.now();
  const r = await agent(a, "/v1/seats/heartbeat", { session_id: a.session });
  if (r.status === 200) a.expiresAt = Date.parse(r.body.expires_at);
  else if (r.status !== 404) log(`heartbeat of ${a.id}: ${r.status} ${r.body?.code ?? ""} ${r.body?.detail ?? ""}`);
  else if (a.state === "active") {
    // The lease ran out (a slow beat): the desktop checks out again, as the API says.
    await checkout(a);
  }
}

const pick = (list, n) => {
  const copy = [...list];
  for (let i = copy.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [copy[i], copy[j]] = [copy[j], copy[i]];
  }
  return copy.slice(0, Math.max(0, n));
};

/** Brings a pool's holders to target: active agents plus crashed ones whose lease still runs. */
async function steer(members, limit, target, jobs) {
  const now = Date.now();
  for (const a of members) if (a.state === "crashed" && now > a.expiresAt + 3000) a.state = "idle";
  const holding = members.filter((a) => a.state === "active" || a.state === "crashed");
  const idle = members.filter((a) => a.state === "idle");
  const diff = target - holding.length;
  if (diff > 0) for (const a of pick(idle, diff)) jobs.push(checkout(a));
  else if (diff < 0) for (const a of pick(holding.filter((x) => x.state === "active"), -diff)) jobs.push(release(a));
  else if (target <= limit - 3 && Math.random() < 0.6) {
    // Churn under the limit: one agent logs off, another logs on (release first: never over).
    const [off] = pick(holding.filter((x) => x.state === "active"), 1);
    const [on] = pick(idle, 1);
    if (off && on) jobs.push(release(off).then(() => checkout(on)));
  }
  if (target <= limit - 3 && Math.random() < 0.04) {
    const [crash] = pick(holding.filter((x) => x.state === "active"), 1);
    if (crash) {
      crash.state = "crashed"; // stops heartbeating; its lease expires on the server by itself
      log(`${crash.id}'s desktop crashed: its seat frees when the ${lease} s lease runs out`);
    }
  }
}

let stopping = false;
const stop = (why) => {
  if (!stopping) log(`${why}: stopping …`);
  stopping = true;
};
process.on("SIGINT", () => stop("Ctrl-C"));
process.on("SIGTERM", () => stop("SIGTERM"));

const announced = new Set();
const beatEvery = (lease / 3) * 1000;
const premiumAgents = agents.filter((a) => a.pool === "premium-concurrent");
const eliteAgents = agents.filter((a) => a.pool === "elite-concurrent");
const loopStart = Date.now();
let tickNo = 0;
let errors = 0;
while (!stopping && Date.now() - loopStart < minutes * 60_000) {
  const tickStart = Date.now();
  const t = (tickStart - loopStart) / 1000;
  const cycleNo = Math.floor(t / CYCLE);
  for (const [i, s] of SHIFTS.entries()) {
    const key = `${cycleNo}:p${i}`;
    if (t % CYCLE >= s.at && !announced.has(key)) {
      announced.add(key);
      log(`shift change on premium-concurrent: ${s.peak} agents on 100 seats for ${Math.round(s.dur)} s (${s.note})`);
    }
  }
  if (t % CYCLE >= ELITE_RUSH.at && !announced.has(`${cycleNo}:e`)) {
    announced.add(`${cycleNo}:e`);
    log(`rush on elite-concurrent: ${ELITE_RUSH.peak} experts on 25 seats for ${Math.round(ELITE_RUSH.dur)} s (${ELITE_RUSH.note})`);
  }
  const jobs = [];
  try {
    await steer(premiumAgents, 100, premiumTarget(t), jobs);
    await steer(eliteAgents, 25, eliteTarget(t), jobs);
    for (const a of agents) if (a.state === "active" && tickStart - a.beatAt >= beatEvery) jobs.push(heartbeat(a));
    const settled = await Promise.allSettled(jobs);
    for (const r of settled) {
      if (r.status !== "rejected") continue;
      if (++errors <= 5) log(`request failed: ${r.reason?.cause?.code ?? r.reason?.message ?? r.reason}`);
    }
  } catch (err) {
    errors++;
    log(`request failed: ${err.message}`);
  }
  if (++tickNo % 30 === 0) {
    const p = premiumAgents.filter((a) => a.state !== "idle").length;
    const e = eliteAgents.filter((a) => a.state !== "idle").length;
    log(`premium ${p}/100 · elite ${e}/25 active${errors ? ` · ${errors} failed requests so far` : ""}`);
  }
  await sleep(Math.max(0, 1000 - (Date.now() - tickStart)));
}

// Wind down: release what we hold, then show what the service recorded.
if (!stopping) log(`${minutes} min are up: stopping …`);
await pool(
  agents.filter((a) => a.state === "active"),
  16,
  (a) => release(a).catch(() => {}),
).catch(() => {});
const overages = await admin("GET", "/overages?limit=1000").catch(() => ({ status: 0 }));
if (overages.status === 200) {
  const items = overages.body.items;
  const billable = items.filter((i) => i.billable);
  log(`recorded ${items.length} over-limit interval${items.length === 1 ? "" : "s"}, ${billable.length} billable (${billable.map((i) => `${i.pool}: ${i.billable_overage_seats} seats`).join(", ") || "none"}).`);
}
console.log(`\n  The account stays: ${dashboard} (account ${accountId}, key ${key}).`);
process.exit(0);
