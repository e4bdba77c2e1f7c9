#!/usr/bin/env node
// Browser test of GET /docs: Debian's Chromium driven by playwright-core against a private
// `wrangler dev` (port 8793, fresh state). Swagger UI must come from the Worker's own static
// assets (public/vendor/swagger-ui, the swagger-ui-dist version package.json pins), render every
// operation of /openapi.json, and make no request to another origin, under the page's CSP.
// Prints "N passed, N failed"; exits 1 on any failure.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { SWAGGER_UI_FILES } from "../scripts/vendor-swagger-ui.mjs";
import { launchBrowser, root, startServer, testRunner } from "./harness.mjs";

const PORT = Number(process.env.DOCS_TEST_PORT ?? 8793);
const { test, finish } = testRunner();

let server;
let browser;
let error = null;
try {
  console.log(`starting wrangler dev on 127.0.0.1:${PORT} …`);
  server = await startServer({ port: PORT, log: process.env.BROWSER_TEST_LOG === "1" });
  const origin = server.base;
  const doc = await (await fetch(`${origin}/openapi.json`)).json();
  const operations = Object.values(doc.paths).flatMap((item) => Object.keys(item).filter((m) => ["get", "put", "post", "patch", "delete"].includes(m)));

  browser = await launchBrowser();
  const page = await browser.context.newPage();
  const requests = [];
  const consoleErrors = [];
  page.on("request", (req) => requests.push(req.url()));
  page.on("console", (msg) => msg.type() === "error" && consoleErrors.push(msg.text()));
  page.on("pageerror", (err) => consoleErrors.push(String(err)));
  page.on("response", (res) => res.status() >= 400 && consoleErrors.push(`${res.status()} ${res.url()}`));
  const response = await page.goto(`${origin}/docs`);

  await test("GET /docs answers with its Content-Security-Policy under wrangler dev", async () => {
    assert.equal(response.status(), 200);
    const csp = response.headers()["content-security-policy"] ?? "";
    assert.match(csp, /default-src 'self'/);
    assert.match(csp, /script-src 'self'(;|$)/);
    assert.doesNotMatch(csp, /unsafe|https?:|\*/);
  });

  await test("Swagger UI renders every operation of /openapi.json, with its operationId", async () => {
    await page.locator(".opblock").first().waitFor({ timeout: 30_000 });
    await page.waitForFunction((n) => document.querySelectorAll(".opblock").length >= n, operations.length, { timeout: 30_000 });
    assert.equal(await page.locator(".opblock").count(), operations.length);
    assert.match(await page.locator(".info .title").textContent(), /Seatkeeper API/);
    const checkout = page.locator(".opblock", { has: page.locator(".opblock-summary-path", { hasText: /^\/v1\/seats\/checkout$/ }) });
    await checkout.locator(".opblock-summary").click();
    await checkout.locator(".opblock-body").waitFor();
    assert.match(await checkout.textContent(), /checkoutSeat/);
    assert.match(await checkout.textContent(), /pool_at_ceiling/);
  });

  await test("no request leaves the origin, and the CSP blocked nothing the page needs", async () => {
    assert.ok(requests.length >= 4, `requests: ${requests.join(", ")}`);
    const foreign = requests.filter((u) => !u.startsWith(`${origin}/`) && !u.startsWith("data:"));
    assert.deepEqual(foreign, []);
    for (const asset of ["/vendor/swagger-ui/swagger-ui-bundle.js", "/vendor/swagger-ui/swagger-ui.css", "/docs/swagger-init.js", "/openapi.json"]) {
      assert.ok(requests.includes(`${origin}${asset}`), `${asset} was loaded`);
    }
    assert.deepEqual(consoleErrors, []);
  });

  await test("the served Swagger UI is the one package.json pins (public/vendor/swagger-ui = node_modules/swagger-ui-dist)", async () => {
    for (const f of SWAGGER_UI_FILES) {
      const vendored = readFileSync(join(root, "public/vendor/swagger-ui", f));
      const pinned = readFileSync(join(root, "node_modules/swagger-ui-dist", f));
      assert.ok(vendored.equals(pinned), `public/vendor/swagger-ui/${f} differs from node_modules/swagger-ui-dist/${f}: run npm run vendor:swagger-ui`);
      const served = Buffer.from(await (await fetch(`${origin}/vendor/swagger-ui/${f}`)).arrayBuffer());
      assert.ok(served.equals(pinned), `/vendor/swagger-ui/${f} as served differs from the pinned copy`);
    }
  });

} catch (err) {
  error = err;
} finally {
  await finish({ browser, server, error });
}
