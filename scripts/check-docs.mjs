#!/usr/bin/env node
// `npm test` runs this before vitest: the docs must hold together.
// 1. Every relative link in the repository's markdown (README.md, docs/, sdk/ …) points at a file that exists,
//    and every #anchor at a heading of that file (GitHub's heading ids).
// 2. Every `docs/….md#anchor` cited in code, tests, scripts and the dashboard resolves the same way.
// 3. Nothing cites the spec that lived outside the repository: the rules are in docs/.
// 4. Decision records are named NNN-kebab-title.md, and no number is used twice.
// 5. A repository path written in code style in the markdown (`src/seats/roster.ts`) exists.
// Exits non-zero with one line per problem.
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const self = relative(root, fileURLToPath(import.meta.url));
const CODE_DIRS = ["src", "test", "test-browser", "scripts", "bench", "public", "sdk", "migrations"];
const SKIP_DIRS = new Set(["node_modules", ".git", "vendor", ".wrangler"]);
const TEXT_FILE = /\.(ts|mts|js|mjs|cjs|json|html|css|sql|toml|md)$/;
// Built from parts so this file does not cite them itself.
const FORBIDDEN = [
  new RegExp(`\\b(${["DOMAIN", "API", "DESIGN"].join("|")})\\.md\\b`),
  new RegExp(`\\.\\./${"shared"}\\b|\\b${"shared"}/(spec|seed)\\b`),
];

const problems = [];

function walk(dir, out = []) {
  if (!existsSync(dir)) return out;
  for (const name of readdirSync(dir)) {
    if (SKIP_DIRS.has(name)) continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) walk(path, out);
    else out.push(path);
  }
  return out;
}

/** GitHub's heading id: lower case, punctuation dropped, spaces to hyphens, repeats numbered. */
function slugger() {
  const seen = new Map();
  return (text) => {
    const base = text
      .replace(/<[^>]+>/g, "")
      .replace(/\[([^\]]*)\]\([^)]*\)/g, "$1")
      .trim()
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, "")
      .replace(/\s/g, "-");
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    return n === 0 ? base : `${base}-${n}`;
  };
}

/** The markdown outside fenced code blocks, line by line. */
function proseLines(text) {
  const lines = [];
  let fenced = false;
  for (const line of text.split("\n")) {
    if (/^\s*(```|~~~)/.test(line)) {
      fenced = !fenced;
      lines.push("");
      continue;
    }
    lines.push(fenced ? "" : line);
  }
  return lines;
}

const anchorCache = new Map();
function anchorsOf(file) {
  if (!anchorCache.has(file)) {
    const slug = slugger();
    const ids = new Set();
    for (const line of proseLines(readFileSync(file, "utf8"))) {
      const heading = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
      if (heading) ids.add(slug(heading[1]));
      for (const m of line.matchAll(/<a\s+(?:id|name)="([^"]+)"/g)) ids.add(m[1]);
    }
    anchorCache.set(file, ids);
  }
  return anchorCache.get(file);
}

/** Checks `target` (path and/or #anchor) as seen from `fromDir`; `where` names the citing place. */
function checkTarget(target, fromDir, where) {
  const [pathPart, anchor] = target.split("#");
  const file = pathPart ? resolve(fromDir, decodeURI(pathPart)) : null;
  if (file && !existsSync(file)) return problems.push(`${where}: ${target}: no such file`);
  if (anchor === undefined || anchor === "") return;
  const inFile = file ?? null;
  if (!inFile || statSync(inFile).isDirectory() || !inFile.endsWith(".md")) return;
  if (!anchorsOf(inFile).has(anchor)) problems.push(`${where}: ${target}: no heading with id "${anchor}"`);
}

// 1. Links in the markdown.
const markdown = walk(root)
  .map((f) => relative(root, f))
  .filter((f) => f.endsWith(".md") && !f.startsWith("bench/out/"));
for (const file of markdown) {
  const abs = join(root, file);
  proseLines(readFileSync(abs, "utf8")).forEach((line, i) => {
    const withoutCode = line.replace(/`[^`]*`/g, "");
    for (const m of withoutCode.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) {
      const target = m[1];
      if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // http:, https:, mailto:
      if (target.startsWith("/")) continue; // a route of the running service, e.g. /docs
      if (target.startsWith("#")) checkTarget(`${file.split("/").pop()}${target}`, dirname(abs), `${file}:${i + 1}`);
      else checkTarget(target, dirname(abs), `${file}:${i + 1}`);
    }
    // A repository path named in code style must exist (generated output under bench/out aside).
    for (const m of line.matchAll(/`((?:src|test|test-browser|scripts|bench|public|migrations|sdk|docs)\/[\w./-]*)`/g)) {
      if (m[1].startsWith("bench/out/")) continue;
      if (!existsSync(join(root, m[1]))) problems.push(`${file}:${i + 1}: \`${m[1]}\` does not exist`);
    }
  });
}

// Decision records: docs/decisions/NNN-kebab-title.md, each number once.
const numbers = new Map();
for (const name of existsSync(join(root, "docs/decisions")) ? readdirSync(join(root, "docs/decisions")) : []) {
  if (name === "README.md") continue;
  const m = /^(\d{3})-[a-z0-9]+(?:-[a-z0-9]+)*\.md$/.exec(name);
  if (!m) {
    problems.push(`docs/decisions/${name}: name it NNN-kebab-title.md`);
    continue;
  }
  if (numbers.has(m[1])) problems.push(`docs/decisions/${name}: number ${m[1]} is taken by ${numbers.get(m[1])}`);
  else numbers.set(m[1], name);
}

// 2. and 3. References in code, and in everything else that ships.
const cited = [...CODE_DIRS.flatMap((d) => walk(join(root, d))), ...markdown.map((f) => join(root, f))];
for (const abs of cited) {
  const file = relative(root, abs);
  if (file === self || !TEXT_FILE.test(file)) continue;
  const text = readFileSync(abs, "utf8");
  text.split("\n").forEach((line, i) => {
    for (const pattern of FORBIDDEN) {
      const m = pattern.exec(line);
      if (m) problems.push(`${file}:${i + 1}: cites "${m[0]}", which is not in the repository; cite docs/ instead`);
    }
    if (file.endsWith(".md")) return; // markdown links were checked above, relative to their file
    for (const m of line.matchAll(/\bdocs\/[\w./-]+\.md(?:#[\w-]+)?/g)) checkTarget(m[0], root, `${file}:${i + 1}`);
  });
}

if (problems.length) {
  console.error(`docs check: ${problems.length} problem(s)\n${problems.join("\n")}`);
  process.exit(1);
}
console.log(`docs check: ${markdown.length} markdown files and the code's docs/ references resolve; nothing cites the old spec.`);
