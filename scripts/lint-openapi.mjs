#!/usr/bin/env node
// `npm test` runs this: the OpenAPI document, exactly as GET /openapi.json serves it, must pass
// Redocly's recommended lint (redocly.yaml) with no error and no warning, so client generators
// get method names, a server and 4xx answers (docs/decisions/120-the-openapi-document-is-linted-by-redocly.md).
// No server runs: esbuild bundles src/app.ts for Node (the `cloudflare:` modules, which only the
// Durable Object class imports, become empty stand-ins; building the document never runs them),
// the app answers one in-process request, and the document is written to dist/openapi.json.
// `node scripts/lint-openapi.mjs --write-only` writes the document without linting it.
import { spawnSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const out = join(root, "dist/openapi.json");

const cloudflareStandIns = {
  name: "cloudflare-stand-ins",
  setup(b) {
    b.onResolve({ filter: /^cloudflare:/ }, (args) => ({ path: args.path, namespace: "cloudflare" }));
    b.onLoad({ filter: /.*/, namespace: "cloudflare" }, () => ({
      contents: "export class DurableObject {} export class WorkerEntrypoint {} export const env = {};",
      loader: "js",
    }));
  },
};

const bundle = await build({
  entryPoints: [join(root, "src/app.ts")],
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  write: false,
  logLevel: "error",
  plugins: [cloudflareStandIns],
});
const { app } = await import(`data:text/javascript;base64,${Buffer.from(bundle.outputFiles[0].contents).toString("base64")}`);
// The app logs one JSON line per request: not wanted in this script's output.
const log = console.log;
console.log = () => {};
const res = await app.request("/openapi.json");
console.log = log;
if (res.status !== 200) {
  console.error(`lint-openapi: GET /openapi.json answered ${res.status}: ${await res.text()}`);
  process.exit(1);
}
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, `${JSON.stringify(await res.json(), null, 2)}\n`);
if (process.argv.includes("--write-only")) {
  console.log(`lint-openapi: wrote ${out}`);
  process.exit(0);
}

// Telemetry and update checks off: the lint reads only local files.
const lint = spawnSync(process.execPath, [join(root, "node_modules/@redocly/cli/bin/cli.js"), "lint", "dist/openapi.json", "--config", "redocly.yaml", "--max-problems", "200"], {
  cwd: root,
  encoding: "utf8",
  env: { ...process.env, REDOCLY_TELEMETRY: "off", REDOCLY_SUPPRESS_UPDATE_NOTICE: "true", NO_COLOR: "1", FORCE_COLOR: "0" },
});
// Drop the CLI's boxed banner about Node 20's end of life: it is said on every run and is not a finding.
const text = `${lint.stdout ?? ""}${lint.stderr ?? ""}`.split("\n").filter((line) => !/^\s*[╔║╚]/.test(line)).join("\n").trim();
const warnings = /(\d+) warnings?/.exec(text);
if (lint.status !== 0 || (warnings && Number(warnings[1]) > 0)) {
  console.error(text);
  console.error("lint-openapi: the OpenAPI document does not pass Redocly's recommended lint (see above)");
  process.exit(1);
}
console.log(`lint-openapi: ${text.split("\n").filter((l) => /valid|ignored|validated/i.test(l)).join(" ")}`);
