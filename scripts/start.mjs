#!/usr/bin/env node
// `npm start`: a local Seatkeeper on http://127.0.0.1:8787 with zero manual steps.
// 1. creates .dev.vars with a random OPERATOR_TOKEN if it is missing,
// 2. applies the D1 migrations to the local database,
// 3. runs `wrangler dev` and prints the token so you can call the API.
// It sets WEBHOOK_ALLOW_LOOPBACK=true so a webhook receiver on this machine (http://localhost:<port>)
// works, for you and for `npm run demo`; a deployment leaves it unset.
import { spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const varsFile = join(root, ".dev.vars");
const port = process.env.PORT ?? "8787";
const wrangler = join(root, "node_modules", ".bin", "wrangler");
const extra = process.argv.slice(2);

function operatorToken() {
  const existing = existsSync(varsFile) ? readFileSync(varsFile, "utf8") : "";
  const match = /^OPERATOR_TOKEN\s*=\s*"?([^"\n]+)"?/m.exec(existing);
  if (match && match[1].length >= 32) return match[1];
  // 35 characters of randomness-backed text: the service refuses a token shorter than 32.
  const token = `op_${randomBytes(24).toString("base64url")}`;
  if (match) {
    writeFileSync(varsFile, existing.replace(match[0], `OPERATOR_TOKEN="${token}"`), { mode: 0o600 });
    console.log("The OPERATOR_TOKEN in .dev.vars was shorter than 32 characters (the service would refuse every request); replaced it with a new one.");
    return token;
  }
  writeFileSync(varsFile, `${existing}${existing && !existing.endsWith("\n") ? "\n" : ""}OPERATOR_TOKEN="${token}"\n`, { mode: 0o600 });
  console.log("Created .dev.vars with a new OPERATOR_TOKEN.");
  return token;
}

const token = operatorToken();
const persist = extra.includes("--persist-to") ? ["--persist-to", extra[extra.indexOf("--persist-to") + 1]] : [];
const migrate = spawnSync(wrangler, ["d1", "migrations", "apply", "DB", "--local", ...persist], {
  cwd: root,
  stdio: ["ignore", "inherit", "inherit"],
  env: { ...process.env, CI: "true" },
});
if (migrate.status !== 0) process.exit(migrate.status ?? 1);

console.log(`
  Seatkeeper is starting on http://127.0.0.1:${port}
  Operator token: ${token}
  API docs:       http://127.0.0.1:${port}/docs
  Try:            curl -s -H "Authorization: Bearer ${token}" -X POST http://127.0.0.1:${port}/v1/accounts \\
                    -H 'content-type: application/json' -d '{"id":"acme","name":"Acme"}'
`);

const dev = spawn(wrangler, ["dev", "--ip", "127.0.0.1", "--port", port, "--test-scheduled", "--var", "WEBHOOK_ALLOW_LOOPBACK:true", ...extra], { cwd: root, stdio: "inherit" });
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => dev.kill(signal));
dev.on("exit", (code) => process.exit(code ?? 0));
