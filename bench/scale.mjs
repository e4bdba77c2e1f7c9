#!/usr/bin/env node
// `npm run bench:scale`: how Seatkeeper's costs grow with the size of an account (issue 12).
// A benchmark, not a timed test: it prints tables and writes bench/out/scale.json; nothing fails
// on a slow figure. Two parts:
//  1. the over-limit engine's pure functions under Node (src/domain/overage.ts bundled with
//     esbuild): summary time and heap for a busy pool's month (up to 600,000 steps), and for
//     over-limit seats arriving one by one; chargeback by team (src/domain/chargeback.ts) over the
//     same month with the holds that make its steps;
//  2. a private `wrangler dev` on 127.0.0.1 (bench/server.mjs, fresh state): mean checkout latency
//     with 0, 1,000 and 10,000 seats over the limit; the billing preview's time and the workerd
//     RSS growth as the step log grows; the first checkout after a cold wake (a restart on the
//     same state) for accounts of 1 to 50,000 users; user search latency at 1 to 50,000 users.
//     Setup is cheap: users are written into the local D1 in one statement per account
//     (`wrangler d1 execute --local`, the server stopped; users are not part of any object's
//     roster), licenses go through the API in batches of 1,000 (through each account's object, as
//     in production), and agent tokens are signed here with the deployment's key
//     (src/auth/agent-tokens.ts, bundled) instead of one audited admin write per token.
// The checkout probes alternate with the same probes in a small control account (its drift is the
// machine's, not the big account's); BENCH_SCALE_AFTER=0 skips the last point, under the limit
// again after the holders left; BENCH_SCALE_PROFILE=1 writes a CPU profile of each point
// (bench/profile.mjs). BENCH_SCALE_PART=pure|service runs one part only; BENCH_SCALE_ONLY=wake runs only the service's
// cold wake (its accounts, licenses and restarts), for iterating on the wake path.
import { execFileSync, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { runLoad } from "./load.mjs";
import { startProfile } from "./profile.mjs";
import { root, startService } from "./server.mjs";

const out = join(root, "bench", "out");
mkdirSync(out, { recursive: true });
const log = (...a) => console.log(...a);
const f1 = (x) => (x === null || x === undefined || Number.isNaN(x) ? "–" : x.toFixed(1));
const f0 = (x) => (x === null || x === undefined || Number.isNaN(x) ? "–" : x.toFixed(0));
const MB = 1024 * 1024;
const DAY = 86_400_000;

// ---------------------------------------------------------------------------------------------
// Part 1: pure functions under Node, one child process per size (so heaps do not mix)

function bundle(source, name) {
  const file = join(out, name);
  execFileSync(join(root, "node_modules", ".bin", "esbuild"), [join(root, source), "--bundle", "--format=esm", "--platform=node", `--outfile=${file}`], { stdio: "pipe" });
  return file;
}
const bundleEngine = () => bundle("src/domain/overage.ts", "overage.bundle.mjs");

/**
 * A busy pool's month: `n` steps over 30 days, 10,000 agents against a quantity of 9,500. With
 * `jumps` one step in ten moves 25 seats at once (a stress case: about 1.7 holds per step); without,
 * every step is one checkout or release, as the object writes them (about one hold per 2 steps).
 */
function* busyMonth(n, t0, jumps = true) {
  let active = 9_400;
  let seed = 12345;
  const rand = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
  for (let i = 0; i < n; i++) {
    const sign = rand() < 0.5 ? -1 : 1;
    const size = rand() < 0.9 || !jumps ? 1 : 25;
    active = Math.max(9_000, Math.min(10_000, active + sign * size));
    yield { t: t0 + Math.floor((i * 30 * DAY) / n), active, limit: 9_500 };
  }
}

/** Over-limit seats arriving one by one (each its own over-run), held an hour, then released. */
function* oneByOne(seats, t0) {
  for (let i = 1; i <= 100 + seats; i++) yield { t: t0 + i * 1000, active: i, limit: 100 };
  yield { t: t0 + (100 + seats) * 1000 + 3_600_000, active: 0, limit: 100 };
}

/** The heap after a GC now, and its peak as `sampled` streams pass items (sampled every 2,000). */
function heapWatch() {
  globalThis.gc();
  const base = process.memoryUsage().heapUsed;
  let peak = base;
  return {
    *sampled(it) {
      let i = 0;
      for (const s of it) {
        if (++i % 2000 === 0) peak = Math.max(peak, process.memoryUsage().heapUsed);
        yield s;
      }
    },
    /** The growth over the base so far, in MB (the heap now counts too). */
    growthMb: () => (Math.max(peak, process.memoryUsage().heapUsed) - base) / MB,
  };
}

/** [ms, result] of a synchronous call. */
function time(fn) {
  const a = performance.now();
  const r = fn();
  return [performance.now() - a, r];
}

async function pureChild(kind, n) {
  const mod = await import(process.env.BENCH_ENGINE);
  const t0 = Date.UTC(2030, 0, 1);
  const window = { from: t0, to: t0 + 30 * DAY };
  const gen = () => (kind === "busy" ? busyMonth(n, t0) : oneByOne(n, t0));
  const heap = heapWatch();
  const sampled = heap.sampled;
  const [summaryMs, figures] = time(() => mod.summarize(sampled(gen()), window, 1800));
  const [intervalsMs] = time(() => mod.overLimitIntervals(sampled(gen()), window, 1800));
  const [bucketsMs, cols] = time(() => mod.usageColumns(sampled(gen()), window, 60));
  const heapGrowthMb = heap.growthMb();
  const columnarBytes = JSON.stringify({ from: new Date(window.from).toISOString(), step_seconds: 60, max_active: cols.max_active, limit: cols.limit }).length;
  process.stdout.write(
    JSON.stringify({ kind, n, summary_ms: summaryMs, intervals_ms: intervalsMs, buckets_ms: bucketsMs, heap_growth_mb: heapGrowthMb, columnar_bytes: columnarBytes, billable_overage_seats: figures.billable_overage_seats }),
  );
}

/**
 * The holds that make busyMonth's steps (chargeback, src/domain/chargeback.ts): each rise opens
 * holds for new agents, each fall closes holds picked at random among those present; teams drawn
 * from 20 names and none. Kept in typed arrays (outside the JS heap measured) and handed out as
 * objects one at a time, in start order, as the object's SQLite streams them.
 */
function busyHolds(n, t0, jumps) {
  let cap = 1 << 16;
  let from = new Float64Array(cap);
  let to = new Float64Array(cap);
  let team = new Uint8Array(cap);
  let count = 0;
  const present = [];
  let seed = 777;
  const rand = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
  const grow = (a, C) => {
    const b = new a.constructor(C);
    b.set(a);
    return b;
  };
  const settle = (t, active) => {
    while (present.length > active) {
      const i = Math.floor(rand() * present.length);
      to[present[i]] = t;
      present[i] = present[present.length - 1];
      present.pop();
    }
    while (present.length < active) {
      if (count === cap) {
        cap *= 2;
        [from, to, team] = [grow(from, cap), grow(to, cap), grow(team, cap)];
      }
      from[count] = t;
      to[count] = NaN;
      team[count] = Math.floor(rand() * 21);
      present.push(count++);
    }
  };
  let last = null;
  for (const s of busyMonth(n, t0, jumps)) {
    if (last && s.t !== last.t) settle(last.t, last.active); // only the last step of a ms counts
    last = s;
  }
  if (last) settle(last.t, last.active);
  const names = [null, ...Array.from({ length: 20 }, (_, i) => `team-${String(i).padStart(2, "0")}`)];
  return {
    count,
    *holds() {
      for (let i = 0; i < count; i++) yield { user_id: `u${String(i).padStart(8, "0")}`, from: from[i], to: Number.isNaN(to[i]) ? null : to[i], team: names[team[i]] };
    },
  };
}

async function chargeChild(n, policy, shape) {
  const jumps = shape === "jumps";
  const charge = await import(process.env.BENCH_CHARGE);
  const engine = await import(process.env.BENCH_ENGINE);
  const t0 = Date.UTC(2030, 0, 1);
  const window = { from: t0, to: t0 + 30 * DAY };
  const grace = { graceSeconds: 1800, policy };
  const made = busyHolds(n, t0, jumps);
  const heap = heapWatch();
  const sampled = heap.sampled;
  // As the summary does it: the pool's figures collected in the same pass as the teams'.
  const collect = engine.figuresCollector(window);
  const [teamsMs, teams] = time(() => charge.teamUsage(sampled(busyMonth(n, t0, jumps)), sampled(made.holds()), window, grace, collect.listener));
  const [columnsMs] = time(() => charge.teamColumns(sampled(busyMonth(n, t0, jumps)), sampled(made.holds()), window, grace, "team-07", 60));
  const heapGrowthMb = heap.growthMb();
  const [summaryMs, figures] = time(() => engine.summarize(busyMonth(n, t0, jumps), window, grace));
  const teamsBillable = teams.reduce((a, t) => a + t.billable_ms, 0);
  process.stdout.write(
    JSON.stringify({
      n,
      policy,
      shape,
      holds: made.count,
      teams: teams.length,
      teams_ms: teamsMs,
      columns_ms: columnsMs,
      summary_ms: summaryMs,
      heap_growth_mb: heapGrowthMb,
      adds_up: teamsBillable === Math.round(figures.billable_seat_seconds * 1000) && JSON.stringify(collect.figures()) === JSON.stringify(figures),
    }),
  );
}

function runPure(engine, kind, n) {
  const r = spawnSync(process.execPath, ["--expose-gc", "--max-old-space-size=512", join(root, "bench", "scale.mjs"), "--pure-child", kind, String(n)], {
    env: { ...process.env, BENCH_ENGINE: engine },
    encoding: "utf8",
    timeout: 300_000,
  });
  if (r.status !== 0) throw new Error(`pure child ${kind} ${n} failed: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

async function partPure(results) {
  log("\n## Part 1: the over-limit engine under Node (esbuild bundle of src/domain/overage.ts)");
  const engine = bundleEngine();
  results.pure_busy = [150_000, 300_000, 600_000].map((n) => runPure(engine, "busy", n));
  results.pure_one_by_one = [2_000, 4_000, 10_000].map((n) => runPure(engine, "one", n));
  log("\nA busy pool's month (10,000 agents around a quantity of 9,500, 30 days), steps streamed:");
  log("| steps | summarize ms | overLimitIntervals ms | usage (43,200 minute buckets) ms | heap growth MB | columnar JSON KB |");
  log("|---:|---:|---:|---:|---:|---:|");
  for (const r of results.pure_busy) log(`| ${r.n.toLocaleString("en")} | ${f0(r.summary_ms)} | ${f0(r.intervals_ms)} | ${f0(r.buckets_ms)} | ${f1(r.heap_growth_mb)} | ${f0(r.columnar_bytes / 1024)} |`);
  log("\nOver-limit seats arriving one by one (each its own over-run), summarized:");
  log("| seats over | summarize ms | overLimitIntervals ms | heap growth MB |");
  log("|---:|---:|---:|---:|");
  for (const r of results.pure_one_by_one) log(`| ${r.n.toLocaleString("en")} | ${f0(r.summary_ms)} | ${f0(r.intervals_ms)} | ${f1(r.heap_growth_mb)} |`);
  partCharge(results, engine);
  await partRanks(results);
}

/**
 * Add-on grants once the object holds every user (after an admin decision): what telling 1,000
 * connected agents their entitlements costs in an elite-concurrent pool of N members all assigned
 * workforce management (quantity N/2: half bundled), through the walk over every license
 * (`grantLookup`, the reference) and through `AddonRanks` (its build included).
 */
async function partRanks(results) {
  const { grantLookup, grantSourceBy } = await import(bundle("src/domain/addons.ts", "addons.bundle.mjs"));
  const { AddonRanks } = await import(bundle("src/domain/addon-ranks.ts", "addon-ranks.bundle.mjs"));
  const pool = "elite-concurrent";
  const product = "workforce_management";
  results.pure_ranks = [];
  for (const n of [5_000, 20_000, 50_000]) {
    const ids = userIds(n, "u");
    const state = {
      licenses: new Map(ids.map((u) => [u, pool])),
      // Orders shuffled against the ids, so the ranks are not the ids' order.
      assignments: new Map(ids.map((u, i) => [u, new Map([[product, (i * 7919) % n]])])),
      poolQuantities: new Map([[pool, n / 2]]),
      purchased: new Map(),
    };
    const asked = ids.filter((_, i) => i % Math.floor(n / 1000) === 0).slice(0, 1000);
    const lookups = (ranks) => ({ ...grantLookup(state), ...(ranks ? { earlierInPool: (...a) => ranks.earlierInPool(...a) } : {}) });
    const run = (lookup) => {
      const t = performance.now();
      const sources = asked.map((u) => grantSourceBy(lookup, u, product));
      return [performance.now() - t, sources];
    };
    const [walkMs, walked] = run(lookups(null));
    const [ranksMs, ranked] = run(lookups(new AddonRanks(state)));
    const same = walked.every((s, i) => s === ranked[i]);
    results.pure_ranks.push({ members: n, asked: asked.length, walk_ms: walkMs, ranks_ms: ranksMs, same, bundled: ranked.filter((s) => s === "bundled").length });
  }
  log("\nAdd-on grants with every user in memory: the grant source of 1,000 connected agents (what an add-on change pushes them), elite-concurrent, every member assigned workforce management, quantity half the members:");
  log("| members | walk over every license (reference) ms | AddonRanks, build included, ms | walk ÷ ranks | same answers |");
  log("|---:|---:|---:|---:|---|");
  for (const r of results.pure_ranks) log(`| ${r.members.toLocaleString("en")} | ${f0(r.walk_ms)} | ${f1(r.ranks_ms)} | ${f0(r.walk_ms / r.ranks_ms)} | ${r.same ? "yes" : "NO"} |`);
}

function runCharge(engine, charge, n, policy, shape) {
  const r = spawnSync(process.execPath, ["--expose-gc", "--max-old-space-size=512", join(root, "bench", "scale.mjs"), "--charge-child", String(n), policy, shape], {
    env: { ...process.env, BENCH_ENGINE: engine, BENCH_CHARGE: charge },
    encoding: "utf8",
    timeout: 300_000,
  });
  if (r.status !== 0) throw new Error(`charge child ${n} ${policy} ${shape} failed: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

/** Chargeback by team over the busy month (issue 15.1): one sweep of steps and holds, under Node. */
function partCharge(results, engine) {
  const charge = bundle("src/domain/chargeback.ts", "chargeback.bundle.mjs");
  const sizes = [150_000, 300_000, 600_000];
  results.pure_chargeback = [
    ...sizes.map((n) => runCharge(engine, charge, n, "per_overrun", "unit")),
    runCharge(engine, charge, 600_000, "cumulative", "unit"),
    ...sizes.map((n) => runCharge(engine, charge, n, "per_overrun", "jumps")),
    runCharge(engine, charge, 600_000, "cumulative", "jumps"),
  ];
  log("\nChargeback by team over a busy month (holds that make the steps, 20 teams and none; esbuild bundle of src/domain/chargeback.ts).");
  log("Steps `unit`: one seat per step, as the object writes them; `jumps`: one step in ten moves 25 seats (a stress case, more holds per step):");
  log("| steps | steps of | holds | grace policy | pool figures + all teams, one pass (the summary's) ms | one team, 43,200 minute buckets, ms | summarize alone ms | heap growth MB | teams add up to the pool |");
  log("|---:|---|---:|---|---:|---:|---:|---:|---|");
  for (const r of results.pure_chargeback) {
    log(`| ${r.n.toLocaleString("en")} | ${r.shape} | ${r.holds.toLocaleString("en")} | ${r.policy} | ${f0(r.teams_ms)} | ${f0(r.columns_ms)} | ${f0(r.summary_ms)} | ${f1(r.heap_growth_mb)} | ${r.adds_up ? "yes" : "NO"} |`);
  }
}

// ---------------------------------------------------------------------------------------------
// Part 2: the service

let server = null;
const op = async (method, path, body, token = server.token) => {
  const res = await fetch(server.baseUrl + path, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { "content-type": "application/json" } : {}) },
    body: body !== undefined ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
};
const must = async (method, path, body, status, token) => {
  const r = await op(method, path, body, token);
  if (r.status !== status) throw new Error(`${method} ${path} → ${r.status}: ${JSON.stringify(r.body).slice(0, 300)}`);
  return r.body;
};
/**
 * Untimed setup through the load runner. Requests that met a dev-server restart (503, network
 * error, not sent) are sent again, up to 5 times; they are all idempotent or expected to succeed.
 */
async function bulk(name, requests, opts = {}) {
  const bodies = new Array(requests.length);
  let todo = requests.map((r, i) => i);
  for (let attempt = 0; attempt < 6 && todo.length; attempt++) {
    if (attempt > 0) await new Promise((r) => setTimeout(r, 2000));
    const batch = todo.map((i) => requests[i]);
    const res = await runLoad(server.baseUrl, batch, { concurrency: 16, deadlineMs: 600_000, keepBodies: true, ...opts });
    const again = [];
    batch.forEach((r, k) => {
      const status = res.statuses[k];
      const expected = Array.isArray(r.expect) ? r.expect : [r.expect];
      if (expected.includes(status)) bodies[todo[k]] = res.bodies?.[k];
      else if (status === 503 || status === -1 || status === 0) again.push(todo[k]);
      else throw new Error(`${name}: ${r.method} ${r.path} → ${status}: ${JSON.stringify(res.bodies?.[k]).slice(0, 300)}`);
    });
    if (again.length) log(`  ${name}: ${again.length} requests met a restart; sending them again`);
    todo = again;
  }
  if (todo.length) throw new Error(`${name}: ${todo.length} requests failed after retries`);
  return { bodies };
}
const timed = async (fn) => {
  const a = performance.now();
  const r = await fn();
  return [performance.now() - a, r];
};
const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

async function account(id, pools, settings = {}) {
  await must("POST", "/v1/accounts", { id, name: id, lease_ttl_seconds: 3600, grace_seconds: 3600, ...settings }, 201);
  for (const [pool, quantity, alerts] of pools) await must("PUT", `/v1/accounts/${id}/pools/${pool}`, { quantity, ...(alerts ? { alerts } : {}) }, 200);
}
const userIds = (count, prefix) => Array.from({ length: count }, (_, i) => `${prefix}-${String(i).padStart(6, "0")}`);

/** Users `${prefix}-000000…` straight into the stopped server's local D1, one statement per account. */
function seedUsers(state, groups) {
  const at = new Date().toISOString();
  const statements = groups.map(
    ([id, prefix, n]) =>
      `WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < ${n - 1}) ` +
      `INSERT INTO users (account_id, id, display_name, email, created_at) ` +
      `SELECT '${id}', printf('${prefix}-%06d', i), printf('Agent ${prefix}-%06d', i), printf('${prefix}-%06d@example.com', i), '${at}' FROM n;`,
  );
  const file = join(out, "scale-users.sql");
  writeFileSync(file, statements.join("\n") + "\n");
  const env = { ...process.env, CI: "true", WRANGLER_SEND_METRICS: "false", NO_COLOR: "1" };
  const r = spawnSync(join(root, "node_modules", ".bin", "wrangler"), ["d1", "execute", "DB", "--local", "--persist-to", state.persistDir, "--file", file], { cwd: root, env, encoding: "utf8", timeout: 600_000 });
  if (r.status !== 0) throw new Error(`seeding users failed: ${r.stdout}\n${r.stderr}`);
}

/** Licenses for existing users through the API: the largest batch it takes (1,000), one after another. */
async function license(id, ids, pool) {
  for (let i = 0; i < ids.length; i += 1000) {
    await must("POST", `/v1/accounts/${id}/licenses:batch`, { assign: ids.slice(i, i + 1000).map((user_id) => ({ user_id, pool })), revoke: [] }, 200);
  }
  return ids;
}
/**
 * Agent tokens signed here, as `POST …/agent-token` signs them (same code, the deployment's key
 * derived from its operator token, generation 0: none of these users' tokens was ever revoked).
 * Minting through the API is one audited admin write per token, which only slowed the setup.
 */
let mintAgentToken = null;
async function tokens(id, ids) {
  mintAgentToken ??= (await import(bundle("src/auth/agent-tokens.ts", "agent-tokens.bundle.mjs"))).mintAgentToken;
  const now = Math.floor(Date.now() / 1000);
  return Promise.all(ids.map(async (u) => (await mintAgentToken({ OPERATOR_TOKEN: server.token }, id, u, 0, now, 4 * 3600)).token));
}

/** RSS (MB) of the workerd processes under the wrangler process group. */
function workerdRss() {
  const lines = execFileSync("ps", ["-o", "rss=,comm=", "-g", String(server.pid)], { encoding: "utf8" }).trim().split("\n");
  return lines.filter((l) => /workerd/.test(l)).reduce((a, l) => a + Number(l.trim().split(/\s+/)[0]), 0) / 1024;
}

// Sizes: BENCH_SCALE_HOLDERS seats checked out one by one against a quantity of 1 (each its own
// over-run), with probes at 0 seats over twice (no holder: a probe's seat is under the limit;
// one holder: each probe pair takes the pool over its limit and back, so it starts and ends an
// over-limit interval), then 1,000 and HOLDERS - 1 seats over; accounts of 1, BENCH_SCALE_MID
// and BENCH_SCALE_WIDE licensed users (none holding a seat) for the cold wake and the search.
const HOLDERS = Number(process.env.BENCH_SCALE_HOLDERS ?? 10_001);
const MID = Number(process.env.BENCH_SCALE_MID ?? 5_000);
const WIDE = Number(process.env.BENCH_SCALE_WIDE ?? 50_000);
const POINTS = [...new Set([0, 1, Math.min(1_001, HOLDERS), HOLDERS])];
/** What a probe's checkout does at a point with `holders` seats held against a quantity of 1. */
const probeKind = (holders) => (holders === 0 ? "under the limit" : holders === 1 ? "starts and ends an interval" : "over, in an open interval");
const PROBES = 20;
// 10 rounds: 200 checkouts per point (60 before), so one slow spell on a shared machine weighs less.
const ROUNDS = Number(process.env.BENCH_SCALE_ROUNDS ?? 10);
const PROFILE = process.env.BENCH_SCALE_PROFILE === "1";
const AFTER = process.env.BENCH_SCALE_AFTER !== "0";
/** Warm-up rounds of the probes before the first point (BENCH_SCALE_WARM_ROUNDS; 3 before). */
const WARM_ROUNDS = Number(process.env.BENCH_SCALE_WARM_ROUNDS ?? 25);
// 8 restarts: 24 wakes per size, so one slow restart on a shared machine does not decide the median.
const WAKE_ROUNDS = Number(process.env.BENCH_SCALE_WAKE_ROUNDS ?? 8);
const WAKE_EACH = 3;
const SETTLE_MS = Number(process.env.BENCH_SCALE_SETTLE_MS ?? 30_000);
const WAKE_ONLY = process.env.BENCH_SCALE_ONLY === "wake";

/** (Re)starts the private server on `state`; requests go to the user worker's own socket when found (no proxy hop, no proxy 503s). */
async function serve(state, quiet = false) {
  const port = Number(process.env.BENCH_PORT ?? 8791);
  server = await startService({ port, inspectorPort: port + 500, state, log: quiet ? () => {} : log });
  if (server.directCandidates.length > 0) server.baseUrl = server.directCandidates[0];
  if (!quiet) log(`  up: ${server.baseUrl}`);
}

async function partService(results, state) {
  log("\n## Part 2: the service (wrangler dev on 127.0.0.1, fresh state)");
  await serve(state);
  const pool = "premium-concurrent";
  const big = "scale-big";
  // WAKE_EACH accounts of each size, so each restart wakes several objects of every size.
  const wakeAccounts = [1, MID, WIDE].flatMap((n) => Array.from({ length: WAKE_EACH }, (_, k) => [`scale-${n}-${k}`, n]));
  let started = performance.now();
  // The big account's pool sends no threshold alerts: against a quantity of 1 every probe checkout
  // under the limit would cross 80% and 100% (two events), while at the over-limit points they are
  // spent, so the 0 point would time event sending rather than the over-limit bookkeeping.
  await account(big, [[pool, 1, []]]);
  const control = "scale-control";
  if (!WAKE_ONLY) await account(control, [[pool, 1000, []]]);
  for (const [id] of wakeAccounts) await account(id, [[pool, 1]]);
  await server.stop();
  seedUsers(state, [...(WAKE_ONLY ? [] : [[big, "h", HOLDERS], [big, "p", PROBES], [control, "p", PROBES]]), ...wakeAccounts.map(([id, n]) => [id, "u", n])]);
  await serve(state);
  log(`  accounts and ${((WAKE_ONLY ? 0 : HOLDERS + 2 * PROBES) + wakeAccounts.reduce((a, [, n]) => a + n, 0)).toLocaleString("en")} users in ${((performance.now() - started) / 1000).toFixed(0)} s`);
  const holders = userIds(HOLDERS, "h");
  const probes = userIds(PROBES, "p");
  if (!WAKE_ONLY) await license(big, [...holders, ...probes], pool);
  const ht = WAKE_ONLY ? [] : await tokens(big, holders);
  const pt = WAKE_ONLY ? [] : await tokens(big, probes);
  if (!WAKE_ONLY) await license(control, probes, pool);
  const ct = WAKE_ONLY ? [] : await tokens(control, probes);
  const wakeTokens = {};
  for (const [id, n] of wakeAccounts) {
    started = performance.now();
    const ids = userIds(n, "u");
    await license(id, ids, pool);
    wakeTokens[id] = (await tokens(id, [ids[0]]))[0];
    log(`  ${id}: ${n.toLocaleString("en")} users licensed in ${((performance.now() - started) / 1000).toFixed(0)} s`);
  }

  if (!WAKE_ONLY) await overLimitAndSearch(results, { big, pool, ht, pt, ct, wakeAccounts });
  await coldWakes(results, { big, wakeAccounts, wakeTokens, state });
}

/** Checkout latency, preview and RSS as seats pile up over the limit; then user search at four sizes. */
async function overLimitAndSearch(results, { big, pool, ht, pt, ct }) {
  results.checkout = [];
  results.preview = [];
  let checkedOut = 0;
  let steps = 1;
  // Let the setup's writes settle (D1 and the event queue behind the license batches), then warm
  // up the checkout path: the first requests of a fresh server pay for compiling and caches, and
  // 60 pairs were not enough (the first point measured 3-4× the later ones, under the limit too).
  await new Promise((r) => setTimeout(r, SETTLE_MS));
  for (let round = 0; round < WARM_ROUNDS; round++) {
    for (const t of [...pt, ...ct]) {
      await must("POST", "/v1/seats/checkout", { session_id: "warm" }, 200, t);
      await must("POST", "/v1/seats/release", { session_id: "warm" }, 204, t);
    }
    steps += 2 * pt.length;
  }
  /** ROUNDS rounds of sequential checkout + release pairs by the probe agents: the checkout latencies. */
  const probeRound = async (label) => {
    const lat = [];
    const controlLat = [];
    const profiling = PROFILE ? await startProfile(Number(process.env.BENCH_PORT ?? 8791) + 500) : null;
    const pair = async (t, into) => {
      const [ms, r] = await timed(() => op("POST", "/v1/seats/checkout", { session_id: "probe" }, t));
      if (r.status !== 200) throw new Error(`probe checkout ${r.status} ${JSON.stringify(r.body)}`);
      into.push(ms);
      await op("POST", "/v1/seats/release", { session_id: "probe" }, t);
    };
    for (let round = 0; round < ROUNDS; round++) {
      for (let i = 0; i < pt.length; i++) {
        await pair(pt[i], lat);
        steps += 2;
        await pair(ct[i], controlLat);
      }
    }
    if (profiling) {
      const top = await profiling(join(out, `checkout-${label}.cpuprofile`));
      log(`  profile ${label}, self ms: ${top.slice(0, 25).map(([k, ms]) => `\n    ${ms.toFixed(1)} ${k}`).join("")}`);
    }
    lat.control = controlLat;
    return lat;
  };
  for (const point of POINTS) {
    // Holders arrive one by one (sequentially: each is its own instant and its own over-run).
    if (point > checkedOut) await bulk("holders", ht.slice(checkedOut, point).map((t) => ({ method: "POST", path: "/v1/seats/checkout", token: t, body: { session_id: "d" }, expect: 200 })), { concurrency: 1 });
    steps += point - checkedOut;
    checkedOut = point;
    const over = Math.max(0, checkedOut - 1);
    const lat = await probeRound(`${over}-${point}`);
    results.checkout.push({ holders: point, over, probe: probeKind(point), mean_ms: mean(lat), median_ms: median(lat), n: lat.length, each_ms: lat.map((x) => Math.round(x)), control_mean_ms: mean(lat.control), control_median_ms: median(lat.control) });
    const before = workerdRss();
    const [previewMs] = await timed(() => must("GET", `/v1/accounts/${big}/billing/preview`, undefined, 200));
    const [usageMs, usage] = await timed(() => must("GET", `/v1/accounts/${big}/pools/${pool}/usage?step_seconds=60&format=columnar&from=${new Date(Date.now() - 30 * DAY).toISOString()}`, undefined, 200));
    results.preview.push({ steps, holders: point, over, preview_ms: previewMs, usage_ms: usageMs, usage_kb: JSON.stringify(usage).length / 1024, rss_before_mb: before, rss_growth_mb: workerdRss() - before });
    log(`  ${over} over (${probeKind(point)}): checkout ${mean(lat).toFixed(1)} ms (control ${mean(lat.control).toFixed(1)} ms), preview ${previewMs.toFixed(0)} ms`);
  }
  if (AFTER) {
    // A control: the holders leave one by one, and the probes measure under the limit again, with
    // the object's logs, indexes and heap as they grew (what is left is history, not seats over).
    await bulk("holders leave", ht.slice(0, checkedOut).map((t) => ({ method: "POST", path: "/v1/seats/release", token: t, body: { session_id: "d" }, expect: 204 })), { concurrency: 1 });
    steps += checkedOut;
    const lat = await probeRound("after");
    results.checkout.push({ holders: 0, over: 0, probe: "under the limit, after the holders left", mean_ms: mean(lat), median_ms: median(lat), n: lat.length, each_ms: lat.map((x) => Math.round(x)), control_mean_ms: mean(lat.control), control_median_ms: median(lat.control) });
    log(`  0 over after the holders left: checkout ${mean(lat).toFixed(1)} ms (control ${mean(lat.control).toFixed(1)} ms)`);
  }
  for (const r of results.checkout) r.ratio = r.mean_ms / results.checkout[0].mean_ms;

  const sizes = [[`scale-1-0`, 1, "u-000000"], [`scale-${MID}-0`, MID, "u-0001"], [big, HOLDERS + PROBES, "h-0001"], [`scale-${WIDE}-0`, WIDE, "u-0001"]];
  results.search = [];
  for (const [id, n, q] of sizes) {
    const probe = await op("GET", `/v1/accounts/${id}/users?q=${q}&limit=50`);
    const ms = [];
    if (probe.status === 200) {
      for (let i = 0; i < 10; i++) ms.push((await timed(() => must("GET", `/v1/accounts/${id}/users?q=${q}&limit=50`, undefined, 200)))[0]);
    }
    results.search.push({ users: n, supported: probe.status === 200, mean_ms: ms.length ? mean(ms) : null });
  }
}

/** The first checkout of every wake account after each restart of the server on the same state. */
async function coldWakes(results, { big, wakeAccounts, wakeTokens, state }) {
  // Cold wakes: every restart wakes every wake account once (its first checkout), the order of
  // the accounts alternating between rounds so no size always goes first.
  results.wake = { rounds: [] };
  const WAKE = [1, MID, WIDE];
  for (let round = 0; round < WAKE_ROUNDS; round++) {
    await server.stop();
    await serve(state, true);
    await must("GET", `/v1/accounts/${big}`, undefined, 200); // the worker itself is warm
    const order = round % 2 ? [...wakeAccounts].reverse() : wakeAccounts;
    for (const [id, n] of order) {
      const [ms, r] = await timed(() => op("POST", "/v1/seats/checkout", { session_id: `wake-${round}` }, wakeTokens[id]));
      if (r.status !== 200) throw new Error(`wake checkout ${id}: ${r.status} ${JSON.stringify(r.body)}`);
      results.wake.rounds.push({ round, account: id, users: n, ms });
    }
  }
  results.wake.sizes = WAKE;
  const of = (n) => results.wake.rounds.filter((r) => r.users === n).map((r) => r.ms);
  results.wake.mean = Object.fromEntries(WAKE.map((n) => [n, mean(of(n))]));
  results.wake.median = Object.fromEntries(WAKE.map((n) => [n, median(of(n))]));
  results.wake.samples = Object.fromEntries(WAKE.map((n) => [n, of(n).length]));
}

function printService(results) {
  if (results.checkout) printOverLimit(results);
  log(`\nFirst checkout after a cold wake (wrangler restarted on the same state; ${WAKE_EACH} accounts of each size, each woken once per restart, ${WAKE_ROUNDS} restarts, order alternated), accounts of licensed users holding no seat:`);
  log("| users in the account | wakes | median ms | mean ms | median ratio to 1 user | mean ratio to 1 user |");
  log("|---:|---:|---:|---:|---:|---:|");
  const w = results.wake;
  for (const n of w.sizes) log(`| ${n.toLocaleString("en")} | ${w.samples[n]} | ${f1(w.median[n])} | ${f1(w.mean[n])} | ${(w.median[n] / w.median[1]).toFixed(2)} | ${(w.mean[n] / w.mean[1]).toFixed(2)} |`);
  if (!results.search) return;
  log("\nUser search (`GET …/users?q=<prefix>&limit=50`), mean of 10 sequential queries:");
  log("| users | mean ms |");
  log("|---:|---:|");
  for (const r of results.search) log(`| ${r.users.toLocaleString("en")} | ${r.supported ? f1(r.mean_ms) : "not on main"} |`);
}

function printOverLimit(results) {
  log(`\nMean checkout latency (sequential checkout+release pairs of ${PROBES} probe agents, ${ROUNDS} rounds) as seats over the limit pile up one by one (quantity 1); each pair alternates with a pair of the same probes in a control account that never goes over its limit (same moment, same process):`);
  log("| seats over the limit | a probe's seat | mean checkout ms | median ms | mean ratio to 0 over (under the limit) | control account mean ms | mean ÷ control |");
  log("|---:|---|---:|---:|---:|---:|---:|");
  for (const r of results.checkout) log(`| ${r.over.toLocaleString("en")} | ${r.probe} | ${f1(r.mean_ms)} | ${f1(r.median_ms)} | ${r.ratio.toFixed(2)} | ${f1(r.control_mean_ms)} | ${(r.mean_ms / r.control_mean_ms).toFixed(2)} |`);
  log("\nBilling preview and 30-day minute usage (columnar) as the step log grows; workerd RSS growth across the two reads:");
  log("| steps in the log | seats over | preview ms | usage ms | usage KB | workerd RSS before MB | RSS growth MB |");
  log("|---:|---:|---:|---:|---:|---:|---:|");
  for (const r of results.preview) log(`| ${r.steps.toLocaleString("en")} | ${r.over.toLocaleString("en")} | ${f0(r.preview_ms)} | ${f0(r.usage_ms)} | ${f0(r.usage_kb)} | ${f0(r.rss_before_mb)} | ${f1(r.rss_growth_mb)} |`);
}

async function main() {
  if (process.argv[2] === "--pure-child") return pureChild(process.argv[3], Number(process.argv[4]));
  if (process.argv[2] === "--charge-child") return chargeChild(Number(process.argv[3]), process.argv[4], process.argv[5]);
  const part = process.env.BENCH_SCALE_PART ?? (WAKE_ONLY ? "service" : "all");
  const results = { started_at: new Date().toISOString(), machine: { cpus: cpus().length, loadavg_1m: loadavg()[0] }, commit: execFileSync("git", ["rev-parse", "--short", "HEAD"], { cwd: root, encoding: "utf8" }).trim() };
  log(`bench:scale at ${results.commit}, ${results.machine.cpus} CPUs, load ${results.machine.loadavg_1m.toFixed(2)}`);
  if (part !== "service") await partPure(results);
  if (part !== "pure") {
    const stateDir = mkdtempSync(join(tmpdir(), "seatkeeper-scale-"));
    const state = { persistDir: join(stateDir, ".state"), token: `op_${randomBytes(24).toString("base64url")}` };
    try {
      await partService(results, state);
      printService(results);
    } finally {
      if (server) await server.stop();
      rmSync(stateDir, { recursive: true, force: true });
    }
  }
  writeFileSync(join(out, "scale.json"), JSON.stringify(results, null, 2));
  log(`\nresults: bench/out/scale.json`);
}

const watchdog = setTimeout(async () => {
  console.error("bench:scale: watchdog (40 min) expired");
  if (server) await server.stop();
  process.exit(2);
}, 40 * 60_000);
watchdog.unref();
for (const signal of ["SIGINT", "SIGTERM"]) {
  process.on(signal, async () => {
    if (server) await server.stop();
    process.exit(130);
  });
}
main().catch(async (err) => {
  console.error(`bench:scale failed: ${err?.stack ?? err}`);
  if (server) await server.stop();
  process.exit(1);
});
