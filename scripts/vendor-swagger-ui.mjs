#!/usr/bin/env node
// Copies Swagger UI from node_modules (the swagger-ui-dist version package.json pins) into
// public/vendor/swagger-ui, where Workers static assets serve it to GET /docs. Only what the page
// loads (the bundle, its stylesheet, the icon) and the license notices are copied. The copy is committed,
// so `wrangler dev`, `wrangler deploy` and a fresh clone need no build step; the browser test of
// /docs fails while the two differ (docs/decisions/121-swagger-ui-is-vendored-and-served-under-a-csp.md).
import { copyFileSync, mkdirSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
export const SWAGGER_UI_FILES = ["swagger-ui-bundle.js", "swagger-ui.css", "favicon-32x32.png"];
const from = join(root, "node_modules/swagger-ui-dist");
const to = join(root, "public/vendor/swagger-ui");

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  mkdirSync(to, { recursive: true });
  for (const f of SWAGGER_UI_FILES) copyFileSync(join(from, f), join(to, f));
  copyFileSync(join(from, "swagger-ui-bundle.js.LICENSE.txt"), join(to, "swagger-ui-bundle.js.LICENSE.txt"));
  copyFileSync(join(from, "LICENSE"), join(to, "LICENSE.txt"));
  copyFileSync(join(from, "NOTICE"), join(to, "NOTICE.txt"));
  console.log("public/vendor/swagger-ui: Swagger UI copied from node_modules/swagger-ui-dist");
}
