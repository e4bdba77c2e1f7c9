// The presence phase of `npm run bench` (issue 13): desktops holding seats on WebSockets that ping
// every 10 s, against the same desktops heartbeating over HTTP at the same pace, counted by the
// account's Durable Object itself (GET /v1/accounts/{id}/stats). Then the time from a socket
// closing (reconnect grace 0) to the pool's active count dropping.
import { performance } from "node:perf_hooks";
import WebSocket from "ws";
import { call, runLoad, stats } from "./load.mjs";

export const PRESENCE = {
  id: "bench-presence",
  pool: "premium-concurrent",
  desktops: Number(process.env.BENCH_PRESENCE_DESKTOPS ?? 2000),
  seconds: Number(process.env.BENCH_PRESENCE_SECONDS ?? 60),
  pingEverySeconds: 10,
  closeSamples: Number(process.env.BENCH_PRESENCE_CLOSE_SAMPLES ?? 200),
  /** The account's lease (the alarm sweeps sockets every half lease). */
  leaseSeconds: Number(process.env.BENCH_PRESENCE_LEASE_SECONDS ?? 120),
  /** BENCH_PRESENCE_HTTP=0 skips the HTTP heartbeat part (socket figures only). */
  http: process.env.BENCH_PRESENCE_HTTP !== "0",
};

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * @param {{ baseUrl: string, token: string, log: Function, check: Function, bulk: Function, mintTokens: Function }} ctx
 */
export async function presencePhase({ baseUrl, token, log, check, bulk, mintTokens }) {
  const { id, pool, desktops, seconds, pingEverySeconds } = PRESENCE;
  const A = `/v1/accounts/${id}`;
  const op = (method, path, body) => call(baseUrl, method, path, token, body);
  const must = async (method, path, body, status) => {
    const res = await op(method, path, body);
    if (res.status !== status) throw new Error(`${method} ${path} → ${res.status}: ${JSON.stringify(res.body).slice(0, 300)}`);
    return res.body;
  };
  const statsNow = () => must("GET", `${A}/stats`, undefined, 200);
  const active = async () => (await must("GET", `${A}/pools`, undefined, 200)).items.find((p) => p.id === pool).active;
  const delta = (a, b) => Object.fromEntries(Object.keys(b).filter((k) => typeof b[k] === "number").map((k) => [k, b[k] - (a[k] ?? 0)]));

  // ---- setup (not timed): a lease long enough that HTTP desktops need no extra beats, grace 0.
  // Setup requests are idempotent; on a loaded machine wrangler dev may restart the worker under
  // them (503 "restarted mid-request"), so they are retried until they land (timed phases never are).
  const settle = async (name, requests) => {
    const bodies = new Array(requests.length);
    let left = requests.map((r, i) => ({ ...r, at: i }));
    for (let attempt = 1; left.length > 0; attempt++) {
      const res = await runLoad(baseUrl, left, { concurrency: 32, deadlineMs: 180_000, keepBodies: true });
      const ok = (i) => [].concat(left[i].expect).includes(res.statuses[i]);
      left.forEach((r, i) => ok(i) && (bodies[r.at] = res.bodies[i]));
      const failed = left.filter((_, i) => !ok(i));
      if (failed.length === 0) return bodies;
      if (attempt >= 8) throw new Error(`setup "${name}": ${failed.length} requests still failing: ${res.errors.slice(0, 3).join(" | ")}`);
      log(`   (setup "${name}": retrying ${failed.length} request(s): ${JSON.stringify(res.statusCounts)})`);
      await sleep(2000);
      left = failed;
    }
    return bodies;
  };
  await settle("presence account", [{ method: "POST", path: "/v1/accounts", token, body: { id, name: "Bench presence", lease_ttl_seconds: PRESENCE.leaseSeconds, grace_seconds: 3600, reconnect_grace_seconds: 0 }, expect: [201, 409] }]);
  await settle("presence pool", [{ method: "PUT", path: `${A}/pools/${pool}`, token, body: { quantity: desktops }, expect: 200 }]);
  const users = Array.from({ length: desktops }, (_, i) => `desk${String(i).padStart(5, "0")}`);
  await settle("presence users", users.map((u) => ({ method: "PUT", path: `${A}/users/${u}`, token, body: {}, expect: 200 })));
  await settle(
    "presence licenses",
    Array.from({ length: Math.ceil(users.length / 1000) }, (_, k) => ({ method: "POST", path: `${A}/licenses:batch`, token, body: { assign: users.slice(k * 1000, k * 1000 + 1000).map((user_id) => ({ user_id, pool })), revoke: [] }, expect: 200 })),
  );
  // Minting is not idempotent, but minting again only adds a token: the last one answered is used.
  const minted = await settle("presence agent tokens", users.map((u) => ({ method: "POST", path: `${A}/users/${u}/agent-token`, token, body: { ttl_seconds: 7200 }, expect: 201 })));
  const agents = users.map((userId, i) => ({ accountId: id, userId, token: minted[i].token }));
  const rounds = Math.floor(seconds / pingEverySeconds);

  // ---- HTTP: every desktop checks out, then heartbeats every 10 s for the phase, then releases.
  const httpPart = async () => {
    log(`   HTTP: ${desktops} desktops heartbeating every ${pingEverySeconds} s for ${seconds} s`);
    const sid = (a) => `http-${a.userId}`;
    const seat = (kind, expect) => agents.map((a) => ({ method: "POST", path: `/v1/seats/${kind}`, token: a.token, body: { session_id: sid(a) }, expect }));
    // Checkout is idempotent per session and not what is counted: retried until every desktop holds its seat.
    await settle("presence HTTP checkouts", seat("checkout", 200));
    check((await active()) === desktops, `presence/HTTP: ${desktops} desktops checked out, active ${desktops}`);
    const httpBefore = await statsNow();
    const httpStart = performance.now();
    let httpBeats = 0;
    let httpBeatsOk = 0;
    const httpFailures = {};
    const beatLatencies = [];
    for (let r = 0; r < rounds; r++) {
      const roundStart = performance.now();
      const res = await runLoad(baseUrl, seat("heartbeat", 200), { concurrency: 64, deadlineMs: pingEverySeconds * 1000 * 3 });
      // Not retried: a failed heartbeat is a failed keep-alive (the lease of 120 s outlives it).
      check(res.unexpected === 0, `presence/HTTP round ${r + 1}: ${desktops} heartbeats 200`, `${JSON.stringify(res.statusCounts)} ${res.errors.slice(0, 2).join(" | ")}`);
      httpBeats += res.completed;
      httpBeatsOk += res.statusCounts["200"] ?? 0;
      for (const [k, v] of Object.entries(res.statusCounts)) if (k !== "200") httpFailures[k] = (httpFailures[k] ?? 0) + v;
      beatLatencies.push(res.p50);
      const wait = pingEverySeconds * 1000 - (performance.now() - roundStart);
      if (wait > 0) await sleep(wait);
    }
    const httpElapsed = (performance.now() - httpStart) / 1000;
    const httpDelta = delta(httpBefore, await statsNow());
    // A heartbeat that failed between the dev proxy and the worker may or may not have reached the object.
    check(httpDelta.heartbeats >= httpBeatsOk && httpDelta.heartbeats <= httpBeats, `presence/HTTP: the object counted ${httpDelta.heartbeats} heartbeats (${httpBeatsOk} answered 200, ${httpBeats} sent)`, JSON.stringify(httpDelta));
    // Release is idempotent: every desktop leaves, retried until each got its 204, and the pool is empty.
    const releaseFirst = await runLoad(baseUrl, seat("release", 204), { concurrency: 64, deadlineMs: 180_000 });
    const releaseRetried = releaseFirst.count - (releaseFirst.statusCounts["204"] ?? 0);
    if (releaseRetried > 0) await settle("presence HTTP releases", seat("release", 204));
    const httpActiveAfter = await active();
    check(httpActiveAfter === 0, `presence/HTTP: all released, active 0`, `active ${httpActiveAfter}; first pass ${JSON.stringify(releaseFirst.statusCounts)}`);

    return { heartbeats: httpBeats, heartbeats_ok: httpBeatsOk, heartbeat_failures: httpFailures, releases_retried: releaseRetried, active_after_release: httpActiveAfter, elapsed_s: httpElapsed, object: httpDelta, invocations_per_keepalive: httpDelta.invocations / Math.max(1, httpBeats), round_p50_ms: beatLatencies };
  };
  const http = PRESENCE.http ? await httpPart() : null;
  // ---- WebSocket: every desktop gets a ticket, connects, and pings every 10 s (spread over the period).
  log(`   WebSocket: ${desktops} desktops on sockets pinging every ${pingEverySeconds} s for ${seconds} s`);
  const wsBase = baseUrl.replace(/^http/, "ws");
  const sockets = new Array(desktops);
  const connectLatencies = [];
  let granted = 0;
  let refused = 0;
  let pongs = 0;
  let ticketFailures = 0;
  let ticketRetries = 0;
  let connectTimeouts = 0;
  const openOne = async (i) => {
    // A ticket lives 60 s: each desktop gets its own just before it connects.
    // Tickets are cheap and single-use: one the dev server failed to hand over is asked for again.
    let ticket = null;
    for (let attempt = 0; attempt < 5 && ticket?.status !== 201; attempt++) {
      if (attempt > 0) {
        ticketRetries++;
        await sleep(1000);
      }
      ticket = await call(baseUrl, "POST", "/v1/seats/connect-ticket", agents[i].token, { session_id: `ws-${agents[i].userId}` }).catch((err) => ({ status: -1, body: String(err) }));
    }
    if (ticket.status !== 201) {
      ticketFailures++;
      return;
    }
    await new Promise((resolve) => {
      const t0 = performance.now();
      // An upgrade the dev proxy never answers must not hold up its whole batch.
      const ws = new WebSocket(`${wsBase}/v1/seats/connect?ticket=${encodeURIComponent(ticket.body.ticket)}`, { handshakeTimeout: 30_000 });
      const giveUp = setTimeout(() => {
        connectTimeouts++;
        ws.terminate();
        resolve();
      }, 60_000);
      const s = { ws, closedAt: null, closed: false, closeEventAt: null };
      sockets[i] = s;
      ws.on("message", (data) => {
        const text = String(data);
        if (text === "pong") return void pongs++;
        const msg = JSON.parse(text);
        if (msg.type === "seat.granted") {
          clearTimeout(giveUp);
          granted++;
          connectLatencies.push(performance.now() - t0);
          resolve();
        } else if (msg.type === "seat.denied") {
          clearTimeout(giveUp);
          refused++;
          resolve();
        }
      });
      ws.on("close", () => {
        clearTimeout(giveUp);
        s.closed = true;
        s.closeEventAt = performance.now();
        resolve();
      });
      ws.on("error", () => resolve());
    });
  };
  const connectStart = performance.now();
  for (let i = 0; i < desktops; i += 100) await Promise.all(Array.from({ length: Math.min(100, desktops - i) }, (_, k) => openOne(i + k)));
  const connectElapsed = (performance.now() - connectStart) / 1000;
  check(granted === desktops && refused === 0, `presence/WebSocket: ${desktops} sockets granted a seat`, `granted ${granted}, refused ${refused}, ticket failures ${ticketFailures}, upgrades unanswered ${connectTimeouts}`);
  check((await active()) === desktops, `presence/WebSocket: GET pools active ${desktops}`);

  const wsBefore = await statsNow();
  check(wsBefore.open_sockets === desktops, `presence/WebSocket: the object holds ${desktops} open sockets`, String(wsBefore.open_sockets));
  const wsStart = performance.now();
  let pings = 0;
  const timers = [];
  for (let i = 0; i < desktops; i++) {
    // Spread: desktop i pings at offset i/desktops of the period, then every period.
    const offset = (i / desktops) * pingEverySeconds * 1000;
    timers.push(
      setTimeout(function tick(sent = 0) {
        const s = sockets[i];
        // Exactly `rounds` pings per desktop: under load a timer fires late, and a cut-off by the
        // clock would drop the last round of the late ones.
        if (!s || s.closed || sent >= rounds) return;
        s.ws.send("ping");
        pings++;
        timers.push(setTimeout(() => tick(sent + 1), pingEverySeconds * 1000));
      }, offset),
    );
  }
  await sleep(seconds * 1000 + 500);
  for (let waited = 0; pings < desktops * rounds && waited < 30_000; waited += 250) await sleep(250); // late timers
  for (const t of timers) clearTimeout(t);
  await sleep(1000); // last pongs
  const wsElapsed = (performance.now() - wsStart) / 1000;
  const wsAfter = await statsNow();
  const wsDelta = delta(wsBefore, wsAfter);
  const stillOpen = sockets.filter((s) => s && !s.closed).length;
  check(stillOpen === desktops && wsAfter.open_sockets === desktops, `presence/WebSocket: all ${desktops} sockets stayed open for ${seconds} s`, `client ${stillOpen}, object ${wsAfter.open_sockets}`);
  check(pongs === pings && pings === desktops * rounds, `presence/WebSocket: ${pings} pings, ${pongs} pongs`);
  check(wsDelta.socket_messages === 0, "presence/WebSocket: no ping reached the object's code (socket_messages +0)", JSON.stringify(wsDelta));
  check((await active()) === desktops, `presence/WebSocket: GET pools active still ${desktops}`);

  // ---- close → seat freed, reconnect grace 0: close one socket, poll the pool until active drops.
  const samples = Math.min(PRESENCE.closeSamples, desktops);
  log(`   Close latency: ${samples} sockets closed one at a time (reconnect grace 0)`);
  const closeLatencies = [];
  const slowCloses = [];
  let expected = await active();
  // The measure is the pool's active count, so every seat in it must be one of these sockets': a
  // seat also held by another session (say an HTTP one whose release was lost) does not free when
  // its socket closes, and would read as a slow close.
  const openNow = sockets.filter((s) => s && !s.closed).length;
  const held = (await must("GET", `${A}/pools/${pool}/seats`, undefined, 200)).items;
  const sessions = held.reduce((n, x) => n + x.sessions, 0);
  check(expected === openNow && sessions === openNow, `presence/close: the pool's ${expected} seats are held by exactly the ${openNow} open sockets' sessions (no other session)`, `${sessions} sessions`);
  // Only sockets still open are sampled: closing one that already dropped changes nothing, and would
  // read as a close that never frees.
  const sampled = sockets.filter((x) => x && !x.closed).slice(0, samples);
  for (let i = 0; i < sampled.length; i++) {
    const s = sampled[i];
    const t0 = performance.now();
    s.ws.close(1000, "bench");
    expected -= 1;
    let polls = 0;
    let maxPoll = 0;
    for (;;) {
      const p0 = performance.now();
      const a = await active();
      polls++;
      maxPoll = Math.max(maxPoll, performance.now() - p0);
      if (a <= expected) break;
      if (performance.now() - t0 > 10_000) {
        check(false, `presence/close: socket ${i} still holds its seat after 10 s`);
        break;
      }
    }
    const took = performance.now() - t0;
    closeLatencies.push(took);
    if (took > 500) slowCloses.push({ sample: i, ms: took, at: new Date(Date.now() - took).toISOString(), polls, slowest_poll_ms: maxPoll, close_frame_back_ms: s.closeEventAt === null ? null : s.closeEventAt - t0 });
    if (took > 500) log(`    (slow close ${i}: ${took.toFixed(0)} ms at ${new Date(Date.now() - took).toISOString()}, ${polls} polls, slowest ${maxPoll.toFixed(0)} ms, close frame back after ${s.closeEventAt === null ? "none yet" : (s.closeEventAt - t0).toFixed(0) + " ms"})`);
  }
  const close = stats(closeLatencies, 1);
  // The poll itself: what one GET pools costs, so the figure can be read net of it.
  const pollCost = [];
  for (let i = 0; i < 50; i++) {
    const t0 = performance.now();
    await active();
    pollCost.push(performance.now() - t0);
  }
  const poll = stats(pollCost, 1);

  // ---- the rest leave; every seat is free at the end.
  for (const s of sockets) if (s && !s.closed) s.ws.close(1000, "bench done");
  const drained = await (async () => {
    const deadline = performance.now() + 30_000;
    while (performance.now() < deadline) {
      if ((await active()) === 0) return true;
      await sleep(200);
    }
    return false;
  })();
  check(drained, "presence: every socket closed, active 0");

  const perPing = wsDelta.invocations / Math.max(1, pings);
  const out = {
    desktops,
    seconds,
    ping_every_seconds: pingEverySeconds,
    lease_seconds: PRESENCE.leaseSeconds,
    http,
    websocket: {
      connect_elapsed_s: connectElapsed,
      ticket_retries: ticketRetries,
      upgrades_unanswered: connectTimeouts,
      connect_p50_ms: stats(connectLatencies, 1).p50,
      connect_p99_ms: stats(connectLatencies, 1).p99,
      pings,
      pongs,
      elapsed_s: wsElapsed,
      object: wsDelta,
      invocations_per_keepalive: perPing,
    },
    close_to_free_ms: { samples: closeLatencies.length, p50: close.p50, p99: close.p99, max: close.max, poll_p50_ms: poll.p50, slow: slowCloses },
  };
  if (http) {
    if (Object.keys(http.heartbeat_failures).length) log(`   HTTP heartbeats not answered 200: ${JSON.stringify(http.heartbeat_failures)}; releases retried: ${http.releases_retried}`);
    log(`   HTTP heartbeats: ${http.heartbeats} in ${http.elapsed_s.toFixed(0)} s → object invocations +${http.object.invocations} (${http.invocations_per_keepalive.toFixed(3)} per keep-alive)`);
  }
  log(`   Socket pings:    ${pings} in ${wsElapsed.toFixed(0)} s → object invocations +${wsDelta.invocations} (${perPing.toFixed(4)} per keep-alive; socket_messages +${wsDelta.socket_messages}, alarms +${wsDelta.alarms})`);
  log(`   Close → active drops: p50 ${close.p50.toFixed(1)} ms, p99 ${close.p99.toFixed(1)} ms, max ${close.max.toFixed(1)} ms (one GET pools poll: p50 ${poll.p50.toFixed(1)} ms)`);
  return out;
}
