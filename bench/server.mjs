// Starts a private Seatkeeper for the benchmark: fresh local state in a temp dir, migrations
// applied to it, `wrangler dev` on 127.0.0.1:<port> with a random operator token.
// The wrangler process runs in its own process group, so stop() ends it and its workerd child.
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { appendFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const wrangler = join(root, "node_modules", ".bin", "wrangler");

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * A snapshot of the project to serve: other people edit src/ while the benchmark runs, and
 * `wrangler dev` reloads the worker on every change (in-flight requests then fail with 503).
 * The snapshot is what gets measured; node_modules is linked, not copied.
 */
function snapshot(dir) {
  for (const name of ["wrangler.toml", "wrangler.json", "wrangler.jsonc", "package.json", "tsconfig.json", "src", "migrations", "public"]) {
    if (existsSync(join(root, name))) cpSync(join(root, name), join(dir, name), { recursive: true });
  }
  symlinkSync(join(root, "node_modules"), join(dir, "node_modules"), "dir");
  return dir;
}

/**
 * Bundles the snapshot once (`wrangler deploy --dry-run`) and points its config at the bundle, so
 * `wrangler dev --no-bundle` serves it without esbuild's watch mode: that watch also covers the
 * node_modules directory listing, and every `npm test` elsewhere (vitest writes
 * node_modules/.vite-temp) would otherwise rebuild and restart the worker mid-benchmark.
 */
function prebundle(dir, env) {
  const built = spawnSync(wrangler, ["deploy", "--dry-run", "--outdir", join(dir, "dist")], { cwd: dir, env, encoding: "utf8", timeout: 120_000 });
  if (built.status !== 0) throw new Error(`bundling failed (status ${built.status}):\n${built.stdout}\n${built.stderr}`);
  const configFile = join(dir, "wrangler.toml");
  const config = readFileSync(configFile, "utf8");
  if (!/^main\s*=.*$/m.test(config)) throw new Error("wrangler.toml has no main = line to point at the bundle");
  writeFileSync(configFile, config.replace(/^main\s*=.*$/m, 'main = "dist/index.js"'));
  try {
    unlinkSync(join(dir, "node_modules"));
  } catch {}
}

export async function startService({ port, inspectorPort, readyTimeoutMs = 120_000, log = console.log, extraArgs = [], source = null, state = null }) {
  // `state` ({ persistDir, token }) restarts on the state of an earlier run: every object wakes cold.
  const workDir = mkdtempSync(join(tmpdir(), "seatkeeper-bench-"));
  const appDir = source ?? snapshot(join(workDir));
  const persistDir = state?.persistDir ?? join(workDir, ".state");
  const token = state?.token ?? `op_${randomBytes(24).toString("base64url")}`;
  const env = { ...process.env, CI: "true", WRANGLER_SEND_METRICS: "false", NO_COLOR: "1" };

  log(`  snapshot: ${appDir}, state: ${persistDir}`);
  try {
    prebundle(appDir, env);
  } catch (err) {
    rmSync(workDir, { recursive: true, force: true });
    throw err;
  }
  const migrate = spawnSync(wrangler, ["d1", "migrations", "apply", "DB", "--local", "--persist-to", persistDir], {
    cwd: appDir,
    env,
    encoding: "utf8",
    timeout: 120_000,
  });
  if (migrate.status !== 0) {
    rmSync(workDir, { recursive: true, force: true });
    throw new Error(`migrations failed (status ${migrate.status}):\n${migrate.stdout}\n${migrate.stderr}`);
  }

  const args = [
    "dev",
    "--ip", "127.0.0.1",
    "--port", String(port),
    "--inspector-port", String(inspectorPort),
    "--persist-to", persistDir,
    "--var", `OPERATOR_TOKEN:${token}`,
    // As `npm start` does: a local receiver may be plain http on loopback.
    "--var", "WEBHOOK_ALLOW_LOOPBACK:true",
    "--log-level", process.env.BENCH_WRANGLER_LOG ?? "warn",
    "--show-interactive-dev-session=false",
    "--no-bundle",
    ...extraArgs,
  ];
  const child = spawn(wrangler, args, { cwd: appDir, env, detached: true, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  let lastOutputAt = Date.now();
  // The whole wrangler output, for when something goes wrong: bench/out/wrangler.log.
  const logFile = join(root, "bench", "out", "wrangler.log");
  mkdirSync(dirname(logFile), { recursive: true });
  writeFileSync(logFile, `wrangler ${args.join(" ").replace(token, "<token>")}\n`);
  const keep = (chunk) => {
    appendFileSync(logFile, chunk);
    lastOutputAt = Date.now();
    output += chunk.toString();
    if (output.length > 200_000) output = output.slice(-100_000);
  };
  child.stdout.on("data", keep);
  child.stderr.on("data", keep);
  let exited = null;
  child.on("exit", (code, signal) => {
    exited = { code, signal };
  });

  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    if (exited === null && child.pid) {
      try {
        process.kill(-child.pid, "SIGTERM");
      } catch {}
      for (let i = 0; i < 50 && exited === null; i++) await sleep(100);
      if (exited === null) {
        try {
          process.kill(-child.pid, "SIGKILL");
        } catch {}
        for (let i = 0; i < 20 && exited === null; i++) await sleep(100);
      }
    }
    rmSync(workDir, { recursive: true, force: true });
  };
  /** Synchronous last resort for process.on("exit"). */
  const killNow = () => {
    if (exited === null && child.pid) {
      try {
        process.kill(-child.pid, "SIGKILL");
      } catch {}
    }
    try {
      rmSync(workDir, { recursive: true, force: true });
    } catch {}
  };

  const baseUrl = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + readyTimeoutMs;
  for (;;) {
    if (exited !== null) {
      await stop();
      throw new Error(`wrangler dev exited early (${JSON.stringify(exited)}):\n${output.slice(-4000)}`);
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`wrangler dev did not answer /healthz within ${readyTimeoutMs} ms:\n${output.slice(-4000)}`);
    }
    try {
      const res = await fetch(`${baseUrl}/healthz`, { signal: AbortSignal.timeout(2000) });
      await res.arrayBuffer();
      if (res.status === 200) break;
    } catch {}
    await sleep(250);
  }
  // wrangler dev reloads the worker once shortly after the first "ready" (requests in flight then
  // get 503 "restarted mid-request"): wait for a quiet spell with /healthz still answering.
  const readyAt = Date.now();
  for (;;) {
    if (exited !== null) {
      await stop();
      throw new Error(`wrangler dev exited (${JSON.stringify(exited)}):\n${output.slice(-4000)}`);
    }
    const quiet = Date.now() - lastOutputAt > 3000 && Date.now() - readyAt > 5000;
    if (quiet || Date.now() > deadline) break;
    await sleep(250);
  }
  try {
    const res = await fetch(`${baseUrl}/healthz`, { signal: AbortSignal.timeout(5000) });
    await res.arrayBuffer();
  } catch {}
  const direct = await findUserWorker(child.pid, [port, inspectorPort]).catch(() => []);
  return { baseUrl, directCandidates: direct, token, persistDir, pid: child.pid, stop, killNow, output: () => output, exited: () => exited };
}

/**
 * The user worker's own socket behind wrangler's ProxyWorker (same workerd process group as our
 * wrangler). Under load the ProxyWorker → user worker hop drops keep-alive connections
 * ("Connection reset by peer"), and wrangler answers those non-GET requests with 503 "Your worker
 * restarted mid-request"; hitting the user worker directly removes that hop (and its cost) from
 * every phase alike. Returns the base URLs that serve this API, best first.
 */
async function findUserWorker(pgid, exclude) {
  const pids = new Set(
    execFileSync("ps", ["-o", "pid=", "-g", String(pgid)], { encoding: "utf8" })
      .split("\n")
      .map((x) => Number(x.trim()))
      .filter(Boolean),
  );
  const ports = [];
  for (const line of execFileSync("ss", ["-ltnpH"], { encoding: "utf8" }).split("\n")) {
    const m = /127\.0\.0\.1:(\d+).*"workerd",pid=(\d+)/.exec(line);
    if (m && pids.has(Number(m[2])) && !exclude.includes(Number(m[1]))) ports.push(Number(m[1]));
  }
  const found = [];
  for (const p of ports) {
    try {
      const res = await fetch(`http://127.0.0.1:${p}/openapi.json`, { signal: AbortSignal.timeout(3000) });
      const doc = await res.json();
      if (doc?.info?.title === "Seatkeeper API") found.push(`http://127.0.0.1:${p}`);
    } catch {}
  }
  return found;
}
