#!/usr/bin/env node
// Takes docs/dashboard.png: a private `wrangler dev`, `npm run demo` against it on a faster clock
// (20 s grace), then the dashboard signed in as the demo account during the billable shift change.
// Takes about three minutes. Usage: node test-browser/screenshot.mjs [out.png]
import { spawn } from "node:child_process";
import { join } from "node:path";
import { launchBrowser, root, sleep, startServer } from "./harness.mjs";

const out = process.argv[2] ?? join(root, "docs", "dashboard.png");
const GRACE = 20;
const server = await startServer({ port: Number(process.env.SCREENSHOT_PORT ?? 8795) });
let demo;
let browser;
try {
  demo = spawn(process.execPath, [join(root, "scripts", "demo.mjs")], {
    cwd: root,
    env: { ...process.env, SEATKEEPER_URL: server.base, OPERATOR_TOKEN: server.token, DEMO_GRACE_SECONDS: String(GRACE), DEMO_MINUTES: "4", DEMO_ACCOUNT: "acme-support" },
    stdio: ["ignore", "pipe", "inherit"],
  });
  let text = "";
  let readyAt = null;
  demo.stdout.on("data", (d) => {
    text += d;
    process.stdout.write(d);
    if (readyAt === null && /API key:/.test(text)) readyAt = Date.now();
  });
  while (readyAt === null) {
    if (demo.exitCode !== null) throw new Error("the demo exited during setup");
    await sleep(200);
  }
  const key = /API key:\s+(\S+)/.exec(text)[1];
  const account = /Account id:\s+(\S+)/.exec(text)[1];
  // 7.3 grace periods in: the third shift change is past its grace (billable) and still open.
  const at = readyAt + 7.3 * GRACE * 1000;
  console.log(`screenshot in ${Math.round((at - Date.now()) / 1000)} s …`);
  browser = await launchBrowser();
  const page = await browser.context.newPage();
  await page.setViewportSize({ width: 1280, height: 900 });
  await page.goto(`${server.base}/dashboard`);
  await page.getByLabel("Account id").fill(account);
  await page.getByLabel("API key").fill(key);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.locator("#pools-table tbody tr[data-pool]").first().waitFor({ timeout: 20_000 });
  await sleep(Math.max(0, at - Date.now()));
  const before = await page.evaluate(() => Number(document.getElementById("dashboard").dataset.refreshes ?? 0));
  await page.getByRole("button", { name: "Refresh now" }).click();
  await page.waitForFunction((n) => Number(document.getElementById("dashboard").dataset.refreshes ?? 0) > n, before, { timeout: 20_000 });
  // The user search at work: surname "Lov…" among the elite pool's agents (searched on the server).
  await page.getByLabel("Pool", { exact: true }).selectOption("elite-concurrent");
  await page.getByLabel("Search users").fill("lov");
  // The search's own answer ("7 users match."), not the pool's first page ("Showing the first 50 users that match").
  await page.locator("#users-count").filter({ hasText: /^\d+ users? match(es)?\.$/ }).waitFor({ timeout: 10_000 });
  await sleep(300);
  await page.evaluate(() => document.activeElement?.blur());
  await page.screenshot({ path: out, fullPage: true });
  console.log(`wrote ${out}`);
} finally {
  await browser?.close();
  if (demo && demo.exitCode === null) {
    demo.kill("SIGINT");
    await new Promise((r) => demo.once("exit", r));
  }
  server.stop();
}
