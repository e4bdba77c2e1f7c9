import { cloudflareTest, readD1Migrations } from "@cloudflare/vitest-pool-workers";
import { defineConfig } from "vitest/config";

// Every test runs inside workerd with the Worker's real bindings (D1, the DO, queues), from
// wrangler.toml. Variables are pinned here so a developer's `.dev.vars` cannot change results.
export default defineConfig(async () => {
  const migrations = await readD1Migrations("migrations");
  return {
    plugins: [
      cloudflareTest({
        main: "./src/index.ts",
        wrangler: { configPath: "./wrangler.toml" },
        miniflare: {
          bindings: {
            OPERATOR_TOKEN: "test-operator-token-0123456789abcdef0123456789abcdef",
            // As `npm start` does; tests of the deployed rule pass an env without it.
            WEBHOOK_ALLOW_LOOPBACK: "true",
            TEST_MIGRATIONS: migrations,
          },
        },
      }),
    ],
    test: {
      include: ["test/**/*.test.ts"],
      setupFiles: ["./test/apply-migrations.ts"],
      // The per-request log line (src/middleware/request-log.ts) would drown the output; its own test spies on it.
      onConsoleLog: (log: string) => !log.startsWith('{"msg":"request"'),
      testTimeout: 30_000,
      hookTimeout: 30_000,
    },
  };
});
