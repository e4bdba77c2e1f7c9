import { exports, env } from "cloudflare:workers";
import { expect, it } from "vitest";

it("healthz", async () => {
  const res = await exports.default.fetch("http://x/healthz");
  expect(res.status).toBe(200);
  expect(await env.SEATS.getByName("a").ping()).toBe("pong");
});
