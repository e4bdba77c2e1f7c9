// Shared by the browser tests and the screenshot script: a private `wrangler dev` (fresh
// persisted state, migrations applied, a random operator token) and Debian's Chromium.
import { spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const wrangler = join(root, "node_modules", ".bin", "wrangler");
const quietEnv = { ...process.env, CI: "true", WRANGLER_SEND_METRICS: "false", NO_COLOR: "1" };

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Starts wrangler dev on 127.0.0.1:<port> with its own state dir; returns { base, token, stop }. */
/** Resolves if nothing listens on 127.0.0.1:port (so we never test someone else's server). */
function portFree(port) {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once("error", (err) => reject(err.code === "EADDRINUSE" ? new Error(`port ${port} on 127.0.0.1 is taken by another process; set another port`) : err));
    probe.listen(port, "127.0.0.1", () => probe.close(resolve));
  });
}

/**
 * `state` and `token` (optional) restart a server on the state and operator token of an earlier
 * one; `stop({ keepState: true })` leaves the state for that.
 */
export async function startServer({ port = 8789, log = false, state = null, token: givenToken = null } = {}) {
  await portFree(port);
  await portFree(port + 1000); // the inspector
  const dir = state ?? mkdtempSync(join(tmpdir(), "seatkeeper-browser-"));
  const token = givenToken ?? `op_${randomBytes(24).toString("base64url")}`; // ≥ 32 characters: the service refuses shorter ones
  const migrate = spawnSync(wrangler, ["d1", "migrations", "apply", "DB", "--local", "--persist-to", dir], { cwd: root, env: quietEnv, encoding: "utf8" });
  if (migrate.status !== 0) throw new Error(`migrations failed:\n${migrate.stdout}\n${migrate.stderr}`);
  const child = spawn(
    wrangler,
    ["dev", "--ip", "127.0.0.1", "--port", String(port), "--persist-to", dir, "--inspector-port", String(port + 1000), "--var", `OPERATOR_TOKEN:${token}`, "--show-interactive-dev-session=false"],
    { cwd: root, env: quietEnv, stdio: ["ignore", "pipe", "pipe"], detached: true },
  );
  let output = "";
  child.stdout.on("data", (d) => {
    output += d;
    if (log) process.stdout.write(d);
  });
  child.stderr.on("data", (d) => {
    output += d;
    if (log) process.stderr.write(d);
  });
  const base = `http://127.0.0.1:${port}`;
  let exited = false;
  child.on("exit", () => (exited = true));
  const stop = ({ keepState = false } = {}) => {
    if (!exited) {
      try {
        process.kill(-child.pid, "SIGTERM"); // its own process group: wrangler and workerd
      } catch {}
    }
    if (!keepState) rmSync(dir, { recursive: true, force: true });
  };
  /** Resolves once wrangler and workerd are gone (the port is free again). */
  const exitedPromise = new Promise((resolve) => child.on("exit", resolve));
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (exited) throw new Error(`wrangler dev exited early:\n${output}`);
    try {
      const r = await fetch(`${base}/healthz`);
      if (r.ok) break;
    } catch {}
    if (Date.now() > deadline) {
      stop();
      throw new Error(`wrangler dev did not answer /healthz within 60 s:\n${output}`);
    }
    await sleep(300);
  }
  return { base, token, state: dir, stop, exited: () => (exited ? Promise.resolve() : exitedPromise), output: () => output };
}

/** A small JSON client: api(method, path, body?) → { status, body, headers }. */
export function client(base, bearer) {
  return async function api(method, path, body) {
    const res = await fetch(`${base}${path}`, {
      method,
      headers: { authorization: `Bearer ${bearer}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    let parsed = null;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch {
      parsed = text;
    }
    return { status: res.status, body: parsed, headers: res.headers };
  };
}

export function must(res, ...ok) {
  if (!(ok.length ? ok : [200, 201, 204]).includes(res.status)) throw new Error(`unexpected ${res.status}: ${JSON.stringify(res.body)}`);
  return res.body;
}

export const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

export async function launchBrowser() {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium (see .ci/run)`);
  const { chromium } = await import("playwright-core");
  const profile = mkdtempSync(join(tmpdir(), "seatkeeper-chromium-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1280, height: 900 },
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
  return {
    context,
    async close() {
      await context.close().catch(() => {});
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/**
 * The browser tests' runner: `test(name, fn)` runs one check and prints `ok`/`FAIL`; `summary()`
 * prints the closing `N passed, N failed` line that CI reads.
 */
export function testRunner() {
  const results = [];
  async function test(name, fn) {
    const started = Date.now();
    try {
      await fn();
      results.push({ name, ok: true });
      console.log(`ok   - ${name} (${Date.now() - started} ms)`);
    } catch (err) {
      results.push({ name, ok: false });
      console.log(`FAIL - ${name}\n       ${String(err?.stack ?? err).split("\n").slice(0, 6).join("\n       ")}`);
    }
  }
  function summary() {
    const passed = results.filter((r) => r.ok).length;
    console.log(`\n${passed} passed, ${results.length - passed} failed`);
  }
  /** Ends the suite: a setup error (with the server's last output) counts as a failure; closes, prints, exits 0 only when all passed. */
  async function finish({ browser, server, error = null }) {
    if (error) {
      console.log(`FAIL - setup\n       ${String(error?.stack ?? error)}`);
      results.push({ name: "setup", ok: false });
      if (server) console.log(server.output().slice(-3000));
    }
    await browser?.close();
    server?.stop();
    summary();
    process.exit(results.every((r) => r.ok) ? 0 : 1);
  }
  return { test, results, summary, finish };
}
