#!/usr/bin/env node
// `npm run bench`: the shift-change benchmark of issue 6. Starts a private Seatkeeper (wrangler dev,
// fresh state), sets accounts up through the API (not timed), then drives bounded phases at a
// fixed concurrency from this process, on 127.0.0.1 only, and verifies the counts after each.
// Exits non-zero if any count or status is not exactly as expected (BENCH_STRICT=1: also if a
// throughput/p99 target is missed). Results: stdout (markdown table) and bench/out/*.json.
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { join } from "node:path";
import { call, runLoad } from "./load.mjs";
import { presencePhase, PRESENCE } from "./presence.mjs";
import { root, startService } from "./server.mjs";

const PORT = Number(process.env.BENCH_PORT ?? 8790);
const INSPECTOR_PORT = Number(process.env.BENCH_INSPECTOR_PORT ?? PORT + 500);
const CONCURRENCY = 64;
const BASELINE_REQUESTS = Number(process.env.BENCH_BASELINE_REQUESTS ?? 5000);
const SHIFT_AGENTS = 2000;
const SHIFT_QUANTITY = 1900;
const MANY_ACCOUNTS = 200;
const MANY_AGENTS = 20;
const NAMED_USERS = 1000;
const BATCH_USERS = 1000;
const BATCH_ROUNDS = 5;
const PHASE_DEADLINE_MS = 180_000;
/** BENCH_WATCHDOG_MINUTES: the whole run is stopped after this long (a loaded machine may need more). */
const WATCHDOG_MS = Number(process.env.BENCH_WATCHDOG_MINUTES ?? 20) * 60_000;
const STRICT = process.env.BENCH_STRICT === "1";
/** BENCH_PHASES=presence (comma-separated) runs only those phases; all of them by default. */
const ALL_PHASES = ["baseline", "shift", "many", "named", "batch", "presence"];
const PHASES = (process.env.BENCH_PHASES ?? ALL_PHASES.join(",")).split(",").map((x) => x.trim()).filter(Boolean);
const unknownPhase = PHASES.find((x) => !ALL_PHASES.includes(x));
if (unknownPhase) throw new Error(`BENCH_PHASES: unknown phase ${unknownPhase} (phases: ${ALL_PHASES.join(", ")})`);
const want = (phase) => PHASES.includes(phase);

const TTL = { lease_ttl_seconds: 3600, grace_seconds: 3600 };
const SHIFT = { id: "bench-shift", pool: "essentials-concurrent" };
const MANY_POOL = "premium-concurrent";
const NAMED = { id: "bench-named", pool: "elite-named" };
const BATCH = { id: "bench-batch", a: "premium-named", b: "elite-concurrent" };

const log = (...a) => console.log(...a);
const failures = [];
let server = null;

function check(ok, what, detail = "") {
  if (ok) log(`    ✓ ${what}`);
  else {
    log(`    ✗ ${what}${detail ? `: ${detail}` : ""}`);
    failures.push(`${what}${detail ? `: ${detail}` : ""}`);
  }
  return ok;
}

function checkLoad(name, res) {
  const ok = res.unexpected === 0 && res.completed === res.count;
  check(ok, `${name}: all ${res.count} statuses as expected ${JSON.stringify(res.statusCounts)}`, res.errors.slice(0, 5).join(" | "));
  return ok;
}

/** Untimed bulk work through the same runner; any unexpected status is fatal. */
async function bulk(name, requests, opts = {}) {
  const res = await runLoad(server.baseUrl, requests, { concurrency: CONCURRENCY, deadlineMs: PHASE_DEADLINE_MS, ...opts });
  if (res.statusCounts["503"] || res.statusCounts.network_error) {
    // A dev-server reload during setup: retry those once (a created account may answer 409 then).
    const retry = [];
    requests.forEach((r, i) => {
      if (res.bodies) res.bodies[i] ??= null;
    });
    const idx = [];
    for (let i = 0; i < requests.length; i++) if (res.statuses[i] === 503 || res.statuses[i] === -1) idx.push(i);
    for (const i of idx) retry.push({ ...requests[i], expect: [].concat(requests[i].expect, requests[i].path === "/v1/accounts" ? [409] : []) });
    log(`  (setup "${name}": retrying ${idx.length} request(s) that got 503 or a reset connection)`);
    const again = await runLoad(server.baseUrl, retry, { concurrency: CONCURRENCY, deadlineMs: PHASE_DEADLINE_MS, ...opts });
    if (again.unexpected !== 0 || again.completed !== again.count) {
      throw new Error(`setup step "${name}" failed on retry: ${JSON.stringify(again.statusCounts)} ${again.errors.slice(0, 5).join(" | ")}`);
    }
    idx.forEach((i, k) => {
      if (res.bodies) res.bodies[i] = again.bodies[k];
    });
    return res;
  }
  if (res.unexpected !== 0 || res.completed !== res.count) {
    throw new Error(`setup step "${name}" failed: ${JSON.stringify(res.statusCounts)} ${res.errors.slice(0, 5).join(" | ")}`);
  }
  return res;
}

const op = (method, path, body) => call(server.baseUrl, method, path, server.token, body);
const users = (prefix, n) => Array.from({ length: n }, (_, i) => `${prefix}${String(i).padStart(5, "0")}`);

async function must(method, path, body, status) {
  const res = await op(method, path, body);
  if (res.status !== status) throw new Error(`${method} ${path} → ${res.status} (expected ${status}): ${JSON.stringify(res.body).slice(0, 400)}`);
  return res.body;
}

async function pool(accountId, poolId) {
  const body = await must("GET", `/v1/accounts/${accountId}/pools`, undefined, 200);
  return body.items.find((p) => p.id === poolId);
}

async function overages(accountId) {
  return (await must("GET", `/v1/accounts/${accountId}/overages?limit=1000`, undefined, 200)).items;
}

async function createAccounts(ids, pools) {
  await bulk("accounts", ids.map((id) => ({ method: "POST", path: "/v1/accounts", token: server.token, body: { id, name: `Bench ${id}`, ...TTL }, expect: 201 })));
  await bulk(
    "pools",
    ids.flatMap((id) => pools.map(([poolId, quantity]) => ({ method: "PUT", path: `/v1/accounts/${id}/pools/${poolId}`, token: server.token, body: { quantity }, expect: 200 }))),
  );
}

async function createUsers(accountId, ids) {
  await bulk("users", ids.map((u) => ({ method: "PUT", path: `/v1/accounts/${accountId}/users/${u}`, token: server.token, body: {}, expect: 200 })));
}

async function assignBatch(accountId, ids, poolId) {
  for (let i = 0; i < ids.length; i += 1000) {
    const assign = ids.slice(i, i + 1000).map((user_id) => ({ user_id, pool: poolId }));
    await must("POST", `/v1/accounts/${accountId}/licenses:batch`, { assign, revoke: [] }, 200);
  }
}

/** Agent tokens minted in parallel through the API; returns [{accountId, userId, token}]. */
async function mintTokens(pairs) {
  const res = await bulk(
    "agent tokens",
    pairs.map(([accountId, userId]) => ({ method: "POST", path: `/v1/accounts/${accountId}/users/${userId}/agent-token`, token: server.token, body: { ttl_seconds: 7200 }, expect: 201 })),
    { keepBodies: true },
  );
  return pairs.map(([accountId, userId], i) => ({ accountId, userId, token: res.bodies[i].token }));
}

const seatCall = (kind, agents, sessionOf, expect) =>
  agents.map((a) => ({ method: "POST", path: `/v1/seats/${kind}`, token: a.token, body: { session_id: sessionOf(a) }, expect }));

function summary(res) {
  return { requests: res.count, rps: res.rps, p50_ms: res.p50, p95_ms: res.p95, p99_ms: res.p99, max_ms: res.max, elapsed_ms: res.elapsedMs, statuses: res.statusCounts };
}

/** The `active` values a run of checkouts reported must be exactly 1..n: one seat each, none twice. */
function exactSequence(bodies, n) {
  const seen = new Uint8Array(n + 1);
  for (const b of bodies) {
    const a = b?.active;
    if (!Number.isInteger(a) || a < 1 || a > n || seen[a]) return false;
    seen[a] = 1;
  }
  return true;
}

async function poll(what, fn, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    last = await fn();
    if (last.ok || Date.now() > deadline) return last;
    await new Promise((r) => setTimeout(r, 250));
  }
}

let viaProxy = false;
async function main() {
  const started = new Date();
  log(`Seatkeeper benchmark: ${cpus().length} CPU(s) (${cpus()[0]?.model ?? "?"}), load average ${loadavg().map((x) => x.toFixed(2)).join(" ")}, Node ${process.version}`);
  try {
    const busy = await fetch(`http://127.0.0.1:${PORT}/healthz`, { signal: AbortSignal.timeout(1000) });
    await busy.arrayBuffer();
    throw new Error(`something already answers on 127.0.0.1:${PORT}; set BENCH_PORT to a free port`);
  } catch (err) {
    if (String(err.message).startsWith("something already")) throw err;
  }
  log(`Starting wrangler dev on 127.0.0.1:${PORT} (fresh state, migrations applied)…`);
  server = await startService({ port: PORT, inspectorPort: INSPECTOR_PORT, log });
  log(`  up: ${server.baseUrl} (wrangler pid ${server.pid})`);
  // BENCH_DIRECT=1: skip wrangler's ProxyWorker and drive the user worker's own socket (to measure
  // the proxy hop). Not the default: that socket drops slow requests ("other side closed").
  viaProxy = !(process.env.BENCH_DIRECT === "1" && server.directCandidates.length > 0);
  if (!viaProxy) {
    log(`  BENCH_DIRECT=1: driving the user worker's own socket ${server.directCandidates[0]} (behind wrangler's proxy on :${PORT})`);
    server.baseUrl = server.directCandidates[0];
  }

  // ------------------------------------------------------------------ setup (not timed)
  const t0 = Date.now();
  log("Setup (not timed)…");
  const shiftUsers = users("agent", SHIFT_AGENTS);
  const manyIds = Array.from({ length: MANY_ACCOUNTS }, (_, i) => `bench-many-${String(i).padStart(3, "0")}`);
  const manyUsers = users("a", MANY_AGENTS);
  const namedUsers = users("named", NAMED_USERS);
  const batchUsers = users("b", BATCH_USERS);

  if (want("shift")) await createAccounts([SHIFT.id], [[SHIFT.pool, SHIFT_QUANTITY]]);
  if (want("named")) await createAccounts([NAMED.id], [[NAMED.pool, NAMED_USERS]]);
  if (want("batch")) await createAccounts([BATCH.id], [[BATCH.a, BATCH_USERS], [BATCH.b, BATCH_USERS]]);
  if (want("many")) await createAccounts(manyIds, [[MANY_POOL, MANY_AGENTS]]);
  if (want("shift")) await createUsers(SHIFT.id, shiftUsers);
  if (want("named")) await createUsers(NAMED.id, namedUsers);
  if (want("batch")) await createUsers(BATCH.id, batchUsers);
  if (want("many")) await bulk("many users", manyIds.flatMap((id) => manyUsers.map((u) => ({ method: "PUT", path: `/v1/accounts/${id}/users/${u}`, token: server.token, body: {}, expect: 200 }))));
  if (want("shift")) await assignBatch(SHIFT.id, shiftUsers, SHIFT.pool);
  if (want("many")) await bulk("many licenses", manyIds.map((id) => ({ method: "POST", path: `/v1/accounts/${id}/licenses:batch`, token: server.token, body: { assign: manyUsers.map((user_id) => ({ user_id, pool: MANY_POOL })), revoke: [] }, expect: 200 })));
  const shiftAgents = want("shift") ? await mintTokens(shiftUsers.map((u) => [SHIFT.id, u])) : [];
  const manyAgents = want("many") ? await mintTokens(manyIds.flatMap((id) => manyUsers.map((u) => [id, u]))) : [];
  const namedAgents = want("named") ? await mintTokens(namedUsers.map((u) => [NAMED.id, u])) : [];
  log(`  agent tokens: ${shiftAgents.length + manyAgents.length + namedAgents.length} (phases: ${PHASES.join(", ")})`);
  if (want("shift")) {
    const shiftPool0 = await pool(SHIFT.id, SHIFT.pool);
    if (shiftPool0.members !== SHIFT_AGENTS || shiftPool0.active !== 0) throw new Error(`setup: shift pool is ${JSON.stringify(shiftPool0)}`);
  }
  log(`  setup took ${((Date.now() - t0) / 1000).toFixed(1)} s`);

  const phases = {};
  const record = (key, label, res) => {
    phases[key] = { label, ...summary(res) };
    log(`  ${label}: ${res.rps.toFixed(0)} req/s, p50 ${res.p50.toFixed(1)} ms, p95 ${res.p95.toFixed(1)} ms, p99 ${res.p99.toFixed(1)} ms (${res.count} in ${(res.elapsedMs / 1000).toFixed(2)} s)`);
    return res;
  };

  const sid = (a) => `desk-${a.userId}`;
  let p;

  // ------------------------------------------------------------------ 1. baseline
  if (want("baseline")) {
  log(`\n1. Baseline: GET /healthz ×${BASELINE_REQUESTS} at concurrency ${CONCURRENCY}`);
  await bulk("warm-up", Array.from({ length: 1000 }, () => ({ method: "GET", path: "/healthz", expect: 200 })));
  const baseline = record("baseline", "GET /healthz", await runLoad(server.baseUrl, Array.from({ length: BASELINE_REQUESTS }, () => ({ method: "GET", path: "/healthz", expect: 200 })), { concurrency: CONCURRENCY, deadlineMs: PHASE_DEADLINE_MS }));
  checkLoad("baseline", baseline);
  }

  // ------------------------------------------------------------------ 2. shift change
  if (want("shift")) {
  log(`\n2. Shift change: ${SHIFT_AGENTS} agents of one account, pool quantity ${SHIFT_QUANTITY}`);
  const co = record("shift_checkout", "checkout (one account)", await runLoad(server.baseUrl, seatCall("checkout", shiftAgents, sid, 200), { concurrency: CONCURRENCY, deadlineMs: PHASE_DEADLINE_MS, keepBodies: true }));
  checkLoad("shift checkout", co);
  check(exactSequence(co.bodies, SHIFT_AGENTS), `checkout replies report active = 1…${SHIFT_AGENTS}, each exactly once`);
  const overLimitReplies = co.bodies.filter((b) => b?.over_limit === true).length;
  check(overLimitReplies === SHIFT_AGENTS - SHIFT_QUANTITY, `exactly ${SHIFT_AGENTS - SHIFT_QUANTITY} replies say over_limit`, `got ${overLimitReplies}`);
  p = await pool(SHIFT.id, SHIFT.pool);
  check(p.active === SHIFT_AGENTS && p.over_limit === true, `GET pools: active ${SHIFT_AGENTS}, over_limit true`, JSON.stringify(p));
  let ov = await overages(SHIFT.id);
  check(ov.length === 1 && ov[0].ended_at === null && ov[0].peak_overage === SHIFT_AGENTS - SHIFT_QUANTITY && ov[0].peak_active === SHIFT_AGENTS && ov[0].pool === SHIFT.pool, `GET overages: one open interval, peak_active ${SHIFT_AGENTS}, peak_overage ${SHIFT_AGENTS - SHIFT_QUANTITY}`, JSON.stringify(ov));

  const hb = record("shift_heartbeat", "heartbeat (one account)", await runLoad(server.baseUrl, seatCall("heartbeat", shiftAgents, sid, 200), { concurrency: CONCURRENCY, deadlineMs: PHASE_DEADLINE_MS }));
  checkLoad("shift heartbeat", hb);
  p = await pool(SHIFT.id, SHIFT.pool);
  check(p.active === SHIFT_AGENTS, `GET pools after heartbeats: active still ${SHIFT_AGENTS}`, JSON.stringify(p));

  const rl = record("shift_release", "release (one account)", await runLoad(server.baseUrl, seatCall("release", shiftAgents, sid, 204), { concurrency: CONCURRENCY, deadlineMs: PHASE_DEADLINE_MS }));
  checkLoad("shift release", rl);
  p = await pool(SHIFT.id, SHIFT.pool);
  check(p.active === 0 && p.over_limit === false, "GET pools after release: active 0, over_limit false", JSON.stringify(p));
  const closed = await poll("closed interval", async () => {
    const items = await overages(SHIFT.id);
    return { ok: items.length === 1 && items[0].ended_at !== null, items };
  });
  ov = closed.items;
  check(
    ov.length === 1 && ov[0].ended_at !== null && ov[0].peak_overage === SHIFT_AGENTS - SHIFT_QUANTITY && ov[0].peak_active === SHIFT_AGENTS && ov[0].billable === false,
    `GET overages after release: one closed interval, peak_active ${SHIFT_AGENTS}, peak_overage ${SHIFT_AGENTS - SHIFT_QUANTITY}, not billable (inside grace)`,
    JSON.stringify(ov),
  );

  }

  // ------------------------------------------------------------------ 3. many accounts
  if (want("many")) {
  log(`\n3. Many accounts: ${MANY_ACCOUNTS} accounts × ${MANY_AGENTS} agents`);
  // Interleave accounts so the 64 workers hit many objects at once, as sign-ins across tenants would.
  const interleaved = manyUsers.flatMap((_, j) => manyIds.map((_, i) => manyAgents[i * MANY_AGENTS + j]));
  const mco = record("many_checkout", "checkout (200 accounts)", await runLoad(server.baseUrl, seatCall("checkout", interleaved, sid, 200), { concurrency: CONCURRENCY, deadlineMs: PHASE_DEADLINE_MS }));
  checkLoad("many-accounts checkout", mco);
  const poolsAfter = await bulk("GET pools ×200", manyIds.map((id) => ({ method: "GET", path: `/v1/accounts/${id}/pools`, token: server.token, expect: 200 })), { keepBodies: true });
  const wrongActive = poolsAfter.bodies.map((b, i) => [manyIds[i], b.items.find((x) => x.id === MANY_POOL)]).filter(([, x]) => x.active !== MANY_AGENTS || x.over_limit);
  check(wrongActive.length === 0, `GET pools: every one of ${MANY_ACCOUNTS} accounts has active ${MANY_AGENTS} (total ${MANY_ACCOUNTS * MANY_AGENTS})`, JSON.stringify(wrongActive.slice(0, 3)));
  const mrl = record("many_release", "release (200 accounts)", await runLoad(server.baseUrl, seatCall("release", interleaved, sid, 204), { concurrency: CONCURRENCY, deadlineMs: PHASE_DEADLINE_MS }));
  checkLoad("many-accounts release", mrl);
  const poolsEnd = await bulk("GET pools ×200", manyIds.map((id) => ({ method: "GET", path: `/v1/accounts/${id}/pools`, token: server.token, expect: 200 })), { keepBodies: true });
  const notZero = poolsEnd.bodies.map((b, i) => [manyIds[i], b.items.find((x) => x.id === MANY_POOL)]).filter(([, x]) => x.active !== 0);
  check(notZero.length === 0, `GET pools after release: active 0 in all ${MANY_ACCOUNTS} accounts`, JSON.stringify(notZero.slice(0, 3)));
  const ovMany = await bulk("GET overages ×200", manyIds.map((id) => ({ method: "GET", path: `/v1/accounts/${id}/overages`, token: server.token, expect: 200 })), { keepBodies: true });
  check(ovMany.bodies.every((b) => b.items.length === 0), "GET overages: none in any of the 200 accounts (each at exactly its quantity)");

  }

  // ------------------------------------------------------------------ 4. named licenses
  if (want("named")) {
  log(`\n4. Named-license path: ${NAMED.pool} quantity ${NAMED_USERS}`);
  const lic = record("named_put_license", "PUT license (named pool)", await runLoad(server.baseUrl, namedUsers.map((u) => ({ method: "PUT", path: `/v1/accounts/${NAMED.id}/users/${u}/license`, token: server.token, body: { pool: NAMED.pool }, expect: 200 })), { concurrency: CONCURRENCY, deadlineMs: PHASE_DEADLINE_MS }));
  checkLoad("PUT license", lic);
  p = await pool(NAMED.id, NAMED.pool);
  check(p.assigned === NAMED_USERS && p.active === 0, `GET pools: assigned ${NAMED_USERS}, active 0`, JSON.stringify(p));
  const nco = record("named_checkout", "checkout (named users)", await runLoad(server.baseUrl, seatCall("checkout", namedAgents, sid, 200), { concurrency: CONCURRENCY, deadlineMs: PHASE_DEADLINE_MS, keepBodies: true }));
  checkLoad("named checkout", nco);
  check(exactSequence(nco.bodies, NAMED_USERS) && nco.bodies.every((b) => b.over_limit === false && b.model === "named"), `named checkout replies: active 1…${NAMED_USERS} once each, never over_limit`);
  p = await pool(NAMED.id, NAMED.pool);
  check(p.active === NAMED_USERS, `GET pools: active ${NAMED_USERS}`, JSON.stringify(p));
  const nrl = await runLoad(server.baseUrl, seatCall("release", namedAgents, sid, 204), { concurrency: CONCURRENCY, deadlineMs: PHASE_DEADLINE_MS });
  checkLoad("named release", nrl);
  p = await pool(NAMED.id, NAMED.pool);
  check(p.active === 0, "GET pools after release: active 0", JSON.stringify(p));
  check((await overages(NAMED.id)).length === 0, "GET overages: none for a named pool");

  }

  if (want("batch")) {
  log(`\n   licenses:batch of ${BATCH_USERS} users, ${BATCH_ROUNDS} sequential batches`);
  const rounds = [
    { label: `assign ${BATCH_USERS} → ${BATCH.a}`, body: { assign: batchUsers.map((user_id) => ({ user_id, pool: BATCH.a })), revoke: [] }, result: { assigned: BATCH_USERS, revoked: 0 }, counts: { [BATCH.a]: BATCH_USERS, [BATCH.b]: 0 } },
    { label: `move ${BATCH_USERS} → ${BATCH.b}`, body: { assign: batchUsers.map((user_id) => ({ user_id, pool: BATCH.b })), revoke: [] }, result: { assigned: BATCH_USERS, revoked: 0 }, counts: { [BATCH.a]: 0, [BATCH.b]: BATCH_USERS } },
    { label: `move ${BATCH_USERS} → ${BATCH.a}`, body: { assign: batchUsers.map((user_id) => ({ user_id, pool: BATCH.a })), revoke: [] }, result: { assigned: BATCH_USERS, revoked: 0 }, counts: { [BATCH.a]: BATCH_USERS, [BATCH.b]: 0 } },
    { label: `revoke ${BATCH_USERS}`, body: { assign: [], revoke: batchUsers }, result: { assigned: 0, revoked: BATCH_USERS }, counts: { [BATCH.a]: 0, [BATCH.b]: 0 } },
    { label: `assign ${BATCH_USERS} → ${BATCH.b}`, body: { assign: batchUsers.map((user_id) => ({ user_id, pool: BATCH.b })), revoke: [] }, result: { assigned: BATCH_USERS, revoked: 0 }, counts: { [BATCH.a]: 0, [BATCH.b]: BATCH_USERS } },
  ].slice(0, BATCH_ROUNDS);
  const batchTimes = [];
  for (const r of rounds) {
    const t = performance.now();
    const res = await op("POST", `/v1/accounts/${BATCH.id}/licenses:batch`, r.body);
    const ms = performance.now() - t;
    batchTimes.push({ label: r.label, ms, status: res.status });
    log(`    ${r.label}: ${res.status} in ${ms.toFixed(0)} ms`);
    check(res.status === 200 && res.body.assigned === r.result.assigned && res.body.revoked === r.result.revoked, `licenses:batch ${r.label}: 200 ${JSON.stringify(r.result)}`, `${res.status} ${JSON.stringify(res.body).slice(0, 300)}`);
    const listed = (await must("GET", `/v1/accounts/${BATCH.id}/pools`, undefined, 200)).items;
    const got = Object.fromEntries(listed.map((x) => [x.id, x.assigned ?? x.members]));
    check(Object.entries(r.counts).every(([k, v]) => got[k] === v), `GET pools after it: ${JSON.stringify(r.counts)}`, JSON.stringify(got));
  }
  const bt = batchTimes.map((b) => b.ms).sort((a, b) => a - b);
  phases.licenses_batch = { label: `licenses:batch (${BATCH_USERS} users)`, requests: bt.length, rps: (bt.length / bt.reduce((a, b) => a + b, 0)) * 1000, p50_ms: bt[Math.floor(bt.length / 2)], p95_ms: bt[bt.length - 1], p99_ms: bt[bt.length - 1], max_ms: bt[bt.length - 1], batches: batchTimes, users_per_second: (BATCH_USERS * bt.length * 1000) / bt.reduce((a, b) => a + b, 0) };

  }

  // ------------------------------------------------------------------ 5. presence
  let presence = null;
  if (want("presence")) {
    log(`\n5. Presence: ${PRESENCE.desktops} desktops, HTTP heartbeats vs WebSocket pings every ${PRESENCE.pingEverySeconds} s for ${PRESENCE.seconds} s`);
    presence = await presencePhase({ baseUrl: server.baseUrl, token: server.token, log, check, bulk, mintTokens });
  }

  // ------------------------------------------------------------------ ratios and report
  const ratios = {};
  for (const key of ["shift_checkout", "many_checkout", "named_checkout"]) {
    if (!phases[key] || !phases.baseline) continue;
    ratios[key] = { throughput_ratio: phases[key].rps / phases.baseline.rps, p99_ratio: phases[key].p99_ms / phases.baseline.p99_ms };
  }
  const targets = {};
  if (ratios.shift_checkout) {
    targets.shift_throughput = ratios.shift_checkout.throughput_ratio >= 0.5;
    targets.shift_p99 = ratios.shift_checkout.p99_ratio <= 3;
    targets.shift_exact = !failures.some((f) => f.startsWith("shift") || f.includes("overages") || f.includes("checkout replies"));
  }
  if (ratios.many_checkout) {
    targets.many_throughput = ratios.many_checkout.throughput_ratio >= 0.5;
    targets.many_p99 = ratios.many_checkout.p99_ratio <= 3;
  }
  if (presence) targets.presence_keepalives_free = presence.websocket.object.socket_messages === 0;

  const f = (x, d = 1) => (Number.isFinite(x) ? x.toFixed(d) : "–");
  const rows = Object.values(phases).map((ph) => `| ${ph.label} | ${ph.requests} | ${f(ph.rps, 0)} | ${f(ph.p50_ms)} | ${f(ph.p95_ms)} | ${f(ph.p99_ms)} |`);
  const table = [
    "| phase | requests | req/s | p50 ms | p95 ms | p99 ms |",
    "|---|---:|---:|---:|---:|---:|",
    ...rows,
    "",
    "| checkout vs baseline | throughput ratio (target ≥ 0.5) | p99 ratio (target ≤ 3) |",
    "|---|---:|---:|",
    ...Object.entries(ratios).map(([k, r]) => `| ${phases[k].label} | ${f(r.throughput_ratio, 2)} | ${f(r.p99_ratio, 2)} |`),
  ].join("\n");
  log(`\n${table}\n`);
  if (phases.licenses_batch) log(`licenses:batch of ${BATCH_USERS}: ${phases.licenses_batch.batches.map((b) => `${b.ms.toFixed(0)} ms`).join(", ")} (${f(phases.licenses_batch.users_per_second, 0)} users/s)`);
  const presenceTable = presence
    ? [
        "",
        `| presence (${presence.desktops} desktops, keep-alive every ${presence.ping_every_seconds} s, ${presence.seconds} s) | keep-alives | object invocations | per keep-alive |`,
        "|---|---:|---:|---:|",
        presence.http ? `| HTTP heartbeats | ${presence.http.heartbeats} (${presence.http.heartbeats_ok} answered 200) | ${presence.http.object.invocations} | ${f(presence.http.invocations_per_keepalive, 3)} |` : "| HTTP heartbeats | not run (BENCH_PRESENCE_HTTP=0) | | |",
        `| WebSocket pings (auto-answered) | ${presence.websocket.pings} | ${presence.websocket.object.invocations} | ${f(presence.websocket.invocations_per_keepalive, 4)} |`,
        "",
        `| socket closed → pool active drops (reconnect grace 0, ${presence.close_to_free_ms.samples} samples) | p50 ms | p99 ms | max ms |`,
        "|---|---:|---:|---:|",
        `| measured by polling GET pools (one poll ≈ ${f(presence.close_to_free_ms.poll_p50_ms)} ms) | ${f(presence.close_to_free_ms.p50)} | ${f(presence.close_to_free_ms.p99)} | ${f(presence.close_to_free_ms.max)} |`,
      ].join("\n")
    : "";
  if (presenceTable) log(presenceTable);
  log(`Targets: ${Object.entries(targets).map(([k, v]) => `${k} ${v ? "met" : "MISSED"}`).join(", ")}`);

  const out = {
    started_at: started.toISOString(),
    machine: { cpus: cpus().length, cpu_model: cpus()[0]?.model, loadavg_end: loadavg(), node: process.version },
    concurrency: CONCURRENCY,
    target_url: server.baseUrl,
    via_wrangler_proxy: viaProxy,
    phases,
    presence,
    ratios,
    targets,
    verification: { ok: failures.length === 0, failures },
  };
  mkdirSync(join(root, "bench", "out"), { recursive: true });
  const file = join(root, "bench", "out", `bench-${started.toISOString().replace(/[:.]/g, "-")}.json`);
  writeFileSync(file, JSON.stringify(out, null, 2));
  writeFileSync(join(root, "bench", "out", "latest.json"), JSON.stringify(out, null, 2));
  writeFileSync(join(root, "bench", "out", "latest.md"), `${table}\n${presenceTable}\n`);
  log(`Results: ${file}`);
  return out;
}

const watchdog = setTimeout(() => {
  console.error(`\nBENCH FAILED: watchdog (${WATCHDOG_MS / 60000} min) expired`);
  server?.killNow();
  process.exit(2);
}, WATCHDOG_MS);
watchdog.unref();

for (const signal of ["SIGINT", "SIGTERM"]) {
  process.on(signal, async () => {
    console.error(`\n${signal}: stopping wrangler`);
    await server?.stop();
    process.exit(130);
  });
}
process.on("exit", () => server?.killNow());

let code = 0;
try {
  const out = await main();
  if (!out.verification.ok) {
    console.error(`\nBENCH FAILED: ${failures.length} verification failure(s):\n  - ${failures.join("\n  - ")}`);
    code = 1;
  } else if (STRICT && !Object.values(out.targets).every(Boolean)) {
    console.error("\nBENCH FAILED (BENCH_STRICT=1): a target was missed");
    code = 1;
  } else {
    log("\nAll counts verified exact.");
  }
} catch (err) {
  console.error(`\nBENCH FAILED: ${err?.stack ?? err}`);
  if (server) console.error(`--- last wrangler output ---\n${server.output().slice(-3000)}`);
  code = 1;
} finally {
  await server?.stop();
  clearTimeout(watchdog);
}
process.exit(code);
