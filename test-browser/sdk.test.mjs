#!/usr/bin/env node
// Browser tests of the seat SDK (sdk/): Debian's Chromium driven by playwright-core against a private
// `wrangler dev` (port 8791, fresh state). The SDK is bundled in memory with esbuild and served to a
// page of the server's origin by the test itself (playwright's request routing), so nothing is added
// to public/ and the page talks to the real API and WebSocket. Prints "N passed, N failed"; exits 1
// on any failure.
import assert from "node:assert/strict";
import { createServer } from "node:net";
import { join } from "node:path";
import { build } from "esbuild";
import { client, launchBrowser, must, root, sleep, startServer, testRunner } from "./harness.mjs";

const PORT = Number(process.env.SDK_TEST_PORT ?? 8791);
const ACCOUNT = "sdk-test";
const A = `/v1/accounts/${ACCOUNT}`;
const POOL = "premium-concurrent";
const GRACE_SECONDS = 3;

const { test, finish } = testRunner();

/** Polls `fn` until it returns a truthy value; returns it, or throws after `ms`. */
async function until(what, fn, ms = 10_000, every = 50) {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(every);
  }
}

/** A place as [position, waiting, reason]. */
const pick = (w) => [w.position, w.waiting, w.reason];

const portFree = (port) =>
  new Promise((resolve) => {
    const probe = createServer();
    probe.once("error", () => resolve(false));
    probe.listen(port, "127.0.0.1", () => probe.close(() => resolve(true)));
  });

const sdkBundle = (
  await build({ entryPoints: [join(root, "sdk", "src", "index.ts")], bundle: true, format: "esm", target: "es2022", write: false, logLevel: "silent" })
).outputFiles[0].text;

/**
 * Opens a page on the server's origin that runs the SDK for one agent. Events land in
 * window.__events with the page's clock, so the test can time them.
 */
async function openAgentPage(context, base, token, sessionId, extra = {}) {
  const page = await context.newPage();
  await page.route(`${base}/sdk-test/seat-client.js`, (route) => route.fulfill({ status: 200, contentType: "text/javascript", body: sdkBundle }));
  // A document the server itself serves: a page whose document came from the test (not the network)
  // counts as a public origin, and Chromium's local network access checks would block its socket.
  await page.goto(`${base}/healthz`);
  await page.evaluate(
    async ({ token, sessionId, extra }) => {
      const { createSeatClient } = await import("/sdk-test/seat-client.js");
      window.__events = [];
      window.__token = token;
      // blockSockets: sockets go to a closed port (they never open) while window.__blockSockets is set.
      const { blockSockets, ...options } = extra;
      window.__blockSockets = blockSockets === true;
      const WebSocketOf = (url) => new WebSocket(window.__blockSockets ? "ws://127.0.0.1:9/" : url);
      const client = createSeatClient({ baseUrl: location.origin, getToken: () => window.__token, sessionId, backoff: { initialMs: 200, maxMs: 1000 }, ...(blockSockets === undefined ? {} : { WebSocket: WebSocketOf }), ...options });
      for (const type of ["granted", "waiting", "denied", "revoked", "entitlements", "connection", "error"]) {
        client.on(type, (payload) => {
          window.__events.push({ type, payload: type === "error" ? String(payload) : payload, t: Date.now() });
        });
      }
      window.__client = client;
      client.start();
    },
    { token, sessionId, extra },
  );
  const events = () => page.evaluate(() => window.__events);
  const count = async (type) => (await events()).filter((e) => e.type === type).length;
  return { page, events, count, last: async (type) => (await events()).filter((e) => e.type === type).at(-1) };
}

let server;
let browser;
let error = null;
try {
  console.log(`starting wrangler dev on 127.0.0.1:${PORT} …`);
  server = await startServer({ port: PORT, log: process.env.BROWSER_TEST_LOG === "1" });
  const op = client(server.base, server.token);
  must(await op("POST", "/v1/accounts", { id: ACCOUNT, name: "SDK Test Co", reconnect_grace_seconds: GRACE_SECONDS }));
  const { key } = must(await op("POST", `${A}/api-keys`, { name: "sdk" }));
  let admin = client(server.base, key);
  must(await admin("PUT", `${A}/pools/${POOL}`, { quantity: 5 }));
  const users = ["ada", "bob", "cy", "dee"];
  for (const u of users) must(await admin("PUT", `${A}/users/${u}`, {}));
  must(await admin("POST", `${A}/licenses:batch`, { assign: users.map((user_id) => ({ user_id, pool: POOL })) }));
  const tokens = {};
  for (const u of users) tokens[u] = must(await admin("POST", `${A}/users/${u}/agent-token`, {})).token;
  const active = async () => must(await admin("GET", `${A}/pools`)).items.find((p) => p.id === POOL).active;
  const seatsOf = async () => must(await admin("GET", `${A}/pools/${POOL}/seats`)).items;

  browser = await launchBrowser();
  const ada = await openAgentPage(browser.context, server.base, tokens.ada, "ada-desk");

  await test("a page using the SDK holds a seat over a WebSocket", async () => {
    const granted = await until("granted", () => ada.last("granted"));
    assert.equal(granted.payload.user_id, "ada");
    assert.equal(granted.payload.pool, POOL);
    assert.equal(granted.payload.session_id, "ada-desk");
    const connected = (await ada.events()).find((e) => e.type === "connection" && e.payload.state === "connected");
    assert.equal(connected.payload.transport, "websocket");
    assert.ok(await ada.last("entitlements"), "entitlements arrive with the grant");
    assert.equal(await active(), 1);
    assert.deepEqual((await seatsOf()).map((s) => [s.user_id, s.sessions]), [["ada", 1]]);
    const stats = must(await op("GET", `${A}/stats`));
    assert.equal(stats.open_sockets, 1);
  });

  await test("an admin revokes the license and the page sees `revoked` within 1 s", async () => {
    const before = Date.now();
    must(await admin("DELETE", `${A}/users/ada/license`), 204);
    const revoked = await until("revoked", () => ada.last("revoked"), 5_000, 20);
    const elapsed = revoked.t - before;
    console.log(`       revoked after ${elapsed} ms (license_revoked)`);
    assert.equal(revoked.payload.reason, "license_revoked");
    assert.ok(elapsed < 1000, `revoked after ${elapsed} ms`);
    assert.equal(await active(), 0);
    // Licensed again, the page takes its seat back when the app starts the client again.
    must(await admin("PUT", `${A}/users/ada/license`, { pool: POOL }));
    const grants = await ada.count("granted");
    await ada.page.evaluate(() => window.__client.start());
    await until("granted again", async () => (await ada.count("granted")) > grants);
    assert.equal(await active(), 1);
  });

  await test("after the server restarts the page has its seat again", async () => {
    const grants = await ada.count("granted");
    const drops = async () => (await ada.events()).filter((e) => e.type === "connection" && e.payload.state === "reconnecting").length;
    const dropsBefore = await drops();
    server.stop({ keepState: true });
    await server.exited();
    await until("port free", () => portFree(PORT), 20_000, 200);
    await until("the page notices", async () => (await drops()) > dropsBefore);
    server = await startServer({ port: PORT, state: server.state, token: server.token, log: process.env.BROWSER_TEST_LOG === "1" });
    admin = client(server.base, key);
    await until("granted after the restart", async () => (await ada.count("granted")) > grants, 30_000, 100);
    assert.equal((await ada.last("granted")).payload.session_id, "ada-desk");
    assert.equal(await active(), 1);
    assert.deepEqual((await seatsOf()).map((s) => [s.user_id, s.sessions]), [["ada", 1]]);
  });

  await test("closing the page frees the seat at once (pagehide release with keepalive)", async () => {
    const bob = await openAgentPage(browser.context, server.base, tokens.bob, "bob-desk");
    await until("bob granted", () => bob.last("granted"));
    assert.equal(await active(), 2);
    const closedAt = Date.now();
    await bob.page.close({ runBeforeUnload: true });
    await until("bob's seat freed", async () => (await active()) === 1, 5_000);
    const freedAfter = Date.now() - closedAt;
    console.log(`       seat freed ${freedAfter} ms after the page closed`);
    assert.ok(freedAfter < GRACE_SECONDS * 1000, `freed after ${freedAfter} ms, not before the grace`);
  });

  await test(`closing a page that does not release frees the seat within the reconnect grace (${GRACE_SECONDS} s)`, async () => {
    const cy = await openAgentPage(browser.context, server.base, tokens.cy, "cy-desk", { releaseOnPageHide: false });
    await until("cy granted", () => cy.last("granted"));
    assert.equal(await active(), 2);
    const closedAt = Date.now();
    await cy.page.close();
    await sleep(GRACE_SECONDS * 1000 - 1000);
    assert.equal(await active(), 2, "the seat is kept during the grace, for a reconnect");
    await until("cy's seat freed", async () => (await active()) === 1, 5_000);
    const freedAfter = Date.now() - closedAt;
    console.log(`       seat freed ${freedAfter} ms after the page closed (grace ${GRACE_SECONDS} s)`);
    assert.ok(freedAfter <= GRACE_SECONDS * 1000 + 1500, `freed after ${freedAfter} ms`);
  });

  await test("stop() releases the seat at once", async () => {
    await ada.page.evaluate(() => window.__client.stop());
    await until("ada's seat freed", async () => (await active()) === 0, 3_000);
  });

  await test("sockets that cannot open: HTTP heartbeats hold the seat; once they can, the page goes back to the socket on the same session and seat", async () => {
    assert.equal(await active(), 0);
    const dee = await openAgentPage(browser.context, server.base, tokens.dee, "dee-desk", { blockSockets: true });
    const onHttp = await until("connected over http", async () => (await dee.events()).find((e) => e.type === "connection" && e.payload.state === "connected" && e.payload.transport === "http"));
    assert.ok(onHttp);
    assert.equal(await dee.count("granted"), 1);
    assert.equal(await active(), 1);
    const since = (await seatsOf())[0].since;
    assert.equal(must(await op("GET", `${A}/stats`)).open_sockets, 0);
    const switchStart = Date.now();
    await dee.page.evaluate(() => {
      window.__blockSockets = false;
    });
    // The next try comes within the backoff cap (1 s here) and is granted.
    const back = await until("connected over websocket", async () => (await dee.events()).find((e) => e.type === "connection" && e.payload.state === "connected" && e.payload.transport === "websocket"), 10_000);
    console.log(`       back on the socket ${back.t - switchStart} ms after sockets could open again`);
    assert.equal(await dee.page.evaluate(() => window.__client.transport), "websocket");
    assert.equal(await dee.count("granted"), 1, "the seat did not change: no second granted");
    assert.equal(await dee.count("revoked"), 0);
    assert.equal(await active(), 1);
    // One session (the same id over both protocols), held since the HTTP checkout.
    assert.deepEqual((await seatsOf()).map((s) => [s.user_id, s.sessions, s.since]), [["dee", 1, since]]);
    assert.equal(must(await op("GET", `${A}/stats`)).open_sockets, 1);
    await dee.page.evaluate(() => window.__client.stop());
    await until("dee's seat freed", async () => (await active()) === 0, 3_000);
  });

  await test("at the ceiling, pages with `wait: true` wait in line (on the socket and over HTTP), are told their places, and get the seats as they free; stop() leaves the line", async () => {
    assert.equal(await active(), 0);
    // A short lease (polls every 2 s) and a ceiling of one seat.
    must(await op("PATCH", A, { lease_ttl_seconds: 6 }));
    must(await admin("PUT", `${A}/pools/${POOL}`, { quantity: 5, max_active: 1 }));
    const waitingNow = async () => must(await admin("GET", `${A}/pools`)).items.find((p) => p.id === POOL).waiting;
    const holder = await openAgentPage(browser.context, server.base, tokens.ada, "ada-wait");
    await until("ada holds the one seat", () => holder.last("granted"));
    const onSocket = await openAgentPage(browser.context, server.base, tokens.bob, "bob-wait", { wait: true });
    assert.deepEqual(pick((await until("bob waiting", () => onSocket.last("waiting"))).payload), [1, 1, "pool_at_ceiling"]);
    const overHttp = await openAgentPage(browser.context, server.base, tokens.cy, "cy-wait", { wait: true, blockSockets: true });
    assert.deepEqual(pick((await until("cy waiting", () => overHttp.last("waiting"))).payload), [2, 2, "pool_at_ceiling"]);
    assert.equal(await overHttp.page.evaluate(() => window.__client.transport), "http");
    const leaving = await openAgentPage(browser.context, server.base, tokens.dee, "dee-wait", { wait: true });
    assert.deepEqual(pick((await until("dee waiting", () => leaving.last("waiting"))).payload), [3, 3, "pool_at_ceiling"]);
    assert.equal(await waitingNow(), 3);
    for (const p of [onSocket, overHttp, leaving]) assert.equal(await p.count("denied"), 0);
    const states = async (p) => (await p.events()).filter((e) => e.type === "connection").map((e) => `${e.payload.state}/${e.payload.transport}`);
    assert.ok((await states(onSocket)).includes("waiting/websocket"));
    assert.ok((await states(overHttp)).includes("waiting/http"));

    // dee gives up: stop() leaves the line (release on its socket).
    await leaving.page.evaluate(() => window.__client.stop());
    await until("dee left the line", async () => (await waitingNow()) === 2, 3_000);

    // The holder stops: the seat is pushed to bob's socket at once.
    const freedAt = Date.now();
    await holder.page.evaluate(() => window.__client.stop());
    const toSocket = await until("bob granted", () => onSocket.last("granted"), 5_000, 20);
    console.log(`       the socket waiter was granted ${toSocket.t - freedAt} ms after the seat freed`);
    assert.ok(toSocket.t - freedAt < 1000, `granted after ${toSocket.t - freedAt} ms`);
    assert.equal(toSocket.payload.session_id, "bob-wait");
    assert.deepEqual((await seatsOf()).map((s) => s.user_id), ["bob"]);
    // cy moved up: it reads the place at its next poll (every 2 s).
    await until("cy first in line", async () => (await overHttp.last("waiting")).payload.position === 1, 5_000);

    // bob stops: the seat goes to cy, which collects it at its next poll and heartbeats from then on.
    const freedAgain = Date.now();
    await onSocket.page.evaluate(() => window.__client.stop());
    const toHttp = await until("cy granted", () => overHttp.last("granted"), 6_000, 50);
    console.log(`       the HTTP waiter collected its seat ${toHttp.t - freedAgain} ms after it freed (poll every 2 s)`);
    assert.equal(toHttp.payload.session_id, "cy-wait");
    assert.equal(await overHttp.page.evaluate(() => window.__client.waiting), null);
    assert.deepEqual((await seatsOf()).map((s) => s.user_id), ["cy"]);
    await sleep(7_000); // longer than the lease: its heartbeats keep the seat
    assert.deepEqual((await seatsOf()).map((s) => s.user_id), ["cy"]);
    assert.equal(await waitingNow(), 0);
    await overHttp.page.evaluate(() => window.__client.stop());
    await until("cy's seat freed", async () => (await active()) === 0, 3_000);
  });

} catch (err) {
  error = err;
} finally {
  await finish({ browser, server, error });
}
