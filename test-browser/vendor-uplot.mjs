#!/usr/bin/env node
// Copies uPlot from node_modules (the version package.json pins) into public/dashboard/vendor,
// where Workers static assets serve it. The copy is committed, so `wrangler dev`, `wrangler
// deploy` and a fresh clone need no build step; the browser tests fail if the two differ.
import { copyFileSync } from "node:fs";
import { join } from "node:path";
import { root } from "./harness.mjs";

for (const f of ["uPlot.iife.min.js", "uPlot.min.css"]) {
  copyFileSync(join(root, "node_modules/uplot/dist", f), join(root, "public/dashboard/vendor", f));
}
copyFileSync(join(root, "node_modules/uplot/LICENSE"), join(root, "public/dashboard/vendor/uPlot.LICENSE.txt"));
console.log("public/dashboard/vendor: uPlot copied from node_modules/uplot/dist");
